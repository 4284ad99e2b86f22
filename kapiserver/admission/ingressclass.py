"""
DefaultIngressClass admission (on by default, as upstream): a new Ingress that names no class (neither
spec.ingressClassName nor the kubernetes.io/ingress.class annotation) gets the IngressClass annotated
ingressclass.kubernetes.io/is-default-class: "true"; of several, the newest (then the first by name).
"""

from __future__ import annotations

from ..registry.attributes import CREATE, Attributes
from ..registry.options import ListOptions
from .refusal import is_resource

DEFAULT_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
CLASS_ANNOTATION = "kubernetes.io/ingress.class"


class DefaultIngressClass:
    # The only (group, resource) pairs its admit and validate act on: the chain calls it for no other.
    admission_resources = frozenset({("networking.k8s.io", "ingresses")})

    def __init__(self, registry):
        self.registry = registry

    async def admit(self, attributes: Attributes) -> None:
        if attributes.operation != CREATE or not is_resource(attributes, "networking.k8s.io", "ingresses"):
            return
        obj = attributes.object
        spec = obj.setdefault("spec", {})
        if spec.get("ingressClassName") is not None or \
                CLASS_ANNOTATION in ((obj.get("metadata") or {}).get("annotations") or {}):
            return
        store = self.registry.lookup("networking.k8s.io", "v1", "ingressclasses")
        if store is None:
            return
        defaults = [c for c in (await store.list(None, ListOptions()))[0]
                    if ((c.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_ANNOTATION) == "true"]
        if not defaults:
            return
        by_name = sorted(defaults, key=lambda c: c["metadata"]["name"])
        newest = max(by_name, key=lambda c: c["metadata"].get("creationTimestamp") or "")
        spec["ingressClassName"] = newest["metadata"]["name"]

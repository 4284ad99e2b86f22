"""
RuntimeClass admission (on by default, as upstream): a new pod naming spec.runtimeClassName takes that
RuntimeClass's overhead (spec.overhead) and scheduling (its nodeSelector merged into the pod's, its
tolerations merged with the pod's); a class that does not exist, an overhead that differs from the class's
(or set without one), and a nodeSelector contradicting the class's are refused.
"""

from __future__ import annotations

import copy
from typing import Optional

from ..machinery.errors import StatusError
from ..registry.attributes import CREATE, Attributes
from ..machinery.quantity import parse_quantity
from .refusal import forbidden, is_resource
from .tolerations import merge_tolerations


def _same_resources(a: Optional[dict], b: Optional[dict]) -> bool:
    """Go's semantic equality of two ResourceLists: the same names, quantities equal by value."""
    a, b = a or {}, b or {}
    return a.keys() == b.keys() and all(parse_quantity(a[k]) == parse_quantity(b[k]) for k in a)


class RuntimeClass:
    # The only (group, resource) pairs its admit and validate act on: the chain calls it for no other.
    admission_resources = frozenset({("", "pods")})

    def __init__(self, registry):
        self.registry = registry

    async def _runtime_class(self, attributes: Attributes) -> Optional[dict]:
        name = (attributes.object.get("spec") or {}).get("runtimeClassName")
        if name is None:
            return None
        store = self.registry.lookup("node.k8s.io", "v1", "runtimeclasses")
        try:
            if store is None:
                raise StatusError(404, "NotFound", "")
            return await store.get_shared(None, name)
        except StatusError as e:
            if e.code == 404:
                raise forbidden(attributes, f'pod rejected: RuntimeClass "{name}" not found') from None
            raise

    @staticmethod
    def _applies(attributes: Attributes) -> bool:
        return attributes.operation == CREATE and is_resource(attributes, "", "pods")

    async def admit(self, attributes: Attributes) -> None:
        if not self._applies(attributes):
            return
        runtime_class = await self._runtime_class(attributes)
        if runtime_class is None:
            return
        spec = attributes.object.setdefault("spec", {})
        if runtime_class.get("overhead") is not None:
            overhead = runtime_class["overhead"].get("podFixed")
            if spec.get("overhead") and not _same_resources(overhead, spec["overhead"]):
                raise forbidden(attributes, "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined "
                                            "Overhead")
            if overhead is None:
                spec.pop("overhead", None)
            else:
                spec["overhead"] = copy.deepcopy(overhead)
        scheduling = runtime_class.get("scheduling")
        if scheduling is None:
            return
        wanted = scheduling.get("nodeSelector") or {}
        selector = spec.get("nodeSelector")
        if selector is None:
            selector = dict(wanted) if wanted else None
        else:
            for key, value in wanted.items():
                if key in selector and selector[key] != value:
                    raise forbidden(attributes, f"conflict: runtimeClass.scheduling.nodeSelector[{key}] = {value}; "
                                                f"pod.spec.nodeSelector[{key}] = {selector[key]}")
                selector[key] = value
        if selector is not None:
            spec["nodeSelector"] = selector
        merged = merge_tolerations(spec.get("tolerations") or [], copy.deepcopy(scheduling.get("tolerations") or []))
        if merged:
            spec["tolerations"] = merged
        else:
            spec.pop("tolerations", None)

    async def validate(self, attributes: Attributes) -> None:
        if not self._applies(attributes):
            return
        runtime_class = await self._runtime_class(attributes)
        spec = attributes.object.get("spec") or {}
        if runtime_class is not None and runtime_class.get("overhead") is not None:
            if not _same_resources((runtime_class["overhead"] or {}).get("podFixed"), spec.get("overhead")):
                raise forbidden(attributes, "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined "
                                            "Overhead")
        elif spec.get("overhead") is not None:
            raise forbidden(attributes, "pod rejected: Pod Overhead set without corresponding RuntimeClass defined "
                                        "Overhead")

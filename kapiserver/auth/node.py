"""
The Node authorizer: a kubelet (user system:node:<name> in system:nodes) may
do what upstream's node rules allow, and read a secret, config map, claim or
volume only when a pod bound to its node uses it, and request a token (serviceaccounts/token) only for the
service account of a pod bound to its node.
"""

from __future__ import annotations

from typing import Optional

from ..registry.options import ListOptions
from .authz import ALLOW, NO_OPINION, Attributes, Decision
from .policy import _rule
from .rbac import rule_allows

NODES_GROUP = "system:nodes"
NODE_PREFIX = "system:node:"
_READ = ["get", "list", "watch"]
# What every kubelet may do, as upstream's node rules (the graph-checked resources are below).
NODE_RULES = [
    _rule(["create", "get", "list", "watch", "update", "patch", "delete"], [""], ["nodes"]),
    _rule(["update", "patch"], [""], ["nodes/status", "pods/status"]),
    _rule(_READ, [""], ["services", "endpoints", "pods"]),
    _rule(["create", "delete"], [""], ["pods"]),
    _rule(["create"], [""], ["pods/eviction"]),
    _rule(["create", "update", "patch"], ["", "events.k8s.io"], ["events"]),
    _rule(["get", "create", "update", "patch", "delete"], ["coordination.k8s.io"], ["leases"]),
    _rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
    _rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews", "subjectaccessreviews"]),
    _rule(["create", "get", "list", "watch"], ["certificates.k8s.io"], ["certificatesigningrequests"]),
    _rule(_READ, ["storage.k8s.io"], ["csidrivers", "csinodes", "storageclasses", "volumeattachments"]),
    _rule(["create", "update", "patch", "delete"], ["storage.k8s.io"], ["csinodes"]),
    _rule(_READ, ["node.k8s.io"], ["runtimeclasses"]),
]
_GRAPH = {"secrets", "configmaps", "persistentvolumeclaims", "persistentvolumes"}


def node_name(user) -> Optional[str]:
    if NODES_GROUP in user.groups and user.name.startswith(NODE_PREFIX):
        return user.name[len(NODE_PREFIX):]
    return None


def pod_references(pod: dict) -> dict[str, set]:
    """The secrets, config maps and claims a pod uses."""
    spec = pod.get("spec") or {}
    refs = {"secrets": set(), "configmaps": set(), "persistentvolumeclaims": set()}
    for secret in spec.get("imagePullSecrets") or []:
        refs["secrets"].add(secret.get("name"))
    for volume in spec.get("volumes") or []:
        if volume.get("secret"):
            refs["secrets"].add(volume["secret"].get("secretName"))
        if volume.get("configMap"):
            refs["configmaps"].add(volume["configMap"].get("name"))
        if volume.get("persistentVolumeClaim"):
            refs["persistentvolumeclaims"].add(volume["persistentVolumeClaim"].get("claimName"))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if source.get("secret"):
                refs["secrets"].add(source["secret"].get("name"))
            if source.get("configMap"):
                refs["configmaps"].add(source["configMap"].get("name"))
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            for env in container.get("env") or []:
                source = env.get("valueFrom") or {}
                if source.get("secretKeyRef"):
                    refs["secrets"].add(source["secretKeyRef"].get("name"))
                if source.get("configMapKeyRef"):
                    refs["configmaps"].add(source["configMapKeyRef"].get("name"))
            for env in container.get("envFrom") or []:
                if env.get("secretRef"):
                    refs["secrets"].add(env["secretRef"].get("name"))
                if env.get("configMapRef"):
                    refs["configmaps"].add(env["configMapRef"].get("name"))
    return refs


class NodeAuthorizer:
    def __init__(self, registry):
        self.registry = registry

    async def authorize(self, a: Attributes) -> Decision:
        node = node_name(a.user)
        if node is None:
            return Decision(NO_OPINION)
        if a.is_resource_request and a.api_group == "" and a.resource in _GRAPH and not a.subresource:
            if a.verb == "get" and a.name and await self._related(node, a):
                return Decision(ALLOW)
            return Decision(NO_OPINION, f"no relationship found between node '{node}' and this object")
        if a.is_resource_request and a.api_group == "" and a.resource == "serviceaccounts" and \
                a.subresource == "token":
            # Tokens (for pods' projected volumes) only for the accounts of pods bound to the node.
            if a.verb == "create" and a.name and await self._runs_as(node, a.namespace, a.name):
                return Decision(ALLOW)
            return Decision(NO_OPINION, f"no relationship found between node '{node}' and this object")
        if any(rule_allows(rule, a) for rule in NODE_RULES):
            return Decision(ALLOW)
        return Decision(NO_OPINION)

    async def _runs_as(self, node: str, namespace: str, account: str) -> bool:
        pods, _ = await self.registry.store("", "v1", "pods").list(namespace, ListOptions())
        return any((p.get("spec") or {}).get("nodeName") == node and
                   ((p.get("spec") or {}).get("serviceAccountName") or "default") == account for p in pods)

    async def _related(self, node: str, a: Attributes) -> bool:
        pods, _ = await self.registry.store("", "v1", "pods").list(None, ListOptions())
        bound = [p for p in pods if (p.get("spec") or {}).get("nodeName") == node]
        if a.resource == "persistentvolumes":
            claims = {(p["metadata"].get("namespace"), c) for p in bound
                      for c in pod_references(p)["persistentvolumeclaims"]}
            store = self.registry.store("", "v1", "persistentvolumeclaims")
            for namespace, claim in claims:
                try:
                    pvc = await store.get(namespace, claim)
                except Exception:  # noqa: BLE001 - a missing claim relates to nothing
                    continue
                if (pvc.get("spec") or {}).get("volumeName") == a.name:
                    return True
            return False
        return any(p["metadata"].get("namespace") == a.namespace and a.name in pod_references(p)[a.resource]
                   for p in bound)

    async def rules_for(self, user, namespace: str):
        """Upstream's node authorizer enumerates nothing: for a node, no rules, incomplete, and this error."""
        if node_name(user) is None:
            return [], [], False, None
        return [], [], True, "node authorizer does not support user rule resolution"

"""
RBAC: Roles and ClusterRoles (with aggregation) granted through RoleBindings
and ClusterRoleBindings, read from storage; what a user may do, and whether a
new role or binding would grant more than its author holds.
"""

from __future__ import annotations

from typing import Optional

from ..registry.options import ListOptions
from ..registry.validation._util import selector_matches
from .authz import ALLOW, NO_OPINION, Attributes, Decision
from .user import SERVICE_ACCOUNT_PREFIX, UserInfo

GROUP = "rbac.authorization.k8s.io"


def _matches(values, wanted: str) -> bool:
    return "*" in values or wanted in values


def _resource_matches(rule: dict, resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for item in rule.get("resources") or []:
        if item == "*" or item == combined:
            return True
        if subresource and item == f"*/{subresource}":
            return True
    return False


def _path_matches(rule: dict, path: str) -> bool:
    for item in rule.get("nonResourceURLs") or []:
        if item == "*" or item == path or (item.endswith("*") and path.startswith(item[:-1])):
            return True
    return False


def rule_allows(rule: dict, a: Attributes) -> bool:
    if not _matches(rule.get("verbs") or [], a.verb):
        return False
    if not a.is_resource_request:
        return _path_matches(rule, a.path)
    if not rule.get("resources") or not _matches(rule.get("apiGroups") or [], a.api_group):
        return False
    if not _resource_matches(rule, a.resource, a.subresource):
        return False
    names = rule.get("resourceNames") or []
    return not names or a.name in names


def subject_matches(subject: dict, user: UserInfo, binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return user.name == f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"
    return False




class _Snapshot:
    def __init__(self, revision, cluster_roles, cluster_bindings, roles, bindings):
        self.revision = revision
        self.cluster_roles = {r["metadata"]["name"]: r for r in cluster_roles}
        self.cluster_bindings = cluster_bindings
        self.roles = {(r["metadata"].get("namespace", ""), r["metadata"]["name"]): r for r in roles}
        self.bindings: dict[str, list] = {}
        for b in bindings:
            self.bindings.setdefault(b["metadata"].get("namespace", ""), []).append(b)

    def cluster_role_rules(self, name: str, seen: frozenset = frozenset()) -> list:
        role = self.cluster_roles.get(name)
        if role is None or name in seen:
            return []
        aggregation = role.get("aggregationRule")
        rules = list(role.get("rules") or [])
        if not aggregation:
            return rules
        # Aggregated roles: their own rules (the controller's copy) plus every selected role's rules now,
        # followed through roles that aggregate in turn (edit into admin).
        for other_name, other in self.cluster_roles.items():
            if other is role:
                continue
            labels = other["metadata"].get("labels") or {}
            if any(selector_matches(s, labels) for s in aggregation.get("clusterRoleSelectors") or []):
                for rule in self.cluster_role_rules(other_name, seen | {name}):
                    if rule not in rules:
                        rules.append(rule)
        return rules

    def role_ref_rules(self, ref: dict, namespace: str) -> list:
        if ref.get("kind") == "ClusterRole":
            return self.cluster_role_rules(ref.get("name", ""))
        role = self.roles.get((namespace, ref.get("name", "")))
        return list((role or {}).get("rules") or [])

    def rules_for(self, user: UserInfo, namespace: str) -> list:
        """Every rule granted to ``user`` cluster-wide and, when given, in ``namespace``."""
        rules = []
        for binding in self.cluster_bindings:
            if any(subject_matches(s, user, "") for s in binding.get("subjects") or []):
                rules.extend(self.role_ref_rules(binding.get("roleRef") or {}, ""))
        if namespace:
            for binding in self.bindings.get(namespace, []):
                if any(subject_matches(s, user, namespace) for s in binding.get("subjects") or []):
                    rules.extend(self.role_ref_rules(binding.get("roleRef") or {}, namespace))
        return rules


class RBACAuthorizer:
    def __init__(self, registry):
        self.registry = registry
        self._snapshot: Optional[_Snapshot] = None

    async def snapshot(self) -> _Snapshot:
        stores = {resource: self.registry.lookup(GROUP, "v1", resource)
                  for resource in ("clusterroles", "clusterrolebindings", "roles", "rolebindings")}
        # Current as of the revision of every storage holding RBAC objects (one, unless
        # --etcd-servers-overrides routes some of them to another etcd).
        storages = {id(store.storage): store.storage for store in stores.values() if store is not None}
        revision = tuple([await storage.current_revision() for storage in storages.values()])
        if self._snapshot is not None and self._snapshot.revision == revision:
            return self._snapshot

        async def items(resource):
            store = stores[resource]
            if store is None:
                return []
            return (await store.list(None, ListOptions()))[0]
        self._snapshot = _Snapshot(revision, await items("clusterroles"), await items("clusterrolebindings"),
                                   await items("roles"), await items("rolebindings"))
        return self._snapshot

    async def authorize(self, attributes: Attributes) -> Decision:
        snapshot = await self.snapshot()
        for rule in snapshot.rules_for(attributes.user, attributes.namespace):
            if rule_allows(rule, attributes):
                return Decision(ALLOW, "RBAC: allowed")
        return Decision(NO_OPINION)

    async def rules_for(self, user: UserInfo, namespace: str):
        snapshot = await self.snapshot()
        resource, non_resource = [], []
        for rule in snapshot.rules_for(user, namespace):
            if rule.get("nonResourceURLs"):
                non_resource.append({"verbs": list(rule.get("verbs") or []),
                                     "nonResourceURLs": list(rule["nonResourceURLs"])})
            else:
                out = {"verbs": list(rule.get("verbs") or [])}
                for key in ("apiGroups", "resources", "resourceNames"):
                    if rule.get(key):
                        out[key] = list(rule[key])
                resource.append(out)
        return resource, non_resource, False


def _atoms(rule: dict):
    """A rule broken into single (verb, group, resource, name) or (verb, path) grants."""
    for verb in rule.get("verbs") or []:
        if rule.get("nonResourceURLs"):
            for path in rule["nonResourceURLs"]:
                yield {"verbs": [verb], "nonResourceURLs": [path]}
            continue
        for group in rule.get("apiGroups") or [""]:
            for resource in rule.get("resources") or []:
                for name in rule.get("resourceNames") or [None]:
                    atom = {"verbs": [verb], "apiGroups": [group], "resources": [resource]}
                    if name is not None:
                        atom["resourceNames"] = [name]
                    yield atom


def _covers(owner: dict, atom: dict) -> bool:
    if not _matches(owner.get("verbs") or [], atom["verbs"][0]):
        return False
    if atom.get("nonResourceURLs"):
        return _path_matches(owner, atom["nonResourceURLs"][0])
    if owner.get("nonResourceURLs") and not owner.get("resources"):
        return False
    if not _matches(owner.get("apiGroups") or [], atom["apiGroups"][0]):
        return False
    resource = atom["resources"][0]
    owned = owner.get("resources") or []
    if "*" not in owned and resource not in owned:
        base, _, sub = resource.partition("/")
        if not (sub and f"*/{sub}" in owned):
            return False
    names = owner.get("resourceNames") or []
    return not names or (atom.get("resourceNames") or [None])[0] in names


def missing_rules(owner_rules: list, requested: list) -> list:
    """The parts of ``requested`` that ``owner_rules`` do not cover."""
    missing = []
    for rule in requested:
        for atom in _atoms(rule):
            if not any(_covers(owner, atom) for owner in owner_rules):
                missing.append(atom)
    return missing


def format_rule(rule: dict) -> str:
    """A rule in the {APIGroups:[...], Resources:[...], Verbs:[...]} form of upstream's messages."""
    def q(values):
        return " ".join(f'"{v}"' for v in values)
    parts = []
    if rule.get("nonResourceURLs"):
        parts.append(f"NonResourceURLs:[{q(rule['nonResourceURLs'])}]")
    else:
        parts.append(f"APIGroups:[{q(rule.get('apiGroups') or [])}]")
        parts.append(f"Resources:[{q(rule.get('resources') or [])}]")
        if rule.get("resourceNames"):
            parts.append(f"ResourceNames:[{q(rule['resourceNames'])}]")
    parts.append(f"Verbs:[{q(rule.get('verbs') or [])}]")
    return "{" + ", ".join(parts) + "}"

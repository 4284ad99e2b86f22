"""
RBAC: Roles and ClusterRoles (with aggregation) granted through RoleBindings
and ClusterRoleBindings, read from storage; what a user may do, and whether a
new role or binding would grant more than its author holds.
"""

from __future__ import annotations

from typing import Optional

from ..machinery import gojson
from ..registry.options import ListOptions
from ..registry.validation._util import selector_matches
from .authz import ALLOW, NO_OPINION, Attributes, Decision, aggregate
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
        return bool(namespace) and user.name == f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"
    return False




def _quote(text: str) -> str:
    return gojson.go_quote(text)


def describe_subject(subject: dict, binding_namespace: str) -> str:
    """A binding's subject as upstream's describers name it: ``User "bob"``, ``ServiceAccount "name/ns"``."""
    kind, name = subject.get("kind", ""), subject.get("name", "")
    if kind == "ServiceAccount":
        return f"{kind} {_quote(name + '/' + (subject.get('namespace') or binding_namespace))}"
    return f"{kind} {_quote(name)}"


def describe_binding(binding: dict, subject: dict) -> str:
    """``RoleBinding "name/ns" of Role "r" to User "bob"`` or ``ClusterRoleBinding "name" of ...``."""
    meta = binding.get("metadata") or {}
    namespace = meta.get("namespace") or ""
    ref = binding.get("roleRef") or {}
    if namespace:
        head = f"RoleBinding {_quote(meta.get('name', '') + '/' + namespace)}"
    else:
        head = f"ClusterRoleBinding {_quote(meta.get('name', ''))}"
    return (f"{head} of {ref.get('kind', '')} {_quote(ref.get('name', ''))} to "
            f"{describe_subject(subject, namespace)}")


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

    def role_ref(self, ref: dict, namespace: str, plural: bool = False) -> tuple[list, Optional[str]]:
        """(rules, error) of a binding's roleRef, upstream's GetRoleReferenceRules: the error names a role
        that does not exist as the authorizer's listers do (``role.rbac.authorization.k8s.io "x" not
        found``) or, with ``plural``, as the registry does (``roles.rbac...``)."""
        kind, name = ref.get("kind"), ref.get("name", "")
        if kind == "ClusterRole":
            if name not in self.cluster_roles:
                return [], f'clusterrole{"s" if plural else ""}.{GROUP} {_quote(name)} not found'
            return self.cluster_role_rules(name), None
        if kind == "Role":
            role = self.roles.get((namespace, name))
            if role is None:
                return [], f'role{"s" if plural else ""}.{GROUP} {_quote(name)} not found'
            return list(role.get("rules") or []), None
        return [], f"unsupported role reference kind: {_quote(kind or '')}"

    def visit(self, user: UserInfo, namespace: str, plural: bool = False):
        """(source, rule, error) for every rule granted to ``user`` cluster-wide and, when given, in
        ``namespace``, as upstream's VisitRulesFor: ClusterRoleBindings first, the source a binding and its first
        matching subject, an error (and no rule) for a role that cannot be had."""
        scopes = [("", self.cluster_bindings)]
        if namespace:
            scopes.append((namespace, self.bindings.get(namespace, [])))
        for scope, bindings in scopes:
            for binding in bindings:
                subject = next((s for s in binding.get("subjects") or [] if subject_matches(s, user, scope)), None)
                if subject is None:
                    continue
                rules, error = self.role_ref(binding.get("roleRef") or {}, scope, plural)
                if error:
                    yield None, None, error
                    continue
                # The grant, (binding, subject): described (describe_binding) only where it allows a request.
                source = (binding, subject)
                for rule in rules:
                    yield source, rule, None

    def rules_and_errors(self, user: UserInfo, namespace: str, plural: bool = False) -> tuple[list, list]:
        rules, errors = [], []
        for _, rule, error in self.visit(user, namespace, plural):
            if error:
                errors.append(error)
            else:
                rules.append(rule)
        return rules, errors

    def rules_for(self, user: UserInfo, namespace: str) -> list:
        """Every rule granted to ``user`` cluster-wide and, when given, in ``namespace``."""
        return self.rules_and_errors(user, namespace)[0]


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
        errors = []
        for source, rule, error in snapshot.visit(attributes.user, attributes.namespace):
            if rule is not None and rule_allows(rule, attributes):
                return Decision(ALLOW, f"RBAC: allowed by {describe_binding(*source)}")
            if error:
                errors.append(error)
        # Roles that could not be had are the reason (the 403 message ends with it), as upstream.
        return Decision(NO_OPINION, f"RBAC: {aggregate(errors)}" if errors else "")

    async def rules_for(self, user: UserInfo, namespace: str):
        """(resource rules, non-resource rules, incomplete, evaluation error) for SelfSubjectRulesReview: a rule
        with both resources and URLs is in both lists, as upstream's RulesFor has it."""
        snapshot = await self.snapshot()
        resource, non_resource = [], []
        rules, errors = snapshot.rules_and_errors(user, namespace)
        for rule in rules:
            if rule.get("resources"):
                out = {"verbs": list(rule.get("verbs") or [])}
                for key in ("apiGroups", "resources", "resourceNames"):
                    if rule.get(key):
                        out[key] = list(rule[key])
                resource.append(out)
            if rule.get("nonResourceURLs"):
                non_resource.append({"verbs": list(rule.get("verbs") or []),
                                     "nonResourceURLs": list(rule["nonResourceURLs"])})
        return resource, non_resource, False, (errors or None)


def _atoms(rule: dict):
    """A rule broken into single (group, resource, verb, name) or (url, verb) grants, in upstream's
    BreakdownRule order."""
    for group in rule.get("apiGroups") or []:
        for resource in rule.get("resources") or []:
            for verb in rule.get("verbs") or []:
                for name in rule.get("resourceNames") or [None]:
                    atom = {"verbs": [verb], "apiGroups": [group], "resources": [resource]}
                    if name is not None:
                        atom["resourceNames"] = [name]
                    yield atom
    for path in rule.get("nonResourceURLs") or []:
        for verb in rule.get("verbs") or []:
            yield {"verbs": [verb], "nonResourceURLs": [path]}


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


def compact_rules(rules: list) -> list:
    """Upstream's CompactRules: rules of one group, one resource and at most one name (and nothing else)
    merged, their verbs appended in order; other rules kept as they are, ahead of the merged ones."""
    merged: dict = {}
    compacted = []
    for rule in rules:
        simple = (not rule.get("nonResourceURLs") and len(rule.get("resourceNames") or []) <= 1
                  and len(rule.get("apiGroups") or []) == 1 and len(rule.get("resources") or []) == 1
                  and set(rule) <= {"verbs", "apiGroups", "resources", "resourceNames"})
        if not simple:
            compacted.append(rule)
            continue
        names = rule.get("resourceNames") or []
        key = (rule["apiGroups"][0], rule["resources"][0], bool(names), names[0] if names else "")
        if key in merged:
            merged[key]["verbs"] = list(merged[key].get("verbs") or []) + list(rule.get("verbs") or [])
        else:
            merged[key] = {k: list(v) for k, v in rule.items()}
    return compacted + list(merged.values())


def format_rule(rule: dict) -> str:
    """A rule as upstream's CompactString writes it: {APIGroups:[...], Resources:[...], NonResourceURLs:[...],
    ResourceNames:[...], Verbs:[...]}, each part only when not empty, items as Go's %q."""
    parts = []
    for key, label in (("apiGroups", "APIGroups"), ("resources", "Resources"), ("nonResourceURLs", "NonResourceURLs"),
                       ("resourceNames", "ResourceNames"), ("verbs", "Verbs")):
        if rule.get(key):
            parts.append(f"{label}:[{' '.join(_quote(v) for v in rule[key])}]")
    return "{" + ", ".join(parts) + "}"


def describe_missing(missing: list) -> str:
    """The lines of "attempting to grant RBAC permissions not currently held": the missing rules compacted,
    each written once, sorted (upstream puts them in a string set)."""
    return "\n".join(sorted({format_rule(rule) for rule in compact_rules(missing)}))

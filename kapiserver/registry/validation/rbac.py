"""Validation of the rbac.authorization.k8s.io/v1 kinds.  RBAC objects use apimachinery's
ObjectMeta rules directly (no core finalizer pass) and path-segment names."""

from __future__ import annotations

from typing import Any

from . import meta as _meta
from ...machinery import names
from ._util import (Errors, as_dict, as_dicts, go_quote, go_strings, invalid, invalid_go, label_selector, not_supported,
                    required, seq, text)

RBAC_GROUP = "rbac.authorization.k8s.io"


def _meta_create(obj: dict, namespaced: bool) -> Errors:
    return _meta.object_meta(obj.get("metadata"), namespaced, names.path_segment_name, kube_rules=False)


def _policy_rule(rule: dict, namespaced: bool, path: str) -> Errors:
    errs: Errors = []
    if not rule.get("verbs"):
        errs.append(required(f"{path}.verbs", "verbs must contain at least one value"))
    urls = seq(rule.get("nonResourceURLs"))
    if urls:
        if namespaced:
            errs.append(invalid_go(f"{path}.nonResourceURLs", go_strings(urls),
                                   "namespaced rules cannot apply to non-resource URLs"))
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            errs.append(invalid_go(f"{path}.nonResourceURLs", go_strings(urls),
                                   "rules cannot apply to both regular resources and non-resource URLs"))
        return errs
    if not rule.get("apiGroups"):
        errs.append(required(f"{path}.apiGroups", "resource rules must supply at least one api group"))
    if not rule.get("resources"):
        errs.append(required(f"{path}.resources", "resource rules must supply at least one resource"))
    return errs


def validate_role(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced)
    for i, rule in enumerate(as_dicts(obj.get("rules"))):
        errs += _policy_rule(rule, namespaced, f"rules[{i}]")
    return errs


def validate_cluster_role(obj: dict, namespaced: bool) -> Errors:
    errs = validate_role(obj, False)
    aggregation = obj.get("aggregationRule")
    if isinstance(aggregation, dict):
        selectors = seq(aggregation.get("clusterRoleSelectors"))
        if not selectors:
            errs.append(required("aggregationRule.clusterRoleSelectors", "at least one clusterRoleSelector required "
                                                                         "if aggregationRule is non-nil"))
        for i, selector in enumerate(selectors):
            errs += label_selector(selector, f"aggregationRule.clusterRoleSelectors[{i}]")
    return errs


def _subject(subject: dict, namespaced: bool, path: str) -> Errors:
    errs: Errors = []
    name, kind, group = text(subject.get("name")), text(subject.get("kind")), text(subject.get("apiGroup"))
    if not name:
        errs.append(required(f"{path}.name", ""))
    if kind == "ServiceAccount":
        if name:
            errs += [invalid(f"{path}.name", name, msg) for msg in names.name_is_dns_subdomain(name, False)]
        if group:
            errs.append(not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not subject.get("namespace"):
            errs.append(required(f"{path}.namespace", ""))
    elif kind in ("User", "Group"):
        if group != RBAC_GROUP:
            errs.append(not_supported(f"{path}.apiGroup", group, [RBAC_GROUP]))
    else:
        errs.append(not_supported(f"{path}.kind", kind, ["ServiceAccount", "User", "Group"]))
    return errs


def _binding(obj: dict, namespaced: bool, role_kinds: list[str]) -> Errors:
    errs = _meta_create(obj, namespaced)
    ref = as_dict(obj.get("roleRef"))
    if ref.get("apiGroup") != RBAC_GROUP:
        errs.append(not_supported("roleRef.apiGroup", text(ref.get("apiGroup")), [RBAC_GROUP]))
    if ref.get("kind") not in role_kinds:
        errs.append(not_supported("roleRef.kind", text(ref.get("kind")), role_kinds))
    if not ref.get("name"):
        errs.append(required("roleRef.name", ""))
    else:
        errs += [invalid("roleRef.name", ref["name"], msg)
                 for msg in names.is_valid_path_segment_name(str(ref["name"]))]
    for i, subject in enumerate(as_dicts(obj.get("subjects"))):
        errs += _subject(subject, namespaced, f"subjects[{i}]")
    return errs


def validate_role_binding(obj: dict, namespaced: bool) -> Errors:
    return _binding(obj, True, ["Role", "ClusterRole"])


def validate_cluster_role_binding(obj: dict, namespaced: bool) -> Errors:
    return _binding(obj, False, ["ClusterRole"])


def _go_role_ref(ref: Any) -> str:
    ref = as_dict(ref)
    return (f"rbac.RoleRef{{APIGroup:{go_quote(ref.get('apiGroup'))}, Kind:{go_quote(ref.get('kind'))}, "
            f"Name:{go_quote(ref.get('name'))}}}")


def _binding_update(create):
    def update(new: dict, old: dict, namespaced: bool) -> Errors:
        errs = create(new, namespaced)
        errs += _meta.object_meta_update(new.get("metadata"), old.get("metadata"), kube_rules=False)
        if as_dict(new.get("roleRef")) != as_dict(old.get("roleRef")):
            errs.append(invalid_go("roleRef", _go_role_ref(new.get("roleRef")), "cannot change roleRef"))
        return errs
    return update


def _rbac_update(create):
    def update(new: dict, old: dict, namespaced: bool) -> Errors:
        return create(new, namespaced) + _meta.object_meta_update(new.get("metadata"), old.get("metadata"),
                                                                  kube_rules=False)
    return update


CREATE = {
    "Role": validate_role,
    "ClusterRole": validate_cluster_role,
    "RoleBinding": validate_role_binding,
    "ClusterRoleBinding": validate_cluster_role_binding,
}

UPDATE = {
    "Role": _rbac_update(validate_role),
    "ClusterRole": _rbac_update(validate_cluster_role),
    "RoleBinding": _binding_update(validate_role_binding),
    "ClusterRoleBinding": _binding_update(validate_cluster_role_binding),
}

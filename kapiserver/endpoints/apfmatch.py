"""API Priority and Fairness classification: which FlowSchema (and so which PriorityLevelConfiguration)
a request belongs to, and its flow distinguisher.  Pure functions over the objects' JSON, as stored."""

from __future__ import annotations

from typing import Optional

SA_PREFIX = "system:serviceaccount:"


def _has(values, value: str) -> bool:
    values = values or []
    return "*" in values or value in values


def subject_matches(subject: dict, user) -> bool:
    kind = subject.get("kind")
    if kind == "User":
        name = (subject.get("user") or {}).get("name", "")
        return name == "*" or name == user.name
    if kind == "Group":
        name = (subject.get("group") or {}).get("name", "")
        return name == "*" or name in (user.groups or [])
    if kind == "ServiceAccount":
        sa = subject.get("serviceAccount") or {}
        namespace, name = sa.get("namespace", ""), sa.get("name", "")
        if name == "*":
            return user.name.startswith(f"{SA_PREFIX}{namespace}:")
        return user.name == f"{SA_PREFIX}{namespace}:{name}"
    return False


def resource_rule_matches(rule: dict, info) -> bool:
    if not _has(rule.get("verbs"), info.verb) or not _has(rule.get("apiGroups"), info.api_group):
        return False
    resource = f"{info.resource}/{info.subresource}" if info.subresource else info.resource
    if not _has(rule.get("resources"), resource):
        return False
    if not info.namespace:
        return bool(rule.get("clusterScope"))
    return _has(rule.get("namespaces"), info.namespace)


def _url_matches(pattern: str, path: str) -> bool:
    if pattern in ("*", path):
        return True
    if pattern.endswith("/*"):
        prefix = pattern[:-1]
        return path.startswith(prefix) or path == prefix[:-1]
    return False


def nonresource_rule_matches(rule: dict, info) -> bool:
    if not _has(rule.get("verbs"), info.verb):
        return False
    return any(_url_matches(url, info.path) for url in rule.get("nonResourceURLs") or [])


def rule_matches(rule: dict, user, info) -> bool:
    if not any(subject_matches(s, user) for s in rule.get("subjects") or []):
        return False
    if info.is_resource_request:
        return any(resource_rule_matches(r, info) for r in rule.get("resourceRules") or [])
    return any(nonresource_rule_matches(r, info) for r in rule.get("nonResourceRules") or [])


def schema_matches(schema: dict, user, info) -> bool:
    return any(rule_matches(rule, user, info) for rule in (schema.get("spec") or {}).get("rules") or [])


def ordered(schemas) -> list[dict]:
    """Lowest matchingPrecedence first, then by name, as upstream evaluates them."""
    return sorted(schemas, key=lambda s: ((s.get("spec") or {}).get("matchingPrecedence", 1000),
                                          s["metadata"]["name"]))


def level_of(schema: dict) -> str:
    return ((schema.get("spec") or {}).get("priorityLevelConfiguration") or {}).get("name", "")


def classify(schemas: list[dict], levels: dict[str, dict], user, info) -> Optional[tuple[dict, dict, str]]:
    """(FlowSchema, PriorityLevelConfiguration, flow distinguisher) for a request; ``schemas`` already
    ordered.  A schema whose priority level does not exist (dangling) is passed over."""
    for schema in schemas:
        level = levels.get(level_of(schema))
        if level is None or not schema_matches(schema, user, info):
            continue
        return schema, level, distinguisher(schema, user, info)
    return None


def distinguisher(schema: dict, user, info) -> str:
    method = ((schema.get("spec") or {}).get("distinguisherMethod") or {}).get("type", "")
    if method == "ByUser":
        return user.name
    if method == "ByNamespace":
        return info.namespace
    return ""

"""
Request matching shared by the admission webhooks and ValidatingAdmissionPolicy: admissionregistration's
rules (RuleWithOperations, NamedRuleWithOperations) and label selectors against a request's Attributes.
"""

from __future__ import annotations

from typing import Optional

from ..registry.attributes import Attributes
from ..registry.validation import _util


def selector_matches(selector: Optional[dict], labels: dict) -> bool:
    """An absent selector selects everything, as for webhooks upstream."""
    return _util.selector_matches(selector or {}, labels)


def rule_matches(rule: dict, attributes: Attributes) -> bool:
    """A RuleWithOperations (operations, apiGroups, apiVersions, resources with their subresource wildcards,
    scope) against the request."""
    operations = rule.get("operations") or []
    if "*" not in operations and attributes.operation not in operations:
        return False
    info, subresource = attributes.resource, attributes.subresource
    if not any(g in ("*", info.group) for g in rule.get("apiGroups") or []):
        return False
    if not any(v in ("*", info.version) for v in rule.get("apiVersions") or []):
        return False
    resource = f"{info.resource}/{subresource}" if subresource else info.resource
    resources = rule.get("resources") or []
    if not any(r in ("*/*", resource) or (r == "*" and not subresource) or
               (r.startswith("*/") and subresource and r[2:] == subresource) or
               (r.endswith("/*") and r[:-2] == info.resource and subresource) for r in resources):
        return False
    scope = rule.get("scope") or "*"
    return scope == "*" or (scope == "Namespaced") == bool(attributes.namespace)


def named_rule_matches(rule: dict, attributes: Attributes) -> bool:
    """A NamedRuleWithOperations: the rule, limited to resourceNames when it names any."""
    if not rule_matches(rule, attributes):
        return False
    names = rule.get("resourceNames") or []
    return not names or attributes.name in names

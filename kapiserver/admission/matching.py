"""
Request matching shared by the admission webhooks and ValidatingAdmissionPolicy: admissionregistration's
rules (RuleWithOperations, NamedRuleWithOperations) and label selectors against a request's Attributes.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Awaitable, Callable, Optional, Union

from ..registry import conversion
from ..registry.attributes import Attributes, GroupVersionKind, GroupVersionResource
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


def _labels_of(attributes: Attributes) -> list[dict]:
    return [(o.get("metadata") or {}).get("labels") or {} for o in (attributes.object, attributes.old_object)
            if isinstance(o, dict)]


async def selectors_match(object_selector: Optional[dict], namespace_selector: Optional[dict],
                          attributes: Attributes,
                          namespace_labels: Callable[[str], Union[dict, Awaitable[dict]]]) -> bool:
    """A webhook's or policy binding's objectSelector and namespaceSelector, as upstream's matcher reads
    them: the object selector holds when the object's or the old object's labels match it; the namespace
    selector is matched against the labels of the request's namespace (``namespace_labels(name)``), or of
    the namespace itself for a request about a namespace, and says nothing of cluster-scoped requests."""
    labels = _labels_of(attributes)
    if object_selector and not any(selector_matches(object_selector, each) for each in labels or [{}]):
        return False
    if namespace_selector:
        info = attributes.resource
        if info.group == "" and info.resource == "namespaces":
            return selector_matches(namespace_selector, labels[0] if labels else {})
        if attributes.namespace:
            found = namespace_labels(attributes.namespace)
            if not isinstance(found, dict):
                found = await found
            return selector_matches(namespace_selector, found)
    return True


def equivalent_resources(catalog, attributes: Attributes) -> list:
    """The catalog's other group-versions of the request's resource (upstream's EquivalentResourceMapper:
    the same objects in the same storage), each having the request's subresource; in the catalog's order."""
    if catalog is None:
        return []
    gvr = attributes.resource
    info = catalog.lookup(gvr.group, gvr.version, gvr.resource)
    if info is None:
        return []
    stored = (info.storage_gv[0], info.storage_key)
    return [other for other in catalog.all()
            if other is not info and (other.storage_gv[0], other.storage_key) == stored
            and (not attributes.subresource or other.subresource(attributes.subresource) is not None)]


def rule_matches_resource(rule: dict, attributes: Attributes, resource) -> bool:
    """``rule`` against the request as if made to ``resource`` (a GroupVersionResource), as upstream's
    matchPolicy Equivalent tries each equivalent resource."""
    return rule_matches(rule, replace(attributes, resource=resource))


def resource_of(info) -> GroupVersionResource:
    """A catalog ResourceInfo's GroupVersionResource."""
    return GroupVersionResource(info.group, info.version, info.resource)


async def convert_objects(registry, objects: list, source, target) -> list:
    """Copies of ``objects``, of ``source``'s version, in ``target``'s (both catalog ResourceInfos of one stored
    resource): as the registry converts them, or through the custom resource's conversion webhook where its CRD
    has one, in one ConversionReview (upstream's admission converts with the resource's own object convertor, the
    webhook included; a failure is the webhook converter's 500)."""
    store = registry.lookup(target.group, target.version, target.resource) if registry is not None else None
    converter = getattr(getattr(store, "strategy", None), "converter", None)
    if converter is not None:
        return await converter(list(objects), target.api_version) if objects else []
    return [conversion.from_storage(conversion.to_storage(copy.deepcopy(obj), source), target) for obj in objects]


async def converted_attributes(registry, attributes: Attributes, source, target) -> Attributes:
    """``attributes`` for the equivalent resource ``target`` (a catalog ResourceInfo), the objects converted to
    its version (those of a subresource with a kind of its own, such as scale, stay as they are): what a webhook or
    an admission policy matched through matchPolicy Equivalent sees."""
    whole = attributes.subresource in ("", "status")
    obj, old = attributes.object, attributes.old_object
    if whole:
        present = [o for o in (obj, old) if o is not None]
        converted = iter(await convert_objects(registry, present, source, target))
        obj = next(converted) if obj is not None else None
        old = next(converted) if old is not None else None
    kind = GroupVersionKind(target.group, target.version, target.kind) if whole else \
        GroupVersionKind(attributes.kind.group, attributes.kind.version, attributes.kind.kind)
    return replace(attributes, kind=kind, resource=resource_of(target), object=obj, old_object=old)

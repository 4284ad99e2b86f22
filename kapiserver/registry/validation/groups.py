"""Validation of the smaller groups: apiregistration, flowcontrol, policy, scheduling, node, coordination,
discovery, events, and the review kinds (networking, rbac, storage and certificates have their own modules)."""

from __future__ import annotations

import base64
import math
from typing import Any

from .. import apfbootstrap
from . import meta as _meta
from ...machinery import names
from . import certificates, events, pod, storage
from ._util import (Errors, FieldError, as_dict, as_dicts, dns1123_label, duplicate, forbidden,
                    go_quote, go_strings, immutable, int_or_percent, invalid, invalid_go, is_int,
                    label_selector, labels, nonnegative, not_more_than_100_percent, not_supported, one_of,
                    required, seq, text)


def _meta_create(obj: dict, namespaced: bool, name_fn=names.name_is_dns_subdomain, kube_rules=True) -> Errors:
    return _meta.object_meta(obj.get("metadata"), namespaced, name_fn, kube_rules=kube_rules)


# -- policy ----------------------------------------------------------------------------------

def validate_pdb(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced)
    spec = as_dict(obj.get("spec"))
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errs.append(invalid_go("spec", "policy.PodDisruptionBudgetSpec{...}",
                               "minAvailable and maxUnavailable cannot be both set"))
    for key in ("minAvailable", "maxUnavailable"):
        if spec.get(key) is not None:
            errs += int_or_percent(spec[key], f"spec.{key}")
            errs += not_more_than_100_percent(spec[key], f"spec.{key}")
    errs += label_selector(spec.get("selector"), "spec.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in ("AlwaysAllow", "IfHealthyBudget"):
        errs.append(not_supported("spec.unhealthyPodEvictionPolicy", policy, ["AlwaysAllow", "IfHealthyBudget"]))
    return errs


# -- scheduling -------------------------------------------------------------------------------

HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_PRIORITY_CLASS_PREFIX = "system-"
# The priority classes the apiserver creates at start: (name, value, description); none is the global default.
SYSTEM_PRIORITY_CLASSES = (
    ("system-node-critical", 2 * HIGHEST_USER_DEFINABLE_PRIORITY + 1000,
     "Used for system critical pods that must not be moved from their current node."),
    ("system-cluster-critical", 2 * HIGHEST_USER_DEFINABLE_PRIORITY,
     "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."),
)
PREEMPTION_POLICIES = ("PreemptLowerPriority", "Never")


def _system_priority_class_problem(name: str, value: Any, global_default: bool) -> str:
    """Why a "system-" class is not one of the known system classes ("" when it is one)."""
    for known, known_value, _ in SYSTEM_PRIORITY_CLASSES:
        if known == name:
            if value != known_value:
                return f"value of {known} PriorityClass must be {known_value}"
            if global_default:
                return f"globalDefault of {known} PriorityClass must be false"
            return ""
    return f"{name} is not a known system priority class"


def preemption_policy(value: Any, field: str) -> Errors:
    """ValidatePreemptionPolicy (a set policy)."""
    if value == "":
        return [required(field, "")]
    if value not in PREEMPTION_POLICIES:
        return [not_supported(field, value, PREEMPTION_POLICIES)]
    return []


def validate_priority_class(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, False)
    name = text(as_dict(obj.get("metadata")).get("name"))
    value = obj.get("value") if is_int(obj.get("value")) else 0
    if name.startswith(SYSTEM_PRIORITY_CLASS_PREFIX):
        problem = _system_priority_class_problem(name, value, bool(obj.get("globalDefault")))
        if problem:
            errs.append(forbidden("metadata.name", f"priority class names with '{SYSTEM_PRIORITY_CLASS_PREFIX}' "
                                                   f"prefix are reserved for system use only. error: {problem}"))
    elif value > HIGHEST_USER_DEFINABLE_PRIORITY:
        errs.append(forbidden("value", "maximum allowed value of a user defined priority is "
                                       f"{HIGHEST_USER_DEFINABLE_PRIORITY}"))
    if obj.get("preemptionPolicy") is not None:
        errs += preemption_policy(obj["preemptionPolicy"], "preemptionPolicy")
    return errs


def validate_priority_class_update(new: dict, old: dict, namespaced: bool) -> Errors:
    """Only the metadata rules and the immutable value and preemptionPolicy (upstream checks no more)."""
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    if (new.get("value") or 0) != (old.get("value") or 0):
        errs.append(forbidden("value", "may not be changed in an update."))
    errs += immutable(new.get("preemptionPolicy"), old.get("preemptionPolicy"), "preemptionPolicy")
    return errs


# -- node ------------------------------------------------------------------------------------

def validate_runtime_class(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, False)
    handler = text(obj.get("handler"))
    errs += [invalid("handler", handler, msg) for msg in names.name_is_dns_label(handler, False)]
    overhead = obj.get("overhead")
    if isinstance(overhead, dict):
        # upstream checks the pod's fixed overhead as a container's limits, and names the path so
        errs += pod.resources({"limits": overhead.get("podFixed")}, "overhead")
    scheduling = obj.get("scheduling")
    if isinstance(scheduling, dict):
        if scheduling.get("nodeSelector") is not None:
            errs += labels(scheduling["nodeSelector"], "scheduling.nodeSelector")
        errs += pod.tolerations(scheduling.get("tolerations"), "scheduling.tolerations")
    return errs


def validate_runtime_class_update(new: dict, old: dict, namespaced: bool) -> Errors:
    errs = validate_runtime_class(new, namespaced)
    errs += _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    return errs + immutable(text(new.get("handler")), text(old.get("handler")), "handler")


# -- coordination, discovery, certificates, events -------------------------------------------

def validate_lease(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced)
    spec = as_dict(obj.get("spec"))
    duration = spec.get("leaseDurationSeconds")
    if is_int(duration) and duration <= 0:
        errs.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    errs += nonnegative(spec.get("leaseTransitions"), "spec.leaseTransitions")
    return errs


ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")


def validate_endpoint_slice(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced)
    address_type = obj.get("addressType")
    errs += one_of(address_type, "addressType", ADDRESS_TYPES)
    endpoints = as_dicts(obj.get("endpoints"))
    if len(endpoints) > 1000:
        errs.append(invalid_go("endpoints", "[]discovery.Endpoint{...}", "must have at most 1000 items"))
    for i, endpoint in enumerate(endpoints):
        addresses = seq(endpoint.get("addresses"))
        if not addresses:
            errs.append(required(f"endpoints[{i}].addresses", "must contain at least 1 address"))
        elif len(addresses) > 100:
            errs.append(invalid_go(f"endpoints[{i}].addresses", go_strings(addresses), "must have at most 100 items"))
    seen: set[str] = set()
    for i, port in enumerate(as_dicts(obj.get("ports"))):
        name = text(port.get("name"))
        if name:
            errs += dns1123_label(name, f"ports[{i}].name")
        if name in seen:
            errs.append(duplicate(f"ports[{i}].name", name))
        seen.add(name)
        protocol = port.get("protocol")
        if protocol is None:
            errs.append(required(f"ports[{i}].protocol", ""))
        elif protocol not in pod.PROTOCOLS:
            errs.append(not_supported(f"ports[{i}].protocol", protocol, pod.PROTOCOLS))
    return errs


def validate_endpoint_slice_update(new: dict, old: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    errs += immutable(new.get("addressType"), old.get("addressType"), "addressType")
    return errs + validate_endpoint_slice(new, namespaced)


def validate_subject_access_review(obj: dict, namespaced: bool) -> Errors:
    errs: Errors = []
    spec = as_dict(obj.get("spec"))
    has_resource = spec.get("resourceAttributes") is not None
    has_non_resource = spec.get("nonResourceAttributes") is not None
    if has_resource and has_non_resource:
        errs.append(invalid_go("spec.nonResourceAttributes", "&authorization.NonResourceAttributes{...}",
                               "cannot be specified in combination with resourceAttributes"))
    if not has_resource and not has_non_resource:
        errs.append(invalid_go("spec.resourceAttributes", "(*authorization.ResourceAttributes)(nil)",
                               "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
    return errs


# -- apiregistration.k8s.io ------------------------------------------------------------------

def validate_api_service(obj: dict, namespaced: bool) -> Errors:
    """An APIService is named version.group; a local one (no service) has neither caBundle nor
    insecureSkipTLSVerify, a remote one names its service."""
    spec = as_dict(obj.get("spec"))
    group, version = text(spec.get("group")), text(spec.get("version"))
    required_name = f"{version}.{group}"

    def name_rule(name: str, prefix: bool) -> list[str]:
        problems = names.is_valid_path_segment_name(name)
        if problems:
            return problems
        return [] if name == required_name else [f'must be `spec.version+"."+spec.group`: "{required_name}"']
    errs = _meta_create(obj, False, name_rule)
    if not group and version != "v1":
        errs.append(required("spec.group", "only v1 may have an empty group and it better be legacy kube"))
    if group:
        errs += [invalid("spec.group", group, msg) for msg in names.is_dns1123_subdomain(group)]
    errs += [invalid("spec.version", version, msg) for msg in names.is_dns1035_label(version)]
    group_priority, version_priority = spec.get("groupPriorityMinimum") or 0, spec.get("versionPriority") or 0
    if not is_int(group_priority) or not 0 < group_priority <= 20000:
        errs.append(invalid("spec.groupPriorityMinimum", group_priority, "must be positive and less than 20000"))
    if not is_int(version_priority) or not 0 < version_priority <= 1000:
        errs.append(invalid("spec.versionPriority", version_priority, "must be positive and less than 1000"))
    service = spec.get("service")
    ca_bundle, skip_verify = text(spec.get("caBundle")), spec.get("insecureSkipTLSVerify") is True
    if service is None:
        if ca_bundle:
            size = len(base64.b64decode(ca_bundle + "=" * (-len(ca_bundle) % 4)))
            errs.append(invalid("spec.caBundle", f"{size} bytes", "local APIServices may not have a caBundle"))
        if skip_verify:
            errs.append(invalid("spec.insecureSkipTLSVerify", True,
                                "local APIServices may not have insecureSkipTLSVerify"))
        return errs
    service = as_dict(service)
    if not service.get("namespace"):
        errs.append(required("spec.service.namespace", ""))
    if not service.get("name"):
        errs.append(required("spec.service.name", ""))
    if skip_verify and ca_bundle:
        errs.append(invalid("spec.insecureSkipTLSVerify", True, "may not be true if caBundle is present"))
    return errs


def validate_api_service_update(new: dict, old: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    return errs + [e for e in validate_api_service(new, namespaced) if not e.field.startswith("metadata.")]


# -- flowcontrol.apiserver.k8s.io ------------------------------------------------------------

_SUBJECT_KINDS = ("Group", "ServiceAccount", "User")
_DISTINGUISHERS = ("ByNamespace", "ByUser")
_RULE_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "proxy", "update", "watch")
_SUBJECT_MEMBERS = (("User", "user"), ("Group", "group"), ("ServiceAccount", "serviceAccount"))
_NAMESPACE_INTRO = "each member of this list must be '*' or a DNS-1123 label; "
_MAX_QUEUES = 10_000_000
_MAX_HASH_BITS = 60


def _flow_subject(subject: dict, path: str) -> Errors:
    """One subject: the member its kind names, present and named; the other members absent."""
    kind = subject.get("kind")
    members = dict(_SUBJECT_MEMBERS)
    if kind not in members:
        return [not_supported(f"{path}.kind", text(kind), _SUBJECT_KINDS)]
    member = members[kind]
    errs: Errors = []
    value = subject.get(member)
    if value is None:
        errs.append(required(f"{path}.{member}", f"{member} is required when subject kind is '{kind}'"))
    else:
        value = as_dict(value)
        name = text(value.get("name"))
        if not name:
            errs.append(required(f"{path}.{member}.name", ""))
        elif kind == "ServiceAccount" and name != "*":
            errs += [invalid(f"{path}.{member}.name", name, msg) for msg in names.name_is_dns_subdomain(name, False)]
        if kind == "ServiceAccount":
            namespace = text(value.get("namespace"))
            if not namespace:
                errs.append(required(f"{path}.{member}.namespace", "must specify namespace for service account"))
            else:
                errs += [invalid(f"{path}.{member}.namespace", namespace, msg)
                         for msg in names.name_is_dns_label(namespace, False)]
    for other_kind, other in _SUBJECT_MEMBERS:
        if other_kind != kind and subject.get(other) is not None:
            errs.append(forbidden(f"{path}.{other}", f"{other} is forbidden when subject kind is not '{other_kind}'"))
    return errs


def _rule_verbs(verbs: list, path: str) -> Errors:
    if not verbs:
        return [required(f"{path}.verbs", "verbs must contain at least one value")]
    if "*" in verbs:
        return _star_alone(verbs, f"{path}.verbs", "verbs")
    if not set(verbs) <= set(_RULE_VERBS):
        return [FieldError("FieldValueNotSupported", f"{path}.verbs", f"Unsupported value: {go_strings(verbs)}: "
                           "supported values: " + ", ".join(f'"{v}"' for v in _RULE_VERBS))]
    return []


def _star_alone(values: list, field: str, what: str) -> Errors:
    if "*" in values and len(values) > 1:
        return [invalid_go(field, go_strings(values), f"if '*' is present, must not specify other {what}")]
    return []


def _resource_rule(rule: dict, path: str) -> Errors:
    errs = _rule_verbs(seq(rule.get("verbs")), path)
    for member, what, message in (("apiGroups", "api groups", "resource rules must supply at least one api group"),
                                  ("resources", "resources", "resource rules must supply at least one resource")):
        values = seq(rule.get(member))
        errs += [required(f"{path}.{member}", message)] if not values else \
            _star_alone(values, f"{path}.{member}", what)
    namespaces = seq(rule.get("namespaces"))
    if not namespaces and rule.get("clusterScope") is not True:
        errs.append(required(f"{path}.namespaces",
                             "resource rules that are not cluster scoped must supply at least one namespace"))
    elif "*" in namespaces:
        errs += _star_alone(namespaces, f"{path}.namespaces", "namespaces")
    else:
        for i, namespace in enumerate(namespaces):
            errs += [invalid(f"{path}.namespaces[{i}]", namespace, _NAMESPACE_INTRO + msg)
                     for msg in names.name_is_dns_label(text(namespace), False)]
    return errs


def _non_resource_url(url: str) -> str:
    """What is wrong with a non-resource URL pattern ("" when nothing)."""
    if not url:
        return "must not be empty"
    if url == "/":
        return ""
    if not url.startswith("/"):
        return "must start with slash"
    if " " in url:
        return "must not contain white-space"
    if "//" in url:
        return "must not contain double slash"
    stars = url.count("*")
    if stars > 1 or (stars == 1 and not url.endswith("/*")):
        return "wildcard can only do suffix matching"
    return ""


def _non_resource_rule(rule: dict, path: str) -> Errors:
    errs = _rule_verbs(seq(rule.get("verbs")), path)
    urls = seq(rule.get("nonResourceURLs"))
    if not urls:
        errs.append(required(f"{path}.nonResourceURLs", "nonResourceURLs must contain at least one value"))
    elif "*" in urls:
        errs += _star_alone(urls, f"{path}.nonResourceURLs", "non-resource URLs")
    else:
        for i, url in enumerate(urls):
            problem = _non_resource_url(text(url))
            if problem:
                errs.append(invalid(f"{path}.nonResourceURLs[{i}]", url, problem))
    return errs


def _policy_rules(rule: dict, path: str) -> Errors:
    errs: Errors = []
    subjects = as_dicts(rule.get("subjects"))
    if not subjects:
        errs.append(required(f"{path}.subjects", "subjects must contain at least one value"))
    for i, subject in enumerate(subjects):
        errs += _flow_subject(subject, f"{path}.subjects[{i}]")
    resource_rules, non_resource_rules = as_dicts(rule.get("resourceRules")), as_dicts(rule.get("nonResourceRules"))
    if not resource_rules and not non_resource_rules:
        errs.append(required(path, "at least one of resourceRules and nonResourceRules has to be non-empty"))
    for i, resource_rule in enumerate(resource_rules):
        errs += _resource_rule(resource_rule, f"{path}.resourceRules[{i}]")
    for i, non_resource_rule in enumerate(non_resource_rules):
        errs += _non_resource_rule(non_resource_rule, f"{path}.nonResourceRules[{i}]")
    return errs


def _flow_conditions(status: Any) -> Errors:
    errs: Errors = []
    seen = set()
    for i, condition in enumerate(as_dicts(as_dict(status).get("conditions"))):
        kind = text(condition.get("type"))
        if not kind:
            errs.append(required(f"status.conditions[{i}].type", "must not be empty"))
        elif kind in seen:
            errs.append(duplicate(f"status.conditions[{i}].type", kind))
        seen.add(kind)
    return errs


def validate_flow_schema(obj: dict, namespaced: bool) -> Errors:
    """A FlowSchema: precedence in 1..10000 (1 for exempt alone), a known distinguisher, a priority level
    named, well-formed rules; the mandatory ones keep their fixed specs."""
    errs = _meta_create(obj, False)
    name = text(as_dict(obj.get("metadata")).get("name"))
    spec = as_dict(obj.get("spec"))
    precedence = spec.get("matchingPrecedence") or 0
    if not is_int(precedence) or precedence <= 0:
        errs.append(invalid("spec.matchingPrecedence", precedence, "must be a positive value"))
    elif precedence > 10000:
        errs.append(invalid("spec.matchingPrecedence", precedence, "must not be greater than 10000"))
    elif precedence == 1 and name != "exempt":
        errs.append(invalid("spec.matchingPrecedence", precedence,
                            "only the schema named 'exempt' may have matchingPrecedence 1"))
    method = spec.get("distinguisherMethod")
    if method is not None and as_dict(method).get("type") not in _DISTINGUISHERS:
        rendered = f"flowcontrol.FlowDistinguisherMethod{{Type:{go_quote(as_dict(method).get('type'))}}}"
        errs.append(FieldError("FieldValueNotSupported", "spec.distinguisherMethod.type",
                               f"Unsupported value: {rendered}: supported values: "
                               + ", ".join(f'"{v}"' for v in _DISTINGUISHERS)))
    level = text(as_dict(spec.get("priorityLevelConfiguration")).get("name"))
    if not level:
        errs.append(required("spec.priorityLevelConfiguration.name", "must reference a priority level"))
    else:
        errs += [invalid("spec.priorityLevelConfiguration.name", level, msg)
                 for msg in names.name_is_dns_subdomain(level, False)]
    for i, rule in enumerate(as_dicts(spec.get("rules"))):
        errs += _policy_rules(rule, f"spec.rules[{i}]")
    if name in apfbootstrap.MANDATORY_FLOW_SCHEMAS and spec != apfbootstrap.flow_schema(name)["spec"]:
        errs.append(invalid_go("spec", "spec", f"spec of '{name}' must equal the fixed value"))
    return errs + _flow_conditions(obj.get("status"))


def _limited(limited: dict) -> Errors:
    errs: Errors = []
    path = "spec.limited"
    shares = limited.get("nominalConcurrencyShares")
    if shares is not None and (not is_int(shares) or shares < 0):
        errs.append(invalid(f"{path}.nominalConcurrencyShares", shares, "must be a non-negative integer"))
    lendable = limited.get("lendablePercent")
    if lendable is not None and (not is_int(lendable) or not 0 <= lendable <= 100):
        errs.append(invalid(f"{path}.lendablePercent", lendable, "must be between 0 and 100, inclusive"))
    borrowing = limited.get("borrowingLimitPercent")
    if borrowing is not None and (not is_int(borrowing) or borrowing < 0):
        errs.append(invalid(f"{path}.borrowingLimitPercent", borrowing,
                            "if specified, must be a non-negative integer"))
    response = as_dict(limited.get("limitResponse"))
    kind, queuing = response.get("type"), response.get("queuing")
    if kind == "Reject":
        if queuing is not None:
            errs.append(forbidden(f"{path}.limitResponse.queuing",
                                  "must be nil if limited.limitResponse.type is not Limited"))
    elif kind == "Queue":
        if queuing is None:
            errs.append(required(f"{path}.limitResponse.queuing",
                                 "must not be empty if limited.limitResponse.type is Limited"))
        else:
            queuing = as_dict(queuing)
            qpath = f"{path}.limitResponse.queuing"
            queues, hand, length = (queuing.get(k) or 0 for k in ("queues", "handSize", "queueLengthLimit"))
            if not is_int(length) or length <= 0:
                errs.append(invalid(f"{qpath}.queueLengthLimit", length, "must be positive"))
            if not is_int(queues) or queues <= 0:
                errs.append(invalid(f"{qpath}.queues", queues, "must be positive"))
            elif queues > _MAX_QUEUES:
                errs.append(invalid(f"{qpath}.queues", queues, f"must not be greater than {_MAX_QUEUES}"))
            if not is_int(hand) or hand <= 0:
                errs.append(invalid(f"{qpath}.handSize", hand, "must be positive"))
            elif is_int(queues) and hand > queues:
                errs.append(invalid(f"{qpath}.handSize", hand, f"should not be greater than queues ({queues})"))
            elif is_int(queues) and queues > 0 and math.ceil(math.log2(queues) * hand) > _MAX_HASH_BITS:
                errs.append(invalid(f"{qpath}.handSize", hand, f"required entropy bits of deckSize {queues} and "
                                                               f"handSize {hand} should not be greater than "
                                                               f"{_MAX_HASH_BITS}"))
    else:
        errs.append(not_supported(f"{path}.limitResponse.type", text(kind), ("Queue", "Reject")))
    return errs


def validate_priority_level_configuration(obj: dict, namespaced: bool) -> Errors:
    """A PriorityLevelConfiguration: Exempt exactly when named exempt, limited or exempt as its type says,
    shares, percentages and queuing in range; catch-all keeps its fixed spec."""
    errs = _meta_create(obj, False)
    name = text(as_dict(obj.get("metadata")).get("name"))
    spec = as_dict(obj.get("spec"))
    kind = spec.get("type")
    if (name == "exempt") != (kind == "Exempt"):
        errs.append(invalid("spec.type", text(kind), "type must be 'Exempt' if and only if name is 'exempt'"))
    if kind == "Exempt":
        if spec.get("limited") is not None:
            errs.append(forbidden("spec.limited", "must be nil if the type is not Limited"))
        exempt = as_dict(spec.get("exempt"))
        shares, lendable = exempt.get("nominalConcurrencyShares"), exempt.get("lendablePercent")
        if shares is not None and (not is_int(shares) or shares < 0):
            errs.append(invalid("spec.exempt.nominalConcurrencyShares", shares, "must be a non-negative integer"))
        if lendable is not None and (not is_int(lendable) or not 0 <= lendable <= 100):
            errs.append(invalid("spec.exempt.lendablePercent", lendable, "must be between 0 and 100, inclusive"))
    elif kind == "Limited":
        if spec.get("exempt") is not None:
            errs.append(forbidden("spec.exempt", "must be nil if the type is Limited"))
        if spec.get("limited") is None:
            errs.append(required("spec.limited", "must not be empty when type is Limited"))
        else:
            errs += _limited(as_dict(spec.get("limited")))
    else:
        errs.append(not_supported("spec.type", text(kind), ("Exempt", "Limited")))
    if name == "catch-all" and spec != apfbootstrap.priority_level(name)["spec"]:
        errs.append(invalid_go("spec", "spec", f"spec of '{name}' must equal the fixed value"))
    if name == "exempt":
        fixed = {k: v for k, v in apfbootstrap.priority_level(name)["spec"].items() if k != "exempt"}
        if {k: v for k, v in spec.items() if k != "exempt"} != fixed:
            errs.append(invalid_go("spec", "spec",
                                   "spec of 'exempt' except the 'spec.exempt' field must equal the fixed value"))
    return errs + _flow_conditions(obj.get("status"))


def validate_flow_schema_update(new: dict, old: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    return errs + [e for e in validate_flow_schema(new, namespaced) if not e.field.startswith("metadata.")]


def validate_priority_level_configuration_update(new: dict, old: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    return errs + [e for e in validate_priority_level_configuration(new, namespaced)
                   if not e.field.startswith("metadata.")]


CREATE = {
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"): validate_flow_schema,
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"): validate_priority_level_configuration,
    ("apiregistration.k8s.io", "APIService"): validate_api_service,
    ("policy", "PodDisruptionBudget"): validate_pdb,
    ("storage.k8s.io", "StorageClass"): storage.validate_storage_class,
    ("storage.k8s.io", "CSIDriver"): storage.validate_csi_driver,
    ("storage.k8s.io", "CSINode"): storage.validate_csi_node,
    ("storage.k8s.io", "CSIStorageCapacity"): storage.validate_csi_storage_capacity,
    ("storage.k8s.io", "VolumeAttachment"): storage.validate_volume_attachment,
    ("scheduling.k8s.io", "PriorityClass"): validate_priority_class,
    ("node.k8s.io", "RuntimeClass"): validate_runtime_class,
    ("coordination.k8s.io", "Lease"): validate_lease,
    ("discovery.k8s.io", "EndpointSlice"): validate_endpoint_slice,
    ("certificates.k8s.io", "CertificateSigningRequest"): certificates.validate_csr,
    ("events.k8s.io", "Event"): events.validate_events_event,
    ("authorization.k8s.io", "SubjectAccessReview"): validate_subject_access_review,
    ("authorization.k8s.io", "SelfSubjectAccessReview"): validate_subject_access_review,
    ("authorization.k8s.io", "LocalSubjectAccessReview"): validate_subject_access_review,
}

UPDATE = {
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"): validate_flow_schema_update,
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"): validate_priority_level_configuration_update,
    ("apiregistration.k8s.io", "APIService"): validate_api_service_update,
    ("storage.k8s.io", "StorageClass"): storage.validate_storage_class_update,
    ("storage.k8s.io", "CSIDriver"): storage.validate_csi_driver_update,
    ("storage.k8s.io", "CSINode"): storage.validate_csi_node_update,
    ("storage.k8s.io", "CSIStorageCapacity"): storage.validate_csi_storage_capacity_update,
    ("storage.k8s.io", "VolumeAttachment"): storage.validate_volume_attachment_update,
    ("scheduling.k8s.io", "PriorityClass"): validate_priority_class_update,
    ("node.k8s.io", "RuntimeClass"): validate_runtime_class_update,
    ("discovery.k8s.io", "EndpointSlice"): validate_endpoint_slice_update,
    ("certificates.k8s.io", "CertificateSigningRequest"): certificates.validate_csr_update,
    ("events.k8s.io", "Event"): events.validate_events_event_update,
}

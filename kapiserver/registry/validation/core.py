"""Validation of the core/v1 kinds other than Pod and Service (pkg/apis/core/validation)."""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from . import meta as _meta
from ...machinery import names
from ...machinery.errors import FieldError
from ...machinery.formats import parse_cidr, parse_ip_sloppy
from . import events, persistentvolume, pod
from ...machinery.quantity import canonical_quantity, go_quantity, parse_quantity
from .resources import (STANDARD_QUOTA_RESOURCES, container_resource_name, hugepages, overcommit_allowed,
                        resource_name, resource_quantity_value)
from ._util import (FIELD_IMMUTABLE, Errors, as_dict, as_dicts, dns1123_label, duplicate, duplicate_go, forbidden,
                    go_quote, go_string_map, go_strings, immutable, invalid, invalid_go, labels, nonnegative,
                    not_supported, one_of, qualified_name, required, seq, text, too_long)

MAX_SECRET_SIZE = 1 * 1024 * 1024
IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"


def _meta_create(obj: dict, namespaced: bool, name_fn=names.name_is_dns_subdomain) -> Errors:
    return _meta.object_meta(obj.get("metadata"), namespaced, name_fn)


# -- ConfigMap and Secret --------------------------------------------------------------------

def _decoded_len(value: Any) -> int:
    if not isinstance(value, str):
        return 0
    try:
        return len(base64.b64decode(value, validate=False))
    except (binascii.Error, ValueError):
        return len(value)


def validate_config_map(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced)
    data, binary = as_dict(obj.get("data")), as_dict(obj.get("binaryData"))
    total = 0
    for key in sorted(data):
        errs += [invalid(f"data[{key}]", key, msg) for msg in names.is_config_map_key(key)]
        if key in binary:
            errs.append(invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
        total += len(str(data[key] or "").encode())
    for key in sorted(binary):
        errs += [invalid(f"binaryData[{key}]", key, msg) for msg in names.is_config_map_key(key)]
        if key in data:
            errs.append(invalid(f"binaryData[{key}]", key, "duplicate of key present in data"))
        total += _decoded_len(binary[key])
    if total > MAX_SECRET_SIZE:
        errs.append(too_long("", "", MAX_SECRET_SIZE))
    return errs


def _immutable_payload(new: dict, old: dict, keys: tuple[str, ...]) -> Errors:
    errs: Errors = []
    if old.get("immutable") is True:
        if new.get("immutable") is not True:
            errs.append(forbidden("immutable", IMMUTABLE_WHEN_SET))
        for key in keys:
            if (new.get(key) or None) != (old.get(key) or None):
                errs.append(forbidden(key, IMMUTABLE_WHEN_SET))
    return errs


def validate_config_map_update(new: dict, old: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    errs += _immutable_payload(new, old, ("data", "binaryData"))
    return errs + validate_config_map(new, namespaced)


def _secret_bytes(value: Any) -> bytes:
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value or "", validate=False)
    except (binascii.Error, ValueError):
        return b""


def validate_secret(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced)
    data = dict(as_dict(obj.get("data")))
    # stringData is merged into data on decode upstream; count its keys here too.
    for key, value in as_dict(obj.get("stringData")).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    total = 0
    for key in sorted(data):
        errs += [invalid(f"data[{key}]", key, msg) for msg in names.is_config_map_key(key)]
        total += _decoded_len(data[key])
    if total > MAX_SECRET_SIZE:
        errs.append(too_long("data", "", MAX_SECRET_SIZE))
    kind = text(obj.get("type"))
    annotations = as_dict(as_dict(obj.get("metadata")).get("annotations"))
    if kind == "kubernetes.io/service-account-token":
        if not annotations.get("kubernetes.io/service-account.name"):
            errs.append(required("metadata.annotations[kubernetes.io/service-account.name]", ""))
    elif kind in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if kind == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if key not in data:
            errs.append(required(f"data[{key}]", ""))
        else:
            try:
                parsed = json.loads(_secret_bytes(data[key]) or b"null")
                if not isinstance(parsed, dict) and parsed is not None:
                    raise ValueError("json: cannot unmarshal into Go value of type map[string]interface {}")
            except ValueError as exc:
                errs.append(invalid(f"data[{key}]", "<secret contents redacted>", _json_error(exc)))
    elif kind == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs.append(required("data[username]", ""))
            errs.append(required("data[password]", ""))
    elif kind == "kubernetes.io/ssh-auth":
        if not _secret_bytes(data.get("ssh-privatekey")):
            errs.append(required("data[ssh-privatekey]", ""))
    elif kind == "kubernetes.io/tls":
        if "tls.crt" not in data:
            errs.append(required("data[tls.crt]", ""))
        if "tls.key" not in data:
            errs.append(required("data[tls.key]", ""))
    return errs


def _json_error(exc: Exception) -> str:
    text = str(exc)
    if "Expecting value" in text or "Extra data" in text or "Unterminated" in text:
        return "invalid character looking for beginning of value"
    if "cannot unmarshal" in text:
        return text
    return "unexpected end of JSON input"


def validate_secret_update(new: dict, old: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    errs += immutable(text(new.get("type")), text(old.get("type")), "type")
    errs += _immutable_payload(new, old, ("data",))
    return errs + validate_secret(new, namespaced)


# -- Namespace, Node, ServiceAccount ---------------------------------------------------------

def validate_namespace(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, False, names.name_is_dns_label)
    for name in seq(as_dict(obj.get("spec")).get("finalizers")):
        errs += qualified_name(str(name), "spec.finalizers")
        if "/" not in str(name) and name not in _meta.STANDARD_FINALIZERS:
            errs.append(invalid("spec.finalizers", name,
                                "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


def _go_taint(taint: dict) -> str:
    """%#v of a core.Taint (its TimeAdded a *metav1.Time)."""
    added = "(*v1.Time)(nil)" if not taint.get("timeAdded") else "<time>"
    return (f"core.Taint{{Key:{go_quote(taint.get('key'))}, Value:{go_quote(taint.get('value'))}, "
            f"Effect:{go_quote(taint.get('effect'))}, TimeAdded:{added}}}")


def _node_taints(spec: dict) -> Errors:
    """validateNodeTaints; upstream hands it the metadata path, so its errors read metadata.taints[i]."""
    errs: Errors = []
    seen: set[tuple] = set()
    for i, taint in enumerate(as_dicts(spec.get("taints"))):
        path = f"metadata.taints[{i}]"
        errs += qualified_name(text(taint.get("key")), f"{path}.key")
        value = text(taint.get("value"))
        problems = names.is_label_value(value)
        if problems:
            errs.append(invalid(f"{path}.value", value, ";".join(problems)))
        errs += one_of(taint.get("effect"), f"{path}.effect", pod.TAINT_EFFECTS)
        key = (text(taint.get("key")), text(taint.get("effect")))
        if key in seen:
            errs.append(FieldError("FieldValueDuplicate", path, f"Duplicate value: {_go_taint(taint)}: "
                                                                 "taints must be unique by key and effect pair"))
            continue
        seen.add(key)
    return errs


def _node_resources(obj: dict) -> Errors:
    """validateNodeResources: status.capacity and status.allocatable quantities (paths as Child, not Key)."""
    errs: Errors = []
    status = as_dict(obj.get("status"))
    for key in ("capacity", "allocatable"):
        values = as_dict(status.get(key))
        for name in sorted(values):
            errs += resource_quantity_value(name, values[name], f"status.{key}.{name}")
    return errs


def _pod_cidrs(spec: dict) -> list:
    cidrs = seq(spec.get("podCIDRs"))
    if not cidrs and spec.get("podCIDR"):
        cidrs = [spec["podCIDR"]]
    return cidrs


def _cidr_family(value: Any) -> str:
    """The IP family of a CIDR as Go's ParseCIDRSloppy reads it ("" if it does not): a prefix length is needed,
    an IPv4 address may carry leading zeros."""
    parsed = parse_cidr(value, parse_ip_sloppy) if isinstance(value, str) else None
    return str(parsed[0].version) if parsed else ""


def _pod_cidr_errors(spec: dict) -> Errors:
    errs: Errors = []
    cidrs = _pod_cidrs(spec)
    for i, cidr in enumerate(cidrs):
        if not _cidr_family(cidr):
            errs.append(invalid_go(f"spec.podCIDRs[{i}]", go_strings(cidrs), "must be valid CIDR"))
    if len(cidrs) > 1:
        families = [_cidr_family(c) for c in cidrs]
        if len(cidrs) > 2 or len(set(families)) != 2 or "" in families:
            errs.append(invalid_go("spec.podCIDRs", go_strings(cidrs),
                                   "may specify no more than one CIDR for each IP family"))
    return errs


def validate_node(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, False)
    spec = as_dict(obj.get("spec"))
    errs += _node_taints(spec)
    errs += _node_resources(obj)
    return errs + _pod_cidr_errors(spec)


def validate_node_update(new: dict, old: dict, namespaced: bool) -> Errors:
    """ValidateNodeUpdate: podCIDRs and providerID may only be set once; externalID never changes."""
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    errs += _node_resources(new)
    seen: list = []
    for i, address in enumerate(seq(as_dict(new.get("status")).get("addresses"))):
        if address in seen:
            errs.append(duplicate_go(f"status.addresses[{i}]", f"core.NodeAddress{{Type:"
                                     f"{go_quote(as_dict(address).get('type'))}, Address:"
                                     f"{go_quote(as_dict(address).get('address'))}}}"))
        seen.append(address)
    errs += _pod_cidr_errors(spec)      # ValidateNode's check, which upstream's node strategy runs on update too
    old_cidrs = _pod_cidrs(old_spec)
    if old_cidrs and [str(c) for c in old_cidrs] != [str(c) for c in _pod_cidrs(spec)]:
        errs.append(forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'))
    if old_spec.get("providerID") and old_spec.get("providerID") != spec.get("providerID"):
        errs.append(forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid'))
    errs += _node_taints(spec)
    if text(spec.get("externalID")) != text(old_spec.get("externalID")):
        errs.append(forbidden("spec.externalID", "may not be updated"))
    return errs


def validate_service_account(obj: dict, namespaced: bool) -> Errors:
    return _meta_create(obj, namespaced)


# -- storage ---------------------------------------------------------------------------------

# PersistentVolumes and PersistentVolumeClaims are validated in persistentvolume.py.
ACCESS_MODES = persistentvolume.ACCESS_MODES


# -- controllers and templates ---------------------------------------------------------------

def validate_pod_template(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced)
    return errs + pod.pod_template_spec(obj.get("template"), "template")


def validate_replication_controller(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced)
    spec = as_dict(obj.get("spec"))
    errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    selector = as_dict(spec.get("selector"))
    if not selector:
        errs.append(required("spec.selector", ""))
    else:
        errs += labels(selector, "spec.selector")
    errs += nonnegative(spec.get("replicas"), "spec.replicas")
    template = spec.get("template")
    if not isinstance(template, dict):
        errs.append(required("spec.template", ""))
        return errs
    template_labels = as_dict(template.get("metadata")).get("labels")
    if selector and any(as_dict(template_labels).get(k) != v for k, v in selector.items()):
        errs.append(invalid_go("spec.template.metadata.labels", go_string_map(template_labels),
                               "`selector` does not match template `labels`"))
    errs += pod.pod_template_spec(template, "spec.template")
    template_spec = as_dict(template.get("spec"))
    if template_spec.get("restartPolicy") != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", template_spec.get("restartPolicy"), ["Always"]))
    if template_spec.get("activeDeadlineSeconds") is not None:
        errs.append(invalid("spec.template.spec.activeDeadlineSeconds", template_spec["activeDeadlineSeconds"],
                            "activeDeadlineSeconds in ReplicationController is not Supported"))
    return errs


# -- quota and limits ------------------------------------------------------------------------

LIMIT_TYPES = ("Pod", "Container", "PersistentVolumeClaim")


MAX_MILLI_VALUE = (2 ** 63 - 1) // 1000


def _limit_range_item(item: dict, path: str, seen: set[str]) -> Errors:
    """One spec.limits entry, its checks in upstream's order."""
    kind = text(item.get("type"))
    errs = qualified_name(kind, f"{path}.type")
    if not errs and "/" not in kind and kind not in LIMIT_TYPES:
        errs.append(invalid(f"{path}.type", kind, "must be a standard limit type or fully qualified"))
    if kind in seen:
        errs.append(duplicate(f"{path}.type", kind))
    seen.add(kind)
    name_fn = container_resource_name if kind in ("Pod", "Container") else resource_name
    lists: dict[str, dict] = {}

    def names_of(key: str) -> None:
        lists[key] = as_dict(item.get(key))
        for name in sorted(lists[key]):
            errs.extend(name_fn(name, f"{path}.{key}[{name}]"))
    names_of("max")
    names_of("min")
    if kind == "Pod":
        for key in ("default", "defaultRequest"):
            if as_dict(item.get(key)):
                errs.append(forbidden(f"{path}.{key}", "may not be specified when `type` is 'Pod'"))
    else:
        names_of("default")
        names_of("defaultRequest")
    if kind == "PersistentVolumeClaim" and "storage" not in lists["min"] and "storage" not in lists["max"]:
        errs.append(required(f"{path}.limits",
                             "either minimum or maximum storage value is required, but neither was provided"))
    names_of("maxLimitRequestRatio")
    for name in sorted(set().union(*lists.values())):
        errs += _limit_range_bounds(name, lists, path)
    return errs


def _limit_range_bounds(name: str, lists: dict[str, dict], path: str) -> Errors:
    """min <= defaultRequest <= default <= max, and a ratio of at least 1 that max/min allows."""
    errs: Errors = []
    raw = {key: lists[key].get(name) for key in lists if name in lists[key]}
    amounts = {key: parse_quantity(value) for key, value in raw.items()}
    if any(amount is None for amount in amounts.values()):
        return errs
    text_of = {key: str(canonical_quantity(value)) for key, value in raw.items()}

    def bad(key: str, shown: str, message: str) -> None:
        errs.append(invalid_go(f"{path}.{key}[{name}]", go_quantity(raw[shown]), message))
    low, high, dflt, dreq = (amounts.get(k) for k in ("min", "max", "default", "defaultRequest"))
    if low is not None and high is not None and low > high:
        bad("min", "min", f"min value {text_of['min']} is greater than max value {text_of['max']}")
    if dreq is not None and low is not None and low > dreq:
        bad("defaultRequest", "defaultRequest",
            f"min value {text_of['min']} is greater than default request value {text_of['defaultRequest']}")
    if dreq is not None and high is not None and dreq > high:
        bad("defaultRequest", "defaultRequest",
            f"default request value {text_of['defaultRequest']} is greater than max value {text_of['max']}")
    if dreq is not None and dflt is not None and dreq > dflt:
        bad("defaultRequest", "defaultRequest",
            f"default request value {text_of['defaultRequest']} is greater than default limit value "
            f"{text_of['default']}")
    if dflt is not None and low is not None and low > dflt:
        bad("default", "min", f"min value {text_of['min']} is greater than default value {text_of['default']}")
    if dflt is not None and high is not None and dflt > high:
        bad("default", "max", f"default value {text_of['default']} is greater than max value {text_of['max']}")
    ratio = amounts.get("maxLimitRequestRatio")
    if ratio is not None:
        if ratio < 1:
            bad("maxLimitRequestRatio", "maxLimitRequestRatio",
                f"ratio {text_of['maxLimitRequestRatio']} is less than 1")
        if low is not None and high is not None:
            ratio_value, low_value, high_value = math.ceil(ratio), math.ceil(low), math.ceil(high)
            if max(ratio_value, low_value, high_value) < MAX_MILLI_VALUE:
                ratio_value = math.ceil(ratio * 1000) / 1000
                low_value, high_value = math.ceil(low * 1000), math.ceil(high * 1000)
            # Go divides float64s: a zero min gives +Inf (or NaN), which no ratio exceeds.
            if not low_value:
                limit = math.inf if high_value > 0 else math.nan
            else:
                try:
                    limit = high_value / low_value
                except OverflowError:       # a max of 1e999: past any float, so past any ratio
                    limit = math.inf if (high_value > 0) == (low_value > 0) else -math.inf
            if ratio_value > limit:
                bad("maxLimitRequestRatio", "maxLimitRequestRatio",
                    f"ratio {text_of['maxLimitRequestRatio']} is greater than max/min = {_go_float(limit)}")
    if not overcommit_allowed(name) and dflt is not None and dreq is not None and dflt != dreq:
        bad("defaultRequest", "defaultRequest",
            f"default value {text_of['default']} must equal to defaultRequest value {text_of['defaultRequest']} "
            f"in {name}")
    return errs


def _go_float(value: float) -> str:
    """fmt's %f."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return f"{value:.6f}"


def validate_limit_range(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced)
    seen: set[str] = set()
    for i, item in enumerate(as_dicts(as_dict(obj.get("spec")).get("limits"))):
        errs += _limit_range_item(item, f"spec.limits[{i}]", seen)
    return errs


# The VolumeAttributesClass scope needs a feature gate that 1.32 leaves off.
QUOTA_SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass",
                "CrossNamespacePodAffinity")
# The resources each scope may limit (IsResourceQuotaScopeValidForResource); other scopes limit any.
_POD_RESOURCES = frozenset(("pods", "cpu", "memory", "limits.cpu", "limits.memory", "requests.cpu",
                            "requests.memory"))
_SCOPE_RESOURCES = {"Terminating": _POD_RESOURCES, "NotTerminating": _POD_RESOURCES, "NotBestEffort": _POD_RESOURCES,
                    "PriorityClass": _POD_RESOURCES, "CrossNamespacePodAffinity": _POD_RESOURCES,
                    "BestEffort": frozenset(("pods",))}
_EXISTS_ONLY_SCOPES = ("BestEffort", "NotBestEffort", "Terminating", "NotTerminating", "CrossNamespacePodAffinity")
_CONFLICTING_SCOPES = (("BestEffort", "NotBestEffort"), ("Terminating", "NotTerminating"))


def quota_resource_name(name: str, path: str) -> Errors:
    """ValidateResourceQuotaResourceName."""
    errs = resource_name(name, path)
    if "/" not in name and name not in STANDARD_QUOTA_RESOURCES and not hugepages(name):
        errs.append(invalid(path, name, "must be a standard resource for quota"))
    return errs


def _scope_valid_for(scope: str, name: str) -> bool:
    allowed = _SCOPE_RESOURCES.get(scope)
    return allowed is None or name in allowed


def _standard_quota_name(name: str) -> bool:
    return name in STANDARD_QUOTA_RESOURCES or hugepages(name)


def _go_scopes(scopes: Any) -> str:
    """%#v of a []core.ResourceQuotaScope."""
    if not isinstance(scopes, list):
        return "[]core.ResourceQuotaScope(nil)"
    return "[]core.ResourceQuotaScope{" + ", ".join(go_quote(s) for s in scopes) + "}"


def _go_scope_selector(selector: dict) -> str:
    """%#v of the core.ScopeSelector a *ScopeSelector points at (field.ErrorBody dereferences it)."""
    parts = []
    for expr in as_dicts(selector.get("matchExpressions")):
        parts.append(f"core.ScopedResourceSelectorRequirement{{ScopeName:{go_quote(expr.get('scopeName'))}, "
                     f"Operator:{go_quote(expr.get('operator'))}, Values:{go_strings(expr.get('values'))}}}")
    return "core.ScopeSelector{MatchExpressions:[]core.ScopedResourceSelectorRequirement{" + ", ".join(parts) + "}}"


def _quota_scopes(spec: dict, hard: dict) -> Errors:
    errs: Errors = []
    scopes = seq(spec.get("scopes"))
    if not scopes:
        return errs
    rendered = _go_scopes(spec.get("scopes"))
    for scope in scopes:
        if scope not in QUOTA_SCOPES:
            errs.append(invalid_go("spec.scopes", rendered, "unsupported scope"))
        for name in sorted(hard):
            if _standard_quota_name(name) and not _scope_valid_for(scope, name):
                errs.append(invalid_go("spec.scopes", rendered, "unsupported scope applied to resource"))
    for pair in _CONFLICTING_SCOPES:
        if all(scope in scopes for scope in pair):
            errs.append(invalid_go("spec.scopes", rendered, "conflicting scopes"))
    return errs


def _quota_scope_selector(spec: dict, hard: dict) -> Errors:
    errs: Errors = []
    selector = spec.get("scopeSelector")
    if not isinstance(selector, dict):
        return errs
    path = "spec.scopeSelector.matchExpressions"
    chosen: set = set()
    for expr in as_dicts(selector.get("matchExpressions")):
        scope, operator, values = expr.get("scopeName"), expr.get("operator"), seq(expr.get("values"))
        if scope not in QUOTA_SCOPES:
            errs.append(invalid(f"{path}.scopeName", text(scope), "unsupported scope"))
        for name in sorted(hard):
            if _standard_quota_name(name) and not _scope_valid_for(text(scope), name):
                errs.append(invalid_go(path, _go_scope_selector(selector), "unsupported scope applied to resource"))
        if scope in _EXISTS_ONLY_SCOPES and operator != "Exists":
            errs.append(invalid(f"{path}.operator", text(operator),
                                "must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, "
                                "ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, "
                                "ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"))
        if operator in ("In", "NotIn"):
            if not values:
                errs.append(required(f"{path}.values",
                                     "must be at least one value when `operator` is 'In' or 'NotIn' for scope "
                                     "selector"))
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                errs.append(invalid_go(f"{path}.values", go_strings(values),
                                       "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope "
                                       "selector"))
        else:
            errs.append(invalid(f"{path}.operator", text(operator), "not a valid selector operator"))
        chosen.add(scope)
    for pair in _CONFLICTING_SCOPES:
        if all(scope in chosen for scope in pair):
            errs.append(invalid_go(path, _go_scopes(spec.get("scopes")), "conflicting scopes"))
    return errs


def _resource_list(values: Any, path: str) -> Errors:
    errs: Errors = []
    values = as_dict(values)
    for name in sorted(values):
        errs += quota_resource_name(name, f"{path}[{name}]")
        errs += resource_quantity_value(name, values[name], f"{path}[{name}]")
    return errs


def _quota_spec(obj: dict) -> Errors:
    spec = as_dict(obj.get("spec"))
    hard = as_dict(spec.get("hard"))
    return _resource_list(hard, "spec.hard") + _quota_scopes(spec, hard) + _quota_scope_selector(spec, hard)


def validate_resource_quota(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced) + _quota_spec(obj)
    status = as_dict(obj.get("status"))
    return errs + _resource_list(status.get("hard"), "status.hard") + _resource_list(status.get("used"), "status.used")


def validate_resource_quota_update(new: dict, old: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata")) + _quota_spec(new)
    new_scopes = seq(as_dict(new.get("spec")).get("scopes"))
    if set(map(str, new_scopes)) != set(map(str, seq(as_dict(old.get("spec")).get("scopes")))):
        errs.append(invalid_go("spec.scopes", _go_scopes(as_dict(new.get("spec")).get("scopes")), FIELD_IMMUTABLE))
    return errs


def validate_resource_quota_status_update(new: dict, old: dict, namespaced: bool = True) -> Errors:
    """ValidateResourceQuotaStatusUpdate."""
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    if not as_dict(new.get("metadata")).get("resourceVersion"):
        errs.append(required("resourceVersion", ""))
    status = as_dict(new.get("status"))
    return errs + _resource_list(status.get("hard"), "status.hard") + _resource_list(status.get("used"), "status.used")


# -- endpoints, events, bindings -------------------------------------------------------------

def validate_endpoints(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced)
    for i, subset in enumerate(as_dicts(obj.get("subsets"))):
        path = f"subsets[{i}]"
        if not subset.get("addresses") and not subset.get("notReadyAddresses"):
            errs.append(required(path, "must specify `addresses` or `notReadyAddresses`"))
        for key in ("addresses", "notReadyAddresses"):
            for j, address in enumerate(as_dicts(subset.get(key))):
                errs += _endpoint_address(address, f"{path}.{key}[{j}]")
        ports = as_dicts(subset.get("ports"))
        for j, port in enumerate(ports):
            ppath = f"{path}.ports[{j}]"
            if len(ports) > 1 and not port.get("name"):
                errs.append(required(f"{ppath}.name", ""))
            elif port.get("name"):
                errs += dns1123_label(str(port["name"]), f"{ppath}.name")
            errs += [invalid(f"{ppath}.port", port.get("port", 0), msg)
                     for msg in names.is_valid_port_num(port.get("port"))]
            errs += one_of(port.get("protocol"), f"{ppath}.protocol", pod.PROTOCOLS)
            if port.get("appProtocol") is not None:
                errs += qualified_name(text(port["appProtocol"]), f"{ppath}.appProtocol")
    return errs


def _endpoint_address(address: dict, path: str) -> Errors:
    """validateEndpointAddress: an IP, a hostname that is a DNS label, a nodeName that is a DNS subdomain."""
    errs: Errors = []
    ip = text(address.get("ip"))
    parsed = parse_ip_sloppy(ip)
    if parsed is None:
        errs.append(invalid(f"{path}.ip", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
    if address.get("hostname"):
        errs += dns1123_label(text(address["hostname"]), f"{path}.hostname")
    if address.get("nodeName") is not None:
        node_name = text(address["nodeName"])
        errs += [invalid(f"{path}.nodeName", node_name, msg)
                 for msg in names.name_is_dns_subdomain(node_name, False)]
    if parsed is None:
        errs.append(invalid(f"{path}.ip", ip, "must be a valid IP address"))
    # Upstream's ValidateNonSpecialIP also refuses loopback, unspecified and link-local addresses; left out
    # while the apiserver's own loopback setups (aggregated APIs, the kubernetes endpoints) rely on them.
    return errs


def validate_binding(obj: dict, namespaced: bool) -> Errors:
    errs: Errors = []
    target = as_dict(obj.get("target"))
    if target.get("kind") and target["kind"] != "Node":
        errs.append(not_supported("target.kind", target["kind"], ["Node", "<empty>"]))
    if not target.get("name"):
        errs.append(required("target.name", ""))
    return errs


CREATE = {
    "ConfigMap": validate_config_map,
    "Secret": validate_secret,
    "Namespace": validate_namespace,
    "Node": validate_node,
    "ServiceAccount": validate_service_account,
    "PersistentVolume": persistentvolume.validate_persistent_volume,
    "PersistentVolumeClaim": persistentvolume.validate_persistent_volume_claim,
    "PodTemplate": validate_pod_template,
    "ReplicationController": validate_replication_controller,
    "LimitRange": validate_limit_range,
    "ResourceQuota": validate_resource_quota,
    "Endpoints": validate_endpoints,
    "Event": events.validate_core_event,
    "Binding": validate_binding,
}


UPDATE = {
    "ConfigMap": validate_config_map_update,
    "Secret": validate_secret_update,
    "PersistentVolume": persistentvolume.validate_persistent_volume_update,
    "PersistentVolumeClaim": persistentvolume.validate_persistent_volume_claim_update,
    "ResourceQuota": validate_resource_quota_update,
    "Node": validate_node_update,
}

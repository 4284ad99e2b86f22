"""Validation of the core/v1 kinds other than Pod and Service (pkg/apis/core/validation)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from . import meta as _meta
from ...machinery import names
from . import events, persistentvolume, pod
from ...machinery.quantity import parse_quantity
from ._util import (Errors, dns1123_label, duplicate, forbidden, go_string_map, immutable, invalid, invalid_go,
                    labels, nonnegative, not_supported, one_of, qualified_name, required, seq, text, too_long)

MAX_SECRET_SIZE = 1 * 1024 * 1024
IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return [item if isinstance(item, dict) else {} for item in value] if isinstance(value, list) else []


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
    data, binary = _dict(obj.get("data")), _dict(obj.get("binaryData"))
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
    data = dict(_dict(obj.get("data")))
    # stringData is merged into data on decode upstream; count its keys here too.
    for key, value in _dict(obj.get("stringData")).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    total = 0
    for key in sorted(data):
        errs += [invalid(f"data[{key}]", key, msg) for msg in names.is_config_map_key(key)]
        total += _decoded_len(data[key])
    if total > MAX_SECRET_SIZE:
        errs.append(too_long("data", "", MAX_SECRET_SIZE))
    kind = text(obj.get("type"))
    annotations = _dict(_dict(obj.get("metadata")).get("annotations"))
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
    for name in seq(_dict(obj.get("spec")).get("finalizers")):
        errs += qualified_name(str(name), "spec.finalizers")
        if "/" not in str(name) and name not in _meta.STANDARD_FINALIZERS:
            errs.append(invalid("spec.finalizers", name,
                                "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


def validate_node(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, False)
    spec = _dict(obj.get("spec"))
    seen: set[tuple] = set()
    for i, taint in enumerate(_list(spec.get("taints"))):
        path = f"spec.taints[{i}]"
        errs += qualified_name(text(taint.get("key")), f"{path}.key")
        if taint.get("value"):
            errs += [invalid(f"{path}.value", taint["value"], msg) for msg in names.is_label_value(str(taint["value"]))]
        errs += one_of(taint.get("effect"), f"{path}.effect", pod.TAINT_EFFECTS)
        key = (str(taint.get("key")), str(taint.get("effect")))
        if key in seen:
            errs.append(duplicate(path, taint))
        seen.add(key)
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
    spec = _dict(obj.get("spec"))
    errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    selector = _dict(spec.get("selector"))
    if not selector:
        errs.append(required("spec.selector", ""))
    else:
        errs += labels(selector, "spec.selector")
    errs += nonnegative(spec.get("replicas"), "spec.replicas")
    template = spec.get("template")
    if not isinstance(template, dict):
        errs.append(required("spec.template", ""))
        return errs
    template_labels = _dict(template.get("metadata")).get("labels")
    if selector and any(_dict(template_labels).get(k) != v for k, v in selector.items()):
        errs.append(invalid_go("spec.template.metadata.labels", go_string_map(template_labels),
                               "`selector` does not match template `labels`"))
    errs += pod.pod_template_spec(template, "spec.template")
    template_spec = _dict(template.get("spec"))
    if template_spec.get("restartPolicy") != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", template_spec.get("restartPolicy"), ["Always"]))
    if template_spec.get("activeDeadlineSeconds") is not None:
        errs.append(invalid("spec.template.spec.activeDeadlineSeconds", template_spec["activeDeadlineSeconds"],
                            "activeDeadlineSeconds in ReplicationController is not Supported"))
    return errs


# -- quota and limits ------------------------------------------------------------------------

def validate_limit_range(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced)
    seen: set[str] = set()
    for i, item in enumerate(_list(_dict(obj.get("spec")).get("limits"))):
        kind = text(item.get("type"))
        path = f"spec.limits[{i}].type"
        if kind in seen:
            errs.append(duplicate(path, kind))
        seen.add(kind)
    return errs


def validate_resource_quota(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced)
    for name, value in sorted(_dict(_dict(obj.get("spec")).get("hard")).items()):
        errs += qualified_name(name, f"spec.hard[{name}]")
        amount = parse_quantity(value)
        if amount is not None and amount < 0:
            errs.append(invalid(f"spec.hard[{name}]", str(value), "must be greater than or equal to 0"))
    return errs


# -- endpoints, events, bindings -------------------------------------------------------------

def validate_endpoints(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced)
    for i, subset in enumerate(_list(obj.get("subsets"))):
        path = f"subsets[{i}]"
        if not subset.get("addresses") and not subset.get("notReadyAddresses"):
            errs.append(required(path, "must specify `addresses` or `notReadyAddresses`"))
        for key in ("addresses", "notReadyAddresses"):
            for j, address in enumerate(_list(subset.get(key))):
                if not address.get("ip"):
                    errs.append(required(f"{path}.{key}[{j}].ip", ""))
        ports = _list(subset.get("ports"))
        for j, port in enumerate(ports):
            ppath = f"{path}.ports[{j}]"
            if len(ports) > 1 and not port.get("name"):
                errs.append(required(f"{ppath}.name", ""))
            elif port.get("name"):
                errs += dns1123_label(str(port["name"]), f"{ppath}.name")
            errs += [invalid(f"{ppath}.port", port.get("port", 0), msg)
                     for msg in names.is_valid_port_num(port.get("port"))]
            errs += one_of(port.get("protocol"), f"{ppath}.protocol", pod.PROTOCOLS)
    return errs


def validate_binding(obj: dict, namespaced: bool) -> Errors:
    errs: Errors = []
    target = _dict(obj.get("target"))
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
}

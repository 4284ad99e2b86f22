"""Validation of the networking.k8s.io/v1 kinds: Ingress, IngressClass, NetworkPolicy."""

from __future__ import annotations

import ipaddress
from typing import Any

from . import meta as _meta
from ...machinery import names
from . import pod
from ._util import (Errors, forbidden, invalid, invalid_go, label_selector, not_supported, required, seq, text,
                    too_long)


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return [item if isinstance(item, dict) else {} for item in value] if isinstance(value, list) else []


def _meta_create(obj: dict, namespaced: bool) -> Errors:
    return _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns_subdomain)


PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")


def _ingress_backend(backend: dict, path: str) -> Errors:
    errs: Errors = []
    resource, service = backend.get("resource"), backend.get("service")
    if resource is not None and service is not None:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        resource = _dict(resource)
        if not resource.get("kind"):
            errs.append(required(f"{path}.resource.kind", ""))
        if not resource.get("name"):
            errs.append(required(f"{path}.resource.name", ""))
        return errs
    if service is None:
        return [invalid(path, "", "resource or service backend is required")]
    service = _dict(service)
    name = text(service.get("name"))
    if not name:
        errs.append(required(f"{path}.service.name", ""))
    else:
        errs += [invalid(f"{path}.service.name", name, msg) for msg in names.name_is_dns1035_label(name, False)]
    port = _dict(service.get("port"))
    port_name, port_number = text(port.get("name")), port.get("number") or 0
    if port_name and port_number:
        errs.append(invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        errs += [invalid(f"{path}.service.port.name", port_name, msg) for msg in names.is_valid_port_name(port_name)]
    elif port_number:
        errs += [invalid(f"{path}.service.port.number", port_number, msg)
                 for msg in names.is_valid_port_num(port_number)]
    else:
        errs.append(required(path, "port name or number is required"))
    return errs


def _http_path(entry: dict, path: str) -> Errors:
    errs: Errors = []
    path_type, value = entry.get("pathType"), text(entry.get("path"))
    if path_type is None:
        return [required(f"{path}.pathType", "pathType must be specified")]
    if path_type in ("Exact", "Prefix"):
        if not value.startswith("/"):
            errs.append(invalid(f"{path}.path", value, "must be an absolute path"))
        if value:
            for bad in ("//", "/./", "/../", "%2f", "%2F"):
                if bad in value:
                    errs.append(invalid(f"{path}.path", value, f"must not contain '{bad}'"))
            for bad in ("/..", "/."):
                if value.endswith(bad):
                    errs.append(invalid(f"{path}.path", value, f"cannot end with '{bad}'"))
    elif path_type == "ImplementationSpecific":
        if value and not value.startswith("/"):
            errs.append(invalid(f"{path}.path", value, "must be an absolute path"))
    else:
        errs.append(not_supported(f"{path}.pathType", path_type, PATH_TYPES))
    return errs + _ingress_backend(_dict(entry.get("backend")), f"{path}.backend")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def validate_ingress(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced)
    spec = _dict(obj.get("spec"))
    rules = _list(spec.get("rules"))
    if spec.get("defaultBackend") is None and not rules:
        shown = "[]networking.IngressRule(nil)" if spec.get("rules") is None else "[]networking.IngressRule{}"
        errs.append(invalid_go("spec", shown, "either `defaultBackend` or `rules` must be specified"))
    if spec.get("defaultBackend") is not None:
        errs += _ingress_backend(_dict(spec["defaultBackend"]), "spec.defaultBackend")
    for i, rule in enumerate(rules):
        host = text(rule.get("host"))
        if host:
            if _is_ip(host):
                errs.append(invalid(f"spec.rules[{i}].host", host, "must be a DNS name, not an IP address"))
            if "*" in host:
                errs += [invalid(f"spec.rules[{i}].host", host, msg) for msg in names.is_wildcard_dns1123_subdomain(host)]
                # Upstream skips the rule's paths when the host is a wildcard.
                continue
            errs += [invalid(f"spec.rules[{i}].host", host, msg) for msg in names.is_dns1123_subdomain(host)]
        http = rule.get("http")
        if isinstance(http, dict):
            # Upstream reports rule-value errors under rules[0] whatever the rule's index.
            paths = _list(http.get("paths"))
            if not paths:
                errs.append(required("spec.rules[0].http.paths", ""))
            for j, entry in enumerate(paths):
                errs += _http_path(entry, f"spec.rules[0].http.paths[{j}]")
    for tls in _list(spec.get("tls")):
        for j, host in enumerate(seq(tls.get("hosts"))):
            # Upstream indexes spec.tls by the host's position, not the entry's.
            check = names.is_wildcard_dns1123_subdomain if "*" in str(host) else names.is_dns1123_subdomain
            errs += [invalid(f"spec.tls[{j}].hosts", host, msg) for msg in check(str(host))]
    if spec.get("ingressClassName") is not None:
        errs += [invalid("spec.ingressClassName", spec["ingressClassName"], msg)
                 for msg in names.name_is_dns_subdomain(str(spec["ingressClassName"]), False)]
    return errs


def _typed_reference(ref: Any, path: str) -> Errors:
    if not isinstance(ref, dict):
        return []
    errs: Errors = []
    if ref.get("apiGroup") is not None:
        errs += [invalid(f"{path}.apiGroup", ref["apiGroup"], msg) for msg in names.is_dns1123_subdomain(str(ref["apiGroup"]))]
    for key in ("kind", "name"):
        if not ref.get(key):
            errs.append(required(f"{path}.{key}", f"{key} is required"))
        else:
            errs += [invalid(f"{path}.{key}", ref[key], msg) for msg in names.is_valid_path_segment_name(str(ref[key]))]
    return errs


def validate_ingress_class(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, False)
    spec = _dict(obj.get("spec"))
    controller = text(spec.get("controller"))
    if len(controller) > 250:
        errs.append(too_long("spec.controller", controller, 250))
    if not controller:
        errs.append(required("spec.controller", ""))
    else:
        host, _, rest = controller.partition("/")
        if not host or not rest:
            errs.append(invalid("spec.controller", controller, 'must be a domain-prefixed path (such as "acme.io/foo")'))
        else:
            errs += [invalid("spec.controller", host, msg) for msg in names.is_dns1123_subdomain(host)]
    errs += _typed_reference(spec.get("parameters"), "spec.parameters")
    return errs


def validate_network_policy(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced)
    spec = _dict(obj.get("spec"))
    errs += label_selector(spec.get("podSelector"), "spec.podSelector")
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(_list(spec.get(direction))):
            rpath = f"spec.{direction}[{i}]"
            for j, port in enumerate(_list(rule.get("ports"))):
                ppath = f"{rpath}.ports[{j}]"
                protocol = port.get("protocol")
                if protocol is not None and protocol not in pod.PROTOCOLS:
                    errs.append(not_supported(f"{ppath}.protocol", protocol, pod.PROTOCOLS))
                value = port.get("port")
                if isinstance(value, str):
                    errs += [invalid(f"{ppath}.port", value, msg) for msg in names.is_valid_port_name(value)]
                elif value is not None:
                    errs += [invalid(f"{ppath}.port", value, msg) for msg in names.is_valid_port_num(value)]
            for j, peer in enumerate(_list(rule.get(peers_key))):
                ppath = f"{rpath}.{peers_key}[{j}]"
                count = sum(1 for k in ("podSelector", "namespaceSelector", "ipBlock") if peer.get(k) is not None)
                if count == 0:
                    errs.append(required(ppath, "must specify a peer"))
                elif peer.get("ipBlock") is not None and count > 1:
                    errs.append(forbidden(ppath, "may not specify both ipBlock and another peer"))
                errs += label_selector(peer.get("podSelector"), f"{ppath}.podSelector")
                errs += label_selector(peer.get("namespaceSelector"), f"{ppath}.namespaceSelector")
                block = peer.get("ipBlock")
                if isinstance(block, dict):
                    cidr = text(block.get("cidr"))
                    if not cidr:
                        errs.append(required(f"{ppath}.ipBlock.cidr", ""))
                    else:
                        try:
                            ipaddress.ip_network(cidr, strict=False)
                        except ValueError:
                            errs.append(invalid(f"{ppath}.ipBlock.cidr", cidr,
                                                "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
    types = seq(spec.get("policyTypes"))
    for i, kind in enumerate(types):
        if kind not in ("Ingress", "Egress"):
            errs.append(not_supported(f"spec.policyTypes[{i}]", kind, ["Ingress", "Egress"]))
    if len(types) > 2:
        errs.append(forbidden("spec.policyTypes", "may not specify more than two policyTypes"))
    return errs


CREATE = {
    "Ingress": validate_ingress,
    "IngressClass": validate_ingress_class,
    "NetworkPolicy": validate_network_policy,
}

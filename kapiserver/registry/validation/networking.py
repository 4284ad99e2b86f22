"""Validation of the networking.k8s.io/v1 kinds: Ingress, IngressClass, NetworkPolicy."""

from __future__ import annotations

import re
from typing import Any

from . import meta as _meta
from ...machinery import names
from ...machinery.formats import parse_ip_sloppy, parse_network_sloppy
from . import pod
from ._util import (Errors, as_dict, as_dicts, forbidden, go_quote, immutable, invalid, invalid_go, is_int,
                    label_selector, not_supported, required, seq, text, too_long)


def _meta_create(obj: dict, namespaced: bool) -> Errors:
    return _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns_subdomain)


PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")


def _ingress_backend(backend: dict, path: str) -> Errors:
    errs: Errors = []
    resource, service = backend.get("resource"), backend.get("service")
    if resource is not None and service is not None:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return _typed_reference(resource, f"{path}.resource")
    if service is None:
        return [invalid(path, "", "resource or service backend is required")]
    service = as_dict(service)
    name = text(service.get("name"))
    if not name:
        errs.append(required(f"{path}.service.name", ""))
    else:
        errs += [invalid(f"{path}.service.name", name, msg) for msg in names.name_is_dns1035_label(name, False)]
    port = as_dict(service.get("port"))
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
    return errs + _ingress_backend(as_dict(entry.get("backend")), f"{path}.backend")


def _is_ip(host: str) -> bool:
    return parse_ip_sloppy(host) is not None      # netutils.ParseIPSloppy


def _rule_value(rule: dict, path: str) -> Errors:
    """validateIngressRuleValue: an http rule has paths, each valid."""
    http = rule.get("http")
    if not isinstance(http, dict):
        return []
    errs: Errors = []
    paths = as_dicts(http.get("paths"))
    if not paths:
        errs.append(required(f"{path}.http.paths", ""))
    for j, entry in enumerate(paths):
        errs += _http_path(entry, f"{path}.http.paths[{j}]")
    return errs


def _host_errors(host: str, path: str) -> Errors:
    check = names.is_wildcard_dns1123_subdomain if "*" in host else names.is_dns1123_subdomain
    return [invalid(path, host, msg) for msg in check(host)]


def _secret_name_errors(name: Any) -> list[str]:
    return names.name_is_dns_subdomain(text(name), False) if text(name) else []


def _ingress_spec(spec: dict, allow_invalid_secret: bool, allow_invalid_wildcard_rule: bool) -> Errors:
    errs: Errors = []
    rules = as_dicts(spec.get("rules"))
    if spec.get("defaultBackend") is None and not rules:
        shown = "[]networking.IngressRule(nil)" if spec.get("rules") is None else "[]networking.IngressRule{}"
        errs.append(invalid_go("spec", shown, "either `defaultBackend` or `rules` must be specified"))
    if spec.get("defaultBackend") is not None:
        errs += _ingress_backend(as_dict(spec["defaultBackend"]), "spec.defaultBackend")
    for i, rule in enumerate(rules):
        host = text(rule.get("host"))
        if host:
            if _is_ip(host):
                errs.append(invalid(f"spec.rules[{i}].host", host, "must be a DNS name, not an IP address"))
            errs += _host_errors(host, f"spec.rules[{i}].host")
        # a wildcard host's rule is checked too, unless the stored object already broke that rule
        if "*" not in host or not allow_invalid_wildcard_rule:
            errs += _rule_value(rule, f"spec.rules[{i}]")
    for i, tls in enumerate(as_dicts(spec.get("tls"))):
        for j, host in enumerate(seq(tls.get("hosts"))):
            errs += _host_errors(text(host), f"spec.tls[{i}].hosts[{j}]")
        if not allow_invalid_secret:
            errs += [invalid(f"spec.tls[{i}].secretName", text(tls.get("secretName")), msg)
                     for msg in _secret_name_errors(tls.get("secretName"))]
    if spec.get("ingressClassName") is not None:
        errs += [invalid("spec.ingressClassName", spec["ingressClassName"], msg)
                 for msg in names.name_is_dns_subdomain(text(spec["ingressClassName"]), False)]
    return errs


INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"


def validate_ingress(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced) + _ingress_spec(as_dict(obj.get("spec")), False, False)
    annotations = as_dict(as_dict(obj.get("metadata")).get("annotations"))
    class_name = as_dict(obj.get("spec")).get("ingressClassName")
    if INGRESS_CLASS_ANNOTATION in annotations and class_name is not None \
            and annotations[INGRESS_CLASS_ANNOTATION] != class_name:
        errs.append(invalid(f"annotations.{INGRESS_CLASS_ANNOTATION}", annotations[INGRESS_CLASS_ANNOTATION],
                            "must match `ingressClassName` when both are specified"))
    return errs


def validate_ingress_update(new: dict, old: dict, namespaced: bool) -> Errors:
    """Metadata's update rules, then the create rules, relaxed where the stored object already broke them
    (a TLS secretName that is not a Secret name; a wildcard host's invalid rule)."""
    old_spec = as_dict(old.get("spec"))
    allow_secret = any(_secret_name_errors(tls.get("secretName")) for tls in as_dicts(old_spec.get("tls")))
    allow_wildcard = any("*" in text(rule.get("host")) and _rule_value(rule, "")
                         for rule in as_dicts(old_spec.get("rules")))
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    return errs + _ingress_spec(as_dict(new.get("spec")), allow_secret, allow_wildcard)


_NOT_AN_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def validate_ingress_status_update(new: dict, old: dict, namespaced: bool) -> Errors:
    """A write through /status: metadata's update rules and the load balancer's addresses, not the spec."""
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    balancer = as_dict(as_dict(new.get("status")).get("loadBalancer"))
    for i, entry in enumerate(as_dicts(balancer.get("ingress"))):
        path = f"status.loadBalancer.ingress[{i}]"
        ip, hostname = text(entry.get("ip")), text(entry.get("hostname"))
        if ip and not _is_ip(ip):
            errs.append(invalid(f"{path}.ip", ip, _NOT_AN_IP))
        if hostname:
            errs += [invalid(f"{path}.hostname", hostname, msg) for msg in names.is_dns1123_subdomain(hostname)]
            if _is_ip(hostname):
                errs.append(invalid(f"{path}.hostname", hostname, "must be a DNS name, not an IP address"))
    return errs


def _typed_reference(ref: Any, path: str) -> Errors:
    if not isinstance(ref, dict):
        return []
    errs: Errors = []
    if ref.get("apiGroup") is not None:
        errs += [invalid(f"{path}.apiGroup", ref["apiGroup"], msg)
                 for msg in names.is_dns1123_subdomain(text(ref["apiGroup"]))]
    for key in ("kind", "name"):
        if not ref.get(key):
            errs.append(required(f"{path}.{key}", f"{key} is required"))
        else:
            errs += [invalid(f"{path}.{key}", ref[key], msg)
                     for msg in names.is_valid_path_segment_name(text(ref[key]))]
    return errs


SCOPES = ("Cluster", "Namespace")


def _parameters(ref: Any, path: str) -> Errors:
    if not isinstance(ref, dict):
        return []
    errs = _typed_reference(ref, path)
    scope = ref.get("scope")
    if scope is None:
        return errs + [required(f"{path}.scope", "")]
    if scope not in SCOPES:
        return errs + [not_supported(f"{path}.scope", scope, SCOPES)]
    namespace = ref.get("namespace")
    if scope == "Namespace":
        if namespace is None:
            errs.append(required(f"{path}.namespace", "`parameters.scope` is set to 'Namespace'"))
        else:
            errs += [invalid(f"{path}.namespace", namespace, msg)
                     for msg in names.name_is_dns_label(text(namespace), False)]
    elif namespace is not None:
        errs.append(forbidden(f"{path}.namespace", "`parameters.scope` is set to 'Cluster'"))
    return errs


_HTTP_PATH_FMT = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+"
_HTTP_PATH = re.compile(r"^[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$")


def _domain_prefixed_path(value: str, path: str) -> Errors:
    """IsDomainPrefixedPath."""
    if not value:
        return [required(path, "")]
    host, _, rest = value.partition("/")
    if not host or not rest:
        return [invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errs = [invalid(path, host, msg) for msg in names.is_dns1123_subdomain(host)]
    if not _HTTP_PATH.match(rest):
        errs.append(invalid(path, rest, names.regex_error("must be a valid path", _HTTP_PATH_FMT)))
    return errs


def validate_ingress_class(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, False)
    spec = as_dict(obj.get("spec"))
    controller = text(spec.get("controller"))
    if len(controller) > 250:
        errs.append(too_long("spec.controller", "", 250))
    errs += _domain_prefixed_path(controller, "spec.controller")
    errs += _parameters(spec.get("parameters"), "spec.parameters")
    return errs


def validate_ingress_class_update(new: dict, old: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    errs += immutable(text(as_dict(new.get("spec")).get("controller")),
                      text(as_dict(old.get("spec")).get("controller")), "spec.controller")
    return errs + [e for e in validate_ingress_class(new, namespaced) if not e.field.startswith("metadata.")]


def _policy_port(port: dict, path: str) -> Errors:
    errs: Errors = []
    protocol = port.get("protocol")
    if protocol is not None and protocol not in pod.PROTOCOLS:
        errs.append(not_supported(f"{path}.protocol", protocol, pod.PROTOCOLS))
    value, end = port.get("port"), port.get("endPort")
    if value is None:
        if end is not None:
            errs.append(invalid(f"{path}.endPort", end, "may not be specified when `port` is not specified"))
    elif isinstance(value, str):
        if end is not None:
            errs.append(invalid(f"{path}.endPort", end, "may not be specified when `port` is non-numeric"))
        errs += [invalid(f"{path}.port", value, msg) for msg in names.is_valid_port_name(value)]
    else:
        errs += [invalid(f"{path}.port", value, msg) for msg in names.is_valid_port_num(value)]
        if end is not None:
            if is_int(end) and is_int(value) and end < value:
                # upstream shows the port, not the endPort, as the bad value
                errs.append(invalid(f"{path}.endPort", value, "must be greater than or equal to `port`"))
            errs += [invalid(f"{path}.endPort", end, msg) for msg in names.is_valid_port_num(end)]
    return errs


_CIDR_MSG = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"


def _ip_block(block: dict, path: str) -> Errors:
    cidr = text(block.get("cidr"))
    if not cidr:
        return [required(f"{path}.cidr", "")]
    network = parse_network_sloppy(cidr)
    if network is None:
        return [invalid(f"{path}.cidr", cidr, _CIDR_MSG)]
    errs: Errors = []
    for i, value in enumerate(seq(block.get("except"))):
        except_path = f"{path}.except[{i}]"
        excepted = parse_network_sloppy(text(value))
        if excepted is None:
            errs.append(invalid(except_path, value, _CIDR_MSG))
            continue
        if excepted.version != network.version or not network.supernet_of(excepted) \
                or excepted.prefixlen <= network.prefixlen:
            errs.append(invalid(except_path, value, "must be a strict subset of `cidr`"))
    return errs


def _peer(peer: dict, path: str) -> Errors:
    errs: Errors = []
    count = 0
    for key in ("podSelector", "namespaceSelector"):
        if peer.get(key) is not None:
            count += 1
            errs += label_selector(peer.get(key), f"{path}.{key}")
    if isinstance(peer.get("ipBlock"), dict):
        count += 1
        errs += _ip_block(peer["ipBlock"], f"{path}.ipBlock")
    if count == 0:
        errs.append(required(path, "must specify a peer"))
    elif count > 1 and peer.get("ipBlock") is not None:
        errs.append(forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def validate_network_policy(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced)
    spec = as_dict(obj.get("spec"))
    errs += label_selector(spec.get("podSelector"), "spec.podSelector")
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(as_dicts(spec.get(direction))):
            rpath = f"spec.{direction}[{i}]"
            for j, port in enumerate(as_dicts(rule.get("ports"))):
                errs += _policy_port(port, f"{rpath}.ports[{j}]")
            for j, peer in enumerate(as_dicts(rule.get(peers_key))):
                errs += _peer(peer, f"{rpath}.{peers_key}[{j}]")
    types = seq(spec.get("policyTypes"))
    if len(types) > 2:
        rendered = "[]networking.PolicyType{" + ", ".join(go_quote(t) for t in types) + "}"
        return errs + [invalid_go("spec.policyTypes", rendered, "may not specify more than two policyTypes")]
    for i, kind in enumerate(types):
        if kind not in ("Ingress", "Egress"):
            errs.append(not_supported(f"spec.policyTypes[{i}]", kind, ["Ingress", "Egress"]))
    return errs


CREATE = {
    "Ingress": validate_ingress,
    "IngressClass": validate_ingress_class,
    "NetworkPolicy": validate_network_policy,
}

UPDATE = {
    "Ingress": validate_ingress_update,
    "IngressClass": validate_ingress_class_update,
}

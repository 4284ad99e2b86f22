"""Validation of core/v1 Services (ValidateService, ValidateServiceUpdate).  Cluster IP
allocation and node ports are the service REST layer's; this checks the object."""

from __future__ import annotations

import ipaddress
from typing import Any

from . import meta as _meta
from ...machinery import names
from . import pod
from ._util import (Errors, dns1123_label, dns1123_subdomain, duplicate, duplicate_go, forbidden, go_quote,
                    invalid, is_int, labels, not_supported, one_of, qualified_name, required, text)

KUBELET_PORT = 10250
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
SESSION_AFFINITIES = ("ClientIP", "None")


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return [item if isinstance(item, dict) else {} for item in value] if isinstance(value, list) else []


def _go_service_port_key(port: dict) -> str:
    return (f"core.ServicePort{{Name:\"\", Protocol:{go_quote(port.get('protocol') or '')}, "
            f"AppProtocol:(*string)(nil), Port:{port.get('port') or 0}, "
            f"TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}")


def _headless(spec: dict) -> bool:
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return bool(ips) and ips[0] == "None"


def _service_port(port: dict, require_name: bool, seen: set[str], path: str) -> Errors:
    errs: Errors = []
    name = text(port.get("name"))
    if require_name and not name:
        errs.append(required(f"{path}.name", ""))
    elif name:
        errs += dns1123_label(name, f"{path}.name")
        if name in seen:
            errs.append(duplicate(f"{path}.name", name))
        seen.add(name)
    errs += [invalid(f"{path}.port", port.get("port", 0), msg) for msg in names.is_valid_port_num(port.get("port"))]
    errs += one_of(port.get("protocol"), f"{path}.protocol", pod.PROTOCOLS)
    target = port.get("targetPort")
    if isinstance(target, str):
        errs += [invalid(f"{path}.targetPort", target, msg) for msg in names.is_valid_port_name(target)]
    else:
        errs += [invalid(f"{path}.targetPort", target or 0, msg) for msg in names.is_valid_port_num(target)]
    if port.get("appProtocol") is not None:
        errs += qualified_name(str(port["appProtocol"]), f"{path}.appProtocol")
    return errs


def _externally_accessible(spec: dict) -> bool:
    kind = spec.get("type")
    return kind in ("LoadBalancer", "NodePort") or (kind == "ClusterIP" and bool(spec.get("externalIPs")))


def _traffic_policies(spec: dict) -> Errors:
    errs: Errors = []
    external = spec.get("externalTrafficPolicy")
    if not _externally_accessible(spec):
        if external:
            errs.append(invalid("spec.externalTrafficPolicy", external,
                                "may only be set for externally-accessible services"))
    elif not external:
        errs.append(required("spec.externalTrafficPolicy", ""))
    elif external not in ("Cluster", "Local"):
        errs.append(not_supported("spec.externalTrafficPolicy", external, ["Cluster", "Local"]))
    internal = spec.get("internalTrafficPolicy")
    if internal is None:
        # Only these types must carry one; others are tolerated for old stored objects.
        if spec.get("type") in ("NodePort", "LoadBalancer", "ClusterIP"):
            errs.append(required("spec.internalTrafficPolicy", ""))
    elif internal not in ("Cluster", "Local"):
        errs.append(not_supported("spec.internalTrafficPolicy", internal, ["Cluster", "Local"]))
    return errs


def _cluster_ips(spec: dict) -> Errors:
    errs: Errors = []
    ips = spec.get("clusterIPs")
    if not isinstance(ips, list) or not ips:
        ips = [spec["clusterIP"]] if spec.get("clusterIP") else []
    for i, ip in enumerate(ips):
        # Reported as clusterIPs[i], as after the service REST normalises clusterIP into clusterIPs.
        path = f"spec.clusterIPs[{i}]"
        if ip == "None":
            if i > 0:
                errs.append(invalid(path, ip, "may not be set to 'None' for secondary cluster IPs"))
            continue
        if not _is_ip(ip):
            errs.append(invalid(path, ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
    return errs


def _is_ip(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def validate_service(obj: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns1035_label)
    spec = _dict(obj.get("spec"))
    kind = spec.get("type")
    ports = _list(spec.get("ports"))
    if not ports and not _headless(spec) and kind != "ExternalName":
        errs.append(required("spec.ports", ""))
    if kind == "LoadBalancer":
        if _headless(spec):
            errs.append(invalid("spec.clusterIPs[0]", "None", "may not be set to 'None' for LoadBalancer services"))
        for i, port in enumerate(ports):
            if port.get("port") == KUBELET_PORT:
                errs.append(invalid(f"spec.ports[{i}]", KUBELET_PORT,
                                    f"may not expose port {KUBELET_PORT} externally since it is used by kubelet"))
    elif kind == "NodePort":
        if _headless(spec):
            errs.append(invalid("spec.clusterIPs[0]", "None", "may not be set to 'None' for NodePort services"))
    elif kind == "ExternalName":
        if spec.get("clusterIPs"):
            errs.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if spec.get("ipFamilies"):
            errs.append(forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            errs.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = text(spec.get("externalName")).removesuffix(".")
        if cname:
            errs += dns1123_subdomain(cname, "spec.externalName")
        else:
            errs.append(required("spec.externalName", ""))
    seen: set[str] = set()
    for i, port in enumerate(ports):
        errs += _service_port(port, len(ports) > 1, seen, f"spec.ports[{i}]")
    if spec.get("selector") is not None:
        errs += labels(spec.get("selector"), "spec.selector")
    affinity = spec.get("sessionAffinity")
    errs += one_of(affinity, "spec.sessionAffinity", SESSION_AFFINITIES)
    if affinity == "ClientIP":
        timeout = _dict(_dict(spec.get("sessionAffinityConfig")).get("clientIP")).get("timeoutSeconds")
        if timeout is None:
            errs.append(required("spec.sessionAffinityConfig.clientIP.timeoutSeconds", ""))
        elif not (is_int(timeout) and 0 < timeout <= 86400):
            errs.append(invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", timeout,
                                "must be greater than 0 and less than 86400"))
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        errs.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    errs += _cluster_ips(spec)
    errs += one_of(kind, "spec.type", SERVICE_TYPES)
    if kind == "ClusterIP":
        for i, port in enumerate(ports):
            if port.get("nodePort"):
                errs.append(forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"))
    node_ports: set[tuple] = set()
    for i, port in enumerate(ports):
        if not port.get("nodePort"):
            continue
        key = (str(port.get("protocol")), str(port.get("nodePort")))
        if key in node_ports:
            errs.append(duplicate(f"spec.ports[{i}].nodePort", port.get("nodePort")))
        node_ports.add(key)
    port_keys: set[tuple] = set()
    for i, port in enumerate(ports):
        key = (str(port.get("protocol")), str(port.get("port")))
        if key in port_keys:
            errs.append(duplicate_go(f"spec.ports[{i}]", _go_service_port_key(port)))
        port_keys.add(key)
    errs += _traffic_policies(spec)
    return errs


def _primary_cluster_ip(spec: dict) -> str:
    ips = spec.get("clusterIPs")
    if isinstance(ips, list) and ips:
        return ips[0] or ""
    return text(spec.get("clusterIP"))


def validate_service_update(new: dict, old: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    spec, old_spec = _dict(new.get("spec")), _dict(old.get("spec"))
    if "ExternalName" not in (spec.get("type"), old_spec.get("type")):
        new_ip, old_ip = _primary_cluster_ip(spec), _primary_cluster_ip(old_spec)
        if old_ip and new_ip and new_ip != old_ip:
            errs.append(invalid("spec.clusterIPs[0]", new_ip, "may not change once set"))
    return errs + validate_service(new, namespaced)


CREATE = {"Service": validate_service}
UPDATE = {"Service": validate_service_update}

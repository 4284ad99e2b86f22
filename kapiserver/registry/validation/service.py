"""Validation of core/v1 Services (ValidateService, ValidateServiceUpdate).  Cluster IP
allocation and node ports are the service REST layer's; this checks the object."""

from __future__ import annotations

import ipaddress
from typing import Any

from . import meta as _meta
from ...machinery import names
from ...machinery.formats import parse_ip_sloppy, parse_network_sloppy
from . import pod
from ._util import (Errors, as_dict, as_dicts, dns1123_label, dns1123_subdomain, duplicate, duplicate_go, forbidden,
                    go_quote, go_strings, invalid, invalid_go, is_int, labels, not_supported, one_of, qualified_name,
                    required, seq, supported_once, text)

KUBELET_PORT = 10250
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
SESSION_AFFINITIES = ("ClientIP", "None")


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
    return errs + _health_check_node_port(spec)


def _internal_traffic_policy(spec: dict) -> Errors:
    errs: Errors = []
    internal = spec.get("internalTrafficPolicy")
    if internal is None:
        # Only these types must carry one; others are tolerated for old stored objects.
        if spec.get("type") in ("NodePort", "LoadBalancer", "ClusterIP"):
            errs.append(required("spec.internalTrafficPolicy", ""))
    elif internal not in ("Cluster", "Local"):
        errs.append(not_supported("spec.internalTrafficPolicy", internal, ["Cluster", "Local"]))
    return errs


IP_FAMILIES = ("IPv4", "IPv6")
_NOT_AN_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")


def _family_of(ip: str) -> str:
    return "IPv6" if ":" in ip else "IPv4"


def _go_families(value: Any) -> str:
    return "[]core.IPFamily{" + ", ".join(go_quote(v) for v in (value or [])) + "}"


def cluster_ips_related(spec: dict) -> Errors:
    """Upstream's ValidateServiceClusterIPsRelatedFields: clusterIP and clusterIPs in step, the families and
    the policy among the supported ones, at most one IP of each family, each IP of its family's index."""
    if spec.get("type") == "ExternalName":
        return []
    errs: Errors = []
    ips = seq(spec.get("clusterIPs"))
    if spec.get("clusterIP") and not ips:
        # The service REST normalises clusterIP alone into clusterIPs before this runs: seen as it would be.
        ips = [spec["clusterIP"]]
    if spec.get("clusterIP"):
        if ips[0] != spec["clusterIP"]:
            errs.append(invalid_go("spec.clusterIPs", go_strings(ips), "first value must match `clusterIP`"))
    elif ips:
        errs.append(invalid_go("spec.clusterIPs", go_strings(ips), "must be empty when `clusterIP` is not specified"))
    families = seq(spec.get("ipFamilies"))
    errs += supported_once(families, "spec.ipFamilies", IP_FAMILIES)
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in IP_FAMILY_POLICIES:
        errs.append(not_supported("spec.ipFamilyPolicy", policy, IP_FAMILY_POLICIES))
    bad_ips = False
    for i, ip in enumerate(ips):
        if i == 0 and ip == "None":
            if len(ips) > 1:
                bad_ips = True
                errs.append(invalid_go("spec.clusterIPs", go_strings(ips), "'None' must be the first and only value"))
            continue
        if not _is_ip(ip):
            bad_ips = True
            errs.append(invalid(f"spec.clusterIPs[{i}]", ip, _NOT_AN_IP))
    if len(ips) > 2:
        errs.append(invalid_go("spec.clusterIPs", go_strings(ips), "may only hold up to 2 values"))
    if bad_ips:
        return errs
    if len(ips) > 1 and len({_family_of(ip) for ip in ips}) != len(ips):
        errs.append(invalid_go("spec.clusterIPs", go_strings(ips),
                               "may specify no more than one IP for each IP family"))
    if not _headless(spec) and ips and families:
        for i, ip in enumerate(ips[:len(families)]):
            if families[i] in IP_FAMILIES and _family_of(ip) != families[i]:
                errs.append(invalid(f"spec.clusterIPs[{i}]", ip,
                                    f"expected an {families[i]} value as indicated by `ipFamilies[{i}]`"))
    return errs


_NOT_SINGLE = "must be 'RequireDualStack' or 'PreferDualStack' when multiple {} are specified"


def allocation_errors(spec: dict, cluster_family: str) -> Errors:
    """What upstream's allocator refuses before it allocates (and so before the object is validated): the
    checks above, then the families a single-stack cluster of ``cluster_family`` cannot serve
    (initIPFamilyFields)."""
    if spec.get("type") == "ExternalName":
        return []
    errs = cluster_ips_related(spec)
    if errs:
        return errs
    ips = spec.get("clusterIPs") or []
    families = list(spec.get("ipFamilies") or [])
    policy = spec.get("ipFamilyPolicy")
    if policy == "SingleStack":
        if len(ips) == 2:
            errs.append(invalid("spec.ipFamilyPolicy", policy, _NOT_SINGLE.format("cluster IPs")))
        if len(families) == 2:
            errs.append(invalid("spec.ipFamilyPolicy", policy, _NOT_SINGLE.format("IP families")))
    for i, ip in enumerate(ips):
        if ip == "None":
            break
        if i >= len(families):
            if _family_of(ip) != cluster_family:
                errs.append(invalid_go(f"spec.clusterIPs[{i}]", go_strings(ips),
                                       f"{_family_of(ip)} is not configured on this cluster"))
            else:
                families.append(_family_of(ip))
    if errs:
        return errs
    if _headless(spec) and not spec.get("selector"):
        # Headless and selectorless may name both families on any cluster.
        return []
    if policy is None and (len(families) == 2 or len(ips) == 2):
        policy = "RequireDualStack"
    if policy == "RequireDualStack":
        errs.append(invalid("spec.ipFamilyPolicy", policy, "this cluster is not configured for dual-stack services"))
    for i, family in enumerate(families):
        if family != cluster_family:
            errs.append(invalid(f"spec.ipFamilies[{i}]", family, "not configured on this cluster"))
    return errs


def _external_ips(spec: dict) -> Errors:
    """Each externalIP an IP address, and not a special one (upstream's ValidateNonSpecialIP)."""
    errs: Errors = []
    for i, ip in enumerate(spec.get("externalIPs") or [] if isinstance(spec.get("externalIPs"), list) else []):
        path = f"spec.externalIPs[{i}]"
        if not _is_ip(ip):
            errs.append(invalid(path, ip, _NOT_AN_IP))
            continue
        address = parse_ip_sloppy(ip)
        if address.is_unspecified:
            errs.append(invalid(path, ip, "may not be unspecified (0.0.0.0)"))
        if address.is_loopback:
            errs.append(invalid(path, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
        if address.is_link_local and address in _LINK_LOCAL_UNICAST:
            errs.append(invalid(path, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
        if any(address in net for net in _LINK_LOCAL_MULTICAST):
            errs.append(invalid(path, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
    return errs


_LINK_LOCAL_UNICAST = ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10")
_LINK_LOCAL_MULTICAST = ipaddress.ip_network("224.0.0.0/24"), ipaddress.ip_network("ff02::/16")
SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"


def _source_ranges(obj: dict, spec: dict) -> Errors:
    """loadBalancerSourceRanges (or its older annotation): only for LoadBalancer, and CIDRs (upstream reports
    the field as spec.LoadBalancerSourceRanges, the list as fmt's %v prints it)."""
    ranges = seq(spec.get("loadBalancerSourceRanges"))
    annotations = as_dict(as_dict(obj.get("metadata")).get("annotations"))
    if ranges:
        path, value, values = "spec.LoadBalancerSourceRanges", "[" + " ".join(str(r) for r in ranges) + "]", ranges
    elif SOURCE_RANGES_ANNOTATION in annotations:
        path = f"metadata.annotations[{SOURCE_RANGES_ANNOTATION}]"
        value = text(annotations[SOURCE_RANGES_ANNOTATION])
        values = [v for v in value.strip().split(",")] if value.strip() else []
    else:
        return []
    errs: Errors = []
    if spec.get("type") != "LoadBalancer":
        errs.append(forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
    for cidr in values:
        if parse_network_sloppy(str(cidr).strip()) is None:
            errs.append(invalid(path, value, "must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 "))
            break
    return errs


def needs_health_check(spec: dict) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def _health_check_node_port(spec: dict) -> Errors:
    port = spec.get("healthCheckNodePort") or 0
    if not needs_health_check(spec):
        if port:
            return [invalid("spec.healthCheckNodePort", port,
                            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'")]
        return []
    # Allocated before validation upstream: none here is one the allocator will take.
    return [invalid("spec.healthCheckNodePort", port, msg) for msg in names.is_valid_port_num(port)] if port else []


def _load_balancer_class(spec: dict, old_spec: Any) -> Errors:
    """Upstream's validateLoadBalancerClassField: immutable while the type stays LoadBalancer, a qualified name,
    and only for LoadBalancer."""
    errs: Errors = []
    value = spec.get("loadBalancerClass")
    if old_spec is not None and old_spec.get("type") == "LoadBalancer" and spec.get("type") == "LoadBalancer" \
            and old_spec.get("loadBalancerClass") != value:
        errs.append(invalid("spec.loadBalancerClass", value, "may not change once set"))
    if spec.get("type") == "LoadBalancer":
        if value is not None:
            errs += qualified_name(text(value), "spec.loadBalancerClass")
    elif value is not None:
        errs.append(forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'"))
    return errs


# -- what the service strategy does to an update before it is validated ---------------------------------


def _needs_node_port(spec: dict) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer")


def patch_allocated_values(spec: dict, old_spec: dict) -> None:
    """Upstream's patchAllocatedValues: what the server allocated and a whole object sent again leaves out (the
    cluster IPs, node ports matched by port name, the health check node port) is kept."""
    if spec.get("type") != "ExternalName" and old_spec.get("type") != "ExternalName":
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIPs") and old_spec.get("clusterIPs"):
            spec["clusterIPs"] = list(old_spec["clusterIPs"])
    if _needs_node_port(spec) and _needs_node_port(old_spec):
        ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
        old_ports = [p for p in old_spec.get("ports") or [] if isinstance(p, dict)]
        used = {p.get("nodePort") for p in old_ports if p.get("nodePort")} & \
            {p.get("nodePort") for p in ports if p.get("nodePort")}
        by_name = {p.get("name") or "": p.get("nodePort") for p in old_ports}
        for port in ports:
            if not port.get("nodePort"):
                value = by_name.get(port.get("name") or "")
                if value and value not in used:
                    port["nodePort"] = value
    if needs_health_check(spec) and needs_health_check(old_spec):
        if not spec.get("healthCheckNodePort") and old_spec.get("healthCheckNodePort"):
            spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]


def normalize_cluster_ips(spec: dict, old_spec: dict) -> None:
    """Upstream's normalizeClusterIPs on update: clusterIP and clusterIPs kept in step for a client that sends
    one of them."""
    old_ip, new_ip = old_spec.get("clusterIP") or "", spec.get("clusterIP") or ""
    old_ips = old_spec.get("clusterIPs") or []
    if old_ips and not spec.get("clusterIPs") and old_ip == new_ip:
        spec["clusterIPs"] = list(old_ips)
    if old_ip != new_ip:
        same = (old_spec.get("clusterIPs") or []) == (spec.get("clusterIPs") or [])
        if old_ip and not new_ip:
            if same:
                spec.pop("clusterIPs", None)
        elif same:
            spec["clusterIPs"] = [new_ip]


def drop_type_dependent_fields(spec: dict, old_spec: dict) -> None:
    """Upstream's dropTypeDependentFields: a type change clears what the new type does not use, where the user
    left it as it was (what was allocated for it is released after)."""
    if old_spec.get("type") != "ExternalName" and spec.get("type") == "ExternalName":
        if spec.get("clusterIP") == old_spec.get("clusterIP") and \
                (spec.get("clusterIPs") or []) == (old_spec.get("clusterIPs") or []):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        if (spec.get("ipFamilies") or []) == (old_spec.get("ipFamilies") or []):
            spec.pop("ipFamilies", None)
        if spec.get("ipFamilyPolicy") == old_spec.get("ipFamilyPolicy"):
            spec.pop("ipFamilyPolicy", None)
    if _needs_node_port(old_spec) and not _needs_node_port(spec):
        ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
        old_ports = {p.get("nodePort") for p in old_spec.get("ports") or [] if isinstance(p, dict)}
        if all(p.get("nodePort") in old_ports for p in ports if p.get("nodePort")):
            for port in ports:
                port.pop("nodePort", None)
    if needs_health_check(old_spec) and not needs_health_check(spec) and \
            (spec.get("healthCheckNodePort") or 0) == (old_spec.get("healthCheckNodePort") or 0):
        spec.pop("healthCheckNodePort", None)
    if old_spec.get("type") == "LoadBalancer" and spec.get("type") != "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is not None and \
                spec.get("allocateLoadBalancerNodePorts") == old_spec.get("allocateLoadBalancerNodePorts"):
            spec.pop("allocateLoadBalancerNodePorts", None)
        if spec.get("loadBalancerClass") == old_spec.get("loadBalancerClass"):
            spec.pop("loadBalancerClass", None)
    if _externally_accessible(old_spec) and not _externally_accessible(spec) and \
            spec.get("externalTrafficPolicy") == old_spec.get("externalTrafficPolicy"):
        spec.pop("externalTrafficPolicy", None)


def _is_ip(value: Any) -> bool:
    return isinstance(value, str) and parse_ip_sloppy(value) is not None      # netutils.ParseIPSloppy


def validate_service(obj: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns1035_label)
    spec = as_dict(obj.get("spec"))
    kind = spec.get("type")
    ports = as_dicts(spec.get("ports"))
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
        timeout = as_dict(as_dict(spec.get("sessionAffinityConfig")).get("clientIP")).get("timeoutSeconds")
        if timeout is None:
            errs.append(required("spec.sessionAffinityConfig.clientIP.timeoutSeconds", ""))
        elif not (is_int(timeout) and 0 < timeout <= 86400):
            errs.append(invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", timeout,
                                "must be greater than 0 and less than 86400"))
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        errs.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    errs += cluster_ips_related(spec)
    errs += _external_ips(spec)
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
    errs += _source_ranges(obj, spec)
    if spec.get("allocateLoadBalancerNodePorts") is not None and kind != "LoadBalancer":
        errs.append(forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'"))
    if kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        # Upstream names this one without its spec prefix.
        errs.append(required("allocateLoadBalancerNodePorts", ""))
    errs += _load_balancer_class(spec, None)
    errs += _traffic_policies(spec)
    errs += _internal_traffic_policy(spec)
    return errs


def _upgrade_downgrade_cluster_ips(spec: dict, old_spec: dict) -> Errors:
    """Upstream's validateUpgradeDowngradeClusterIPs: the primary cluster IP never changes (but to or from
    ExternalName); only the secondary may come or go."""
    if "ExternalName" in (spec.get("type"), old_spec.get("type")):
        return []
    if _headless(spec) and _headless(old_spec):
        return []
    ips, old_ips = list(spec.get("clusterIPs") or []), list(old_spec.get("clusterIPs") or [])
    errs: Errors = []
    if len(old_ips) == len(ips):
        for i, ip in enumerate(old_ips):
            if ip != ips[i]:
                # Upstream shows the whole clusterIPs list here ([]string{...}), not the IP that changed.
                errs.append(invalid_go(f"spec.clusterIPs[{i}]", go_strings(ips), "may not change once set"))
    elif len(old_ips) > len(ips):
        if not ips:
            errs.append(invalid_go("spec.clusterIPs[0]", go_strings(ips or None), "primary clusterIP can not be unset"))
        elif ips[0] != old_ips[0]:
            errs.append(invalid_go("spec.clusterIPs[0]", go_strings(ips), "may not change once set"))
        if len(ips) == 1 and spec.get("ipFamilyPolicy") != "SingleStack":
            errs.append(invalid("spec.ipFamilyPolicy", spec.get("ipFamilyPolicy"),
                                "must be set to 'SingleStack' when releasing the secondary clusterIP"))
    elif old_ips and ips[0] != old_ips[0]:
        errs.append(invalid_go("spec.clusterIPs[0]", go_strings(ips), "may not change once set"))
    return errs


def _upgrade_downgrade_ip_families(spec: dict, old_spec: dict) -> Errors:
    """Upstream's validateUpgradeDowngradeIPFamilies: the primary family stays (headless ones may change)."""
    if "ExternalName" in (spec.get("type"), old_spec.get("type")) or _headless(spec) or _headless(old_spec):
        return []
    families, old_families = list(spec.get("ipFamilies") or []), list(old_spec.get("ipFamilies") or [])
    errs: Errors = []
    if len(old_families) == len(families):
        for i, family in enumerate(old_families):
            if family != families[i]:
                errs.append(invalid_go("spec.ipFamilies[0]", _go_families(families), "may not change once set"))
    elif len(old_families) > len(families):
        if not spec.get("clusterIPs"):
            errs.append(invalid_go("spec.ipFamilies[0]", _go_families(families), "primary ipFamily can not be unset"))
        if families and families[0] != old_families[0]:
            errs.append(invalid_go("spec.ipFamilies[0]", go_strings(spec.get("clusterIPs")), "may not change once set"))
        if len(families) == 1 and spec.get("ipFamilyPolicy") != "SingleStack":
            errs.append(invalid("spec.ipFamilyPolicy", spec.get("ipFamilyPolicy"),
                                "must be set to 'SingleStack' when releasing the secondary ipFamily"))
    elif old_families and families[0] != old_families[0]:
        errs.append(invalid_go("spec.ipFamilies[0]", go_strings(spec.get("clusterIPs")), "may not change once set"))
    return errs


def validate_service_update(new: dict, old: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    errs += _upgrade_downgrade_cluster_ips(spec, old_spec)
    errs += _upgrade_downgrade_ip_families(spec, old_spec)
    errs += _load_balancer_class(spec, old_spec)
    if needs_health_check(old_spec) and needs_health_check(spec) and \
            (old_spec.get("healthCheckNodePort") or 0) != (spec.get("healthCheckNodePort") or 0):
        errs.append(forbidden("spec.healthCheckNodePort", "field is immutable"))
    return errs + validate_service(new, namespaced)


CREATE = {"Service": validate_service}
UPDATE = {"Service": validate_service_update}

"""Validation of the smaller groups: autoscaling, policy, networking, rbac, storage,
coordination, discovery, certificates, events, and the review kinds."""

from __future__ import annotations

import ipaddress
from typing import Any

from . import meta as _meta
from . import names, pod
from ._util import (Errors, seq, dns1123_label, duplicate, forbidden, go_quote, go_strings, immutable,
                    int_or_percent, invalid, invalid_go, is_int, label_selector, nonnegative,
                    not_more_than_100_percent, not_supported, one_of, qualified_name, required, text,
                    too_long)

RBAC_GROUP = "rbac.authorization.k8s.io"


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return [item if isinstance(item, dict) else {} for item in value] if isinstance(value, list) else []


def _meta_create(obj: dict, namespaced: bool, name_fn=names.name_is_dns_subdomain, kube_rules=True) -> Errors:
    return _meta.object_meta(obj.get("metadata"), namespaced, name_fn, kube_rules=kube_rules)


# -- autoscaling -----------------------------------------------------------------------------

def _scale_target(ref: dict) -> Errors:
    errs: Errors = []
    if not ref.get("kind"):
        errs.append(required("spec.scaleTargetRef.kind", ""))
    else:
        errs += [invalid("spec.scaleTargetRef.kind", ref["kind"], msg)
                 for msg in names.is_valid_path_segment_name(str(ref["kind"]))]
    if not ref.get("name"):
        errs.append(required("spec.scaleTargetRef.name", ""))
    else:
        errs += [invalid("spec.scaleTargetRef.name", ref["name"], msg)
                 for msg in names.is_valid_path_segment_name(str(ref["name"]))]
    return errs


def validate_hpa(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced)
    spec = _dict(obj.get("spec"))
    min_replicas, max_replicas = spec.get("minReplicas"), spec.get("maxReplicas")
    if is_int(min_replicas) and min_replicas < 1:
        errs.append(invalid("spec.minReplicas", min_replicas, "must be greater than or equal to 1"))
    if not is_int(max_replicas) or max_replicas < 1:
        errs.append(invalid("spec.maxReplicas", max_replicas or 0, "must be greater than 0"))
    if is_int(min_replicas) and is_int(max_replicas) and max_replicas < min_replicas:
        errs.append(invalid("spec.maxReplicas", max_replicas, "must be greater than or equal to `minReplicas`"))
    errs += _scale_target(_dict(spec.get("scaleTargetRef")))
    target = spec.get("targetCPUUtilizationPercentage")
    if is_int(target) and target < 1:
        errs.append(invalid("spec.targetCPUUtilizationPercentage", target, "must be greater than 0"))
    for i, metric in enumerate(_list(spec.get("metrics"))):
        kind = metric.get("type")
        supported = ["ContainerResource", "External", "Object", "Pods", "Resource"]
        if not kind:
            errs.append(required(f"spec.metrics[{i}].type", "must specify a metric source type"))
        elif kind not in supported:
            errs.append(not_supported(f"spec.metrics[{i}].type", kind, supported))
    return errs


# -- policy ----------------------------------------------------------------------------------

def validate_pdb(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced)
    spec = _dict(obj.get("spec"))
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


# -- networking ------------------------------------------------------------------------------

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


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def validate_ingress(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced)
    spec = _dict(obj.get("spec"))
    rules = _list(spec.get("rules"))
    if spec.get("defaultBackend") is None and not rules:
        errs.append(invalid("spec", None if spec.get("rules") is None else [],
                            "either `defaultBackend` or `rules` must be specified"))
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


# -- rbac ------------------------------------------------------------------------------------

def _policy_rule(rule: dict, namespaced: bool, path: str) -> Errors:
    errs: Errors = []
    if not rule.get("verbs"):
        errs.append(required(f"{path}.verbs", "verbs must contain at least one value"))
    urls = seq(rule.get("nonResourceURLs"))
    if urls:
        if namespaced:
            errs.append(invalid_go(f"{path}.nonResourceURLs", go_strings(urls),
                                   "namespaced rules cannot apply to non-resource URLs"))
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            errs.append(invalid_go(f"{path}.nonResourceURLs", go_strings(urls),
                                   "rules cannot apply to both regular resources and non-resource URLs"))
        return errs
    if not rule.get("apiGroups"):
        errs.append(required(f"{path}.apiGroups", "resource rules must supply at least one api group"))
    if not rule.get("resources"):
        errs.append(required(f"{path}.resources", "resource rules must supply at least one resource"))
    return errs


def validate_role(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced, names.path_segment_name, kube_rules=False)
    for i, rule in enumerate(_list(obj.get("rules"))):
        errs += _policy_rule(rule, namespaced, f"rules[{i}]")
    return errs


def validate_cluster_role(obj: dict, namespaced: bool) -> Errors:
    errs = validate_role(obj, False)
    aggregation = obj.get("aggregationRule")
    if isinstance(aggregation, dict):
        selectors = seq(aggregation.get("clusterRoleSelectors"))
        if not selectors:
            errs.append(required("aggregationRule.clusterRoleSelectors", "at least one clusterRoleSelector required "
                                                                         "if aggregationRule is non-nil"))
        for i, selector in enumerate(selectors):
            errs += label_selector(selector, f"aggregationRule.clusterRoleSelectors[{i}]")
    return errs


def _subject(subject: dict, namespaced: bool, path: str) -> Errors:
    errs: Errors = []
    name, kind, group = text(subject.get("name")), text(subject.get("kind")), text(subject.get("apiGroup"))
    if not name:
        errs.append(required(f"{path}.name", ""))
    if kind == "ServiceAccount":
        if name:
            errs += [invalid(f"{path}.name", name, msg) for msg in names.name_is_dns_subdomain(name, False)]
        if group:
            errs.append(not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not subject.get("namespace"):
            errs.append(required(f"{path}.namespace", ""))
    elif kind in ("User", "Group"):
        if group != RBAC_GROUP:
            errs.append(not_supported(f"{path}.apiGroup", group, [RBAC_GROUP]))
    else:
        errs.append(not_supported(f"{path}.kind", kind, ["ServiceAccount", "User", "Group"]))
    return errs


def _binding(obj: dict, namespaced: bool, role_kinds: list[str]) -> Errors:
    errs = _meta_create(obj, namespaced, names.path_segment_name, kube_rules=False)
    ref = _dict(obj.get("roleRef"))
    if ref.get("apiGroup") != RBAC_GROUP:
        errs.append(not_supported("roleRef.apiGroup", text(ref.get("apiGroup")), [RBAC_GROUP]))
    if ref.get("kind") not in role_kinds:
        errs.append(not_supported("roleRef.kind", text(ref.get("kind")), role_kinds))
    if not ref.get("name"):
        errs.append(required("roleRef.name", ""))
    else:
        errs += [invalid("roleRef.name", ref["name"], msg) for msg in names.is_valid_path_segment_name(str(ref["name"]))]
    for i, subject in enumerate(_list(obj.get("subjects"))):
        errs += _subject(subject, namespaced, f"subjects[{i}]")
    return errs


def validate_role_binding(obj: dict, namespaced: bool) -> Errors:
    return _binding(obj, True, ["Role", "ClusterRole"])


def validate_cluster_role_binding(obj: dict, namespaced: bool) -> Errors:
    return _binding(obj, False, ["ClusterRole"])


def _go_role_ref(ref: Any) -> str:
    ref = _dict(ref)
    return (f"rbac.RoleRef{{APIGroup:{go_quote(ref.get('apiGroup'))}, Kind:{go_quote(ref.get('kind'))}, "
            f"Name:{go_quote(ref.get('name'))}}}")


def _binding_update(create):
    def update(new: dict, old: dict, namespaced: bool) -> Errors:
        errs = create(new, namespaced)
        errs += _meta.object_meta_update(new.get("metadata"), old.get("metadata"), kube_rules=False)
        if _dict(new.get("roleRef")) != _dict(old.get("roleRef")):
            errs.append(invalid_go("roleRef", _go_role_ref(new.get("roleRef")), "cannot change roleRef"))
        return errs
    return update


def _rbac_update(create):
    def update(new: dict, old: dict, namespaced: bool) -> Errors:
        return create(new, namespaced) + _meta.object_meta_update(new.get("metadata"), old.get("metadata"),
                                                                  kube_rules=False)
    return update


# -- storage ---------------------------------------------------------------------------------

def validate_storage_class(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, False)
    provisioner = text(obj.get("provisioner"))
    if not provisioner:
        errs.append(required("provisioner", ""))
    else:
        errs += qualified_name(provisioner.lower(), "provisioner")
    parameters = _dict(obj.get("parameters"))
    total = sum(len(k) + len(str(v)) for k, v in parameters.items())
    if len(parameters) > 512:
        errs.append(invalid_go("parameters", "map[string]string{...}", "can't have more than 512 parameters"))
    if total > 256 * 1024:
        errs.append(invalid_go("parameters", "map[string]string{...}", "total length of parameters must be less than 262144"))
    policy = obj.get("reclaimPolicy")
    if policy is not None and policy not in ("Delete", "Retain"):
        errs.append(not_supported("reclaimPolicy", policy, ["Delete", "Retain"]))
    mode = obj.get("volumeBindingMode")
    if mode is None:
        errs.append(required("volumeBindingMode", ""))
    elif mode not in ("Immediate", "WaitForFirstConsumer"):
        errs.append(not_supported("volumeBindingMode", mode, ["Immediate", "WaitForFirstConsumer"]))
    return errs


def validate_storage_class_update(new: dict, old: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    if (new.get("parameters") or {}) != (old.get("parameters") or {}):
        errs.append(forbidden("parameters", "updates to parameters are forbidden."))
    if new.get("provisioner") != old.get("provisioner"):
        errs.append(forbidden("provisioner", "updates to provisioner are forbidden."))
    if new.get("reclaimPolicy") != old.get("reclaimPolicy"):
        errs.append(forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
    errs += immutable(new.get("volumeBindingMode"), old.get("volumeBindingMode"), "volumeBindingMode")
    return errs + validate_storage_class(new, namespaced)


# -- coordination, discovery, certificates, events -------------------------------------------

def validate_lease(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, namespaced)
    spec = _dict(obj.get("spec"))
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
    endpoints = _list(obj.get("endpoints"))
    if len(endpoints) > 1000:
        errs.append(invalid_go("endpoints", "[]discovery.Endpoint{...}", "must have at most 1000 items"))
    for i, endpoint in enumerate(endpoints):
        addresses = seq(endpoint.get("addresses"))
        if not addresses:
            errs.append(required(f"endpoints[{i}].addresses", "must contain at least 1 address"))
        elif len(addresses) > 100:
            errs.append(invalid_go(f"endpoints[{i}].addresses", go_strings(addresses), "must have at most 100 items"))
    seen: set[str] = set()
    for i, port in enumerate(_list(obj.get("ports"))):
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


def _csr_request_error(request: Any) -> str:
    """What certificates.ParseCSR says of the request, or "" when it is a PEM CSR."""
    import base64
    import binascii
    try:
        pem = base64.b64decode(request or "", validate=True).decode("ascii", "replace")
    except (binascii.Error, ValueError):
        return "PEM block type must be CERTIFICATE REQUEST"
    if "-----BEGIN CERTIFICATE REQUEST-----" not in pem and "-----BEGIN NEW CERTIFICATE REQUEST-----" not in pem:
        return "PEM block type must be CERTIFICATE REQUEST"
    return ""


def validate_csr(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, False, names.any_name)
    spec = _dict(obj.get("spec"))
    problem = _csr_request_error(spec.get("request"))
    if problem:
        errs.append(invalid_go("spec.request", "[]byte{...}", problem))
    if not spec.get("usages"):
        errs.append(required("spec.usages", "usages must be provided"))
    if not spec.get("signerName"):
        errs.append(required("spec.signerName", ""))
    else:
        errs += _signer_name(str(spec["signerName"]))
    return errs


def _signer_name(signer: str) -> Errors:
    parts = signer.split("/")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return [invalid("spec.signerName", signer, "must be a fully qualified domain and path of the form "
                                                   "'example.com/signer-name'")]
    return []


def validate_events_event(obj: dict, namespaced: bool) -> Errors:
    """events.k8s.io/v1: strict rules; paths name the internal fields, as upstream reports them."""
    errs: Errors = []
    namespace = text(_dict(obj.get("metadata")).get("namespace"))
    regarding_ns = text(_dict(obj.get("regarding")).get("namespace"))
    if obj.get("eventTime") and not regarding_ns and namespace not in ("default", "kube-system"):
        errs.append(invalid("involvedObject.namespace", regarding_ns, "does not match event.namespace"))
    if not obj.get("reportingController"):
        errs.append(required("reportingController", ""))
    errs += qualified_name(text(obj.get("reportingController")), "reportingController")
    if not obj.get("reportingInstance"):
        errs.append(required("reportingInstance", ""))
    if not obj.get("action"):
        errs.append(required("action", ""))
    if not obj.get("reason"):
        errs.append(required("reason", ""))
    if len(text(obj.get("note"))) > 1024:
        errs.append(invalid("message", "", "can have at most 1024 characters"))
    errs += [invalid("namespace", namespace, msg) for msg in names.is_dns1123_subdomain(namespace)]
    errs += _meta_create(obj, True)
    if not obj.get("eventTime"):
        errs.append(required("eventTime", ""))
    if obj.get("type") not in ("Normal", "Warning"):
        errs.append(invalid("type", "", f"has invalid value: {obj.get('type') or ''}"))
    return errs


def validate_subject_access_review(obj: dict, namespaced: bool) -> Errors:
    errs: Errors = []
    spec = _dict(obj.get("spec"))
    has_resource = spec.get("resourceAttributes") is not None
    has_non_resource = spec.get("nonResourceAttributes") is not None
    if has_resource and has_non_resource:
        errs.append(invalid_go("spec.nonResourceAttributes", "&authorization.NonResourceAttributes{...}",
                               "cannot be specified in combination with resourceAttributes"))
    if not has_resource and not has_non_resource:
        errs.append(invalid_go("spec.resourceAttributes", "(*authorization.ResourceAttributes)(nil)",
                               "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
    return errs


CREATE = {
    ("autoscaling", "HorizontalPodAutoscaler"): validate_hpa,
    ("policy", "PodDisruptionBudget"): validate_pdb,
    ("networking.k8s.io", "Ingress"): validate_ingress,
    ("networking.k8s.io", "IngressClass"): validate_ingress_class,
    ("networking.k8s.io", "NetworkPolicy"): validate_network_policy,
    (RBAC_GROUP, "Role"): validate_role,
    (RBAC_GROUP, "ClusterRole"): validate_cluster_role,
    (RBAC_GROUP, "RoleBinding"): validate_role_binding,
    (RBAC_GROUP, "ClusterRoleBinding"): validate_cluster_role_binding,
    ("storage.k8s.io", "StorageClass"): validate_storage_class,
    ("coordination.k8s.io", "Lease"): validate_lease,
    ("discovery.k8s.io", "EndpointSlice"): validate_endpoint_slice,
    ("certificates.k8s.io", "CertificateSigningRequest"): validate_csr,
    ("events.k8s.io", "Event"): validate_events_event,
    ("authorization.k8s.io", "SubjectAccessReview"): validate_subject_access_review,
    ("authorization.k8s.io", "SelfSubjectAccessReview"): validate_subject_access_review,
    ("authorization.k8s.io", "LocalSubjectAccessReview"): validate_subject_access_review,
}

UPDATE = {
    (RBAC_GROUP, "Role"): _rbac_update(validate_role),
    (RBAC_GROUP, "ClusterRole"): _rbac_update(validate_cluster_role),
    (RBAC_GROUP, "RoleBinding"): _binding_update(validate_role_binding),
    (RBAC_GROUP, "ClusterRoleBinding"): _binding_update(validate_cluster_role_binding),
    ("storage.k8s.io", "StorageClass"): validate_storage_class_update,
    ("discovery.k8s.io", "EndpointSlice"): validate_endpoint_slice_update,
}

"""networking.k8s.io/v1 validation: Ingress rules, TLS and class annotation; IngressClass parameters;
NetworkPolicy ports, ipBlocks and policyTypes — upstream's paths and messages."""

import copy

from kapiserver.registry.defaults import apply_defaults
from kapiserver.registry.validation import validate

GROUP = "networking.k8s.io"
SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
             "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def errors(kind, obj, old=None, namespaced=True):
    obj = copy.deepcopy(obj)
    apply_defaults(GROUP, "v1", kind, obj)
    if old is not None:
        old = copy.deepcopy(old)
        apply_defaults(GROUP, "v1", kind, old)
    return [str(e) for e in validate(GROUP, "v1", kind, obj, old, namespaced)]


def backend(name="web"):
    return {"service": {"name": name, "port": {"number": 80}}}


def ingress(rules=None, **spec):
    return {"metadata": {"name": "i", "namespace": "default", "resourceVersion": "3"},
            "spec": {"rules": rules if rules is not None else [], **spec}}


def http_rule(host="", path="/", path_type="Prefix", back=None):
    rule = {"http": {"paths": [{"path": path, "pathType": path_type, "backend": back or backend()}]}}
    if host:
        rule["host"] = host
    return rule


def test_rule_errors_name_their_own_rule():
    """A rule's path errors carry the rule's own index, not rules[0]."""
    ing = ingress([http_rule("a.example.com"), http_rule("b.example.com", path="api")])
    assert errors("Ingress", ing) == [
        'spec.rules[1].http.paths[0].path: Invalid value: "api": must be an absolute path']


def test_wildcard_host_rules_are_validated_on_create():
    """A wildcard host's rule is validated like any other (upstream skips it only on updates of objects that
    already broke it)."""
    ing = ingress([http_rule("*.example.com", path="api")])
    assert errors("Ingress", ing) == [
        'spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path']


def test_tls_paths_and_secret_name():
    """TLS host errors name the entry and the host's index; secretName must be a Secret name."""
    ing = ingress([http_rule("a.example.com")], tls=[{"hosts": ["ok.example.com"]},
                                                     {"hosts": ["a.example.com", "Bad_Host"], "secretName": "Bad"}])
    assert errors("Ingress", ing) == [
        f'spec.tls[1].hosts[1]: Invalid value: "Bad_Host": {SUBDOMAIN}',
        f'spec.tls[1].secretName: Invalid value: "Bad": {SUBDOMAIN}',
    ]


def test_class_annotation_must_match_class_name():
    """The kubernetes.io/ingress.class annotation must agree with spec.ingressClassName on create."""
    ing = ingress([http_rule()], ingressClassName="nginx")
    ing["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "traefik"}
    assert errors("Ingress", ing) == [
        'annotations.kubernetes.io/ingress.class: Invalid value: "traefik": '
        "must match `ingressClassName` when both are specified"]


def test_resource_backend_reference_rules():
    """A resource backend names a kind and a name that are path segments; service and resource exclude."""
    ing = ingress([http_rule(back={"resource": {"kind": "Bucket"}})])
    assert errors("Ingress", ing) == ["spec.rules[0].http.paths[0].backend.resource.name: Required value: "
                                      "name is required"]
    ing = ingress([http_rule(back={"resource": {"kind": "a/b", "name": ".."}})])
    assert errors("Ingress", ing) == [
        "spec.rules[0].http.paths[0].backend.resource.kind: Invalid value: \"a/b\": may not contain '/'",
        "spec.rules[0].http.paths[0].backend.resource.name: Invalid value: \"..\": may not be '..'",
    ]
    ing = ingress([http_rule(back={"resource": {"kind": "B", "name": "b"}, **backend()})])
    assert errors("Ingress", ing) == [
        'spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both resource and service backends']


def test_ingress_update_keeps_stored_invalid_secret_name():
    """An update may keep a TLS secretName that the stored object already had invalid."""
    old = ingress([http_rule()], tls=[{"secretName": "Bad"}])
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"a": "b"}
    assert errors("Ingress", new, old) == []
    fresh = ingress([http_rule()], tls=[{"secretName": "ok"}])
    bad = copy.deepcopy(fresh)
    bad["spec"]["tls"][0]["secretName"] = "Bad"
    assert errors("Ingress", bad, fresh) == [f'spec.tls[0].secretName: Invalid value: "Bad": {SUBDOMAIN}']


def ingress_class(**spec):
    return {"metadata": {"name": "c", "resourceVersion": "2"}, "spec": {"controller": "example.com/ctl", **spec}}


def test_ingress_class_parameters_scope():
    """Namespace-scoped parameters need a namespace; cluster-scoped ones may not have one; scope is enumerated."""
    assert errors("IngressClass", ingress_class(parameters={"kind": "K", "name": "n"}), namespaced=False) == []
    assert errors("IngressClass", ingress_class(parameters={"kind": "K", "name": "n", "scope": "Namespace"}),
                  namespaced=False) == [
        "spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"]
    assert errors("IngressClass", ingress_class(parameters={"kind": "K", "name": "n", "namespace": "x"}),
                  namespaced=False) == ["spec.parameters.namespace: Forbidden: `parameters.scope` is set to 'Cluster'"]
    assert errors("IngressClass", ingress_class(parameters={"kind": "K", "name": "n", "scope": "World"}),
                  namespaced=False) == [
        'spec.parameters.scope: Unsupported value: "World": supported values: "Cluster", "Namespace"']


def test_ingress_class_controller_path_and_immutability():
    """The controller is a domain-prefixed path, and it cannot change."""
    assert errors("IngressClass", ingress_class(controller="example.com/a b"), namespaced=False) == [
        "spec.controller: Invalid value: \"a b\": must be a valid path (regex used for validation is "
        "'[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')"]
    old = ingress_class()
    assert errors("IngressClass", ingress_class(controller="example.com/other"), old, namespaced=False) == [
        'spec.controller: Invalid value: "example.com/other": field is immutable']


def policy(**spec):
    return {"metadata": {"name": "np", "namespace": "default"}, "spec": {"podSelector": {}, **spec}}


def test_network_policy_end_port_rules():
    """endPort needs a numeric port no greater than itself."""
    np = policy(ingress=[{"ports": [{"port": 90, "endPort": 80}, {"port": "http", "endPort": 80}, {"endPort": 80}]}])
    assert errors("NetworkPolicy", np) == [
        "spec.ingress[0].ports[0].endPort: Invalid value: 90: must be greater than or equal to `port`",
        "spec.ingress[0].ports[1].endPort: Invalid value: 80: may not be specified when `port` is non-numeric",
        "spec.ingress[0].ports[2].endPort: Invalid value: 80: may not be specified when `port` is not specified",
    ]


def test_network_policy_ip_block_except():
    """Each except is a CIDR strictly inside the block's cidr."""
    np = policy(egress=[{"to": [{"ipBlock": {"cidr": "10.0.0.0/16",
                                              "except": ["10.0.1.0/24", "10.0.0.0/16", "11.0.0.0/24", "x"]}}]}])
    assert errors("NetworkPolicy", np) == [
        'spec.egress[0].to[0].ipBlock.except[1]: Invalid value: "10.0.0.0/16": must be a strict subset of `cidr`',
        'spec.egress[0].to[0].ipBlock.except[2]: Invalid value: "11.0.0.0/24": must be a strict subset of `cidr`',
        'spec.egress[0].to[0].ipBlock.except[3]: Invalid value: "x": '
        "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
    ]


def test_network_policy_too_many_policy_types():
    """More than two policyTypes is one Invalid error on the list, and nothing more is checked."""
    np = policy(policyTypes=["Ingress", "Egress", "Other"])
    assert errors("NetworkPolicy", np) == [
        'spec.policyTypes: Invalid value: []networking.PolicyType{"Ingress", "Egress", "Other"}: '
        "may not specify more than two policyTypes"]


def test_ingress_status_update_checks_load_balancer_addresses():
    """validate_ingress_status_update: an ip must be an IP, a hostname a DNS name and not an IP."""
    from kapiserver.registry.validation.networking import validate_ingress_status_update
    old = ingress([http_rule()])
    new = copy.deepcopy(old)
    new["status"] = {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}, {"ip": "x"}, {"hostname": "10.0.0.2"}]}}
    assert [str(e) for e in validate_ingress_status_update(new, old, True)] == [
        'status.loadBalancer.ingress[1].ip: Invalid value: "x": must be a valid IP address, '
        "(e.g. 10.9.8.7 or 2001:db8::ffff)",
        'status.loadBalancer.ingress[2].hostname: Invalid value: "10.0.0.2": must be a DNS name, not an IP address',
    ]


def test_addresses_and_cidrs_are_read_as_gos_sloppy_parsers_read_them():
    """netutils.ParseIPSloppy / ParseCIDRSloppy: an IPv4 address may carry leading zeros; a netmask for a prefix
    length and an IPv6 zone are no address (Python's ipaddress reads all three the other way)."""
    from kapiserver.registry.validation.networking import _ip_block, _is_ip
    assert _ip_block({"cidr": "010.0.0.0/8", "except": ["010.1.0.0/16"]}, "spec") == []
    assert [e.field for e in _ip_block({"cidr": "10.0.0.0/255.0.0.0"}, "spec")] == ["spec.cidr"]
    assert _is_ip("010.0.0.1") and not _is_ip("fe80::1%eth0")

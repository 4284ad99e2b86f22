"""Services across type changes, whole-object updates and IP families, as upstream's service storage
(strategy.go's dropTypeDependentFields and patchAllocatedValues, alloc.go) and validation treat them."""

from __future__ import annotations

import pytest

from kapiserver.machinery.errors import StatusError
from tests.controllers.conftest import run


def _svc(name, **spec):
    spec.setdefault("ports", [{"port": 80}])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def _create(reg, name, **spec):
    return run(reg.store("", "v1", "services").create("default", _svc(name, **spec)))


def _update(reg, name, change):
    def mutate(old):
        import copy
        new = copy.deepcopy(old)
        change(new)
        return new
    return run(reg.store("", "v1", "services").update("default", name, mutate))[0]


def _taken(reg, what):
    kvs = run(reg.storage.range(reg.prefix + b"/ranges/" + what + b"/")).kvs
    return {kv.key.rsplit(b"/", 1)[1].decode() for kv in kvs}


def _refused(call):
    with pytest.raises(StatusError) as caught:
        call()
    return caught.value


def test_load_balancer_to_cluster_ip_drops_what_it_no_longer_uses(store_registry):
    lb = _create(store_registry, "lb", type="LoadBalancer", externalTrafficPolicy="Local", loadBalancerClass="x/y")
    node_port, health = lb["spec"]["ports"][0]["nodePort"], lb["spec"]["healthCheckNodePort"]
    assert {str(node_port), str(health)} <= _taken(store_registry, b"servicenodeports")
    svcs = store_registry.store("", "v1", "services")
    status = dict(lb, status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}})
    run(svcs.update("default", "lb", lambda old: dict(status, metadata=old["metadata"]), subresource="status"))

    def to_cluster_ip(new):
        new["spec"]["type"] = "ClusterIP"
    spec = _update(store_registry, "lb", to_cluster_ip)["spec"]
    for gone in ("healthCheckNodePort", "externalTrafficPolicy", "allocateLoadBalancerNodePorts",
                 "loadBalancerClass"):
        assert gone not in spec
    assert "nodePort" not in spec["ports"][0]
    assert {str(node_port), str(health)}.isdisjoint(_taken(store_registry, b"servicenodeports"))
    got = run(svcs.get("default", "lb"))
    assert got["status"] == {"loadBalancer": {}}


def test_cluster_ip_to_external_name_and_back(store_registry):
    ip = _create(store_registry, "c")["spec"]["clusterIP"]
    assert ip in _taken(store_registry, b"serviceips")

    def to_external(new):
        new["spec"].update(type="ExternalName", externalName="x.com")
    spec = _update(store_registry, "c", to_external)["spec"]
    for gone in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        assert gone not in spec
    assert ip not in _taken(store_registry, b"serviceips")

    def to_cluster_ip(new):
        new["spec"]["type"] = "ClusterIP"
        del new["spec"]["externalName"]
    spec = _update(store_registry, "c", to_cluster_ip)["spec"]
    assert spec["clusterIP"] and spec["clusterIPs"] == [spec["clusterIP"]]
    assert (spec["ipFamilies"], spec["ipFamilyPolicy"]) == (["IPv4"], "SingleStack")
    assert spec["clusterIP"] in _taken(store_registry, b"serviceips")


def test_a_whole_object_without_allocated_values_keeps_them(store_registry):
    made = _create(store_registry, "np", type="NodePort",
                   ports=[{"name": "a", "port": 80}, {"name": "b", "port": 81}])["spec"]

    def replaced(new):
        for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            new["spec"].pop(field)
        new["spec"]["ports"] = [{"name": "b", "port": 81, "protocol": "TCP", "targetPort": 81},
                                {"name": "a", "port": 80, "protocol": "TCP", "targetPort": 80}]
    spec = _update(store_registry, "np", replaced)["spec"]
    assert spec["clusterIPs"] == made["clusterIPs"] and spec["clusterIP"] == made["clusterIP"]
    assert [p["nodePort"] for p in spec["ports"]] == [p["nodePort"] for p in reversed(made["ports"])]
    assert (spec["ipFamilies"], spec["ipFamilyPolicy"]) == (["IPv4"], "SingleStack")


def test_health_check_node_port(store_registry):
    refused = _refused(lambda: _create(store_registry, "h", type="NodePort", healthCheckNodePort=30555))
    assert "spec.healthCheckNodePort: Invalid value: 30555: may only be set when `type` is 'LoadBalancer' and " \
           "`externalTrafficPolicy` is 'Local'" in refused.message
    lb = _create(store_registry, "lb", type="LoadBalancer")
    assert "healthCheckNodePort" not in lb["spec"]

    def local(new):
        new["spec"]["externalTrafficPolicy"] = "Local"
    health = _update(store_registry, "lb", local)["spec"]["healthCheckNodePort"]
    assert 30000 <= health <= 32767 and str(health) in _taken(store_registry, b"servicenodeports")

    def changed(new):
        new["spec"]["healthCheckNodePort"] = health + 1 if health < 32767 else health - 1
    refused = _refused(lambda: _update(store_registry, "lb", changed))
    assert "spec.healthCheckNodePort: Forbidden: field is immutable" in refused.message

    def cluster(new):
        new["spec"]["externalTrafficPolicy"] = "Cluster"
    assert "healthCheckNodePort" not in _update(store_registry, "lb", cluster)["spec"]
    assert str(health) not in _taken(store_registry, b"servicenodeports")


def test_families_on_a_single_stack_cluster(store_registry):
    refused = _refused(lambda: _create(store_registry, "d", ipFamilyPolicy="RequireDualStack"))
    assert refused.code == 422
    assert 'spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for ' \
           'dual-stack services' in refused.message
    refused = _refused(lambda: _create(store_registry, "v6", ipFamilies=["IPv6"]))
    assert 'spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster' in refused.message
    refused = _refused(lambda: _create(store_registry, "p", ipFamilyPolicy="Nope"))
    assert 'spec.ipFamilyPolicy: Unsupported value: "Nope": supported values: "PreferDualStack", ' \
           '"RequireDualStack", "SingleStack"' in refused.message
    refused = _refused(lambda: _create(store_registry, "dup", ipFamilies=["IPv4", "IPv4"],
                                       ipFamilyPolicy="PreferDualStack"))
    assert 'spec.ipFamilies[1]: Duplicate value: "IPv4"' in refused.message
    prefer = _create(store_registry, "prefer", ipFamilyPolicy="PreferDualStack")["spec"]
    assert prefer["ipFamilies"] == ["IPv4"] and len(prefer["clusterIPs"]) == 1


def test_cluster_ips_cross_checks(store_registry):
    refused = _refused(lambda: _create(store_registry, "two", clusterIP="10.0.0.250",
                                       clusterIPs=["10.0.0.250", "10.0.0.251"], ipFamilyPolicy="PreferDualStack"))
    assert 'spec.clusterIPs: Invalid value: []string{"10.0.0.250", "10.0.0.251"}: may specify no more than one ' \
           'IP for each IP family' in refused.message
    refused = _refused(lambda: _create(store_registry, "first", clusterIP="10.0.0.250", clusterIPs=["10.0.0.251"]))
    assert 'spec.clusterIPs: Invalid value: []string{"10.0.0.251"}: first value must match `clusterIP`' \
           in refused.message
    refused = _refused(lambda: _create(store_registry, "en", type="ExternalName", externalName="x.com",
                                       clusterIP="10.0.0.250"))
    assert "spec.clusterIPs: Forbidden: may not be set for ExternalName services" in refused.message
    _create(store_registry, "taken", clusterIP="10.0.0.250")
    refused = _refused(lambda: _create(store_registry, "again", clusterIP="10.0.0.250"))
    assert 'spec.clusterIPs: Invalid value: []string{"10.0.0.250"}: failed to allocate IP 10.0.0.250: provided IP ' \
           'is already allocated' in refused.message


def test_more_validations(store_registry):
    refused = _refused(lambda: _create(store_registry, "e", externalIPs=["nope", "127.0.0.1"]))
    assert 'spec.externalIPs[0]: Invalid value: "nope": must be a valid IP address' in refused.message
    assert 'spec.externalIPs[1]: Invalid value: "127.0.0.1": may not be in the loopback range' in refused.message
    refused = _refused(lambda: _create(store_registry, "r", type="LoadBalancer",
                                       loadBalancerSourceRanges=["10.0.0.0/8", "1.2.3.4"]))
    assert 'spec.LoadBalancerSourceRanges: Invalid value: "[10.0.0.0/8 1.2.3.4]": must be a list of IP ranges. ' \
           'For example, 10.240.0.0/24,10.250.0.0/24' in refused.message
    refused = _refused(lambda: _create(store_registry, "a", allocateLoadBalancerNodePorts=False,
                                       loadBalancerClass="x/y"))
    assert "spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'" \
           in refused.message
    assert "spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'" in refused.message
    _create(store_registry, "lbc", type="LoadBalancer", loadBalancerClass="x/y")

    def other_class(new):
        new["spec"]["loadBalancerClass"] = "x/z"
    refused = _refused(lambda: _update(store_registry, "lbc", other_class))
    assert 'spec.loadBalancerClass: Invalid value: "x/z": may not change once set' in refused.message


def test_a_service_that_is_no_load_balancer_reports_none(store_registry):
    """Upstream's dropTypeDependentFields clears status.loadBalancer on every update of a Service that is not a
    LoadBalancer, and a whole object that leaves out ipFamilies alone keeps them."""
    svcs = store_registry.store("", "v1", "services")
    made = _create(store_registry, "c")
    status = dict(made, status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}})
    run(svcs.update("default", "c", lambda old: dict(status, metadata=old["metadata"]), subresource="status"))

    def labelled(new):
        new["metadata"]["labels"] = {"a": "b"}
        new["spec"].pop("ipFamilies")
    updated = _update(store_registry, "c", labelled)
    assert updated["status"] == {"loadBalancer": {}}
    assert updated["spec"]["ipFamilies"] == ["IPv4"]


def test_errors_in_upstreams_order(store_registry):
    """ValidateService checks loadBalancerClass before the external traffic fields, and those (with
    healthCheckNodePort) before internalTrafficPolicy."""
    refused = _refused(lambda: _create(store_registry, "o", loadBalancerClass="x/y", externalTrafficPolicy="Local",
                                       healthCheckNodePort=30001, internalTrafficPolicy="Nope"))
    fields = [cause["field"] for cause in refused.details["causes"]]
    assert fields == ["spec.loadBalancerClass", "spec.externalTrafficPolicy", "spec.healthCheckNodePort",
                      "spec.internalTrafficPolicy"]


def test_an_ipv6_service_range_makes_an_ipv6_single_stack_cluster(tmp_path):
    """The families follow --service-cluster-ip-range: with an IPv6 range, Services are IPv6 and IPv4 is the
    family not configured."""
    import ipaddress

    from twisted.internet import reactor

    from kapiserver.registry.registry import Registry
    from kapiserver.storage.sqlite import open_sqlite
    storage = run(open_sqlite(str(tmp_path / "data"), reactor))
    try:
        reg = Registry(storage, reactor, watch_cache=False,
                       service_cluster_ip_range=ipaddress.ip_network("fd00:10::/112"))
        run(reg.store("", "v1", "namespaces").create(
            None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}))
        spec = _create(reg, "six")["spec"]
        assert spec["ipFamilies"] == ["IPv6"] and ":" in spec["clusterIP"]
        refused = _refused(lambda: _create(reg, "four", ipFamilies=["IPv4"]))
        assert 'spec.ipFamilies[0]: Invalid value: "IPv4": not configured on this cluster' in refused.message
        headless = _create(reg, "hl", clusterIP="None")["spec"]
        assert headless["ipFamilies"] == ["IPv6", "IPv4"]
    finally:
        run(storage.close())


def test_a_failed_update_gives_back_what_it_took_and_keeps_what_the_old_object_holds(store_registry):
    """An update whose write fails (here a storage error) releases the node port it allocated, and the old
    object's cluster IP stays taken; only a written update gives back what the old object held."""
    svcs = store_registry.store("", "v1", "services")
    svc = _create(store_registry, "flaky")
    ip = svc["spec"]["clusterIP"]
    before = _taken(store_registry, b"servicenodeports")
    storage = store_registry.storage_for(svcs.info)
    real = storage.update

    async def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")
    storage.update = broken
    try:
        with pytest.raises(RuntimeError):
            _update(store_registry, "flaky", lambda new: new["spec"].update(type="NodePort"))
    finally:
        storage.update = real
    assert _taken(store_registry, b"servicenodeports") == before
    assert ip in _taken(store_registry, b"serviceips")
    # Written: ExternalName gives the cluster IP back.
    _update(store_registry, "flaky", lambda new: new["spec"].update(type="ExternalName", externalName="x.example"))
    assert ip not in _taken(store_registry, b"serviceips")


def test_a_dry_run_shows_what_would_be_allocated_and_keeps_nothing(store_registry):
    """As upstream's dry-run allocators: a dry-run create answers with a cluster IP and node ports (a requested IP
    already taken is refused), an update leaving ExternalName with a cluster IP; none of them is taken."""
    from kapiserver.registry.options import WriteOptions
    svcs = store_registry.store("", "v1", "services")
    ips, ports = _taken(store_registry, b"serviceips"), _taken(store_registry, b"servicenodeports")
    dry = WriteOptions(dry_run=True)
    storage = store_registry.storage
    written, create = [], storage.create

    def recording(key, *args, **kwargs):
        written.append(key)
        return create(key, *args, **kwargs)
    storage.create = recording
    try:
        shown = run(svcs.create("default", _svc("dry", type="NodePort"), options=dry))
    finally:
        storage.create = create
    assert shown["spec"]["clusterIP"] and shown["spec"]["ports"][0]["nodePort"]
    assert written == []            # nothing taken, not even for a moment
    assert (_taken(store_registry, b"serviceips"), _taken(store_registry, b"servicenodeports")) == (ips, ports)
    taken = _create(store_registry, "real")["spec"]["clusterIP"]
    refused = _refused(lambda: run(svcs.create("default", _svc("dry2", clusterIP=taken), options=dry)))
    assert refused.code == 422 and "already allocated" in refused.message
    name = _create(store_registry, "ext", type="ExternalName", externalName="x.example", ports=[])
    ips = _taken(store_registry, b"serviceips")

    def to_cluster_ip(old):
        import copy
        new = copy.deepcopy(old)
        new["spec"].update(type="ClusterIP", ports=[{"port": 80}])
        new["spec"].pop("externalName", None)
        return new
    updated = run(svcs.update("default", name["metadata"]["name"], to_cluster_ip, options=dry))[0]
    assert updated["spec"]["clusterIP"]
    assert _taken(store_registry, b"serviceips") == ips


class _Admission:
    """Validating admission that records the Services it is shown and refuses those named "denied"."""

    def __init__(self):
        self.seen = []

    async def admit(self, attributes):
        pass

    async def validate(self, attributes):
        import copy
        self.seen.append(copy.deepcopy(attributes.object["spec"]))
        if attributes.name == "denied":
            raise StatusError(403, "Forbidden", "denied by the test")


def test_allocation_comes_before_validation_and_validating_admission(store_registry):
    """As upstream's BeginCreate/BeginUpdate: validating admission sees the cluster IP and node port the Service
    was given, and a create or update that validation or admission refuses gives back what it took."""
    svcs = store_registry.store("", "v1", "services")
    admission = svcs.admission = _Admission()
    ips, ports = _taken(store_registry, b"serviceips"), _taken(store_registry, b"servicenodeports")
    created = _create(store_registry, "seen", type="NodePort")
    [spec] = admission.seen
    assert spec["clusterIP"] == created["spec"]["clusterIP"] and spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["ports"][0]["nodePort"] == created["spec"]["ports"][0]["nodePort"]
    assert (spec["ipFamilies"], spec["ipFamilyPolicy"]) == (["IPv4"], "SingleStack")
    ips |= {spec["clusterIP"]}
    ports |= {str(spec["ports"][0]["nodePort"])}
    assert (_taken(store_registry, b"serviceips"), _taken(store_registry, b"servicenodeports")) == (ips, ports)

    refused = _refused(lambda: _create(store_registry, "denied", type="NodePort"))
    assert refused.code == 403 and len(admission.seen) == 2 and admission.seen[1]["clusterIP"]
    invalid = _refused(lambda: _create(store_registry, "invalid", type="NodePort", sessionAffinity="Sometimes"))
    assert invalid.code == 422 and "spec.sessionAffinity" in invalid.message
    assert (_taken(store_registry, b"serviceips"), _taken(store_registry, b"servicenodeports")) == (ips, ports)

    def to_load_balancer_with_bad_affinity(new):
        new["spec"].update(type="LoadBalancer", externalTrafficPolicy="Local", sessionAffinity="Sometimes")
    plain = _create(store_registry, "plain")
    ips |= {plain["spec"]["clusterIP"]}
    invalid = _refused(lambda: _update(store_registry, "plain", to_load_balancer_with_bad_affinity))
    assert invalid.code == 422
    assert admission.seen[-1]["clusterIP"] == plain["spec"]["clusterIP"]    # the create's, not the update's
    assert (_taken(store_registry, b"serviceips"), _taken(store_registry, b"servicenodeports")) == (ips, ports)


def test_an_update_that_deletes_a_service_gives_back_what_the_stored_one_held(store_registry):
    """The update that empties a deleted Service's finalizers still runs BeginUpdate (a node port of another
    Service in the body is refused), takes nothing, and the delete gives back the stored object's IPs and ports,
    not the ones the body names."""
    from kapiserver.registry.options import DeleteOptions
    svcs = store_registry.store("", "v1", "services")
    a = _create(store_registry, "a", type="NodePort")
    b = _create(store_registry, "b", type="NodePort")
    a_port, b_port = a["spec"]["ports"][0]["nodePort"], b["spec"]["ports"][0]["nodePort"]

    def add_finalizer(new):
        new["metadata"]["finalizers"] = ["example.com/hold"]
    _update(store_registry, "a", add_finalizer)
    run(svcs.delete("default", "a", DeleteOptions()))

    def release_taking_b_port(new):
        new["metadata"]["finalizers"] = []
        new["spec"]["ports"][0]["nodePort"] = b_port
    refused = _refused(lambda: _update(store_registry, "a", release_taking_b_port))
    assert refused.code == 422 and "provided port is already allocated" in refused.message

    def release(new):
        new["metadata"]["finalizers"] = []
    _update(store_registry, "a", release)
    taken = _taken(store_registry, b"servicenodeports")
    assert str(b_port) in taken and str(a_port) not in taken
    assert a["spec"]["clusterIP"] not in _taken(store_registry, b"serviceips")


def test_a_status_write_takes_nothing(store_registry):
    """Upstream's status store has no BeginUpdate: a status write neither allocates nor runs the allocator's
    checks."""
    svcs = store_registry.store("", "v1", "services")
    lb = _create(store_registry, "lb", type="LoadBalancer")
    calls = []
    real = svcs.strategy.begin_update

    async def counting(*args):
        calls.append(args)
        return await real(*args)
    svcs.strategy.begin_update = counting
    try:
        status = dict(lb, status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}})
        run(svcs.update("default", "lb", lambda old: dict(status, metadata=old["metadata"]), subresource="status"))
        assert calls == []
        _update(store_registry, "lb", lambda new: new["metadata"].setdefault("labels", {}).update(x="y"))
        assert len(calls) == 1
    finally:
        svcs.strategy.begin_update = real

"""The kubernetes Service's endpoints: master leases (write, renewal, expiry, removal on stop), the Endpoints
and EndpointSlice they yield, replicas that agree, master-count and none."""

from __future__ import annotations

import ipaddress

import pytest

from kapiserver.controllers.bootstrap import BootstrapController
from kapiserver.controllers.endpointreconciler import (
    EXPIRY_ANNOTATION, LEASE_TTL, MasterLease, agreed_endpoints, lease_name, new_endpoint_reconciler)
from kapiserver.machinery import codec, meta
from kapiserver.machinery.errors import StatusError

from .conftest import START, run

NETWORK = ipaddress.ip_network("10.0.0.0/24")


@pytest.fixture
def default_ns(registry):
    run(registry.store("", "v1", "namespaces").create(None, {"metadata": {"name": "default"}}))
    return registry


def reconciler(registry, clock, ip, port, kind="lease", **kwargs):
    return new_endpoint_reconciler(kind, registry, clock, "default", ip, port, **kwargs)


def leases(registry) -> dict:
    """name -> decoded value of every key under <prefix>/masterleases/."""
    result = run(registry.storage.range(b"/registry/masterleases/"))
    return {kv.key.decode().rsplit("/", 1)[1]: codec.loads(kv.value) for kv in result.kvs}


def get(registry, group, resource, name="kubernetes"):
    try:
        return run(registry.store(group, "v1", resource).get("default", name))
    except StatusError as e:
        if e.code == 404:
            return None
        raise


def endpoints(registry):
    return get(registry, "", "endpoints")


def endpoint_slice(registry):
    return get(registry, "discovery.k8s.io", "endpointslices")


def addresses(registry):
    subsets = endpoints(registry)["subsets"]
    assert len(subsets) == 1
    return [a["ip"] for a in subsets[0]["addresses"]], [p["port"] for p in subsets[0]["ports"]]


def test_lease_written_under_masterleases_with_its_expiry(default_ns, clock):
    """The first reconcile writes <prefix>/masterleases/<ip>, an Endpoints value with the address, port and
    an expiry of now + 15 s; a renewal moves the expiry and bumps the generation."""
    r = reconciler(default_ns, clock, "10.0.0.1", 6443)
    assert run(r.reconcile()) == 6443
    lease = leases(default_ns)["10.0.0.1"]
    assert lease["kind"] == "Endpoints"
    assert lease["subsets"][0]["addresses"] == [{"ip": "10.0.0.1"}]
    assert meta.parse_time(lease["metadata"]["annotations"][EXPIRY_ANNOTATION]) == START + LEASE_TTL
    clock.advance(10)
    run(r.reconcile())
    renewed = leases(default_ns)["10.0.0.1"]
    assert meta.parse_time(renewed["metadata"]["annotations"][EXPIRY_ANNOTATION]) == START + 10 + LEASE_TTL
    assert renewed["metadata"]["generation"] == lease["metadata"]["generation"] + 1


def test_lease_name_is_the_ip_on_6443_and_carries_any_other_port():
    """A lease is named by its IP alone on upstream's port, with the port appended otherwise."""
    assert lease_name("10.0.0.1", 6443) == "10.0.0.1"
    assert lease_name("10.0.0.1", 8080) == "10.0.0.1_8080"


def test_endpoints_are_the_sorted_live_addresses(default_ns, clock):
    """The Endpoints hold one subset: every live apiserver's address, sorted, with the https port, labelled
    not to be mirrored; the EndpointSlice says the same."""
    for ip in ("10.0.0.3", "10.0.0.1", "10.0.0.2"):
        run(reconciler(default_ns, clock, ip, 6443).reconcile())
    ep = endpoints(default_ns)
    assert ep["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
    assert ep["subsets"] == [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}],
                              "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]
    slice_ = endpoint_slice(default_ns)
    assert slice_["metadata"]["labels"]["kubernetes.io/service-name"] == "kubernetes"
    assert slice_["addressType"] == "IPv4"
    assert [e["addresses"] for e in slice_["endpoints"]] == [["10.0.0.1"], ["10.0.0.2"], ["10.0.0.3"]]
    assert all(e["conditions"]["ready"] is True for e in slice_["endpoints"])
    assert slice_["ports"] == [{"name": "https", "port": 6443, "protocol": "TCP"}]


def test_no_write_when_nothing_changed(default_ns, clock):
    """Replicas renewing their leases leave the Endpoints and EndpointSlice untouched (same resourceVersion)."""
    a = reconciler(default_ns, clock, "10.0.0.1", 6443)
    b = reconciler(default_ns, clock, "10.0.0.2", 6443)
    run(a.reconcile())
    run(b.reconcile())
    versions = (endpoints(default_ns)["metadata"]["resourceVersion"],
                endpoint_slice(default_ns)["metadata"]["resourceVersion"])
    for _ in range(3):
        clock.advance(10)
        run(a.reconcile())
        run(b.reconcile())
    assert (endpoints(default_ns)["metadata"]["resourceVersion"],
            endpoint_slice(default_ns)["metadata"]["resourceVersion"]) == versions


def test_expired_lease_is_deleted_and_its_address_dropped(default_ns, clock):
    """A lease not renewed within 15 s is deleted by the next reconcile, and its address leaves the
    Endpoints; one still within its time is kept."""
    a = reconciler(default_ns, clock, "10.0.0.1", 6443)
    b = reconciler(default_ns, clock, "10.0.0.2", 6443)
    run(a.reconcile())
    run(b.reconcile())
    clock.advance(LEASE_TTL - 1)
    run(a.reconcile())
    assert addresses(default_ns)[0] == ["10.0.0.1", "10.0.0.2"]
    clock.advance(1)
    run(a.reconcile())
    assert set(leases(default_ns)) == {"10.0.0.1"}
    assert addresses(default_ns) == (["10.0.0.1"], [6443])


def test_stop_removes_the_own_lease_and_reconciles(default_ns, clock):
    """A stopping apiserver deletes its lease and takes its address out at once; later reconciles of it
    write nothing."""
    a = reconciler(default_ns, clock, "10.0.0.1", 6443)
    b = reconciler(default_ns, clock, "10.0.0.2", 6443)
    run(a.reconcile())
    run(b.reconcile())
    run(b.stop())
    assert set(leases(default_ns)) == {"10.0.0.1"}
    assert addresses(default_ns)[0] == ["10.0.0.1"]
    assert run(b.reconcile()) is None
    assert set(leases(default_ns)) == {"10.0.0.1"}


def test_last_apiserver_stopping_leaves_the_endpoints(default_ns, clock):
    """With no live lease left the Endpoints are not erased (upstream refuses to)."""
    a = reconciler(default_ns, clock, "10.0.0.1", 6443)
    run(a.reconcile())
    run(a.stop())
    assert leases(default_ns) == {}
    assert addresses(default_ns) == (["10.0.0.1"], [6443])


def test_replicas_on_one_host_agree_on_a_port(default_ns, clock):
    """Two replicas on one IP with different ports keep separate leases and agree on the lower port: the
    Endpoints, the EndpointSlice and the Service are not rewritten by either; when the lower one stops, the
    Endpoints and the Service's targetPort move to the other's port."""
    a = BootstrapController(default_ns, "default", "10.0.0.1", 6444, NETWORK, clock=clock)
    b = BootstrapController(default_ns, "default", "10.0.0.1", 6443, NETWORK, clock=clock)
    run(a.reconcile())
    run(b.reconcile())
    assert set(leases(default_ns)) == {"10.0.0.1", "10.0.0.1_6444"}
    assert addresses(default_ns) == (["10.0.0.1"], [6443])
    service = get(default_ns, "", "services")
    assert service["spec"]["ports"][0]["targetPort"] == 6443
    versions = [obj["metadata"]["resourceVersion"]
                for obj in (endpoints(default_ns), endpoint_slice(default_ns), service)]
    for _ in range(3):
        clock.advance(10)
        run(a.reconcile())
        run(b.reconcile())
    assert [obj["metadata"]["resourceVersion"] for obj in (endpoints(default_ns), endpoint_slice(default_ns),
                                                            get(default_ns, "", "services"))] == versions
    run(b.stop())
    assert addresses(default_ns) == (["10.0.0.1"], [6444])
    assert get(default_ns, "", "services")["spec"]["ports"][0]["targetPort"] == 6444


def test_agreed_port_is_the_most_common_then_the_lowest():
    """The port most leases serve on wins, the lowest on a tie; only addresses serving on it are listed."""
    live = [MasterLease("10.0.0.2", 8443, 0), MasterLease("10.0.0.1", 6443, 0), MasterLease("10.0.0.3", 8443, 0)]
    assert agreed_endpoints(live) == (["10.0.0.2", "10.0.0.3"], 8443)
    assert agreed_endpoints(live[:2]) == (["10.0.0.1"], 6443)


def test_wrong_endpoints_are_reset(default_ns, clock):
    """Endpoints someone else changed (extra subsets, a stale address, no label) are put back."""
    store = default_ns.store("", "v1", "endpoints")
    run(store.create("default", {"metadata": {"name": "kubernetes"}, "subsets": [
        {"addresses": [{"ip": "10.9.9.9"}], "ports": [{"name": "https", "port": 1, "protocol": "TCP"}]},
        {"addresses": [{"ip": "10.9.9.8"}], "ports": [{"name": "x", "port": 2, "protocol": "TCP"}]}]}))
    run(reconciler(default_ns, clock, "10.0.0.1", 6443).reconcile())
    assert addresses(default_ns) == (["10.0.0.1"], [6443])
    assert endpoints(default_ns)["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"] == "true"


def test_embedded_store_writes_no_lease(default_ns, clock):
    """On the embedded store (not shared) no master lease is written, and the Endpoints are this apiserver."""
    r = reconciler(default_ns, clock, "10.0.0.1", 6443, shared_storage=False)
    run(r.reconcile())
    run(r.stop())
    assert leases(default_ns) == {}
    assert addresses(default_ns) == (["10.0.0.1"], [6443])


def test_master_count_keeps_at_most_count_addresses(default_ns, clock):
    """master-count: each apiserver adds itself and trims the addresses after its own beyond the count."""
    for ip in ("10.0.0.1", "10.0.0.2"):
        run(reconciler(default_ns, clock, ip, 6443, kind="master-count", apiserver_count=2).reconcile())
    assert addresses(default_ns) == (["10.0.0.1", "10.0.0.2"], [6443])
    c = reconciler(default_ns, clock, "10.0.0.3", 6443, kind="master-count", apiserver_count=2)
    run(c.reconcile())
    # 10.0.0.3's successor (wrapping around) is 10.0.0.1.
    assert addresses(default_ns)[0] == ["10.0.0.2", "10.0.0.3"]
    run(c.stop())
    assert addresses(default_ns)[0] == ["10.0.0.2"]
    assert leases(default_ns) == {}


def test_none_leaves_the_endpoints_alone(default_ns, clock):
    """none: no Endpoints are created, no lease is written, and the Service still is."""
    b = BootstrapController(default_ns, "default", "10.0.0.1", 6443, NETWORK, endpoint_reconciler_type="none",
                            clock=clock)
    run(b.reconcile())
    run(b.stop())
    assert endpoints(default_ns) is None and leases(default_ns) == {}
    assert get(default_ns, "", "services")["spec"]["ports"][0]["targetPort"] == 6443


def test_flags_parse_and_validate():
    """--endpoint-reconciler-type defaults to lease and takes master-count or none; --apiserver-count must be
    positive."""
    from twisted.python import usage
    from kapiserver.tap import Options

    def parse(*args):
        options = Options()
        options.parseOptions(["--advertise-address=10.0.0.1", *args])
        return options.server_config
    assert (parse().endpoint_reconciler_type, parse().apiserver_count) == ("lease", 1)
    config = parse("--endpoint-reconciler-type=master-count", "--apiserver-count=3")
    assert (config.endpoint_reconciler_type, config.apiserver_count) == ("master-count", 3)
    assert parse("--endpoint-reconciler-type", "none").endpoint_reconciler_type == "none"
    with pytest.raises(usage.UsageError, match="endpoint-reconciler-type"):
        parse("--endpoint-reconciler-type=leases")
    with pytest.raises(usage.UsageError, match="--apiserver-count should be a positive number"):
        parse("--apiserver-count=0")

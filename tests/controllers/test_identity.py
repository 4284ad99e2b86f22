"""API server identity leases: the id, the heartbeat and the garbage collection of expired leases."""

from __future__ import annotations

import base64
import hashlib
import re
from types import SimpleNamespace

import pytest

from kapiserver.controllers import identity
from kapiserver.controllers.identity import IdentityLeaseController, apiserver_id, is_expired, serving_address
from kapiserver.machinery import meta
from kapiserver.machinery.errors import StatusError

from .conftest import START, run, run_until



@pytest.fixture
def leases(registry):
    run(registry.store("", "v1", "namespaces").create(None, {"metadata": {"name": "kube-system"}}))
    return registry.store("coordination.k8s.io", "v1", "leases")


def get(leases, name):
    try:
        return run(leases.get("kube-system", name))
    except StatusError as e:
        if e.code == 404:
            return None
        raise


def foreign_lease(name, renewed, duration=3600, labels=None):
    return {"metadata": {"name": name, "namespace": "kube-system",
                         "labels": labels if labels is not None else {identity.IDENTITY_LABEL: "kube-apiserver"}},
            "spec": {"holderIdentity": f"{name}_x", "leaseDurationSeconds": duration,
                     "renewTime": meta.rfc3339_micro(renewed)}}


def test_default_id_is_upstreams():
    """On upstream's default address the id is upstream's: SHA-256 of the length-prefixed hostname and
    "kube-apiserver", 16 bytes, lower-case unpadded base32."""
    data = b"\x00\x05node1" + b"\x00\x0ekube-apiserver"
    expected = "apiserver-" + base64.b32encode(hashlib.sha256(data).digest()[:16]).decode().rstrip("=").lower()
    assert apiserver_id("node1") == expected == apiserver_id("node1", ("0.0.0.0", 6443))
    assert re.fullmatch(r"apiserver-[a-z2-7]{26}", expected)


def test_ids_differ_per_host_and_per_serving_address():
    """Replicas on one host serving on different addresses get different ids; the same address, the same id."""
    ids = {apiserver_id("node1"), apiserver_id("node2"), apiserver_id("node1", ("127.0.0.1", 8080)),
           apiserver_id("node1", ("127.0.0.1", 8081)), apiserver_id("node1", ("127.0.0.2", 8080))}
    assert len(ids) == 5
    assert apiserver_id("node1", ("127.0.0.1", 8080)) == apiserver_id("node1", ("127.0.0.1", 8080))
    assert apiserver_id("node1", None) != apiserver_id("node1", None), "no address: an id unique to the process"


def test_serving_address_prefers_the_secure_port():
    """The serving address is the secure listener's, else the insecure one's, else none."""
    config = SimpleNamespace(bind_address="0.0.0.0", secure_port=6443, insecure_bind_address="127.0.0.1",
                             insecure_port=8080)
    assert serving_address(config) == ("0.0.0.0", 6443)
    config.secure_port = 0
    assert serving_address(config) == ("127.0.0.1", 8080)
    config.insecure_port = 0
    assert serving_address(config) is None


def test_holder_identity_is_id_and_uuid():
    """The holder identity is the lease name, an underscore and a fresh UUID."""
    holder = identity.holder_identity("apiserver-abc")
    assert re.fullmatch(r"apiserver-abc_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", holder)
    assert holder != identity.holder_identity("apiserver-abc")


def test_start_creates_the_labelled_lease(registry, leases, clock):
    """start() writes kube-system/<id>: holder, one hour, MicroTime renewTime, the identity and hostname labels."""
    controller = IdentityLeaseController(registry, clock, "apiserver-a", "apiserver-a_1", "node1")
    run(controller.start())
    try:
        lease = get(leases, "apiserver-a")
        assert lease["metadata"]["labels"] == {"apiserver.kubernetes.io/identity": "kube-apiserver",
                                               "kubernetes.io/hostname": "node1"}
        assert lease["spec"]["holderIdentity"] == "apiserver-a_1"
        assert lease["spec"]["leaseDurationSeconds"] == 3600
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", lease["spec"]["renewTime"])
        assert meta.parse_time(lease["spec"]["renewTime"]) == START
    finally:
        controller.stop()


def test_lease_is_renewed_every_ten_seconds(registry, leases, clock):
    """The heartbeat rewrites renewTime every 10 s of the clock, and not before."""
    controller = IdentityLeaseController(registry, clock, "apiserver-a", "apiserver-a_1", "node1")
    run(controller.start())
    try:
        clock.advance(9)
        run_until(lambda: True)
        assert meta.parse_time(get(leases, "apiserver-a")["spec"]["renewTime"]) == START
        clock.advance(1)
        run_until(lambda: meta.parse_time(get(leases, "apiserver-a")["spec"]["renewTime"]) == START + 10)
        clock.advance(10)
        run_until(lambda: meta.parse_time(get(leases, "apiserver-a")["spec"]["renewTime"]) == START + 20)
    finally:
        controller.stop()


def test_restarted_apiserver_takes_its_lease_over(registry, leases, clock):
    """A new process with the same id renews the same lease under its own holder identity."""
    first = IdentityLeaseController(registry, clock, "apiserver-a", "apiserver-a_1", "node1")
    run(first.heartbeat())
    second = IdentityLeaseController(registry, clock, "apiserver-a", "apiserver-a_2", "node1")
    run(second.heartbeat())
    assert get(leases, "apiserver-a")["spec"]["holderIdentity"] == "apiserver-a_2"


def test_two_apiservers_keep_two_leases(registry, leases, clock):
    """Two apiservers with different ids each keep their own lease."""
    for name in ("apiserver-a", "apiserver-b"):
        run(IdentityLeaseController(registry, clock, name, f"{name}_1", "node1").heartbeat())
    assert get(leases, "apiserver-a")["spec"]["holderIdentity"] == "apiserver-a_1"
    assert get(leases, "apiserver-b")["spec"]["holderIdentity"] == "apiserver-b_1"


def test_expiry_rule():
    """A lease expires when renewTime + duration is past, or when either is missing."""
    assert not is_expired(foreign_lease("x", START - 3599), START)
    assert is_expired(foreign_lease("x", START - 3601), START)
    assert is_expired({"spec": {"leaseDurationSeconds": 10}}, START)
    assert is_expired({"spec": {"renewTime": meta.rfc3339_micro(START)}}, START)


def test_collect_deletes_only_expired_identity_leases(registry, leases, clock):
    """Expired kube-apiserver identity leases go; fresh ones, other components' and unlabelled leases stay."""
    run(leases.create("kube-system", foreign_lease("apiserver-old", START - 4000)))
    run(leases.create("kube-system", foreign_lease("apiserver-fresh", START - 60)))
    run(leases.create("kube-system", foreign_lease("other-old", START - 4000,
                                                   labels={identity.IDENTITY_LABEL: "kube-scheduler"})))
    run(leases.create("kube-system", foreign_lease("kube-controller-manager", START - 4000, duration=15, labels={})))
    controller = IdentityLeaseController(registry, clock, "apiserver-a", "apiserver-a_1", "node1")
    run(controller.start())
    try:
        assert get(leases, "apiserver-old") is None
        assert get(leases, "apiserver-fresh") is not None
        assert get(leases, "other-old") is not None
        assert get(leases, "kube-controller-manager") is not None
        assert get(leases, "apiserver-a") is not None
    finally:
        controller.stop()


def test_collect_runs_every_gc_period(registry, leases, clock):
    """A lease that expires after start is collected at the next GC period."""
    controller = IdentityLeaseController(registry, clock, "apiserver-a", "apiserver-a_1", "node1",
                                         gc_period=600)
    run(controller.start())
    try:
        run(leases.create("kube-system", foreign_lease("apiserver-dying", START - 3500)))
        clock.advance(300)
        run_until(lambda: True)
        assert get(leases, "apiserver-dying") is not None
        clock.advance(300)
        run_until(lambda: get(leases, "apiserver-dying") is None)
        assert get(leases, "apiserver-a") is not None, "its own lease was renewed meanwhile"
    finally:
        controller.stop()


def test_collect_spares_a_lease_renewed_since_the_listing(registry, leases, clock):
    """A lease renewed between the listing and the delete is not deleted: it is read again first."""
    run(leases.create("kube-system", foreign_lease("apiserver-b", START - 4000)))
    controller = IdentityLeaseController(registry, clock, "apiserver-a", "apiserver-a_1", "node1")

    async def get_after_renewal(namespace, name):
        def renew(old):
            old["spec"]["renewTime"] = meta.rfc3339_micro(clock.seconds())
            return old
        await leases.update(namespace, name, renew)
        return await leases.get(namespace, name)
    controller.leases = SimpleNamespace(get=get_after_renewal, list=leases.list, delete=leases.delete)
    assert run(controller.collect()) == []
    assert get(leases, "apiserver-b") is not None


def test_stop_ends_the_heartbeat(registry, leases, clock):
    """After stop() the lease is no longer renewed."""
    controller = IdentityLeaseController(registry, clock, "apiserver-a", "apiserver-a_1", "node1")
    run(controller.start())
    controller.stop()
    clock.advance(30)
    run_until(lambda: True)
    assert meta.parse_time(get(leases, "apiserver-a")["spec"]["renewTime"]) == START

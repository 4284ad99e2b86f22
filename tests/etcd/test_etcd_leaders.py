"""
Two kapiserver processes on one etcd: each keeps its own identity lease, one
of them holds the controllers' lease (and alone runs namespace finalization,
garbage collection and event TTL), and when it dies the other takes over.  On
the embedded store, which one process holds, there is no election at all.
"""

from __future__ import annotations

import socket
import time

from e2e.conftest import APIServerProcess, Kubectl, kubectl_binary

from kapiserver.controllers.identity import apiserver_id
from kapiserver.server import CONTROLLERS_LEASE

LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"


def _leases(server) -> dict:
    status, body = server.request("GET", LEASES)
    assert status == 200, body
    return {item["metadata"]["name"]: item for item in body["items"]}


def _holder(server) -> str:
    return _leases(server)[CONTROLLERS_LEASE]["spec"]["holderIdentity"]


def _identity(server) -> str:
    """The identity lease name of an apiserver serving only on its insecure loopback port."""
    return apiserver_id(socket.gethostname(), ("127.0.0.1", server.port))


def _became_leader(server) -> bool:
    return "became leader of kube-system/" + CONTROLLERS_LEASE in server.log_path.read_text()


def _wait_for(predicate, timeout: float, interval: float = 0.25) -> float:
    """Seconds until ``predicate()`` held (a KeyError, as for a lease not written yet, is not yet); fails
    after ``timeout``."""
    start = time.monotonic()
    while True:
        try:
            if predicate():
                return time.monotonic() - start
        except KeyError:
            pass
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout}s")
        time.sleep(interval)


def _leader_and_follower(a, b):
    holder = _holder(a)
    leader, follower = (a, b) if holder.startswith(_identity(a) + "_") else (b, a)
    assert holder.startswith(_identity(leader) + "_")
    return leader, follower


def test_identity_leases_and_one_controllers_leader(etcd, apiservers, tmp_path):
    """Both identity leases and exactly one controllers' lease holder are listed; killing the holder (SIGKILL)
    lets the other apiserver take over once the lease has run out, and its namespace controller then finalizes
    deletions."""
    a = apiservers(etcd.urls, "a")
    b = apiservers(etcd.urls, "b")

    def identities():
        return {name: lease for name, lease in _leases(b).items()
                if lease["metadata"].get("labels", {}).get("apiserver.kubernetes.io/identity") == "kube-apiserver"}
    # Identity leases are written once the watch caches have filled, just after serving begins; the
    # election for the controllers' lease runs beside serving, so that lease may come a moment later.
    _wait_for(lambda: set(identities()) == {_identity(a), _identity(b)} and CONTROLLERS_LEASE in _leases(b),
              timeout=30)
    leases = _leases(b)
    identities = identities()
    for name, lease in identities.items():
        assert lease["metadata"]["labels"]["kubernetes.io/hostname"] == socket.gethostname()
        assert lease["spec"]["holderIdentity"].startswith(name + "_")
        assert lease["spec"]["leaseDurationSeconds"] == 3600
    controllers = leases[CONTROLLERS_LEASE]["spec"]
    assert controllers["holderIdentity"] in {lease["spec"]["holderIdentity"] for lease in identities.values()}
    assert controllers["leaseDurationSeconds"] == 15
    leader, follower = _leader_and_follower(a, b)
    _wait_for(lambda: _became_leader(leader), timeout=30)    # its log line follows the lease's write
    assert not _became_leader(follower)

    binary = kubectl_binary()
    if binary:
        (tmp_path / "kubectl").mkdir()
        table = Kubectl(binary, follower, tmp_path / "kubectl")("get", "leases", "-n", "kube-system").stdout
        rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[1:]}
        assert {_identity(a), _identity(b), CONTROLLERS_LEASE} <= set(rows)
        assert rows[CONTROLLERS_LEASE][0] == controllers["holderIdentity"]

    leader.process.kill()
    leader.process.wait()
    # The 15 s lease runs out and the follower, trying every 2 s, takes it: ~19 s at most on an idle machine;
    # the bound leaves room for a loaded one while still telling the lease's expiry from never.
    took = _wait_for(lambda: _holder(follower).startswith(_identity(follower) + "_"), timeout=45)
    assert took <= 30, f"takeover took {took:.1f}s"
    spec = _leases(follower)[CONTROLLERS_LEASE]["spec"]
    assert spec["leaseTransitions"] == 1
    _wait_for(lambda: _became_leader(follower), timeout=30)

    status, body = follower.request("POST", "/api/v1/namespaces", {"metadata": {"name": "doomed"}})
    assert status == 201, body
    status, body = follower.request("POST", "/api/v1/namespaces/doomed/configmaps",
                                    {"metadata": {"name": "cm"}, "data": {"k": "v"}})
    assert status == 201, body
    status, body = follower.request("DELETE", "/api/v1/namespaces/doomed")
    assert status == 200, body
    _wait_for(lambda: follower.request("GET", "/api/v1/namespaces/doomed")[0] == 404, timeout=30)


def test_restarted_leader_takes_its_lease_back_at_once(etcd, apiservers, tmp_path):
    """A leader restarted on the same address (so with the same identity) leads again at once, without
    waiting out the lease its previous process held; the other apiserver never leads meanwhile."""
    a = apiservers(etcd.urls, "a")
    b = apiservers(etcd.urls, "b")
    _wait_for(lambda: _holder(a), timeout=30)    # the election runs beside serving: the lease comes a moment later
    leader, follower = _leader_and_follower(a, b)
    before = _leases(follower)[CONTROLLERS_LEASE]["spec"]["holderIdentity"]
    leader.stop()
    leader.start()
    # Well within the 15 s lease the old holder left behind: waiting that out is what the test rules out.
    _wait_for(lambda: _holder(follower) != before, timeout=10)
    spec = _leases(follower)[CONTROLLERS_LEASE]["spec"]
    assert spec["holderIdentity"].startswith(_identity(leader) + "_")
    assert spec["leaseTransitions"] == 1
    assert not _became_leader(follower)


def test_embedded_store_runs_the_controllers_without_an_election(tmp_path):
    """A server on the embedded store keeps its identity lease, writes no controllers' lease, and its
    namespace controller finalizes a deletion as soon as it serves."""
    server = APIServerProcess(tmp_path / "data").start()
    try:
        status, body = server.request("POST", "/api/v1/namespaces", {"metadata": {"name": "doomed"}})
        assert status == 201, body
        status, body = server.request("DELETE", "/api/v1/namespaces/doomed")
        assert status == 200, body
        _wait_for(lambda: server.request("GET", "/api/v1/namespaces/doomed")[0] == 404, timeout=30)
        _wait_for(lambda: _identity(server) in _leases(server), timeout=30)
        assert CONTROLLERS_LEASE not in _leases(server)
        assert not _became_leader(server)
    finally:
        server.stop()

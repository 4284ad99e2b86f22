"""
Two kapiserver processes on one etcd and one host: each keeps its master lease
under /registry/masterleases/, they agree on the kubernetes Endpoints (so its
resourceVersion stays put across their 10 s reconciles), and when one stops
gracefully it leaves the Endpoints, and its lease, at once.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.request

from e2e.conftest import APIServerProcess

ENDPOINTS = "/api/v1/namespaces/default/endpoints/kubernetes"
SERVICE = "/api/v1/namespaces/default/services/kubernetes"


def _get(server, path) -> dict:
    status, body = server.request("GET", path)
    assert status == 200, body
    return body


def _master_leases(etcd_url: str) -> set:
    """The names of the keys under /registry/masterleases/, read from etcd itself."""
    prefix = b"/registry/masterleases/"
    end = prefix[:-1] + bytes([prefix[-1] + 1])
    request = urllib.request.Request(etcd_url + "/v3/kv/range", method="POST", data=json.dumps({
        "key": base64.b64encode(prefix).decode(), "range_end": base64.b64encode(end).decode(),
        "keys_only": True}).encode())
    with urllib.request.urlopen(request, timeout=5) as response:
        kvs = json.load(response).get("kvs", [])
    return {base64.b64decode(kv["key"])[len(prefix):].decode() for kv in kvs}


def _wait_for(predicate, timeout: float, interval: float = 0.2) -> None:
    """Until ``predicate()`` holds; an AssertionError (``_subset`` on Endpoints not written yet) is not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except AssertionError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s")
        time.sleep(interval)


def _subset(server):
    subsets = _get(server, ENDPOINTS).get("subsets") or []
    assert len(subsets) == 1, subsets
    return [a["ip"] for a in subsets[0]["addresses"]], [p["port"] for p in subsets[0]["ports"]]


def test_endpoints_stable_with_two_replicas_and_reconciled_when_one_stops(etcd, tmp_path):
    """With two replicas on one host the Endpoints list the host once with the lower port and keep their
    resourceVersion for 21 s (two reconciles of each); the lower-port replica's graceful stop removes its
    lease and moves the Endpoints, EndpointSlice and Service's targetPort to the other's port within seconds."""
    args = (f"--etcd-servers={etcd.urls[0]}", "--secure-port=0", "--advertise-address=127.0.0.1")
    a = APIServerProcess(tmp_path / "a", args=args)
    b = APIServerProcess(tmp_path / "b", args=args)
    try:
        a.start()
        b.start()
        low, high = sorted((a, b), key=lambda s: s.port)
        names = {"127.0.0.1_%d" % low.port, "127.0.0.1_%d" % high.port}
        _wait_for(lambda: _master_leases(etcd.urls[0]) == names
                  and _subset(high) == (["127.0.0.1"], [low.port]), timeout=30)
        before = _get(high, ENDPOINTS)["metadata"]["resourceVersion"]
        service_before = _get(high, SERVICE)
        assert service_before["spec"]["ports"][0]["targetPort"] == low.port
        time.sleep(21)
        assert _get(low, ENDPOINTS)["metadata"]["resourceVersion"] == before
        assert _get(low, SERVICE)["metadata"]["resourceVersion"] == service_before["metadata"]["resourceVersion"]
        assert _master_leases(etcd.urls[0]) == names

        low.stop()
        # The stopping replica writes this itself before it exits: well before the other's next reconcile (10 s).
        _wait_for(lambda: _subset(high) == (["127.0.0.1"], [high.port]), timeout=8)
        assert _master_leases(etcd.urls[0]) == {"127.0.0.1_%d" % high.port}
        slice_ = _get(high, "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes")
        assert slice_["ports"][0]["port"] == high.port
        assert _get(high, SERVICE)["spec"]["ports"][0]["targetPort"] == high.port
    finally:
        a.stop()
        b.stop()

"""
Two kapiserver processes on one etcd enforce one ResourceQuota together: each charges the quota's status.used
with the resourceVersion it read, so pods created at once through both never pass the quota.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

PODS = "/api/v1/namespaces/default/pods"
QUOTAS = "/api/v1/namespaces/default/resourcequotas"


def _wait(check, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.05)


def test_pods_created_at_once_through_two_apiservers_share_one_quota(etcd, apiservers):
    """Ten pods created at once, five through each apiserver, against ``pods: 3``: three are created, seven are
    refused with upstream's message, and the quota's status.used says 3."""
    servers = [apiservers(etcd.urls, "a"), apiservers(etcd.urls, "b")]
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "pods"},
             "spec": {"hard": {"pods": "3"}}}
    status, body = servers[0].request("POST", QUOTAS, quota)
    assert status == 201, body
    for server in servers:
        # Each apiserver's watch cache has the quota, counted, and the namespace has its default ServiceAccount.
        _wait(lambda: any(((q.get("status") or {}).get("used") or {}).get("pods") == "0"
                          for q in server.request("GET", QUOTAS + "?resourceVersion=0")[1]["items"]))
        _wait(lambda: server.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200)

    def create(i):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}"},
               "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        return servers[i % 2].request("POST", PODS, pod)

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(create, range(10)))
    assert sorted(status for status, _ in results) == [201] * 3 + [403] * 7, results
    for status, body in results:
        if status == 403:
            assert body["message"].endswith("is forbidden: exceeded quota: pods, requested: pods=1, used: pods=3, "
                                            "limited: pods=3"), body
    for server in servers:
        assert len(server.request("GET", PODS)[1]["items"]) == 3
    assert servers[1].request("GET", QUOTAS + "/pods")[1]["status"]["used"] == {"pods": "3"}

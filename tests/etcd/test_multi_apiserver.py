"""
Two kapiserver processes on one etcd serve one cluster: a write through one is
seen, in order, by a watch on the other, and service cluster IPs handed out by
both never collide.
"""

from __future__ import annotations

import http.client
import json
from concurrent.futures import ThreadPoolExecutor


def _configmap(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": name}}


def test_write_through_one_is_watched_in_order_on_the_other(etcd, apiservers):
    """ConfigMaps created through apiserver A arrive as ADDED events, in creation order, on a watch served by B."""
    a = apiservers(etcd.urls, "a")
    b = apiservers(etcd.urls, "b")
    status, listing = b.request("GET", "/api/v1/namespaces/default/configmaps")
    assert status == 200
    conn = http.client.HTTPConnection("127.0.0.1", b.port, timeout=10)
    conn.request("GET", "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion="
                 + listing["metadata"]["resourceVersion"])
    response = conn.getresponse()
    assert response.status == 200
    created = []
    for i in range(5):
        status, body = a.request("POST", "/api/v1/namespaces/default/configmaps", _configmap(f"cm-{i}"))
        assert status == 201, body
        created.append((body["metadata"]["name"], body["metadata"]["resourceVersion"]))
    seen = []
    while len(seen) < 5:
        event = json.loads(response.readline())
        # (kube-root-ca.crt, which the elected apiserver's publisher writes after start, may come between.)
        if event["type"] == "ADDED" and event["object"]["metadata"]["name"].startswith("cm-"):
            seen.append((event["object"]["metadata"]["name"], event["object"]["metadata"]["resourceVersion"]))
    conn.close()
    assert seen == created
    status, got = b.request("GET", "/api/v1/namespaces/default/configmaps/cm-4")
    assert status == 200 and got["data"] == {"k": "cm-4"}


def test_service_cluster_ips_stay_unique_across_apiservers(etcd, apiservers):
    """Services created concurrently through two apiservers all get different cluster IPs."""
    servers = [apiservers(etcd.urls, "a"), apiservers(etcd.urls, "b")]

    def create(i):
        service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"svc-{i}"},
                   "spec": {"ports": [{"port": 80}]}}
        status, body = servers[i % 2].request("POST", "/api/v1/namespaces/default/services", service)
        assert status == 201, body
        return body["spec"]["clusterIP"]

    with ThreadPoolExecutor(8) as pool:
        ips = list(pool.map(create, range(24)))
    assert len(set(ips)) == len(ips)
    status, services = servers[1].request("GET", "/api/v1/services")
    assert len({s["spec"]["clusterIP"] for s in services["items"]}) == len(services["items"]) == 25

"""Only pods delete gracefully: any other kind deleted with gracePeriodSeconds goes at once, as upstream
(its generic store honours a grace period only for strategies that delete gracefully).  Found while
running the conformance entries that delete ConfigMaps, LimitRanges, ReplicaSets and DaemonSets with a
grace period ("LimitRange, resources", "ReplicaSet, completes the lifecycle of a ReplicaSet", ...)."""

from __future__ import annotations

import pytest

CASES = {
    "configmaps": ("/api/v1/namespaces/default/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "grace-cm"}}),
    "limitranges": ("/api/v1/namespaces/default/limitranges", {
        "apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "grace-lr"},
        "spec": {"limits": [{"type": "Container", "default": {"cpu": "100m"}}]}}),
    "replicasets": ("/apis/apps/v1/namespaces/default/replicasets", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "grace-rs"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "g"}}, "template": {
            "metadata": {"labels": {"app": "g"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}),
}


@pytest.mark.parametrize("resource", sorted(CASES))
def test_delete_with_grace_period_is_immediate_for_non_pods(apiserver, resource):
    collection, body = CASES[resource]
    status, created = apiserver.request("POST", collection, body)
    assert status == 201, created
    url = f"{collection}/{body['metadata']['name']}"
    status, deleted = apiserver.request("DELETE", url, {"kind": "DeleteOptions", "apiVersion": "v1",
                                                        "gracePeriodSeconds": 30})
    assert status == 200, deleted
    status, gone = apiserver.request("GET", url)
    assert status == 404 and gone["reason"] == "NotFound"


def test_pod_on_a_node_still_deletes_gracefully(apiserver):
    """A pod bound to a node is marked with a deletionTimestamp and its grace period, and stays."""
    status, created = apiserver.request("POST", "/api/v1/namespaces/default/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "grace-pod"},
        "spec": {"nodeName": "nowhere", "containers": [{"name": "c", "image": "busybox"}]}})
    assert status == 201, created
    status, deleted = apiserver.request("DELETE", "/api/v1/namespaces/default/pods/grace-pod",
                                        {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 30})
    assert status == 200 and deleted["metadata"]["deletionGracePeriodSeconds"] == 30
    status, still = apiserver.request("GET", "/api/v1/namespaces/default/pods/grace-pod")
    assert status == 200 and still["metadata"]["deletionTimestamp"]

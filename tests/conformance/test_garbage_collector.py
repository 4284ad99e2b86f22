"""The garbage collector entry an API server alone can pass: "Garbage Collector, dependency cycle" (the
others need ReplicationController, ReplicaSet and Deployment controllers to make the dependents: they are in
test_workloads.py)."""

from __future__ import annotations

from tests.conformance.support import MERGE, ok, wait_for


def test_garbage_collector_dependency_cycle(apiserver, namespace):
    """Garbage Collector, dependency cycle"""
    pods = f"/api/v1/namespaces/{namespace}/pods"
    created = {}
    for name in ("pod1", "pod2", "pod3"):
        created[name] = ok(apiserver.request("POST", pods, {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "nginx", "image": "registry.k8s.io/nginx-slim:0.26"}]}}))

    def owned_by(owner):
        return {"metadata": {"ownerReferences": [{
            "apiVersion": "v1", "kind": "Pod", "name": owner, "uid": created[owner]["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}]}}
    # pod1 is owned by pod3, pod2 by pod1, pod3 by pod2.
    for dependent, owner in (("pod1", "pod3"), ("pod2", "pod1"), ("pod3", "pod2")):
        ok(apiserver.request("PATCH", f"{pods}/{dependent}", owned_by(owner), headers=MERGE))

    ok(apiserver.request("DELETE", f"{pods}/pod1?propagationPolicy=Background"))
    wait_for(lambda: ok(apiserver.request("GET", pods))["items"] == [], timeout=60,
             what="the garbage collector to delete all three pods")

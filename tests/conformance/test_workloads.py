"""The [sig-apps] Deployment, ReplicaSet and ReplicationController conformance entries that simulated nodes can
run: deployment-controller, replicaset-controller and replicationcontroller-controller in this process against
a real apiserver, and a simulated node (kapiserver.node.simulated) that binds pods and reports them Running
and Ready. Where upstream's test uses an image that never runs, the template here asks for a scheduler that
does not exist, so that its pods stay Pending and never Ready, as theirs do. The [sig-api-machinery] Garbage
Collector entries whose dependents these controllers make (the apiserver runs the garbage collector) are here
too.

Left out: "Replica Set, run basic image" and "Replication Controller, run basic image" (they dial the pods'
serve-hostname server: real containers and networking)."""

from __future__ import annotations

import pytest

from kapiserver.client.resources import DEPLOYMENTS, PODS, REPLICA_SETS, REPLICATION_CONTROLLERS, RESOURCE_QUOTAS
from kapiserver.client.rest import APIError
from kapiserver.controllermanager import deploymentutil as du
from tests.controllermanager.conftest import (client, controllers, eventually, namespace,  # noqa: F401
                                              run, simulated_nodes)

WORKLOADS = ("deployment-controller", "replicaset-controller", "replicationcontroller-controller")
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
HTTPD = "registry.k8s.io/e2e-test-images/httpd:2.4.38-4"
PAUSE = "registry.k8s.io/pause:3.10"
NEVER_RUNS = {"schedulerName": "no-such-scheduler"}  # stands for upstream's image that never pulls


@pytest.fixture
def cluster(controllers, simulated_nodes):  # noqa: F811
    controllers(*WORKLOADS)
    simulated_nodes("conformance-node", schedule=True)


def template(labels, image, name="c", **spec):
    return {"metadata": {"labels": dict(labels)},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": name, "image": image}], **spec}}


def new_rs(name, replicas, labels, image=HTTPD):
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "labels": dict(labels)},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "template": template(labels, image)}}


def new_rc(name, replicas, labels, image=HTTPD):
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": name, "labels": dict(labels)},
            "spec": {"replicas": replicas, "selector": dict(labels), "template": template(labels, image)}}


def new_deployment(name, replicas, labels, image, strategy="RollingUpdate", **spec):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)}, "strategy": {"type": strategy},
                     "template": template(labels, image), **spec}}


def get(resource, name, ns, c):
    return run(c.get(resource, name, ns))


def running_pods(c, ns, selector):
    return [p for p in run(c.list(PODS, ns, label_selector=selector))["items"]
            if not p["metadata"].get("deletionTimestamp") and (p.get("status") or {}).get("phase") == "Running"]


def deployment_complete(c, ns, name):
    d = get(DEPLOYMENTS, name, ns, c)
    s, want = d.get("status") or {}, d["spec"]["replicas"]
    return (s.get("observedGeneration", 0) >= d["metadata"]["generation"] and s.get("updatedReplicas", 0) == want
            and s.get("replicas", 0) == want and s.get("availableReplicas", 0) == want and d)


def owned_sets(c, ns, d):
    return [rs for rs in run(c.list(REPLICA_SETS, ns))["items"]
            if (du_ref := [r for r in rs["metadata"].get("ownerReferences") or [] if r.get("controller")])
            and du_ref[0]["uid"] == d["metadata"]["uid"]]


def new_set(c, ns, d):
    for rs in owned_sets(c, ns, d):
        if du.equal_ignore_hash(rs["spec"]["template"], d["spec"]["template"]):
            return rs
    return None


def controlled_by(obj, owner) -> bool:
    return any(r.get("controller") and r["uid"] == owner["metadata"]["uid"]
               for r in obj["metadata"].get("ownerReferences") or [])


def scale_path(resource, ns, name):
    return resource.path(ns, name, "scale")


# -- Deployment ---------------------------------------------------------------------------------------------
def test_deployment_rolling_update(cluster, client, namespace):  # noqa: F811
    """Deployment RollingUpdate: a deployment adopts a ReplicaSet of the same pods (revision 3546343826724305832),
    rolls it over to its own template at revision ...833, and keeps the adopted set as its one old set."""
    labels = {"name": "sample-pod", "pod": "httpd"}
    rs = new_rs("test-rolling-update-controller", 1, labels)
    rs["metadata"]["annotations"] = {du.REVISION_ANNOTATION: "3546343826724305832"}
    run(client.create(REPLICA_SETS, rs, namespace=namespace))
    eventually(lambda: len(running_pods(client, namespace, "name=sample-pod")) == 1)
    d = run(client.create(DEPLOYMENTS, new_deployment("test-rolling-update-deployment", 1, {"name": "sample-pod"},
                                                      AGNHOST), namespace=namespace))
    done = eventually(lambda: (x := deployment_complete(client, namespace, d["metadata"]["name"]))
                      and x["metadata"]["annotations"].get(du.REVISION_ANNOTATION) == "3546343826724305833" and x,
                      timeout=30)
    sets = owned_sets(client, namespace, done)
    old = [s for s in sets if s["metadata"]["name"] == "test-rolling-update-controller"]
    assert len(sets) == 2 and len(old) == 1 and old[0]["spec"]["replicas"] == 0
    assert new_set(client, namespace, done)["spec"]["template"]["spec"]["containers"][0]["image"] == AGNHOST


def test_deployment_recreate(cluster, client, namespace):  # noqa: F811
    """Deployment Recreate: revision 1 completes; after a template change no new pod runs beside an old one
    (status never has updatedReplicas > 0 with replicas != updatedReplicas) and revision 2 completes."""
    labels = {"name": "sample-pod-3"}
    run(client.create(DEPLOYMENTS, new_deployment("test-recreate-deployment", 1, labels, AGNHOST, "Recreate"),
                      namespace=namespace))
    eventually(lambda: (x := deployment_complete(client, namespace, "test-recreate-deployment"))
               and x["metadata"]["annotations"].get(du.REVISION_ANNOTATION) == "1")
    run(client.patch(DEPLOYMENTS, "test-recreate-deployment", {"spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": HTTPD}]}}}}, namespace, patch_type="strategic"))
    mixed = []

    def done():
        d = get(DEPLOYMENTS, "test-recreate-deployment", namespace, client)
        s = d.get("status") or {}
        if s.get("updatedReplicas", 0) > 0 and s.get("replicas", 0) != s.get("updatedReplicas", 0):
            mixed.append(s)
        return (d["spec"]["replicas"] == s.get("replicas") == s.get("updatedReplicas")
                and d["metadata"]["generation"] <= s.get("observedGeneration", 0)
                and d["metadata"]["annotations"].get(du.REVISION_ANNOTATION) == "2")
    eventually(done, timeout=30)
    assert not mixed


def test_deployment_revision_history_limit(cluster, client, namespace):  # noqa: F811
    """Deployment RevisionHistoryLimit: with revisionHistoryLimit 0, the adopted old set is deleted once the
    deployment has rolled over it; only one pod is created (the old set makes none while it is relabelled)."""
    labels = {"name": "cleanup-pod", "pod": "httpd"}
    run(client.create(REPLICA_SETS, new_rs("test-cleanup-controller", 1, labels), namespace=namespace))
    eventually(lambda: len(running_pods(client, namespace, "name=cleanup-pod")) == 1)
    before = {p["metadata"]["uid"] for p in run(client.list(PODS, namespace))["items"]}
    d = run(client.create(DEPLOYMENTS, new_deployment("test-cleanup-deployment", 1, {"name": "cleanup-pod"}, AGNHOST,
                                                      revisionHistoryLimit=0), namespace=namespace))
    eventually(lambda: deployment_complete(client, namespace, d["metadata"]["name"])
               and [s["metadata"]["name"] for s in owned_sets(client, namespace, d)] ==
               [new_set(client, namespace, d)["metadata"]["name"]], timeout=30)
    created = [p for p in run(client.list(PODS, namespace))["items"] if p["metadata"]["uid"] not in before]
    assert len(created) == 1 and created[0]["spec"]["containers"][0]["image"] == AGNHOST


def test_deployment_rollover(cluster, client, namespace):  # noqa: F811
    """Deployment Rollover: a rollout stuck on pods that never become ready (maxUnavailable 0, maxSurge 1,
    minReadySeconds 10) keeps the adopted set at 1 and the new set at 1; changing the template again rolls over
    both to revision 2, leaving them at 0 replicas."""
    rs_labels = {"name": "rollover-pod", "pod": "httpd"}
    run(client.create(REPLICA_SETS, new_rs("test-rollover-controller", 1, rs_labels), namespace=namespace))
    eventually(lambda: (get(REPLICA_SETS, "test-rollover-controller", namespace, client).get("status") or {})
               .get("readyReplicas") == 1)
    d = new_deployment("test-rollover-deployment", 1, {"name": "rollover-pod"},
                       "gcr.io/google_samples/gb-redisslave:nonexistent", minReadySeconds=10)
    d["spec"]["template"]["spec"].update(NEVER_RUNS)
    d["spec"]["template"]["spec"]["containers"][0]["name"] = "redis-slave"
    d["spec"]["strategy"]["rollingUpdate"] = {"maxUnavailable": 0, "maxSurge": 1}
    d = run(client.create(DEPLOYMENTS, d, namespace=namespace))
    eventually(lambda: (get(DEPLOYMENTS, d["metadata"]["name"], namespace, client).get("status") or {})
               .get("updatedReplicas", 0) >= 1)
    d = get(DEPLOYMENTS, d["metadata"]["name"], namespace, client)
    assert d["metadata"]["annotations"][du.REVISION_ANNOTATION] == "1"
    stuck = eventually(lambda: (n := new_set(client, namespace, d)) and (n.get("status") or {}).get("replicas") == 1
                       and n)
    old = get(REPLICA_SETS, "test-rollover-controller", namespace, client)
    assert (old["spec"]["replicas"], old["status"]["replicas"]) == (1, 1)
    assert stuck["spec"]["replicas"] == 1
    d["spec"]["template"]["spec"]["containers"][0].update(name="agnhost", image=AGNHOST)
    del d["spec"]["template"]["spec"]["schedulerName"]
    d = run(client.update(DEPLOYMENTS, d))
    eventually(lambda: (x := deployment_complete(client, namespace, d["metadata"]["name"]))
               and x["metadata"]["annotations"].get(du.REVISION_ANNOTATION) == "2", timeout=40)
    for name in ("test-rollover-controller", stuck["metadata"]["name"]):
        rs = eventually(lambda: (r := get(REPLICA_SETS, name, namespace, client))
                        and (r.get("status") or {}).get("replicas", 0) == 0 and r)
        assert rs["spec"]["replicas"] == 0


def test_deployment_proportional_scaling(cluster, client, namespace):  # noqa: F811
    """Deployment Proportional Scaling: 10 replicas (maxSurge 3, maxUnavailable 2) stuck mid-rollout hold 8 old and
    5 new; scaled to 30, the sets grow in proportion to 20 and 13."""
    labels = {"name": "httpd"}
    d = new_deployment("webserver-deployment", 10, labels, HTTPD)
    d["spec"]["strategy"]["rollingUpdate"] = {"maxSurge": 3, "maxUnavailable": 2}
    d = run(client.create(DEPLOYMENTS, d, namespace=namespace))
    eventually(lambda: deployment_complete(client, namespace, "webserver-deployment"), timeout=30)
    first = new_set(client, namespace, d)
    run(client.patch(DEPLOYMENTS, "webserver-deployment", {"spec": {"template": {"spec": {
        **NEVER_RUNS, "containers": [{"name": "c", "image": "webserver:404"}]}}}}, namespace, patch_type="strategic"))
    eventually(lambda: (f := get(REPLICA_SETS, first["metadata"]["name"], namespace, client))["spec"]["replicas"] == 8
               and (f.get("status") or {}).get("availableReplicas") == 8 and f["status"].get("replicas") == 8)
    d = get(DEPLOYMENTS, "webserver-deployment", namespace, client)
    second = eventually(lambda: (s := new_set(client, namespace, d)) and s["spec"]["replicas"] == 5
                        and (s.get("status") or {}).get("replicas") == 5 and s)
    assert (second.get("status") or {}).get("availableReplicas", 0) == 0
    assert d["status"]["availableReplicas"] >= 8
    run(client.patch(DEPLOYMENTS, "webserver-deployment", {"spec": {"replicas": 30}}, namespace))
    eventually(lambda: get(REPLICA_SETS, first["metadata"]["name"], namespace, client)["spec"]["replicas"] == 20
               and get(REPLICA_SETS, second["metadata"]["name"], namespace, client)["spec"]["replicas"] == 13)


def test_deployment_completes_the_scaling_of_a_deployment_subresource(cluster, client, namespace):  # noqa: F811
    """Deployment, completes the scaling of a Deployment subresource: one running pod; the scale subresource reads
    1/1; an update to 2 and a patch to 4 show in the deployment's spec.replicas."""
    run(client.create(DEPLOYMENTS, new_deployment("test-new-deployment", 1, {"name": "httpd"}, HTTPD),
                      namespace=namespace))
    eventually(lambda: len(running_pods(client, namespace, "name=httpd")) == 1)
    path = scale_path(DEPLOYMENTS, namespace, "test-new-deployment")
    scale = eventually(lambda: (s := run(client.request("GET", path))).get("status", {}).get("replicas") == 1 and s)
    assert scale["spec"]["replicas"] == 1
    scale["spec"]["replicas"] = 2
    scale["metadata"].pop("resourceVersion", None)
    assert run(client.request("PUT", path, scale))["spec"]["replicas"] == 2
    assert get(DEPLOYMENTS, "test-new-deployment", namespace, client)["spec"]["replicas"] == 2
    run(client.patch(DEPLOYMENTS, "test-new-deployment", {"spec": {"replicas": 4}}, namespace, subresource="scale"))
    assert get(DEPLOYMENTS, "test-new-deployment", namespace, client)["spec"]["replicas"] == 4
    eventually(lambda: deployment_complete(client, namespace, "test-new-deployment"))


def test_deployment_completes_the_lifecycle_of_a_deployment(cluster, client, namespace):  # noqa: F811
    """Deployment, completes the lifecycle of a Deployment: created with 2 ready replicas; patched (label, 1
    replica, another image) it reaches 1 ready, 1 updated, 0 unavailable; listed by label; updated (image, 2
    replicas) it reaches 2 ready; its status read and patched; deleted with deletecollection."""
    labels = {"test-deployment-static": "true"}
    d = new_deployment("test-deployment", 2, labels, AGNHOST)
    d["metadata"]["labels"] = dict(labels)
    run(client.create(DEPLOYMENTS, d, namespace=namespace))
    eventually(lambda: (get(DEPLOYMENTS, "test-deployment", namespace, client).get("status") or {})
               .get("readyReplicas") == 2)
    run(client.patch(DEPLOYMENTS, "test-deployment", {"metadata": {"labels": {"test-deployment": "patched"}},
                                                      "spec": {"replicas": 1, "template": {"spec": {
                                                          "terminationGracePeriodSeconds": 2,
                                                          "containers": [{"name": "c", "image": PAUSE}]}}}},
                     namespace, patch_type="strategic"))

    def patched():
        x = get(DEPLOYMENTS, "test-deployment", namespace, client)
        s = x.get("status") or {}
        return (s.get("readyReplicas") == 1 and s.get("updatedReplicas") == 1 and not s.get("unavailableReplicas")
                and x["spec"]["template"]["spec"]["containers"][0]["image"] == PAUSE
                and s.get("observedGeneration") == x["metadata"]["generation"] and x)
    x = eventually(patched, timeout=30)
    listed = run(client.list(DEPLOYMENTS, None, label_selector="test-deployment-static=true"))["items"]
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in listed] == [(namespace, "test-deployment")]
    x["metadata"]["labels"]["test-deployment"] = "updated"
    x["spec"]["template"]["spec"]["containers"][0]["image"] = HTTPD
    x["spec"]["replicas"] = 2
    run(client.update(DEPLOYMENTS, x))
    eventually(lambda: (y := deployment_complete(client, namespace, "test-deployment"))
               and y["status"].get("readyReplicas") == 2
               and y["spec"]["template"]["spec"]["containers"][0]["image"] == HTTPD, timeout=30)
    status = run(client.request("GET", DEPLOYMENTS.path(namespace, "test-deployment", "status")))
    assert status["status"]["replicas"] == 2
    run(client.patch(DEPLOYMENTS, "test-deployment", {"metadata": {"annotations": {"patchedstatus": "true"}},
                                                      "status": {"readyReplicas": 2}},
                     namespace, subresource="status"))
    assert get(DEPLOYMENTS, "test-deployment", namespace, client)["metadata"]["annotations"]["patchedstatus"] == "true"
    run(client.request("DELETE", DEPLOYMENTS.path(namespace), query={"labelSelector": "test-deployment-static=true"}))
    eventually(lambda: not run(client.list(DEPLOYMENTS, namespace))["items"])


def test_deployment_status_sub_resource(cluster, client, namespace):  # noqa: F811
    """Deployment, status sub-resource: a condition written with an update of /status and one written with a patch
    are both read back (the controller keeps conditions it does not own)."""
    run(client.create(DEPLOYMENTS, new_deployment("test-deployment-x", 1, {"e2e": "testing"}, HTTPD),
                      namespace=namespace))
    eventually(lambda: deployment_complete(client, namespace, "test-deployment-x"))

    def write_condition():
        d = get(DEPLOYMENTS, "test-deployment-x", namespace, client)
        d["status"]["conditions"].append({"type": "StatusUpdate", "status": "True", "reason": "E2E",
                                          "message": "Set from e2e test"})
        return run(client.update(DEPLOYMENTS, d, subresource="status"))
    eventually(write_condition)
    run(client.patch(DEPLOYMENTS, "test-deployment-x", {"status": {"conditions": [
        {"type": "StatusPatched", "status": "True"}]}}, namespace, subresource="status", patch_type="strategic"))
    eventually(lambda: {"StatusUpdate", "StatusPatched"} <=
               {c["type"] for c in get(DEPLOYMENTS, "test-deployment-x", namespace, client)["status"]["conditions"]})


# -- ReplicaSet ---------------------------------------------------------------------------------------------
def test_replica_set_adopt_matching_pods_and_release_non_matching_pods(cluster, client, namespace):  # noqa: F811
    """Replica Set, adopt matching pods and release non matching pods: a running pod is adopted (or replaced) by
    a matching new set; a pod relabelled out of the selector loses its controller reference to the set."""
    labels = {"name": "pod-adoption-release"}
    run(client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                             "metadata": {"name": "pod-adoption-release", "labels": labels},
                             "spec": {"containers": [{"name": "c", "image": AGNHOST}]}}, namespace=namespace))
    eventually(lambda: running_pods(client, namespace, "name=pod-adoption-release"))
    rs = run(client.create(REPLICA_SETS, new_rs("pod-adoption-release", 1, labels, AGNHOST), namespace=namespace))

    def adopted():
        try:
            return controlled_by(get(PODS, "pod-adoption-release", namespace, client), rs)
        except APIError as e:
            return e.code == 404
    eventually(adopted)
    pod = eventually(lambda: [p for p in running_pods(client, namespace, "name=pod-adoption-release")
                              if controlled_by(p, rs)])[0]
    pod["metadata"]["labels"] = {"name": "not-matching-name"}
    run(client.update(PODS, pod))
    eventually(lambda: not controlled_by(get(PODS, pod["metadata"]["name"], namespace, client), rs))


def test_replicaset_completes_the_scaling_of_a_replicaset_subresource(cluster, client, namespace):  # noqa: F811
    """ReplicaSet, completes the scaling of a ReplicaSet subresource: one running pod; scale reads 1/1; update to 2
    and patch to 4 show in spec.replicas."""
    run(client.create(REPLICA_SETS, new_rs("test-rs", 1, {"name": "sample-pod", "pod": "httpd"}),
                      namespace=namespace))
    eventually(lambda: len(running_pods(client, namespace, "name=sample-pod")) == 1)
    path = scale_path(REPLICA_SETS, namespace, "test-rs")
    scale = eventually(lambda: (s := run(client.request("GET", path))).get("status", {}).get("replicas") == 1 and s)
    assert scale["spec"]["replicas"] == 1
    scale["spec"]["replicas"] = 2
    scale["metadata"].pop("resourceVersion", None)
    run(client.request("PUT", path, scale))
    assert get(REPLICA_SETS, "test-rs", namespace, client)["spec"]["replicas"] == 2
    run(client.patch(REPLICA_SETS, "test-rs", {"spec": {"replicas": 4}}, namespace, subresource="scale"))
    assert get(REPLICA_SETS, "test-rs", namespace, client)["spec"]["replicas"] == 4
    eventually(lambda: len(running_pods(client, namespace, "name=sample-pod")) == 4)


def test_replicaset_is_created_replaced_and_patched(cluster, client, namespace):  # noqa: F811
    """ReplicaSet, is created, Replaced and Patched: one running pod; replaced with 2 replicas it has 2 ready;
    patched (3 replicas, another image) it has 3 ready with the patched template."""
    labels = {"name": "sample-pod", "pod": "httpd"}
    run(client.create(REPLICA_SETS, new_rs("test-rs", 1, labels), namespace=namespace))
    eventually(lambda: len(running_pods(client, namespace, "name=sample-pod")) == 1)
    def replace():      # read and replace, again on a conflict with the controller's status write
        rs = get(REPLICA_SETS, "test-rs", namespace, client)
        rs["spec"]["replicas"] = 2
        return run(client.update(REPLICA_SETS, rs))
    eventually(replace)
    eventually(lambda: (get(REPLICA_SETS, "test-rs", namespace, client).get("status") or {}).get("readyReplicas") == 2)
    run(client.patch(REPLICA_SETS, "test-rs", {"spec": {"replicas": 3, "template": {"spec": {
        "terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": PAUSE}]}}}}, namespace,
        patch_type="strategic"))
    patched = eventually(lambda: (r := get(REPLICA_SETS, "test-rs", namespace, client))
                         and (r.get("status") or {}).get("readyReplicas") == 3 and r)
    assert patched["spec"]["template"]["spec"]["containers"][0]["image"] == PAUSE


def test_replicaset_list_and_delete_a_collection_of_replicasets(cluster, client, namespace):  # noqa: F811
    """ReplicaSet, list and delete a collection of ReplicaSets: created with 3 ready replicas, found by label
    across namespaces, deleted with deletecollection."""
    labels = {"name": "sample-pod", "pod": "httpd", "e2e": "collection"}
    run(client.create(REPLICA_SETS, new_rs("test-rs", 3, labels), namespace=namespace))
    eventually(lambda: (get(REPLICA_SETS, "test-rs", namespace, client).get("status") or {}).get("readyReplicas") == 3)
    listed = run(client.list(REPLICA_SETS, None, label_selector="e2e=collection"))["items"]
    assert [i["metadata"]["name"] for i in listed if i["metadata"]["namespace"] == namespace] == ["test-rs"]
    run(client.request("DELETE", REPLICA_SETS.path(namespace), query={"labelSelector": "e2e=collection"}))
    eventually(lambda: not run(client.list(REPLICA_SETS, namespace))["items"])


def test_replicaset_status_sub_resource(cluster, client, namespace):  # noqa: F811
    """ReplicaSet, status sub-resource: read, updated (a StatusUpdate condition) and patched (a StatusPatched
    condition) through /status, each visible to later reads."""
    run(client.create(REPLICA_SETS, new_rs("test-rs", 1, {"name": "sample-pod", "pod": "httpd"}),
                      namespace=namespace))
    eventually(lambda: (get(REPLICA_SETS, "test-rs", namespace, client).get("status") or {}).get("readyReplicas") == 1)
    status = run(client.request("GET", REPLICA_SETS.path(namespace, "test-rs", "status")))
    assert status["status"]["replicas"] == 1

    def write_condition():
        rs = get(REPLICA_SETS, "test-rs", namespace, client)
        rs["status"].setdefault("conditions", []).append({"type": "StatusUpdate", "status": "True", "reason": "E2E",
                                                          "message": "Set from e2e test"})
        return run(client.update(REPLICA_SETS, rs, subresource="status"))
    eventually(write_condition)
    run(client.patch(REPLICA_SETS, "test-rs", {"status": {"conditions": [{"type": "StatusPatched", "status": "True"}]}},
                     namespace, subresource="status", patch_type="strategic"))
    eventually(lambda: {"StatusUpdate", "StatusPatched"} <=
               {c["type"] for c in get(REPLICA_SETS, "test-rs", namespace, client)["status"]["conditions"]})


# -- ReplicationController ------------------------------------------------------------------------------------
def test_replication_controller_adopt_matching_pods(cluster, client, namespace):  # noqa: F811
    """Replication Controller, adopt matching pods: an orphan pod matching a new RC's selector gets the RC as its
    controller."""
    labels = {"name": "pod-adoption"}
    run(client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pod-adoption", "labels": labels},
                             "spec": {"containers": [{"name": "c", "image": AGNHOST}]}}, namespace=namespace))
    eventually(lambda: running_pods(client, namespace, "name=pod-adoption"))
    rc = run(client.create(REPLICATION_CONTROLLERS, new_rc("pod-adoption", 1, labels, AGNHOST), namespace=namespace))
    eventually(lambda: controlled_by(get(PODS, "pod-adoption", namespace, client), rc))
    assert len(running_pods(client, namespace, "name=pod-adoption")) == 1


def test_replication_controller_release_pods(cluster, client, namespace):  # noqa: F811
    """Replication Controller, release pods: a pod of the RC relabelled out of its selector is released."""
    rc = run(client.create(REPLICATION_CONTROLLERS, new_rc("pod-release", 1, {"name": "pod-release"}, AGNHOST),
                           namespace=namespace))
    pod = eventually(lambda: running_pods(client, namespace, "name=pod-release"))[0]
    pod["metadata"]["labels"] = {"name": "not-matching-name"}
    run(client.update(PODS, pod))
    eventually(lambda: not controlled_by(get(PODS, pod["metadata"]["name"], namespace, client), rc))


def test_replication_controller_get_and_update_replicationcontroller_scale(cluster, client, namespace):  # noqa: F811
    """Replication Controller, get and update ReplicationController scale: the scale subresource reads 1 replica;
    updated to 2, the RC's spec.replicas is 2 and two pods become ready."""
    run(client.create(REPLICATION_CONTROLLERS, new_rc("e2e-rc-scale", 1, {"name": "e2e-rc-scale"}),
                      namespace=namespace))
    eventually(lambda: (get(REPLICATION_CONTROLLERS, "e2e-rc-scale", namespace, client).get("status") or {})
               .get("readyReplicas") == 1)
    path = scale_path(REPLICATION_CONTROLLERS, namespace, "e2e-rc-scale")
    scale = run(client.request("GET", path))
    assert scale["spec"]["replicas"] == 1
    scale["spec"]["replicas"] = 2
    scale["metadata"].pop("resourceVersion", None)
    run(client.request("PUT", path, scale))
    assert get(REPLICATION_CONTROLLERS, "e2e-rc-scale", namespace, client)["spec"]["replicas"] == 2
    eventually(lambda: (get(REPLICATION_CONTROLLERS, "e2e-rc-scale", namespace, client).get("status") or {})
               .get("readyReplicas") == 2)


def test_replication_controller_check_for_issues_like_exceeding_allocated_quota(cluster, client,  # noqa: F811
                                                                                  namespace):  # noqa: F811
    """Replication Controller, check for issues like exceeding allocated quota: with a quota of 2 pods an RC of 3
    gets the ReplicaFailure condition; scaled to 2 it loses it."""
    run(client.create(RESOURCE_QUOTAS, {"apiVersion": "v1", "kind": "ResourceQuota",
                                        "metadata": {"name": "condition-test"}, "spec": {"hard": {"pods": "2"}}},
                      namespace=namespace))
    eventually(lambda: (get(RESOURCE_QUOTAS, "condition-test", namespace, client).get("status") or {})
               .get("hard", {}).get("pods") == "2")
    rc = run(client.create(REPLICATION_CONTROLLERS, new_rc("condition-test", 3, {"name": "condition-test"}),
                           namespace=namespace))

    def failure():
        x = get(REPLICATION_CONTROLLERS, "condition-test", namespace, client)
        s = x.get("status") or {}
        return s.get("observedGeneration", 0) >= rc["metadata"]["generation"] and \
            du.get_condition(s, "ReplicaFailure")
    condition = eventually(failure)
    assert (condition["status"], condition["reason"]) == ("True", "FailedCreate")
    run(client.patch(REPLICATION_CONTROLLERS, "condition-test", {"spec": {"replicas": 2}}, namespace))
    eventually(lambda: (x := get(REPLICATION_CONTROLLERS, "condition-test", namespace, client))["status"].get(
        "observedGeneration", 0) >= x["metadata"]["generation"] and not du.get_condition(x["status"], "ReplicaFailure"),
        timeout=30)


def test_replication_controller_lifecycle(cluster, client, namespace):  # noqa: F811
    """Replication Controller, lifecycle: created, it gets 1 ready and available replica; patched (labels); its
    status patched; its scale read and set to 2, giving 2 ready; found by label across namespaces; deleted
    with deletecollection."""
    labels = {"test-rc-static": "true"}
    rc = new_rc("rc-test", 1, labels)
    run(client.create(REPLICATION_CONTROLLERS, rc, namespace=namespace))
    eventually(lambda: (s := get(REPLICATION_CONTROLLERS, "rc-test", namespace, client).get("status") or {})
               .get("readyReplicas") == 1 and s.get("availableReplicas") == 1)
    patched = run(client.patch(REPLICATION_CONTROLLERS, "rc-test", {"metadata": {"labels": {"rc": "patched"}}},
                               namespace, patch_type="strategic"))
    assert patched["metadata"]["labels"]["rc"] == "patched"
    status = run(client.patch(REPLICATION_CONTROLLERS, "rc-test", {"status": {"readyReplicas": 0,
                                                                             "availableReplicas": 0}},
                              namespace, subresource="status"))
    assert status["status"].get("readyReplicas", 0) == 0
    path = scale_path(REPLICATION_CONTROLLERS, namespace, "rc-test")
    scale = run(client.request("GET", path))
    assert scale["spec"]["replicas"] == 1
    scale["spec"]["replicas"] = 2
    scale["metadata"].pop("resourceVersion", None)
    run(client.request("PUT", path, scale))
    eventually(lambda: (get(REPLICATION_CONTROLLERS, "rc-test", namespace, client).get("status") or {})
               .get("readyReplicas") == 2)
    listed = run(client.list(REPLICATION_CONTROLLERS, None, label_selector="test-rc-static=true"))["items"]
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in listed] == [(namespace, "rc-test")]
    run(client.request("DELETE", REPLICATION_CONTROLLERS.path(namespace),
                       query={"labelSelector": "test-rc-static=true"}))
    eventually(lambda: not run(client.list(REPLICATION_CONTROLLERS, namespace))["items"])


# -- [sig-api-machinery] Garbage Collector entries that need these controllers to make the dependents --------
def _remaining(c, ns):
    pods = [p for p in run(c.list(PODS, ns))["items"]]
    return {"rcs": len(run(c.list(REPLICATION_CONTROLLERS, ns))["items"]),
            "deployments": len(run(c.list(DEPLOYMENTS, ns))["items"]),
            "sets": len(run(c.list(REPLICA_SETS, ns))["items"]), "pods": len(pods)}


def _gc_rc(name, replicas, labels):
    rc = new_rc(name, replicas, labels, "registry.k8s.io/e2e-test-images/nginx:1.14-4")
    rc["metadata"].pop("labels")
    return rc


def _gc_deployment(labels):
    return new_deployment("simpletest.deployment", 2, labels, "registry.k8s.io/e2e-test-images/nginx:1.14-4")


def _delete(c, resource, obj, policy):
    run(c.delete(resource, obj["metadata"]["name"], obj["metadata"]["namespace"], propagation_policy=policy,
                 preconditions={"uid": obj["metadata"]["uid"]}))


def test_garbage_collector_delete_replication_controller_propagation_policy_background(cluster, client,  # noqa: F811
                                                                                       namespace):  # noqa: F811
    """Garbage Collector, delete replication controller, propagation policy background: an RC of 2 deleted
    (Background) as soon as it has a pod takes its pods with it."""
    rc = run(client.create(REPLICATION_CONTROLLERS, _gc_rc("simpletest.rc", 2, {"gctest-00001": "delete_pods-00001"}),
                           namespace=namespace))
    eventually(lambda: run(client.list(PODS, namespace))["items"])
    _delete(client, REPLICATION_CONTROLLERS, rc, "Background")
    eventually(lambda: _remaining(client, namespace) == {"rcs": 0, "deployments": 0, "sets": 0, "pods": 0},
               timeout=30)


def test_garbage_collector_delete_replication_controller_propagation_policy_orphan(cluster, client,  # noqa: F811
                                                                                   namespace):  # noqa: F811
    """Garbage Collector, delete replication controller, propagation policy orphan: an RC of 10 (upstream: between
    10 and 100, by node capacity) deleted with Orphan once its pods exist leaves all of them, without an owner
    (upstream watches for 30 s; here 3)."""
    rc = run(client.create(REPLICATION_CONTROLLERS, _gc_rc("simpletest.rc", 10, {"gctest-00002": "orphan_pods-00002"}),
                           namespace=namespace))
    eventually(lambda: (get(REPLICATION_CONTROLLERS, "simpletest.rc", namespace, client).get("status") or {})
               .get("replicas") == 10)
    _delete(client, REPLICATION_CONTROLLERS, rc, "Orphan")
    eventually(lambda: not run(client.list(REPLICATION_CONTROLLERS, namespace))["items"], timeout=30)
    try:
        eventually(lambda: len(run(client.list(PODS, namespace))["items"]) != 10, timeout=3)
        raise AssertionError("pods of the orphaning RC were deleted")
    except TimeoutError:
        pass
    pods = run(client.list(PODS, namespace))["items"]
    assert len(pods) == 10 and not any(controlled_by(p, rc) for p in pods)


def test_garbage_collector_delete_deployment_propagation_policy_background(cluster, client,  # noqa: F811
                                                                           namespace):  # noqa: F811
    """Garbage Collector, delete deployment,  propagation policy background: once the deployment has made its
    ReplicaSet, deleting it (Background) removes the set and the pods."""
    d = run(client.create(DEPLOYMENTS, _gc_deployment({"gctest-00003": "delete_rs-00003"}), namespace=namespace))
    eventually(lambda: run(client.list(REPLICA_SETS, namespace))["items"])
    _delete(client, DEPLOYMENTS, d, "Background")
    eventually(lambda: _remaining(client, namespace) == {"rcs": 0, "deployments": 0, "sets": 0, "pods": 0},
               timeout=30)


def test_garbage_collector_delete_deployment_propagation_policy_orphan(cluster, client, namespace):  # noqa: F811
    """Garbage Collector, delete deployment, propagation policy orphan: a deployment of 2 deleted with Orphan once
    its set has its pods leaves the set (without a controller) and the 2 pods."""
    d = run(client.create(DEPLOYMENTS, _gc_deployment({"gctest-00004": "orphan_rs-00004"}), namespace=namespace))
    rs = eventually(lambda: run(client.list(REPLICA_SETS, namespace))["items"])[0]
    eventually(lambda: (r := get(REPLICA_SETS, rs["metadata"]["name"], namespace, client).get("status") or {})
               .get("observedGeneration", 0) >= rs["metadata"]["generation"]
               and r.get("replicas") == rs["spec"]["replicas"])
    _delete(client, DEPLOYMENTS, d, "Orphan")
    eventually(lambda: not run(client.list(DEPLOYMENTS, namespace))["items"], timeout=30)
    assert _remaining(client, namespace) == {"rcs": 0, "deployments": 0, "sets": 1, "pods": 2}
    eventually(lambda: not any(r.get("controller") for s in run(client.list(REPLICA_SETS, namespace))["items"]
                               for r in s["metadata"].get("ownerReferences") or []))


def test_garbage_collector_delete_replication_controller_after_owned_pods(cluster, client, namespace):  # noqa: F811
    """Garbage Collector, delete replication controller, after owned pods: an RC of 10 deleted with Foreground
    is gone only after its pods are."""
    rc = run(client.create(REPLICATION_CONTROLLERS,
                           _gc_rc("simpletest.rc", 10, {"gctest-00005": "delete_pods_foreground-00005"}),
                           namespace=namespace))
    eventually(lambda: (get(REPLICATION_CONTROLLERS, "simpletest.rc", namespace, client).get("status") or {})
               .get("replicas") == 10)
    _delete(client, REPLICATION_CONTROLLERS, rc, "Foreground")
    def rc_gone():
        try:
            get(REPLICATION_CONTROLLERS, "simpletest.rc", namespace, client)
        except APIError as e:
            if e.code == 404:
                return True
            raise
        return False
    eventually(rc_gone, timeout=30)
    assert run(client.list(PODS, namespace))["items"] == []


def test_garbage_collector_multiple_owners(cluster, client, namespace):  # noqa: F811
    """Garbage Collector, multiple owners: half the pods of RC1 (10) also get RC2 (0 replicas, another selector)
    as a non-controller owner; deleting RC1 in the foreground deletes only the pods it owns alone, the other
    half stays without a deletion timestamp."""
    rc1 = run(client.create(REPLICATION_CONTROLLERS,
                            _gc_rc("simpletest-rc-to-be-deleted", 10, {"gctest-00006": "valid_and_pending-00006"}),
                            namespace=namespace))
    rc2 = run(client.create(REPLICATION_CONTROLLERS,
                            _gc_rc("simpletest-rc-to-stay", 0, {"gctest-00007": "valid_and_pending-00007"}),
                            namespace=namespace))
    eventually(lambda: (get(REPLICATION_CONTROLLERS, rc1["metadata"]["name"], namespace, client).get("status") or {})
               .get("replicas") == 10)
    pods = run(client.list(PODS, namespace))["items"]
    kept = sorted(p["metadata"]["name"] for p in pods)[:5]
    second_owner = {"apiVersion": "v1", "kind": "ReplicationController", "name": rc2["metadata"]["name"],
                    "uid": rc2["metadata"]["uid"]}
    for name in kept:
        pod = get(PODS, name, namespace, client)
        run(client.patch(PODS, name, {"metadata": {"ownerReferences": [
            *pod["metadata"]["ownerReferences"], second_owner]}}, namespace))
    _delete(client, REPLICATION_CONTROLLERS, rc1, "Foreground")

    def rc1_gone():
        try:
            get(REPLICATION_CONTROLLERS, rc1["metadata"]["name"], namespace, client)
            return False
        except APIError as e:
            if e.code == 404:
                return True
            raise
    eventually(rc1_gone, timeout=30)
    left = eventually(lambda: (p := run(client.list(PODS, namespace))["items"]) and len(p) == 5 and p)
    assert sorted(p["metadata"]["name"] for p in left) == kept
    assert not any(p["metadata"].get("deletionTimestamp") for p in left)

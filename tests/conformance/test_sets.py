"""[sig-apps] conformance entries of StatefulSet, DaemonSet and PodDisruptionBudget that the statefulset,
daemonset and disruption controllers make possible, run in this process against a real kube-apiserver, with
simulated nodes for kubelets (kwok-like: a bound pod is reported Running and Ready at once; no container runs).

Where the e2e test makes a pod unhealthy by breaking its readiness probe (an HTTP probe of a real webserver),
these tests set the pod's Ready condition to False through pods/status, which is what the kubelet would report;
where it uses a ReplicaSet (the replicaset controller is not in this group), a StatefulSet stands in."""

from __future__ import annotations

import pytest

from kapiserver.client.resources import (CONTROLLER_REVISIONS, DAEMON_SETS, EVENTS, NODES,
                                         POD_DISRUPTION_BUDGETS, PODS, STATEFUL_SETS)
from kapiserver.client.rest import APIError
from tests.controllermanager.conftest import (client, controllers, eventually, namespace,  # noqa: F401
                                              nodes, run, simulated_nodes)

# -- helpers -------------------------------------------------------------------------------------------------

HTTPD = "registry.k8s.io/e2e-test-images/httpd:2.4.38-4"


def stateful_set(name, replicas=1, **spec):
    labels = {"foo": "bar", "baz": "blah"}
    body = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "serviceName": "test", "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "webserver", "image": HTTPD}]}}}}
    body["spec"].update(spec)
    return body


def daemon_set(name, **pod_spec):
    labels = {"daemonset-name": name}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "labels": labels},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image":
                                                           "registry.k8s.io/e2e-test-images/httpd:2.4.38-4"}],
                                           **pod_spec}}}}


class PodWatch:
    """ADDED and DELETED pod names in the order the API's watch reports them."""

    def __init__(self, client, namespace):  # noqa: F811
        self.added, self.deleted = [], []
        self.watch = client.watch(PODS, self._event, namespace=namespace)

    def _event(self, kind, obj):
        if kind == "ADDED":
            self.added.append(obj["metadata"]["name"])
        elif kind == "DELETED":
            self.deleted.append(obj["metadata"]["name"])

    def close(self):
        self.watch.cancel()


def get(client, resource, name, namespace):  # noqa: F811
    return run(client.get(resource, name, namespace))


def live_pods(client, namespace, prefix=""):  # noqa: F811
    return sorted((p for p in run(client.list(PODS, namespace))["items"]
                   if not p["metadata"].get("deletionTimestamp") and p["metadata"]["name"].startswith(prefix)),
                  key=lambda p: p["metadata"]["name"])


def set_ready(client, namespace, name, ready: bool):  # noqa: F811
    run(client.patch(PODS, name, {"status": {"conditions": [{"type": "Ready",
                                                             "status": "True" if ready else "False"}]}},
                     namespace, patch_type="strategic", subresource="status"))


def ready_replicas(client, namespace, name):  # noqa: F811
    return (get(client, STATEFUL_SETS, name, namespace).get("status") or {}).get("readyReplicas", 0)


def settle(seconds=1.0):
    """Turn the reactor for a while (to see that something does not happen)."""
    import time
    until = time.monotonic() + seconds
    eventually(lambda: time.monotonic() >= until, timeout=seconds + 5)


# -- StatefulSet ---------------------------------------------------------------------------------------------


def test_statefulset_scaling(controllers, nodes, client, namespace):  # noqa: F811
    """StatefulSet, Scaling

    Pods are created in ascending ordinal order and deleted in descending order, and scaling up or down pauses while
    any pod of the set is unhealthy.
    """
    controllers("statefulset-controller")
    nodes("conf-ss-scale")
    watch = PodWatch(client, namespace)
    run(client.create(STATEFUL_SETS, stateful_set("ss"), namespace))
    eventually(lambda: ready_replicas(client, namespace, "ss") == 1)
    set_ready(client, namespace, "ss-0", False)
    eventually(lambda: ready_replicas(client, namespace, "ss") == 0)
    run(client.patch(STATEFUL_SETS, "ss", {"spec": {"replicas": 3}}, namespace))
    settle()
    assert [p["metadata"]["name"] for p in live_pods(client, namespace)] == ["ss-0"]
    set_ready(client, namespace, "ss-0", True)
    eventually(lambda: ready_replicas(client, namespace, "ss") == 3)
    assert watch.added == ["ss-0", "ss-1", "ss-2"]
    for name in ("ss-0", "ss-1", "ss-2"):
        set_ready(client, namespace, name, False)
    eventually(lambda: ready_replicas(client, namespace, "ss") == 0)
    run(client.patch(STATEFUL_SETS, "ss", {"spec": {"replicas": 0}}, namespace))
    settle()
    assert len(live_pods(client, namespace)) == 3
    for name in ("ss-0", "ss-1", "ss-2"):
        # Once ss-0 and ss-1 are healthy, ss-2 is the set's first unhealthy pod, which upstream's monotonic
        # scale-down may delete: it can be gone before its turn here.
        try:
            set_ready(client, namespace, name, True)
        except APIError as e:
            if e.code != 404:
                raise
    eventually(lambda: live_pods(client, namespace) == [] and watch.deleted == ["ss-2", "ss-1", "ss-0"])
    watch.close()


def test_statefulset_burst_scaling(controllers, nodes, client, namespace):  # noqa: F811
    """StatefulSet, Burst Scaling

    With the Parallel policy, scaling up and down proceeds though pods are unhealthy.
    """
    controllers("statefulset-controller")
    nodes("conf-ss-burst")
    run(client.create(STATEFUL_SETS, stateful_set("ss", podManagementPolicy="Parallel"), namespace))
    eventually(lambda: ready_replicas(client, namespace, "ss") == 1)
    set_ready(client, namespace, "ss-0", False)
    eventually(lambda: ready_replicas(client, namespace, "ss") == 0)
    run(client.patch(STATEFUL_SETS, "ss", {"spec": {"replicas": 3}}, namespace))
    eventually(lambda: len(live_pods(client, namespace)) == 3 and ready_replicas(client, namespace, "ss") == 2)
    for name in ("ss-1", "ss-2"):
        set_ready(client, namespace, name, False)
    eventually(lambda: ready_replicas(client, namespace, "ss") == 0)
    run(client.patch(STATEFUL_SETS, "ss", {"spec": {"replicas": 0}}, namespace))
    eventually(lambda: live_pods(client, namespace) == [])


def test_statefulset_recreate_failed_pod(controllers, nodes, client, namespace):  # noqa: F811
    """StatefulSet, Recreate Failed Pod

    A pod of the set that goes into the Failed phase (as when a node rejects or evicts it) is deleted and made
    again.
    """
    controllers("statefulset-controller")
    nodes("conf-ss-failed")
    run(client.create(STATEFUL_SETS, stateful_set("ss"), namespace))
    eventually(lambda: ready_replicas(client, namespace, "ss") == 1)
    uid = get(client, PODS, "ss-0", namespace)["metadata"]["uid"]
    run(client.patch(PODS, "ss-0", {"status": {"phase": "Failed"}}, namespace, subresource="status"))
    eventually(lambda: (p := get(client, PODS, "ss-0", namespace))["metadata"]["uid"] != uid and
               p["status"].get("phase") == "Running")
    # The controller says only that it deleted the pod (no RecreatingFailedPod event since kubernetes#123809).
    eventually(lambda: "delete Pod ss-0 in StatefulSet ss successful" in
               [e["message"] for e in run(client.list(EVENTS, namespace))["items"]
                if e["reason"] == "SuccessfulDelete"])
    assert not [e for e in run(client.list(EVENTS, namespace))["items"] if e["reason"].startswith("Recreating")]


def test_statefulset_resource_replica_scaling(controllers, nodes, client, namespace):  # noqa: F811
    """StatefulSet resource Replica scaling

    A new StatefulSet has a scale of one; updating the scale subresource to two makes the set two replicas, and
    patching it works too.
    """
    controllers("statefulset-controller")
    nodes("conf-ss-scale-sub")
    run(client.create(STATEFUL_SETS, stateful_set("ss"), namespace))
    eventually(lambda: ready_replicas(client, namespace, "ss") == 1)
    path = STATEFUL_SETS.path(namespace, "ss", "scale")
    scale = run(client.request("GET", path))
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1
    assert scale["status"]["selector"] == "baz=blah,foo=bar"
    scale["spec"]["replicas"] = 2
    updated = run(client.request("PUT", path, scale))
    assert updated["spec"]["replicas"] == 2
    assert get(client, STATEFUL_SETS, "ss", namespace)["spec"]["replicas"] == 2
    run(client.patch(STATEFUL_SETS, "ss", {"spec": {"replicas": 4}}, namespace, subresource="scale"))
    assert get(client, STATEFUL_SETS, "ss", namespace)["spec"]["replicas"] == 4
    eventually(lambda: ready_replicas(client, namespace, "ss") == 4)


def test_statefulset_rolling_update(controllers, nodes, client, namespace):  # noqa: F811
    """StatefulSet, Rolling Update

    A template change replaces the pods one at a time at a new update revision, which becomes current; changing the
    template back is a rollback to the earlier revision, not a new one.
    """
    controllers("statefulset-controller")
    nodes("conf-ss-roll")
    run(client.create(STATEFUL_SETS, stateful_set("ss2", replicas=3), namespace))
    eventually(lambda: ready_replicas(client, namespace, "ss2") == 3)
    first = get(client, STATEFUL_SETS, "ss2", namespace)["status"]
    assert first["currentRevision"] == first["updateRevision"]
    old_image = "registry.k8s.io/e2e-test-images/httpd:2.4.38-4"
    new_image = "registry.k8s.io/e2e-test-images/httpd:2.4.39-4"

    def set_image(image):
        sset = get(client, STATEFUL_SETS, "ss2", namespace)
        sset["spec"]["template"]["spec"]["containers"][0]["image"] = image
        run(client.update(STATEFUL_SETS, sset))

    def rolled(image):
        status = get(client, STATEFUL_SETS, "ss2", namespace).get("status") or {}
        pods = live_pods(client, namespace)
        return (len(pods) == 3 and all(p["spec"]["containers"][0]["image"] == image for p in pods) and
                status.get("currentRevision") == status.get("updateRevision") and
                status.get("readyReplicas") == 3 and status.get("updatedReplicas") == 3 and status)
    set_image(new_image)
    second = eventually(lambda: rolled(new_image))
    assert second["updateRevision"] != first["updateRevision"]
    assert all(p["metadata"]["labels"]["controller-revision-hash"] == second["updateRevision"]
               for p in live_pods(client, namespace))
    set_image(old_image)
    third = eventually(lambda: rolled(old_image))
    assert third["updateRevision"] == first["updateRevision"]
    assert len(run(client.list(CONTROLLER_REVISIONS, namespace))["items"]) == 2


def test_statefulset_rolling_update_with_partition(controllers, nodes, client, namespace):  # noqa: F811
    """StatefulSet, Rolling Update with Partition

    No pod is updated while the partition is above the replicas; a canary partition updates only the ordinals at or
    above it; deleted pods come back at the revision their ordinal should have; lowering the partition step by step
    finishes the update.
    """
    controllers("statefulset-controller")
    nodes("conf-ss-part")
    run(client.create(STATEFUL_SETS, stateful_set("ss2", replicas=3, updateStrategy={
        "type": "RollingUpdate", "rollingUpdate": {"partition": 3}}), namespace))
    eventually(lambda: ready_replicas(client, namespace, "ss2") == 3)
    current = get(client, STATEFUL_SETS, "ss2", namespace)["status"]["currentRevision"]
    run(client.patch(STATEFUL_SETS, "ss2", {"spec": {"template": {"spec": {"containers": [
        {"name": "webserver", "image": "new"}]}}}}, namespace, patch_type="strategic"))
    update = eventually(lambda: (s := get(client, STATEFUL_SETS, "ss2", namespace)["status"])["updateRevision"] !=
                        current and s["updateRevision"])
    settle()
    assert all(p["metadata"]["labels"]["controller-revision-hash"] == current for p in live_pods(client, namespace))

    def revisions():
        pods = live_pods(client, namespace)
        return [p["metadata"]["labels"]["controller-revision-hash"] for p in pods] if len(pods) == 3 and all(
            p["status"].get("phase") == "Running" for p in pods) else None

    def partition(n):
        run(client.patch(STATEFUL_SETS, "ss2", {"spec": {"updateStrategy": {"rollingUpdate": {"partition": n}}}},
                         namespace))
    partition(2)
    eventually(lambda: revisions() == [current, current, update])
    run(client.delete(PODS, "ss2-0", namespace))
    run(client.delete(PODS, "ss2-2", namespace))
    eventually(lambda: revisions() == [current, current, update] and ready_replicas(client, namespace, "ss2") == 3)
    partition(1)
    eventually(lambda: revisions() == [current, update, update])
    partition(0)
    eventually(lambda: revisions() == [update, update, update] and
               get(client, STATEFUL_SETS, "ss2", namespace)["status"]["currentRevision"] == update)


def test_statefulset_list_patch_and_delete_collection(controllers, nodes, client, namespace):  # noqa: F811
    """StatefulSet, list, patch and delete a collection of StatefulSets

    A set found by label is patched (template and labels), its pods follow, and a deletecollection by label removes
    it.
    """
    controllers("statefulset-controller")
    nodes("conf-ss-coll")
    run(client.create(STATEFUL_SETS, stateful_set("test-ss"), namespace))
    eventually(lambda: ready_replicas(client, namespace, "test-ss") == 1)
    found = run(client.list(STATEFUL_SETS, namespace, label_selector="foo=bar"))["items"]
    assert [s["metadata"]["name"] for s in found] == ["test-ss"]
    run(client.patch(STATEFUL_SETS, "test-ss", {"metadata": {"labels": {"test-ss": "patched"}},
                                                "spec": {"template": {"spec": {
                                                    "terminationGracePeriodSeconds": 1}}}},
                     namespace))
    eventually(lambda: (p := live_pods(client, namespace)) and
               p[0]["spec"].get("terminationGracePeriodSeconds") == 1 and p[0]["status"].get("phase") == "Running")
    assert run(client.list(STATEFUL_SETS, namespace, label_selector="test-ss=patched"))["items"]
    run(client.request("DELETE", STATEFUL_SETS.path(namespace), query={"labelSelector": "test-ss=patched"}))
    eventually(lambda: run(client.list(STATEFUL_SETS, namespace, label_selector="test-ss=patched"))["items"] == [])


def test_statefulset_status_subresource(controllers, nodes, client, namespace):  # noqa: F811
    """StatefulSet, status sub-resource

    The status read, updated (a condition) and patched through statefulsets/status is what later reads show, and the
    controller keeps the condition.
    """
    controllers("statefulset-controller")
    nodes("conf-ss-status")
    run(client.create(STATEFUL_SETS, stateful_set("ss"), namespace))
    eventually(lambda: ready_replicas(client, namespace, "ss") == 1)
    path = STATEFUL_SETS.path(namespace, "ss", "status")
    sset = run(client.request("GET", path))
    sset["status"]["conditions"] = [{"type": "StatusUpdate", "status": "True", "reason": "E2E",
                                     "message": "Set from e2e test"}]
    run(client.update(STATEFUL_SETS, sset, subresource="status"))
    run(client.patch(STATEFUL_SETS, "ss", {"status": {"conditions": [
        {"type": "StatusUpdate", "status": "True", "reason": "E2E", "message": "Set from e2e test"},
        {"type": "StatusPatched", "status": "True"}]}}, namespace, subresource="status"))
    run(client.patch(STATEFUL_SETS, "ss", {"spec": {"replicas": 2}}, namespace))
    status = eventually(lambda: (s := get(client, STATEFUL_SETS, "ss", namespace)["status"]).get("readyReplicas")
                        == 2 and s)
    assert [c["type"] for c in status["conditions"]] == ["StatusUpdate", "StatusPatched"]


# -- DaemonSet -----------------------------------------------------------------------------------------------


def ds_status(client, namespace, name):  # noqa: F811
    return get(client, DAEMON_SETS, name, namespace).get("status") or {}


def test_daemonset_creation(controllers, nodes, client, namespace):  # noqa: F811
    """DaemonSet-Creation

    A DaemonSet runs one pod per node, and a deleted daemon pod is replaced.
    """
    nodes("conf-ds-c1", "conf-ds-c2")
    controllers("daemonset-controller")
    run(client.create(DAEMON_SETS, daemon_set("daemon-set"), namespace))
    eventually(lambda: ds_status(client, namespace, "daemon-set").get("numberAvailable") == 2)
    pods = live_pods(client, namespace)
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["conf-ds-c1", "conf-ds-c2"]
    run(client.delete(PODS, pods[0]["metadata"]["name"], namespace))
    eventually(lambda: len(live_pods(client, namespace)) == 2 and
               pods[0]["metadata"]["name"] not in [p["metadata"]["name"] for p in live_pods(client, namespace)]
               and ds_status(client, namespace, "daemon-set").get("numberAvailable") == 2)


def test_daemonset_node_selection(controllers, nodes, client, namespace):  # noqa: F811
    """DaemonSet-NodeSelection

    Pods run only on nodes whose labels match the nodeSelector; relabelling the node stops them; changing the
    DaemonSet's selector to the new label starts them again.
    """
    nodes("conf-ds-sel")
    controllers("daemonset-controller")
    run(client.create(DAEMON_SETS, daemon_set("daemon-set", nodeSelector={"color": "blue"}), namespace))
    eventually(lambda: ds_status(client, namespace, "daemon-set").get("observedGeneration") == 1)
    assert live_pods(client, namespace) == []
    run(client.patch(NODES, "conf-ds-sel", {"metadata": {"labels": {"color": "blue"}}}))
    eventually(lambda: ds_status(client, namespace, "daemon-set").get("numberAvailable") == 1)
    run(client.patch(NODES, "conf-ds-sel", {"metadata": {"labels": {"color": "green"}}}))
    eventually(lambda: live_pods(client, namespace) == [])
    run(client.patch(DAEMON_SETS, "daemon-set", {"spec": {
        "template": {"spec": {"nodeSelector": {"color": "green"}}},
        "updateStrategy": {"type": "RollingUpdate"}}}, namespace))
    eventually(lambda: [p["spec"].get("nodeName") for p in live_pods(client, namespace)] == ["conf-ds-sel"] and
               ds_status(client, namespace, "daemon-set").get("numberAvailable") == 1)


def test_daemonset_failed_pod_creation(controllers, nodes, client, namespace):  # noqa: F811
    """DaemonSet-FailedPodCreation

    A daemon pod that fails is replaced by a new one.
    """
    nodes("conf-ds-fail")
    controllers("daemonset-controller")
    run(client.create(DAEMON_SETS, daemon_set("daemon-set"), namespace))
    eventually(lambda: ds_status(client, namespace, "daemon-set").get("numberAvailable") == 1)
    pod = live_pods(client, namespace)[0]
    run(client.patch(PODS, pod["metadata"]["name"], {"status": {"phase": "Failed"}}, namespace,
                     subresource="status"))
    eventually(lambda: [p for p in live_pods(client, namespace) if p["metadata"]["uid"] != pod["metadata"]["uid"]
                        and p["status"].get("phase") == "Running"])


def test_daemonset_rolling_update(controllers, nodes, client, namespace):  # noqa: F811
    """DaemonSet-RollingUpdate

    An image change replaces every daemon pod with one of the new template.
    """
    nodes("conf-ds-r1", "conf-ds-r2")
    controllers("daemonset-controller")
    run(client.create(DAEMON_SETS, daemon_set("daemon-set"), namespace))
    eventually(lambda: ds_status(client, namespace, "daemon-set").get("numberAvailable") == 2)
    first = get(client, DAEMON_SETS, "daemon-set", namespace)
    new_image = "registry.k8s.io/e2e-test-images/agnhost:2.52"
    run(client.patch(DAEMON_SETS, "daemon-set", {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": new_image}]}}}}, namespace, patch_type="strategic"))
    eventually(lambda: [p["spec"]["containers"][0]["image"] for p in live_pods(client, namespace)] ==
               [new_image, new_image] and
               ds_status(client, namespace, "daemon-set").get("updatedNumberScheduled") == 2 and
               ds_status(client, namespace, "daemon-set").get("numberAvailable") == 2)
    hashes = {p["metadata"]["labels"]["controller-revision-hash"] for p in live_pods(client, namespace)}
    revisions = run(client.list(CONTROLLER_REVISIONS, namespace))["items"]
    newest = max(revisions, key=lambda r: r["revision"])
    assert hashes == {newest["metadata"]["labels"]["controller-revision-hash"]}
    assert len(revisions) == 2 and first["metadata"]["generation"] == 1


def test_daemonset_rollback(controllers, nodes, client, namespace):  # noqa: F811
    """DaemonSet-Rollback

    Rolling back an update in progress replaces only the pods already updated; the pods still at the old template
    are not restarted. (The e2e stalls the update with an image that cannot run; a simulated node runs any image, so
    minReadySeconds, with the old pods Ready for long, stalls it here.)
    """
    nodes("conf-ds-b1", "conf-ds-b2", "conf-ds-b3")
    controllers("daemonset-controller")
    body = daemon_set("daemon-set")
    body["spec"]["minReadySeconds"] = 0
    run(client.create(DAEMON_SETS, body, namespace))
    eventually(lambda: ds_status(client, namespace, "daemon-set").get("numberAvailable") == 3)
    # The running pods have been Ready for long (so minReadySeconds holds back only the new ones).
    for pod in live_pods(client, namespace):
        run(client.patch(PODS, pod["metadata"]["name"], {"status": {"conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"}]}}, namespace,
            patch_type="strategic", subresource="status"))
    run(client.patch(DAEMON_SETS, "daemon-set", {"spec": {"minReadySeconds": 60, "template": {"spec": {
        "containers": [{"name": "app", "image": "foo:non-existent"}]}}}}, namespace, patch_type="strategic"))

    def images():
        return {p["metadata"]["uid"]: p["spec"]["containers"][0]["image"] for p in live_pods(client, namespace)}
    eventually(lambda: list(images().values()).count("foo:non-existent") == 1 and len(images()) == 3)
    settle()
    during = images()
    assert list(during.values()).count("foo:non-existent") == 1
    old_uids = {uid for uid, image in during.items() if image != "foo:non-existent"}
    run(client.patch(DAEMON_SETS, "daemon-set", {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "registry.k8s.io/e2e-test-images/httpd:2.4.38-4"}]}}}}, namespace,
        patch_type="strategic"))
    eventually(lambda: len(images()) == 3 and "foo:non-existent" not in images().values())
    assert old_uids <= set(images())


def test_daemonset_list_and_delete_collection(controllers, nodes, client, namespace):  # noqa: F811
    """DaemonSet, list and delete a collection of DaemonSets

    A DaemonSet is found by label across namespaces and removed by a deletecollection with that label.
    """
    nodes("conf-ds-coll")
    controllers("daemonset-controller")
    run(client.create(DAEMON_SETS, daemon_set("daemon-set"), namespace))
    eventually(lambda: ds_status(client, namespace, "daemon-set").get("numberAvailable") == 1)
    everywhere = run(client.list(DAEMON_SETS, label_selector="daemonset-name=daemon-set"))["items"]
    assert namespace in [d["metadata"]["namespace"] for d in everywhere]
    run(client.request("DELETE", DAEMON_SETS.path(namespace), query={"labelSelector": "daemonset-name=daemon-set"}))
    eventually(lambda: run(client.list(DAEMON_SETS, namespace))["items"] == [])


def test_daemonset_status_subresource(controllers, nodes, client, namespace):  # noqa: F811
    """DaemonSet, status sub-resource

    Reading, updating and patching daemonsets/status are seen by later reads, and the controller keeps the
    conditions written there.
    """
    nodes("conf-ds-status")
    controllers("daemonset-controller")
    run(client.create(DAEMON_SETS, daemon_set("daemon-set"), namespace))
    eventually(lambda: ds_status(client, namespace, "daemon-set").get("numberAvailable") == 1)
    path = DAEMON_SETS.path(namespace, "daemon-set", "status")
    ds = run(client.request("GET", path))
    ds["status"]["conditions"] = [{"type": "StatusUpdate", "status": "True", "reason": "E2E",
                                   "message": "Set from e2e test"}]
    run(client.update(DAEMON_SETS, ds, subresource="status"))
    run(client.patch(DAEMON_SETS, "daemon-set", {"status": {"conditions": [
        {"type": "StatusUpdate", "status": "True", "reason": "E2E", "message": "Set from e2e test"},
        {"type": "StatusPatched", "status": "True"}]}}, namespace, subresource="status"))
    status = ds_status(client, namespace, "daemon-set")
    assert [c["type"] for c in status["conditions"]] == ["StatusUpdate", "StatusPatched"]
    assert status["numberAvailable"] == 1


# -- PodDisruptionBudget -------------------------------------------------------------------------------------


def pdb(name="foo", **spec):
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "labels": {"foo": "bar"}},
            "spec": {"selector": {"matchLabels": {"foo": "bar"}}, **spec}}


def pdb_status(client, namespace, name="foo"):  # noqa: F811
    return get(client, POD_DISRUPTION_BUDGETS, name, namespace).get("status") or {}


def processed(client, namespace, name="foo"):  # noqa: F811
    budget = get(client, POD_DISRUPTION_BUDGETS, name, namespace)
    return (budget.get("status") or {}).get("observedGeneration", 0) >= budget["metadata"]["generation"]


def evict(client, namespace, name):  # noqa: F811
    return run(client.create(PODS, {"apiVersion": "policy/v1", "kind": "Eviction",
                                    "metadata": {"name": name, "namespace": namespace}},
                             namespace=namespace, name=name, subresource="eviction"))


def bare_pods(client, namespace, count):  # noqa: F811
    for i in range(count):
        run(client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                 "metadata": {"name": f"pod-{i}", "labels": {"foo": "bar"}},
                                 "spec": {"containers": [{"name": "donothing", "image": "pause"}]}}, namespace))


def test_pdb_status_updates(controllers, nodes, client, namespace):  # noqa: F811
    """PodDisruptionBudget: Status updates

    The controller brings disruptionsAllowed above zero once the selected pods run.
    """
    controllers("disruption-controller")
    nodes("conf-pdb-status")
    run(client.create(POD_DISRUPTION_BUDGETS, pdb(minAvailable=1), namespace))
    bare_pods(client, namespace, 3)
    eventually(lambda: pdb_status(client, namespace).get("disruptionsAllowed", 0) > 0)
    # As the e2e test, then wait for the budget to observe all three pods healthy (they run one by one).
    status = eventually(lambda: (s := pdb_status(client, namespace)).get("currentHealthy") == 3 and s)
    assert (status["currentHealthy"], status["desiredHealthy"], status["expectedPods"]) == (3, 1, 3)


def test_pdb_create_update_patch_delete(controllers, client, namespace):  # noqa: F811
    """PodDisruptionBudget: create, update, patch, and delete object

    Each write is processed by the controller (observedGeneration follows) and seen by reads; the deleted budget is
    gone.
    """
    controllers("disruption-controller")
    run(client.create(POD_DISRUPTION_BUDGETS, pdb(minAvailable=2), namespace))
    eventually(lambda: processed(client, namespace))
    budget = get(client, POD_DISRUPTION_BUDGETS, "foo", namespace)
    budget["spec"]["selector"] = {"matchLabels": {"foo": "baz"}}
    run(client.update(POD_DISRUPTION_BUDGETS, budget))
    eventually(lambda: processed(client, namespace))
    run(client.patch(POD_DISRUPTION_BUDGETS, "foo", {"spec": {"minAvailable": 4}}, namespace))
    eventually(lambda: processed(client, namespace) and pdb_status(client, namespace)["desiredHealthy"] == 4)
    assert get(client, POD_DISRUPTION_BUDGETS, "foo", namespace)["spec"]["selector"]["matchLabels"] == {"foo": "baz"}
    run(client.delete(POD_DISRUPTION_BUDGETS, "foo", namespace))
    with pytest.raises(APIError) as gone:
        get(client, POD_DISRUPTION_BUDGETS, "foo", namespace)
    assert gone.value.code == 404


def test_pdb_list_and_delete_collection(controllers, client, namespace):  # noqa: F811
    """PodDisruptionBudget: list and delete collection

    Budgets listed by label are removed by one deletecollection.
    """
    controllers("disruption-controller")
    for name in ("foo", "foo2", "foo3"):
        run(client.create(POD_DISRUPTION_BUDGETS, pdb(name, minAvailable=1), namespace))
    eventually(lambda: all(processed(client, namespace, n) for n in ("foo", "foo2", "foo3")))
    assert len(run(client.list(POD_DISRUPTION_BUDGETS, namespace, label_selector="foo=bar"))["items"]) == 3
    run(client.request("DELETE", POD_DISRUPTION_BUDGETS.path(namespace), query={"labelSelector": "foo=bar"}))
    assert run(client.list(POD_DISRUPTION_BUDGETS, namespace))["items"] == []


def test_pdb_update_and_patch_status(controllers, client, namespace):  # noqa: F811
    """PodDisruptionBudget: update and patch status

    DisruptedPods written through the status subresource is read back, and a status patch is too.
    """
    controllers("disruption-controller")
    run(client.create(POD_DISRUPTION_BUDGETS, pdb(minAvailable=1), namespace))
    eventually(lambda: processed(client, namespace))
    budget = get(client, POD_DISRUPTION_BUDGETS, "foo", namespace)
    budget["status"]["disruptedPods"] = {"foo": budget["metadata"]["creationTimestamp"]}
    updated = run(client.update(POD_DISRUPTION_BUDGETS, budget, subresource="status"))
    assert updated["status"]["disruptedPods"] == {"foo": budget["metadata"]["creationTimestamp"]}
    patched = run(client.patch(POD_DISRUPTION_BUDGETS, "foo", {"status": {"disruptedPods": {"bar": budget[
        "metadata"]["creationTimestamp"]}}}, namespace, subresource="status"))
    assert "bar" in patched["status"]["disruptedPods"]


def test_pdb_block_eviction_until_updated(controllers, nodes, client, namespace):  # noqa: F811
    """PodDisruptionBudget: block an eviction until the PDB is updated to allow it

    With minAvailable 3 of 3 the eviction is refused; at 2 it goes through; patched back to none to spare it is
    refused again; with the budget deleted it goes through. (A StatefulSet stands in for the e2e's ReplicaSet.)
    """
    controllers("disruption-controller", "statefulset-controller")
    nodes("conf-pdb-block")
    run(client.create(POD_DISRUPTION_BUDGETS, pdb(minAvailable=3), namespace))
    run(client.create(STATEFUL_SETS, stateful_set("rs", replicas=3, podManagementPolicy="Parallel"), namespace))
    eventually(lambda: ready_replicas(client, namespace, "rs") == 3 and
               pdb_status(client, namespace).get("currentHealthy") == 3)
    with pytest.raises(APIError) as refused:
        evict(client, namespace, "rs-0")
    assert refused.value.code == 429 and "disruption budget" in refused.value.message
    run(client.patch(POD_DISRUPTION_BUDGETS, "foo", {"spec": {"minAvailable": 2}}, namespace))
    eventually(lambda: pdb_status(client, namespace).get("disruptionsAllowed") == 1)
    evict(client, namespace, "rs-0")
    eventually(lambda: ready_replicas(client, namespace, "rs") == 3 and
               pdb_status(client, namespace).get("currentHealthy") == 3 and processed(client, namespace))
    run(client.patch(POD_DISRUPTION_BUDGETS, "foo", {"spec": {"minAvailable": None, "maxUnavailable": 0}},
                     namespace))
    eventually(lambda: processed(client, namespace) and pdb_status(client, namespace)["disruptionsAllowed"] == 0)
    with pytest.raises(APIError) as again:
        evict(client, namespace, "rs-1")
    assert again.value.code == 429
    run(client.delete(POD_DISRUPTION_BUDGETS, "foo", namespace))
    uid = get(client, PODS, "rs-1", namespace)["metadata"]["uid"]
    evict(client, namespace, "rs-1")
    # Evicted, and made again by its StatefulSet.
    eventually(lambda: get(client, PODS, "rs-1", namespace)["metadata"]["uid"] != uid)


def test_controller_revision_lifecycle(controllers, nodes, client, namespace):  # noqa: F811
    """ControllerRevision, resource lifecycle

    A DaemonSet's one revision is found by the set's label and patched; a revision created by hand (the set's
    current data, the next number) makes two; deleting the first leaves one, which an update relabels; a template
    change makes the controller add a revision (past a name collision with the hand-made one); a deletecollection by
    the update's label leaves the new one, revision 3.
    """
    nodes("conf-cr")
    controllers("daemonset-controller")
    name = "e2e-cr-daemon-set"
    selector = f"daemonset-name={name}"
    ds = run(client.create(DAEMON_SETS, daemon_set(name), namespace))
    eventually(lambda: ds_status(client, namespace, name).get("numberAvailable") == 1)

    def revisions():
        return run(client.list(CONTROLLER_REVISIONS, namespace, label_selector=selector))["items"]
    everywhere = run(client.list(CONTROLLER_REVISIONS, label_selector=selector))["items"]
    assert len(everywhere) == 1
    initial = everywhere[0]
    assert initial["metadata"]["ownerReferences"][0]["uid"] == ds["metadata"]["uid"]
    patched = run(client.patch(CONTROLLER_REVISIONS, initial["metadata"]["name"],
                               {"metadata": {"labels": {initial["metadata"]["name"]: "patched"}}}, namespace,
                               patch_type="strategic"))
    assert patched["metadata"]["labels"][initial["metadata"]["name"]] == "patched"

    from kapiserver.controllermanager import history
    template = dict(ds["spec"]["template"])
    template["spec"] = {**template["spec"], "terminationGracePeriodSeconds": 1}
    new_hash = history.hash_revision_data(template, None)
    run(client.create(CONTROLLER_REVISIONS, {
        "apiVersion": "apps/v1", "kind": "ControllerRevision",
        "metadata": {"name": f"{name}-{new_hash}",
                     "labels": {**template["metadata"]["labels"], "controller-revision-hash": new_hash},
                     "ownerReferences": [history.controller_ref(ds)]},
        "data": initial["data"], "revision": initial["revision"] + 1}, namespace))
    eventually(lambda: len(revisions()) == 2)
    run(client.delete(CONTROLLER_REVISIONS, initial["metadata"]["name"], namespace))
    eventually(lambda: len(revisions()) == 1)
    current = revisions()[0]
    current["metadata"]["labels"][current["metadata"]["name"]] = "updated"
    updated = run(client.update(CONTROLLER_REVISIONS, current))
    assert updated["metadata"]["labels"][current["metadata"]["name"]] == "updated"

    run(client.patch(DAEMON_SETS, name, {"spec": {"template": {"spec": {"terminationGracePeriodSeconds": 1}}}},
                     namespace, patch_type="strategic"))
    eventually(lambda: len(revisions()) == 2)
    run(client.request("DELETE", CONTROLLER_REVISIONS.path(namespace),
                       query={"labelSelector": f"{current['metadata']['name']}=updated"}))
    left = eventually(lambda: (r := revisions()) and len(r) == 1 and r)
    assert left[0]["revision"] == 3

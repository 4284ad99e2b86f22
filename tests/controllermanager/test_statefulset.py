"""statefulset-controller against a real apiserver, with simulated nodes running its pods."""

from kapiserver.client.resources import (CONTROLLER_REVISIONS, EVENTS, PERSISTENT_VOLUME_CLAIMS, PODS,
                                         STATEFUL_SETS)
from kapiserver.controllermanager.statefulset import claim_owner_refs, new_stateful_pod, wanted_claim_refs
from tests.controllermanager.conftest import eventually, run


def stateful_set(name, replicas=3, **spec):
    labels = {"app": name}
    body = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "web", "image": "nginx:1"}]}}}}
    body["spec"].update(spec)
    return body


def pod_names(client, namespace):
    return sorted(p["metadata"]["name"] for p in run(client.list(PODS, namespace))["items"])


def status(client, namespace, name):
    return run(client.get(STATEFUL_SETS, name, namespace)).get("status") or {}


def test_pod_identity_storage_and_labels():
    """A stateful pod is named by its ordinal and carries hostname, subdomain, identity labels and its claim."""
    sset = stateful_set("web", volumeClaimTemplates=[{"metadata": {"name": "data"}, "spec": {}}])
    sset["metadata"].update(namespace="ns", uid="u1")
    pod = new_stateful_pod(sset, sset["spec"]["template"], "web-abc", 2)
    assert pod["metadata"]["name"] == "web-2" and pod["metadata"]["generateName"] == "web-"
    assert pod["metadata"]["labels"] == {"app": "web", "statefulset.kubernetes.io/pod-name": "web-2",
                                         "apps.kubernetes.io/pod-index": "2", "controller-revision-hash": "web-abc"}
    assert pod["spec"]["hostname"] == "web-2" and pod["spec"]["subdomain"] == "web"
    assert pod["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-2"}}]
    assert pod["metadata"]["ownerReferences"][0]["controller"] is True


def test_claim_retention_owner_references():
    """whenDeleted=Delete makes the set the owner of the claims; whenScaled=Delete the pod alone, once the
    replica is condemned."""
    sset = stateful_set("web")
    sset["metadata"].update(namespace="ns", uid="u1")
    pod = {"metadata": {"name": "web-4", "uid": "p4"}}
    sset["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert claim_owner_refs(sset, pod, True) == []
    sset["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Delete", "whenScaled": "Delete"}
    assert [r["kind"] for r in claim_owner_refs(sset, pod, False)] == ["StatefulSet"]
    assert [r["uid"] for r in claim_owner_refs(sset, pod, True)] == ["p4"]
    sset["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Retain", "whenScaled": "Delete"}
    assert claim_owner_refs(sset, pod, False) == []


def test_claim_owner_references_are_controller_references():
    """Since the retention policy respects other controllers (kubernetes#122499), the set's and the pod's
    references on a claim are controller references; a claim another controller owns only loses ours; a claim
    whose reference names the set or pod with another uid (stale) is left alone."""
    sset = stateful_set("web")
    sset["metadata"].update(namespace="ns", uid="u1")
    pod = {"metadata": {"name": "web-4", "uid": "p4"}}
    sset["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Delete", "whenScaled": "Delete"}
    assert claim_owner_refs(sset, pod, False) == [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "u1", "controller": True,
         "blockOwnerDeletion": True}]
    assert claim_owner_refs(sset, pod, True) == [
        {"apiVersion": "v1", "kind": "Pod", "name": "web-4", "uid": "p4", "controller": True,
         "blockOwnerDeletion": True}]
    # A plain reference to the set is made a controller one; a condemned replica's moves to the pod.
    plain = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "u1"}
    assert wanted_claim_refs(sset, pod, False, [plain]) == claim_owner_refs(sset, pod, False)
    assert wanted_claim_refs(sset, pod, True, [plain]) == claim_owner_refs(sset, pod, True)
    other = {"apiVersion": "x/v1", "kind": "Owner", "name": "o", "uid": "o1", "controller": True}
    assert wanted_claim_refs(sset, pod, False, [other, plain]) == [other]
    assert wanted_claim_refs(sset, pod, False, [{**plain, "uid": "old"}]) is None
    assert wanted_claim_refs(sset, pod, True, [{"apiVersion": "v1", "kind": "Pod", "name": "web-4",
                                                "uid": "old-pod"}]) is None
    sset["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert wanted_claim_refs(sset, pod, False, [other, plain]) == [other]


def test_ordered_start_waits_for_readiness_then_scale_down_in_reverse(controllers, simulated_nodes, client,
                                                                       namespace):
    """With OrderedReady, web-1 is made only once web-0 is Running and Ready; scaling down removes the highest
    ordinal first, one at a time."""
    controllers("statefulset-controller")
    run(client.create(STATEFUL_SETS, stateful_set("web"), namespace))
    eventually(lambda: pod_names(client, namespace) == ["web-0"])
    # No node yet: web-0 stays Pending and nothing else is created.
    eventually(lambda: status(client, namespace, "web").get("replicas") == 1)
    assert pod_names(client, namespace) == ["web-0"]
    simulated_nodes("sim-ss", schedule=True)
    eventually(lambda: status(client, namespace, "web").get("readyReplicas") == 3)
    pods = {p["metadata"]["name"]: p for p in run(client.list(PODS, namespace))["items"]}
    assert sorted(pods) == ["web-0", "web-1", "web-2"]
    created = sorted(pods, key=lambda n: pods[n]["metadata"]["creationTimestamp"] + pods[n]["metadata"][
        "resourceVersion"].zfill(20))
    assert created == ["web-0", "web-1", "web-2"]
    st = status(client, namespace, "web")
    assert st["currentRevision"] == st["updateRevision"] and st["currentReplicas"] == 3
    assert st["observedGeneration"] == 1 and st["availableReplicas"] == 3
    assert pods["web-1"]["metadata"]["labels"]["controller-revision-hash"] == st["updateRevision"]
    revisions = run(client.list(CONTROLLER_REVISIONS, namespace))["items"]
    assert [r["metadata"]["name"] for r in revisions] == [st["updateRevision"]] and revisions[0]["revision"] == 1
    # pkg/controller/history labels its revisions with the hash of their data under its own key.
    labels = revisions[0]["metadata"]["labels"]
    assert st["updateRevision"] == "web-" + labels["controller.kubernetes.io/hash"]
    assert "controller-revision-hash" not in labels and labels["app"] == "web"

    run(client.patch(STATEFUL_SETS, "web", {"spec": {"replicas": 1}}, namespace))
    eventually(lambda: pod_names(client, namespace) == ["web-0"])

    def deletes():
        events = run(client.list(EVENTS, namespace))["items"]
        return [e["message"] for e in sorted(events, key=lambda e: e["metadata"]["resourceVersion"].zfill(20))
                if e["reason"] == "SuccessfulDelete"]
    eventually(lambda: deletes() == ["delete Pod web-2 in StatefulSet web successful",
                                     "delete Pod web-1 in StatefulSet web successful"])
    events = run(client.list(EVENTS, namespace))["items"]
    assert "create Pod web-0 in StatefulSet web successful" in [e["message"] for e in events]


def test_parallel_creates_all_at_once(controllers, client, namespace):
    """With Parallel, every replica is created though none is Ready."""
    controllers("statefulset-controller")
    run(client.create(STATEFUL_SETS, stateful_set("par", podManagementPolicy="Parallel"), namespace))
    eventually(lambda: pod_names(client, namespace) == ["par-0", "par-1", "par-2"])


def test_rolling_update_with_partition_then_complete(controllers, simulated_nodes, client, namespace):
    """A template change replaces pods from the highest ordinal down to the partition; lowering the partition
    finishes the rollout and the update revision becomes current."""
    controllers("statefulset-controller")
    simulated_nodes("sim-ru", schedule=True)
    run(client.create(STATEFUL_SETS, stateful_set("ru", updateStrategy={
        "type": "RollingUpdate", "rollingUpdate": {"partition": 2}}), namespace))
    eventually(lambda: status(client, namespace, "ru").get("readyReplicas") == 3)
    first = status(client, namespace, "ru")["currentRevision"]
    run(client.patch(STATEFUL_SETS, "ru", {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:2"}]}}}}, namespace, patch_type="strategic"))

    def images():
        return {p["metadata"]["name"]: p["spec"]["containers"][0]["image"]
                for p in run(client.list(PODS, namespace))["items"] if not p["metadata"].get("deletionTimestamp")}
    eventually(lambda: images() == {"ru-0": "nginx:1", "ru-1": "nginx:1", "ru-2": "nginx:2"}
               and status(client, namespace, "ru").get("updatedReplicas") == 1)
    st = status(client, namespace, "ru")
    assert st["currentRevision"] == first != st["updateRevision"] and st["currentReplicas"] == 2
    # A pod below the partition deleted by hand comes back at the current revision.
    run(client.delete(PODS, "ru-0", namespace))
    eventually(lambda: images().get("ru-0") == "nginx:1" and status(client, namespace, "ru")["readyReplicas"] == 3)
    run(client.patch(STATEFUL_SETS, "ru", {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}},
                     namespace))
    eventually(lambda: set(images().values()) == {"nginx:2"} and
               status(client, namespace, "ru")["currentRevision"] == st["updateRevision"])
    revisions = sorted(run(client.list(CONTROLLER_REVISIONS, namespace))["items"], key=lambda r: r["revision"])
    assert [r["metadata"]["name"] for r in revisions] == [first, st["updateRevision"]]
    assert [r["revision"] for r in revisions] == [1, 2]


def test_a_parallel_rolling_update_waits_for_a_terminating_pod(controllers, simulated_nodes, client, namespace):
    """Parallel pod management creates and deletes at once, but a rolling update still takes one pod at a time:
    a pod being deleted (held here by a finalizer) is not healthy, so the next is not deleted until it has gone
    (upstream's isHealthy)."""
    from tests.controllers.conftest import settle
    controllers("statefulset-controller")
    simulated_nodes("sim-pru", schedule=True)
    body = stateful_set("pru", podManagementPolicy="Parallel")
    body["spec"]["template"]["metadata"]["finalizers"] = ["example.com/hold"]
    run(client.create(STATEFUL_SETS, body, namespace))
    eventually(lambda: status(client, namespace, "pru").get("readyReplicas") == 3)
    run(client.patch(STATEFUL_SETS, "pru", {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:2"}]}}}}, namespace, patch_type="strategic"))

    def terminating():
        return sorted(p["metadata"]["name"] for p in run(client.list(PODS, namespace))["items"]
                      if p["metadata"].get("deletionTimestamp"))
    eventually(lambda: terminating() == ["pru-2"])
    settle(0.5)
    assert terminating() == ["pru-2"]
    for pod in run(client.list(PODS, namespace))["items"]:
        run(client.patch(PODS, pod["metadata"]["name"], {"metadata": {"finalizers": None}}, namespace))


def test_on_delete_leaves_pods_until_deleted(controllers, simulated_nodes, client, namespace):
    """With OnDelete, a template change replaces no pod until it is deleted."""
    controllers("statefulset-controller")
    simulated_nodes("sim-od", schedule=True)
    run(client.create(STATEFUL_SETS, stateful_set("od", replicas=2, updateStrategy={"type": "OnDelete"}), namespace))
    eventually(lambda: status(client, namespace, "od").get("readyReplicas") == 2)
    run(client.patch(STATEFUL_SETS, "od", {"spec": {"template": {"metadata": {"labels": {"v": "2"}}}}}, namespace))
    eventually(lambda: status(client, namespace, "od").get("observedGeneration") == 2)
    st = status(client, namespace, "od")
    assert st.get("updatedReplicas", 0) == 0 and st["currentReplicas"] == 2
    run(client.delete(PODS, "od-1", namespace))
    eventually(lambda: (run(client.get(PODS, "od-1", namespace))["metadata"]["labels"].get("v") == "2"))


def test_claims_are_created_from_templates_before_pods(controllers, client, namespace):
    """Each replica's PVC ``<template>-<set>-<ordinal>`` exists, labelled with the selector, and owned by the
    set when whenDeleted is Delete."""
    controllers("statefulset-controller")
    run(client.create(STATEFUL_SETS, stateful_set(
        "db", replicas=2, podManagementPolicy="Parallel",
        persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Retain"},
        volumeClaimTemplates=[{"metadata": {"name": "data"},
                               "spec": {"accessModes": ["ReadWriteOnce"],
                                        "resources": {"requests": {"storage": "1Gi"}}}}]), namespace))
    eventually(lambda: pod_names(client, namespace) == ["db-0", "db-1"])
    claims = {c["metadata"]["name"]: c for c in run(client.list(PERSISTENT_VOLUME_CLAIMS, namespace))["items"]}
    assert sorted(claims) == ["data-db-0", "data-db-1"]
    assert claims["data-db-0"]["metadata"]["labels"] == {"app": "db"}
    assert [r["kind"] for r in claims["data-db-1"]["metadata"]["ownerReferences"]] == ["StatefulSet"]
    pod = run(client.get(PODS, "db-1", namespace))
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-db-1"}} in pod["spec"]["volumes"]
    assert claims["data-db-1"]["metadata"]["creationTimestamp"] <= pod["metadata"]["creationTimestamp"]


def test_orphans_are_adopted_and_mismatching_pods_released(controllers, client, namespace):
    """A pod named like a replica and matching the selector is adopted rather than made again; once its labels
    stop matching it is released (its controller reference removed)."""
    run(client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                             "metadata": {"name": "adopt-0", "labels": {"app": "adopt"}},
                             "spec": {"containers": [{"name": "web", "image": "nginx:1"}]}}, namespace))
    orphan = run(client.get(PODS, "adopt-0", namespace))
    controllers("statefulset-controller")
    sset = run(client.create(STATEFUL_SETS, stateful_set("adopt", replicas=1), namespace))
    adopted = eventually(lambda: (p := run(client.get(PODS, "adopt-0", namespace)))["metadata"].get(
        "ownerReferences") and p)
    assert adopted["metadata"]["uid"] == orphan["metadata"]["uid"]
    assert adopted["metadata"]["ownerReferences"][0]["uid"] == sset["metadata"]["uid"]
    run(client.patch(PODS, "adopt-0", {"metadata": {"labels": {"app": "other"}}}, namespace))
    eventually(lambda: not run(client.get(PODS, "adopt-0", namespace))["metadata"].get("ownerReferences"))


def test_kubectl_rollout_status_and_undo(controllers, simulated_nodes, client, namespace, kubectl):
    """kubectl rollout status waits on the StatefulSet's status; rollout undo restores the template of the
    previous ControllerRevision."""
    from tests.controllermanager.test_disruption import _kubectl
    controllers("statefulset-controller")
    simulated_nodes("sim-kubectl", schedule=True)
    run(client.create(STATEFUL_SETS, stateful_set("kweb", replicas=2), namespace))
    code, output = _kubectl(kubectl, "rollout", "status", "statefulset/kweb", "-n", namespace, "--timeout=60s")
    # (kubectl says "partitioned" whenever the partition is set, and the API defaults it to 0.)
    assert code == 0 and "partitioned roll out complete: 2 new pods have been updated" in output, output
    run(client.patch(STATEFUL_SETS, "kweb", {"metadata": {"annotations": {"kubernetes.io/change-cause": "to v2"}},
                                            "spec": {"template": {"spec": {"containers": [
                                                {"name": "web", "image": "nginx:2"}]}}}}, namespace,
                     patch_type="strategic"))
    code, output = _kubectl(kubectl, "rollout", "status", "statefulset/kweb", "-n", namespace, "--timeout=60s")
    assert code == 0 and "partitioned roll out complete: 2 new pods have been updated" in output, output
    code, output = _kubectl(kubectl, "rollout", "history", "statefulset/kweb", "-n", namespace)
    rows = [line.split(None, 1) for line in output.splitlines()[2:] if line.strip()]
    # The revision carries the set's annotations, so the change cause shows.
    assert code == 0 and rows == [["1", "<none>"], ["2", "to v2"]], output
    code, output = _kubectl(kubectl, "rollout", "undo", "statefulset/kweb", "-n", namespace)
    assert code == 0 and "rolled back" in output, output
    eventually(lambda: {p["spec"]["containers"][0]["image"] for p in run(client.list(PODS, namespace))["items"]
                        if not p["metadata"].get("deletionTimestamp")} == {"nginx:1"} and
               status(client, namespace, "kweb").get("updatedReplicas") == 2 and
               status(client, namespace, "kweb").get("currentRevision") ==
               status(client, namespace, "kweb").get("updateRevision"))


def test_retention_policy_deletes_claims_through_the_garbage_collector(controllers, simulated_nodes, client,
                                                                       namespace):
    """whenScaled=Delete: the claims of a replica scaled away go with its pod; whenDeleted=Delete: the rest go
    with the set (the apiserver's garbage collector follows the owner references the controller wrote)."""
    controllers("statefulset-controller")
    simulated_nodes("sim-retain", schedule=True)
    run(client.create(STATEFUL_SETS, stateful_set(
        "ret", replicas=2, persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Delete"},
        volumeClaimTemplates=[{"metadata": {"name": "data"},
                               "spec": {"accessModes": ["ReadWriteOnce"],
                                        "resources": {"requests": {"storage": "1Gi"}}}}]), namespace))

    def claims():
        return sorted(c["metadata"]["name"] for c in run(client.list(PERSISTENT_VOLUME_CLAIMS, namespace))["items"]
                      if not c["metadata"].get("deletionTimestamp"))
    eventually(lambda: status(client, namespace, "ret").get("readyReplicas") == 2)
    assert claims() == ["data-ret-0", "data-ret-1"]
    run(client.patch(STATEFUL_SETS, "ret", {"spec": {"replicas": 1}}, namespace))
    eventually(lambda: claims() == ["data-ret-0"], timeout=30)
    run(client.delete(STATEFUL_SETS, "ret", namespace, propagation_policy="Background"))
    eventually(lambda: claims() == [], timeout=30)


def test_identity_labels_are_put_back(controllers, simulated_nodes, client, namespace):
    """A stateful pod whose pod-name label was changed by hand gets it back (SuccessfulUpdate)."""
    controllers("statefulset-controller")
    simulated_nodes("sim-ident", schedule=True)
    run(client.create(STATEFUL_SETS, stateful_set("ident", replicas=1), namespace))
    eventually(lambda: status(client, namespace, "ident").get("readyReplicas") == 1)
    run(client.patch(PODS, "ident-0", {"metadata": {"labels": {"statefulset.kubernetes.io/pod-name": "x"}}},
                     namespace))
    eventually(lambda: run(client.get(PODS, "ident-0", namespace))["metadata"]["labels"][
        "statefulset.kubernetes.io/pod-name"] == "ident-0")
    eventually(lambda: "update Pod ident-0 in StatefulSet ident successful" in
               [e["message"] for e in run(client.list(EVENTS, namespace))["items"]])


def test_a_set_made_again_adopts_the_revisions_orphaned_by_the_old_one(controllers, simulated_nodes, client,
                                                                       namespace):
    """After the set is deleted with its dependents orphaned, the same set made again adopts the orphaned
    ControllerRevision (adoptOrphanRevisions) and keeps it as its revision, with its pods."""
    controllers("statefulset-controller", "garbage-collector-controller")
    simulated_nodes("sim-orph", schedule=True)
    run(client.create(STATEFUL_SETS, stateful_set("orph", replicas=1), namespace))
    eventually(lambda: status(client, namespace, "orph").get("readyReplicas") == 1)
    [revision] = run(client.list(CONTROLLER_REVISIONS, namespace))["items"]
    run(client.delete(STATEFUL_SETS, "orph", namespace, propagation_policy="Orphan"))
    eventually(lambda: not run(client.list(STATEFUL_SETS, namespace))["items"] and
               not run(client.get(CONTROLLER_REVISIONS, revision["metadata"]["name"], namespace))["metadata"]
               .get("ownerReferences"))
    sset = run(client.create(STATEFUL_SETS, stateful_set("orph", replicas=1), namespace))
    eventually(lambda: run(client.get(CONTROLLER_REVISIONS, revision["metadata"]["name"], namespace))["metadata"]
               .get("ownerReferences", [{}])[0].get("uid") == sset["metadata"]["uid"])
    eventually(lambda: status(client, namespace, "orph").get("updateRevision") == revision["metadata"]["name"]
               and status(client, namespace, "orph").get("readyReplicas") == 1)
    assert [r["metadata"]["name"] for r in run(client.list(CONTROLLER_REVISIONS, namespace))["items"]] == \
        [revision["metadata"]["name"]]


def test_rolling_update_completes_only_with_every_desired_replica():
    """completeRollingUpdate: the update revision becomes current once spec.replicas pods are updated and
    ready, not as soon as the pods there are now are (one recreated pod missing keeps the old revision)."""
    from kapiserver.controllermanager.statefulset import StatefulSetController

    class Clock:
        def seconds(self):
            return 1000.0
    controller = StatefulSetController.__new__(StatefulSetController)
    controller.clock = Clock()
    sset = stateful_set("web", replicas=3)
    sset["metadata"].update(namespace="ns", uid="u1", generation=2)
    current, update = {"metadata": {"name": "web-old"}}, {"metadata": {"name": "web-new"}}

    def pod(ordinal):
        return {"metadata": {"name": f"web-{ordinal}", "labels": {"controller-revision-hash": "web-new"}},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    st = controller.status_of(sset, [pod(0), pod(1)], current, update, 0)
    assert st["currentRevision"] == "web-old" and st["currentReplicas"] == 0 and st["updatedReplicas"] == 2
    st = controller.status_of(sset, [pod(0), pod(1), pod(2)], current, update, 0)
    assert st["currentRevision"] == "web-new" and st["currentReplicas"] == 3

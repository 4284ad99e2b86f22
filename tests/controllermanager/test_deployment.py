"""deployment-controller with replicaset-controller against a real apiserver and a simulated node that binds pods
and reports them Running and Ready; kubectl where a user would use it."""

import pytest

from kapiserver.client.resources import DEPLOYMENTS, EVENTS, PODS, REPLICA_SETS, RESOURCE_QUOTAS
from kapiserver.controllermanager import deploymentutil as du
from tests.controllermanager.conftest import eventually, in_background, run

WORKLOADS = ("deployment-controller", "replicaset-controller")


def deployment(name, replicas=3, image="busybox:1", strategy=None, **spec):
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "strategy": strategy or {"type": "RollingUpdate"},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}, **spec}}


def sets_of(client, namespace, name):
    d = run(client.get(DEPLOYMENTS, name, namespace))
    return sorted((rs for rs in run(client.list(REPLICA_SETS, namespace))["items"]
                   if any(r["uid"] == d["metadata"]["uid"] for r in rs["metadata"].get("ownerReferences") or [])),
                  key=lambda rs: du.revision(rs))


def live_pods(client, namespace, selector):
    return [p for p in run(client.list(PODS, namespace, label_selector=selector))["items"]
            if not p["metadata"].get("deletionTimestamp")]


def complete(client, namespace, name):
    d = run(client.get(DEPLOYMENTS, name, namespace))
    s, want = d.get("status") or {}, d["spec"]["replicas"]
    done = (s.get("observedGeneration") == d["metadata"]["generation"] and s.get("updatedReplicas", 0) == want
            and s.get("replicas", 0) == want and s.get("availableReplicas", 0) == want
            and not s.get("unavailableReplicas"))
    return done and d


def condition(obj, kind):
    return du.get_condition(obj.get("status"), kind) or {}


def messages(client, namespace, name, reason):
    return [e["message"] for e in run(client.list(EVENTS, namespace))["items"]
            if e["involvedObject"]["name"] == name and e["reason"] == reason]


# -- pure logic ---------------------------------------------------------------------------------------------
def test_fenceposts_round_surge_up_and_unavailable_down():
    """Percentages of replicas: maxSurge rounds up, maxUnavailable down; both 0 makes maxUnavailable 1."""
    assert du.resolve_fenceposts("25%", "25%", 10) == (3, 2)
    assert du.resolve_fenceposts(0, 0, 5) == (0, 1)
    assert du.resolve_fenceposts("0%", "0%", 5) == (0, 1)
    assert du.resolve_fenceposts(2, "50%", 3) == (2, 1)
    d = deployment("x", 1, strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0,
                                                                              "maxUnavailable": "100%"}})
    assert (du.max_surge(d), du.max_unavailable(d)) == (0, 1)
    assert du.max_surge(deployment("x", 4, strategy={"type": "Recreate"})) == 0


def test_new_replica_set_grows_within_max_surge():
    """The new set may grow while the total stays within replicas + maxSurge, never past replicas."""
    d = deployment("x", 10, strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3,
                                                                               "maxUnavailable": 2}})
    old = {"metadata": {"name": "old"}, "spec": {"replicas": 10}}
    new = {"metadata": {"name": "new"}, "spec": {"replicas": 0}}
    assert du.new_rs_new_replicas(d, [old, new], new) == 3
    old["spec"]["replicas"] = 2
    new["spec"]["replicas"] = 9
    assert du.new_rs_new_replicas(d, [old, new], new) == 10
    assert du.new_rs_new_replicas(deployment("x", 4, strategy={"type": "Recreate"}), [new], new) == 4


def test_proportions_follow_max_replicas_annotations():
    """Scaling 10 -> 15 (maxSurge 3): sets of 8 and 5 sized for max 13 grow by their share, rounded."""
    d = deployment("x", 15, strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3,
                                                                               "maxUnavailable": 2}})
    a = {"metadata": {"name": "a", "annotations": {du.MAX_REPLICAS_ANNOTATION: "13"}}, "spec": {"replicas": 8}}
    b = {"metadata": {"name": "b", "annotations": {du.MAX_REPLICAS_ANNOTATION: "13"}}, "spec": {"replicas": 5}}
    to_add = 15 + 3 - 13
    pa = du.replica_set_proportion(a, d, to_add, 0)
    pb = du.replica_set_proportion(b, d, to_add, pa)
    assert (pa, pb) == (3, 2)


def test_hash_is_stable_safe_encoded_and_changes_with_collisions():
    """The same template gives the same hash (whatever key order), in SafeEncodeString's alphabet; a collision
    count gives another."""
    t1 = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    t2 = {"spec": {"containers": [{"image": "x", "name": "c"}]}, "metadata": {"labels": {"b": "2", "a": "1"}}}
    h = du.compute_hash(t1, None)
    assert h == du.compute_hash(t2, None) and set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert du.compute_hash(t1, 1) != h and du.compute_hash(t1, 1) == du.compute_hash(t1, 1)
    assert du.equal_ignore_hash({"metadata": {"labels": {"a": "1", "pod-template-hash": h}}},
                                {"metadata": {"labels": {"a": "1"}}})


def test_revision_history_keeps_the_old_revision_on_rollback():
    """A set brought back as the new one takes the next revision and remembers its old one."""
    d = {"metadata": {"annotations": {"team": "a", du.LAST_APPLIED_ANNOTATION: "{}"}}, "spec": {"replicas": 2}}
    rs = {"metadata": {"annotations": {du.REVISION_ANNOTATION: "1"}}, "spec": {"replicas": 0}}
    assert du.set_new_replica_set_annotations(d, rs, "3", True)
    annotations = rs["metadata"]["annotations"]
    assert annotations == {du.REVISION_ANNOTATION: "3", du.REVISION_HISTORY_ANNOTATION: "1", "team": "a"}
    du.set_new_replica_set_annotations(d, rs, "5", True)
    assert annotations[du.REVISION_HISTORY_ANNOTATION] == "1,3"


# -- against the apiserver ----------------------------------------------------------------------------------
def test_create_scale_and_status(controllers, simulated_nodes, client, namespace):
    """A deployment makes <name>-<hash> with pod-template-hash on selector, template and pods, revision 1 and the
    replicas annotations; status and conditions follow; scaling resizes the set with a ScalingReplicaSet
    event."""
    controllers(*WORKLOADS)
    simulated_nodes("d-node", schedule=True)
    run(client.create(DEPLOYMENTS, deployment("web", 3), namespace=namespace))
    d = eventually(lambda: complete(client, namespace, "web"))
    [rs] = sets_of(client, namespace, "web")
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == pod_hash
    annotations = rs["metadata"]["annotations"]
    assert annotations[du.REVISION_ANNOTATION] == "1"
    assert (annotations[du.DESIRED_REPLICAS_ANNOTATION], annotations[du.MAX_REPLICAS_ANNOTATION]) == ("3", "4")
    assert rs["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    assert d["metadata"]["annotations"][du.REVISION_ANNOTATION] == "1"
    assert {p["metadata"]["labels"]["pod-template-hash"] for p in live_pods(client, namespace, "app=web")} == \
        {pod_hash}
    assert condition(d, "Available")["reason"] == "MinimumReplicasAvailable"
    progressing = eventually(lambda: condition(run(client.get(DEPLOYMENTS, "web", namespace)), "Progressing")
                             .get("reason") == "NewReplicaSetAvailable"
                             and condition(run(client.get(DEPLOYMENTS, "web", namespace)), "Progressing"))
    assert progressing["message"] == f'ReplicaSet "web-{pod_hash}" has successfully progressed.'
    # Events are written in the background: wait for them as for any other write of a controller.
    eventually(lambda: f"Scaled up replica set web-{pod_hash} from 0 to 3" in messages(client, namespace, "web",
                                                                                      "ScalingReplicaSet"))

    run(client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 5}}, namespace))
    eventually(lambda: complete(client, namespace, "web") and len(live_pods(client, namespace, "app=web")) == 5)
    run(client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 2}}, namespace))
    eventually(lambda: complete(client, namespace, "web") and len(live_pods(client, namespace, "app=web")) == 2)
    eventually(lambda: {f"Scaled up replica set web-{pod_hash} from 3 to 5",
                        f"Scaled down replica set web-{pod_hash} from 5 to 2"}
               <= set(messages(client, namespace, "web", "ScalingReplicaSet")))


def test_rolling_update_replaces_every_pod(controllers, simulated_nodes, client, namespace):
    """Changing the image makes revision 2; the old set ends at 0 replicas, kept as history; every pod runs the
    new image."""
    controllers(*WORKLOADS)
    simulated_nodes("d-node", schedule=True)
    run(client.create(DEPLOYMENTS, deployment("roll", 4, image="busybox:a", strategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}), namespace=namespace))
    eventually(lambda: complete(client, namespace, "roll"))
    run(client.patch(DEPLOYMENTS, "roll", {"spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": "busybox:b"}]}}}}, namespace, patch_type="strategic"))
    d = eventually(lambda: (d := complete(client, namespace, "roll")) and d["metadata"]["generation"] == 2 and d,
                   timeout=30)
    old, new = eventually(lambda: (s := sets_of(client, namespace, "roll")) and len(s) == 2
                          and s[0]["spec"]["replicas"] == 0 and (s[0].get("status") or {}).get("replicas", 0) == 0
                          and s)
    assert (du.revision(old), du.revision(new)) == (1, 2)
    assert d["metadata"]["annotations"][du.REVISION_ANNOTATION] == "2"
    assert new["spec"]["replicas"] == 4 and new["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:b"
    eventually(lambda: {p["spec"]["containers"][0]["image"] for p in live_pods(client, namespace, "app=roll")} ==
               {"busybox:b"} and len(live_pods(client, namespace, "app=roll")) == 4)
    eventually(lambda: any(m.startswith(f"Scaled down replica set {old['metadata']['name']} from ")
                           for m in messages(client, namespace, "roll", "ScalingReplicaSet")))


def test_recreate_scales_old_to_zero_before_creating_new(controllers, simulated_nodes, client, namespace):
    """With Recreate, no pod of the new template exists while an old one still runs."""
    controllers(*WORKLOADS)
    simulated_nodes("d-node", schedule=True)
    run(client.create(DEPLOYMENTS, deployment("re", 2, image="busybox:a", strategy={"type": "Recreate"}),
                      namespace=namespace))
    eventually(lambda: complete(client, namespace, "re"))
    seen_mixed = []

    def check():
        pods = run(client.list(PODS, namespace, label_selector="app=re"))["items"]
        images = {p["spec"]["containers"][0]["image"] for p in pods}
        if images == {"busybox:a", "busybox:b"}:
            seen_mixed.append(images)
        return (d := complete(client, namespace, "re")) and d["metadata"]["generation"] == 2 and images == {"busybox:b"}
    run(client.patch(DEPLOYMENTS, "re", {"spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": "busybox:b"}]}}}}, namespace, patch_type="strategic"))
    eventually(check, timeout=30)
    assert not seen_mixed
    assert [du.revision(rs) for rs in sets_of(client, namespace, "re")] == [1, 2]


def test_pause_holds_the_rollout_and_resume_continues(controllers, simulated_nodes, client, namespace):
    """A paused deployment makes no new set for a template change (Progressing Unknown DeploymentPaused) but still
    scales; resuming rolls out (DeploymentResumed, then a new set)."""
    controllers(*WORKLOADS)
    simulated_nodes("d-node", schedule=True)
    run(client.create(DEPLOYMENTS, deployment("hold", 2), namespace=namespace))
    eventually(lambda: complete(client, namespace, "hold"))
    run(client.patch(DEPLOYMENTS, "hold", {"spec": {"paused": True}}, namespace))
    paused = eventually(lambda: condition(run(client.get(DEPLOYMENTS, "hold", namespace)), "Progressing")
                        .get("reason") == "DeploymentPaused" and run(client.get(DEPLOYMENTS, "hold", namespace)))
    assert condition(paused, "Progressing")["status"] == "Unknown"
    run(client.patch(DEPLOYMENTS, "hold", {"spec": {"replicas": 3, "template": {"spec": {"containers": [
        {"name": "c", "image": "busybox:2"}]}}}}, namespace, patch_type="strategic"))
    eventually(lambda: len(live_pods(client, namespace, "app=hold")) == 3
               and run(client.get(DEPLOYMENTS, "hold", namespace))["status"]["observedGeneration"] == 3)
    assert len(sets_of(client, namespace, "hold")) == 1
    run(client.patch(DEPLOYMENTS, "hold", {"spec": {"paused": False}}, namespace))
    eventually(lambda: len(sets_of(client, namespace, "hold")) == 2)
    eventually(lambda: complete(client, namespace, "hold")
               and {p["spec"]["containers"][0]["image"] for p in live_pods(client, namespace, "app=hold")} ==
               {"busybox:2"}, timeout=30)


def test_revision_history_limit_deletes_the_oldest_sets(controllers, simulated_nodes, client, namespace):
    """With revisionHistoryLimit 1, only one old set is kept after three rollouts."""
    controllers(*WORKLOADS)
    simulated_nodes("d-node", schedule=True)
    run(client.create(DEPLOYMENTS, deployment("hist", 1, image="busybox:1", revisionHistoryLimit=1),
                      namespace=namespace))
    for generation, image in ((2, "busybox:2"), (3, "busybox:3")):
        eventually(lambda: complete(client, namespace, "hist"), timeout=30)
        run(client.patch(DEPLOYMENTS, "hist", {"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": image}]}}}}, namespace, patch_type="strategic"))
    eventually(lambda: (d := complete(client, namespace, "hist")) and d["metadata"]["generation"] == 3, timeout=30)
    sets = eventually(lambda: (s := sets_of(client, namespace, "hist")) and len(s) == 2 and s)
    assert [du.revision(rs) for rs in sets] == [2, 3]


def test_progress_deadline_exceeded_without_nodes(controllers, client, namespace):
    """Pods that never run: Progressing turns False ProgressDeadlineExceeded after progressDeadlineSeconds, and
    Available is False MinimumReplicasUnavailable."""
    controllers(*WORKLOADS)
    run(client.create(DEPLOYMENTS, deployment("stuck", 2, progressDeadlineSeconds=2), namespace=namespace))
    d = eventually(lambda: (d := run(client.get(DEPLOYMENTS, "stuck", namespace)))
                   and condition(d, "Progressing").get("reason") == "ProgressDeadlineExceeded" and d, timeout=20)
    rs_name = sets_of(client, namespace, "stuck")[0]["metadata"]["name"]
    assert condition(d, "Progressing")["status"] == "False"
    assert condition(d, "Progressing")["message"] == f'ReplicaSet "{rs_name}" has timed out progressing.'
    assert (condition(d, "Available")["status"], condition(d, "Available")["reason"]) == \
        ("False", "MinimumReplicasUnavailable")
    assert d["status"]["unavailableReplicas"] == 2


def test_replica_failure_of_the_set_shows_on_the_deployment(controllers, simulated_nodes, client, namespace):
    """A pod create refused by quota: the set's ReplicaFailure condition is copied to the deployment."""
    run(client.create(RESOURCE_QUOTAS, {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "one"},
                                        "spec": {"hard": {"pods": "1"}}}, namespace=namespace))
    eventually(lambda: (run(client.get(RESOURCE_QUOTAS, "one", namespace)).get("status") or {}).get("hard"))
    controllers(*WORKLOADS)
    simulated_nodes("d-node", schedule=True)
    run(client.create(DEPLOYMENTS, deployment("capped", 2), namespace=namespace))
    failure = eventually(lambda: condition(run(client.get(DEPLOYMENTS, "capped", namespace)), "ReplicaFailure"))
    assert (failure["status"], failure["reason"]) == ("True", "FailedCreate")
    assert "exceeded quota" in failure["message"]


def test_adopts_orphaned_replica_set_and_releases_it(controllers, simulated_nodes, client, namespace):
    """A set orphaned (ownerReference removed) is adopted again by the matching deployment; relabelled out of
    the selector it is released."""
    controllers(*WORKLOADS)
    simulated_nodes("d-node", schedule=True)
    d = run(client.create(DEPLOYMENTS, deployment("own", 1), namespace=namespace))
    eventually(lambda: complete(client, namespace, "own"))
    [rs] = sets_of(client, namespace, "own")
    name = rs["metadata"]["name"]
    run(client.patch(REPLICA_SETS, name, [{"op": "remove", "path": "/metadata/ownerReferences"}], namespace,
                     patch_type="json"))
    eventually(lambda: (run(client.get(REPLICA_SETS, name, namespace))["metadata"].get("ownerReferences") or [{}])[0]
               .get("uid") == d["metadata"]["uid"])
    run(client.patch(REPLICA_SETS, name, {"metadata": {"labels": {"app": "gone"}}}, namespace))
    eventually(lambda: not run(client.get(REPLICA_SETS, name, namespace))["metadata"].get("ownerReferences"))


def test_rollback_to_annotation_restores_the_previous_template(controllers, simulated_nodes, client, namespace):
    """The deprecated rollbackTo (annotation deprecated.deployment.rollback.to: "0") puts back the last revision's
    template, clears the annotation and records DeploymentRollback; the old set becomes revision 3."""
    controllers(*WORKLOADS)
    simulated_nodes("d-node", schedule=True)
    run(client.create(DEPLOYMENTS, deployment("back", 1, image="busybox:1"), namespace=namespace))
    eventually(lambda: complete(client, namespace, "back"))
    run(client.patch(DEPLOYMENTS, "back", {"spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": "busybox:2"}]}}}}, namespace, patch_type="strategic"))
    eventually(lambda: (d := complete(client, namespace, "back")) and d["metadata"]["generation"] == 2)
    run(client.patch(DEPLOYMENTS, "back", {"metadata": {"annotations": {du.ROLLBACK_TO_ANNOTATION: "0"}}}, namespace))
    d = eventually(lambda: (d := complete(client, namespace, "back"))
                   and d["metadata"]["annotations"].get(du.REVISION_ANNOTATION) == "3" and d)
    assert du.ROLLBACK_TO_ANNOTATION not in d["metadata"]["annotations"]
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1"
    assert eventually(lambda: messages(client, namespace, "back", "DeploymentRollback")) == \
        ['Rolled back deployment "back" to revision 1']


def test_hash_collision_bumps_collision_count(controllers, simulated_nodes, client, namespace):
    """A set of another template already named <deployment>-<hash>: status.collisionCount becomes 1 and the new
    set gets the next hash."""
    controllers(*WORKLOADS)
    simulated_nodes("d-node", schedule=True)
    d = run(client.create(DEPLOYMENTS, deployment("clash", 1, paused=True), namespace=namespace))
    taken = f"clash-{du.compute_hash(d['spec']['template'], None)}"
    squatter = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": taken},
                "spec": {"replicas": 0, "selector": {"matchLabels": {"other": "x"}},
                         "template": {"metadata": {"labels": {"other": "x"}},
                                      "spec": {"containers": [{"name": "c", "image": "other"}]}}}}
    run(client.create(REPLICA_SETS, squatter, namespace=namespace))
    run(client.patch(DEPLOYMENTS, "clash", {"spec": {"paused": False}}, namespace))
    done = eventually(lambda: complete(client, namespace, "clash"))
    assert done["status"]["collisionCount"] == 1
    [rs] = sets_of(client, namespace, "clash")
    assert rs["metadata"]["name"] == f"clash-{du.compute_hash(d['spec']['template'], 1)}" != taken


# -- kubectl ----------------------------------------------------------------------------------------------
@pytest.fixture
def workload_controllers(controllers, simulated_nodes):
    controllers(*WORKLOADS)
    simulated_nodes("kubectl-node", schedule=True)


def test_kubectl_create_scale_rollout_status_and_undo(workload_controllers, kubectl, client, namespace):
    """kubectl create deployment gives Running pods; kubectl scale resizes; kubectl set image then rollout status
    succeeds; rollout history lists both revisions; rollout undo goes back to the first image (revision 3)."""
    kubectl("create", "deployment", "web", "--image=busybox", "--replicas=3", "-n", namespace)
    eventually(lambda: len([p for p in live_pods(client, namespace, "app=web")
                            if p["status"].get("phase") == "Running"]) == 3)
    status = in_background(kubectl, "rollout", "status", "deployment/web", "-n", namespace, "--timeout=50s")
    assert status.returncode == 0 and "successfully rolled out" in status.stdout
    kubectl("scale", "deployment/web", "--replicas=4", "-n", namespace)
    eventually(lambda: complete(client, namespace, "web") and len(live_pods(client, namespace, "app=web")) == 4)
    kubectl("set", "image", "deployment/web", "busybox=busybox:1.36", "-n", namespace)
    status = in_background(kubectl, "rollout", "status", "deployment/web", "-n", namespace, "--timeout=50s")
    assert status.returncode == 0, status.stderr
    history = kubectl("rollout", "history", "deployment/web", "-n", namespace).stdout
    assert "1 " in history and "2 " in history
    undo = kubectl("rollout", "undo", "deployment/web", "-n", namespace)
    assert "rolled back" in undo.stdout
    status = in_background(kubectl, "rollout", "status", "deployment/web", "-n", namespace, "--timeout=50s")
    assert status.returncode == 0, status.stderr
    d = eventually(lambda: (d := complete(client, namespace, "web"))
                   and d["metadata"]["annotations"].get(du.REVISION_ANNOTATION) == "3" and d)
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox"
    first = [rs for rs in sets_of(client, namespace, "web") if du.revision(rs) == 3][0]
    assert first["metadata"]["annotations"][du.REVISION_HISTORY_ANNOTATION] == "1"
    eventually(lambda: {p["spec"]["containers"][0]["image"] for p in live_pods(client, namespace, "app=web")} ==
               {"busybox"})


def test_kubectl_rollout_pause_resume_and_restart(workload_controllers, kubectl, client, namespace):
    """kubectl rollout pause holds a template change (no new set); resume rolls it out; rollout restart makes
    another revision."""
    kubectl("create", "deployment", "pr", "--image=busybox", "--replicas=2", "-n", namespace)
    assert in_background(kubectl, "rollout", "status", "deployment/pr", "-n", namespace, "--timeout=50s").returncode == 0
    kubectl("rollout", "pause", "deployment/pr", "-n", namespace)
    kubectl("set", "image", "deployment/pr", "busybox=busybox:2", "-n", namespace)
    eventually(lambda: (d := run(client.get(DEPLOYMENTS, "pr", namespace)))["status"]["observedGeneration"] == 3
               and d["metadata"]["generation"] == 3)
    assert len(sets_of(client, namespace, "pr")) == 1
    kubectl("rollout", "resume", "deployment/pr", "-n", namespace)
    status = in_background(kubectl, "rollout", "status", "deployment/pr", "-n", namespace, "--timeout=50s")
    assert status.returncode == 0, status.stderr
    assert [du.revision(rs) for rs in sets_of(client, namespace, "pr")] == [1, 2]
    kubectl("rollout", "restart", "deployment/pr", "-n", namespace)
    status = in_background(kubectl, "rollout", "status", "deployment/pr", "-n", namespace, "--timeout=50s")
    assert status.returncode == 0, status.stderr
    eventually(lambda: [du.revision(rs) for rs in sets_of(client, namespace, "pr")] == [1, 2, 3])

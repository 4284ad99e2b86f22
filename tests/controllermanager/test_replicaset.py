"""replicaset-controller and replicationcontroller-controller against a real apiserver, with a simulated node
that binds pods and reports them Running and Ready."""

import time

from kapiserver.client.resources import EVENTS, PODS, REPLICA_SETS, REPLICATION_CONTROLLERS, RESOURCE_QUOTAS
from kapiserver.controllermanager.controllerutils import (pod_from_template, rank_pods_for_deletion,
                                                          slow_start_batch)
from kapiserver.machinery import meta
from tests.controllermanager.conftest import eventually, run


def replica_set(name, replicas, labels=None, min_ready=0):
    labels = labels or {"app": name}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "minReadySeconds": min_ready, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels, "annotations": {"note": "kept"}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}


def bare_pod(name, labels):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def owned_pods(client, namespace, owner_uid):
    return [p for p in run(client.list(PODS, namespace))["items"]
            if any(r["uid"] == owner_uid for r in p["metadata"].get("ownerReferences") or [])
            and not p["metadata"].get("deletionTimestamp")]


def status_is(client, resource, name, namespace, **fields):
    obj = run(client.get(resource, name, namespace))
    status = obj.get("status") or {}
    return all(status.get(k, 0) == v for k, v in fields.items()) and obj


def events_for(client, namespace, name):
    return [e for e in run(client.list(EVENTS, namespace))["items"] if e["involvedObject"]["name"] == name]


# -- pure logic ---------------------------------------------------------------------------------------------
def _pod(name, node="", phase="Running", ready=True, ready_at=None, restarts=0, created=1000.0, cost=None):
    annotations = {"controller.kubernetes.io/pod-deletion-cost": str(cost)} if cost is not None else {}
    conditions = [{"type": "Ready", "status": "True" if ready else "False",
                   "lastTransitionTime": meta.rfc3339(ready_at if ready_at is not None else created)}]
    return {"metadata": {"name": name, "uid": name, "creationTimestamp": meta.rfc3339(created),
                         "annotations": annotations},
            "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": conditions,
                       "containerStatuses": [{"name": "c", "restartCount": restarts}]}}


def test_deletion_order_follows_active_pods_ranking():
    """Unassigned before assigned, Pending before Running, not ready before ready, cheaper deletion cost first,
    doubled-up nodes first, more restarts first, newer (by log2 buckets) first."""
    now = 100000.0
    pods = [
        _pod("old-ready", node="n1", created=now - 5000, ready_at=now - 5000),
        _pod("unassigned", node="", phase="Pending", ready=False),
        _pod("pending", node="n1", phase="Pending", ready=False),
        _pod("not-ready", node="n1", ready=False),
        _pod("restarts", node="n1", restarts=5, created=now - 5000, ready_at=now - 5000),
        _pod("costly", node="n1", cost=10, created=now - 5000, ready_at=now - 5000),
        _pod("cheap", node="n1", cost=-10, created=now - 5000, ready_at=now - 5000),
        _pod("young", node="n1", created=now - 10, ready_at=now - 10),
    ]
    order = [p["metadata"]["name"] for p in rank_pods_for_deletion(pods, pods, now)]
    assert order == ["unassigned", "pending", "not-ready", "cheap", "young", "restarts", "old-ready", "costly"]
    # A pod sharing its node with more related pods goes first.
    a, b = _pod("alone", node="n2", created=now - 50), _pod("crowded", node="n1", created=now - 50)
    related = [a, b, _pod("x", node="n1"), _pod("y", node="n1")]
    assert [p["metadata"]["name"] for p in rank_pods_for_deletion([a, b], related, now)] == ["crowded", "alone"]


def test_slow_start_batches_double_and_stop_at_the_first_failure():
    """1, 2, 4, ... calls per batch; a failing batch ends the creation with the successes counted."""
    calls = []

    async def ok():
        calls.append(1)
    assert run(slow_start_batch(10, 1, ok)) == (10, None)
    assert len(calls) == 10
    attempts = []

    async def fails_on_fourth():
        attempts.append(1)
        if len(attempts) >= 4:
            raise RuntimeError("quota")
    successes, error = run(slow_start_batch(10, 1, fails_on_fourth))
    assert (successes, str(error)) == (3, "quota") and len(attempts) == 7  # batches of 1, 2, then 4 (all refused)


def test_pod_template_becomes_a_pod_with_a_controller_ref():
    """generateName "<owner>-", the template's labels, annotations and finalizers, the controllerRef."""
    owner = {"metadata": {"name": "web", "uid": "u1"}}
    ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "u1", "controller": True,
           "blockOwnerDeletion": True}
    pod = pod_from_template({"metadata": {"labels": {"a": "b"}, "annotations": {"x": "y"}, "finalizers": ["f/x"]},
                             "spec": {"containers": [{"name": "c"}]}}, owner, ref)
    assert pod["metadata"] == {"generateName": "web-", "labels": {"a": "b"}, "annotations": {"x": "y"},
                               "finalizers": ["f/x"], "ownerReferences": [ref]}
    assert pod["spec"] == {"containers": [{"name": "c"}]}


# -- against the apiserver ----------------------------------------------------------------------------------
def test_replicaset_scales_up_and_down_with_status_and_events(controllers, simulated_nodes, client, namespace):
    """Pods come from the template with a controllerRef; status counts them Ready; scaling down deletes some."""
    controllers("replicaset-controller")
    simulated_nodes("rs-node", schedule=True)
    rs = run(client.create(REPLICA_SETS, replica_set("web", 3), namespace=namespace))
    uid = rs["metadata"]["uid"]
    done = eventually(lambda: status_is(client, REPLICA_SETS, "web", namespace, replicas=3, readyReplicas=3,
                                        availableReplicas=3, fullyLabeledReplicas=3, observedGeneration=1))
    assert done["status"]["observedGeneration"] == 1
    pods = owned_pods(client, namespace, uid)
    assert len(pods) == 3
    pod = pods[0]
    assert pod["metadata"]["generateName"] == "web-" and pod["metadata"]["annotations"]["note"] == "kept"
    assert pod["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                                   "uid": uid, "controller": True, "blockOwnerDeletion": True}]
    created = eventually(lambda: [e for e in events_for(client, namespace, "web") if e["reason"] == "SuccessfulCreate"]
                         if len(events_for(client, namespace, "web")) >= 3 else None)
    assert {e["message"] for e in created} == {f"Created pod: {p['metadata']['name']}" for p in pods}
    assert created[0]["source"]["component"] == "replicaset-controller"

    run(client.patch(REPLICA_SETS, "web", {"spec": {"replicas": 1}}, namespace))
    eventually(lambda: status_is(client, REPLICA_SETS, "web", namespace, replicas=1, readyReplicas=1,
                                 observedGeneration=2))
    eventually(lambda: len(owned_pods(client, namespace, uid)) == 1)
    deleted = eventually(lambda: [e for e in events_for(client, namespace, "web") if e["reason"] == "SuccessfulDelete"])
    assert deleted[0]["message"].startswith("Deleted pod: web-")


def test_deleted_pods_are_replaced(controllers, simulated_nodes, client, namespace):
    """A pod deleted by someone else is made again."""
    controllers("replicaset-controller")
    simulated_nodes("rs-node", schedule=True)
    rs = run(client.create(REPLICA_SETS, replica_set("again", 2), namespace=namespace))
    pods = eventually(lambda: (p := owned_pods(client, namespace, rs["metadata"]["uid"])) and len(p) == 2 and p)
    run(client.delete(PODS, pods[0]["metadata"]["name"], namespace))
    eventually(lambda: (names := {p["metadata"]["name"] for p in owned_pods(client, namespace, rs["metadata"]["uid"])})
               and len(names) == 2 and pods[0]["metadata"]["name"] not in names)


def test_adopts_matching_orphans_and_releases_pods_that_stop_matching(controllers, simulated_nodes, client,
                                                                        namespace):
    """An orphan matching the selector is adopted (and counted); a pod relabelled out of the selector is released
    and replaced."""
    simulated_nodes("rs-node", schedule=True)
    run(client.create(PODS, bare_pod("orphan", {"app": "adopt"}), namespace=namespace))
    controllers("replicaset-controller")
    rs = run(client.create(REPLICA_SETS, replica_set("adopt", 2), namespace=namespace))
    uid = rs["metadata"]["uid"]
    eventually(lambda: "orphan" in {p["metadata"]["name"] for p in owned_pods(client, namespace, uid)})
    eventually(lambda: len(owned_pods(client, namespace, uid)) == 2)
    orphan = run(client.get(PODS, "orphan", namespace))
    assert orphan["metadata"]["ownerReferences"][0]["controller"] is True
    run(client.patch(PODS, "orphan", {"metadata": {"labels": {"app": "elsewhere"}}}, namespace))
    released = eventually(lambda: not (p := run(client.get(PODS, "orphan", namespace)))["metadata"].get(
        "ownerReferences") and p)
    assert released["metadata"]["labels"] == {"app": "elsewhere"}
    eventually(lambda: len(owned_pods(client, namespace, uid)) == 2
               and "orphan" not in {p["metadata"]["name"] for p in owned_pods(client, namespace, uid)})


def test_scale_down_deletes_not_ready_pods_first(controllers, client, namespace):
    """Without a node, pods stay Pending and unassigned; an adopted Running pod on a node is kept when scaling
    down, as unassigned pods go first."""
    controllers("replicaset-controller")
    run(client.create(REPLICA_SETS, replica_set("order", 3), namespace=namespace))
    eventually(lambda: status_is(client, REPLICA_SETS, "order", namespace, replicas=3))
    pods = run(client.list(PODS, namespace, label_selector="app=order"))["items"]
    keep = pods[0]["metadata"]["name"]
    run(client.create(PODS, {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": keep},
                             "target": {"apiVersion": "v1", "kind": "Node", "name": "somewhere"}},
                      namespace=namespace, name=keep, subresource="binding"))
    run(client.patch(REPLICA_SETS, "order", {"spec": {"replicas": 1}}, namespace))
    eventually(lambda: [p["metadata"]["name"] for p in run(client.list(PODS, namespace, label_selector="app=order"))[
        "items"] if not p["metadata"].get("deletionTimestamp")] == [keep])


def test_min_ready_seconds_delays_availability(controllers, simulated_nodes, client, namespace):
    """Ready pods count as available only minReadySeconds after they became Ready."""
    controllers("replicaset-controller")
    simulated_nodes("rs-node", schedule=True)
    run(client.create(REPLICA_SETS, replica_set("slow", 1, min_ready=2), namespace=namespace))
    eventually(lambda: status_is(client, REPLICA_SETS, "slow", namespace, readyReplicas=1, availableReplicas=0))
    eventually(lambda: status_is(client, REPLICA_SETS, "slow", namespace, availableReplicas=1), timeout=30)
    # Seen available no sooner than minReadySeconds after the pod's Ready transition (a timestamp truncated to the
    # second, so the true transition is within the second after it).
    seen = time.time()
    [pod] = run(client.list(PODS, namespace))["items"]
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    assert seen >= meta.parse_time(ready["lastTransitionTime"]) + 2


def test_quota_refusal_sets_replica_failure_and_clears_it(controllers, client, namespace):
    """A create refused by quota makes the ReplicaFailure condition (FailedCreate) and a FailedCreate event; it
    goes once the set fits."""
    run(client.create(RESOURCE_QUOTAS, {"apiVersion": "v1", "kind": "ResourceQuota",
                                        "metadata": {"name": "one"}, "spec": {"hard": {"pods": "1"}}},
                      namespace=namespace))
    eventually(lambda: (run(client.get(RESOURCE_QUOTAS, "one", namespace)).get("status") or {}).get("hard"))
    controllers("replicaset-controller")
    # (Two at a time would race the apiserver's quota admission, which counts concurrent creates once.)
    run(client.create(REPLICA_SETS, replica_set("capped", 2), namespace=namespace))
    rs = eventually(lambda: (r := run(client.get(REPLICA_SETS, "capped", namespace)))
                    .get("status", {}).get("conditions") and r)
    condition = rs["status"]["conditions"][0]
    assert (condition["type"], condition["status"], condition["reason"]) == ("ReplicaFailure", "True", "FailedCreate")
    assert "exceeded quota" in condition["message"]
    failed = eventually(lambda: [e for e in events_for(client, namespace, "capped") if e["reason"] == "FailedCreate"])
    assert failed[0]["type"] == "Warning" and failed[0]["message"].startswith("Error creating: ")
    run(client.patch(REPLICA_SETS, "capped", {"spec": {"replicas": 1}}, namespace))
    eventually(lambda: not run(client.get(REPLICA_SETS, "capped", namespace))["status"].get("conditions"))


def test_replication_controller_runs_on_the_same_engine(controllers, simulated_nodes, client, namespace):
    """An RC's map selector is honoured; pods get a ReplicationController controllerRef; status is reported;
    events come from replication-controller."""
    controllers("replicationcontroller-controller")
    simulated_nodes("rc-node", schedule=True)
    rc = run(client.create(REPLICATION_CONTROLLERS, {
        "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "legacy"},
        "spec": {"replicas": 2, "selector": {"app": "legacy"},
                 "template": {"metadata": {"labels": {"app": "legacy"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}, namespace=namespace))
    eventually(lambda: status_is(client, REPLICATION_CONTROLLERS, "legacy", namespace, replicas=2, readyReplicas=2,
                                 availableReplicas=2, observedGeneration=1))
    pods = owned_pods(client, namespace, rc["metadata"]["uid"])
    assert [r["kind"] for p in pods for r in p["metadata"]["ownerReferences"]] == ["ReplicationController"] * 2
    created = eventually(lambda: [e for e in events_for(client, namespace, "legacy")
                                  if e["reason"] == "SuccessfulCreate"])
    assert created[0]["source"]["component"] == "replication-controller"
    run(client.patch(REPLICATION_CONTROLLERS, "legacy", {"spec": {"replicas": 0}}, namespace))
    eventually(lambda: status_is(client, REPLICATION_CONTROLLERS, "legacy", namespace, replicas=0,
                                 observedGeneration=2))

"""The [sig-api-machinery] Garbage Collector entries that need kube-controller-manager, run with its
garbage-collector-controller (in this process) against an apiserver that collects nothing itself
(--embedded-controllers=), so they pin kube-controller-manager's collector.

What differs from upstream's e2e tests: no replication, replica set or deployment controller runs here, so each
test makes the dependents itself exactly as those controllers would (pods owned by the ReplicationController or
ReplicaSet with controller and blockOwnerDeletion set, a ReplicaSet owned likewise by its Deployment); every
MUST the entries state is about the collector's handling of those references, and is checked as stated."""

from __future__ import annotations

import pytest

from kapiserver.client.resources import DEPLOYMENTS, PODS, REPLICA_SETS, REPLICATION_CONTROLLERS
from kapiserver.client.rest import APIError
from tests.client.conftest import resolver_threads  # noqa: F401
from tests.controllers.conftest import settle
from tests.controllermanager.conftest import client, controllers, eventually, run  # noqa: F401
from tests.e2e.conftest import APIServerProcess

LABELS = {"app": "gc-test"}


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory):
    server = APIServerProcess(tmp_path_factory.mktemp("apiserver") / "data", args=("--embedded-controllers=",))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def gc(controllers):  # noqa: F811
    return controllers("garbage-collector-controller")


def template():
    return {"metadata": {"labels": LABELS},
            "spec": {"containers": [{"name": "nginx", "image": "registry.k8s.io/nginx-slim:0.26"}]}}


def owner_ref(owner, block=True, controller=True):
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": controller, "blockOwnerDeletion": block}


def replication_controller(client, namespace, name, replicas=2):  # noqa: F811
    return run(client.create(REPLICATION_CONTROLLERS, {
        "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": replicas, "selector": LABELS, "template": template()}}))


def owned_pods(client, namespace, owner, count, prefix=None, extra_owners=(), finalizers=()):  # noqa: F811
    """``count`` pods owned by ``owner``, as its controller makes them."""
    pods = []
    for i in range(count):
        refs = [owner_ref(owner)] + [owner_ref(o, controller=False) for o in extra_owners]
        meta = {"name": f"{prefix or owner['metadata']['name']}-{i}", "namespace": namespace, "labels": LABELS,
                "ownerReferences": refs}
        if finalizers:
            meta["finalizers"] = list(finalizers)
        pods.append(run(client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                                             "spec": template()["spec"]})))
    return pods


def names(client, resource, namespace):  # noqa: F811
    return sorted(o["metadata"]["name"] for o in run(client.list(resource, namespace))["items"])


def missing(client, resource, name, namespace):  # noqa: F811
    try:
        run(client.get(resource, name, namespace))
        return False
    except APIError as e:
        return e.code == 404


def test_garbage_collector_delete_replication_controller_propagation_policy_background(client, namespace, gc):  # noqa: F811
    """Garbage Collector, delete replication controller, propagation policy background

    A ReplicationController deleted with propagationPolicy Background MUST have its pods deleted by the garbage
    collector."""
    rc = replication_controller(client, namespace, "simpletest.rc")
    owned_pods(client, namespace, rc, 2)
    run(client.delete(REPLICATION_CONTROLLERS, "simpletest.rc", namespace, propagation_policy="Background"))
    eventually(lambda: names(client, PODS, namespace) == [], timeout=30)
    assert missing(client, REPLICATION_CONTROLLERS, "simpletest.rc", namespace)


def test_garbage_collector_delete_replication_controller_propagation_policy_orphan(client, namespace, gc):  # noqa: F811
    """Garbage Collector, delete replication controller, propagation policy orphan

    A ReplicationController deleted with propagationPolicy Orphan MUST go while its pods stay, their references to
    it removed."""
    rc = replication_controller(client, namespace, "simpletest.rc")
    owned_pods(client, namespace, rc, 2)
    run(client.delete(REPLICATION_CONTROLLERS, "simpletest.rc", namespace, propagation_policy="Orphan"))
    eventually(lambda: missing(client, REPLICATION_CONTROLLERS, "simpletest.rc", namespace), timeout=30)
    settle(1.0)
    pods = run(client.list(PODS, namespace))["items"]
    assert len(pods) == 2
    assert all(not p["metadata"].get("ownerReferences") for p in pods)


def deployment_with_replica_set(client, namespace, name):  # noqa: F811
    deployment = run(client.create(DEPLOYMENTS, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": 2, "selector": {"matchLabels": LABELS}, "template": template()}}))
    replica_set = run(client.create(REPLICA_SETS, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"{name}-5d8f7c", "namespace": namespace, "labels": LABELS,
                     "ownerReferences": [owner_ref(deployment)]},
        "spec": {"replicas": 2, "selector": {"matchLabels": LABELS}, "template": template()}}))
    owned_pods(client, namespace, replica_set, 2)
    return deployment, replica_set


def test_garbage_collector_delete_deployment_propagation_policy_background(client, namespace, gc):  # noqa: F811
    """Garbage Collector, delete deployment,  propagation policy background

    A Deployment deleted with propagationPolicy Background MUST have its ReplicaSets (and their pods) deleted."""
    deployment_with_replica_set(client, namespace, "simpletest.deployment")
    run(client.delete(DEPLOYMENTS, "simpletest.deployment", namespace, propagation_policy="Background"))
    eventually(lambda: names(client, REPLICA_SETS, namespace) == [] and names(client, PODS, namespace) == [],
               timeout=30)


def test_garbage_collector_delete_deployment_propagation_policy_orphan(client, namespace, gc):  # noqa: F811
    """Garbage Collector, delete deployment, propagation policy orphan

    A Deployment deleted with propagationPolicy Orphan MUST go while its ReplicaSets stay, without references to
    it."""
    _, replica_set = deployment_with_replica_set(client, namespace, "simpletest.deployment")
    run(client.delete(DEPLOYMENTS, "simpletest.deployment", namespace, propagation_policy="Orphan"))
    eventually(lambda: missing(client, DEPLOYMENTS, "simpletest.deployment", namespace), timeout=30)
    settle(1.0)
    kept = run(client.get(REPLICA_SETS, replica_set["metadata"]["name"], namespace))
    assert not kept["metadata"].get("ownerReferences")
    assert len(names(client, PODS, namespace)) == 2


def test_garbage_collector_delete_replication_controller_after_owned_pods(client, namespace, gc):  # noqa: F811
    """Garbage Collector, delete replication controller, after owned pods

    A ReplicationController deleted with propagationPolicy Foreground MUST stay (with a deletionTimestamp and
    the foregroundDeletion finalizer) until its pods are deleted, and then go. (Pods here are held by a finalizer
    of the test's for as long as upstream's are held by their graceful termination.)"""
    rc = replication_controller(client, namespace, "simpletest.rc")
    pods = owned_pods(client, namespace, rc, 2, finalizers=["e2e.example.com/hold"])
    run(client.delete(REPLICATION_CONTROLLERS, "simpletest.rc", namespace, propagation_policy="Foreground"))
    eventually(lambda: all(run(client.get(PODS, p["metadata"]["name"], namespace))["metadata"].get(
        "deletionTimestamp") for p in pods))
    settle(0.5)
    held = run(client.get(REPLICATION_CONTROLLERS, "simpletest.rc", namespace))
    assert held["metadata"]["deletionTimestamp"] and "foregroundDeletion" in held["metadata"]["finalizers"]
    for p in pods:
        run(client.patch(PODS, p["metadata"]["name"], {"metadata": {"finalizers": None}}, namespace))
    eventually(lambda: names(client, PODS, namespace) == [], timeout=30)
    eventually(lambda: missing(client, REPLICATION_CONTROLLERS, "simpletest.rc", namespace), timeout=30)


def test_garbage_collector_multiple_owners(client, namespace, gc):  # noqa: F811
    """Garbage Collector, multiple owners

    Pods owned by two ReplicationControllers: when the first is deleted in the foreground, the pods that also
    name the second (which is not being deleted) MUST NOT be deleted, and MUST lose their reference to the first;
    the first's other pods are deleted."""
    rc1 = replication_controller(client, namespace, "simpletest-rc-to-be-deleted", replicas=4)
    rc2 = replication_controller(client, namespace, "simpletest-rc-to-stay", replicas=0)
    owned_pods(client, namespace, rc1, 2, prefix="only-first")
    shared = owned_pods(client, namespace, rc1, 2, prefix="both", extra_owners=[rc2])
    run(client.delete(REPLICATION_CONTROLLERS, "simpletest-rc-to-be-deleted", namespace,
                      propagation_policy="Foreground"))
    eventually(lambda: missing(client, REPLICATION_CONTROLLERS, "simpletest-rc-to-be-deleted", namespace),
               timeout=30)
    assert names(client, PODS, namespace) == sorted(p["metadata"]["name"] for p in shared)
    for p in shared:
        refs = run(client.get(PODS, p["metadata"]["name"], namespace))["metadata"]["ownerReferences"]
        assert [r["uid"] for r in refs] == [rc2["metadata"]["uid"]]

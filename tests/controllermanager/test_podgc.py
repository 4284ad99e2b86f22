"""pod-garbage-collector-controller with its clock injected (a task.Clock the test moves by the 20 s check
period and the 40 s quarantine): terminated pods beyond the threshold, orphans of deleted nodes (marked Failed
with DisruptionTarget first), unscheduled terminating pods."""

import time

import pytest
from twisted.internet import reactor, task

from kapiserver.client.informer import SharedInformerFactory
from kapiserver.client.resources import PODS
from kapiserver.client.rest import APIError
from kapiserver.controllermanager.context import ControllerContext
from kapiserver.controllermanager.podgc import PodGCController
from kapiserver.node.simulated import RUN_SECONDS_ANNOTATION
from tests.controllermanager.conftest import eventually, run

KEEP = "kapiserver.io/test-keep"


def pod_object(name, namespace, node=None, finalizers=(), **annotations):
    spec = {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "annotations": annotations,
                         "finalizers": list(finalizers)}, "spec": spec}


class PodGC:
    def __init__(self, client, **options):
        self.clock = task.Clock()
        self.clock.advance(reactor.seconds())
        self.informers = SharedInformerFactory(client, reactor)
        self.controller = PodGCController(ControllerContext(client, self.informers, self.clock, options))
        self.informers.start()
        run(self.controller.run())

    def period(self, times=1):
        for _ in range(times):
            self.clock.advance(20)
            eventually(lambda: self.controller._running is not None and self.controller._running.called)

    def sees(self, namespace, count):
        eventually(lambda: len([p for p in self.controller.pods.indexer.list()
                                if p["metadata"]["namespace"] == namespace]) == count)

    def stop(self):
        self.controller.stop()
        self.informers.stop()


@pytest.fixture
def podgc(client):
    made = []

    def start(**options):
        made.append(PodGC(client, **options))
        return made[-1]
    yield start
    for gc in made:
        gc.stop()


def names(client, namespace):
    return sorted(p["metadata"]["name"] for p in run(client.list(PODS, namespace))["items"])


def release(client, namespace, name):
    try:
        run(client.patch(PODS, name, {"metadata": {"finalizers": None}}, namespace))
    except APIError:
        pass


def test_terminated_pods_beyond_the_threshold_go_oldest_first(podgc, simulated_nodes, client, namespace):
    """With --terminated-pod-gc-threshold 2 and three finished pods, the oldest is deleted (by creation time,
    though its name sorts last); running pods are not counted."""
    simulated_nodes("gc-node", run_seconds=0.05)
    gc = podgc(**{"terminated-pod-gc-threshold": 2})
    run(client.create(PODS, pod_object("z-old", namespace, node="gc-node")))
    run(client.create(PODS, pod_object("running", namespace, node="gc-node", **{RUN_SECONDS_ANNOTATION: "600"})))
    later = time.monotonic() + 1.1
    eventually(lambda: time.monotonic() > later)          # a later creationTimestamp second for the rest
    for name in ("a-new", "b-new"):
        run(client.create(PODS, pod_object(name, namespace, node="gc-node")))
    eventually(lambda: sorted(p["metadata"]["name"] for p in gc.controller.pods.indexer.list()
                              if p["metadata"]["namespace"] == namespace and p["status"].get("phase") == "Succeeded")
               == ["a-new", "b-new", "z-old"])
    gc.period()
    eventually(lambda: names(client, namespace) == ["a-new", "b-new", "running"])


def test_orphaned_pods_are_marked_and_deleted_after_quarantine(podgc, client, namespace):
    """A pod bound to a node that does not exist is left alone for the 40 s quarantine, then marked Failed
    with DisruptionTarget (DeletionByPodGC) and force-deleted."""
    gc = podgc()
    run(client.create(PODS, pod_object("orphan", namespace, node="ghost-node", finalizers=[KEEP])))
    gc.sees(namespace, 1)
    try:
        gc.period(2)               # first seen missing, then 20 s into the quarantine
        pod = run(client.get(PODS, "orphan", namespace))
        assert not pod["metadata"].get("deletionTimestamp")
        gc.period()
        pod = eventually(lambda: (p := run(client.get(PODS, "orphan", namespace)))["metadata"].get(
            "deletionTimestamp") and p)
        assert pod["status"]["phase"] == "Failed"
        condition = [c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget"][0]
        assert (condition["status"], condition["reason"], condition["message"]) == \
            ("True", "DeletionByPodGC", "PodGC: node no longer exists")
    finally:
        release(client, namespace, "orphan")


def test_unscheduled_terminating_pods_are_failed_and_deleted(podgc, client, namespace):
    """A pod being deleted that no node ever took is marked Failed and deleted at once."""
    gc = podgc()
    run(client.create(PODS, pod_object("limbo", namespace, finalizers=[KEEP])))
    try:
        run(client.delete(PODS, "limbo", namespace, grace_period_seconds=30))
        eventually(lambda: any(p["metadata"].get("deletionTimestamp") for p in gc.controller.pods.indexer.list()
                               if p["metadata"]["name"] == "limbo"))
        gc.period()
        eventually(lambda: run(client.get(PODS, "limbo", namespace))["status"].get("phase") == "Failed")
    finally:
        release(client, namespace, "limbo")


def test_terminating_pods_on_out_of_service_nodes_are_failed_and_deleted(podgc, client, namespace):
    """A terminating pod on a not-Ready node tainted node.kubernetes.io/out-of-service is marked Failed and
    deleted; one on a node without the taint is left to its kubelet."""
    from kapiserver.client.resources import NODES
    gc = podgc()
    for name, taints in (("oos-node", [{"key": "node.kubernetes.io/out-of-service", "effect": "NoExecute"}]),
                         ("plain-down-node", [])):
        try:
            run(client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                                      "spec": {"taints": taints}}))
        except APIError as e:
            assert e.code == 409
    for pod, node in (("stuck", "oos-node"), ("waiting", "plain-down-node")):
        run(client.create(PODS, pod_object(pod, namespace, node=node, finalizers=[KEEP])))
        run(client.delete(PODS, pod, namespace, grace_period_seconds=30))
    try:
        eventually(lambda: len([p for p in gc.controller.pods.indexer.list() if p["metadata"]["namespace"] == namespace
                                and p["metadata"].get("deletionTimestamp")]) == 2 and
                   len(gc.controller.nodes.indexer.list()) >= 2)
        gc.period()
        eventually(lambda: run(client.get(PODS, "stuck", namespace))["status"].get("phase") == "Failed")
        assert run(client.get(PODS, "waiting", namespace))["status"].get("phase") != "Failed"
    finally:
        release(client, namespace, "stuck")
        release(client, namespace, "waiting")
        for name in ("oos-node", "plain-down-node"):
            run(client.delete(NODES, name))

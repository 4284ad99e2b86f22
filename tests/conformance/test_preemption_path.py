"""[sig-scheduling] "Pod preemption verification" (PreemptionExecutionPath), with what it needs in this process:
kube-scheduler's Scheduler, kube-controller-manager's replicaset-controller, and a simulated node whose
allocatable holds the fake extended resource the e2e test writes onto a real node (`example.com/fakecpu`:
1000).  What differs from upstream's run: the simulated node reports the pods Running and finishes a
preempted victim's graceful deletion at once, and the final stability wait is 3 s instead of 5 s."""

from __future__ import annotations

import time

from twisted.internet import reactor

from kapiserver.client.informer import SharedInformerFactory
from kapiserver.client.resources import PODS, PRIORITY_CLASSES, REPLICA_SETS
from kapiserver.client.rest import APIError
from kapiserver.scheduler.scheduler import Scheduler
from tests.conformance.support import unique
from tests.controllermanager.conftest import (client, controllers, eventually, namespace, run,  # noqa: F401
                                              run_until, simulated_nodes)

FAKE_CPU = "example.com/fakecpu"


def _pod_spec(priority_class: str, node: str, amount: str) -> dict:
    return {"priorityClassName": priority_class, "nodeSelector": {"kubernetes.io/hostname": node},
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                            "resources": {"requests": {FAKE_CPU: amount}, "limits": {FAKE_CPU: amount}}}]}


def test_pod_preemption_verification(client, controllers, namespace, simulated_nodes):  # noqa: F811
    """Pod preemption verification

    Four levels of Pods in ReplicaSets with different levels of Priority, restricted by given CPU limits MUST
    launch. Priority 1 - 3 Pods MUST spawn first followed by Priority 4 Pod. The ReplicaSets with Replicas
    MUST contain the expected number of Replicas."""
    node = unique("preemption-path")
    simulated_nodes(node, capacity={"cpu": "4", "memory": "8Gi", "pods": "110", FAKE_CPU: "1000"})
    suffix = node.rsplit("-", 1)[-1]
    classes = {i: f"p{i}-{suffix}" for i in range(1, 5)}
    for i, name in classes.items():
        run(client.create(PRIORITY_CLASSES, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                             "metadata": {"name": name}, "value": i}))
    controllers("replicaset-controller")
    scheduler = Scheduler(client, reactor)
    run(scheduler.run())
    # The pods each ReplicaSet made, counted as the e2e test's informer counts them.
    seen = {"rs-pod1": 0, "rs-pod2": 0, "rs-pod3": 0}
    informers = SharedInformerFactory(client, reactor)

    def added(pod):
        for prefix in seen:
            if pod["metadata"]["name"].startswith(prefix):
                seen[prefix] += 1
    informers.informer(PODS, namespace=namespace).add_event_handler(on_add=added)
    informers.start()
    try:
        for i, amount in ((1, "200"), (2, "300"), (3, "450")):     # 950 of the 1000 taken
            labels = {"name": f"pod{i}"}
            run(client.create(REPLICA_SETS, {
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": f"rs-pod{i}"},
                "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                         "template": {"metadata": {"labels": labels},
                                      "spec": _pod_spec(classes[i], node, amount)}}}, namespace=namespace))
            eventually(lambda i=i: (run(client.get(REPLICA_SETS, f"rs-pod{i}", namespace)).get("status") or {})
                       .get("availableReplicas") == 1, timeout=30)
        run(client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                             "metadata": {"name": "pod4", "labels": {"name": "pod4"}},
                                             "spec": _pod_spec(classes[4], node, "500")}, namespace=namespace))
        eventually(lambda: run(client.get(PODS, "pod4", namespace))["spec"].get("nodeName") == node, timeout=30)
        # ReplicaSets 1 and 2 were preempted once each (their pods made twice), 3 not at all.
        expected = {"rs-pod1": 2, "rs-pod2": 2, "rs-pod3": 1}
        eventually(lambda: all(seen[k] >= v for k, v in expected.items()), timeout=30)
        stop = time.monotonic() + 3
        run_until(lambda: time.monotonic() >= stop, timeout=5)
        assert seen == expected, f"pods made per ReplicaSet: {seen}"
    finally:
        informers.stop()
        scheduler.stop()
        for name in classes.values():
            try:
                run(client.delete(PRIORITY_CLASSES, name))
            except APIError:
                pass

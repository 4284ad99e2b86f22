"""The scheduler with simulated nodes (kube-node's SimulatedNode, in this process): pods it binds become
Running, pods spread over the nodes by their free room, and a preempted victim is ended by its node so the
preemptor runs, with no hand standing in for a kubelet."""

from __future__ import annotations

import random

import pytest
from twisted.internet import reactor

from kapiserver.client.resources import PODS, PRIORITY_CLASSES
from kapiserver.node.simulated import SimulatedNode
from kapiserver.scheduler.scheduler import Scheduler
from tests.conformance.support import unique
from tests.scheduler.conftest import client, create_pod, eventually, namespace, run  # noqa: F401

CAPACITY = {"cpu": "2", "memory": "4Gi", "pods": "110"}


@pytest.fixture(scope="module")
def cluster(client):  # noqa: F811
    nodes = [SimulatedNode(client, name, reactor, capacity=CAPACITY) for name in ("sim-1", "sim-2")]
    for n in nodes:
        run(n.start())
    scheduler = Scheduler(client, reactor, rand=random.Random(0))
    run(scheduler.run())
    yield nodes
    scheduler.stop()
    for n in nodes:
        n.stop()


def phase_and_node(client, namespace, name):  # noqa: F811
    pod = run(client.get(PODS, name, namespace))
    return pod["status"].get("phase"), pod["spec"].get("nodeName")


def test_pods_run_spread_over_the_nodes(client, cluster, namespace):  # noqa: F811
    """Four pods of 500m: each Running, two on each node (LeastAllocated sends each to the emptier one)."""
    for i in range(4):
        create_pod(client, namespace, f"web-{i}", cpu="500m")
    placed = [eventually(lambda: (lambda p: p[1] if p[0] == "Running" else None)(
        phase_and_node(client, namespace, f"web-{i}"))) for i in range(4)]
    assert sorted(placed) == ["sim-1", "sim-1", "sim-2", "sim-2"]


def test_preemptor_runs_once_its_victim_is_gone(client, cluster, namespace):  # noqa: F811
    """A high-priority pod needing a full node evicts the low-priority pod there and runs in its place."""
    high = unique("high")
    run(client.create(PRIORITY_CLASSES, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                         "metadata": {"name": high}, "value": 1000}))
    try:
        create_pod(client, namespace, "low", cpu="1500m", nodeSelector={"kubernetes.io/hostname": "sim-1"})
        eventually(lambda: phase_and_node(client, namespace, "low") == ("Running", "sim-1"))
        create_pod(client, namespace, "vip", cpu="1500m", priorityClassName=high,
                   nodeSelector={"kubernetes.io/hostname": "sim-1"})
        eventually(lambda: phase_and_node(client, namespace, "vip") == ("Running", "sim-1"))
        assert all(p["metadata"]["name"] != "low" for p in run(client.list(PODS, namespace=namespace))["items"])
    finally:
        run(client.delete(PRIORITY_CLASSES, high))

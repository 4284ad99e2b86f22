"""The scheduler in this process against a real kube-apiserver process (one per test module), driven by
turning the global reactor by hand; three fake Nodes (no kubelet) created through the API."""

from __future__ import annotations

import random
import time

import pytest
from twisted.internet import reactor

from kapiserver.client.resources import EVENTS, NAMESPACES, NODES, PODS
from kapiserver.client.rest import APIError, loopback_client
from kapiserver.scheduler.scheduler import Scheduler
from tests.conformance.support import unique
from tests.controllers.conftest import run, run_until  # noqa: F401
from tests.e2e.conftest import apiserver  # noqa: F401

CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def fake_node(name, cpu="2", memory="4Gi", pods="110", labels=None, taints=None):
    """A Node as a kubelet would register it, Ready, with its allocatable; nothing runs its pods."""
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                                  **(labels or {})}},
            "spec": {"taints": taints} if taints else {},
            "status": {"capacity": {"cpu": cpu, "memory": memory, "pods": pods},
                       "allocatable": {"cpu": cpu, "memory": memory, "pods": pods},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "kubelet is posting ready status"}]}}


def eventually(check, timeout: float = 30.0, interval: float = 0.05, also=None):
    """Turn the reactor until ``check()`` returns something truthy (an APIError counts as not yet); that."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        if also is not None:
            also()
        try:
            result = check()
            if result:
                return result
        except (APIError, AssertionError, KeyError, IndexError, TypeError, StopIteration) as e:
            last = e
        if time.monotonic() > deadline:
            raise TimeoutError(f"not reached within {timeout}s (last: {last!r})")
        stop = time.monotonic() + interval
        run_until(lambda: time.monotonic() >= stop, timeout=interval + 1)


@pytest.fixture(scope="module")
def client(apiserver):  # noqa: F811
    client = loopback_client(apiserver.url, user_agent="kube-scheduler-tests")
    yield client
    run(client.close())


@pytest.fixture(scope="module")
def nodes(client):
    """sched-a (2 cpu, disk=ssd), sched-b (2 cpu), sched-cp (4 cpu, the control-plane taint)."""
    made = [fake_node("sched-a", labels={"disk": "ssd"}), fake_node("sched-b"),
            fake_node("sched-cp", cpu="4", taints=[CONTROL_PLANE_TAINT])]
    for n in made:
        run(client.create(NODES, n))
    return [n["metadata"]["name"] for n in made]


@pytest.fixture(scope="module")
def scheduler(client, nodes):
    s = Scheduler(client, reactor, rand=random.Random(0))
    run(s.run())
    yield s
    s.stop()


@pytest.fixture
def namespace(client):
    """A namespace of its own; its pods are force-deleted afterwards (no kubelet ends them)."""
    name = unique("sched")
    run(client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    yield name
    for p in run(client.list(PODS, namespace=name))["items"]:
        try:
            run(client.delete(PODS, p["metadata"]["name"], name, grace_period_seconds=0))
        except APIError:
            pass
    run(client.delete(NAMESPACES, name))


def make_pod(name, cpu=None, memory=None, **spec):
    requests = {**({"cpu": cpu} if cpu else {}), **({"memory": memory} if memory else {})}
    container = {"name": "c", "image": "registry.k8s.io/pause:3.10"}
    if requests:
        container["resources"] = {"requests": requests}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [container], **spec}}


def create_pod(client, namespace, name, **kwargs):
    return run(client.create(PODS, make_pod(name, **kwargs), namespace=namespace))


def node_of(client, namespace, name):
    return run(client.get(PODS, name, namespace))["spec"].get("nodeName")


def events_for(client, namespace, name, reason=None):
    items = run(client.list(EVENTS, namespace=namespace,
                            field_selector=f"involvedObject.name={name}"))["items"]
    return [e for e in items if reason is None or e["reason"] == reason]


def finish_terminating_pods(client, namespace):
    """What a kubelet would do for a pod being deleted: confirm its deletion."""
    for p in run(client.list(PODS, namespace=namespace))["items"]:
        if p["metadata"].get("deletionTimestamp"):
            try:
                run(client.delete(PODS, p["metadata"]["name"], namespace, grace_period_seconds=0))
            except APIError:
                pass


__all__ = ["CONTROL_PLANE_TAINT", "create_pod", "events_for", "eventually", "fake_node", "finish_terminating_pods",
           "make_pod", "node_of"]

"""node-lifecycle-controller: a node whose Lease stops being renewed goes Unknown after the grace period, gets the
unreachable taints and its pods are marked not Ready; it is untainted when it comes back; conditions and
spec.unschedulable map to NoSchedule taints."""

import pytest
from twisted.internet import reactor, task
from twisted.internet.defer import Deferred

from kapiserver.client.resources import EVENTS, NODES, PODS
from kapiserver.controllermanager.nodelifecycle import (FULL_DISRUPTION, NORMAL, PARTIAL_DISRUPTION,
                                                        desired_no_schedule_taints, unknown_conditions, zone_state)
from tests.controllermanager.conftest import eventually, run

OPTIONS = {"node_monitor_period": 0.2, "node_monitor_grace_period": 2.0}


@pytest.fixture
def heartbeats():
    """``heartbeats(node)``: renew the simulated node's Lease every 0.3 s until ``.stop()`` or the test ends."""
    loops = []

    def start(node):
        loop = task.LoopingCall(lambda: Deferred.fromCoroutine(node.renew_lease()).addErrback(lambda f: None))
        loop.clock = reactor
        loop.start(0.3)
        loops.append(loop)
        return loop
    yield start
    for loop in loops:
        if loop.running:
            loop.stop()


def conditions(node):
    return {c["type"]: c for c in node["status"]["conditions"]}


def taints(client, name):
    return {(t["key"], t["effect"]): t for t in run(client.get(NODES, name))["spec"].get("taints") or []}


def test_conditions_go_unknown_with_upstreams_words():
    """Ready and the pressure conditions become Unknown (NodeStatusUnknown), missing ones NodeStatusNeverUpdated."""
    node = {"metadata": {"name": "n", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "lastHeartbeatTime": "2024-01-01T00:00:10Z"}]}}
    result = {c["type"]: c for c in unknown_conditions(node, 1_704_067_300)}
    assert result["Ready"]["status"] == "Unknown" and result["Ready"]["reason"] == "NodeStatusUnknown"
    assert result["Ready"]["message"] == "Kubelet stopped posting node status."
    assert result["Ready"]["lastHeartbeatTime"] == "2024-01-01T00:00:10Z"
    assert result["PIDPressure"]["reason"] == "NodeStatusNeverUpdated"
    assert result["PIDPressure"]["message"] == "Kubelet never posted node status."
    assert set(result) == {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}


def test_no_schedule_taints_follow_conditions_and_zone_states():
    """Conditions map to NoSchedule taints as upstream's table; zone states as ComputeZoneState."""
    node = {"spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "DiskPressure", "status": "True"},
                                      {"type": "MemoryPressure", "status": "False"}]}}
    assert {t["key"] for t in desired_no_schedule_taints(node)} == {
        "node.kubernetes.io/not-ready", "node.kubernetes.io/disk-pressure", "node.kubernetes.io/unschedulable"}
    assert zone_state(["Unknown", "False"]) == FULL_DISRUPTION
    assert zone_state(["True", "Unknown", "Unknown", "Unknown"]) == PARTIAL_DISRUPTION
    assert zone_state(["True", "Unknown", "Unknown"]) == NORMAL


def test_a_silent_node_goes_unknown_is_tainted_and_recovers(controllers, simulated_nodes, heartbeats, client,
                                                             namespace):
    """Without Lease renewals for the grace period the node is Unknown, tainted unreachable (NoExecute with
    timeAdded, and NoSchedule), its pod not Ready, with NodeNotReady events; a healthy node beside it is left
    alone; when the node posts Ready again the taints go."""
    healthy, silent = simulated_nodes("nl-healthy", "nl-silent")
    heartbeats(healthy)
    run(client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": namespace},
                             "spec": {"nodeName": "nl-silent", "containers": [{"name": "c", "image": "busybox"}]}}))
    eventually(lambda: conditions(run(client.get(PODS, "p", namespace)))["Ready"]["status"] == "True")
    silent.stop()
    controllers("node-lifecycle-controller", **OPTIONS)
    node = eventually(lambda: (n := run(client.get(NODES, "nl-silent"))) and
                      conditions(n)["Ready"]["status"] == "Unknown" and n)
    ready = conditions(node)["Ready"]
    assert (ready["reason"], ready["message"]) == ("NodeStatusUnknown", "Kubelet stopped posting node status.")
    assert conditions(node)["MemoryPressure"]["status"] == "Unknown"
    tainted = eventually(lambda: (t := taints(client, "nl-silent")).get(("node.kubernetes.io/unreachable",
                                                                         "NoExecute")) and t)
    assert tainted[("node.kubernetes.io/unreachable", "NoExecute")]["timeAdded"]
    assert ("node.kubernetes.io/unreachable", "NoSchedule") in tainted
    eventually(lambda: conditions(run(client.get(PODS, "p", namespace)))["Ready"]["status"] == "False")
    pod_events = eventually(lambda: [e for e in run(client.list(EVENTS, namespace))["items"]
                                     if e["reason"] == "NodeNotReady"])
    assert pod_events[0]["message"] == "Node is not ready" and pod_events[0]["type"] == "Warning"
    node_events = eventually(lambda: [e for e in run(client.list(EVENTS, "default"))["items"]
                                      if e["reason"] == "NodeNotReady" and e["involvedObject"]["name"] == "nl-silent"])
    assert node_events[0]["message"] == "Node nl-silent status is now: NodeNotReady"
    node = run(client.get(NODES, "nl-silent"))
    assert node_events[0]["involvedObject"]["uid"] == node["metadata"]["uid"]
    registered = [e for e in run(client.list(EVENTS, "default"))["items"]
                  if e["reason"] == "RegisteredNode" and e["involvedObject"]["name"] == "nl-silent"]
    assert registered[0]["message"] == "Node nl-silent event: Registered Node nl-silent in Controller"
    assert conditions(run(client.get(NODES, "nl-healthy")))["Ready"]["status"] == "True"
    assert not taints(client, "nl-healthy")

    run(silent.register())
    heartbeats(silent)
    eventually(lambda: not taints(client, "nl-silent"))
    assert conditions(run(client.get(NODES, "nl-silent")))["Ready"]["status"] == "True"


def test_unschedulable_nodes_get_the_unschedulable_taint(controllers, simulated_nodes, heartbeats, client):
    """spec.unschedulable adds node.kubernetes.io/unschedulable:NoSchedule; clearing it removes the taint."""
    node, = simulated_nodes("nl-cordoned")
    heartbeats(node)
    controllers("node-lifecycle-controller", **OPTIONS)
    run(client.patch(NODES, "nl-cordoned", {"spec": {"unschedulable": True}}))
    eventually(lambda: ("node.kubernetes.io/unschedulable", "NoSchedule") in taints(client, "nl-cordoned"))
    run(client.patch(NODES, "nl-cordoned", {"spec": {"unschedulable": False}}))
    eventually(lambda: ("node.kubernetes.io/unschedulable", "NoSchedule") not in taints(client, "nl-cordoned"))


class RecordingClient:
    """Writes of nodes, recorded and echoed back with a newer resourceVersion; events dropped."""

    def __init__(self):
        self.updates = []

    async def update(self, resource, obj, subresource=None):
        self.updates.append((resource.plural, subresource, obj))
        meta = {**obj["metadata"], "resourceVersion": str(int(obj["metadata"]["resourceVersion"]) + 1000)}
        return {**obj, "metadata": meta}

    async def create(self, resource, obj, namespace=None, **kwargs):
        return obj

    async def patch(self, *args, **kwargs):
        return {}


def _controller(nodes, clock, options=None):
    from kapiserver.client.informer import SharedInformerFactory
    from kapiserver.controllermanager.context import ControllerContext
    from kapiserver.controllermanager.nodelifecycle import NodeLifecycleController
    client = RecordingClient()
    ctx = ControllerContext(client, SharedInformerFactory(client, clock), clock, options)
    controller = NodeLifecycleController(ctx)
    for node in nodes:
        controller.nodes.indexer.add(node)
    return controller, client


def _node(name, ready, zone="z1", rv="1"):
    return {"metadata": {"name": name, "uid": name, "resourceVersion": rv, "creationTimestamp": "2024-01-01T00:00:00Z",
                         "labels": {"topology.kubernetes.io/zone": zone}},
            "spec": {}, "status": {"conditions": [{"type": "Ready", "status": ready}]}}


def _no_execute(client, name):
    writes = [obj for plural, sub, obj in client.updates if sub is None and obj["metadata"]["name"] == name]
    return [t["key"] for t in (writes[-1]["spec"].get("taints") or []) if t["effect"] == "NoExecute"] if writes else []


def test_zones_limit_no_execute_tainting():
    """A zone with every node down is in full disruption: no NoExecute taint; in a healthy zone the first
    unreachable node is tainted at once and the next only after 1/--node-eviction-rate seconds (20 s at 0.05)."""
    clock = task.Clock()
    clock.advance(1_700_000_000)
    controller, client = _controller([_node("down-1", "Unknown"), _node("down-2", "Unknown")], clock)
    run(controller._update_taints(controller.node("down-1"), "Unknown"))
    assert _no_execute(client, "down-1") == []
    assert ("node.kubernetes.io/unreachable", "NoSchedule") in {
        (t["key"], t["effect"]) for t in client.updates[-1][2]["spec"]["taints"]}

    nodes = [_node("ok-1", "True"), _node("ok-2", "True"), _node("bad-1", "Unknown"), _node("bad-2", "False")]
    controller, client = _controller(nodes, clock, {"node-eviction-rate": 0.05})
    run(controller._update_taints(controller.node("bad-1"), "Unknown"))
    assert _no_execute(client, "bad-1") == ["node.kubernetes.io/unreachable"]
    run(controller._update_taints(controller.node("bad-2"), "False"))
    assert _no_execute(client, "bad-2") == []
    clock.advance(10)
    run(controller._update_taints(controller.node("bad-2"), "False"))
    assert _no_execute(client, "bad-2") == []
    clock.advance(10)
    run(controller._update_taints(controller.node("bad-2"), "False"))
    assert _no_execute(client, "bad-2") == ["node.kubernetes.io/not-ready"]

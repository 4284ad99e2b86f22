"""The kubelet's events about its Node (Starting, NodeHasSufficientMemory..., NodeReady, NodeNotSchedulable,
NodeSchedulable), from kube-node's agent and from simulated nodes, against stub clients on a task.Clock."""

from __future__ import annotations

import copy

from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock

from kapiserver.client.rest import APIError
from kapiserver.node.agent import NodeAgent
from kapiserver.node.nodeevents import condition_reasons

PRESSURES = ["NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID"]


class _Server:
    """Nodes, Leases and Events in dicts; the Node's conditions and spec as the test sets them."""

    def __init__(self, fail_events=False):
        self.nodes, self.leases, self.events = {}, {}, []
        self.recorded = []      # the reason of each event written or counted again
        self.fail_events = fail_events

    async def get(self, resource, name, namespace=None, **options):
        store = self.nodes if resource.plural == "nodes" else self.leases
        if name not in store:
            raise APIError(404, {"reason": "NotFound", "message": f"{name} not found"})
        return copy.deepcopy(store[name])

    def create(self, resource, obj, namespace=None, **options):
        obj = copy.deepcopy(obj)
        if resource.plural == "events":
            if self.fail_events:
                return fail(APIError(500, {"reason": "InternalError", "message": "events are refused"}))
            self.events.append(obj)
            self.recorded.append(obj["reason"])
        elif resource.plural == "nodes":
            obj["metadata"]["uid"] = "node-uid"
            self.nodes[obj["metadata"]["name"]] = obj
        else:
            self.leases[obj["metadata"]["name"]] = obj
        d = Deferred()
        d.callback(copy.deepcopy(obj))
        return d

    async def update(self, resource, obj, **options):
        self.leases[obj["metadata"]["name"]] = copy.deepcopy(obj)
        return obj

    async def patch(self, resource, name, patch, namespace=None, **options):
        if resource.plural == "events":        # the recorder counts a repeat within ten minutes
            event = next(e for e in self.events if e["metadata"]["name"] == name)
            event.update(patch)
            self.recorded.append(event["reason"])
            return copy.deepcopy(event)
        node = self.nodes[name]
        before = {c["type"]: c for c in node["status"].get("conditions") or []}
        for c in patch["status"].get("conditions") or []:
            before[c["type"]] = c
        node["status"] = dict(node["status"], **patch["status"])
        node["status"]["conditions"] = list(before.values())
        return copy.deepcopy(node)

    def reasons(self):
        return list(self.recorded)


def _agent(server, tmp_path, clock=None):
    clock = clock or Clock()
    clock.advance(1_700_000_000)
    return NodeAgent(clock, server, "n1", "127.0.0.1", 10250, str(tmp_path)), clock


def _pass(agent):
    d = Deferred.fromCoroutine(agent._register_and_lease())
    assert d.called, "a status pass on stub clients finishes at once"
    if hasattr(d.result, "raiseException"):
        d.result.raiseException()


def test_a_new_node_records_starting_its_conditions_and_ready(tmp_path):
    """The first pass registers the Node and records Starting ("Starting kubelet."), the three pressure
    conditions and NodeReady, each "Node n1 status is now: <reason>", Normal, from the kubelet on n1, about the
    Node by a reference whose uid is its name, in default; a second pass with nothing changed records nothing."""
    server = _Server()
    agent, clock = _agent(server, tmp_path)
    _pass(agent)
    assert server.reasons() == ["Starting"] + PRESSURES + ["NodeReady"]
    starting = server.events[0]
    assert starting["message"] == "Starting kubelet." and starting["type"] == "Normal"
    assert starting["metadata"]["namespace"] == "default" and starting["metadata"]["name"].startswith("n1.")
    assert starting["involvedObject"] == {"kind": "Node", "name": "n1", "uid": "n1"}
    assert starting["source"] == {"component": "kubelet", "host": "n1"}
    assert starting["reportingComponent"] == "kubelet" and starting["reportingInstance"] == "n1"
    for event in server.events[1:]:
        assert event["message"] == f"Node n1 status is now: {event['reason']}" and event["type"] == "Normal"
    clock.advance(10)
    _pass(agent)
    assert len(server.events) == 5


def test_a_restarted_agent_records_starting_and_its_conditions_but_not_ready_again(tmp_path):
    """An agent starting on a Node that is Ready records Starting and the pressure conditions (upstream's kubelet
    registers from no conditions each start), but no NodeReady: the Ready condition did not change."""
    server = _Server()
    _pass(_agent(server, tmp_path)[0])
    server.recorded.clear()
    _pass(_agent(server, tmp_path)[0])
    assert server.reasons() == ["Starting"] + PRESSURES


def test_ready_again_after_the_node_controller_marked_it_unknown(tmp_path):
    """A Node whose Ready the node lifecycle controller set Unknown (the Lease was late): the next status
    written records NodeReady."""
    server = _Server()
    agent, clock = _agent(server, tmp_path)
    _pass(agent)
    for condition in server.nodes["n1"]["status"]["conditions"]:
        condition["status"] = "Unknown"
        condition["reason"] = "NodeStatusUnknown"
    server.recorded.clear()
    clock.advance(10)
    _pass(agent)
    assert server.reasons() == PRESSURES + ["NodeReady"]


def test_cordon_and_uncordon_record_not_schedulable_and_schedulable(tmp_path):
    """spec.unschedulable set (kubectl cordon) records NodeNotSchedulable at the next status pass, once;
    cleared, NodeSchedulable."""
    server = _Server()
    agent, clock = _agent(server, tmp_path)
    _pass(agent)
    server.recorded.clear()
    server.nodes["n1"]["spec"]["unschedulable"] = True
    for _ in range(2):
        clock.advance(10)
        _pass(agent)
    assert server.reasons() == ["NodeNotSchedulable"]
    assert server.events[-1]["message"] == "Node n1 status is now: NodeNotSchedulable"
    server.nodes["n1"]["spec"].pop("unschedulable")
    clock.advance(10)
    _pass(agent)
    assert server.reasons() == ["NodeNotSchedulable", "NodeSchedulable"]


def test_an_agent_starting_on_a_cordoned_node_records_not_schedulable(tmp_path):
    server = _Server()
    _pass(_agent(server, tmp_path)[0])
    server.nodes["n1"]["spec"]["unschedulable"] = True
    server.recorded.clear()
    _pass(_agent(server, tmp_path)[0])
    assert server.reasons() == ["Starting"] + PRESSURES + ["NodeNotSchedulable"]


def test_refused_event_writes_are_only_logged(tmp_path):
    """A server refusing Events: the Node is registered and its Lease renewed all the same."""
    server = _Server(fail_events=True)
    agent, _ = _agent(server, tmp_path)
    _pass(agent)
    assert "n1" in server.nodes and "n1" in server.leases and agent.registered.called
    assert not agent.recorder.pending


def test_condition_reasons_follow_the_status_changes():
    def conditions(memory="False", disk="False", pid="False", ready="True"):
        return [{"type": "MemoryPressure", "status": memory}, {"type": "DiskPressure", "status": disk},
                {"type": "PIDPressure", "status": pid}, {"type": "Ready", "status": ready}]
    assert condition_reasons(conditions(), conditions()) == []
    assert condition_reasons(conditions(), conditions(memory="True", disk="True", pid="True")) == \
        ["NodeHasInsufficientMemory", "NodeHasDiskPressure", "NodeHasInsufficientPID"]
    assert condition_reasons(conditions(disk="True"), conditions()) == ["NodeHasNoDiskPressure"]
    assert condition_reasons(conditions(), conditions(), first=True) == PRESSURES
    assert condition_reasons(conditions(ready="True"), conditions(ready="False")) == ["NodeNotReady"]
    assert condition_reasons([], conditions()) == PRESSURES + ["NodeReady"]


class _SlowEvents(_Server):
    """Event creates answered only when the test says so; with `slow_lease`, that node's Lease read too."""

    def __init__(self, slow_lease=None):
        super().__init__()
        self.waiting = []
        self.slow_lease, self.lease_read = slow_lease, None

    def get(self, resource, name, namespace=None, **options):
        if resource.plural == "leases" and name == self.slow_lease and self.lease_read is None:
            self.lease_read = Deferred()
            return self.lease_read
        return Deferred.fromCoroutine(super().get(resource, name, namespace, **options))

    def create(self, resource, obj, namespace=None, **options):
        if resource.plural != "events":
            return super().create(resource, obj, namespace, **options)
        d = Deferred()
        self.waiting.append((obj, d))
        return d

    def answer_all(self):
        while self.waiting:
            obj, d = self.waiting.pop(0)
            self.events.append(obj)
            self.recorded.append(obj["reason"])
            d.callback(obj)


def test_simulated_nodes_record_their_start_a_few_writes_at_a_time():
    """Each simulated node records what a starting kubelet does (Starting, the pressure conditions, NodeReady),
    from the kubelet on that node; a fleet writes them once its registration is done, one at a time, so that
    the burst neither slows the registration nor crowds the pods' writes."""
    from kapiserver.node.simulated import EVENT_WRITES, SimulatedNodes
    server = _SlowEvents(slow_lease="b")
    clock = Clock()
    fleet = SimulatedNodes(server, ["a", "b", "c"], clock)
    d = Deferred.fromCoroutine(fleet.register())
    assert set(server.nodes) == {"a", "b", "c"} and not d.called
    assert server.waiting == [], "no event is written while the fleet registers"
    server.lease_read.errback(APIError(404, {"reason": "NotFound"}))
    assert d.called and set(server.leases) == {"a", "b", "c"}
    assert len(server.waiting) == EVENT_WRITES == 1
    server.answer_all()
    while server.waiting:
        server.answer_all()
    assert len(server.events) == 15
    for name in ("a", "b", "c"):
        mine = [e for e in server.events if e["involvedObject"]["name"] == name]
        assert [e["reason"] for e in mine] == ["Starting"] + PRESSURES + ["NodeReady"]
        assert all(e["source"] == {"component": "kubelet", "host": name} for e in mine)
        assert mine[0]["involvedObject"] == {"kind": "Node", "name": name, "uid": name}


def test_simulated_nodes_record_cordon_uncordon_and_ready_again():
    """A Node seen cordoned records NodeNotSchedulable once, uncordoned NodeSchedulable; a Node whose Ready the
    node controller set Unknown records NodeReady when its status is written again."""
    from kapiserver.node.simulated import SimulatedNodes
    server = _Server()
    clock = Clock()
    fleet = SimulatedNodes(server, ["a", "b"], clock)
    assert Deferred.fromCoroutine(fleet.register()).called
    server.recorded.clear()
    node = copy.deepcopy(server.nodes["a"])
    node["spec"]["unschedulable"] = True
    fleet._node_seen(node)
    fleet._node_seen(node)
    node["spec"]["unschedulable"] = False
    fleet._node_seen(node)
    assert server.reasons() == ["NodeNotSchedulable", "NodeSchedulable"]
    server.recorded.clear()
    for condition in server.nodes["b"]["status"]["conditions"]:
        condition["status"] = "Unknown"
    fleet._node_seen(copy.deepcopy(server.nodes["b"]))
    assert server.reasons() == PRESSURES + ["NodeReady"]
    assert {e["involvedObject"]["name"] for e in server.events if e["reason"] == "NodeReady"} == {"a", "b"}
    server.recorded.clear()
    d = Deferred.fromCoroutine(fleet._report_status("b"))
    assert d.called and server.reasons() == []

"""The scheduler against a client stand-in: the paths that end without a binding (a refused binding, a pod
being deleted, preemption on and off, a victim gone before its eviction) and what its profiles configure."""

from __future__ import annotations

import random

from twisted.internet import task
from twisted.internet.defer import Deferred

from kapiserver.client.resources import PODS
from kapiserver.client.rest import APIError
from kapiserver.scheduler.scheduler import Scheduler
from tests.scheduler.objects import node, pod


class FakeClient:
    """Refuses bindings (409); records every status patch and delete."""

    def __init__(self, gone=()):
        self.patches = []
        self.deletes = []
        self.events = []
        self.gone = set(gone)    # pods whose writes answer 404

    async def create(self, resource, body, namespace=None, name=None, subresource=None):
        if body.get("kind") == "Event":
            self.events.append(body)
        if subresource == "binding":
            raise APIError(409, {"kind": "Status", "reason": "Conflict",
                                 "message": f'Operation cannot be fulfilled on pods/binding "{name}": taken'})
        return body

    async def patch(self, resource, name, body, namespace=None, patch_type=None, subresource=None):
        if name in self.gone:
            raise APIError(404, {"kind": "Status", "reason": "NotFound", "message": f'pods "{name}" not found'})
        self.patches.append((resource, name, body))
        return body

    async def delete(self, resource, name, namespace=None, **options):
        self.deletes.append(name)
        return {}


def scheduler_with(client, *pods, profiles=None):
    s = Scheduler(client, task.Clock(), rand=random.Random(0), profiles=profiles)
    s.nodes._event("ADDED", node("a"))
    for p in pods:
        s.pods._event("ADDED", p)
    return s


def run(coroutine):
    d = Deferred.fromCoroutine(coroutine)
    results = []
    d.addBoth(results.append)
    assert results and not hasattr(results[0], "check"), results
    return results[0]


def test_refused_binding_clears_the_nomination():
    """A binding the server refuses: the pod is forgotten, a SchedulerError condition is written with
    upstream's "running Bind plugin" words, and its nominatedNodeName is cleared (upstream's
    clearNominatedNode on a binding cycle's failure)."""
    p = pod("p", cpu="1")
    p["status"]["nominatedNodeName"] = "a"
    client = FakeClient()
    s = scheduler_with(client, p)
    info = s.queue._pop()
    assumed = s.cache.assume_pod(info.pod, "a")
    run(s.bind(info, assumed, "a"))
    assert not s.cache.is_assumed(p)
    [(resource, name, body)] = client.patches
    assert resource == PODS and name == "p"
    [condition] = body["status"]["conditions"]
    assert (condition["reason"], condition["message"]) == (
        "SchedulerError", 'running Bind plugin "DefaultBinder": Operation cannot be fulfilled on pods/binding "p": '
                          'taken')
    assert body["status"]["nominatedNodeName"] is None


def test_pod_being_deleted_is_skipped_with_an_event():
    """A pod with a deletionTimestamp (a finalizer holds it) is not tried: a Warning FailedScheduling event
    "skip schedule deleting pod: NS/NAME" and nothing else, as upstream's skipPodSchedule."""
    p = pod("held", cpu="1")
    p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    p["metadata"]["finalizers"] = ["example.com/hold"]
    client = FakeClient()
    s = scheduler_with(client, p)
    info = s.queue._pop()
    run(s.schedule_one(info))
    [event] = client.events
    assert (event["type"], event["reason"], event["action"], event["note"]) == (
        "Warning", "FailedScheduling", "Scheduling", "skip schedule deleting pod: default/held")
    assert client.patches == [] and not s.cache.is_assumed(p) and len(s.queue) == 0 and not s.queue.in_flight


def test_preemption_can_be_turned_off_by_a_profile():
    """postFilter disabled DefaultPreemption (the documented way to turn preemption off): the pod fails
    with the filters' message alone, no victim is deleted and no node nominated; the default profile
    preempts the lower-priority pod."""
    def attempt(profiles):
        low = pod("low", cpu="4", priority=1, node_name="a")
        high = pod("high", cpu="4", priority=100)
        client = FakeClient()
        s = scheduler_with(client, low, high, profiles=profiles)
        run(s.schedule_one(s.queue._pop()))
        return client
    off = attempt([{"schedulerName": "default-scheduler",
                    "plugins": {"postFilter": {"disabled": [{"name": "DefaultPreemption"}]}}}])
    assert off.deletes == []
    [(_, name, body)] = off.patches
    assert name == "high" and "nominatedNodeName" not in body["status"]
    assert body["status"]["conditions"][0]["message"] == "0/1 nodes are available: 1 Insufficient cpu."
    on = attempt(None)
    assert on.deletes == ["low"]
    assert on.patches[-1][1] == "high" and on.patches[-1][2]["status"]["nominatedNodeName"] == "a"


def test_profile_naming_every_default_plugin_is_understood():
    """A profile listing the default plugins by name (as upstream's --write-config-to writes it) is accepted,
    queue, binding and preemption plugins included."""
    from kapiserver.scheduler.plugins import profile_plugins
    names = ["SchedulingGates", "PrioritySort", "NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity",
             "NodePorts", "NodeResourcesFit", "VolumeRestrictions", "NodeVolumeLimits", "VolumeBinding",
             "VolumeZone", "PodTopologySpread", "InterPodAffinity", "DefaultPreemption",
             "NodeResourcesBalancedAllocation", "ImageLocality", "DefaultBinder"]
    plugins, weights = profile_plugins({"plugins": {"multiPoint": {"enabled": [{"name": n} for n in names]}}})
    assert names == [p.name for p in plugins]


def test_victim_gone_before_its_condition_ends_the_preemption():
    """A victim whose DisruptionTarget write is refused (deleted meanwhile): the preemption stops there, no
    nomination is written and the message ends with the error, as upstream's prepareCandidate failing."""
    low = pod("low", cpu="4", priority=1, node_name="a")
    high = pod("high", cpu="4", priority=100)
    client = FakeClient(gone={"low"})
    s = scheduler_with(client, low, high)
    run(s.schedule_one(s.queue._pop()))
    assert client.deletes == []
    [(_, name, body)] = client.patches
    assert name == "high" and "nominatedNodeName" not in body["status"]
    assert body["status"]["conditions"][0]["message"] == (
        '0/1 nodes are available: 1 Insufficient cpu. preemption: pods "low" not found')
    assert [e["reason"] for e in client.events] == ["FailedScheduling"]


def test_victim_already_marked_is_not_patched_again():
    """A victim already carrying the scheduler's DisruptionTarget condition is deleted without another
    status write."""
    low = pod("low", cpu="4", priority=1, node_name="a")
    low["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                                    "message": "default-scheduler: preempting to accommodate a higher priority pod",
                                    "lastTransitionTime": "2026-01-01T00:00:00Z"}]
    high = pod("high", cpu="4", priority=100)
    client = FakeClient()
    s = scheduler_with(client, low, high)
    run(s.schedule_one(s.queue._pop()))
    assert client.deletes == ["low"]
    assert [name for _, name, _ in client.patches] == ["high"]


def test_profile_percentage_of_nodes_to_score_wins_over_the_global_one():
    """A profile's percentageOfNodesToScore, when set, is the share of a large cluster's nodes its cycles
    look for; profiles without one keep the global value; a value past 100 is refused."""
    import pytest

    from kapiserver.scheduler.plugins import profile_plugins
    s = Scheduler(FakeClient(), task.Clock(), percentage_of_nodes_to_score=30, profiles=[
        {"schedulerName": "default-scheduler"}, {"schedulerName": "quick", "percentageOfNodesToScore": 10}])
    assert s.profiles["default-scheduler"].percentage_of_nodes_to_score == 30
    assert s.profiles["quick"].percentage_of_nodes_to_score == 10
    with pytest.raises(ValueError, match="percentageOfNodesToScore"):
        profile_plugins({"percentageOfNodesToScore": 101})


async def boom(*args):
    raise RuntimeError("boom")


def condition_of(client):
    [(resource, name, body)] = client.patches
    assert resource == PODS
    [condition] = body["status"]["conditions"]
    return name, condition["reason"], condition["message"]


def test_a_pre_bind_plugin_raising_fails_the_binding_cycle():
    """A PreBind plugin that raises fails the binding as an error Status would: the pod is forgotten, out of
    flight and back in the queue, with 'running PreBind plugin "NAME": ...' and reason SchedulerError."""
    p = pod("p", cpu="1")
    client = FakeClient()
    s = scheduler_with(client, p)
    s.profiles["default-scheduler"].plugin("VolumeBinding").pre_bind = boom
    info = s.queue._pop()
    run(s.schedule_one(info))
    assert not s.cache.is_assumed(p) and not s.bindings
    assert info.uid not in s.queue.in_flight and info.uid in s.queue.backoff
    assert condition_of(client) == ("p", "SchedulerError", 'running PreBind plugin "VolumeBinding": boom')


def test_anything_raised_in_the_binding_cycle_fails_it():
    """Whatever raises in the binding cycle outside the plugins goes through the binding failure path: the pod
    is forgotten, requeued, and its condition says why."""
    p = pod("p", cpu="1")
    client = FakeClient()
    s = scheduler_with(client, p)
    s.profiles["default-scheduler"].run_pre_bind = boom
    info = s.queue._pop()
    run(s.schedule_one(info))
    assert not s.cache.is_assumed(p) and not s.bindings
    assert info.uid not in s.queue.in_flight and info.uid in s.queue.backoff
    assert condition_of(client) == ("p", "SchedulerError", "boom")


def test_an_unreserve_raising_leaves_the_pod_forgotten():
    """An Unreserve that raises on a failed binding is logged; the other Unreserves still run and the pod is
    forgotten and requeued all the same."""
    p = pod("p", cpu="1")
    client = FakeClient()    # refuses the Binding
    s = scheduler_with(client, p)
    fw = s.profiles["default-scheduler"]
    fw.plugin("VolumeBinding").unreserve = lambda state, pod, node_name: 1 / 0
    unreserved = []
    fw.plugin("NodeResourcesFit").unreserve = lambda state, pod, node_name: unreserved.append(node_name)
    info = s.queue._pop()
    run(s.schedule_one(info))
    assert unreserved == ["a"]
    assert not s.cache.is_assumed(p) and info.uid not in s.queue.in_flight and info.uid in s.queue.backoff
    assert condition_of(client)[1:] == (
        "SchedulerError", 'running Bind plugin "DefaultBinder": Operation cannot be fulfilled on pods/binding "p": '
                          'taken')

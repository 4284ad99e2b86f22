"""The scheduler's events as upstream's kube-scheduler writes them: events.k8s.io/v1, each profile's events
reported by its schedulerName, an action per reason, and alike events made a series."""

from __future__ import annotations

import random

from twisted.internet import reactor, task

from kapiserver.client.resources import EVENTS_V1, PODS
from kapiserver.scheduler.events import EventBroadcaster
from kapiserver.scheduler.scheduler import Scheduler
from tests.scheduler.conftest import create_pod, events_for, eventually, node_of, run


class FakeClient:
    """Records the writes the broadcaster makes."""

    def __init__(self):
        self.calls = []

    async def create(self, resource, body, namespace=None):
        self.calls.append(("create", namespace, body))
        return body

    async def patch(self, resource, name, body, namespace=None, patch_type=None):
        self.calls.append(("patch", namespace, name, body))
        return body


POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "web", "namespace": "ns", "uid": "u1", "resourceVersion": "7"}}


def test_event_is_events_k8s_io_with_controller_instance_and_action():
    """One event: an events.k8s.io/v1 Event with regarding, action, note, microsecond eventTime, the
    controller and "<controller>-<hostname>" as instance, and no source, count or timestamps of core/v1."""
    clock, client = task.Clock(), FakeClient()
    clock.advance(1_700_000_000.25)
    events = EventBroadcaster(client, clock, hostname="host1")
    events.record("default-scheduler", POD, None, "Warning", "FailedScheduling", "Scheduling", "0/1 nodes")
    [(verb, namespace, body)] = client.calls
    assert verb == "create" and namespace == "ns"
    assert body["apiVersion"] == "events.k8s.io/v1" and body["eventTime"] == "2023-11-14T22:13:20.250000Z"
    assert (body["reportingController"], body["reportingInstance"], body["action"], body["reason"], body["note"],
            body["type"]) == ("default-scheduler", "default-scheduler-host1", "Scheduling", "FailedScheduling",
                              "0/1 nodes", "Warning")
    assert body["regarding"] == {"kind": "Pod", "namespace": "ns", "name": "web", "uid": "u1", "apiVersion": "v1",
                                 "resourceVersion": "7"}
    assert "related" not in body and "series" not in body and "source" not in body
    assert body["metadata"]["name"].startswith("web.")


def test_alike_events_make_a_series_keeping_the_first_note():
    """The second alike event patches the first's series (count 2); later ones are counted until the series
    ends 6 minutes after it was last seen, when the count is written; a new event then starts afresh."""
    clock, client = task.Clock(), FakeClient()
    clock.advance(1000)
    events = EventBroadcaster(client, clock, hostname="h")
    events.start()
    events.record("default-scheduler", POD, None, "Warning", "FailedScheduling", "Scheduling", "first")
    clock.advance(10)
    events.record("default-scheduler", POD, None, "Warning", "FailedScheduling", "Scheduling", "second")
    name = client.calls[0][2]["metadata"]["name"]
    assert client.calls[1] == ("patch", "ns", name, {"series": {"count": 2,
                                                                 "lastObservedTime": "1970-01-01T00:16:50.000000Z"}})
    clock.advance(10)
    events.record("default-scheduler", POD, None, "Warning", "FailedScheduling", "Scheduling", "third")
    assert len(client.calls) == 2
    clock.advance(360)    # the 6-minute check: last seen 340 s ago, still going
    assert len(client.calls) == 2
    clock.advance(360)
    assert client.calls[2] == ("patch", "ns", name, {"series": {"count": 3,
                                                                 "lastObservedTime": "1970-01-01T00:17:00.000000Z"}})
    events.record("default-scheduler", POD, None, "Warning", "FailedScheduling", "Scheduling", "fourth")
    assert client.calls[3][0] == "create" and client.calls[3][2]["note"] == "fourth"
    events.stop()


def test_events_differing_in_related_object_or_profile_are_not_alike():
    """A Preempted event names its preemptor as related; another preemptor, or another profile, is another
    event."""
    clock, client = task.Clock(), FakeClient()
    events = EventBroadcaster(client, clock, hostname="h")
    other = {**POD, "metadata": {**POD["metadata"], "name": "hp", "uid": "u2"}}
    third = {**POD, "metadata": {**POD["metadata"], "name": "hp2", "uid": "u3"}}
    events.record("default-scheduler", POD, other, "Normal", "Preempted", "Preempting", "by u2")
    events.record("default-scheduler", POD, third, "Normal", "Preempted", "Preempting", "by u3")
    events.record("my-scheduler", POD, third, "Normal", "Preempted", "Preempting", "by u3")
    assert [c[0] for c in client.calls] == ["create"] * 3
    assert client.calls[0][2]["related"]["name"] == "hp"
    assert client.calls[2][2]["reportingInstance"] == "my-scheduler-h"


def test_scheduler_writes_events_k8s_io_events_per_profile(client, nodes, namespace):
    """In a cluster: the Scheduled event of a second profile's pod is an events.k8s.io/v1 Event from that
    profile's schedulerName, action Binding; core/v1 shows it with an empty source."""
    s = Scheduler(client, reactor, rand=random.Random(0), scheduler_names=("default-scheduler", "other-sched"))
    run(s.run())
    try:
        create_pod(client, namespace, "mine", schedulerName="other-sched")
        node = eventually(lambda: node_of(client, namespace, "mine"))
        [event] = eventually(lambda: [e for e in run(client.list(EVENTS_V1, namespace=namespace))["items"]
                                      if e["reason"] == "Scheduled"])
        assert (event["reportingController"], event["action"], event["note"]) == (
            "other-sched", "Binding", f"Successfully assigned {namespace}/mine to {node}")
        assert event["reportingInstance"].startswith("other-sched-")
        [core] = events_for(client, namespace, "mine", "Scheduled")
        assert core["source"] == {} and core["reportingComponent"] == "other-sched" and core["eventTime"]
        assert run(client.get(PODS, "mine", namespace))["spec"]["nodeName"] == node
    finally:
        s.stop()


def test_the_periodic_series_work_holds_two_timers_however_long_it_runs():
    """The refresh and the end of quiet series run on two repeating timers of the injected clock: a day of them
    leaves two, not one more per tick; stop cancels them."""
    clock = task.Clock()
    events = EventBroadcaster(FakeClient(), clock, hostname="h")
    events.start()
    for _ in range(24 * 60):
        clock.advance(60)
    assert len(events._calls) == 2 and len(clock.getDelayedCalls()) == 2
    events.stop()
    assert clock.getDelayedCalls() == []


def test_long_failed_scheduling_note_is_cut_as_upstream():
    """A FailedScheduling note longer than 1024 characters keeps its first 1020 and ends in " ..."
    (upstream's truncateMessage); a shorter one is left whole."""
    from kapiserver.scheduler.scheduler import truncate_message
    long = "0/3 nodes are available: " + "x" * 2000
    cut = truncate_message(long)
    assert len(cut) == 1024 and cut == long[:1020] + " ..."
    assert truncate_message("x" * 1024) == "x" * 1024

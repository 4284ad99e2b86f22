"""The event TTL controller: events go once --event-ttl has passed since their last write."""

from __future__ import annotations

import time

import pytest
from twisted.internet import reactor

from kapiserver.controllers.eventttl import EventTTLController, last_written
from kapiserver.machinery import meta
from kapiserver.machinery.errors import StatusError

from .conftest import run, run_until, settle


@pytest.fixture
def events(registry):
    run(registry.store("", "v1", "namespaces").create(None, {"metadata": {"name": "default"}}))
    return registry.store("", "v1", "events")


def event(name, when=None):
    stamp = meta.rfc3339(when if when is not None else time.time())
    return {"metadata": {"name": name}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
            "reason": "Tested", "message": "m", "type": "Normal", "firstTimestamp": stamp, "lastTimestamp": stamp}


def gone(store, name):
    try:
        run(store.get("default", name))
        return False
    except StatusError as e:
        return e.code == 404


def tracked(controller, name):
    """The deadline the controller keeps for the event ``name``, None before its watch has shown it."""
    return next((entry[0] for entry in controller.deadlines.values() if entry[2] == name), None)


def test_event_expires_after_ttl(registry, events, clock):
    """An event written after start is deleted once the TTL passes, not before. (The controller's time is a
    Clock moved by hand: on a loaded machine the real one may pass the TTL between two steps of the test.)"""
    controller = EventTTLController(registry, clock, ttl=0.6)
    run(controller.start())
    try:
        run(events.create("default", event("e1")))
        run_until(lambda: tracked(controller, "e1"))
        clock.advance(0.5)
        settle(0.2)
        assert not gone(events, "e1")
        clock.advance(0.2)
        run_until(lambda: gone(events, "e1"))
    finally:
        controller.stop()


def test_rewrite_extends_the_deadline(registry, events, clock):
    """Updating an event starts its TTL again."""
    controller = EventTTLController(registry, clock, ttl=0.8)
    run(controller.start())
    try:
        run(events.create("default", event("e2")))
        run_until(lambda: tracked(controller, "e2"))
        first = tracked(controller, "e2")
        clock.advance(0.5)
        run(events.update("default", "e2", lambda old: {**old, "count": 2}))
        run_until(lambda: tracked(controller, "e2") > first)
        clock.advance(0.5)
        settle(0.2)
        assert not gone(events, "e2"), "expired from its first write"
        clock.advance(0.4)
        run_until(lambda: gone(events, "e2"))
    finally:
        controller.stop()


class _Later:
    """The reactor, an hour on: events stored now look an hour old to the controller."""

    def seconds(self):
        return reactor.seconds() + 3600

    def callLater(self, delay, f, *args):
        return reactor.callLater(delay, f, *args)


def test_old_events_found_at_start_expire_from_their_timestamps(registry, events):
    """Events already stored at start count their TTL from their newest timestamp, not from the start."""
    run(events.create("default", event("old")))
    run(events.create("default", event("fresh", when=time.time() + 3590)))
    controller = EventTTLController(registry, _Later(), ttl=60)
    run(controller.start())
    try:
        run_until(lambda: gone(events, "old"), timeout=30)
        assert not gone(events, "fresh")
    finally:
        controller.stop()


def test_last_written_takes_the_newest_timestamp():
    """last_written reads creationTimestamp, lastTimestamp, eventTime and series.lastObservedTime."""
    assert last_written({"metadata": {"creationTimestamp": "2024-01-01T00:00:00Z"},
                         "series": {"lastObservedTime": "2024-01-01T00:00:10.000000Z"}}) == \
        meta.parse_time("2024-01-01T00:00:10Z")
    assert last_written({"metadata": {}}) is None

"""The HTTP side of a cached watch: shared bytes, socket back-pressure, slow watchers closed alone."""

from __future__ import annotations

import json

from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.web.http_headers import Headers

from kapiserver.endpoints.negotiation import Representation
from kapiserver.endpoints.watch import WAKE_EVENTS, serve_watch
from kapiserver.registry.options import ListOptions

from .test_cacher import PREFIX, FakeStorage, cm, make_cacher


class FakeRequest:
    """What serve_watch uses of a twisted.web Request, recording writes."""

    def __init__(self):
        self.args = {}
        self.written = []
        self.finished = False
        self.code = None
        self.producer = None
        self.responseHeaders = Headers()
        self.requestHeaders = Headers()
        self._finish = Deferred()

    def setResponseCode(self, code):
        self.code = code

    def setHeader(self, name, value):
        self.responseHeaders.setRawHeaders(name, [value])

    def write(self, data):
        if data:
            self.written.append(data)

    def registerProducer(self, producer, streaming):
        self.producer = producer

    def unregisterProducer(self):
        self.producer = None

    def notifyFinish(self):
        return self._finish

    def finish(self):
        self.finished = True

    def events(self):
        return [json.loads(line) for chunk in self.written for line in chunk.splitlines()]


class Info:
    kind, api_version, list_kind = "ConfigMap", "v1", "ConfigMapList"


class FakeStore:
    info = Info()
    builtin = True

    def __init__(self, reads):
        self.reads = reads

    def prefix(self, namespace):
        return PREFIX + namespace.encode() + b"/" if namespace else PREFIX

    async def watch(self, namespace, options, encoding, wake):
        return await self.reads.watch(self.prefix(namespace), options, encoding, wake)


class Context:
    min_request_timeout = 1800

    def __init__(self, clock):
        self.clock = clock


def start(storage, clock, max_pending=1000):
    cacher = make_cacher(storage, clock)
    cacher.cache.max_pending_events = max_pending
    cacher.start()
    return cacher


def watch(cacher, clock, rv):
    request = FakeRequest()
    Deferred.fromCoroutine(serve_watch(Context(clock), request, FakeStore(cacher), None,
                                       ListOptions(resource_version=rv, timeout_seconds=30), Representation(
                                           "application/json")))
    clock.advance(0)
    return request


def test_every_watcher_gets_the_very_same_bytes():
    """Each event is written to every watcher as the same bytes object."""
    storage, clock = FakeStorage(), task.Clock()
    storage.write("a", cm("a"))
    cacher = start(storage, clock)
    requests = [watch(cacher, clock, "2") for _ in range(10)]
    storage.write("a", cm("a", "y"))
    clock.advance(0)
    assert all(r.code == 200 for r in requests)
    assert len({id(r.written[-1]) for r in requests}) == 1
    assert requests[0].events() == [{"type": "MODIFIED", "object": {
        "metadata": {"name": "a", "namespace": "default", "resourceVersion": "3"}, "data": {"k": "y"}}}]


def test_paused_watcher_catches_up_on_resume():
    """While the socket is full nothing is written; on resume the queued events go out in order."""
    storage, clock = FakeStorage(), task.Clock()
    cacher = start(storage, clock)
    request = watch(cacher, clock, "1")
    request.producer.pauseProducing()
    storage.write("a", cm("a"))
    storage.write("b", cm("b"))
    clock.advance(0)
    assert request.events() == []
    request.producer.resumeProducing()
    clock.advance(0)
    assert [e["object"]["metadata"]["name"] for e in request.events()] == ["a", "b"]


def test_one_turns_events_leave_as_one_write():
    """The events a watch is handed during one turn of the reactor (a storage batch) are written together at its
    end, in order, as one chunk; the next turn's are the next write."""
    storage, clock = FakeStorage(), task.Clock()
    cacher = start(storage, clock)
    request = watch(cacher, clock, "1")
    for name in "abc":
        storage.write(name, cm(name))
    assert request.written == []
    clock.advance(0)
    storage.write("d", cm("d"))
    clock.advance(0)
    assert [[json.loads(line)["object"]["metadata"]["name"] for line in chunk.splitlines()]
            for chunk in request.written] == [["a", "b", "c"], ["d"]]


def test_a_large_batch_goes_out_in_parts_and_closes_no_one():
    """A turn's events past what a watch holds back go out at once, so that a batch larger than the cache lets a
    watcher queue does not close a watcher that keeps up."""
    storage, clock = FakeStorage(), task.Clock()
    cacher = start(storage, clock, max_pending=WAKE_EVENTS + 10)
    request = watch(cacher, clock, "1")
    for i in range(3 * WAKE_EVENTS):
        storage.write(f"o{i}", cm(f"o{i}"))
    assert [len(chunk.splitlines()) for chunk in request.written] == [WAKE_EVENTS] * 3
    clock.advance(0)
    assert not request.finished and len(request.events()) == 3 * WAKE_EVENTS


def test_timeout_sends_what_the_turn_queued_first():
    """A watch whose timeout falls in the turn an event reached it still sends that event before it ends."""
    storage, clock = FakeStorage(), task.Clock()
    cacher = start(storage, clock)
    request = watch(cacher, clock, "1")
    clock.advance(29.5)
    storage.write("a", cm("a"))
    clock.advance(0.5)
    assert request.finished and [e["object"]["metadata"]["name"] for e in request.events()] == ["a"]


def test_slow_watcher_closed_others_unaffected():
    """A watcher paused past its bound is finished, with what it read intact; the others get every event."""
    storage, clock = FakeStorage(), task.Clock()
    cacher = start(storage, clock, max_pending=3)
    slow, fast = watch(cacher, clock, "1"), watch(cacher, clock, "1")
    storage.write("a", cm("a"))
    clock.advance(0)
    slow.producer.pauseProducing()
    for i in range(5):
        storage.write("a", cm("a", str(i)))
        clock.advance(0)
    assert slow.finished and [e["object"]["metadata"]["resourceVersion"] for e in slow.events()] == ["2"]
    assert not fast.finished and len(fast.events()) == 6
    assert len(cacher.cache.watchers) == 1


def test_timeout_finishes_and_forgets_the_watcher():
    """timeoutSeconds ends the response and removes the watcher from the cache."""
    storage, clock = FakeStorage(), task.Clock()
    cacher = start(storage, clock)
    request = watch(cacher, clock, "1")
    assert len(cacher.cache.watchers) == 1
    clock.advance(30)
    assert request.finished and cacher.cache.watchers == []

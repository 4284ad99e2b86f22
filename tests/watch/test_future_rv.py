"""Reads and watches at a resourceVersion storage has not reached, as upstream 1.32 answers them:
a plain watch waits for its events (200, until its timeout); a watch with sendInitialEvents and
a list wait briefly, then fail 504 "Too large resource version" with the ResourceVersionTooLarge
cause (the watch as an ERROR event after its 200 headers, the list as an HTTP 504 with Retry-After).
Each runs against the embedded store's watch and against a remote (etcd-like) one, whose watch
vouches for revisions through progress notifications."""

from __future__ import annotations

import pytest
from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.web.test.requesthelper import DummyRequest

from kapiserver.endpoints.negotiation import Representation
from kapiserver.endpoints.root import _write_error
from kapiserver.endpoints.watch import serve_watch
from kapiserver.machinery import errors
from kapiserver.machinery.errors import StatusError
from kapiserver.registry.options import ListOptions
from kapiserver.registry.registry import Registry

from .test_cacher import PREFIX, FakeStorage, cm, make_cacher, result
from .test_http_watch import Context, FakeRequest, FakeStore

TOO_LARGE_CAUSES = [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]


class RemoteStorage(FakeStorage):
    """A FakeStorage whose watch handle vouches, like etcd's, only for revisions its
    progress notifications reached (``progress_revision``), which tests move by hand."""

    delivers_before_ack = False

    def watch(self, prefix, after, sink, on_progress=None):
        self.handle = RemoteHandle(super().watch(prefix, after, sink), after)
        return self.handle


class RemoteHandle:
    def __init__(self, handle, after):
        self.handle = handle
        self.progress_revision = after

    def cancel(self):
        self.handle.cancel()


@pytest.fixture(params=["embedded", "remote"])
def world(request):
    storage = FakeStorage() if request.param == "embedded" else RemoteStorage()
    clock = task.Clock()
    storage.write("a", cm("a"))
    cacher = make_cacher(storage, clock)
    cacher.start()
    return storage, clock, cacher


def http_watch(cacher, clock, **options):
    request = FakeRequest()
    options.setdefault("timeout_seconds", 5)
    Deferred.fromCoroutine(serve_watch(Context(clock), request, FakeStore(cacher), None,
                                       ListOptions(**options), Representation("application/json")))
    clock.advance(0)
    return request


def test_plain_watch_from_future_rv_is_200_and_waits_until_its_timeout(world):
    """A watch from a resourceVersion beyond storage's starts at once (200) and stays empty until timeoutSeconds."""
    storage, clock, cacher = world
    request = http_watch(cacher, clock, resource_version="50", timeout_seconds=2)
    assert request.code == 200 and request.producer is not None and not request.finished
    clock.advance(1.9)
    assert request.events() == [] and not request.finished
    clock.advance(0.1)
    assert request.finished and request.events() == [] and cacher.cache.watchers == []


def test_plain_watch_from_future_rv_gets_the_events_after_it(world):
    """Once storage passes the watch's resourceVersion, the events after it are delivered; those up to it are not."""
    storage, clock, cacher = world
    request = http_watch(cacher, clock, resource_version="4", timeout_seconds=60)
    storage.write("b", cm("b"))      # revision 3
    storage.write("c", cm("c"))      # revision 4
    storage.write("d", cm("d"))      # revision 5
    clock.advance(0)                 # the end of the reactor's turn: what the watch queued goes out
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in request.events()] == [("ADDED", "d")]


def test_initial_events_watch_from_future_rv_is_an_error_event_after_the_wait(world):
    """sendInitialEvents=true at a future resourceVersion waits 3 s, then 200 with one ERROR event (504 too large)."""
    storage, clock, cacher = world
    request = http_watch(cacher, clock, resource_version="50", resource_version_match="NotOlderThan",
                         send_initial_events=True, allow_bookmarks=True)
    clock.advance(2.9)
    assert request.code is None and request.events() == []
    clock.advance(0.1)
    assert request.code == 200 and request.finished
    assert request.events() == [{"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Timeout: Too large resource version: 50, current: 2", "reason": "Timeout",
        "details": {"causes": TOO_LARGE_CAUSES, "retryAfterSeconds": 1}, "code": 504}}]
    assert cacher.cache.watchers == []


def test_initial_events_watch_is_served_when_storage_gets_there_in_time(world):
    """sendInitialEvents=true at a resourceVersion reached within the wait: the initial events, no error."""
    storage, clock, cacher = world
    request = http_watch(cacher, clock, resource_version="3", resource_version_match="NotOlderThan",
                         send_initial_events=True, allow_bookmarks=True)
    clock.advance(1)
    storage.write("b", cm("b"))
    clock.advance(0)
    assert request.code == 200 and not request.finished
    assert [e["type"] for e in request.events()] == ["ADDED", "ADDED", "BOOKMARK"]


def test_consistent_initial_events_watch_from_a_lagging_remote_store_fails_too_large():
    """sendInitialEvents=true without a resourceVersion, when etcd's progress never reaches its revision: ERROR 504."""
    storage, clock = RemoteStorage(), task.Clock()
    cacher = make_cacher(storage, clock)
    cacher.start()
    storage.other_write()           # storage is at 2; the watch vouches for nothing past 1
    request = http_watch(cacher, clock, send_initial_events=True, allow_bookmarks=True)
    clock.advance(3)
    [event] = request.events()
    assert event["type"] == "ERROR" and event["object"]["code"] == 504
    assert event["object"]["message"] == "Timeout: Too large resource version: 2, current: 1"
    assert event["object"]["details"] == {"causes": TOO_LARGE_CAUSES, "retryAfterSeconds": 1}


def test_list_at_future_rv_after_remote_progress_is_served(world):
    """A list at a resourceVersion storage reached by a write elsewhere is served, not 504, once the cache can
    vouch for it (etcd: a progress notification; embedded: storage's current revision after the wait)."""
    storage, clock, cacher = world
    storage.other_write()   # revision 3, not under the prefix
    d = Deferred.fromCoroutine(cacher.list(PREFIX, ListOptions(resource_version="3")))
    clock.advance(2)
    assert not d.called
    if isinstance(storage, RemoteStorage):
        storage.handle.progress_revision = 3
        cacher._on_progress(3)
    else:
        clock.advance(1)    # the embedded store's current revision vouches once the wait is over
    items, meta = result(d)
    assert meta == {"resourceVersion": "3"}


def test_list_error_carries_retry_after_header():
    """An API error asking the client to wait is written with a Retry-After header of its seconds."""
    request = DummyRequest([b""])
    _write_error(request, errors.too_large_resource_version(50, 2, 1))
    assert request.responseCode == 504
    assert request.responseHeaders.getRawHeaders(b"retry-after") == [b"1"]
    request = DummyRequest([b""])
    _write_error(request, errors.too_large_resource_version(50, 2))
    assert request.responseCode == 504 and not request.responseHeaders.hasHeader(b"retry-after")


def test_uncached_watch_from_future_rv_waits_for_storage():
    """Without a watch cache, a watch from a future resourceVersion starts (no 504) and hears the changes after it."""
    storage, clock = FakeStorage(), task.Clock()
    store = Registry(storage, clock, watch_cache=False).store("", "v1", "configmaps")
    sent = []
    handle = result(Deferred.fromCoroutine(store.watch_events("default", ListOptions(resource_version="50"),
                                                              lambda t, o: sent.append((t, o)))))
    assert not handle.closed and sent == []
    storage.revision = 50
    storage.write("a", cm("a"))
    assert [(t, o["metadata"]["name"], o["metadata"]["resourceVersion"]) for t, o in sent] == [("ADDED", "a", "51")]


def test_uncached_list_at_future_rv_is_too_large_at_once():
    """Without a watch cache, a list at a future resourceVersion fails at once, as upstream's etcd3 store does."""
    storage, clock = FakeStorage(), task.Clock()
    store = Registry(storage, clock, watch_cache=False).store("", "v1", "configmaps")
    with pytest.raises(StatusError) as e:
        result(Deferred.fromCoroutine(store.list("default", ListOptions(resource_version="50"))))
    assert e.value.code == 504 and e.value.message == "Timeout: Too large resource version: 50, current: 1"
    assert e.value.details == {"causes": TOO_LARGE_CAUSES}

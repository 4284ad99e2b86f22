"""The Cacher: one storage watch feeding the cache, resourceVersion semantics of lists and watches."""

from __future__ import annotations

import json

import pytest
from twisted.internet import task
from twisted.internet.defer import Deferred, succeed

from kapiserver.machinery.errors import StatusError
from kapiserver.registry.options import ListOptions
from kapiserver.storage import Compacted, DELETE, Event, KeyValue, PUT, RangeResult
from kapiserver.watch.cache import ObjectEncoding
from kapiserver.watch.cacher import Cacher
from kapiserver.watch.reader import StorageReader

PREFIX = b"/registry/configmaps/"


class FakeStorage:
    """Just enough storage: a dict, a revision, watches that hear every write at once."""

    def __init__(self):
        self.data: dict[bytes, KeyValue] = {}
        self.revision = 1
        self.watches = []
        self.ranges = 0
        self.compacted = 0
        self.log: list[Event] = []

    def write(self, name: str, value=None) -> int:
        self.revision += 1
        key = PREFIX + b"default/" + name.encode()
        prev = self.data.get(key)
        if value is None:
            del self.data[key]
            event = Event(DELETE, KeyValue(key, b"", 0, self.revision), prev)
        else:
            kv = KeyValue(key, json.dumps(value).encode(), prev.create_revision if prev else self.revision,
                          self.revision)
            self.data[key] = kv
            event = Event(PUT, kv, prev)
        self.log.append(event)
        for prefix, sink in list(self.watches):
            if key.startswith(prefix):
                sink(event)
        return self.revision

    def other_write(self):
        self.revision += 1

    def range(self, prefix, revision=None, limit=0, start_key=None):
        self.ranges += 1
        kvs = [kv for k, kv in sorted(self.data.items())
               if k.startswith(prefix) and (start_key is None or k >= start_key)]
        more = bool(limit) and len(kvs) > limit
        return succeed(RangeResult(kvs[:limit] if limit else kvs, self.revision, more, len(kvs)))

    # Like the embedded store: every write reaches the live watches before it returns.
    delivers_before_ack = True

    def watch(self, prefix, after, sink, on_progress=None):
        if after < self.compacted:
            sink(Compacted(self.compacted))
        else:
            for event in self.log:      # the log after ``after``, then live
                if event.kv.mod_revision > after and event.kv.key.startswith(prefix):
                    sink(event)
        entry = (prefix, sink)
        self.watches.append(entry)

        class Handle:
            @property
            def progress_revision(_):
                return self.revision

            def cancel(_):
                if entry in self.watches:
                    self.watches.remove(entry)
        return Handle()

    def current_revision(self):
        return succeed(self.revision)


def decode(value, revision):
    obj = json.loads(value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return obj


def cm(name, data="x"):
    return {"metadata": {"name": name, "namespace": "default"}, "data": {"k": data}}


def result(d: Deferred):
    out = []
    d.addBoth(out.append)
    assert out, "the Deferred has not fired"
    if hasattr(out[0], "raiseException"):
        out[0].raiseException()
    return out[0]


def make_cacher(storage, clock, capacity=100):
    return Cacher(StorageReader(storage, PREFIX, decode, lambda o: {}, clock), capacity, clock)


async def watch_with_callback(reads, prefix, options, kind, api_version, send):
    """A watch calling ``send(type, object)`` per event, as Store.watch_events does."""
    def wake(watcher):
        for event_type, obj in watcher.take():
            send(event_type, obj)
    return await reads.watch(prefix, options, ObjectEncoding(kind, api_version), wake)


@pytest.fixture
def world():
    storage, clock = FakeStorage(), task.Clock()
    storage.write("a", cm("a"))
    cacher = make_cacher(storage, clock)
    cacher.start()
    return storage, clock, cacher


def names(items):
    return [i["metadata"]["name"] for i in items]


def test_fills_once_and_follows_one_storage_watch(world):
    """The cache fills with one range, then follows writes through one storage watch."""
    storage, clock, cacher = world
    storage.write("b", cm("b"))
    items, meta = result(Deferred.fromCoroutine(cacher.list(PREFIX, ListOptions(resource_version="0"))))
    assert names(items) == ["a", "b"] and meta == {"resourceVersion": "3"}
    assert storage.ranges == 1 and len(storage.watches) == 1     # one page: fewer objects than a page


def test_start_again_while_watching_is_nothing(world):
    """A second start (a caller that did not know the registry started it) opens no second storage watch: each
    write is applied once, none refused as not after the cache's revision (which would re-list)."""
    storage, clock, cacher = world
    cacher.start()
    storage.write("b", cm("b"))
    assert storage.ranges == 1 and len(storage.watches) == 1
    items, meta = result(Deferred.fromCoroutine(cacher.list(PREFIX, ListOptions(resource_version="0"))))
    assert names(items) == ["a", "b"] and meta == {"resourceVersion": "3"} and cacher.cache.ready


def test_consistent_list_is_current_at_storage_revision(world):
    """A consistent list answers at storage's current revision even when the last write was elsewhere."""
    storage, clock, cacher = world
    storage.other_write()
    items, meta = result(Deferred.fromCoroutine(cacher.list(PREFIX, ListOptions())))
    assert names(items) == ["a"] and meta == {"resourceVersion": str(storage.revision)}


def test_not_older_than_future_rv_is_504_after_wait(world):
    """A list at a revision storage has not reached waits, then fails 504 'Too large resource version'."""
    storage, clock, cacher = world
    d = Deferred.fromCoroutine(cacher.list(PREFIX, ListOptions(resource_version="50")))
    clock.advance(2.9)
    assert not d.called
    clock.advance(0.2)
    with pytest.raises(StatusError) as e:
        result(d)
    assert e.value.to_status() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Timeout: Too large resource version: 50, current: 2", "reason": "Timeout",
        "details": {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                    "retryAfterSeconds": 1},
        "code": 504}


def test_not_older_than_is_served_when_the_cache_gets_there(world):
    """A list at a revision just ahead of the cache is answered as soon as the event arrives."""
    storage, clock, cacher = world
    d = Deferred.fromCoroutine(cacher.list(PREFIX, ListOptions(resource_version="3")))
    assert not d.called
    storage.write("b", cm("b"))
    assert names(result(d)[0]) == ["a", "b"]


def test_watch_callback_and_compaction_relists(world):
    """Callback watches get events; a Compacted re-lists, closes watchers, and a resume from a compacted rv
    gets 410 (from storage, which no longer has the events)."""
    storage, clock, cacher = world
    got = []
    handle = result(Deferred.fromCoroutine(watch_with_callback(
        cacher, PREFIX, ListOptions(resource_version="2"), "ConfigMap", "v1", lambda t, o: got.append(
            (t, o["metadata"]["name"], o["metadata"]["resourceVersion"])))))
    storage.write("a", cm("a", "y"))
    storage.write("a", None)
    assert got == [("MODIFIED", "a", "3"), ("DELETED", "a", "4")]
    storage.revision += 5
    storage.compacted = 8
    prefix, sink = storage.watches[0]
    sink(Compacted(8))
    assert handle.closed and storage.ranges == 2
    resumed = result(Deferred.fromCoroutine(cacher.watch(PREFIX, ListOptions(resource_version="4"), None,
                                                         lambda w: None)))
    assert resumed.closed
    error = resumed.watcher.error
    assert error.code == 410 and str(error) == "too old resource version: 4 (8)"


def test_watch_from_below_the_window_is_served_from_storage(world):
    """After a (re)fill the window starts at the fill's revision; a watch from an older, uncompacted revision
    gets storage's events after it, in order, instead of 410, and then the live ones."""
    storage, clock, cacher = world
    storage.write("b", cm("b"))                 # 3
    storage.write("b", cm("b", "y"))            # 4
    refilled = make_cacher(storage, clock)      # a restart: the window starts at 4
    refilled.start()
    got = []
    handle = result(Deferred.fromCoroutine(watch_with_callback(
        refilled, PREFIX, ListOptions(resource_version="2"), "ConfigMap", "v1",
        lambda t, o: got.append((t, o["metadata"]["name"], o["metadata"]["resourceVersion"])))))
    assert not handle.closed
    assert got == [("ADDED", "b", "3"), ("MODIFIED", "b", "4")]
    # Caught up with the window: the cache took the watch over, and its storage watch is gone.
    assert handle.cached is not None and len(storage.watches) == 2     # the two caches' own
    storage.write("a", None)                    # 5
    assert got[-1] == ("DELETED", "a", "5")
    assert len(got) == 3


def test_watch_from_below_the_window_moves_to_the_cache_at_its_first_live_event(world):
    """A resumed watch whose resource had no event between its revision and the window's start stays on
    storage until its first event in the window, then moves to the cache with nothing lost or repeated."""
    storage, clock, cacher = world
    storage.write("b", cm("b"))                 # 3
    storage.other_write()                       # 4: another resource's
    refilled = make_cacher(storage, clock)      # the window starts at 4
    refilled.start()
    got = []
    handle = result(Deferred.fromCoroutine(watch_with_callback(
        refilled, PREFIX, ListOptions(resource_version="2"), "ConfigMap", "v1",
        lambda t, o: got.append((t, o["metadata"]["name"], o["metadata"]["resourceVersion"])))))
    assert got == [("ADDED", "b", "3")] and handle.cached is None
    storage.write("b", cm("b", "y"))            # 5
    clock.advance(0)
    assert handle.cached is not None
    storage.write("c", cm("c"))                 # 6
    clock.advance(0)
    assert got == [("ADDED", "b", "3"), ("MODIFIED", "b", "5"), ("ADDED", "c", "6")]


def test_periodic_bookmarks_from_the_ticker(world):
    """A watch asking for bookmarks gets one about every minute, at the cache's revision."""
    storage, clock, cacher = world
    got = []
    result(Deferred.fromCoroutine(watch_with_callback(
        cacher, PREFIX, ListOptions(resource_version="2", allow_bookmarks=True), "ConfigMap", "v1",
        lambda t, o: got.append((t, o["metadata"]["resourceVersion"])))))
    storage.write("b", cm("b"))
    clock.pump([1.0] * 59)
    assert got == [("ADDED", "3")]
    clock.pump([1.0] * 2)
    assert got == [("ADDED", "3"), ("BOOKMARK", "3")]


def test_initial_events_then_end_bookmark(world):
    """sendInitialEvents with bookmarks: the current objects as ADDED, then the initial-events-end BOOKMARK."""
    storage, clock, cacher = world
    got = []
    result(Deferred.fromCoroutine(watch_with_callback(
        cacher, PREFIX, ListOptions(resource_version="", resource_version_match="NotOlderThan",
                                    send_initial_events=True, allow_bookmarks=True),
        "ConfigMap", "v1", lambda t, o: got.append((t, o["metadata"])))))
    clock.advance(0)
    assert got[0][0] == "ADDED" and got[0][1]["name"] == "a"
    assert got[1] == ("BOOKMARK", {"resourceVersion": "2", "annotations": {"k8s.io/initial-events-end": "true"}})


def test_limited_consistent_list_is_a_first_page_with_continue_at_cache_revision(world):
    """A consistent list with a limit is the first page from the cache, a continue token pinning the
    cache's revision and remainingItemCount; at resourceVersion=0 the limit is ignored."""
    from kapiserver.machinery import continuetoken
    storage, clock, cacher = world
    for name in "bcd":
        storage.write(name, cm(name))
    items, meta = result(Deferred.fromCoroutine(cacher.list(PREFIX, ListOptions(limit=2))))
    assert names(items) == ["a", "b"] and meta["remainingItemCount"] == 2
    assert continuetoken.decode(meta["continue"]) == (5, "default/b\x00")
    items, meta = result(Deferred.fromCoroutine(cacher.list(PREFIX, ListOptions(limit=2, resource_version="0"))))
    assert names(items) == ["a", "b", "c", "d"] and "continue" not in meta


def test_fill_reads_page_by_page(monkeypatch):
    """The initial fill reads storage in pages at one revision and holds every object."""
    from kapiserver.watch import cacher as cacher_module
    monkeypatch.setattr(cacher_module, "FILL_PAGE", 2)
    storage, clock = FakeStorage(), task.Clock()
    for name in "abcde":
        storage.write(name, cm(name))
    cacher = make_cacher(storage, clock)
    cacher.start()
    items, meta = result(Deferred.fromCoroutine(cacher.list(PREFIX, ListOptions(resource_version="0"))))
    assert names(items) == list("abcde") and meta == {"resourceVersion": "6"}
    assert storage.ranges == 3


def test_consistent_get_during_the_first_replay_does_not_wait_out_its_timeout():
    """A consistent GET arriving while the cache's storage watch still replays, with storage's revision moved on
    by writes to other resources, is answered as soon as the replay catches up: the embedded store announces
    that progress (before, the GET waited the full wait_timeout for an event of its own resource)."""
    from kapiserver.storage.memory import MemoryStorage
    clock = task.Clock()
    storage = MemoryStorage(clock)
    result(storage.create(PREFIX + b"default/a", json.dumps(cm("a")).encode()))
    cacher = make_cacher(storage, clock)
    cacher.start()
    result(storage.create(b"/registry/leases/elsewhere", b"{}"))
    got = []
    Deferred.fromCoroutine(cacher.get(PREFIX + b"default/a")).addBoth(got.append)
    clock.advance(0)          # the watch's replay runs; no time passes
    assert got and got[0]["metadata"]["name"] == "a"


def test_a_waiter_that_writes_does_not_release_the_others_twice(world):
    """A waiter whose callback writes (delivered at once, as the memory store delivers) re-enters the
    release of waiters: each waiter still fires exactly once."""
    storage, clock, cacher = world
    fired = []
    first = cacher.wait_for(storage.revision + 1)
    first.addCallback(lambda ok: (fired.append("first"), storage.write("c", cm("c"))))
    second = cacher.wait_for(storage.revision + 1)
    second.addCallback(lambda ok: fired.append("second"))
    storage.write("b", cm("b"))
    assert fired == ["first", "second"]
    assert result(cacher.wait_for(storage.revision)) is True


def test_storage_watch_update_without_previous_value_is_modified():
    """An update whose previous value storage no longer has (etcd compacted it) reaches a storage watch as
    MODIFIED, not ADDED; a create is still ADDED."""
    storage, clock = FakeStorage(), task.Clock()
    reader = StorageReader(storage, PREFIX, decode, lambda o: {}, clock)
    got = []
    result(Deferred.fromCoroutine(watch_with_callback(
        reader, PREFIX, ListOptions(resource_version="4"), "ConfigMap", "v1",
        lambda t, o: got.append((t, o["metadata"]["resourceVersion"])))))
    _, sink = storage.watches[0]
    key = PREFIX + b"default/a"
    sink(Event(PUT, KeyValue(key, json.dumps(cm("a")).encode(), 2, 5), None))
    sink(Event(PUT, KeyValue(PREFIX + b"default/b", json.dumps(cm("b")).encode(), 6, 6), None))
    assert got == [("MODIFIED", "5"), ("ADDED", "6")]

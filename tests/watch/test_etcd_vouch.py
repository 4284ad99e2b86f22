"""Consistent reads from the watch cache on etcd (Etcd3Storage.track/vouch, etcd_vouch.py), against a fake
etcd client whose watch streams the test advances one by one: each stream is independent, as etcd's are, so
a test decides which stream has delivered what when a read arrives.  The clock is a task.Clock."""

from __future__ import annotations

import base64
import json

import pytest
from twisted.internet import task
from twisted.internet.defer import Deferred, succeed

from kapiserver.registry.options import ListOptions
from kapiserver.storage.etcd3 import Etcd3Storage
from kapiserver.storage.etcd_vouch import PrefixTracker, root_of
from kapiserver.watch.cacher import NOT_CACHED, Cacher
from kapiserver.watch.reader import StorageReader
from tests.watch.test_cacher import decode, names, result

ROOT = b"/registry/"
PODS = b"/registry/pods/"
CMS = b"/registry/configmaps/"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class FakeStream:
    def __init__(self, etcd: "FakeEtcd", request: dict, on_message):
        self.etcd = etcd
        self.key = base64.b64decode(request["key"])
        self.end = base64.b64decode(request["range_end"])
        self.sent = int(request["start_revision"]) - 1
        self.prev_kv = bool(request.get("prev_kv"))
        self.on_message = on_message
        self.done: Deferred = Deferred()
        self.stopped = False
        on_message({"result": {"created": True, "header": {"revision": str(etcd.revision)}}})

    def covers(self, key: bytes) -> bool:
        return self.key <= key < self.end

    def deliver(self) -> None:
        """Send every change under the stream's range it has not sent yet."""
        for revision, kind, key, value in self.etcd.log:
            if revision > self.sent and self.covers(key):
                kv = {"key": b64(key), "mod_revision": str(revision), "create_revision": str(revision)}
                if value is not None:
                    kv["value"] = b64(value)
                event = {"kv": kv}
                if kind == "DELETE":
                    event["type"] = "DELETE"
                self.on_message({"result": {"header": {"revision": str(revision)}, "events": [event]}})
        self.sent = self.etcd.revision

    def progress(self) -> None:
        """A progress notification: only once every change in range has been sent (as etcd's periodic ones)."""
        self.deliver()
        self.on_message({"result": {"header": {"revision": str(self.etcd.revision)}}})

    def stop(self) -> None:
        self.stopped = True
        if not self.done.called:
            self.done.callback(RuntimeError("stopped"))


class FakeEtcd:
    """The client Etcd3Storage talks to: kv/range (count_only answers the revision), and watch streams."""

    timeout = 5.0

    def __init__(self):
        self.revision = 1
        self.data: dict[bytes, bytes] = {}
        self.log: list[tuple] = []
        self.streams: list[FakeStream] = []
        self.revision_reads = 0
        self.ranges = 0
        self.held: list = None     # a list: revision reads wait there until the test answers them

    def put(self, key: bytes, value: bytes) -> int:
        self.revision += 1
        self.data[key] = (value, self.revision)
        self.log.append((self.revision, "PUT", key, value))
        return self.revision

    def delete(self, key: bytes) -> int:
        self.revision += 1
        del self.data[key]
        self.log.append((self.revision, "DELETE", key, None))
        return self.revision

    def call(self, path, body, timeout=None):
        assert path == "kv/range"
        if isinstance(body, bytes):     # a request encoded once (the current-revision read), as EtcdClient takes it
            body = json.loads(body)
        header = {"header": {"revision": str(self.revision)}}
        if body.get("count_only"):
            self.revision_reads += 1
            if self.held is not None:
                d = Deferred()
                self.held.append(d)
                return d
            return succeed(header)
        self.ranges += 1
        key = base64.b64decode(body["key"])
        end = base64.b64decode(body.get("range_end", "")) if body.get("range_end") else None
        kvs = [{"key": b64(k), "value": b64(v), "mod_revision": str(r), "create_revision": str(r)}
               for k, (v, r) in sorted(self.data.items())
               if (k == key if end is None else key <= k < end)]
        return succeed({**header, "kvs": kvs, "count": str(len(kvs))})

    def watch(self, request, on_message):
        stream = FakeStream(self, request, on_message)
        self.streams.append(stream)
        return stream

    def stream(self, prefix: bytes) -> FakeStream:
        live = [s for s in self.streams if s.key == prefix and not s.stopped]
        assert len(live) == 1, live
        return live[0]

    def close(self):
        return succeed(None)


def cm(name):
    return json.dumps({"metadata": {"name": name, "namespace": "default"}}).encode()


def pending(d):
    out = []
    d.addBoth(out.append)
    return out


@pytest.fixture
def world():
    etcd, clock = FakeEtcd(), task.Clock()
    storage = Etcd3Storage(["http://etcd"], clock, client=etcd)
    etcd.put(CMS + b"default/a", cm("a"))
    caches = {}
    for prefix in (CMS, PODS):
        cacher = Cacher(StorageReader(storage, prefix, decode, lambda o: {}, clock), 100, clock)
        cacher.start()
        caches[prefix] = cacher
    clock.advance(0)        # the root watch's start revision is read at the end of the turn
    for cacher in caches.values():
        assert cacher.cache.ready and cacher._vouched
    return etcd, clock, storage, caches


def turn(cacher, coroutine):
    """Start a read and end the reactor turn (which sends the revision read it joined)."""
    d = Deferred.fromCoroutine(coroutine)
    cacher.clock.advance(0)
    return d


def consistent_list(cacher, prefix):
    return turn(cacher, cacher.list(prefix, ListOptions()))


def test_tracker_records_the_last_change_per_prefix_and_the_start():
    tracker = PrefixTracker()
    tracker.track(PODS)
    tracker.started(10)
    assert tracker.required(PODS) == 10      # what the root watch did not see
    tracker.track(CMS)
    assert tracker.required(CMS) == 10
    tracker.saw(PODS + b"ns/p", 12)
    tracker.saw(b"/registry/other/x", 13)
    tracker.saw(CMS + b"ns/c", 14)
    assert tracker.required(PODS) == 12 and tracker.required(CMS) == 14
    tracker.started(20)                     # restarted after a compaction
    assert tracker.required(PODS) == 20 and tracker.required(CMS) == 20
    assert root_of(PODS) == ROOT and root_of(b"/registry/") is None and root_of(b"pods/") is None


def test_quiet_resource_is_served_from_the_cache_without_a_progress_notification(world):
    """Writes to another resource move etcd's revision; the quiet resource's cache is vouched for by the root
    watch (nothing under its prefix since it filled), so the consistent list reads no etcd range."""
    etcd, clock, storage, caches = world
    for i in range(3):
        etcd.put(PODS + b"default/p%d" % i, cm("p%d" % i))
    etcd.stream(ROOT).deliver()
    ranges = etcd.ranges
    items, meta = result(consistent_list(caches[CMS], CMS))
    assert names(items) == ["a"] and meta["resourceVersion"] == str(etcd.revision)
    assert etcd.ranges == ranges


def test_read_waits_for_its_own_watch_to_deliver_the_change_the_root_watch_saw(world):
    """The root watch has delivered a write to configmaps, the configmaps watch not yet: the read waits for it
    (and then sees the write), it does not answer from the stale cache."""
    etcd, clock, storage, caches = world
    etcd.put(CMS + b"default/b", cm("b"))
    etcd.stream(ROOT).deliver()
    out = pending(consistent_list(caches[CMS], CMS))
    assert out == []
    etcd.stream(CMS).deliver()
    items, meta = result_of(out)
    assert names(items) == ["a", "b"] and meta["resourceVersion"] == str(etcd.revision)


def test_delete_is_seen(world):
    etcd, clock, storage, caches = world
    etcd.delete(CMS + b"default/a")
    etcd.stream(ROOT).deliver()
    out = pending(consistent_list(caches[CMS], CMS))
    assert out == []
    etcd.stream(CMS).deliver()
    items, _ = result_of(out)
    assert items == []


def test_read_waits_for_the_root_watch_to_reach_the_revision(world):
    """A write through another apiserver: neither watch has it yet.  The read waits for the root watch, then for
    the resource's watch."""
    etcd, clock, storage, caches = world
    etcd.put(CMS + b"default/b", cm("b"))
    out = pending(consistent_list(caches[CMS], CMS))
    etcd.stream(CMS).deliver()
    assert out == [], "the resource watch alone vouches for nothing without a progress notification"
    etcd.stream(ROOT).deliver()
    items, _ = result_of(out)
    assert names(items) == ["a", "b"]


def test_a_revision_written_outside_the_root_falls_back_to_etcd(world):
    """The root watch never delivers a revision written outside it: after the short wait the list reads etcd,
    and is still right."""
    etcd, clock, storage, caches = world
    etcd.put(b"/elsewhere/x", b"1")
    ranges = etcd.ranges
    out = pending(consistent_list(caches[CMS], CMS))
    assert out == []
    clock.advance(0.3)      # one 0.25 s budget for the whole wait, then etcd
    items, meta = result_of(out)
    assert names(items) == ["a"] and etcd.ranges == ranges + 1
    # Once a progress notification (or a later write under the root) passes it, the cache serves again.
    etcd.stream(ROOT).progress()
    items, _ = result(consistent_list(caches[CMS], CMS))
    assert names(items) == ["a"] and etcd.ranges == ranges + 1


def test_consistent_get_on_etcd_is_served_from_the_vouched_cache(world):
    etcd, clock, storage, caches = world
    cacher = caches[CMS]
    ranges = etcd.ranges
    assert result(turn(cacher, cacher.get_encoded(CMS + b"default/a"))) is not NOT_CACHED
    etcd.put(CMS + b"default/a", json.dumps({"metadata": {"name": "a"}, "data": {"v": "2"}}).encode())
    out = pending(turn(cacher, cacher.get(CMS + b"default/a")))
    etcd.stream(ROOT).deliver()
    assert out == []
    etcd.stream(CMS).deliver()
    assert result_of(out)["data"] == {"v": "2"}
    assert etcd.ranges == ranges


def test_a_get_that_fell_back_reads_etcd_once_without_waiting_again(world):
    """GET as the API serves it: get_encoded, then (when the cache could not answer) get.  After the 0.25 s of
    the first, the second reads etcd at once."""
    etcd, clock, storage, caches = world
    cacher = caches[CMS]
    key = CMS + b"default/a"
    etcd.put(b"/elsewhere/x", b"1")
    ranges = etcd.ranges
    out = pending(turn(cacher, cacher.get_encoded(key)))
    clock.advance(0.3)
    assert result_of(out) is NOT_CACHED
    got = pending(turn(cacher, cacher.get(key)))
    assert result_of(got)["metadata"]["name"] == "a" and etcd.ranges == ranges + 1
    assert cacher.consistent_reads["fallback"] == 1


def test_compacted_root_watch_restarts_and_raises_every_requirement(world):
    """After the root watch restarts (compacted), a resource watch must have reached its new start revision:
    until its own stream says so (an event or a progress notification), reads fall back to etcd."""
    etcd, clock, storage, caches = world
    etcd.put(PODS + b"default/p", cm("p"))
    root = etcd.stream(ROOT)
    root.on_message({"result": {"canceled": True, "compact_revision": str(etcd.revision)}})
    clock.advance(0)        # the new start revision is read
    assert etcd.stream(ROOT) is not root
    tracker = storage._vouches[ROOT].tracker
    assert tracker.required(CMS) == etcd.revision
    ranges = etcd.ranges
    out = pending(consistent_list(caches[CMS], CMS))
    clock.advance(0.3)      # one 0.25 s budget for the whole wait, then etcd
    assert names(result_of(out)[0]) == ["a"] and etcd.ranges == ranges + 1
    etcd.stream(CMS).progress()
    assert names(result(consistent_list(caches[CMS], CMS))[0]) == ["a"] and etcd.ranges == ranges + 1


def test_concurrent_reads_share_revision_reads(world):
    """Ten consistent lists arriving in one turn share one revision read; five arriving after it was sent (and
    after a write acknowledged meanwhile) share the next one, and see the write."""
    etcd, clock, storage, caches = world
    cacher = caches[CMS]
    etcd.held = []
    before = etcd.revision_reads
    first = [pending(Deferred.fromCoroutine(cacher.list(CMS, ListOptions()))) for _ in range(10)]
    clock.advance(0)
    assert etcd.revision_reads - before == 1
    etcd.put(CMS + b"default/b", cm("b"))
    second = [pending(Deferred.fromCoroutine(cacher.list(CMS, ListOptions()))) for _ in range(5)]
    clock.advance(0)
    assert etcd.revision_reads - before == 2
    etcd.held.pop(0).callback({"header": {"revision": str(etcd.revision - 1)}})
    for out in first:
        assert names(result_of(out)[0]) == ["a"]
    assert all(out == [] for out in second), "the second batch may not use the first answer"
    etcd.held.pop(0).callback({"header": {"revision": str(etcd.revision)}})
    etcd.stream(ROOT).deliver()
    etcd.stream(CMS).deliver()
    for out in second:
        assert names(result_of(out)[0]) == ["a", "b"]
    assert etcd.revision_reads - before == 2


def result_of(out):
    assert out, "the read has not answered"
    if hasattr(out[0], "raiseException"):
        out[0].raiseException()
    return out[0]

"""
Consistent reads from the watch cache on a real etcd (Etcd3Storage.track/vouch, kapiserver/storage/etcd_vouch.py):
a read made right after a write sees it, whichever replica made the write and whichever resource it was
written to, and a cache etcd's root watch vouches for answers without reading etcd.
"""

from __future__ import annotations

import json

import pytest
from twisted.internet import reactor
from twisted.internet.defer import Deferred

from kapiserver.registry.options import ListOptions
from kapiserver.storage.etcd3 import Etcd3Storage
from kapiserver.watch.cacher import Cacher
from kapiserver.watch.reader import StorageReader

from tests.watch.test_cacher import decode

CMS = b"/registry/configmaps/"
PODS = b"/registry/pods/"


def value(name, n):
    return json.dumps({"metadata": {"name": name, "namespace": "default"}, "data": {"n": str(n)}}).encode()


class Replica:
    """One apiserver's storage side: an Etcd3Storage with watch caches of configmaps and pods, and a count of
    the ranges the caches' readers asked etcd for."""

    def __init__(self, urls, run, run_until):
        self.storage = Etcd3Storage(urls, reactor)
        self.ranges = 0
        real_range = self.storage.range

        def counting_range(*args, **kw):
            self.ranges += 1
            return real_range(*args, **kw)
        self.storage.range = counting_range
        self.caches = {}
        for prefix in (CMS, PODS):
            cacher = Cacher(StorageReader(self.storage, prefix, decode, lambda o: {}, reactor), 1000, reactor)
            cacher.start()
            self.caches[prefix] = cacher
        run(self.caches[CMS].filled())
        run(self.caches[PODS].filled())
        assert all(c._vouched for c in self.caches.values())
        self.run = run

    def list(self, prefix):
        return self.run(Deferred.fromCoroutine(self.caches[prefix].list(prefix, ListOptions())))

    def get(self, key):
        prefix = CMS if key.startswith(CMS) else PODS
        return self.run(Deferred.fromCoroutine(self.caches[prefix].get(key)))

    def close(self):
        for cacher in self.caches.values():
            cacher.stop()
        self.run(self.storage.close())


@pytest.fixture
def replicas(etcd, run, run_until):
    made = []

    def make():
        replica = Replica(etcd.urls, run, run_until)
        made.append(replica)
        return replica
    yield make
    for replica in made:
        replica.close()


def by_name(items):
    return {item["metadata"]["name"]: item["data"]["n"] for item in items}


def test_read_right_after_a_write_through_another_replica_sees_it(replicas, run):
    """Creates and updates through replica B, each followed at once by a consistent LIST and GET on replica A."""
    a, b = replicas(), replicas()
    revisions = {}
    for i in range(30):
        name = f"cm-{i % 5}"
        key = CMS + b"default/" + name.encode()
        if name in revisions:
            revision = run(b.storage.update(key, value(name, i), revisions[name]))
        else:
            revision = run(b.storage.create(key, value(name, i)))
        revisions[name] = revision
        items, meta = a.list(CMS)
        assert by_name(items)[name] == str(i), f"write {i} at {revision} not in the list at {meta}"
        assert int(meta["resourceVersion"]) >= revision
        assert a.get(key)["data"]["n"] == str(i)


def test_read_right_after_a_write_to_another_resource_is_at_least_that_recent(replicas, run):
    """A pod written (through either replica) and then a consistent configmap list: the list's resourceVersion is
    at or after the pod's, and a configmap written just before the pod is in it."""
    a, b = replicas(), replicas()
    for i in range(20):
        writer = a if i % 2 else b
        cm_revision = run(writer.storage.create(CMS + b"default/c%d" % i, value(f"c{i}", i)))
        pod_revision = run(writer.storage.create(PODS + b"default/p%d" % i, value(f"p{i}", i)))
        assert pod_revision > cm_revision
        items, meta = a.list(CMS)
        assert int(meta["resourceVersion"]) >= pod_revision
        assert f"c{i}" in by_name(items)
        pods, pod_meta = a.list(PODS)
        assert f"p{i}" in by_name(pods) and int(pod_meta["resourceVersion"]) >= pod_revision


def test_vouched_cache_answers_without_reading_etcd(replicas, run, run_until):
    """Once the root watch has delivered the writes (to another resource), a consistent LIST and GET of a quiet
    resource come from its cache: no etcd range, no wait for a progress notification."""
    a, b = replicas(), replicas()
    run(b.storage.create(CMS + b"default/quiet", value("quiet", 0)))
    revision = 0
    for i in range(5):
        revision = run(b.storage.create(PODS + b"default/busy%d" % i, value(f"busy{i}", i)))
    run_until(lambda: a.caches[CMS].cache.objects and a.storage._vouches[b"/registry/"].watcher.last >= revision)
    before = a.ranges
    items, meta = a.list(CMS)
    assert by_name(items) == {"quiet": "0"} and int(meta["resourceVersion"]) >= revision
    assert a.get(CMS + b"default/quiet")["data"] == {"n": "0"}
    assert a.ranges == before


def test_a_lagging_resource_watch_is_waited_for(replicas, run, run_until):
    """Replica A's configmap watch stream is held back (its connection paused) while its root watch delivers B's
    write: A's consistent LIST and GET must not answer from the stale cache."""
    a, b = replicas(), replicas()
    key = CMS + b"default/late"
    stream = a.caches[CMS]._handle._stream
    run_until(lambda: stream._protocol is not None)
    transport = stream._protocol.transport
    transport.pauseProducing()
    try:
        revision = run(b.storage.create(key, value("late", 1)))
        run_until(lambda: a.storage._vouches[b"/registry/"].watcher.last >= revision)
        assert a.caches[CMS].cache.revision < revision
        reactor.callLater(0.1, transport.resumeProducing)
        items, meta = a.list(CMS)
        assert by_name(items) == {"late": "1"} and int(meta["resourceVersion"]) >= revision
    finally:
        transport.resumeProducing()
    transport.pauseProducing()
    try:
        revision = run(b.storage.update(key, value("late", 2), revision))
        run_until(lambda: a.storage._vouches[b"/registry/"].watcher.last >= revision)
        reactor.callLater(0.1, transport.resumeProducing)
        assert a.get(key)["data"] == {"n": "2"}
    finally:
        transport.resumeProducing()


def test_a_write_outside_the_root_does_not_make_reads_stale(replicas, run):
    """A revision written outside /registry/ is never delivered by the root watch: reads fall back to etcd (or to
    a later progress notification) and stay correct."""
    a, b = replicas(), replicas()
    for i in range(5):
        run(b.storage.create(CMS + b"default/in%d" % i, value(f"in{i}", i)))
        outside = run(b.storage.create(b"/elsewhere/%d" % i, b"x"))
        items, meta = a.list(CMS)
        assert f"in{i}" in by_name(items) and int(meta["resourceVersion"]) >= outside
        assert a.get(CMS + b"default/in%d" % i)["data"] == {"n": str(i)}


def test_write_through_one_kapiserver_is_read_at_once_through_another(etcd, apiservers):
    """Two kapiserver processes on one etcd: each create and update through A is in the very next GET and LIST
    through B, and a Secret written through A moves B's configmap list to at least its resourceVersion."""
    a = apiservers(etcd.urls, "a")
    b = apiservers(etcd.urls, "b")
    base = "/api/v1/namespaces/default/configmaps"
    for i in range(10):
        name = f"cm-{i % 3}"
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"n": str(i)}}
        status, written = a.request("PUT" if i >= 3 else "POST", f"{base}/{name}" if i >= 3 else base, body)
        assert status in (200, 201), written
        status, got = b.request("GET", f"{base}/{name}")
        assert status == 200 and got["data"] == {"n": str(i)}
        status, listing = b.request("GET", base)
        assert status == 200 and {c["metadata"]["name"]: c.get("data", {}).get("n") for c in listing["items"]}[name] == str(i)
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"s{i}"}, "data": {}}
        status, written_secret = a.request("POST", "/api/v1/namespaces/default/secrets", secret)
        assert status == 201, written_secret
        status, listing = b.request("GET", base)
        assert int(listing["metadata"]["resourceVersion"]) >= int(written_secret["metadata"]["resourceVersion"])

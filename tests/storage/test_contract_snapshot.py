"""
Snapshot and restore (interface.SupportsSnapshot), run on every backend in
conftest.BACKENDS that offers them (memory and SQLite; etcd does not).
Restore writes the differences as ordinary writes at new revisions, so
revisions never go back and watches see ordinary events.
"""

from __future__ import annotations

import pytest
from twisted.internet import reactor

from kapiserver.storage import (
    DELETE, PUT, Event, KeyValue, RevisionCompacted, Snapshot, SupportsSnapshot,
)
from kapiserver.storage.memory import MemoryStorage


@pytest.fixture
def snapshotting(storage):
    if not isinstance(storage, SupportsSnapshot):
        pytest.skip(f"{type(storage).__name__} offers no snapshot/restore")
    return storage


def test_backends_say_whether_they_snapshot():
    """The memory and SQLite backends offer SupportsSnapshot; etcd does not."""
    from kapiserver.storage.etcd3 import Etcd3Storage
    from kapiserver.storage.sqlite import SQLiteStorage
    assert issubclass(MemoryStorage, SupportsSnapshot) and issubclass(SQLiteStorage, SupportsSnapshot)
    assert not issubclass(Etcd3Storage, SupportsSnapshot)


def test_snapshot_is_the_live_keys_as_a_value(snapshotting, run):
    """A snapshot holds the live keys in key order at the current revision, and later writes leave it unchanged."""
    storage = snapshotting
    r1 = run(storage.create(b"/s/b", b"1"))
    r2 = run(storage.create(b"/s/a", b"1"))
    r3 = run(storage.create(b"/s/c", b"1"))
    run(storage.delete(b"/s/c"))
    snap = run(storage.snapshot())
    current = run(storage.current_revision())
    assert snap == Snapshot(current, (KeyValue(b"/s/a", b"1", r2, r2), KeyValue(b"/s/b", b"1", r1, r1)))
    run(storage.update(b"/s/a", b"2", r2))
    assert snap.kvs[0].value == b"1" and r3 < current


def test_restore_writes_the_differences_at_new_revisions(snapshotting, run):
    """After restore the keys and values are the snapshot's; each difference took the next revision, in key order; older history stays readable."""
    storage = snapshotting
    ra = run(storage.create(b"/s/a", b"1"))
    rb = run(storage.create(b"/s/b", b"1"))
    run(storage.create(b"/s/same", b"1"))
    snap = run(storage.snapshot())
    run(storage.update(b"/s/a", b"2", ra))      # changed: put back
    run(storage.delete(b"/s/b"))               # deleted: created again
    run(storage.create(b"/s/c", b"1"))          # new: deleted
    before = run(storage.current_revision())
    after = run(storage.restore(snap))
    assert after == before + 3 == run(storage.current_revision())
    kvs = run(storage.range(b"/s/")).kvs
    assert [(kv.key, kv.value) for kv in kvs] == [(b"/s/a", b"1"), (b"/s/b", b"1"), (b"/s/same", b"1")]
    assert run(storage.get(b"/s/a")) == KeyValue(b"/s/a", b"1", ra, before + 1)
    assert run(storage.get(b"/s/b")) == KeyValue(b"/s/b", b"1", before + 2, before + 2)
    assert run(storage.get(b"/s/same")) == snap.kvs[2]
    assert [kv.key for kv in run(storage.range(b"/s/", revision=before)).kvs] == [b"/s/a", b"/s/c", b"/s/same"]
    assert run(storage.create(b"/s/d", b"1")) == after + 1
    assert rb < before


def test_restore_without_differences_writes_nothing(snapshotting, run):
    """Restoring the state the store is in takes no revision."""
    storage = snapshotting
    run(storage.create(b"/s/a", b"1"))
    snap = run(storage.snapshot())
    current = run(storage.current_revision())
    assert run(storage.restore(snap)) == current == run(storage.current_revision())


def test_restore_is_seen_by_watches_as_ordinary_events(snapshotting, run, run_until):
    """A live watch receives the restore's PUT and DELETE events, with prev_kv, before the restore fires; a mirror fed by them equals the snapshot."""
    storage = snapshotting
    ra = run(storage.create(b"/s/a", b"1"))
    snap = run(storage.snapshot())
    ra2 = run(storage.update(b"/s/a", b"2", ra))
    rc = run(storage.create(b"/s/c", b"1"))
    start = run(storage.current_revision())
    mirror = {kv.key: kv.value for kv in run(storage.range(b"/s/")).kvs}
    got = []

    def sink(event):
        got.append(event)
        if event.type == PUT:
            mirror[event.kv.key] = event.kv.value
        else:
            del mirror[event.kv.key]

    storage.watch(b"/s/", start, sink)
    run(storage.current_revision())
    run_until(lambda: True)
    at_ack = []
    d = storage.restore(snap).addCallback(lambda rev: at_ack.append(len(got)) or rev)
    after = run(d)
    assert at_ack == [2]
    assert got == [
        Event(PUT, KeyValue(b"/s/a", b"1", ra, start + 1), KeyValue(b"/s/a", b"2", ra, ra2)),
        Event(DELETE, KeyValue(b"/s/c", b"", 0, start + 2), KeyValue(b"/s/c", b"1", rc, rc)),
    ]
    assert after == start + 2
    assert mirror == {kv.key: kv.value for kv in snap.kvs}


def test_restore_after_compaction_and_into_another_store(snapshotting, run):
    """A snapshot is a plain value: it restores after the history it came from was compacted, and into another store."""
    storage = snapshotting
    run(storage.create(b"/s/a", b"1"))
    snap = run(storage.snapshot())
    run(storage.delete(b"/s/a"))
    run(storage.create(b"/s/b", b"1"))
    run(storage.compact(run(storage.current_revision())))
    with pytest.raises(RevisionCompacted):
        run(storage.range(b"/s/", revision=snap.revision))
    run(storage.restore(snap))
    assert [(kv.key, kv.value) for kv in run(storage.range(b"/s/")).kvs] == [(b"/s/a", b"1")]
    other = MemoryStorage(reactor)
    run(other.create(b"/s/z", b"1"))
    run(other.restore(run(storage.snapshot())))
    assert [(kv.key, kv.value) for kv in run(other.range(b"")).kvs] == [(b"/s/a", b"1")]
    run(other.close())

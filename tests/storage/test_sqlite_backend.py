"""What the SQLite backend promises beyond the storage contract: its file,
group commit, chunked watch replay, compaction's effect on the file,
snapshot/restore, and failing cleanly."""

from __future__ import annotations

import os
import sqlite3
import threading

import pytest
from twisted.internet import reactor

from kapiserver.storage import Compacted, KeyExists, Unavailable
from kapiserver.storage import _sqlite_db
from kapiserver.storage import sqlite as sqlite_module
from kapiserver.storage.sqlite import DB_FILENAME, SQLiteStorage, open_sqlite


@pytest.fixture
def data_dir(tmp_path):
    return str(tmp_path / "nested" / "data")


@pytest.fixture
def opened(data_dir, run):
    """open(**kw) opens the store in data_dir; all are closed at the end."""
    stores = []

    def open_(**kw):
        store = run(open_sqlite(data_dir, reactor, **kw))
        stores.append(store)
        return store

    yield open_
    for store in stores:
        run(store.close())


def _database_processes(data_dir):
    """The pids of live database processes serving a file in ``data_dir``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        serves = any(b"kapiserver.storage._sqlite_serve" in a for a in argv)
        if serves and any(a.startswith(data_dir.encode() + b"/") for a in argv):
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    found.append(int(pid))
    return found


def _rows(data_dir, sql):
    conn = sqlite3.connect(os.path.join(data_dir, DB_FILENAME))
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_open_creates_directory_and_wal_file(data_dir, opened, run):
    """open_sqlite creates the data directory and kapiserver.db in it, in WAL mode."""
    store = opened()
    run(store.create(b"/a", b"1"))
    run(store.close())
    assert os.path.isfile(os.path.join(data_dir, DB_FILENAME))
    assert _rows(data_dir, "PRAGMA journal_mode") == [("wal",)]


def test_empty_store_starts_at_revision_one(opened, run):
    """Like etcd, an empty store is at revision 1 and its first write takes revision 2."""
    store = opened()
    assert run(store.current_revision()) == 1
    assert run(store.create(b"/a", b"1")) == 2


def test_second_open_of_a_live_file_is_unavailable(data_dir, opened, run):
    """While one storage has the file open, another cannot open it (one revision counter per file)."""
    opened()
    other = SQLiteStorage(os.path.join(data_dir, DB_FILENAME), reactor)
    try:
        with pytest.raises(Unavailable):
            run(other.opened())
        with pytest.raises(Unavailable):
            run(other.get(b"/a"))
    finally:
        run(other.close())


def test_corrupt_file_is_unavailable(data_dir, run):
    """A file that is not an SQLite database fails to open with Unavailable, and leaves no thread or database
    process behind."""
    os.makedirs(data_dir)
    with open(os.path.join(data_dir, DB_FILENAME), "wb") as f:
        f.write(b"this is not a database" * 100)
    before = set(threading.enumerate())
    with pytest.raises(Unavailable):
        run(open_sqlite(data_dir, reactor))
    assert [t for t in threading.enumerate() if t not in before and t.is_alive()] == []
    assert _database_processes(data_dir) == []


def test_database_processes_are_found_by_their_file(data_dir, opened):
    """The helper the leak checks use sees a live store's database process (so its empty answer means none)."""
    store = opened()
    assert _database_processes(data_dir) == [store._database._process.pid]


def test_non_bytes_keys_are_refused(opened):
    """A str key or value is a programming error: TypeError, not a silently different sort order."""
    store = opened()
    with pytest.raises(TypeError):
        store.create("/a", b"1")
    with pytest.raises(TypeError):
        store.range("/")


def test_writes_in_flight_commit_in_submission_order(opened, run):
    """Writes issued together get consecutive revisions in the order issued; a failed one takes none."""
    store = opened()
    run(store.create(b"/dup", b"1"))
    ds = [store.create(b"/k%02d" % i, b"v") for i in range(30)]
    dup = store.create(b"/dup", b"2")
    ds += [store.create(b"/k%02d" % i, b"v") for i in range(30, 60)]
    revs = [run(d) for d in ds]
    assert revs == list(range(revs[0], revs[0] + 60))
    with pytest.raises(KeyExists):
        run(dup)


def test_sqlite_error_fails_the_whole_batch(opened, data_dir, run):
    """An SQLite error inside a batch rolls it back: every write in it fails with Unavailable and no revision is used."""
    run(opened().close())
    # A trigger that fails the insert of one key with an error other than a constraint's (SQLite's integer
    # overflow), as a disk error would fail it, in the process that runs the database.
    conn = sqlite3.connect(os.path.join(data_dir, DB_FILENAME))
    conn.execute("CREATE TRIGGER boom BEFORE INSERT ON current WHEN NEW.key = CAST('/boom' AS BLOB)"
                 " BEGIN SELECT abs(-9223372036854775808); END")
    conn.commit()
    conn.close()
    store = opened()
    first = store.create(b"/first", b"1")  # goes alone; the next three queue behind it
    batch = [store.create(b"/a", b"1"), store.create(b"/boom", b"1"), store.create(b"/b", b"1")]
    rev = run(first)
    for d in batch:
        with pytest.raises(Unavailable, match="integer overflow"):
            run(d)
    assert run(store.current_revision()) == rev
    assert run(store.get(b"/a")) is None
    assert run(store.create(b"/c", b"1")) == rev + 1


def test_close_fails_queued_writes_and_finishes_the_running_one(opened, run):
    """close() lets the batch being committed finish and fails writes still queued with Unavailable."""
    store = opened()
    running = store.create(b"/a", b"1")
    queued = store.create(b"/b", b"1")
    closed = store.close()
    assert run(running) > 1
    with pytest.raises(Unavailable):
        run(queued)
    run(closed)


def test_replay_in_chunks_with_concurrent_writes(opened, run, run_until, settle):
    """A replay longer than one chunk, overlapping live writes, delivers each revision once, in order."""
    store = opened(replay_chunk=3)
    start = run(store.current_revision())
    for i in range(20):
        run(store.create(b"/w/%02d" % i, b"1"))
    got = []
    store.watch(b"/w/", start, got.append)
    more = [store.update(b"/w/%02d" % i, b"2", start + 1 + i) for i in range(20)]
    for d in more:
        run(d)
    run_until(lambda: len(got) >= 40)
    settle()
    assert [e.revision for e in got] == list(range(start + 1, start + 41))


def test_compaction_during_replay_sends_compacted(opened, run, run_until, settle):
    """A replay overtaken by a compaction ends with the events it sent, then one Compacted."""
    store = opened(replay_chunk=2)
    start = run(store.current_revision())
    for i in range(10):
        run(store.create(b"/w/%d" % i, b"1"))
    got = []
    store.watch(b"/w/", start, got.append)
    compacting = store.compact(start + 6)  # runs after the first chunk is read
    run(compacting)
    run_until(lambda: got and isinstance(got[-1], Compacted))
    settle()
    assert [e.revision for e in got[:-1]] == [start + 1, start + 2]
    assert got[-1] == Compacted(start + 6)


def test_compaction_removes_superseded_rows_and_tombstones(data_dir, opened, run):
    """compact(C) leaves in the log only the live row of each key at C and the rows after C."""
    store = opened()
    r1 = run(store.create(b"/a", b"1"))
    r2 = run(store.update(b"/a", b"2", r1))
    r3 = run(store.create(b"/b", b"1"))
    r4, _ = run(store.delete(b"/b"))
    r5 = run(store.update(b"/a", b"3", r2))
    run(store.compact(r4))
    run(store.close())
    assert _rows(data_dir, "SELECT revision FROM log ORDER BY revision") == [(r2,), (r5,)]
    assert _rows(data_dir, "SELECT value FROM meta WHERE name = 'compact_revision'") == [(r4,)]
    assert r3 < r4


def test_restore_survives_restart(opened, run):
    """A restored state and its revision are what a reopened store finds."""
    store = opened()
    run(store.create(b"/a", b"1"))
    snap = run(store.snapshot())
    run(store.create(b"/b", b"1"))
    restored = run(store.restore(snap))
    run(store.close())
    again = opened()
    assert run(again.current_revision()) == restored
    assert [kv.key for kv in run(again.range(b"/")).kvs] == [b"/a"]
    assert run(again.create(b"/b", b"2")) == restored + 1


def test_compaction_in_small_steps_leaves_the_same_log(data_dir, opened, run, monkeypatch):
    """A compaction taken a few revisions per transaction ends with the same rows and compact revision as one taken at once."""
    monkeypatch.setattr(sqlite_module, "_COMPACT_STEP", 3)
    store = opened()
    revs = {}
    for round_ in range(4):
        for name in (b"/a", b"/b", b"/c"):
            if name in revs and round_ == 2 and name == b"/b":
                run(store.delete(name))
                del revs[name]
            elif name in revs:
                revs[name] = run(store.update(name, b"%d" % round_, revs[name]))
            else:
                revs[name] = run(store.create(name, b"%d" % round_))
    top = run(store.current_revision())
    run(store.compact(top))
    run(store.close())
    assert _rows(data_dir, "SELECT revision FROM log ORDER BY revision") == sorted(
        (rev,) for rev in revs.values())
    assert _rows(data_dir, "SELECT value FROM meta WHERE name = 'compact_revision'") == [(top,)]


def test_compaction_gives_the_space_back(data_dir, opened, run):
    """Keys rewritten many times (leases, events) grow the file only until compaction: it then frees the pages
    of the superseded rows and returns them to the file system (incremental vacuum) but for a fifth of the
    file kept free for the writes to come, so the database ends a fraction of its peak, and the WAL file is
    bounded."""
    store = opened()
    value = b"x" * 2000
    revs = {}
    for _ in range(60):
        batch = []
        for i in range(20):
            key = b"/registry/leases/kube-node-lease/node-%d" % i
            batch.append(store.update(key, value, revs[key]) if key in revs else store.create(key, value))
        for i, rev in enumerate(run(gather(batch))):
            revs[b"/registry/leases/kube-node-lease/node-%d" % i] = rev
    top = run(store.current_revision())
    run(store.close())
    peak = _rows(data_dir, "PRAGMA page_count")[0][0]
    store = opened()
    run(store.compact(top))
    run(store.close())
    pages, free = _rows(data_dir, "PRAGMA page_count")[0][0], _rows(data_dir, "PRAGMA freelist_count")[0][0]
    assert 0 < free <= pages * _sqlite_db.RECLAIM_KEEP + 1, (free, pages)
    assert pages < peak / 10, (pages, peak)
    wal = os.path.join(data_dir, DB_FILENAME + "-wal")
    assert not os.path.exists(wal) or os.path.getsize(wal) <= sqlite_module.WAL_SIZE_LIMIT


def gather(ds):
    from twisted.internet.defer import gatherResults
    return gatherResults(ds)


def test_a_create_of_a_live_key_fails_alone_in_its_batch(opened, run):
    """In one batch, a create of a key that exists is KeyExists and writes nothing; the batch's other writes
    land, at consecutive revisions, and the existing key keeps its value."""
    from twisted.internet.defer import DeferredList
    store = opened()
    first = store.create(b"/k/a", b"old")       # goes alone; the three below queue as the next batch
    rest = [store.create(b"/k/b", b"1"), store.create(b"/k/a", b"new"), store.create(b"/k/c", b"2")]
    results = run(DeferredList([first, *rest], consumeErrors=True))
    (ok_a, rev_a), (ok_b, rev_b), (ok_again, failure), (ok_c, rev_c) = results
    assert ok_a and ok_b and ok_c and not ok_again
    assert failure.check(KeyExists)
    assert rev_c == rev_b + 1
    assert run(store.get(b"/k/a")).value == b"old"
    assert run(store.get(b"/k/c")).value == b"2"
    assert run(store.current_revision()) == rev_c

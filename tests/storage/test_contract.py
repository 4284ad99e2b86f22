"""
The storage contract (kapiserver/storage/interface.py), run against every
backend in conftest.BACKENDS.  Revisions are compared relative to the store's
current revision, never as absolute numbers.
"""

from __future__ import annotations

import pytest

from kapiserver.storage import (
    DELETE, PUT, Compacted, Conflict, Event, FutureRevision, KeyExists, KeyNotFound,
    KeyValue, RevisionCompacted, Unavailable,
)


def keys(result):
    return [kv.key for kv in result.kvs]


# -- create / get ---------------------------------------------------------


def test_create_then_get(storage, run):
    """create returns the next revision and get returns the value with create == mod == that revision."""
    before = run(storage.current_revision())
    rev = run(storage.create(b"/r/a", b"one"))
    assert rev == before + 1
    assert run(storage.get(b"/r/a")) == KeyValue(b"/r/a", b"one", rev, rev)


def test_get_missing_is_none(storage, run):
    """get of a key that was never written is None."""
    assert run(storage.get(b"/r/missing")) is None


def test_create_existing_raises_key_exists(storage, run):
    """create of an existing key fails with KeyExists and changes nothing."""
    rev = run(storage.create(b"/r/a", b"one"))
    with pytest.raises(KeyExists) as e:
        run(storage.create(b"/r/a", b"two"))
    assert e.value.key == b"/r/a"
    assert run(storage.get(b"/r/a")).value == b"one"
    assert run(storage.current_revision()) == rev


def test_empty_value_round_trips(storage, run):
    """An empty value is stored and read back as empty bytes."""
    run(storage.create(b"/r/empty", b""))
    assert run(storage.get(b"/r/empty")).value == b""


def test_revisions_are_global_and_increase_by_one(storage, run):
    """Every successful write, to any key, takes exactly the next revision."""
    start = run(storage.current_revision())
    revs = [
        run(storage.create(b"/r/a", b"1")),
        run(storage.create(b"/other/b", b"1")),
        run(storage.update(b"/r/a", b"2", start + 1)),
        run(storage.delete(b"/other/b"))[0],
        run(storage.create(b"/other/b", b"again")),
    ]
    assert revs == list(range(start + 1, start + 6))
    assert run(storage.current_revision()) == start + 5


def test_failed_writes_take_no_revision(storage, run):
    """KeyExists, Conflict and KeyNotFound leave the revision unchanged."""
    rev = run(storage.create(b"/r/a", b"1"))
    for attempt in (storage.create(b"/r/a", b"x"), storage.update(b"/r/a", b"x", rev - 1),
                    storage.delete(b"/r/nope"), storage.delete(b"/r/a", rev + 7)):
        with pytest.raises((KeyExists, Conflict, KeyNotFound)):
            run(attempt)
    assert run(storage.current_revision()) == rev
    assert run(storage.create(b"/r/b", b"1")) == rev + 1


# -- range ----------------------------------------------------------------


def _fill(storage, run, names):
    return [run(storage.create(name, b"v:" + name)) for name in names]


def test_range_by_prefix_in_key_order(storage, run):
    """range returns exactly the keys under the prefix, sorted by key bytes."""
    _fill(storage, run, [b"/p/c", b"/p/a", b"/pz", b"/p/b", b"/q/a", b"/p"])
    result = run(storage.range(b"/p/"))
    assert keys(result) == [b"/p/a", b"/p/b", b"/p/c"]
    assert (result.more, result.count) == (False, 3)
    assert result.revision == run(storage.current_revision())
    assert result.kvs[0] == run(storage.get(b"/p/a"))


def test_range_empty_prefix_is_everything(storage, run):
    """The empty prefix ranges over every key."""
    _fill(storage, run, [b"b", b"a", b"\xff\xff"])
    assert keys(run(storage.range(b""))) == [b"a", b"b", b"\xff\xff"]


def test_range_prefix_of_high_bytes(storage, run):
    """A prefix ending in 0xff bytes still bounds the range correctly."""
    _fill(storage, run, [b"/x\xff", b"/x\xff\x00", b"/x\xff\xff", b"/y"])
    assert keys(run(storage.range(b"/x\xff"))) == [b"/x\xff", b"/x\xff\x00", b"/x\xff\xff"]
    assert keys(run(storage.range(b"/x\xff\xff"))) == [b"/x\xff\xff"]


def test_range_limit_sets_more_and_count(storage, run):
    """With a limit, range returns the first keys, more=True and the full count."""
    _fill(storage, run, [b"/p/%d" % i for i in range(5)])
    result = run(storage.range(b"/p/", limit=2))
    assert keys(result) == [b"/p/0", b"/p/1"]
    assert (result.more, result.count) == (True, 5)
    exact = run(storage.range(b"/p/", limit=5))
    assert (len(exact.kvs), exact.more, exact.count) == (5, False, 5)


def test_range_start_key_counts_from_start_key(storage, run):
    """start_key skips earlier keys, and count covers [start_key, prefix end)."""
    _fill(storage, run, [b"/p/%d" % i for i in range(6)])
    result = run(storage.range(b"/p/", limit=2, start_key=b"/p/2"))
    assert keys(result) == [b"/p/2", b"/p/3"]
    assert (result.more, result.count) == (True, 4)
    assert keys(run(storage.range(b"/p/", start_key=b"/p/2\x00"))) == [b"/p/3", b"/p/4", b"/p/5"]
    # A start key before the prefix is the prefix; one past its end is empty.
    assert run(storage.range(b"/p/", start_key=b"/a")).count == 6
    past = run(storage.range(b"/p/", start_key=b"/q"))
    assert (past.kvs, past.more, past.count) == ([], False, 0)


def test_paging_reads_one_snapshot(storage, run):
    """Pages read at the first page's revision ignore later creates, updates and deletes."""
    revs = _fill(storage, run, [b"/p/%d" % i for i in range(5)])
    first = run(storage.range(b"/p/", limit=2))
    run(storage.update(b"/p/3", b"changed", revs[3]))
    run(storage.delete(b"/p/4"))
    run(storage.create(b"/p/9", b"new"))
    run(storage.delete(b"/p/0"))
    second = run(storage.range(b"/p/", revision=first.revision, limit=2,
                               start_key=first.kvs[-1].key + b"\x00"))
    assert keys(second) == [b"/p/2", b"/p/3"]
    assert second.kvs[1].value == b"v:/p/3"
    assert (second.revision, second.more, second.count) == (first.revision, True, 3)
    third = run(storage.range(b"/p/", revision=first.revision, limit=2, start_key=b"/p/4"))
    assert keys(third) == [b"/p/4"] and (third.more, third.count) == (False, 1)
    assert keys(run(storage.range(b"/p/"))) == [b"/p/1", b"/p/2", b"/p/3", b"/p/9"]


def test_paged_range_at_a_past_revision_counts_the_keys_then(storage, run):
    """A page at a past revision counts the keys the range held then, whatever was written since: keys
    created, deleted, deleted and created again, updated, and keys outside the range; and a range nothing
    under which changed since reads as it did."""
    revs = _fill(storage, run, [b"/p/%d" % i for i in range(6)])
    run(storage.create(b"/q/0", b"other"))
    at = run(storage.current_revision())
    run(storage.create(b"/p/7", b"new"))
    run(storage.delete(b"/p/1"))
    run(storage.delete(b"/p/2"))
    run(storage.create(b"/p/2", b"again"))
    run(storage.update(b"/p/3", b"changed", revs[3]))
    run(storage.create(b"/p/8", b"new"))
    run(storage.delete(b"/p/8"))
    run(storage.create(b"/q/1", b"other"))
    page = run(storage.range(b"/p/", revision=at, limit=2))
    assert keys(page) == [b"/p/0", b"/p/1"] and (page.revision, page.more, page.count) == (at, True, 6)
    page = run(storage.range(b"/p/", revision=at, limit=2, start_key=b"/p/2"))
    assert [kv.value for kv in page.kvs] == [b"v:/p/2", b"v:/p/3"] and (page.more, page.count) == (True, 4)
    unchanged = run(storage.range(b"/q/0", revision=at, limit=1))
    assert (keys(unchanged), unchanged.revision, unchanged.count) == ([b"/q/0"], at, 1)


def test_range_at_old_revision_sees_deleted_and_recreated_keys(storage, run):
    """An old revision shows a key as it was then: present before its delete, absent after, new after recreate."""
    r1 = run(storage.create(b"/k", b"1"))
    r2, _ = run(storage.delete(b"/k"))
    r3 = run(storage.create(b"/k", b"2"))
    assert run(storage.range(b"/k", revision=r1)).kvs == [KeyValue(b"/k", b"1", r1, r1)]
    assert run(storage.range(b"/k", revision=r2)).kvs == []
    assert run(storage.range(b"/k", revision=r3)).kvs == [KeyValue(b"/k", b"2", r3, r3)]
    assert run(storage.range(b"/k", revision=r1 - 1)).count == 0


def test_range_future_revision(storage, run):
    """range beyond the current revision fails with FutureRevision."""
    current = run(storage.current_revision())
    with pytest.raises(FutureRevision) as e:
        run(storage.range(b"/", revision=current + 1))
    assert (e.value.requested, e.value.current) == (current + 1, current)


# -- update / delete ------------------------------------------------------


def test_update_with_matching_revision(storage, run):
    """update with the current mod_revision writes and keeps create_revision."""
    created = run(storage.create(b"/k", b"1"))
    rev = run(storage.update(b"/k", b"2", created))
    assert rev == created + 1
    assert run(storage.get(b"/k")) == KeyValue(b"/k", b"2", created, rev)


def test_update_stale_revision_conflicts_with_current(storage, run):
    """update with a stale mod_revision fails with Conflict carrying the stored KeyValue."""
    created = run(storage.create(b"/k", b"1"))
    rev = run(storage.update(b"/k", b"2", created))
    with pytest.raises(Conflict) as e:
        run(storage.update(b"/k", b"3", created))
    assert e.value.key == b"/k"
    assert e.value.current == KeyValue(b"/k", b"2", created, rev)
    assert run(storage.get(b"/k")).value == b"2"


def test_update_missing_key_conflicts_with_none(storage, run):
    """update of a key that does not exist fails with Conflict whose current is None."""
    rev = run(storage.create(b"/k", b"1"))
    run(storage.delete(b"/k"))
    with pytest.raises(Conflict) as e:
        run(storage.update(b"/k", b"2", rev))
    assert e.value.current is None


def test_delete_returns_deleted_kv(storage, run):
    """delete without a precondition removes the key and returns its last KeyValue."""
    created = run(storage.create(b"/k", b"1"))
    rev, deleted = run(storage.delete(b"/k"))
    assert rev == created + 1
    assert deleted == KeyValue(b"/k", b"1", created, created)
    assert run(storage.get(b"/k")) is None
    assert run(storage.range(b"/k")).kvs == []


def test_delete_with_expected_revision(storage, run):
    """delete with a stale revision conflicts (key kept); with the right one it deletes."""
    created = run(storage.create(b"/k", b"1"))
    updated = run(storage.update(b"/k", b"2", created))
    with pytest.raises(Conflict) as e:
        run(storage.delete(b"/k", created))
    assert e.value.current == KeyValue(b"/k", b"2", created, updated)
    assert run(storage.get(b"/k")) is not None
    rev, deleted = run(storage.delete(b"/k", updated))
    assert rev == updated + 1 and deleted.mod_revision == updated


def test_delete_missing_key_not_found(storage, run):
    """delete of an absent key fails with KeyNotFound, with or without a precondition."""
    with pytest.raises(KeyNotFound) as e:
        run(storage.delete(b"/nope"))
    assert e.value.key == b"/nope"
    with pytest.raises(KeyNotFound):
        run(storage.delete(b"/nope", 1))


def test_recreate_after_delete_has_new_create_revision(storage, run):
    """A key created again after a delete starts a new life: create_revision is the new write."""
    run(storage.create(b"/k", b"1"))
    run(storage.delete(b"/k"))
    rev = run(storage.create(b"/k", b"2"))
    assert run(storage.get(b"/k")) == KeyValue(b"/k", b"2", rev, rev)


# -- watch ----------------------------------------------------------------


def test_watch_replays_history_with_prev_kv(storage, run, run_until):
    """A watch from a past revision receives PUT and DELETE events in order, each with prev_kv."""
    start = run(storage.current_revision())
    r1 = run(storage.create(b"/w/a", b"1"))
    r2 = run(storage.update(b"/w/a", b"2", r1))
    r3, _ = run(storage.delete(b"/w/a"))
    r4 = run(storage.create(b"/w/a", b"3"))
    got = []
    storage.watch(b"/w/", start, got.append)
    run_until(lambda: len(got) == 4)
    kv1 = KeyValue(b"/w/a", b"1", r1, r1)
    kv2 = KeyValue(b"/w/a", b"2", r1, r2)
    assert got == [
        Event(PUT, kv1, None),
        Event(PUT, kv2, kv1),
        Event(DELETE, KeyValue(b"/w/a", b"", 0, r3), kv2),
        Event(PUT, KeyValue(b"/w/a", b"3", r4, r4), None),
    ]
    assert [e.revision for e in got] == [r1, r2, r3, r4]


def test_watch_delivers_nothing_before_it_returns(storage, run, run_until):
    """Even with history to replay, the sink is not called inside watch(): its caller holds the handle first."""
    start = run(storage.current_revision())
    run(storage.create(b"/w/a", b"1"))
    got = []
    handle = storage.watch(b"/w/", start, got.append)
    assert got == []
    run_until(lambda: got)
    handle.cancel()


def test_watch_from_a_later_revision_skips_earlier_events(storage, run, run_until):
    """after_revision excludes events at or before it."""
    r1 = run(storage.create(b"/w/a", b"1"))
    r2 = run(storage.create(b"/w/b", b"1"))
    got = []
    storage.watch(b"/w/", r1, got.append)
    run_until(lambda: len(got) == 1)
    assert got[0].kv.key == b"/w/b" and got[0].revision == r2


def test_watch_filters_by_prefix(storage, run, run_until, settle):
    """A watch sees only keys under its prefix, historical and live."""
    start = run(storage.current_revision())
    run(storage.create(b"/w/a", b"1"))
    run(storage.create(b"/x/a", b"1"))
    got = []
    storage.watch(b"/w/", start, got.append)
    run(storage.create(b"/x/b", b"1"))
    run(storage.create(b"/wz", b"1"))
    run(storage.create(b"/w/b", b"1"))
    run_until(lambda: len(got) == 2)
    settle()
    assert [e.kv.key for e in got] == [b"/w/a", b"/w/b"]


def test_watch_delivers_live_events(storage, run, run_until):
    """A watch from the current revision receives later writes as they commit."""
    got = []
    storage.watch(b"/w/", run(storage.current_revision()), got.append)
    r1 = run(storage.create(b"/w/a", b"1"))
    run_until(lambda: len(got) == 1)
    run(storage.update(b"/w/a", b"2", r1))
    run_until(lambda: len(got) == 2)
    assert [e.type for e in got] == [PUT, PUT]
    assert got[1].prev_kv == got[0].kv


def test_watch_event_reaches_sink_before_write_fires(storage, run, run_until):
    """By the time a write's Deferred fires, a caught-up watcher (its replay done: on_progress) has its
    event."""
    got, progress = [], []
    storage.watch(b"/w/", run(storage.current_revision()), got.append, on_progress=progress.append)
    if storage.delivers_before_ack:
        run_until(lambda: progress)
    else:
        run(storage.current_revision())  # etcd: its watch is established by then
    seen_at_ack = []
    d = storage.create(b"/w/a", b"1")
    d.addCallback(lambda rev: seen_at_ack.append([e.revision for e in got]) or rev)
    rev = run(d)
    assert seen_at_ack == [[rev]]


def test_watch_future_revision_waits(storage, run, run_until, settle):
    """A watch after a revision not yet written starts delivering only past it."""
    current = run(storage.current_revision())
    got = []
    storage.watch(b"/w/", current + 2, got.append)
    run(storage.create(b"/w/a", b"1"))
    run(storage.create(b"/w/b", b"1"))
    r3 = run(storage.create(b"/w/c", b"1"))
    run_until(lambda: len(got) == 1)
    settle()
    assert [e.revision for e in got] == [r3]


def test_watch_replay_and_live_have_no_gap_or_duplicate(storage, run, run_until, settle):
    """Watches started while many writes are in flight each see every revision after theirs exactly once, in order."""
    start = run(storage.current_revision())
    for i in range(50):
        run(storage.create(b"/w/%03d" % i, b"0"))
    sinks = {}
    in_flight = []
    for round_ in range(5):
        # Writes queued without waiting, then a watcher from an earlier point,
        # then more writes: replay and live delivery overlap.
        in_flight += [storage.create(b"/w/n%d-%03d" % (round_, i), b"1") for i in range(40)]
        after = start + round_ * 7
        sinks[after] = []
        storage.watch(b"/w/", after, sinks[after].append)
        in_flight += [storage.delete(b"/w/%03d" % (round_ * 10 + i)) for i in range(10)]
    for d in in_flight:
        run(d)
    end = run(storage.current_revision())
    assert end == start + 50 + 5 * 50
    for after, got in sinks.items():
        run_until(lambda: len(got) >= end - after)
    settle()
    for after, got in sinks.items():
        assert [e.revision for e in got] == list(range(after + 1, end + 1))


def test_watch_cancel_stops_delivery(storage, run, run_until, settle):
    """After cancel(), the sink receives nothing more, replayed or live."""
    start = run(storage.current_revision())
    got = []
    handle = storage.watch(b"/w/", start, got.append)
    run(storage.create(b"/w/a", b"1"))
    run_until(lambda: len(got) == 1)
    handle.cancel()
    handle.cancel()
    run(storage.create(b"/w/b", b"1"))
    settle()
    assert len(got) == 1
    early = []
    storage.watch(b"/w/", start, early.append).cancel()
    settle()
    assert early == []


def test_watch_cancel_from_inside_sink(storage, run, run_until, settle):
    """A sink may cancel its own watch; it then receives nothing more."""
    start = run(storage.current_revision())
    for name in (b"/w/a", b"/w/b", b"/w/c"):
        run(storage.create(name, b"1"))
    got = []

    def sink(event):
        got.append(event)
        handle.cancel()

    handle = storage.watch(b"/w/", start, sink)
    run_until(lambda: len(got) == 1)
    run(storage.create(b"/w/d", b"1"))
    settle()
    assert len(got) == 1


def test_failing_sink_does_not_disturb_other_watchers(storage, run, run_until):
    """An exception raised by one sink does not stop delivery to another."""
    start = run(storage.current_revision())

    def broken(event):
        raise RuntimeError("sink bug")

    storage.watch(b"/w/", start, broken)
    got = []
    storage.watch(b"/w/", start, got.append)
    run(storage.create(b"/w/a", b"1"))
    run(storage.create(b"/w/b", b"1"))
    run_until(lambda: len(got) == 2)


# -- compaction -----------------------------------------------------------


def test_compaction_fails_old_reads_and_keeps_state(storage, run):
    """After compact(C), range below C raises RevisionCompacted; at C and later it reads correctly."""
    r1 = run(storage.create(b"/c/a", b"1"))
    r2 = run(storage.update(b"/c/a", b"2", r1))
    r3 = run(storage.create(b"/c/b", b"1"))
    r4, _ = run(storage.delete(b"/c/b"))
    r5 = run(storage.create(b"/c/c", b"1"))
    r6 = run(storage.update(b"/c/a", b"3", r2))
    run(storage.compact(r4))
    with pytest.raises(RevisionCompacted) as e:
        run(storage.range(b"/c/", revision=r3))
    assert (e.value.requested, e.value.compact_revision) == (r3, r4)
    assert run(storage.range(b"/c/", revision=r4)).kvs == [KeyValue(b"/c/a", b"2", r1, r2)]
    assert keys(run(storage.range(b"/c/", revision=r5))) == [b"/c/a", b"/c/c"]
    assert run(storage.range(b"/c/")).kvs == [KeyValue(b"/c/a", b"3", r1, r6),
                                               KeyValue(b"/c/c", b"1", r5, r5)]


def test_watch_below_compaction_gets_compacted_once(storage, run, run_until, settle):
    """A watch from below the compact revision receives one Compacted and nothing more."""
    start = run(storage.current_revision())
    r1 = run(storage.create(b"/c/a", b"1"))
    r2 = run(storage.update(b"/c/a", b"2", r1))
    run(storage.compact(r2))
    got = []
    storage.watch(b"/c/", start, got.append)
    run_until(lambda: got)
    run(storage.create(b"/c/b", b"1"))
    settle()
    assert got == [Compacted(r2)]


def test_watch_from_compact_revision_replays_the_rest(storage, run, run_until):
    """A watch from exactly the compact revision replays every later event, prev_kv included."""
    r1 = run(storage.create(b"/c/a", b"1"))
    r2 = run(storage.create(b"/c/b", b"1"))
    run(storage.update(b"/c/b", b"junk", r2))
    r3 = run(storage.delete(b"/c/b"))[0]
    r4 = run(storage.update(b"/c/a", b"2", r1))
    r5, _ = run(storage.delete(b"/c/a"))
    run(storage.compact(r3))
    got = []
    storage.watch(b"/c/", r3, got.append)
    run_until(lambda: len(got) == 2)
    kv1 = KeyValue(b"/c/a", b"1", r1, r1)
    kv4 = KeyValue(b"/c/a", b"2", r1, r4)
    assert got == [Event(PUT, kv4, kv1), Event(DELETE, KeyValue(b"/c/a", b"", 0, r5), kv4)]


def test_compact_future_repeated_or_older(storage, run):
    """compact beyond the current revision is FutureRevision; again at the last one is a no-op; below it, RevisionCompacted."""
    r1 = run(storage.create(b"/c/a", b"1"))
    r2 = run(storage.update(b"/c/a", b"2", r1))
    with pytest.raises(FutureRevision):
        run(storage.compact(r2 + 1))
    run(storage.compact(r2))
    run(storage.compact(r2))
    with pytest.raises(RevisionCompacted) as e:
        run(storage.compact(r1))
    assert e.value.compact_revision == r2
    assert run(storage.get(b"/c/a")).value == b"2"


# -- health, close, restart -----------------------------------------------


def test_health_and_close(storage, run):
    """check_health succeeds while open; after close every operation fails with Unavailable."""
    assert run(storage.check_health()) is None
    run(storage.close())
    run(storage.close())
    for d in (storage.check_health(), storage.get(b"/k"), storage.create(b"/k", b"v"),
              storage.range(b"/"), storage.current_revision()):
        with pytest.raises(Unavailable):
            run(d)


def test_restart_keeps_data_and_revisions(backend, run):
    """Closing and reopening the store keeps keys, history, compaction and the revision counter."""
    if not backend.persistent:
        pytest.skip("an in-memory store dies with its process")
    first = backend.open()
    r1 = run(first.create(b"/s/a", b"1"))
    r2 = run(first.update(b"/s/a", b"2", r1))
    r3 = run(first.create(b"/s/b", b"1"))
    r4, _ = run(first.delete(b"/s/b"))
    run(first.compact(r2))
    run(first.close())

    second = backend.open()
    assert run(second.current_revision()) == r4
    assert run(second.get(b"/s/a")) == KeyValue(b"/s/a", b"2", r1, r2)
    assert keys(run(second.range(b"/s/", revision=r3))) == [b"/s/a", b"/s/b"]
    with pytest.raises(RevisionCompacted):
        run(second.range(b"/s/", revision=r1))
    assert run(second.create(b"/s/c", b"1")) == r4 + 1


# -- watch progress -------------------------------------------------------


def test_watch_progress_revision_covers_what_was_delivered(storage, run, run_until):
    """A handle's progress_revision starts at after_revision, never decreases, and is at least every revision delivered."""
    start = run(storage.current_revision())
    got, seen = [], []

    def sink(event):
        got.append(event)
        seen.append(handle.progress_revision)

    handle = storage.watch(b"/w/", start, sink)
    assert handle.progress_revision >= start
    revs = [run(storage.create(b"/w/%d" % i, b"1")) for i in range(3)]
    run_until(lambda: len(got) == 3)
    assert handle.progress_revision >= revs[-1]
    assert seen == sorted(seen) and seen[0] >= start


def test_watch_progress_reaches_writes_outside_the_prefix(storage, run, run_until):
    """A write elsewhere advances a quiet watch's progress_revision: at once on a backend that delivers_before_ack, through on_progress otherwise."""
    start = run(storage.current_revision())
    got, progress = [], []
    handle = storage.watch(b"/quiet/", start, got.append,
                           on_progress=lambda announced: progress.append(
                               (announced, handle.progress_revision, got[-1].revision if got else start)))
    rev = run(storage.create(b"/quiet/a", b"1"))
    run_until(lambda: got)
    run(storage.create(b"/elsewhere", b"1"))
    current = run(storage.current_revision())
    assert current > rev
    if storage.delivers_before_ack:
        # Every revision current_revision() answers has reached every live watch.
        assert handle.progress_revision == current
    else:
        run_until(lambda: handle.progress_revision >= current, timeout=5)
        assert progress and progress[-1][0] >= current
    # on_progress never announces less than what was delivered by then, nor more than is vouched for.
    assert all(vouched >= announced >= delivered for announced, vouched, delivered in progress)
    assert [announced for announced, _, _ in progress] == sorted(announced for announced, _, _ in progress)
    assert [e.revision for e in got] == [rev]


def test_watch_progress_stays_at_the_replay_until_it_is_done(storage, run, run_until):
    """While a watch replays history its progress_revision does not run ahead of what it delivered."""
    start = run(storage.current_revision())
    for i in range(5):
        run(storage.create(b"/w/%d" % i, b"1"))
    got, seen = [], []

    def sink(event):
        got.append(event)
        seen.append((event.revision, handle.progress_revision))

    handle = storage.watch(b"/w/", start, sink)
    run_until(lambda: len(got) == 5)
    # At each event, what is vouched for never lies beyond the last event of the replay.
    assert all(vouched >= rev for rev, vouched in seen)
    assert all(vouched <= got[-1].revision for _, vouched in seen[:-1])


def test_watch_from_the_past_announces_progress_past_writes_elsewhere(storage, run, run_until):
    """A watch started at an old revision, with only writes to other keys since, reaches the current revision:
    its progress_revision gets there and on_progress says so (a watch cache filled before those writes waits on
    this, with no event of its own to come)."""
    start = run(storage.create(b"/mine/a", b"1"))
    for i in range(3):
        run(storage.create(b"/other/%d" % i, b"1"))
    current = run(storage.current_revision())
    got, progress = [], []
    handle = storage.watch(b"/mine/", start, got.append, on_progress=progress.append)
    run_until(lambda: progress and progress[-1] >= current, timeout=5)
    assert handle.progress_revision >= current
    assert got == []

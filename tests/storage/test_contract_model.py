"""
The storage contract against a model: random sequences of create, update and
delete on a few keys, then range at every revision and a watch replay compared
with a plain in-memory model.  Runs on every backend in conftest.BACKENDS.

One store serves all examples; each example works under a fresh prefix, so the
examples cannot see each other's keys (revisions are still global and are
compared relative to where the example started).
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kapiserver.storage import (
    DELETE, PUT, Conflict, Event, KeyExists, KeyNotFound, KeyValue, RevisionCompacted,
)

_examples = itertools.count()

# (verb, key index, value, how to choose the expected revision)
#   right: the key's current mod_revision; stale: one below it; none: no precondition (delete only)
operations = st.lists(
    st.tuples(
        st.sampled_from(["create", "update", "delete"]),
        st.integers(0, 3),
        st.binary(max_size=3),
        st.sampled_from(["right", "stale", "none"]),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, compact_at=st.floats(0, 1))
def test_matches_in_memory_model(storage, run, run_until, settle, ops, compact_at):
    """Every write's outcome, range at every revision (paged too) and a replayed watch agree with a dict model, before and after a compaction."""
    prefix = b"/model/%d/" % next(_examples)
    start = run(storage.current_revision())
    model: dict[bytes, KeyValue] = {}
    states = {start: {}}  # revision -> the model's keys at that revision
    events: list[Event] = []
    rev = start

    for verb, index, value, how in ops:
        key = prefix + b"k%d" % index
        current = model.get(key)
        expected = None
        if how != "none" or verb == "update":
            base = current.mod_revision if current else rev
            expected = base if how == "right" else base - 1
        if verb == "create":
            d = storage.create(key, value)
            if current is not None:
                _expect_error(run, d, KeyExists, key)
                continue
            rev = run(d)
            model[key] = KeyValue(key, value, rev, rev)
            events.append(Event(PUT, model[key], None))
        elif verb == "update":
            d = storage.update(key, value, expected)
            if current is None or current.mod_revision != expected:
                err = _expect_error(run, d, Conflict, key)
                assert err.current == current
                continue
            rev = run(d)
            model[key] = KeyValue(key, value, current.create_revision, rev)
            events.append(Event(PUT, model[key], current))
        else:
            d = storage.delete(key, expected)
            if current is None:
                _expect_error(run, d, KeyNotFound, key)
                continue
            if expected is not None and current.mod_revision != expected:
                err = _expect_error(run, d, Conflict, key)
                assert err.current == current
                continue
            rev, deleted = run(d)
            assert deleted == current
            del model[key]
            events.append(Event(DELETE, KeyValue(key, b"", 0, rev), current))
        assert rev == start + len(events), "each write takes exactly the next revision"
        states[rev] = dict(model)

    _check_reads(storage, run, run_until, settle, prefix, start, states, events)
    if rev > start:
        # Compact somewhere in this example's history (the store's earlier
        # history goes with it; later examples start after it anyway).
        point = start + 1 + int(compact_at * (rev - start - 1))
        run(storage.compact(point))
        for at in [r for r in states if r < point]:
            with pytest.raises(RevisionCompacted):
                run(storage.range(prefix, revision=at))
        kept = {r: state for r, state in states.items() if r >= point}
        _check_reads(storage, run, run_until, settle, prefix, point, kept,
                     [e for e in events if e.revision > point])


def _check_reads(storage, run, run_until, settle, prefix, start, states, events):
    for at, state in states.items():
        want = [state[k] for k in sorted(state)]
        whole = run(storage.range(prefix, revision=at))
        assert (whole.kvs, whole.count, whole.more, whole.revision) == (want, len(want), False, at)
        page = run(storage.range(prefix, revision=at, limit=2, start_key=prefix + b"k1"))
        rest = [kv for kv in want if kv.key >= prefix + b"k1"]
        assert (page.kvs, page.count, page.more) == (rest[:2], len(rest), len(rest) > 2)

    got: list = []
    handle = storage.watch(prefix, start, got.append)
    run_until(lambda: len(got) >= len(events))
    run(storage.current_revision())  # one more round trip: nothing extra may arrive
    settle(0.01)
    handle.cancel()
    assert got == events


def _expect_error(run, d, error_type, key):
    try:
        run(d)
    except error_type as e:
        assert e.key == key
        return e
    raise AssertionError(f"expected {error_type.__name__}")

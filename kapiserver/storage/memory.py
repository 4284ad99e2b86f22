"""
An in-memory backend: the Storage contract (see interface.py) in a few dicts,
for tests and for servers whose state may die with the process.

Every write applies at once on the calling (reactor) thread and takes the next
global revision; history is kept per key until compaction, so ranges at past
revisions and watches from a past revision work as on the other backends.

Events reach the live watchers before the write's Deferred fires, as on the
SQLite backend (``delivers_before_ack``).  A write made from inside a sink or
a callback while events are being handed out is applied at once but its events
queue behind the ones being delivered, so every watcher sees strictly
increasing revisions.  A new watch replays its history in later reactor turns
(a chunk per turn), never inside watch(), and then goes live.
"""

from __future__ import annotations

import bisect
from collections import deque
from typing import Any, Optional

from twisted.internet.defer import Deferred, fail, succeed

from .interface import (
    DELETE, PUT, Compacted, Conflict, Event, FutureRevision, KeyExists, KeyNotFound, KeyValue,
    RangeResult, RevisionCompacted, Snapshot, Unavailable, check_bytes,
)
from .localwatch import LocalWatcher, LocalWatchStore

__all__ = ["MemoryStorage"]


# As etcd and the SQLite backend: the empty store is at revision 1.
INITIAL_REVISION = 1


def _revision_of(event: Event) -> int:
    return event.revision


class _Watcher(LocalWatcher):
    """One watch: replaying the log until ``replaying`` drops, then live."""

    def _live_revision(self) -> int:
        return self._storage._delivered


class MemoryStorage(LocalWatchStore):
    """The Storage contract in memory.  ``reactor`` (or a task.Clock) runs the
    watch replays; ``replay_chunk`` is how many log events one replay step
    reads.  Also SupportsSnapshot."""

    _watcher_class = _Watcher

    delivers_before_ack = True

    def __init__(self, reactor: Any, *, replay_chunk: int = 1000):
        self._reactor = reactor
        self._replay_chunk = max(1, replay_chunk)
        self._revision = INITIAL_REVISION
        self._compact_revision = 0
        # key -> [(revision, KeyValue or None for a delete)], oldest first
        self._history: dict[bytes, list[tuple[int, Optional[KeyValue]]]] = {}
        self._keys: list[bytes] = []            # every key in _history, sorted
        self._current: dict[bytes, KeyValue] = {}
        self._log: list[Event] = []             # every event after the compaction point
        self._watchers: list[_Watcher] = []
        self._outbox: deque[tuple[list[Event], Deferred, Any]] = deque()
        self._delivering = False
        self._delivered = INITIAL_REVISION      # handed to every live watcher up to here
        self._closed = False

    # -- reads ------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise Unavailable("storage closed")

    def get(self, key: bytes) -> Deferred[Optional[KeyValue]]:
        check_bytes(key=key)
        if self._closed:
            return fail(Unavailable("storage closed"))
        return succeed(self._current.get(key))

    def range(self, prefix: bytes, revision: Optional[int] = None, limit: int = 0,
              start_key: Optional[bytes] = None) -> Deferred[RangeResult]:
        check_bytes(prefix=prefix)
        if start_key is not None:
            check_bytes(start_key=start_key)
        try:
            return succeed(self._range(prefix, revision, limit, start_key))
        except Exception as e:
            return fail(e)

    def _range(self, prefix: bytes, revision: Optional[int], limit: int,
               start_key: Optional[bytes]) -> RangeResult:
        self._check_open()
        if revision is None or revision <= 0:
            revision = self._revision
        elif revision > self._revision:
            raise FutureRevision(revision, self._revision)
        elif revision < self._compact_revision:
            raise RevisionCompacted(revision, self._compact_revision)
        lo = prefix if start_key is None or start_key < prefix else start_key
        kvs: list[KeyValue] = []
        count = 0
        for i in range(bisect.bisect_left(self._keys, lo), len(self._keys)):
            key = self._keys[i]
            if not key.startswith(prefix):
                break
            kv = self._at(key, revision)
            if kv is None:
                continue
            count += 1
            if not limit or len(kvs) < limit:
                kvs.append(kv)
        return RangeResult(kvs, revision, count > len(kvs), count)

    def _at(self, key: bytes, revision: int) -> Optional[KeyValue]:
        versions = self._history[key]
        i = bisect.bisect_right(versions, revision, key=lambda version: version[0])
        return versions[i - 1][1] if i else None

    def current_revision(self) -> Deferred[int]:
        if self._closed:
            return fail(Unavailable("storage closed"))
        return succeed(self._delivered)

    def known_revision(self) -> Optional[int]:
        """The current revision, known without a wait (None once closed)."""
        return None if self._closed else self._delivered

    def check_health(self) -> Deferred[None]:
        if self._closed:
            return fail(Unavailable("storage closed"))
        return succeed(None)

    # -- writes -----------------------------------------------------------

    def create(self, key: bytes, value: bytes) -> Deferred[int]:
        check_bytes(key=key, value=value)
        return self._write(self._create, key, value)

    def update(self, key: bytes, value: bytes, expected_mod_revision: int) -> Deferred[int]:
        check_bytes(key=key, value=value)
        return self._write(self._update, key, value, expected_mod_revision)

    def delete(self, key: bytes, expected_mod_revision: Optional[int] = None
               ) -> Deferred[tuple[int, KeyValue]]:
        check_bytes(key=key)
        return self._write(self._delete, key, expected_mod_revision)

    def _write(self, apply: Any, *args: Any) -> Deferred:
        if self._closed:
            return fail(Unavailable("storage closed"))
        try:
            result, events = apply(*args)
        except Exception as e:
            return fail(e)
        d: Deferred = Deferred()
        self._outbox.append((events, d, result))
        self._hand_out()
        return d

    def _create(self, key: bytes, value: bytes):
        if key in self._current:
            raise KeyExists(key)
        rev = self._revision + 1
        return rev, [self._put(key, KeyValue(key, value, rev, rev), None)]

    def _update(self, key: bytes, value: bytes, expected: int):
        prev = self._current.get(key)
        if prev is None or prev.mod_revision != expected:
            raise Conflict(key, prev)
        rev = self._revision + 1
        return rev, [self._put(key, KeyValue(key, value, prev.create_revision, rev), prev)]

    def _delete(self, key: bytes, expected: Optional[int]):
        prev = self._current.get(key)
        if prev is None:
            raise KeyNotFound(key)
        if expected is not None and prev.mod_revision != expected:
            raise Conflict(key, prev)
        rev = self._revision + 1
        event = Event(DELETE, KeyValue(key, b"", 0, rev), prev)
        del self._current[key]
        self._record(key, rev, None, event)
        return (rev, prev), [event]

    def _put(self, key: bytes, kv: KeyValue, prev: Optional[KeyValue]) -> Event:
        event = Event(PUT, kv, prev)
        self._current[key] = kv
        self._record(key, kv.mod_revision, kv, event)
        return event

    def _record(self, key: bytes, rev: int, kv: Optional[KeyValue], event: Event) -> None:
        versions = self._history.get(key)
        if versions is None:
            versions = self._history[key] = []
            bisect.insort(self._keys, key)
        versions.append((rev, kv))
        self._log.append(event)
        self._revision = rev

    def _hand_out(self) -> None:
        """Deliver queued events to the live watchers, then fire their writes'
        Deferreds, in revision order; re-entrant calls only queue."""
        if self._delivering:
            return
        self._delivering = True
        try:
            while self._outbox:
                events, d, result = self._outbox.popleft()
                for event in events:
                    for w in self.watchers_of(event.kv.key):
                        if not w.replaying:
                            w.deliver(event)
                    self._delivered = event.revision
                d.callback(result)
        finally:
            self._delivering = False

    # -- watch ------------------------------------------------------------

    def _start_replay(self, w: _Watcher) -> None:
        self._reactor.callLater(0, self._replay, w)

    def _replay(self, w: _Watcher) -> None:
        # Up to what has been handed out (newer events reach w once it is live),
        # looking again after each event: a sink may write, or compact.
        for _ in range(self._replay_chunk):
            if w.cancelled:
                return
            if w.last < self._compact_revision:
                w.compacted(Compacted(self._compact_revision))
                return
            i = bisect.bisect_right(self._log, w.last, key=_revision_of)
            if i >= len(self._log) or self._log[i].revision > self._delivered:
                w.replayed()
                return
            event = self._log[i]
            if event.kv.key.startswith(w.prefix):
                w.deliver(event)
            else:
                w.last = event.revision
        self._reactor.callLater(0, self._replay, w)

    # -- maintenance ------------------------------------------------------

    def compact(self, revision: int) -> Deferred[None]:
        """Forget history superseded at or before ``revision``: reads below it
        then fail with RevisionCompacted, watches from below it get Compacted.
        Again at the compaction point is a no-op; below it RevisionCompacted;
        beyond the current revision FutureRevision (as the SQLite backend)."""
        if self._closed:
            return fail(Unavailable("storage closed"))
        if revision > self._revision:
            return fail(FutureRevision(revision, self._revision))
        if revision < self._compact_revision:
            return fail(RevisionCompacted(revision, self._compact_revision))
        self._compact_revision = revision
        for key in list(self._history):
            versions = self._history[key]
            i = bisect.bisect_right(versions, revision, key=lambda version: version[0])
            # The version live at the compact revision stays (unless a delete).
            keep = versions[i - 1:] if i and versions[i - 1][1] is not None else versions[i:]
            if keep:
                self._history[key] = keep
            else:
                del self._history[key]
        self._keys = sorted(self._history)
        self._log = self._log[bisect.bisect_right(self._log, revision, key=_revision_of):]
        return succeed(None)

    def close(self) -> Deferred[None]:
        """Drop every watcher; later calls fail with Unavailable.  Idempotent."""
        if not self._closed:
            self._closed = True
            for w in list(self._watchers):
                w.cancel()
        return succeed(None)

    # -- snapshot / restore (SupportsSnapshot) ----------------------------

    def snapshot(self) -> Deferred[Snapshot]:
        """The live keys at the current revision, as an immutable value."""
        try:
            result = self._range(b"", None, 0, None)
        except Exception as e:
            return fail(e)
        return succeed(Snapshot(result.revision, tuple(result.kvs)))

    def restore(self, snapshot: Snapshot) -> Deferred[int]:
        """See SupportsSnapshot.restore: the differences, written at once."""
        return self._write(self._restore, snapshot)

    def _restore(self, snapshot: Snapshot):
        wanted = {kv.key: kv.value for kv in snapshot.kvs}
        events: list[Event] = []
        for key in sorted(wanted.keys() | self._current.keys()):
            now = self._current.get(key)
            if key not in wanted:
                events += self._delete(key, None)[1]
            elif now is None:
                events += self._create(key, wanted[key])[1]
            elif now.value != wanted[key]:
                events += self._update(key, wanted[key], now.mod_revision)[1]
        return self._revision, events

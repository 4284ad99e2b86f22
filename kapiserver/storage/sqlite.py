"""
The embedded default backend: one SQLite file, nothing else to run.

The reactor side lives here; the SQL lives in ``_sqlite_db``.  All SQLite work
runs in a process of this object's own (``_sqlite_process``), one call at a
time, so the reactor never waits for a disk, nor for the interpreter's lock
while the database works, and SQLite sees a single connection.  Writes queue on
the reactor and go to that process in batches: while one batch commits, the
next accumulates, and each batch is one transaction and one fsync (group
commit).

Watches are served from the revision log: a new watcher first replays the log
after its revision (in chunks), while live events committed meanwhile are
buffered for it; when the replay reaches the end of the log the buffer is
flushed, skipping what the replay already delivered.  Because a write's events
are dispatched on the reactor only after its commit, and a watcher's replay is
read by the database process only after the watcher was registered, every event
is either in the replay or in the buffer (or both, and then sent once).

This store is the file's only writer (the database is opened EXCLUSIVE) and
a write's events reach every live watcher before the write is acknowledged or
``current_revision()`` answers its revision: ``delivers_before_ack``.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from ._sqlite_db import WAL_SIZE_LIMIT, claim_lock, claimed_lock
from ._sqlite_process import DatabaseProcess
from .interface import (
    Compacted, Event, InUse, KeyValue, ProgressSink, RangeResult, Snapshot, Unavailable, WatchSink, check_bytes,
)
from .localwatch import LocalWatcher, LocalWatchStore

__all__ = ["SQLiteStorage", "open_sqlite", "DB_FILENAME", "WAL_SIZE_LIMIT"]

DB_FILENAME = "kapiserver.db"

log = Logger()

# Bound one transaction (and so the latency of the writes behind it).
_MAX_BATCH = 1000
_COMPACT_STEP = 20000
# Pages (4 KiB each) one step of reclaiming compaction's free space gives back: small, since writes wait behind it.
_RECLAIM_STEP = 500


class _Outcome:
    """A result known once, handed to any number of waiters."""

    def __init__(self) -> None:
        self._result: Any = None
        self._known = False
        self._waiters: list[Deferred] = []

    def fire(self, result: Any) -> None:
        self._result, self._known = result, True
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            self._give(d)

    def wait(self) -> Deferred:
        d: Deferred = Deferred()
        if self._known:
            self._give(d)
        else:
            self._waiters.append(d)
        return d

    def _give(self, d: Deferred) -> None:
        if isinstance(self._result, Failure):
            d.errback(self._result)
        else:
            d.callback(self._result)


class _Watcher(LocalWatcher):
    """One watch: replaying history until ``replaying`` drops, then live; events written meanwhile wait in
    ``pending``."""

    def __init__(self, storage: "SQLiteStorage", prefix: bytes, after_revision: int, sink: WatchSink,
                 on_progress: Optional[ProgressSink] = None):
        super().__init__(storage, prefix, after_revision, sink, on_progress)
        self.pending: list[Event] = []

    def _live_revision(self) -> int:
        # Every write the store acknowledged has been handed to its live watchers (see _dispatch).
        return self._storage._revision or 0

    def _cancelled(self) -> None:
        self.pending = []


class SQLiteStorage(LocalWatchStore):
    """The Storage contract (see interface.py) on one SQLite file.

    ``SQLiteStorage(path, reactor)`` starts the database process and opens the
    file; operations may be issued at once (they queue behind the open).
    ``opened()`` tells whether the open worked; ``open_sqlite`` does both.
    ``synchronous`` is SQLite's PRAGMA; keep FULL outside benchmarks.
    ``replay_chunk`` is how many log rows one watch-replay step reads."""

    _watcher_class = _Watcher

    delivers_before_ack = True

    def __init__(self, path: str, reactor: Any, *, synchronous: str = "FULL",
                 replay_chunk: int = 1000):
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"bad synchronous mode {synchronous!r}")
        self.path = path
        self._reactor = reactor
        self._replay_chunk = max(1, replay_chunk)
        # The data dir's lock, if claim_data_dir took it, goes to the process, which holds it from now on.
        lock_fd = claimed_lock(path)
        try:
            self._database = DatabaseProcess(reactor, path, synchronous.upper(), lock_fd)
        finally:
            if lock_fd is not None:
                os.close(lock_fd)
        self._closed = False
        self._close = _Outcome()
        self._queue: list[tuple[tuple, Deferred]] = []
        self._writing = False
        self._watchers: list[_Watcher] = []
        self._open = _Outcome()
        # The newest revision whose write has been handed to the live watchers (and
        # so may be acknowledged), kept on the reactor thread, so current_revision()
        # needs no trip to the database process: it is what consistent reads from the
        # watch cache ask before every GET and LIST.
        self._revision: Optional[int] = None
        self._run("open").addBoth(self._opened)

    # -- lifecycle --------------------------------------------------------

    def _opened(self, result: Any) -> None:
        if isinstance(result, Failure):
            if not result.check(InUse):    # that one is the caller's to tell, in one line
                log.failure("cannot open {path}", failure=result, path=self.path)
        else:
            self._note_revision(result)
        self._open.fire(self if not isinstance(result, Failure) else result)

    def opened(self) -> Deferred["SQLiteStorage"]:
        """Fires with this storage once the file is open; Unavailable if it
        could not be opened."""
        return self._open.wait()

    def close(self) -> Deferred[None]:
        """Fail queued writes with Unavailable, let the batch in flight finish,
        drop all watchers, close the file and end the process.  Idempotent."""
        if not self._closed:
            self._closed = True
            queued, self._queue = self._queue, []
            for _, d in queued:
                d.errback(Unavailable("storage closed"))
            for w in list(self._watchers):
                w.cancel()

            def stop(result: Any) -> None:
                # The process ends once it has closed the file (its last call).
                self._database.stop().addBoth(
                    lambda _: self._close.fire(None if not isinstance(result, Failure) else result))

            self._database.call("close").addBoth(stop)
        return self._close.wait()

    def _run(self, method: str, *args: Any) -> Deferred:
        if self._closed:
            return fail(Unavailable("storage closed"))
        return self._database.call(method, *args)

    # -- reads ------------------------------------------------------------

    def get(self, key: bytes) -> Deferred[Optional[KeyValue]]:
        check_bytes(key=key)
        return self._run("get", key)

    def range(self, prefix: bytes, revision: Optional[int] = None, limit: int = 0,
              start_key: Optional[bytes] = None) -> Deferred[RangeResult]:
        check_bytes(prefix=prefix)
        if start_key is not None:
            check_bytes(start_key=start_key)
        return self._run("range", prefix, revision, limit, start_key)

    def current_revision(self) -> Deferred[int]:
        if self._revision is not None and not self._closed:
            return succeed(self._revision)
        return self._run("current_revision").addCallback(self._note_revision)

    def known_revision(self) -> Optional[int]:
        """The current revision when it is known without asking the database (every write this process
        acknowledged, once one read has told it where the log was), else None."""
        return None if self._closed else self._revision

    def _note_revision(self, revision: int) -> int:
        if self._revision is None or revision > self._revision:
            self._revision = revision
        return revision

    def check_health(self) -> Deferred[None]:
        return self._run("health")

    # -- writes -----------------------------------------------------------

    def create(self, key: bytes, value: bytes) -> Deferred[int]:
        check_bytes(key=key, value=value)
        return self._write(("create", key, value))

    def update(self, key: bytes, value: bytes, expected_mod_revision: int) -> Deferred[int]:
        check_bytes(key=key, value=value)
        return self._write(("update", key, value, expected_mod_revision))

    def delete(self, key: bytes, expected_mod_revision: Optional[int] = None
               ) -> Deferred[tuple[int, KeyValue]]:
        check_bytes(key=key)
        return self._write(("delete", key, expected_mod_revision))

    def _write(self, op: tuple) -> Deferred:
        if self._closed:
            return fail(Unavailable("storage closed"))
        d: Deferred = Deferred()
        self._queue.append((op, d))
        self._flush()
        return d

    def _flush(self) -> None:
        if self._writing or not self._queue or self._closed:
            return
        batch, self._queue = self._queue[:_MAX_BATCH], self._queue[_MAX_BATCH:]
        self._writing = True
        self._run("apply_batch", [op for op, _ in batch]).addBoth(self._committed, batch)

    def _committed(self, result: Any, batch: list[tuple[tuple, Deferred]]) -> None:
        self._writing = False
        # Hand the next batch to the process before running callbacks, so the
        # disk works while the reactor does.
        self._flush()
        if isinstance(result, Failure):
            for _, d in batch:
                d.errback(result)
            return
        outcomes, events = result
        # Watchers hear of a write before its writer does.
        self._dispatch(events)
        for (ok, value), (_, d) in zip(outcomes, batch):
            if ok:
                d.callback(value)
            else:
                d.errback(Failure(value))

    # -- watch ------------------------------------------------------------

    def _start_replay(self, w: _Watcher) -> None:
        self._replay(w)

    def _replay(self, w: _Watcher) -> None:
        if w.cancelled:
            return
        d = self._run("replay", w.prefix, w.last, self._replay_chunk)
        d.addCallbacks(self._replayed, self._replay_failed, (w,), errbackArgs=(w,))

    def _replayed(self, result: "list[Event] | Compacted", w: _Watcher) -> None:
        if w.cancelled:
            return
        if isinstance(result, Compacted):
            w.compacted(result)
            return
        for event in result:
            w.deliver(event)
        if len(result) >= self._replay_chunk:
            self._replay(w)
            return
        # Caught up with the log as of that read: what was committed after it
        # is in the buffer.
        w.replaying = False
        pending, w.pending = w.pending, []
        for event in pending:
            w.deliver(event)
        w.replayed()

    def _replay_failed(self, failure: Failure, w: _Watcher) -> None:
        # The contract has no error event for a watch; the watcher ends and
        # its owner sees no more events (closing the store lands here too).
        if not self._closed:
            log.failure("watch replay failed for {prefix!r}", failure=failure, prefix=w.prefix)
        w.cancel()

    def _dispatch(self, events: list[Event]) -> None:
        for event in events:
            key = event.kv.key
            for w in self.watchers_of(key):
                if w.replaying:
                    w.pending.append(event)
                else:
                    w.deliver(event)
            # Only now may current_revision() (and a live watcher's
            # progress_revision) answer this revision.
            self._note_revision(event.revision)

    # -- maintenance ------------------------------------------------------

    def compact(self, revision: int) -> Deferred[None]:
        """Forget history superseded at or before ``revision``; reads below it
        then fail with RevisionCompacted, watches from below it get Compacted.
        RevisionCompacted if already compacted past it (compacting again at
        the same revision is a no-op, unlike etcd), FutureRevision if it is
        beyond the current revision."""
        return Deferred.fromCoroutine(self._compact(revision))

    async def _compact(self, revision: int) -> None:
        # In steps, each its own transaction, so a large compaction does not
        # hold queued writes back for its whole length.
        while await self._run("compact", revision, _COMPACT_STEP) < revision:
            pass
        # The superseded rows' pages back to the file system, as many steps as needed, writes in between.
        while await self._run("reclaim", _RECLAIM_STEP) > 0:
            pass

    # -- snapshot / restore (SupportsSnapshot) -----------------------------

    def snapshot(self) -> Deferred[Snapshot]:
        """The live keys at the current revision, as an immutable value."""
        return self._run("snapshot")

    def restore(self, snapshot: Snapshot) -> Deferred[int]:
        """See SupportsSnapshot.restore: the differences are written as one
        transaction in the write queue, and watchers get their events as
        for any other write."""
        return self._write(("restore", snapshot))


def claim_data_dir(data_dir: str) -> None:
    """Create ``data_dir`` if needed and take its store's lock now, without waiting, for open_sqlite to adopt
    later: InUse when another process holds it, Unavailable when the directory or lock file cannot be made.
    Blocking file-system calls: call it before the reactor runs."""
    try:
        os.makedirs(data_dir, exist_ok=True)
    except OSError as e:
        raise Unavailable(f"cannot create {data_dir}: {e}") from e
    claim_lock(os.path.join(data_dir, DB_FILENAME))


def open_sqlite(data_dir: str, reactor: Any, **kw: Any) -> Deferred[SQLiteStorage]:
    """Create ``data_dir`` if needed and open ``data_dir/kapiserver.db``.
    Keyword arguments go to SQLiteStorage."""
    try:
        os.makedirs(data_dir, exist_ok=True)
    except OSError as e:
        return fail(Unavailable(f"cannot create {data_dir}: {e}"))
    try:
        storage = SQLiteStorage(os.path.join(data_dir, DB_FILENAME), reactor, **kw)
    except Unavailable:
        return fail()

    def failed(failure: Failure) -> Deferred:
        # Nobody gets this storage, so nobody else would end its process.
        return storage.close().addBoth(lambda _: failure)

    return storage.opened().addErrback(failed)

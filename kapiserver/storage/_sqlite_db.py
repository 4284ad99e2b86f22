"""
The database half of SQLiteStorage: every method here runs in the storage's
database process (``_sqlite_serve``), one call at a time, and blocks freely;
nothing here touches the reactor.

Layout (one file, WAL journal):

- ``log``: one row per write, ``revision`` is the rowid.  A delete writes a
  tombstone row (``deleted = 1``, empty value, create_revision 0).
  ``prev_revision`` names the row the write superseded (NULL when the key did
  not exist), which is how a watch replay finds ``prev_kv`` without a search.
- ``current``: key -> mod_revision of its live row, kept in the same
  transaction as the log, so current reads are an index walk plus rowid
  lookups and never scan history.
- ``meta``: the revision counter and the compact revision.  The counter is
  stored rather than derived from MAX(log.revision) because compaction may
  remove the newest rows (tombstones).

Compaction at C removes every row at or below C that a later row at or below C
supersedes, and every tombstone at or below C.  What survives at or below C is
exactly the live state at C, so reads at C still work and every row above C
still finds its ``prev_revision`` row (or had none to find: a key created
again after a delete has no prev_revision, so no surviving row needs a
removed tombstone).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from typing import Optional

from .interface import (
    DELETE, PUT, Compacted, Conflict, Event, FutureRevision, InUse, KeyExists, KeyNotFound,
    KeyValue, RangeResult, RevisionCompacted, Snapshot, Unavailable,
)

# The share of the database file compaction leaves free (for the writes to come) rather than give back.
RECLAIM_KEEP = 0.2

# The WAL file's size after a checkpoint (SQLite checkpoints every 1000 pages, about 4 MiB).
WAL_SIZE_LIMIT = 8 << 20

# etcd's empty store is at revision 1 and its first write takes 2; doing the
# same keeps resourceVersions alike across both backends.
INITIAL_REVISION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    revision INTEGER PRIMARY KEY,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    create_revision INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    prev_revision INTEGER
);
CREATE INDEX IF NOT EXISTS log_key_revision ON log (key, revision, deleted);
CREATE TABLE IF NOT EXISTS current (
    key BLOB PRIMARY KEY,
    mod_revision INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"""


def prefix_end(prefix: bytes) -> Optional[bytes]:
    """The smallest key greater than every key starting with ``prefix``;
    None when there is none (empty prefix, or all 0xff bytes)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


# A range at a past revision reads the current state instead when nothing in it changed since; that is
# looked up when at most this many revisions came after it (each a row of the log to look at).
UNCHANGED_SCAN_LIMIT = 20000


def _key_bounds(column: str, lo: bytes, hi: Optional[bytes]) -> tuple[str, list]:
    if hi is None:
        return f"{column} >= ?", [lo]
    return f"{column} >= ? AND {column} < ?", [lo, hi]


# Locks claimed before the store opens (claim_lock), by the lock file's path: the Database on that path adopts
# its lock rather than taking it a second time.
_claimed: dict[str, int] = {}


def lock_file(lock_path: str) -> int:
    """An open descriptor holding an exclusive flock on ``lock_path`` (created if needed), released when the
    descriptor closes or the process ends, even on kill -9; InUse, naming the holder's pid, when another
    process has it; Unavailable when the file cannot be opened.  Never waits."""
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise Unavailable(f"sqlite: cannot open {lock_path}: {e.strerror}") from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        data_dir = os.path.dirname(lock_path) or "."
        raise InUse(f"the data dir {data_dir} is in use by another kapiserver"
                    + (f" (pid {holder})" if holder.isdigit() else "")) from None
    return fd


def claimed_lock(db_path: str) -> Optional[int]:
    """The descriptor of ``db_path``'s lock if claim_lock took it (no longer this module's to close), else None."""
    return _claimed.pop(db_path + ".lock", None)


def adopt_lock(db_path: str, fd: int) -> None:
    """Hold ``fd`` as ``db_path``'s lock, for the Database that opens it to adopt: a descriptor claimed_lock
    handed to this process (the store's database process) from the one that claimed it."""
    _claimed[db_path + ".lock"] = fd


def claim_lock(db_path: str) -> None:
    """Take ``db_path``'s lock now, before the store opens (which adopts it): `twistd kube-apiserver` does
    this before the reactor runs, and before it daemonizes (the child inherits the lock), so a data dir in
    use ends the command at once with a non-zero status.  InUse or Unavailable as lock_file."""
    lock_path = db_path + ".lock"
    if lock_path not in _claimed:
        _claimed[lock_path] = lock_file(lock_path)


class Database:
    """One connection, used only from the thread that called open()."""

    def __init__(self, path: str, synchronous: str = "FULL", owner_pid: Optional[int] = None):
        self.path = path
        self.synchronous = synchronous
        # The process the lock file names: this one, or the one this one serves the database for.
        self.owner_pid = owner_pid or os.getpid()
        self.conn: Optional[sqlite3.Connection] = None
        self.revision = INITIAL_REVISION
        self.compact_revision = 0
        # (start key, range end, revision) -> how many keys a paged range's next page counts from its start:
        # a page counts the keys to the range's end, a walk over all of them, which the next page need not
        # repeat (the keys at a revision never change).
        self._counts: dict[tuple, int] = {}
        self._lock: Optional[int] = None

    # -- lifecycle --------------------------------------------------------

    def _take_lock(self) -> None:
        """Hold ``<path>.lock`` (see lock_file), or adopt it from claim_lock; either way the lock file names
        this process's pid (a daemon's differs from the one that claimed it)."""
        lock_path = self.path + ".lock"
        fd = _claimed.pop(lock_path, None)
        if fd is None:
            fd = lock_file(lock_path)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{self.owner_pid}\n".encode(), 0)
        self._lock = fd

    def _release_lock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)    # closing the descriptor releases the flock
            self._lock = None

    def open(self) -> int:
        """Open (creating) the file; the current revision.  InUse when another process holds it."""
        self._take_lock()
        try:
            return self._open()
        except BaseException:
            self._release_lock()
            raise

    def _open(self) -> int:
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves.  Only
            # another process can make us wait for a lock (see EXCLUSIVE
            # below), so do not wait long.  check_same_thread stays on: any
            # use from another thread fails loudly.
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=1.0)
        except sqlite3.Error as e:
            raise Unavailable(f"sqlite: cannot open {self.path}: {e}") from e
        try:
            # EXCLUSIVE: a second kapiserver on the same file would fork the
            # revision counter; it fails to open instead.
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            if not conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                # A new file: compaction's freed pages can then go back to the file system in small steps
                # (reclaim()).  An older file keeps what it has: converting it takes a full VACUUM.
                conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise sqlite3.OperationalError(f"journal_mode is {mode}, WAL unavailable")
            # FULL syncs the WAL at every commit, so an acknowledged write
            # survives power loss too (NORMAL would survive kill -9 but not an
            # OS crash).  Group commit pays that fsync once per batch.
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            # After each checkpoint the WAL file is cut back to this size (it would otherwise stay at its
            # largest, however much it needed once).
            conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('revision', ?)", (INITIAL_REVISION,))
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('compact_revision', 0)")
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            conn.close()
            if "locked" in str(e):     # held by a process that takes no lock file
                raise InUse(f"the data dir {os.path.dirname(self.path) or '.'} is in use by another "
                            f"process (sqlite: {e})") from None
            raise Unavailable(f"sqlite: cannot open {self.path}: {e}") from e
        self.conn = conn
        self._load_meta()
        return self.revision

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self._release_lock()

    def _load_meta(self) -> None:
        meta = dict(self.conn.execute("SELECT name, value FROM meta"))
        self.revision = meta["revision"]
        self.compact_revision = meta["compact_revision"]

    def _db(self) -> sqlite3.Connection:
        if self.conn is None:
            raise Unavailable("sqlite: database is not open")
        return self.conn

    def health(self) -> None:
        try:
            self._db().execute("SELECT 1 FROM meta LIMIT 1").fetchall()
        except sqlite3.Error as e:
            raise Unavailable(f"sqlite: {e}") from e

    def current_revision(self) -> int:
        self._db()
        return self.revision

    # -- writes -----------------------------------------------------------

    def apply_batch(self, ops: list[tuple]) -> tuple[list[tuple[bool, object]], list[Event]]:
        """Apply ``ops`` in order in one transaction (group commit).

        Returns one (ok, result-or-StorageError) per op and the events of the
        successful ones, in revision order (a restore is one op of many events).  A failed precondition fails only
        its own op (it wrote nothing); an SQLite error fails the whole batch
        with Unavailable and writes nothing."""
        conn = self._db()
        outcomes: list[tuple[bool, object]] = []
        events: list[Event] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in ops:
                try:
                    result, written = _OPS[op[0]](self, conn, *op[1:])
                except (KeyExists, KeyNotFound, Conflict) as e:
                    outcomes.append((False, e))
                else:
                    outcomes.append((True, result))
                    events.extend(written)
            if events:
                conn.execute("UPDATE meta SET value = ? WHERE name = 'revision'", (self.revision,))
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            self._rollback()
            raise Unavailable(f"sqlite: write failed: {e}") from e
        except BaseException:
            self._rollback()
            raise
        return outcomes, events

    def _rollback(self) -> None:
        try:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self._load_meta()
        except sqlite3.Error:
            pass

    def _current(self, conn: sqlite3.Connection, key: bytes) -> Optional[KeyValue]:
        row = conn.execute(
            "SELECT l.value, l.create_revision, l.revision FROM current c"
            " CROSS JOIN log l ON l.revision = c.mod_revision WHERE c.key = ?",
            (key,),
        ).fetchone()
        return None if row is None else KeyValue(key, row[0], row[1], row[2])

    def _create(self, conn, key: bytes, value: bytes):
        rev = self.revision + 1
        # current's primary key refuses a live key: that one statement fails (the transaction goes on) and
        # nothing was written, so no lookup first.
        try:
            conn.execute("INSERT INTO current VALUES (?, ?)", (key, rev))
        except sqlite3.IntegrityError:
            raise KeyExists(key) from None
        conn.execute("INSERT INTO log VALUES (?, ?, ?, ?, 0, NULL)", (rev, key, value, rev))
        self.revision = rev
        return rev, [Event(PUT, KeyValue(key, value, rev, rev), None)]

    def _update(self, conn, key: bytes, value: bytes, expected: int):
        prev = self._current(conn, key)
        if prev is None or prev.mod_revision != expected:
            raise Conflict(key, prev)
        rev = self.revision + 1
        conn.execute("INSERT INTO log VALUES (?, ?, ?, ?, 0, ?)",
                     (rev, key, value, prev.create_revision, prev.mod_revision))
        conn.execute("UPDATE current SET mod_revision = ? WHERE key = ?", (rev, key))
        self.revision = rev
        return rev, [Event(PUT, KeyValue(key, value, prev.create_revision, rev), prev)]

    def _delete(self, conn, key: bytes, expected: Optional[int]):
        prev = self._current(conn, key)
        if prev is None:
            raise KeyNotFound(key)
        if expected is not None and prev.mod_revision != expected:
            raise Conflict(key, prev)
        rev = self.revision + 1
        conn.execute("INSERT INTO log VALUES (?, ?, x'', 0, 1, ?)", (rev, key, prev.mod_revision))
        conn.execute("DELETE FROM current WHERE key = ?", (key,))
        self.revision = rev
        return (rev, prev), [Event(DELETE, KeyValue(key, b"", 0, rev), prev)]

    # -- reads ------------------------------------------------------------

    def get(self, key: bytes) -> Optional[KeyValue]:
        try:
            return self._current(self._db(), key)
        except sqlite3.Error as e:
            raise Unavailable(f"sqlite: {e}") from e

    def range(self, prefix: bytes, revision: Optional[int], limit: int,
              start_key: Optional[bytes]) -> RangeResult:
        conn = self._db()
        current = self.revision
        if revision is None or revision <= 0:
            revision = current
        elif revision > current:
            raise FutureRevision(revision, current)
        elif revision < self.compact_revision:
            raise RevisionCompacted(revision, self.compact_revision)
        lo = prefix if start_key is None or start_key < prefix else start_key
        hi = prefix_end(prefix)
        if hi is not None and lo >= hi:
            return RangeResult([], revision, False, 0)
        limit_sql = " LIMIT ?" if limit > 0 else ""
        try:
            # Nothing in the range changed after the revision: it reads as it does now (the watch cache's fill
            # and a paged list read page after page at one revision; the query and the count at a past revision
            # cost a look at each key's later rows, for every key to the range's end).
            as_now = revision == current or (current - revision <= UNCHANGED_SCAN_LIMIT and
                                             not self._changed_after(conn, revision, lo, hi))
            if as_now:
                where, args = _key_bounds("c.key", lo, hi)
                source = (" FROM current c CROSS JOIN log l ON l.revision = c.mod_revision"
                          f" WHERE {where}")
                rows = conn.execute(
                    "SELECT c.key, l.value, l.create_revision, l.revision" + source
                    + " ORDER BY c.key" + limit_sql,
                    args + ([limit] if limit > 0 else []),
                ).fetchall()
                count_sql = f"SELECT COUNT(*) FROM current c WHERE {where}"
            else:
                where, args = _key_bounds("a.key", lo, hi)
                # A key's row at the revision is its newest row at or below
                # it; the key is absent if that row is a tombstone.  The index
                # on (key, revision, deleted) answers every filter here, so
                # the table is read only for the rows returned.
                source = (
                    f" FROM log a WHERE {where} AND a.revision <= ? AND a.deleted = 0"
                    " AND NOT EXISTS (SELECT 1 FROM log b WHERE b.key = a.key"
                    " AND b.revision > a.revision AND b.revision <= ?)")
                args = args + [revision, revision]
                rows = conn.execute(
                    "SELECT a.key, a.value, a.create_revision, a.revision" + source
                    + " ORDER BY a.key" + limit_sql,
                    args + ([limit] if limit > 0 else []),
                ).fetchall()
                count_sql = "SELECT COUNT(*)" + source
            kvs = [KeyValue(*row) for row in rows]
            # A page that goes on from where the last one at this revision ended: what that one counted after it.
            count = self._counts.pop((lo, hi, revision), None)
            if not (limit > 0 and len(kvs) == limit):
                count = len(kvs)
            elif count is None:
                if as_now or current - revision > UNCHANGED_SCAN_LIMIT:
                    count = conn.execute(count_sql, args).fetchone()[0]
                else:
                    count = self._count_at(conn, revision, lo, hi)
            if count > len(kvs):
                if len(self._counts) >= 64:
                    self._counts.clear()
                self._counts[(kvs[-1].key + b"\x00", hi, revision)] = count - len(kvs)
        except sqlite3.Error as e:
            raise Unavailable(f"sqlite: {e}") from e
        return RangeResult(kvs, revision, count > len(kvs), count)

    @staticmethod
    def _changed_after(conn, revision: int, lo: bytes, hi: Optional[bytes]) -> bool:
        """Whether any key in [lo, hi) was written or deleted after ``revision``: the log's rows since it, walked
        by revision (NOT INDEXED: its rowid), which the caller bounds (UNCHANGED_SCAN_LIMIT)."""
        where, args = _key_bounds("key", lo, hi)
        return conn.execute(f"SELECT 1 FROM log NOT INDEXED WHERE revision > ? AND {where} LIMIT 1",
                            [revision] + args).fetchone() is not None

    @staticmethod
    def _count_at(conn, revision: int, lo: bytes, hi: Optional[bytes]) -> int:
        """How many keys [lo, hi) held at ``revision``: how many it holds now, corrected for each key written or
        deleted since (found as in _changed_after: the caller bounds the walk).  Counting at the revision
        directly looks at every key's later rows, for every key of the range: a paged read of a big resource
        would pay it on each page."""
        where, args = _key_bounds("key", lo, hi)
        count = conn.execute(f"SELECT COUNT(*) FROM current WHERE {where}", args).fetchone()[0]
        changed = conn.execute(f"SELECT DISTINCT key FROM log NOT INDEXED WHERE revision > ? AND {where}",
                               [revision] + args).fetchall()
        for (key,) in changed:
            now = conn.execute("SELECT 1 FROM current WHERE key = ?", (key,)).fetchone() is not None
            then = conn.execute("SELECT deleted FROM log WHERE key = ? AND revision <= ? ORDER BY revision DESC"
                                " LIMIT 1", (key, revision)).fetchone()
            count += (then is not None and not then[0]) - now
        return count

    def replay(self, prefix: bytes, after_revision: int, limit: int) -> "list[Event] | Compacted":
        """Up to ``limit`` events under ``prefix`` with revision > after_revision,
        in revision order; Compacted when that history is gone."""
        conn = self._db()
        if after_revision < self.compact_revision:
            return Compacted(self.compact_revision)
        where, args = _key_bounds("l.key", prefix, prefix_end(prefix))
        try:
            # NOT INDEXED: walk the log by revision (its rowid) from the resume
            # point; the key index would make every chunk sort the whole tail.
            rows = conn.execute(
                "SELECT l.revision, l.key, l.value, l.create_revision, l.deleted,"
                " p.value, p.create_revision, p.revision"
                " FROM log l NOT INDEXED LEFT JOIN log p ON p.revision = l.prev_revision"
                f" WHERE l.revision > ? AND {where} ORDER BY l.revision LIMIT ?",
                [after_revision] + args + [limit],
            ).fetchall()
        except sqlite3.Error as e:
            raise Unavailable(f"sqlite: {e}") from e
        events = []
        for rev, key, value, create, deleted, pvalue, pcreate, prev_rev in rows:
            prev = None if prev_rev is None else KeyValue(key, pvalue, pcreate, prev_rev)
            if deleted:
                events.append(Event(DELETE, KeyValue(key, b"", 0, rev), prev))
            else:
                events.append(Event(PUT, KeyValue(key, value, create, rev), prev))
        return events

    # -- maintenance ------------------------------------------------------

    def compact(self, revision: int, max_step: int = 0) -> int:
        """Compact towards ``revision``, at most ``max_step`` revisions past
        the last compaction in this transaction (0: all the way); returns
        the compact revision reached, so the caller repeats until it is
        ``revision`` and writes can go in between."""
        conn = self._db()
        if revision > self.revision:
            raise FutureRevision(revision, self.revision)
        if revision < self.compact_revision:
            raise RevisionCompacted(revision, self.compact_revision)
        if revision == self.compact_revision:
            # etcd calls this an error; an idle server compacting on a timer
            # asks for the same revision again, and nothing is wrong with that.
            return revision
        old = self.compact_revision
        if max_step > 0:
            revision = min(revision, old + max_step)
        try:
            conn.execute("BEGIN IMMEDIATE")
            # A row at or below C is superseded exactly when its successor
            # (the row naming it as prev_revision) is at or below C; the rows
            # at or below the last compaction were dealt with then.  So only
            # the rows in (old, C] need reading.  Their prev links go first,
            # while the tombstones among them still carry theirs.
            conn.execute(
                "DELETE FROM log WHERE revision IN (SELECT prev_revision FROM log"
                " WHERE revision > ? AND revision <= ? AND prev_revision IS NOT NULL)",
                (old, revision))
            conn.execute("DELETE FROM log WHERE revision > ? AND revision <= ? AND deleted = 1",
                         (old, revision))
            conn.execute("UPDATE meta SET value = ? WHERE name = 'compact_revision'", (revision,))
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            self._rollback()
            raise Unavailable(f"sqlite: compaction failed: {e}") from e
        self.compact_revision = revision
        return revision

    def reclaim(self, max_pages: int, keep: float = RECLAIM_KEEP) -> int:
        """Give at most ``max_pages`` free pages back to the file system (an incremental vacuum, on a file
        created with it), keeping up to ``keep`` of the file free for the writes to come (churn reuses them:
        giving them back only to grow again costs I/O for nothing); the pages still to give."""
        conn = self._db()
        try:
            if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
                return 0
            excess = self._excess_free_pages(conn, keep)
            if excess <= 0:
                return 0
            # Each step of the statement frees one page: fetchall() runs it to the end.
            conn.execute(f"PRAGMA incremental_vacuum({min(int(max_pages), excess)})").fetchall()
            return max(self._excess_free_pages(conn, keep), 0)
        except sqlite3.Error as e:
            raise Unavailable(f"sqlite: reclaiming space failed: {e}") from e

    @staticmethod
    def _excess_free_pages(conn: sqlite3.Connection, keep: float) -> int:
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        return free - int(pages * keep)

    def snapshot(self) -> Snapshot:
        rng = self.range(b"", None, 0, None)
        return Snapshot(rng.revision, tuple(rng.kvs))

    def _restore(self, conn, snapshot: Snapshot):
        """The differences between the live keys and ``snapshot`` as ordinary
        writes, in key order (see SupportsSnapshot.restore)."""
        wanted = {kv.key: kv.value for kv in snapshot.kvs}
        live = {}
        for key, value, create, mod in conn.execute(
                "SELECT c.key, l.value, l.create_revision, l.revision FROM current c"
                " CROSS JOIN log l ON l.revision = c.mod_revision"):
            live[key] = KeyValue(key, value, create, mod)
        events: list[Event] = []
        for key in sorted(wanted.keys() | live.keys()):
            now = live.get(key)
            if key not in wanted:
                events += self._delete(conn, key, None)[1]
            elif now is None:
                events += self._create(conn, key, wanted[key])[1]
            elif now.value != wanted[key]:
                events += self._update(conn, key, wanted[key], now.mod_revision)[1]
        return self.revision, events


_OPS = {"create": Database._create, "update": Database._update, "delete": Database._delete,
        "restore": Database._restore}

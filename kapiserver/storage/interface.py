"""
The storage contract: etcd's model and nothing more.

Keys and values are bytes.  Every write takes the next global revision (one
counter for every key in the store), and a Kubernetes ``resourceVersion`` is
that revision as a decimal string.  Storage knows nothing of Kubernetes.

Every backend implements :class:`Storage`; every operation returns a Deferred.
Backends that can copy and put back their whole keyspace also implement
:class:`SupportsSnapshot` (memory and SQLite; etcd does not).  The one contract
suite in ``tests/storage`` runs against every backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol, Union, runtime_checkable

if TYPE_CHECKING:   # only annotations name it: the SQLite store's database process runs without Twisted
    from twisted.internet.defer import Deferred


def check_bytes(**kw: Any) -> None:
    """Keys and values are bytes: every backend rejects anything else alike."""
    for name, value in kw.items():
        if not isinstance(value, bytes):
            raise TypeError(f"{name} must be bytes, not {type(value).__name__}")


# The values below cross the SQLite store's socket to its database process pickled: each reduces to its class
# and fields (pickle's default for a frozen dataclass sets each field through object.__setattr__, several times
# slower, which a range of many keys pays once a key).

@dataclass(frozen=True, slots=True)
class KeyValue:
    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int

    def __reduce__(self):
        return KeyValue, (self.key, self.value, self.create_revision, self.mod_revision)


@dataclass(frozen=True, slots=True)
class RangeResult:
    """Keys in key order as of ``revision``; ``count`` is how many keys the
    whole range ``[start_key, prefix end)`` holds at that revision (so a paged
    reader can report remainingItemCount = count - len(kvs)); ``more`` says
    the limit cut the answer short."""

    kvs: list[KeyValue]
    revision: int
    more: bool
    count: int

    def __reduce__(self):
        return RangeResult, (self.kvs, self.revision, self.more, self.count)


PUT = "PUT"
DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class Event:
    """One change.  ``revision`` is the revision the change was written at.
    For PUT, ``kv`` is the new KeyValue; for DELETE, ``kv`` carries the key,
    an empty value and mod_revision = the delete's revision.  ``prev_kv`` is the
    KeyValue before the change (None for a PUT that created the key)."""

    type: str
    kv: KeyValue
    prev_kv: Optional[KeyValue]

    def __reduce__(self):
        return Event, (self.type, self.kv, self.prev_kv)

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


@dataclass(frozen=True, slots=True)
class Compacted:
    """Sent to a watch sink (once, then nothing more) when the revision the
    watch must resume from has been compacted away."""

    compact_revision: int


WatchSink = Callable[[Union[Event, Compacted]], None]

# Told a revision up to which every change under a watch's prefix has been
# delivered, when the backend learns it without an event (etcd's progress
# notifications).
ProgressSink = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The live keys of a store at ``revision``, in key order: an immutable
    value, what :meth:`SupportsSnapshot.restore` puts back (on the store it
    came from or on another one)."""

    revision: int
    kvs: tuple[KeyValue, ...]


class StorageError(Exception):
    pass


class KeyExists(StorageError):
    def __init__(self, key: bytes):
        super().__init__(key)
        self.key = key


class KeyNotFound(StorageError):
    def __init__(self, key: bytes):
        super().__init__(key)
        self.key = key


class Conflict(StorageError):
    """A compare-and-swap failed; ``current`` is the KeyValue now stored
    (None if the key no longer exists)."""

    def __init__(self, key: bytes, current: Optional[KeyValue]):
        super().__init__(key)
        self.key = key
        self.current = current

    def __reduce__(self):
        return Conflict, (self.key, self.current)


class RevisionCompacted(StorageError):
    """A read or watch asked for a revision older than the compaction point."""

    def __init__(self, requested: int, compact_revision: int):
        super().__init__(requested, compact_revision)
        self.requested = requested
        self.compact_revision = compact_revision


class FutureRevision(StorageError):
    """A read asked for a revision newer than the store's current one."""

    def __init__(self, requested: int, current: int):
        super().__init__(requested, current)
        self.requested = requested
        self.current = current


class Unavailable(StorageError):
    """The backend cannot be reached (etcd down, database closed)."""


class InUse(Unavailable):
    """The store is held by another process (a second server on the same data dir); its message is the one
    line a person needs."""


class WatchHandle(Protocol):
    """What ``Storage.watch`` hands back."""

    @property
    def progress_revision(self) -> int:
        """The revision up to which the backend vouches that every change under
        the prefix has reached the sink: at least the watch's after_revision and
        the newest event delivered, never decreasing.  A backend that
        ``delivers_before_ack`` answers at least its current revision once the
        watch has replayed its history; etcd answers what its stream told it
        (events and progress notifications)."""

    def cancel(self) -> None:
        """Stop delivery; the sink hears nothing more.  Idempotent."""


class Storage(Protocol):
    #: True when every revision ``current_revision()`` answers has already been
    #: handed to every live watch: the process is the store's only writer and
    #: hands each write to its live watchers before acknowledging it (SQLite,
    #: memory).  A watch cache may then count itself current at that revision as
    #: soon as its watch has replayed.  False where other processes write too
    #: (etcd): a watch vouches only through its ``progress_revision``.
    delivers_before_ack: bool

    def get(self, key: bytes) -> Deferred[Optional[KeyValue]]: ...

    def range(
        self,
        prefix: bytes,
        revision: Optional[int] = None,
        limit: int = 0,
        start_key: Optional[bytes] = None,
    ) -> Deferred[RangeResult]:
        """Keys starting with ``prefix`` (and >= ``start_key`` when given), at
        ``revision`` (None: the current one).  Raises RevisionCompacted or
        FutureRevision for revisions it cannot read at."""

    def create(self, key: bytes, value: bytes) -> Deferred[int]:
        """Write a key that must not exist; the new revision.  KeyExists."""

    def update(self, key: bytes, value: bytes, expected_mod_revision: int) -> Deferred[int]:
        """Write a key whose mod_revision must equal ``expected_mod_revision``;
        the new revision.  Conflict (with the current KeyValue) otherwise."""

    def delete(
        self, key: bytes, expected_mod_revision: Optional[int] = None
    ) -> Deferred[tuple[int, KeyValue]]:
        """(revision of the delete, the KeyValue deleted).  KeyNotFound, Conflict."""

    def watch(self, prefix: bytes, after_revision: int, sink: WatchSink,
              on_progress: Optional[ProgressSink] = None) -> WatchHandle:
        """Deliver every change to keys under ``prefix`` with revision >
        ``after_revision``, strictly in revision order, on the reactor thread,
        each PUT and DELETE with its prev_kv; or one Compacted and nothing more.
        Nothing is delivered before watch() returns.  ``on_progress(revision)``
        is called, between events, when the backend learns without an event
        that every change up to ``revision`` has been delivered (etcd's
        progress notifications); a backend that ``delivers_before_ack`` calls it
        once, when its replay of history has caught up, and from then on its
        handle's progress_revision answers its current revision."""

    def current_revision(self) -> Deferred[int]: ...

    def compact(self, revision: int) -> Deferred[None]: ...

    def check_health(self) -> Deferred[None]:
        """Fires with None when healthy; fails with Unavailable otherwise."""

    def close(self) -> Deferred[None]: ...


@runtime_checkable
class SupportsSnapshot(Protocol):
    """A backend that can copy its keyspace and put it back (memory, SQLite):
    what a test harness resetting the store between tests needs."""

    def snapshot(self) -> Deferred[Snapshot]:
        """The live keys and values at the current revision."""

    def restore(self, snapshot: Snapshot) -> Deferred[int]:
        """Make the live keys and values exactly those of ``snapshot``.

        Revisions never go back: restore writes the differences as ordinary
        writes, in key order, each at the next revision (a key to drop is
        deleted, a key missing or holding another value is put, a key already
        holding its snapshot value is left alone), in one step that no other
        write interleaves.  So watches, and the watch caches fed by them, see
        ordinary PUT and DELETE events with their prev_kv and stay consistent;
        history before the restore stays readable until compacted.
        create_revision and mod_revision are those of the new writes, not the
        snapshot's.  Fires with the store's revision after the restore (the
        current one when nothing differed)."""

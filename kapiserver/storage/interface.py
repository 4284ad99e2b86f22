"""
The storage contract: etcd's model and nothing more.

Keys and values are bytes.  Every write takes the next global revision (one
counter for every key in the store), and a Kubernetes ``resourceVersion`` is
that revision as a decimal string.  Storage knows nothing of Kubernetes.

Every backend implements :class:`Storage`; every operation returns a Deferred.
The one contract suite in ``tests/storage`` runs against every backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Protocol, Union

from twisted.internet.defer import Deferred


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int


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

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


@dataclass(frozen=True, slots=True)
class Compacted:
    """Sent to a watch sink (once, then nothing more) when the revision the
    watch must resume from has been compacted away."""

    compact_revision: int


WatchSink = Callable[[Union[Event, Compacted]], None]


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


class WatchHandle(Protocol):
    def cancel(self) -> None: ...


class Storage(Protocol):
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

    def watch(self, prefix: bytes, after_revision: int, sink: WatchSink) -> WatchHandle:
        """Deliver every change to keys under ``prefix`` with revision >
        ``after_revision``, strictly in revision order, on the reactor thread;
        or one Compacted and nothing more."""

    def current_revision(self) -> Deferred[int]: ...

    def compact(self, revision: int) -> Deferred[None]: ...

    def check_health(self) -> Deferred[None]:
        """Fires with None when healthy; fails with Unavailable otherwise."""

    def close(self) -> Deferred[None]: ...

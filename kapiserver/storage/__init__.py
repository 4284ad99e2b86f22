"""Storage: etcd's model (see interface.py) and its backends."""

from .interface import (
    Compacted, Conflict, DELETE, Event, FutureRevision, InUse, KeyExists, KeyNotFound,
    KeyValue, ProgressSink, PUT, RangeResult, RevisionCompacted, Snapshot, Storage, StorageError,
    SupportsSnapshot, Unavailable, WatchHandle,
)

__all__ = [
    "Compacted", "Conflict", "DELETE", "Event", "FutureRevision", "InUse", "KeyExists", "KeyNotFound",
    "KeyValue", "ProgressSink", "PUT", "RangeResult", "RevisionCompacted", "Snapshot", "Storage",
    "StorageError", "SupportsSnapshot", "Unavailable", "WatchHandle",
]

"""Storage: etcd's model (see interface.py) and its backends."""

from .interface import (
    Compacted, Conflict, DELETE, Event, FutureRevision, KeyExists, KeyNotFound,
    KeyValue, PUT, RangeResult, RevisionCompacted, Storage, StorageError, Unavailable,
)

__all__ = [
    "Compacted", "Conflict", "DELETE", "Event", "FutureRevision", "KeyExists", "KeyNotFound",
    "KeyValue", "PUT", "RangeResult", "RevisionCompacted", "Storage", "StorageError", "Unavailable",
]

"""One watch cache per resource from the server's flags."""

from __future__ import annotations

from twisted.internet import task

from kapiserver.registry.registry import Registry
from kapiserver.watch.reader import StorageReader

from .test_cacher import FakeStorage


def test_watch_cache_sizes_and_default_build_one_cacher_per_resource():
    """--watch-cache-sizes sets a resource's window, #0 turns its cache off, others get the default."""
    registry = Registry(FakeStorage(), task.Clock(), watch_cache=True,
                        watch_cache_sizes={"pods": 500, "deployments.apps": 0}, default_watch_cache_size=77)
    assert registry.store("", "v1", "pods").reads.cache.capacity == 500
    assert isinstance(registry.store("apps", "v1", "deployments").reads, StorageReader)
    assert registry.store("", "v1", "configmaps").reads.cache.capacity == 77
    pods = registry.store("", "v1", "pods")
    registry.remove("", "v1", "pods")
    assert pods.reads._stopped


def test_watch_cache_off_leaves_stores_reading_storage():
    """--watch-cache=false builds no watch cache: every store reads storage."""
    registry = Registry(FakeStorage(), task.Clock(), watch_cache=False)
    assert all(isinstance(store.reads, StorageReader) for store in registry.stores.values())

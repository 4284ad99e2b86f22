"""The watch cache over SQLite wakes each of its watchers once per batch of committed writes (one write to a
watch's connection, not one per event), every event there, in order, before the writers hear back."""

from __future__ import annotations

import json

from twisted.internet import reactor
from twisted.internet.defer import DeferredList

from kapiserver.registry.options import ListOptions
from kapiserver.registry.registry import Registry
from kapiserver.storage.sqlite import open_sqlite
from kapiserver.watch.cache import ObjectEncoding

from tests.controllers.conftest import run, run_until


def _configmap(name: str) -> bytes:
    return json.dumps({"kind": "ConfigMap", "apiVersion": "v1",
                       "metadata": {"name": name, "namespace": "ns", "resourceVersion": ""},
                       "data": {"k": name}}).encode()


def test_one_wake_per_batch_with_all_its_events(tmp_path):
    storage = run(open_sqlite(str(tmp_path / "data"), reactor))
    try:
        registry = Registry(storage, reactor, watch_cache=True)
        store = registry.store("", "v1", "configmaps")
        run_until(lambda: store.reads.cache.ready, 30)
        wakes, log = [], []

        def wake(watcher):
            taken = watcher.take()
            wakes.append(len(taken))
            log.extend(("event", obj["metadata"]["name"]) for _, obj in taken)
        handle = run(store.watch(None, ListOptions(resource_version=str(run(storage.current_revision()))),
                                 ObjectEncoding("ConfigMap", "v1"), wake))
        names = [f"c{i}" for i in range(5)]
        writes = []
        for name in names:
            d = storage.create(store.key("ns", name), _configmap(name))
            d.addCallback(lambda _, name=name: log.append(("written", name)))
            writes.append(d)
        run(DeferredList(writes, fireOnOneErrback=True))
        # Group commit: the first write alone, the four queued meanwhile together.
        assert wakes == [1, 4]
        assert log == [("event", "c0"), ("written", "c0"), *[("event", n) for n in names[1:]],
                       *[("written", n) for n in names[1:]]]
        handle.cancel()
    finally:
        run(storage.close())

"""Bytes per watch-cache window event: 100 small ConfigMaps updated round-robin 100 times a second for the
75 s window (7,500 events), one JSON watcher taking every event; the Python heap growth (tracemalloc) over the
events held in the window.

    python bench/watch_cache_memory_bench.py [--events 7500]
"""

from __future__ import annotations

import argparse
import gc
import json
import tracemalloc

from kapiserver.machinery import codec
from kapiserver.watch.cache import PUT, Filter, WatchCache


class JSONEncoding:
    """As the HTTP watch encodes: one JSON line per event."""
    key = "json"

    def event(self, event_type, obj):
        return codec.dumps({"type": event_type, "object": obj}) + b"\n"

    def bookmark(self, revision, end):
        return b"{}\n"


def configmap(i: int, rv: int) -> bytes:
    return json.dumps({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {
        "name": f"cm-{i}", "namespace": "default", "uid": "6b8f9e2e-1d2c-4c1a-9c53-%012d" % i,
        "resourceVersion": str(rv), "creationTimestamp": "2026-12-05T18:00:00Z",
        "labels": {"app": "bench", "tier": "x"},
        "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "v1",
                           "time": "2026-12-05T18:00:00Z", "fieldsType": "FieldsV1",
                           "fieldsV1": {"f:data": {".": {}, "f:k": {}},
                                        "f:metadata": {"f:labels": {".": {}, "f:app": {}, "f:tier": {}}}}}]},
        "data": {"k": "value-%d" % rv}}).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=7500)
    args = parser.parse_args()
    cache = WatchCache(100, lambda o: {"metadata.name": o["metadata"]["name"]})
    cache.replace([], 1)
    watcher = cache.watch(b"/", 1, Filter(), JSONEncoding(), 0.0)
    rev = 1
    for i in range(100):
        rev += 1
        cache.apply(PUT, b"/cm/%d" % i, json.loads(configmap(i, rev)), rev, 0.0)
        watcher.take()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for j in range(args.events):
        rev += 1
        i = j % 100
        cache.apply(PUT, b"/cm/%d" % i, json.loads(configmap(i, rev)), rev, j / 100.0)   # 100 per second
        watcher.take()
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - base
    print(f"window: {len(cache.window)} events; {grown / len(cache.window):.0f} bytes per window event")


if __name__ == "__main__":
    main()

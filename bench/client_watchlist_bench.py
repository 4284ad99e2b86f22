"""
Informer sync by list+watch against watch-list (sendInitialEvents), run by hand (never by the tests):

    python bench/client_watchlist_bench.py [--objects 3000] [--rounds 3]

Starts kapiserver, creates --objects ConfigMaps, and times a SharedInformer of them from start to synced,
both ways, best of --rounds, with the server's RSS after each.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from twisted.internet import defer, task  # noqa: E402

from api_bench import Server, create_many  # noqa: E402
from kapiserver.client.informer import SharedInformerFactory  # noqa: E402
from kapiserver.client.resources import CONFIG_MAPS  # noqa: E402
from kapiserver.client.rest import loopback_client  # noqa: E402


async def sync_time(reactor, url: str, watch_list: bool, objects: int) -> float:
    client = loopback_client(url, reactor)
    factory = SharedInformerFactory(client, reactor, watch_list=watch_list)
    informer = factory.informer(CONFIG_MAPS, namespace="default")
    started = time.perf_counter()
    factory.start()
    await factory.wait_for_cache_sync()
    elapsed = time.perf_counter() - started
    assert len(informer.indexer.keys()) >= objects
    assert informer.reflector.watch_list_refused is False
    factory.stop()
    await client.close()
    return elapsed


async def run(reactor, args) -> None:
    base = tempfile.mkdtemp(prefix="client-watchlist-bench-")
    server = Server(os.path.join(base, "data"))
    try:
        create_many(server, "default", args.objects)
        for watch_list in (False, True):
            best = min([await sync_time(reactor, server.url, watch_list, args.objects) for _ in range(args.rounds)])
            label = "watch-list (sendInitialEvents)" if watch_list else "list (RV=0, pages of 500) + watch"
            print(f"{label:<36} {args.objects} ConfigMaps synced in {best * 1000:7.0f} ms; "
                  f"server RSS {server.rss_mib():.0f} MiB")
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    task.react(lambda reactor: defer.Deferred.fromCoroutine(run(reactor, args)))


if __name__ == "__main__":
    main()

"""
kapiserver's own client over HTTP/2 against HTTP/1.1, run by hand (never by the tests):

    python bench/client_http2_bench.py [--requests 2000] [--concurrency 1,8,64] [--objects 100]

Starts kapiserver with its secure port and, in this process, two kapiserver.client.rest.Client of its admin
kubeconfig: one on HTTP/2 (one connection, N concurrent streams), one forced to HTTP/1.1 (a pool of up to N
connections). Each runs --requests requests, N at a time: GET of one ConfigMap and LIST of --objects
ConfigMaps. Prints requests/s and the h2/HTTP/1.1 ratio. Client and server share the machine's cores.
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
from kapiserver.client.resources import CONFIG_MAPS  # noqa: E402
from kapiserver.client.rest import client_from_kubeconfig  # noqa: E402


async def rate(call, requests: int, concurrency: int) -> float:
    remaining = [requests]

    async def worker():
        while remaining[0] > 0:
            remaining[0] -= 1
            await call()
    await call()  # connect (and for h2, negotiate) before the clock starts
    started = time.perf_counter()
    await defer.gatherResults([defer.Deferred.fromCoroutine(worker()) for _ in range(concurrency)])
    return requests / (time.perf_counter() - started)


async def run(reactor, args) -> None:
    base = tempfile.mkdtemp(prefix="client-h2-bench-")
    server = Server(os.path.join(base, "data"))
    try:
        create_many(server, "default", args.objects)
        kubeconfig = os.path.join(base, "data", "admin.kubeconfig")
        print(f"{'case':<28}{'N':>4}{'h2 req/s':>11}{'http/1.1 req/s':>16}{'ratio':>8}")
        for concurrency in [int(c) for c in args.concurrency.split(",")]:
            for label, call in (("GET one ConfigMap", lambda c: c.get(CONFIG_MAPS, "cm-000000", "default")),
                                (f"LIST {args.objects} ConfigMaps", lambda c: c.list(CONFIG_MAPS, "default"))):
                figures = {}
                for http2 in (True, False):
                    client = client_from_kubeconfig(kubeconfig, reactor, http2=http2)
                    client.pool.maxPersistentPerHost = concurrency
                    count = args.requests if label.startswith("GET") else max(args.requests // 5, 50)
                    figures[http2] = await rate(lambda: call(client), count, concurrency)
                    assert client.protocol == ("h2" if http2 else "http/1.1")
                    await client.close()
                print(f"{label:<28}{concurrency:>4}{figures[True]:>11.0f}{figures[False]:>16.0f}"
                      f"{figures[True] / figures[False]:>8.2f}")
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument("--objects", type=int, default=100)
    args = parser.parse_args()
    task.react(lambda reactor: defer.Deferred.fromCoroutine(run(reactor, args)))


if __name__ == "__main__":
    main()

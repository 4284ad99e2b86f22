"""
Many stored objects, run by hand (never by the tests):

    python bench/scale_bench.py [--objects 100000] [--size 1024] [--server-arg=--watch-cache=false ...]

Writes --objects ConfigMaps of --size bytes of data into a fresh embedded store (through
the registry in this process, as the server would write them, one namespace), then starts
kapiserver on it and reports: the time to /readyz, RSS at ready, RSS after a LIST of them
all at resourceVersion=0 (which has the watch cache encode each object) and after a second,
and RSS per stored object.  Targets of issue 17: RSS <= 500 MB, ready <= 1.5 s at 100k.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from api_bench import Server, _cpu_model  # noqa: E402


def fill(data_dir: str, count: int, size: int) -> None:
    sys.path.insert(0, os.getcwd())
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred, ensureDeferred

    from kapiserver.registry.registry import Registry
    from kapiserver.storage.sqlite import open_sqlite

    async def write():
        storage = await open_sqlite(data_dir, reactor)
        registry = Registry(storage, reactor, watch_cache=False)
        await registry.store("", "v1", "namespaces").create(
            None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}})
        configmaps = registry.store("", "v1", "configmaps")
        pending = []
        for i in range(count):
            pending.append(ensureDeferred(configmaps.create("bench", {
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i:06d}"},
                "data": {"v": "x" * size}})))
            if len(pending) >= 500:      # batches of group commit
                for d in pending:
                    await d
                pending = []
        for d in pending:
            await d
        await storage.close()

    done: list = []
    d: Deferred = ensureDeferred(write())
    d.addBoth(lambda result: (done.append(result), reactor.stop()))
    reactor.run()
    if done and hasattr(done[0], "raiseException"):
        done[0].raiseException()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=100000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--server-arg", action="append", default=[])
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="kapiserver-scale-")
    print(f"machine: {os.cpu_count()} cpus, {_cpu_model()}, load average {os.getloadavg()[0]:.2f}")
    data = os.path.join(work, "data")
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:        # the reactor runs once per process: fill in a child
        try:
            fill(data, args.objects, args.size)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    print(f"wrote {args.objects} ConfigMaps of {args.size} B in {time.perf_counter() - started:.1f} s; "
          f"store file {os.path.getsize(os.path.join(data, 'kapiserver.db')) / 2**20:.0f} MiB")
    server = Server(data, tuple(args.server_arg))
    try:
        ready_rss = server.rss_mib()
        print(f"startup to /readyz: {server.startup * 1000:.0f} ms; RSS at ready {ready_rss:.0f} MiB")
        time.sleep(2)
        print(f"RSS 2 s later: {server.rss_mib():.0f} MiB")
        for attempt in (1, 2):
            t = time.perf_counter()
            with urllib.request.urlopen(server.url + "/api/v1/namespaces/bench/configmaps?resourceVersion=0",
                                        timeout=300) as r:
                body = r.read()
            rss = server.rss_mib()
            print(f"LIST {attempt} at resourceVersion=0: {len(body) / 2**20:.0f} MiB in "
                  f"{time.perf_counter() - t:.2f} s; RSS then {rss:.0f} MiB, "
                  f"{rss * 2**20 / args.objects:.0f} B per object")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

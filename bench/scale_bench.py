"""
Many stored objects, run by hand (never by the tests):

    python bench/scale_bench.py [--objects 100000] [--size 1024] [--server-arg=--watch-cache=false ...]

Writes --objects ConfigMaps of --size bytes of data into a fresh embedded store (through
the registry in this process, as the server would write them, one namespace), then starts
kapiserver on it and reports: the time to /readyz (and the server's CPU time by then), RSS
at ready, 2 s later and once the server is idle, and after a LIST of them all at
resourceVersion=0 and after a second (each with its time and the server's CPU time), and
RSS per stored object.  Targets of issue 17: RSS <= 500 MB, ready <= 1.5 s at 100k.
With --keep DIR the filled store is kept in DIR and each run starts on a copy of it.
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


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system, all threads) process ``pid`` has used: less swayed than wall time by
    what else the machine runs."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=100000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--server-arg", action="append", default=[])
    parser.add_argument("--keep", metavar="DIR",
                        help="keep the filled store in DIR (filled there the first time) and start each run's "
                             "server on a copy of it, so each run is a first start without the fill's wait")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="kapiserver-scale-")
    print(f"machine: {os.cpu_count()} cpus, {_cpu_model()}, load average {os.getloadavg()[0]:.2f}")
    filled = os.path.abspath(args.keep) if args.keep else os.path.join(work, "data")
    if not os.path.exists(os.path.join(filled, "kapiserver.db")):
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:        # the reactor runs once per process: fill in a child
            status = 1
            try:
                fill(filled, args.objects, args.size)
                status = 0
            except BaseException:
                import traceback
                traceback.print_exc()
            finally:
                os._exit(status)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            raise SystemExit("filling the store failed (above)")
        print(f"wrote {args.objects} ConfigMaps of {args.size} B in {time.perf_counter() - started:.1f} s; "
              f"store file {os.path.getsize(os.path.join(filled, 'kapiserver.db')) / 2**20:.0f} MiB")
    else:
        print(f"the store filled in {filled} before")
    data = filled
    if args.keep:
        data = os.path.join(work, "data")
        shutil.copytree(filled, data)
    server = Server(data, tuple(args.server_arg), log_dir=work)
    try:
        ready_rss, ready_cpu = server.rss_mib(), cpu_seconds(server.process.pid)
        print(f"startup to /readyz: {server.startup * 1000:.0f} ms (the server's CPU time by then: "
              f"{ready_cpu:.2f} s); RSS at ready {ready_rss:.0f} MiB")
        time.sleep(2)
        print(f"RSS 2 s later: {server.rss_mib():.0f} MiB")
        # Then until the server is idle (the caches filled, the embedded controllers' informers synced): its CPU
        # time grows by less than 0.05 s in 2 s, for at most two minutes.
        waited, before = 2.0, cpu_seconds(server.process.pid)
        while waited < 120:
            time.sleep(2)
            waited += 2
            now = cpu_seconds(server.process.pid)
            if now - before < 0.05:
                break
            before = now
        print(f"RSS once idle ({waited:.0f} s after ready, CPU time {before:.2f} s): {server.rss_mib():.0f} MiB")
        for attempt in (1, 2):
            cpu = cpu_seconds(server.process.pid)
            t = time.perf_counter()
            with urllib.request.urlopen(server.url + "/api/v1/namespaces/bench/configmaps?resourceVersion=0",
                                        timeout=300) as r:
                body = r.read()
            rss = server.rss_mib()
            print(f"LIST {attempt} at resourceVersion=0: {len(body) / 2**20:.0f} MiB in "
                  f"{time.perf_counter() - t:.2f} s (CPU {cpu_seconds(server.process.pid) - cpu:.2f} s); "
                  f"RSS then {rss:.0f} MiB, "
                  f"{rss * 2**20 / args.objects:.0f} B per object")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

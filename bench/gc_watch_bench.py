"""
The garbage collector's side of its watches, run by hand (never by the tests):

    python bench/gc_watch_bench.py [--rounds 3] [--duration 4] [--profile tottime|cumulative]

Starts kapiserver without embedded controllers (a process of its own) and runs the garbage collector in this
process, as kube-controller-manager runs it (its metadata informers through the loopback client), while wrk
creates ConfigMaps (8 connections). Prints, per round, this process's CPU microseconds per create: what each
object's watch event costs the controller's end (the HTTP client, the watch's lines, the informer, the graph),
which the apiserver pays too when it runs the controller itself (--embedded-controllers, the default).  Then the
same event pipeline alone, without HTTP: decoding a PartialObjectMetadata watch line, the informer's transform
and index, the graph, on 100,000 lines made here (microseconds per event, the cyclic garbage collector off and as
the daemons set it).  --profile runs the first round under cProfile, sorted by that column.
Run it from another checkout to measure that one.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.getcwd())

from api_bench import Server, configmap, raise_fd_limit  # noqa: E402


def served(rounds: int, duration: int, profile: str) -> None:
    from twisted.internet import reactor

    from kapiserver.client.rest import loopback_client
    from kapiserver.controllermanager.manager import ControllerManager
    from tests.controllers.conftest import run, run_until

    work = tempfile.mkdtemp(prefix="kapiserver-gcbench-")
    server = Server(os.path.join(work, "data"), ("--embedded-controllers=",))
    try:
        server.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": "gcb"}})
        client = loopback_client(server.url, user_agent="gc-watch-bench")
        manager = ControllerManager(client, reactor, ["garbage-collector-controller"], {})
        run(manager.start())
        settled = time.monotonic() + 3     # its informers listed and watching
        run_until(lambda: time.monotonic() > settled, 10)
        lua = os.path.join(work, "create.lua")
        with open(lua, "w") as f:
            f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                    f"wrk.body = {json.dumps(json.dumps(configmap('c-', generate=True)))}\n")
        for round_ in range(rounds):
            profiler = cProfile.Profile() if profile and round_ == 0 else None
            wrk = subprocess.Popen(["wrk", "-t1", "-c8", f"-d{duration}s", "-s", lua,
                                    server.url + "/api/v1/namespaces/gcb/configmaps"],
                                   stdout=subprocess.PIPE, text=True)
            started = time.process_time()
            if profiler:
                profiler.enable()
            run_until(lambda: wrk.poll() is not None, duration + 30)
            drained = time.monotonic() + 0.5      # the last events in
            run_until(lambda: time.monotonic() > drained, 5)
            if profiler:
                profiler.disable()
            used = time.process_time() - started
            creates = int(re.search(r"(\d+) requests in", wrk.stdout.read()).group(1))
            print(f"round {round_ + 1}: {creates} creates, the controller's end {used / creates * 1e6:.1f} us "
                  f"a create", flush=True)
            if profiler:
                pstats.Stats(profiler).sort_stats(profile).print_stats(40)
        manager.stop()
        run(client.close())
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def pipeline(count: int = 100_000) -> None:
    import orjson

    from kapiserver.client.cache import Indexer
    from kapiserver.controllermanager.garbagecollector import _metadata_kept
    from kapiserver.controllermanager.gcgraph import Graph
    from kapiserver.gcpolicy import YOUNG_THRESHOLD

    class ConfigMaps:
        api_version, kind = "v1", "ConfigMap"

    managed = [{"manager": "wrk", "operation": "Update", "apiVersion": "v1", "time": "2026-12-07T00:00:00Z",
                "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {".": {}, "f:key": {}},
                                                       "f:metadata": {"f:labels": {".": {}, "f:app": {}}}}}]
    lines = [orjson.dumps({"type": "ADDED", "object": {
        "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
        "metadata": {"name": f"c-{i:06d}", "generateName": "c-", "namespace": "gcb", "uid": f"uid-{i:032d}",
                     "resourceVersion": str(i), "creationTimestamp": "2026-12-07T00:00:00Z",
                     "labels": {"app": "wb"}, "managedFields": managed}}}) for i in range(count)]
    for setting in ("off", "the daemons'"):
        gc.collect()
        thresholds = gc.get_threshold()
        if setting == "off":
            gc.disable()
        else:
            gc.enable()
            gc.set_threshold(YOUNG_THRESHOLD, thresholds[1], thresholds[2])
        indexer, graph = Indexer(), Graph(lambda uid: None, lambda uid: None)
        started = time.process_time()
        for line in lines:
            obj = _metadata_kept(orjson.loads(line)["object"])
            indexer.add(obj)
            graph.observe(ConfigMaps, obj)
        used = time.process_time() - started
        gc.enable()
        gc.set_threshold(*thresholds)
        print(f"the event pipeline alone, cyclic garbage collector {setting}: {used / count * 1e6:.2f} us an event")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=4)
    parser.add_argument("--profile", default="", help="cProfile the first round, sorted by this column")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    raise_fd_limit()
    served(args.rounds, args.duration, args.profile)
    pipeline()
    sys.stdout.flush()
    os._exit(0)     # the reactor's thread pool, started by the client and never stopped, would hold the exit


if __name__ == "__main__":
    main()

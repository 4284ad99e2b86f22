"""
Write-path benchmark, run by hand (never by the tests):

    python bench/write_bench.py [--duration 5] [--repeat 3] [--cases create,update,patch,get]
                                [--profile OUT.prof] [--spy PATH-TO-py-spy] [--server-arg=--flag=value]
                                [--watchers N [--watch-metadata]] [--controller-manager]

Starts kapiserver (embedded store, durable group commit) and the floor (bench/floor.py)
in the same run and measures with wrk, each case against the floor of the same round,
--repeat rounds, and prints every round and the medians:
  CREATE at 16 connections (generateName) against the floor's POST;
  UPDATE (PUT without resourceVersion) and PATCH (merge patch) at 16 connections, each
  request changing its object, no two in flight on one object, against the floor's POST
  and against CREATE;
  GET one object at 32 connections against the floor's GET.
Two ratios per case: requests/s (kapiserver / floor), and CPU time per request (floor /
kapiserver, from /proc: all the process's threads and its children's).  The second holds when other work
shares the machine; the first is what a client sees on an idle one.  Each case also prints how busy the server's reactor (main) thread was: the rest of the run it waited.
--watchers N opens N watches of every ConfigMap (curl; --watch-metadata: as PartialObjectMetadata, as the
garbage collector watches) for the whole run; --controller-manager runs the embedded controllers' set in a
kube-controller-manager process of its own instead (its CPU per request printed beside the server's).
--profile runs the server under cProfile (statistics to OUT.prof, `python -m pstats`);
--spy samples it with py-spy during each case of the first round (collapsed stacks to
/tmp/write_bench-CASE.txt).
Run it from another checkout to measure that one: the server is `python -m kapiserver` in
the current directory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from api_bench import (Server, _cpu_model, children, configmap, cpu_seconds, free_port,  # noqa: E402
                       raise_fd_limit, reactor_cpu_seconds, tree_cpu_seconds)
from controlplane_bench import twistd  # noqa: E402
from kapiserver.config import EMBEDDABLE_CONTROLLERS  # noqa: E402

CONNS = 16


def lua_cycling(method: str, path_prefix: str, body_lua: str, content_type: str, count: int) -> str:
    """A wrk script: each of wrk's two threads sends to its own half of `count` names (w-0 ...), in turn, so
    no two requests in flight write one object; the body is what the Lua expression ``body_lua`` makes of
    the name (n) and a value (v) new on every request, so no write is a no-op."""
    half = count // 2
    return (f'wrk.method = "{method}"\nwrk.headers["Content-Type"] = "{content_type}"\n'
            "local threads = 0\n"
            "function setup(thread)\n  thread:set(\"base\", threads)\n  threads = threads + 1\nend\n"
            "local i = 0\nlocal serial = 0\n"
            f"request = function()\n  i = (i + 1) % {half}\n  serial = serial + 1\n"
            f'  local n = "w-" .. (base * {half} + i)\n  local v = base .. "-" .. serial\n'
            f'  return wrk.format(nil, "{path_prefix}" .. n, nil, {body_lua})\nend\n')


def run_wrk(url: str, connections: int, duration: float, script: str = "") -> tuple[float, int]:
    """(requests/s, requests answered) of a wrk run."""
    args = ["wrk", f"-t{1 if connections == 1 else 2}", f"-c{connections}", f"-d{int(duration)}s"]
    if script:
        args += ["-s", script]
    out = subprocess.run(args + [url], capture_output=True, text=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        print(f"    (wrk saw {errors.group(1)} non-2xx responses on {url})")
    return (float(rate.group(1)) if rate else 0.0), (int(count.group(1)) if count else 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", help="run the server under cProfile, statistics to this file")
    parser.add_argument("--spy", help="sample the server with py-spy (path to the py-spy binary) during each "
                        "case of the first round; collapsed stacks to /tmp/write_bench-CASE.txt")
    parser.add_argument("--cases", default="create,update,patch,get")
    parser.add_argument("--server-arg", action="append", default=[],
                        help="one more kube-apiserver flag (e.g. --server-arg=--embedded-controllers=)")
    parser.add_argument("--watchers", type=int, default=0,
                        help="this many watches of every ConfigMap (curl processes) open during the cases")
    parser.add_argument("--watch-metadata", action="store_true",
                        help="the --watchers ask for PartialObjectMetadata, as the garbage collector's do")
    parser.add_argument("--controller-manager", action="store_true",
                        help="run the embedded controllers' set in a kube-controller-manager process of its own "
                        "(the apiserver with --embedded-controllers=), as upstream splits them")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    raise_fd_limit()
    cases = args.cases.split(",")
    work = tempfile.mkdtemp(prefix="kapiserver-wbench-")
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, {_cpu_model()}, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}")
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(HERE, "..", "kapiserver")],
                   check=False, stdout=subprocess.DEVNULL)
    prefix: tuple = ("-m",)
    if args.profile:
        prefix = ("-m", "cProfile", "-o", os.path.abspath(args.profile), "-m")
    server_args = tuple(args.server_arg) + (("--embedded-controllers=",) if args.controller_manager else ())
    server = Server(os.path.join(work, "data"), server_args, prefix=prefix)
    floor = manager = None
    watchers: list = []
    try:
        accept = ("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1" if args.watch_metadata
                  else "application/json")
        for _ in range(args.watchers):
            watchers.append(subprocess.Popen(
                ["curl", "-sN", "-o", "/dev/null", "-H", f"Accept: {accept}",
                 server.url + "/api/v1/configmaps?watch=true&allowWatchBookmarks=true"]))
        if args.controller_manager:
            manager = twistd("kube-controller-manager",
                             f"--kubeconfig={server.write_kubeconfig(os.path.join(work, 'kubeconfig'))}",
                             "--leader-elect=false", f"--controllers={','.join(EMBEDDABLE_CONTROLLERS)}",
                             log=server.log)
        ns = "/api/v1/namespaces/wb/configmaps/"
        server.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": "wb"}})
        server.request("POST", ns[:-1], configmap("one"))
        for i in range(CONNS * 4):
            server.request("POST", ns[:-1], configmap(f"w-{i}"))
        table = {}
        status, content_type, raw = server.request("GET", ns + "one")
        with open(os.path.join(work, "body-get"), "wb") as f:
            f.write(raw)
        table[ns + "one"] = [status, content_type, os.path.join(work, "body-get")]
        status, content_type, raw = server.request("POST", ns[:-1], configmap("c-", generate=True))
        with open(os.path.join(work, "body-create"), "wb") as f:
            f.write(raw)
        table["/api/v1/namespaces/floor/configmaps"] = [201, content_type, os.path.join(work, "body-create")]
        with open(os.path.join(work, "floor.json"), "w") as f:
            json.dump(table, f)
        floor_port = free_port()
        floor = subprocess.Popen([sys.executable, os.path.join(HERE, "floor.py"), str(floor_port),
                                  os.path.join(work, "floor.json")])
        floor_url = f"http://127.0.0.1:{floor_port}"
        deadline = time.monotonic() + 60
        while True:     # until the floor answers (it starts slowly on a busy machine)
            try:
                with urllib.request.urlopen(floor_url + ns + "one", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

        def script(name: str, text: str) -> str:
            path = os.path.join(work, name)
            with open(path, "w") as f:
                f.write(text)
            return path
        create_lua = script("create.lua", 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                            f"wrk.body = {json.dumps(json.dumps(configmap('c-', generate=True)))}\n")
        # Each PUT and PATCH changes its object (a write that changes nothing is answered without one).
        update_lua = script("update.lua", lua_cycling(
            "PUT", ns, """'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"' .. n .. '"},"data":{"v":"' """
            """.. v .. string.rep("y", 48) .. '"}}'""", "application/json", CONNS * 4))
        patch_lua = script("patch.lua", lua_cycling("PATCH", ns, """'{"data":{"p":"' .. v .. '"}}'""",
                                                    "application/merge-patch+json", CONNS * 4))
        def sampler(binary, case):
            if not binary:
                return None
            return subprocess.Popen([binary, "record", "--pid", str(server.process.pid), "--rate", "250",
                                     "--duration", str(int(args.duration) - 1), "--format", "raw", "--threads",
                                     "--subprocesses",
                                     "--output", f"/tmp/write_bench-{case}.txt"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rows: dict[str, list[float]] = {}

        def measure(pid: int, url: str, conns: int, lua: str = "", spy_case: str = "") -> tuple:
            """(requests/s, CPU microseconds the process at ``pid`` and its children (the SQLite store's
            database process, --workers) spent per request, the children's part of that, the share of the run
            the main thread was on a CPU)."""
            spy = sampler(args.spy, spy_case) if spy_case else None
            before, own_before, workers = tree_cpu_seconds(pid), cpu_seconds(pid), children(pid)
            reactor_before, started = reactor_cpu_seconds(pid), time.monotonic()
            rate, count = run_wrk(url, conns, args.duration, lua)
            used, own = tree_cpu_seconds(pid) - before, cpu_seconds(pid) - own_before
            busy = (reactor_cpu_seconds(pid) - reactor_before) / (time.monotonic() - started)
            if spy:
                spy.wait()
            if not count:
                return rate, float("nan"), None, busy
            return rate, used / count * 1e6, (used - own) / count * 1e6 if workers else None, busy

        def record(name: str, ours: tuple, base: tuple) -> str:
            rows.setdefault(f"{name} / floor, rate", []).append(ours[0] / base[0] if base[0] else float("nan"))
            rows.setdefault(f"{name} / floor, CPU", []).append(base[1] / ours[1] if ours[1] else float("nan"))
            rows.setdefault(f"{name}, CPU us per request", []).append(ours[1])
            said = f"{name.split(',')[0].lower()} {ours[0]:.0f}/s {ours[1]:.0f} us"
            if ours[2] is not None:     # what the child processes spent of it
                rows.setdefault(f"{name}, child processes' CPU us per request", []).append(ours[2])
                said += f" (children {ours[2]:.0f} us)"
            # How much of the run the (primary) process's reactor thread was at work: the rest it waited.
            rows.setdefault(f"{name}, reactor thread busy", []).append(ours[3])
            said += f" (reactor thread busy {ours[3]:.0%})"
            return said

        for round_ in range(args.repeat):
            spying = args.spy if round_ == 0 else None
            floor_post = measure(floor.pid, floor_url + "/api/v1/namespaces/floor/configmaps", CONNS, create_lua)
            line = [f"round {round_ + 1}: load {os.getloadavg()[0]:.2f}, floor POST {floor_post[0]:.0f}/s "
                    f"{floor_post[1]:.0f} us"]
            created = None
            for case, lua in (("create", create_lua), ("update", update_lua), ("patch", patch_lua)):
                if case not in cases:
                    continue
                url = server.url + (ns[:-1] if case == "create" else ns + "w-0")
                before = cpu_seconds(manager.pid) if manager else 0.0
                ours = measure(server.process.pid, url, CONNS, lua, case if spying else "")
                line.append(record(f"{case.upper()}, {CONNS} conns", ours, floor_post))
                if manager and ours[0]:
                    spent = (cpu_seconds(manager.pid) - before) / (ours[0] * args.duration)
                    line[-1] += f" (controller manager {spent * 1e6:.0f} us)"
                if case == "create":
                    created = ours
                elif created:
                    rows.setdefault(f"{case.upper()} / CREATE, rate", []).append(ours[0] / created[0])
                    rows.setdefault(f"{case.upper()} / CREATE, CPU", []).append(created[1] / ours[1])
            if "get" in cases:
                floor_get = measure(floor.pid, floor_url + ns + "one", 32)
                ours = measure(server.process.pid, server.url + ns + "one", 32, "", "get" if spying else "")
                line.append(record("GET one object, 32 conns", ours, floor_get) +
                            f" (floor {floor_get[0]:.0f}/s {floor_get[1]:.0f} us)")
            print("; ".join(line), flush=True)
        print(f"{'case (ratios: kapiserver / floor; CPU: floor us / ours)':56} {'median':>8}  rounds")
        for name, values in rows.items():
            print(f"{name:56} {statistics.median(values):8.2f}  {' '.join(f'{v:.2f}' for v in values)}")
    finally:
        server.stop()
        for process in (floor, manager, *watchers):
            if process is not None:
                process.terminate()
                process.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""
Write-path benchmark, run by hand (never by the tests):

    python bench/write_bench.py [--duration 5] [--repeat 3] [--profile OUT.prof]

Starts kapiserver (embedded store, durable group commit) and the floor (bench/floor.py)
in the same run and measures with wrk, each case against the floor of the same round,
--repeat rounds, and prints every round's ratios and their medians:
  CREATE at 16 connections (generateName) against the floor's POST;
  UPDATE (PUT without resourceVersion) and PATCH (merge patch) at 16 connections, each
  connection on its own object, against the floor's POST and as a fraction of CREATE;
  GET one object at 32 connections against the floor's GET.
With --profile the server runs under cProfile (rates drop, so only the profile is of use)
and the statistics of the reactor thread go to OUT.prof (`python -m pstats OUT.prof`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from api_bench import Server, _cpu_model, configmap, free_port, raise_fd_limit, wrk  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", help="run the server under cProfile, statistics to this file")
    parser.add_argument("--spy", help="sample the server with py-spy (path to the py-spy binary) during each "
                        "case of the first round; collapsed stacks to /tmp/write_bench-CASE.txt")
    parser.add_argument("--cases", default="create,update,patch,get")
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
    server = Server(os.path.join(work, "data"), prefix=prefix)
    floor = None
    try:
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
        time.sleep(1.0)

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
                                     "--output", f"/tmp/write_bench-{case}.txt"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rows: dict[str, list[float]] = {}
        for round_ in range(args.repeat):
            floor_post = wrk(floor_url + "/api/v1/namespaces/floor/configmaps", CONNS, args.duration, create_lua)
            line = [f"round {round_ + 1}: load {os.getloadavg()[0]:.2f}, floor POST {floor_post:.0f}/s"]
            created = None
            for case, lua in (("create", create_lua), ("update", update_lua), ("patch", patch_lua)):
                if case not in cases:
                    continue
                url = server.url + (ns[:-1] if case == "create" else ns + "w-0")
                spy = sampler(args.spy if round_ == 0 else None, case)
                rate = wrk(url, CONNS, args.duration, lua)
                if spy:
                    spy.wait()
                rows.setdefault(f"{case.upper()}, {CONNS} conns / floor POST", []).append(rate / floor_post)
                line.append(f"{case} {rate:.0f}/s ({rate / floor_post:.2f})")
                if case == "create":
                    created = rate
                elif created:
                    rows.setdefault(f"{case.upper()} / CREATE", []).append(rate / created)
            if "get" in cases:
                floor_get = wrk(floor_url + ns + "one", 32, args.duration)
                spy = sampler(args.spy if round_ == 0 else None, "get")
                ours = wrk(server.url + ns + "one", 32, args.duration)
                if spy:
                    spy.wait()
                rows.setdefault("GET one object, 32 conns / floor", []).append(ours / floor_get)
                line.append(f"get {ours:.0f}/s, floor {floor_get:.0f}/s ({ours / floor_get:.2f})")
            print("; ".join(line), flush=True)
        print(f"{'case':40} {'median':>7}  rounds")
        for name, values in rows.items():
            print(f"{name:40} {statistics.median(values):7.2f}  {' '.join(f'{v:.2f}' for v in values)}")
    finally:
        server.stop()
        if floor is not None:
            floor.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

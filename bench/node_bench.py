"""
kube-node (a real node agent: pods as host processes) with N pods, run by hand (never by the tests):

    python bench/node_bench.py [--pods 100] [--idle 30]

Starts kapiserver (with a secure port, so service-account tokens are issued) and one `python -m
kapiserver.node` process from this checkout, then creates N pods bound to the node (spec.nodeName, 8
threads), each one container `sleep infinity` with an exec readiness probe (`true`, every 10 s) and the
projected service-account volume the ServiceAccount admission adds (a bound token, kube-root-ca.crt, the
namespace).  It measures kube-node's CPU (user+system of the process itself, % of one CPU; and that of the
probe processes it reaped) and RSS:

  - before: registered, no pods, 10 s;
  - creation: from the first create to all N pods Running and Ready (peak RSS: VmHWM);
  - idle: --idle seconds with the N pods running (sampled each second: mean and max CPU, RSS at the end).

Then deletes the pods, waits for them to go, stops kube-node and the apiserver, and kills any container
process still left (by pid); the work directory is removed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from api_bench import Server, free_port  # noqa: E402
from controlplane_bench import memory_mib  # noqa: E402


def cpu(pid: int) -> tuple:
    """(the process's own user+system seconds, its reaped children's)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def children(pid: int) -> set:
    """(pid, command line) of the processes whose parent is `pid` (the containers kube-node spawned)."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.add((int(entry), cmdline(int(entry))))
            except (OSError, IndexError, ValueError):
                pass
    return out


def wait(predicate, timeout: float, what: str):
    started = time.monotonic()
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() - started > timeout:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.5)


def pods(server: Server, namespace: str) -> list:
    status, _, raw = server.request("GET", f"/api/v1/namespaces/{namespace}/pods")
    return json.loads(raw)["items"] if status == 200 else []


def ready(pod: dict) -> bool:
    conditions = {c["type"]: c["status"] for c in (pod.get("status") or {}).get("conditions") or []}
    return (pod.get("status") or {}).get("phase") == "Running" and conditions.get("Ready") == "True"


def sample(pid: int, seconds: float) -> dict:
    """kube-node's CPU % (own and reaped children) over `seconds`, sampled each second."""
    own0, kids0 = cpu(pid)
    started = last = time.monotonic()
    prev = own0
    per_second = []
    while time.monotonic() - started < seconds:
        time.sleep(1)
        now = time.monotonic()
        own, _ = cpu(pid)
        per_second.append((own - prev) / (now - last) * 100)
        prev, last = own, now
    own, kids = cpu(pid)
    elapsed = time.monotonic() - started
    return {"cpu": (own - own0) / elapsed * 100, "max": max(per_second), "children": (kids - kids0) / elapsed * 100,
            "rss": memory_mib(pid), "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--idle", type=float, default=30.0)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="kap-node-bench-")
    os.chdir(REPO)        # `-m kapiserver` and `-m kapiserver.node` import this checkout
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    server = node = None
    spawned: set = set()
    load = os.getloadavg()
    try:
        server = Server(os.path.join(work, "data"), ("--bind-address=127.0.0.1", "--advertise-address=127.0.0.1"))
        kubeconfig = server.write_kubeconfig(os.path.join(work, "kubeconfig"))
        server.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": "bench"}})
        server.request("POST", "/api/v1/namespaces/bench/serviceaccounts",
                       {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})
        node = subprocess.Popen(
            [sys.executable, "-m", "kapiserver.node", f"--kubeconfig={kubeconfig}", "--node-name=bench-node",
             f"--kubelet-port={free_port()}", f"--root-dir={work}/node"],
            stdout=open(os.path.join(work, "node.log"), "ab"), stderr=subprocess.STDOUT, env=env)
        wait(lambda: server.request("GET", "/api/v1/nodes/bench-node")[0] == 200, 60, "the node to register")
        # The root CA ConfigMap the projected volume reads (published by the embedded controllers).
        wait(lambda: server.request("GET", "/api/v1/namespaces/bench/configmaps/kube-root-ca.crt")[0] == 200, 60,
             "kube-root-ca.crt")
        time.sleep(2)
        before = sample(node.pid, 10)

        def create(i):
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p-{i:04d}", "labels": {"app": "bench"}},
                   "spec": {"nodeName": "bench-node", "terminationGracePeriodSeconds": 5, "containers": [{
                       "name": "c", "image": "busybox", "command": ["sleep", "infinity"],
                       "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 10}}]}}
            status, _, raw = server.request("POST", "/api/v1/namespaces/bench/pods", pod)
            assert status == 201, raw[:300]
        own0, kids0 = cpu(node.pid)
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(create, range(args.pods)))
        created = time.monotonic() - started
        wait(lambda: sum(ready(p) for p in pods(server, "bench")) == args.pods, 900, "all pods Ready")
        all_ready = time.monotonic() - started
        own, kids = cpu(node.pid)
        creation = {"cpu": (own - own0) / all_ready * 100, "children": (kids - kids0) / all_ready * 100,
                    "rss": memory_mib(node.pid), "peak": memory_mib(node.pid, "VmHWM")}
        spawned.update(children(node.pid))
        one = pods(server, "bench")[0]
        projected = [v["name"] for v in one["spec"].get("volumes") or [] if "projected" in v]
        tokens = sum(os.path.exists(os.path.join(work, "node", "pods", p["metadata"]["uid"], "volumes", v["name"],
                                                 "token"))
                     for p in pods(server, "bench") for v in p["spec"].get("volumes") or [] if "projected" in v)
        time.sleep(5)
        idle = sample(node.pid, args.idle)
        spawned.update(children(node.pid))
        print(f"machine: {platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}; "
              f"load average at start {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, at end "
              + " ".join(f"{x:.1f}" for x in os.getloadavg()))
        print(f"{args.pods} pods (sleep infinity, exec readiness probe every 10 s, projected volume "
              f"{projected}, {tokens} token files written): created in {created:.1f} s, all Running and Ready after {all_ready:.1f} s; "
              f"{len([1 for _, line in spawned if b'sleep' in line])} container processes")
        print()
        print("| phase | kube-node CPU (% of one CPU) | max 1-s CPU | reaped children's CPU | RSS (MiB) |")
        print("|---|---:|---:|---:|---:|")
        print(f"| no pods, 10 s | {before['cpu']:.1f} | {before['max']:.1f} | {before['children']:.1f} | "
              f"{before['rss']:.0f} |")
        print(f"| creating {args.pods} pods to all Ready, {all_ready:.0f} s | {creation['cpu']:.1f} | | "
              f"{creation['children']:.1f} | {creation['rss']:.0f} (peak {creation['peak']:.0f}) |")
        print(f"| idle with {args.pods} pods, {idle['seconds']:.0f} s | {idle['cpu']:.1f} | {idle['max']:.1f} | "
              f"{idle['children']:.1f} | {idle['rss']:.0f} |")
    finally:
        if server is not None and node is not None and node.poll() is None:
            spawned.update(children(node.pid))
            server.request("DELETE", "/api/v1/namespaces/bench/pods")
            try:
                wait(lambda: server.request("GET", "/api/v1/namespaces/bench/pods")[0] == 200 and
                     not pods(server, "bench"), 120, "the pods to go")
            except SystemExit as e:
                print(e, file=sys.stderr)
        if node is not None:
            node.terminate()
            try:
                node.wait(30)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
        for pid, line in spawned:       # a container left behind: ours, by pid (if it still is that process)
            if line and cmdline(pid) == line:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""
Simulated-node benchmark, run by hand (never by the tests):

    python bench/simulate_bench.py [--nodes 1000] [--pods 3000] [--idle 20]

Starts kapiserver (no embedded controllers) and one `twistd kube-node --simulate N` process, then measures:

  - registration: the time until all N Nodes and their Leases exist;
  - idle: kube-node's CPU (user+system, % of one CPU) and RSS over --idle seconds with N nodes renewing their
    Leases every 10 s, and the apiserver's CPU meanwhile;
  - pods: the time from creating --pods pods (spec.nodeName set, spread over the nodes, 8 threads) to all of
    them Running and Ready, then kube-node's idle CPU and RSS again with those pods.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from api_bench import Server  # noqa: E402
from controlplane_bench import cpu_seconds, memory_mib, namespace, twistd  # noqa: E402



def node_name(index: int, nodes: int) -> str:
    """The name kube-node --simulate gives its node ``index`` of ``nodes``: the node name alone when it simulates
    one, else with the index."""
    return "sim" if nodes == 1 else f"sim-{index}"

def wait(predicate, timeout: float, what: str) -> None:
    """Poll once a second (a list of thousands of objects is not free for the apiserver being measured)."""
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(1)


def count(server: Server, path: str, phase_running: bool = False, raw: bool = False) -> int:
    if raw:
        status, _, body = server.request("GET", path)
        return len(json.loads(body)["items"]) if status == 200 else -1
    if not phase_running:
        status, _, raw = server.request("GET", path + "?limit=1")
        if status != 200:
            return -1
        body = json.loads(raw)
        return len(body["items"]) + int(body["metadata"].get("remainingItemCount") or 0)
    status, _, raw = server.request("GET", path)
    if status != 200:
        return -1
    items = json.loads(raw)["items"]
    return sum(1 for p in items if (p.get("status") or {}).get("phase") == "Running" and
               {c["type"]: c["status"] for c in p["status"].get("conditions") or []}.get("Ready") == "True")


def idle(pid: int, seconds: float, other: int) -> tuple:
    cpu, cpu_other, started = cpu_seconds(pid), cpu_seconds(other), time.perf_counter()
    time.sleep(seconds)
    elapsed = time.perf_counter() - started
    return ((cpu_seconds(pid) - cpu) / elapsed * 100, memory_mib(pid), (cpu_seconds(other) - cpu_other) / elapsed * 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=3000)
    parser.add_argument("--idle", type=float, default=20.0)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="kap-sim-bench-")
    log = open(os.path.join(work, "components.log"), "ab")
    server = Server(os.path.join(work, "data"), ("--embedded-controllers=",))
    kubeconfig = server.write_kubeconfig(os.path.join(work, "kubeconfig"))
    node = None
    try:
        namespace(server, "bench")
        server.request("POST", "/api/v1/namespaces/bench/serviceaccounts",
                       {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})
        started = time.perf_counter()
        node = twistd("kube-node", f"--kubeconfig={kubeconfig}", f"--simulate={args.nodes}", "--node-name=sim",
                      f"--root-dir={work}/node", "--pod-cidr=10.128.0.0/9", log=log)
        wait(lambda: count(server, "/api/v1/nodes") >= args.nodes and
             count(server, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases") >= args.nodes,
             600, "the simulated nodes")
        registration = time.perf_counter() - started
        time.sleep(12)       # a full lease interval after registration
        node_cpu, node_rss, server_cpu = idle(node.pid, args.idle, server.process.pid)
        print(f"machine: {platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}")
        print(f"--simulate {args.nodes}: registered (Nodes and Leases) in {registration:.1f} s")
        print(f"idle with {args.nodes} nodes: kube-node {node_cpu:.1f}% of a CPU, RSS {node_rss:.0f} MiB; "
              f"apiserver {server_cpu:.1f}% of a CPU, RSS {server.rss_mib():.0f} MiB")
        if args.pods:
            def create(i):
                pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p-{i:06d}"},
                       "spec": {"nodeName": node_name(i % args.nodes, args.nodes),
                                "containers": [{"name": "c", "image": "busybox"}]}}
                status, _, raw = server.request("POST", "/api/v1/namespaces/bench/pods", pod)
                assert status == 201, raw[:300]
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                list(pool.map(create, range(args.pods)))
            created = time.perf_counter() - started
            # Cheap to ask however many pods there are: is any pod not yet Running? (A simulated node writes
            # Running and Ready together.)  Then the full check once.
            wait(lambda: count(server, "/api/v1/namespaces/bench/pods?fieldSelector=status.phase!=Running&limit=1",
                               raw=True) == 0, 1800, "the pods")
            assert count(server, "/api/v1/namespaces/bench/pods", True) == args.pods
            running = time.perf_counter() - started
            time.sleep(5)
            node_cpu, node_rss, server_cpu = idle(node.pid, args.idle, server.process.pid)
            print(f"{args.pods} pods: created in {created:.1f} s, all Running and Ready after {running:.1f} s; "
                  f"kube-node peak RSS {memory_mib(node.pid, 'VmHWM'):.0f} MiB")
            print(f"idle with {args.pods} pods: kube-node {node_cpu:.1f}% of a CPU, RSS {node_rss:.0f} MiB; "
                  f"apiserver {server_cpu:.1f}% of a CPU, RSS {server.rss_mib():.0f} MiB")
    finally:
        if node is not None:
            node.terminate()
            try:
                node.wait(10)
            except subprocess.TimeoutExpired:
                node.kill()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

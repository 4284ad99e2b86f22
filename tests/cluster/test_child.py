"""kapiserver.cluster.child: a daemon in a process group of its own that stops when kube-cluster is gone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kapiserver.cluster import pki

from .processes import Watched
from .test_standins import free_port

ROOT = Path(__file__).resolve().parent.parent.parent


def test_a_daemon_stops_when_its_stdin_closes(tmp_path):
    """A kube-node run through the child wrapper leads a process group of its own, and shuts down (as on
    SIGTERM) once the pipe on its stdin closes, as when kube-cluster is killed."""
    files = pki.ensure_cluster_pki(tmp_path, f"https://127.0.0.1:{free_port()}", ["node-1"])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    node = Watched([sys.executable, "-m", "kapiserver.cluster.child", "kube-node",
                    f"--kubeconfig={files.nodes['node-1']}", "--node-name=node-1", f"--kubelet-port={free_port()}",
                    f"--root-dir={tmp_path / 'node-1'}"], cwd=ROOT, env=env, stdin=subprocess.PIPE)
    try:
        # Its agent failing to reach the (absent) apiserver: twistd's reactor, and its signal handlers, run.
        node.wait_for(lambda line: "node agent" in line, timeout=30)
        assert os.getpgid(node.process.pid) == node.process.pid
        node.process.stdin.close()
        assert node.stop(15, signum=None) in (0, -15)
        assert any("Received SIGTERM, shutting down." in line for line in node.lines)
    finally:
        node.kill()

def test_a_daemon_not_installed_says_so_in_one_line():
    """An unknown plugin is one line and exit status 127, not twistd's whole usage text."""
    child = Watched([sys.executable, "-m", "kapiserver.cluster.child", "kube-nothing", "--flag"], cwd=ROOT,
                    env=dict(os.environ, PYTHONPATH=str(ROOT)))
    child.wait_for(lambda line: "kube-nothing is not installed" in line, timeout=30)
    assert child.process.wait(30) == 127
    assert len(child.lines) == 1

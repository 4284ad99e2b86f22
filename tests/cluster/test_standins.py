"""kube-cluster's service on real processes, with stand-ins for the four daemons (tests/cluster/standins)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .processes import Watched, processes_mentioning

ROOT = Path(__file__).resolve().parent.parent.parent
RUN = Path(__file__).resolve().parent / "standins" / "run.py"


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_stand_ins_start_behind_readiness_restart_and_stop_in_reverse(tmp_path):
    """The daemons start once the (stand-in) apiserver's /readyz answers over TLS with the cluster CA; the
    crashing scheduler is restarted after 1 s then 2 s; every line is tagged, a partial one written whole at
    the end; SIGTERM stops the nodes, then the controller manager, then the apiserver, and nothing is left."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cluster = Watched([sys.executable, str(RUN), f"--data-dir={tmp_path}", f"--apiserver-port={free_port()}",
                       "--nodes=2", "--stop-timeout=5"], cwd=ROOT, env=env)
    try:
        cluster.wait_for(lambda line: "restarting in 2 s" in line, timeout=30)
        cluster.wait_for(lambda line: line.startswith("node-2") and "stand-in node up" in line, timeout=30)
        started = [line for line in cluster.lines if "started (pid" in line]
        assert [line.split("] ")[1].split()[0] for line in started[:5]] == [
            "apiserver", "controller-manager", "scheduler", "node-1", "node-2"]
        assert cluster.lines.index(next(line for line in cluster.lines if "apiserver is ready" in line)) < \
            cluster.lines.index(started[1])
        assert f"    export KUBECONFIG={tmp_path / 'admin.kubeconfig'}" in cluster.lines
        assert "scheduler          | stand-in crasher starting, then crashing" in cluster.lines
        assert any("scheduler exited with code 3" in line and "restarting in 1 s" in line for line in cluster.lines)
        assert cluster.stop(timeout=20) == 0
    finally:
        cluster.kill()
    stopped = [line.split("] ")[1].split()[0] for line in cluster.lines if " stopped (" in line]
    assert stopped[-1] == "apiserver" and stopped[-2] == "controller-manager"
    assert sorted(stopped[:2]) == ["node-1", "node-2"]
    assert "node-1             | half a line and done" in cluster.lines
    assert "apiserver          | stand-in apiserver stopping" in cluster.lines
    assert processes_mentioning(str(tmp_path)) == []

"""Graceful termination on etcd, where a write is acknowledged before the watch cache hears of it: the
shutdown waits for the caches to catch up with etcd's revision before it ends the watches."""

from __future__ import annotations

from e2e.conftest import APIServerProcess
from reliability.test_restarts import check_sigterm_then_resume


def test_sigterm_during_writes_on_etcd_delivers_every_acknowledged_event(etcd, tmp_path):
    """Writers PATCH while SIGTERM stops an apiserver on etcd: its watcher's stream holds every write answered
    200, and a watch resumed after the restart sees every acknowledged write exactly once, in order."""
    check_sigterm_then_resume(APIServerProcess(tmp_path / "data",
                                               args=(f"--etcd-servers={','.join(etcd.urls)}",)))

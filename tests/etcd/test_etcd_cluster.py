"""
A three-member etcd cluster on loopback loses a member under writes: every
write the backend acknowledged is still there, and writes go on through the
surviving members.
"""

from __future__ import annotations

from twisted.internet import reactor
from twisted.internet.defer import Deferred

from kapiserver.storage import Unavailable
from kapiserver.storage.etcd3 import Etcd3Storage


def test_killing_a_member_under_writes_loses_no_acknowledged_write(etcd3_cluster, run, run_until):
    """SIGKILL of the member in use, with 16 creates in flight, loses no acknowledged write,
    and a watch through it resumes on a survivor with every write once, in order."""
    storage = Etcd3Storage(etcd3_cluster.urls, reactor, timeout=2.0)
    start = run(storage.current_revision())
    watched = []
    storage.watch(b"/acked/", start, watched.append)
    acknowledged, failed = [], []
    state = {"next": 0, "in_flight": 0, "killed_at": None}
    total = 600

    def issue():
        while state["next"] < total and state["in_flight"] < 16:
            key = b"/acked/%05d" % state["next"]
            state["next"] += 1
            state["in_flight"] += 1
            d: Deferred = storage.create(key, b"v")
            d.addCallbacks(lambda rev, key=key: acknowledged.append(key),
                           lambda f: failed.append(f.trap(Unavailable)))
            d.addBoth(done)

    def done(_):
        state["in_flight"] -= 1
        if len(acknowledged) >= 150 and state["killed_at"] is None:
            # The first member is the one the client uses first.
            state["killed_at"] = len(acknowledged)
            etcd3_cluster.members[0].kill()
        issue()

    try:
        issue()
        run_until(lambda: state["next"] == total and state["in_flight"] == 0, timeout=30)
        assert state["killed_at"] is not None
        assert len(acknowledged) - state["killed_at"] > 300, "writes continue on the survivors"
        survivors = Etcd3Storage(etcd3_cluster.urls[1:], reactor)
        stored = {kv.key for kv in run(survivors.range(b"/acked/")).kvs}
        run(survivors.close())
        assert set(acknowledged) <= stored
        assert len(acknowledged) + len(failed) == total
        end = run(storage.current_revision())
        run_until(lambda: len(watched) >= end - start, timeout=10)
        assert [e.revision for e in watched] == list(range(start + 1, end + 1))
        assert set(acknowledged) <= {e.kv.key for e in watched}
    finally:
        run(storage.close())

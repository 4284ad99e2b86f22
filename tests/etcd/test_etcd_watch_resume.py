"""On etcd too, a watch resumed with a resourceVersion from before an apiserver restart continues without a
gap: the events below the restarted watch cache's window come from etcd's history."""

from __future__ import annotations

from e2e.conftest import APIServerProcess
from e2e.test_watch_resume import check_compacted_watch_is_410, check_resume_across_restart


def test_watch_resumes_across_an_apiserver_restart_on_etcd(etcd, tmp_path):
    """A watch from a resourceVersion a few writes before the apiserver restarted gets every later event, in
    order, instead of 410."""
    server = APIServerProcess(tmp_path / "data", args=(f"--etcd-servers={','.join(etcd.urls)}",))
    server.start()
    try:
        check_resume_across_restart(server, "resume-etcd")
    finally:
        server.stop()


def test_watch_from_a_revision_etcd_compacted_is_410(etcd, tmp_path):
    """A watch from a revision etcd has compacted away is still 410 Expired."""
    server = APIServerProcess(tmp_path / "data", args=(f"--etcd-servers={','.join(etcd.urls)}",
                                                       "--etcd-compaction-interval=1s"))
    server.start()
    try:
        check_compacted_watch_is_410(server, "old-etcd")
    finally:
        server.stop()

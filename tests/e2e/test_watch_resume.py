"""A watch resumed with a resourceVersion from before a restart continues without a gap and without a relist:
the events below the restarted watch cache's window come from storage's log."""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlparse

from .conftest import APIServerProcess

PATH = "/api/v1/namespaces/default/configmaps"


def _patch(server, name: str, value: str) -> str:
    status, body = server.request("PATCH", f"{PATH}/{name}", json.dumps({"data": {"v": value}}).encode(),
                                  {"Content-Type": "application/merge-patch+json"})
    assert status == 200, body
    return body["metadata"]["resourceVersion"]


def watch_events(server, rv: str, name: str, count: int, timeout: float = 30.0) -> list[tuple]:
    """The first ``count`` events (type, resourceVersion, data.v) of a watch of configmap ``name`` from ``rv``."""
    url = urlparse(server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        conn.request("GET", f"{PATH}?watch=1&resourceVersion={rv}&fieldSelector=metadata.name%3D{name}")
        response = conn.getresponse()
        assert response.status == 200
        events = []
        while len(events) < count:
            line = response.readline()
            assert line, f"the watch ended after {events}"
            event = json.loads(line)
            obj = event["object"]
            events.append((event["type"], obj["metadata"].get("resourceVersion"),
                           obj.get("data", {}).get("v") if event["type"] != "ERROR" else obj.get("message")))
        return events
    finally:
        conn.close()


def check_resume_across_restart(server: APIServerProcess, name: str) -> None:
    """Writes, a restart, a write; a watch from a resourceVersion before the restart gets exactly the events
    after it, in order."""
    status, created = server.request("POST", PATH, {"metadata": {"name": name}, "data": {"v": "0"}})
    assert status == 201, created
    rvs = [_patch(server, name, str(i)) for i in (1, 2, 3)]
    server.stop()
    server.start()
    after_restart = _patch(server, name, "4")
    events = watch_events(server, rvs[0], name, 3)
    assert events == [("MODIFIED", rvs[1], "2"), ("MODIFIED", rvs[2], "3"), ("MODIFIED", after_restart, "4")]


def test_watch_resumes_across_a_restart_on_the_embedded_store(tmp_path):
    """On the embedded store, a watch from a resourceVersion a few writes before a restart resumes (no 410)."""
    server = APIServerProcess(tmp_path / "data")
    server.start()
    try:
        check_resume_across_restart(server, "resume")
    finally:
        server.stop()


def check_compacted_watch_is_410(server: APIServerProcess, name: str) -> None:
    """Once compaction (--etcd-compaction-interval=1s) has removed a revision and a restart emptied the watch
    cache's window, a watch from it ends with a 410 Expired ERROR event naming the compaction point."""
    status, created = server.request("POST", PATH, {"metadata": {"name": name}, "data": {"v": "0"}})
    assert status == 201, created
    first = created["metadata"]["resourceVersion"]
    # Storage must have lost the events after ``first``, not only ``first`` itself: poll until a revision
    # after them is gone (the compactor compacts, each run, to the revision current at the run before; a
    # list at exactly a compacted revision is 410).
    later = _patch(server, name, "1")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _patch(server, name, "x")
        status, _ = server.request("GET", f"{PATH}?resourceVersion={later}&resourceVersionMatch=Exact")
        if status == 410:
            break
        time.sleep(0.2)
    assert status == 410
    server.stop()
    server.start()
    events = watch_events(server, first, name, 1)
    assert events[0][0] == "ERROR" and events[0][2].startswith(f"too old resource version: {first} ("), events


def test_watch_from_a_compacted_revision_is_410(tmp_path):
    """On the embedded store, a watch from a revision compaction removed is still 410 Expired, as upstream's."""
    server = APIServerProcess(tmp_path / "data", args=("--etcd-compaction-interval=1s",))
    server.start()
    try:
        check_compacted_watch_is_410(server, "old")
    finally:
        server.stop()

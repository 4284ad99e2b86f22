"""kill -9 and SIGTERM under a write load, then a restart on the same data dir: no acknowledged write is lost
or changed, and a watch resumed from the last resourceVersion it saw gets every acknowledged event exactly
once, in order, without a relist."""

from __future__ import annotations

import http.client
import json
import signal
import threading
import time

from e2e.conftest import APIServerProcess

PATH = "/api/v1/namespaces/default/configmaps"
WRITERS = 4


def _load(port: int, prefix: str, acknowledged: list, stop: threading.Event, patch: bool) -> None:
    """Creates configmaps ``prefix-N`` (or PATCHes ``prefix``) over one keep-alive connection until the server
    stops answering; records (name, resourceVersion, data) of every success."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    i = 0
    try:
        while not stop.is_set():
            i += 1
            if patch:
                conn.request("PATCH", f"{PATH}/{prefix}", body=json.dumps({"data": {"n": str(i)}}),
                             headers={"Content-Type": "application/merge-patch+json"})
            else:
                conn.request("POST", PATH, body=json.dumps({"metadata": {"name": f"{prefix}-{i}"},
                                                            "data": {"n": str(i)}}),
                             headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            body = response.read()
            if response.status not in (200, 201):
                return
            obj = json.loads(body)
            acknowledged.append((obj["metadata"]["name"], obj["metadata"]["resourceVersion"], obj["data"]))
    except (OSError, http.client.HTTPException):
        return
    finally:
        conn.close()


def _run_load(server, patch: bool, prefixes: list[str], until: int):
    acknowledged: list[list] = [[] for _ in prefixes]
    stop = threading.Event()
    threads = [threading.Thread(target=_load, args=(server.port, p, acknowledged[i], stop, patch), daemon=True)
               for i, p in enumerate(prefixes)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while sum(map(len, acknowledged)) < until and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sum(map(len, acknowledged)) >= until, server.log()
    return acknowledged, stop, threads


def test_kill_9_during_concurrent_creates_loses_no_acknowledged_write(tmp_path):
    """kill -9 while four clients create: after a restart every create answered 201 is there, unchanged, at the
    resourceVersion it was answered with."""
    server = APIServerProcess(tmp_path / "data").start()
    try:
        acknowledged, stop, threads = _run_load(server, False, [f"k{w}" for w in range(WRITERS)], 200)
        server.process.kill()
        server.process.wait(20)
        stop.set()
        for t in threads:
            t.join(20)
        server.start()
        status, listed = server.request("GET", PATH)
        assert status == 200
        stored = {item["metadata"]["name"]: (item["metadata"]["resourceVersion"], item.get("data"))
                  for item in listed["items"]}
        lost = [(name, rv, data) for each in acknowledged for name, rv, data in each
                if stored.get(name) != (rv, data)]
        assert not lost, f"{len(lost)} acknowledged creates lost or changed: {lost[:5]}"
    finally:
        server.stop()


def _watch(port: int, rv: str, seen: list, ended: list) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", f"{PATH}?watch=1&resourceVersion={rv}")
        response = conn.getresponse()
        assert response.status == 200
        for line in iter(response.readline, b""):
            event = json.loads(line)
            obj = event["object"]
            seen.append((event["type"], obj["metadata"].get("name"), obj["metadata"].get("resourceVersion")))
        ended.append("clean")
    except Exception as e:  # noqa: BLE001 - reported by the caller's assertion
        ended.append(repr(e))
    finally:
        conn.close()


def test_sigterm_during_writes_then_a_resumed_watch_sees_every_event_once_in_order(tmp_path):
    """Writers PATCH over keep-alive connections while SIGTERM stops the server: the process exits 0, the
    watcher's stream ends cleanly holding every write answered 200; after a restart the watch resumed from the
    last resourceVersion it saw (no relist) and the first stream together hold every acknowledged write
    exactly once, in resourceVersion order."""
    check_sigterm_then_resume(APIServerProcess(tmp_path / "data"))


def check_sigterm_then_resume(server: APIServerProcess) -> None:
    """The SIGTERM test's body, for any backend: ``server`` is not started yet."""
    server.start()
    try:
        names = [f"t{w}" for w in range(WRITERS)]
        start_rv = None
        for name in names:
            status, created = server.request("POST", PATH, {"metadata": {"name": name}, "data": {"n": "0"}})
            assert status == 201
            start_rv = created["metadata"]["resourceVersion"]
        seen: list = []
        ended: list = []
        watcher = threading.Thread(target=_watch, args=(server.port, start_rv, seen, ended), daemon=True)
        watcher.start()
        acknowledged, stop, threads = _run_load(server, True, names, 60)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(60) == 0, server.log()
        stop.set()
        for t in threads:
            t.join(20)
        watcher.join(20)
        assert ended == ["clean"], ended
        # Graceful termination: every write answered before the stream ended is in that stream.
        before = {rv for each in acknowledged for _, rv, _ in each}
        missing = before - {rv for _, _, rv in seen}
        assert not missing, f"{len(missing)} acknowledged writes missing from the stream SIGTERM ended"
        last_seen = seen[-1][2]
        server.start()
        # One more write after the restart, then the resume.
        status, after = server.request("PATCH", f"{PATH}/{names[0]}", json.dumps({"data": {"n": "after"}}).encode(),
                                       {"Content-Type": "application/merge-patch+json"})
        assert status == 200
        acknowledged[0].append((names[0], after["metadata"]["resourceVersion"], after["data"]))
        resumed: list = []
        resumed_ended: list = []
        conn_thread = threading.Thread(target=_watch, args=(server.port, last_seen, resumed, resumed_ended),
                                       daemon=True)
        conn_thread.start()
        wanted = {rv for each in acknowledged for _, rv, _ in each}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not wanted <= {rv for _, _, rv in seen + resumed}:
            time.sleep(0.05)
        assert not any(t == "ERROR" for t, _, _ in resumed), resumed[:3]
        ours = [(t, n, rv) for t, n, rv in seen + resumed if n in names]
        rvs = [int(rv) for _, _, rv in ours]
        assert rvs == sorted(rvs) and len(rvs) == len(set(rvs)), "events out of order or repeated"
        missing = wanted - {rv for _, _, rv in ours}
        assert not missing, f"{len(missing)} acknowledged writes never seen: {sorted(missing)[:10]}"
    finally:
        server.stop()

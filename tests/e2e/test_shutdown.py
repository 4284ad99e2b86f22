"""Graceful termination, as upstream's: on SIGTERM /readyz fails first (for --shutdown-delay-duration), then
new requests are refused while those in flight finish, every acknowledged write reaches the watchers, and
only then do the watches end and storage close."""

from __future__ import annotations

import http.client
import json
import signal
import threading
import time

from .conftest import APIServerProcess

WRITERS = 4


def _writer(port: int, name: str, acknowledged: list, stop: threading.Event) -> None:
    """PATCHes configmap ``name`` over one keep-alive connection (as client-go does) until the server stops
    answering; records the resourceVersion of every 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    i = 0
    try:
        while not stop.is_set():
            i += 1
            conn.request("PATCH", f"/api/v1/namespaces/default/configmaps/{name}",
                         body=json.dumps({"data": {"n": str(i)}}),
                         headers={"Content-Type": "application/merge-patch+json"})
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                return
            acknowledged.append(json.loads(body)["metadata"]["resourceVersion"])
    except (OSError, http.client.HTTPException):
        return
    finally:
        conn.close()


def test_every_write_answered_before_sigterm_reaches_the_watcher(tmp_path):
    """Writers PATCH on keep-alive connections while SIGTERM arrives: every write answered 200 is in the
    watch stream before it ends, the stream ends cleanly, and the process exits 0."""
    server = APIServerProcess(tmp_path / "data").start()
    try:
        start_rv = None
        for w in range(WRITERS):
            status, created = server.request("POST", "/api/v1/namespaces/default/configmaps",
                                             {"metadata": {"name": f"race-{w}"}, "data": {"n": "0"}})
            assert status == 201, created
            start_rv = created["metadata"]["resourceVersion"]
        watch = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        watch.request("GET", f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={start_rv}")
        stream = watch.getresponse()
        assert stream.status == 200
        seen: list[str] = []
        ended = []

        def read_watch():
            try:
                for line in iter(stream.readline, b""):
                    event = json.loads(line)
                    seen.append(event["object"]["metadata"].get("resourceVersion"))
                ended.append("clean")
            except Exception as e:  # noqa: BLE001 - reported by the assertion below
                ended.append(repr(e))
        reader = threading.Thread(target=read_watch, daemon=True)
        reader.start()
        acknowledged: list[list] = [[] for _ in range(WRITERS)]
        stop = threading.Event()
        writers = [threading.Thread(target=_writer, args=(server.port, f"race-{w}", acknowledged[w], stop),
                                    daemon=True) for w in range(WRITERS)]
        for t in writers:
            t.start()
        deadline = time.monotonic() + 30
        while sum(map(len, acknowledged)) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sum(map(len, acknowledged)) >= 40, server.log()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(60) == 0, server.log()
        stop.set()
        for t in writers:
            t.join(20)
        reader.join(20)
        assert ended == ["clean"], (ended, server.log())
        missing = [rv for each in acknowledged for rv in each if rv not in set(seen)]
        assert not missing, f"{len(missing)} acknowledged writes never reached the watcher: {missing[:10]}"
    finally:
        server.stop()


def test_readyz_fails_during_the_shutdown_delay_while_requests_are_served(tmp_path):
    """With --shutdown-delay-duration, SIGTERM makes /readyz answer 500 with "[-]shutdown failed" while other
    requests are still served; then the process exits 0."""
    server = APIServerProcess(tmp_path / "data", args=("--shutdown-delay-duration=3s",)).start()
    try:
        status, text = server.request("GET", "/readyz?verbose")
        assert status == 200 and "[+]shutdown ok" in text
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status, text = server.request("GET", "/readyz")
            if status != 200:
                break
            time.sleep(0.02)
        assert status == 500 and "[-]shutdown failed: reason withheld" in text, text
        status, _ = server.request("GET", "/api/v1/namespaces/default")
        assert status == 200
        assert server.process.wait(60) == 0, server.log()
    finally:
        server.stop()

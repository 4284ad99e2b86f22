"""The audit log's writer: events are handed to a thread of the log's own, so logging one never waits on the
file; they are written in the order they came, and closing writes every one logged before it."""

from __future__ import annotations

import json
import threading
from queue import SimpleQueue

from twisted.python.threadpool import ThreadPool
from twisted.web.test.requesthelper import DummyRequest

from kapiserver.auth.audit import AuditLog
from kapiserver.endpoints.requestinfo import request_info


class Reactor:
    """What AuditLog.close asks of a reactor: a thread pool, and calls from it run when the test says."""

    def __init__(self):
        self.pool = ThreadPool(1, 1)
        self.pool.start()
        self.calls: SimpleQueue = SimpleQueue()

    def getThreadPool(self):
        return self.pool

    def callFromThread(self, f, *args, **kwargs):
        self.calls.put((f, args, kwargs))

    def run_one_call(self):
        f, args, kwargs = self.calls.get(timeout=30)
        f(*args, **kwargs)


class BlockedStream:
    """A stream whose writes wait until it is let go (a full pipe, a stalled disk)."""

    def __init__(self):
        self.go = threading.Event()
        self.written: list[str] = []

    def write(self, text):
        self.go.wait(30)
        self.written.append(text)

    def flush(self):
        pass

    def close(self):
        self.closed = True


def _close(audit: AuditLog) -> None:
    """Close ``audit`` and see its Deferred fire once its writer is done."""
    reactor = Reactor()
    try:
        closed = audit.close(reactor)
        reactor.run_one_call()
        assert closed.called
    finally:
        reactor.pool.stop()


def _request(name: str) -> tuple:
    request = DummyRequest([b""])
    request.uri = f"/api/v1/namespaces/default/configmaps/{name}".encode()
    request.method = b"GET"
    request.code = 200
    return request, request_info("GET", request.uri.decode(), {})


def test_logging_does_not_wait_for_the_file_and_keeps_the_order(tmp_path):
    audit = AuditLog(str(tmp_path / "audit.log"))
    audit.stream.close()
    stream = audit.stream = BlockedStream()
    for i in range(200):
        audit.log(*_request(f"c{i}"), 1.0, 2.0)      # returns though nothing can be written yet
    assert stream.written == []
    stream.go.set()
    _close(audit)
    events = [json.loads(line) for line in "".join(stream.written).splitlines()]
    assert [e["objectRef"]["name"] for e in events] == [f"c{i}" for i in range(200)]
    assert len(stream.written) < 200        # written many at a time
    assert stream.closed


def test_stop_writes_every_event_to_the_file(tmp_path):
    path = tmp_path / "audit.log"
    audit = AuditLog(str(path))
    for i in range(50):
        audit.log(*_request(f"c{i}"), 1.0, 2.0)
    audit.stop()
    lines = path.read_text().splitlines()
    assert len(lines) == 50
    first = json.loads(lines[0])
    assert first["kind"] == "Event" and first["verb"] == "get" and first["responseStatus"]["code"] == 200

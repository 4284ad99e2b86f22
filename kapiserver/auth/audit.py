"""
The audit log (--audit-log-path): one audit.k8s.io/v1 Event per request at
the Metadata level, written as a JSON line when the response completes.
"""

from __future__ import annotations

import datetime
import sys
import threading
from queue import Empty, SimpleQueue

from twisted.internet import threads
from twisted.logger import Logger

from ..machinery import codec
from ..machinery.meta import new_uid


def _timestamp(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


log = Logger()


class AuditLog:
    """The events are made on the reactor thread and written by a thread of the log's own, in the order they
    came, as many at a time as have queued: the reactor never waits on the file (or a slow standard out)."""

    def __init__(self, path: str):
        # "-" is standard out, as upstream.  The file is opened here, so a path that cannot be written fails
        # the start.
        self.stream = sys.stdout if path == "-" else open(path, "a")
        self._lines: SimpleQueue = SimpleQueue()
        self._writer = threading.Thread(target=self._write, name="audit-log", daemon=True)
        self._writer.start()

    def event(self, request, info, received: float, finished: float) -> dict:
        auth = getattr(request, "kapi_auth", None)
        event = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
                 "auditID": getattr(request, "kapi_audit_id", None) or new_uid(), "stage": "ResponseComplete",
                 "requestURI": request.uri.decode("utf-8", "replace"),
                 "verb": info.verb if info is not None else request.method.decode().lower()}
        if auth is not None:
            who = auth.authenticated or auth.user
            event["user"] = who.to_api()
            if auth.authenticated is not None and auth.user is not auth.authenticated:
                event["impersonatedUser"] = auth.user.to_api()
        else:
            event["user"] = {}
        client = request.getClientAddress()
        event["sourceIPs"] = [getattr(client, "host", "")] if getattr(client, "host", "") else []
        agent = request.getHeader(b"user-agent")
        if agent:
            event["userAgent"] = agent.decode("utf-8", "replace")
        if info is not None and info.is_resource_request:
            ref = {"resource": info.resource}
            for key, value in (("namespace", info.namespace), ("name", info.name),
                               ("apiGroup", info.api_group), ("apiVersion", info.api_version),
                               ("subresource", info.subresource)):
                if value:
                    ref[key] = value
            event["objectRef"] = ref
        code = request.code or 200
        status: dict = {"metadata": {}, "code": code}
        if code >= 400:
            status["status"] = "Failure"
        event["responseStatus"] = status
        event["requestReceivedTimestamp"] = _timestamp(received)
        event["stageTimestamp"] = _timestamp(finished)
        if auth is not None and auth.decision:
            event["annotations"] = {"authorization.k8s.io/decision": auth.decision,
                                    "authorization.k8s.io/reason": auth.reason}
        extra = getattr(request, "kapi_audit_annotations", None)
        if extra:   # recorded while serving the request (admission's, e.g. PodSecurity's)
            event.setdefault("annotations", {}).update(extra)
        return event

    def log(self, request, info, received: float, finished: float) -> None:
        self._lines.put(codec.encode(self.event(request, info, received, finished)).decode())

    def close(self, reactor=None):
        """``stop``, in a thread of ``reactor``'s pool: a Deferred firing once it is done."""
        if reactor is None:
            from twisted.internet import reactor
        return threads.deferToThreadPool(reactor, reactor.getThreadPool(), self.stop)

    def stop(self) -> None:
        """Return once every event logged so far is written and the file closed (it waits: not on the reactor)."""
        self._lines.put(None)
        self._writer.join()

    def _write(self) -> None:
        # The writer thread: each wait for a line, then every line queued behind it, in one write.
        stopping = False
        while not stopping:
            batch = [self._lines.get()]
            while batch[-1] is not None:
                try:
                    batch.append(self._lines.get_nowait())
                except Empty:
                    break
            if batch[-1] is None:
                stopping = True
                batch.pop()
            try:
                if batch:
                    self.stream.write("".join(batch))
                    self.stream.flush()
                if stopping and self.stream is not sys.stdout:
                    self.stream.close()
            except (OSError, ValueError) as e:
                log.error("audit log: cannot write {count} events: {error}", count=len(batch), error=str(e))

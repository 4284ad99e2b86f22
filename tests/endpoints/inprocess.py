"""The API served in process for the endpoints' tests: APIRoot behind the runtime's limits, over a MemoryStorage
registry on a task.Clock, asked through treq's StubTreq (no sockets, no reactor)."""

from __future__ import annotations

import json
from typing import Callable, Optional

from treq.testing import StubTreq
from twisted.internet import task

from kapiserver import runtime
from kapiserver.endpoints.api import APIContext
from kapiserver.endpoints.root import APIRoot
from kapiserver.registry.registry import Registry
from kapiserver.storage.memory import MemoryStorage


class Answer:
    """One response: its code, its body decoded (a stream's first line; text that is not JSON as it is; None when
    empty), its headers and its Warning headers."""

    def __init__(self, code: int, body, headers):
        self.code, self.body, self.headers = code, body, headers
        self.warnings = headers.getRawHeaders("Warning") or []


def streams_client(kubelet) -> tuple:
    """(StubTreq client, clock, registry) of a fresh API whose node streams (logs, exec, proxy...) reach
    ``kubelet``: a stand-in with ``connection_info(node_name)`` and ``dial(host, port, protocol)``."""
    from kapiserver.endpoints.streams import NodeStreams
    clock = task.Clock()
    registry = Registry(MemoryStorage(clock), clock)
    clock.advance(0)
    root = APIRoot(APIContext(registry, clock, clock, streams=NodeStreams(clock, kubelet, registry)))
    return StubTreq(runtime.RuntimeLimits(root, clock, request_timeout=60)), clock, registry


def _decoded(text: bytes):
    if not text.strip():
        return None
    try:
        return json.loads(text.splitlines()[0])
    except ValueError:
        return text


def served(setup: Optional[Callable] = None, namespace: Optional[str] = "default"):
    """``call(method, path, body=None, content_type="application/json", wait=0) -> Answer`` against a fresh
    registry (``setup(registry, clock)`` first, e.g. to start a controller), with ``namespace`` created; ``wait``
    seconds pass once the response began (a watch's timeoutSeconds)."""
    clock = task.Clock()
    registry = Registry(MemoryStorage(clock), clock)
    if setup is not None:
        setup(registry, clock)
    clock.advance(0)
    client = StubTreq(runtime.RuntimeLimits(APIRoot(APIContext(registry, clock, clock)), clock, request_timeout=60))

    def call(method: str, path: str, body=None, content_type: str = "application/json", wait: float = 0) -> Answer:
        responses, bodies = [], []
        data = (body if isinstance(body, bytes) else json.dumps(body).encode()) if body is not None else None
        client.request(method, "http://api" + path, data=data,
                       headers={"Content-Type": content_type}).addCallback(responses.append)
        for _ in range(5):
            client.flush()
            clock.advance(0)
        assert responses, (method, path)
        client.content(responses[0]).addCallback(bodies.append)
        client.flush()
        for _ in range(3 if wait else 0):
            clock.advance(wait)
            client.flush()
        return Answer(responses[0].code, _decoded(bodies[0] if bodies else b""), responses[0].headers)

    if namespace:
        created = call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": namespace}})
        assert created.code == 201, created.body
    return call

"""exec, attach and portforward are streams or nothing: a request for one that does not ask to upgrade its connection
(upstream's httpstream.IsUpgradeRequest: a Connection header mentioning "upgrade") is the apiserver's own 400
"Upgrade request required", the kubelet never dialled; log and proxy are forwarded as plain requests."""

from __future__ import annotations

import json

import pytest
from twisted.internet.defer import Deferred

from tests.endpoints.inprocess import streams_client

UPGRADE_REQUIRED = (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
                    b'"message":"Upgrade request required","reason":"BadRequest","code":400}\n')


class Kubelet:
    """The kubelet client's two calls, the dials recorded and left pending (nothing listens)."""

    def __init__(self):
        self.dialled = []

    async def connection_info(self, node_name: str):
        return "http", "127.0.0.1", 10250

    def dial(self, host, port, protocol):
        self.dialled.append((host, port))
        return Deferred()


@pytest.fixture
def world():
    kubelet = Kubelet()
    client, clock, registry = streams_client(kubelet)
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}}
    _call(client, clock, "POST", "/api/v1/namespaces", ns)
    assert _call(client, clock, "POST", "/api/v1/namespaces/default/pods", pod)[0] == 201
    return client, clock, kubelet


def _call(client, clock, method, path, body=None, headers=None):
    """(code, body) of a request answered; (None, None) while it waits (on a dial)."""
    responses, bodies = [], []
    data = json.dumps(body).encode() if body is not None else None
    client.request(method, "http://api" + path, data=data,
                   headers=dict({"Content-Type": "application/json"}, **(headers or {}))).addCallback(responses.append)
    for _ in range(10):
        client.flush()
        clock.advance(0)
    if not responses:
        return None, None
    client.content(responses[0]).addCallback(bodies.append)
    client.flush()
    return responses[0].code, bodies[0]


@pytest.mark.parametrize("path", [
    "/api/v1/namespaces/default/pods/p/exec?command=ls&stdout=true",
    "/api/v1/namespaces/default/pods/p/attach?stdout=true",
    "/api/v1/namespaces/default/pods/p/portforward?ports=80",
])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_stream_without_an_upgrade_is_refused_by_the_apiserver(world, method, path):
    client, clock, kubelet = world
    # An Upgrade header without Connection: Upgrade (an HTTP/2 client strips Connection) is no upgrade request.
    for headers in ({}, {"Upgrade": "SPDY/3.1"}, {"Connection": "keep-alive"}):
        assert _call(client, clock, method, path, headers=headers) == (400, UPGRADE_REQUIRED), headers
    assert kubelet.dialled == []


def test_the_plain_streams_go_on_to_the_kubelet(world):
    """A log is read from the kubelet without an upgrade (an upgraded exec is relayed: tests/e2e/test_streams.py)."""
    client, clock, kubelet = world
    assert _call(client, clock, "GET", "/api/v1/namespaces/default/pods/p/log") == (None, None)
    assert kubelet.dialled == [("127.0.0.1", 10250)]


def test_a_websocket_is_asked_for_by_an_upgrade_request_alone():
    """Watch, log and the kubelet API take a WebSocket only when the request is an upgrade request naming it
    (upstream's wsstream.IsWebSocketRequest): an Upgrade header without Connection: Upgrade is a plain request."""
    from twisted.web.test.requesthelper import DummyRequest

    from kapiserver.endpoints.upgrade import wants_upgrade

    def request(**headers):
        r = DummyRequest([b""])
        for name, value in headers.items():
            r.requestHeaders.setRawHeaders(name.encode(), [value.encode()])
        return r

    assert not wants_upgrade(request(Upgrade="websocket"), "websocket")
    assert not wants_upgrade(request(Upgrade="websocket", Connection="keep-alive"), "websocket")
    assert wants_upgrade(request(Upgrade="websocket", Connection="keep-alive, Upgrade"), "websocket")
    assert wants_upgrade(request(Upgrade="WebSocket", Connection="upgrade"), "websocket")
    assert not wants_upgrade(request(Upgrade="SPDY/3.1", Connection="Upgrade"), "websocket")

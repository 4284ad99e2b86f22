"""Forwarding one plain (non-upgrade) request to a backend and streaming its response back: pods/log,
and proxy requests to pods, services and nodes.  The response is relayed through the request object
rather than the raw connection, so it works the same over HTTP/1.1 and HTTP/2 (where a connection
carries many requests and cannot be handed over); upgrade requests are relayed byte for byte instead
(kapiserver.endpoints.streams)."""

from __future__ import annotations

from io import BytesIO

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Protocol
from twisted.web.client import Agent, FileBodyProducer
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgentEndpointFactory
from zope.interface import implementer

from ..machinery import errors

# Headers that describe one hop's connection, never forwarded (RFC 9110 section 7.6.1), plus the ones the
# forwarding client computes itself.
HOP_BY_HOP = frozenset((b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
                        b"trailer", b"transfer-encoding", b"upgrade", b"proxy-connection"))
_RECOMPUTED = frozenset((b"host", b"content-length"))


@implementer(IStreamClientEndpoint)
class _DialEndpoint:
    """Connects through the kubelet client's dial, so tunnels and kubelet TLS apply as for upgrades."""

    def __init__(self, dial, host: str, port: int):
        self.dial, self.host, self.port = dial, host, port

    def connect(self, factory):
        return Deferred.fromCoroutine(self._connect(factory.buildProtocol(None)))

    async def _connect(self, protocol):
        await self.dial(self.host, self.port, protocol)
        return protocol


@implementer(IAgentEndpointFactory)
class _Backend:
    def __init__(self, dial, host: str, port: int):
        self.endpoint = _DialEndpoint(dial, host, port)

    def endpointForURI(self, uri):
        return self.endpoint


def _forwarded_headers(request) -> Headers:
    headers = Headers()
    for name, values in request.requestHeaders.getAllRawHeaders():
        if name.lower() not in HOP_BY_HOP and name.lower() not in _RECOMPUTED:
            headers.setRawHeaders(name, values)
    return headers


class _BodyRelay(Protocol):
    """Writes the backend's response body to the client as it arrives; the backend is paused while the
    client cannot take more, and stopped when the client goes away."""

    def __init__(self, request, done: Deferred, throttle=None):
        self.request = request
        self.done = done
        self.throttle = throttle
        self.client_gone = False

    def connectionMade(self):
        self.request.registerProducer(self.transport, True)
        self.request.notifyFinish().addErrback(self._client_gone)

    def _client_gone(self, _reason):
        self.client_gone = True
        self.transport.stopProducing()

    def dataReceived(self, data):
        if self.client_gone:
            return
        if self.throttle is not None:
            self.throttle.send(data, self.request.write, self.transport)
        else:
            self.request.write(data)

    def connectionLost(self, reason):
        if self.client_gone or self.request.channel is None:
            # The client went away first: its connection (and the producer registration) is gone with it.
            self.done.callback(None)
            return
        self.request.unregisterProducer()
        # Whether the body ended cleanly (ResponseDone, PotentialDataLoss) or the backend broke off
        # mid-body, the status line is sent: all that is left is to end the response.
        if self.throttle is not None:
            self.throttle.when_drained(self._finish)
        else:
            self._finish()

    def _finish(self):
        if not self.request.finished and not getattr(self.request, "_disconnected", False):
            self.request.finish()
        self.done.callback(None)


async def forward(request, reactor, dial, host: str, port: int, path: bytes, throttle=None) -> None:
    """Send the request to host:port at `path` (with its query) and relay the response, status, headers
    and body, until the backend's response ends or the client goes away."""
    agent = Agent.usingEndpointFactory(reactor, _Backend(dial, host, port))
    request.content.seek(0)
    body = request.content.read()
    producer = FileBodyProducer(BytesIO(body)) if body or request.method in (b"POST", b"PUT", b"PATCH") \
        else None
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        response = await agent.request(request.method, b"http://" + netloc.encode() + path,
                                       _forwarded_headers(request), producer)
    except errors.StatusError:
        raise
    except Exception as e:
        raise errors.StatusError(503, "ServiceUnavailable",
                                 f"error trying to reach service: {_reason(e)}", {}) from None
    request.setResponseCode(response.code, response.phrase)
    for name, values in response.headers.getAllRawHeaders():
        if name.lower() not in HOP_BY_HOP:
            request.responseHeaders.setRawHeaders(name, values)
    done = Deferred()
    response.deliverBody(_BodyRelay(request, done, throttle))
    await done


def _reason(exc: Exception) -> str:
    # Agent wraps connection failures in ResponseNeverReceived/RequestTransmissionFailed lists of Failures.
    failures = getattr(exc, "reasons", None)
    if failures:
        return "; ".join(str(f.value) or type(f.value).__name__ for f in failures)
    return str(exc) or type(exc).__name__

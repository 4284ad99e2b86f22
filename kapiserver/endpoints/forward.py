"""Forwarding one plain (non-upgrade) request to a backend and streaming its response back: pods/log,
and proxy requests to pods, services and nodes.  The response is relayed through the request object
rather than the raw connection, so it works the same over HTTP/1.1 and HTTP/2 (where a connection
carries many requests and cannot be handed over); upgrade requests are relayed byte for byte instead
(kapiserver.endpoints.streams)."""

from __future__ import annotations

import base64
from io import BytesIO

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Protocol
from twisted.web.client import Agent, FileBodyProducer, ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgentEndpointFactory
from zope.interface import implementer

from ..machinery import errors
from ..machinery.podstreams import MAX_READ_LENGTH
from ..pool import in_pool
from .proxyrewrite import MAX_BODY, BodyError, Rewriter, URLError, rewrite_body
from .websocket import Session, serve_websocket

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


async def _send(request, reactor, dial, host: str, port: int, path: bytes, headers: Headers):
    """The backend's response to the request, sent on to host:port at `path` (with its query)."""
    agent = Agent.usingEndpointFactory(reactor, _Backend(dial, host, port))
    request.content.seek(0)
    body = request.content.read()
    producer = FileBodyProducer(BytesIO(body)) if body or request.method in (b"POST", b"PUT", b"PATCH") \
        else None
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        return await agent.request(request.method, b"http://" + netloc.encode() + path, headers, producer)
    except errors.StatusError:
        raise
    except Exception as e:
        raise errors.StatusError(503, "ServiceUnavailable",
                                 f"error trying to reach service: {_reason(e)}", {}) from None


async def forward(request, reactor, dial, host: str, port: int, path: bytes, throttle=None,
                  headers: Headers | None = None, check=None, content_type: bytes | None = None,
                  rewriter: Rewriter | None = None) -> None:
    """Send the request to host:port at `path` (with its query) and relay the response, status, headers
    and body, until the backend's response ends or the client goes away.  ``headers`` replaces the
    client's (less hop-by-hop ones) when given.  With ``check``, an answer outside 200-206 is not relayed:
    ``check(code, body)`` gives the error raised instead; ``content_type`` replaces the backend's.  With
    ``rewriter`` (a proxy subresource), the request and answer are a proxy's, as upstream's proxy transport
    makes them: see _proxied."""
    if headers is None:
        headers = _forwarded_headers(request)
    if rewriter is not None:
        headers.setRawHeaders(b"X-Forwarded-Uri", [rewriter.forwarded_uri.encode("utf-8", "surrogateescape")])
        # The client's address added to X-Forwarded-For, as Go's ReverseProxy adds it.
        client = getattr(request.getClientAddress(), "host", None)
        if client:
            prior = headers.getRawHeaders(b"x-forwarded-for") or []
            headers.setRawHeaders(b"X-Forwarded-For", [b", ".join([*prior, client.encode()])])
        # The client's Host goes on to the backend (the links it names are the apiserver's).
        host_header = request.requestHeaders.getRawHeaders(b"host")
        if host_header:
            headers.setRawHeaders(b"Host", host_header[:1])
    response = await _send(request, reactor, dial, host, port, path, headers)
    await _checked(response, check)
    if rewriter is not None and await _proxied(request, reactor, response, rewriter, throttle):
        return
    _relay(request, response)
    if content_type is not None:
        request.responseHeaders.setRawHeaders(b"content-type", [content_type])
    done = Deferred()
    response.deliverBody(_BodyRelay(request, done, throttle))
    await done


# Headers a proxied answer loses (upstream's corsRemovingTransport): CORS is the apiserver's to answer.
_CORS = (b"access-control-allow-credentials", b"access-control-allow-headers", b"access-control-allow-methods",
         b"access-control-allow-origin")
# Go's server writes a body of up to this many bytes, written in one go, with a Content-Length (else chunked).
_UNCHUNKED = 2048


async def _proxied(request, reactor, response, rewriter: Rewriter, throttle) -> bool:
    """A proxy's answer: the CORS headers dropped, a Location header rewritten (a value Go cannot parse is a
    500), and a text/html body in an encoding Go reads (identity, gzip, deflate) read whole, its links rewritten
    in the reactor's thread pool, and sent (True); any other body is left to be streamed (False).  A body past
    MAX_BODY bytes, as it came or decoded, is relayed as it came (True), what is left of it streamed."""
    for name in _CORS:
        response.headers.removeHeader(name)
    location = response.headers.getRawHeaders(b"location")
    if location:
        try:
            rewritten = rewriter.location(location[0].decode("utf-8", "surrogateescape"))
        except URLError as e:
            _discard(response)
            raise errors.internal_error(f"error trying to parse Location header: {e}") from None
        response.headers.setRawHeaders(b"location", [rewritten.encode("utf-8", "surrogateescape")])
        return False
    content_type = (response.headers.getRawHeaders(b"content-type") or [b""])[0]
    encoding = (response.headers.getRawHeaders(b"content-encoding") or [b""])[0]
    if content_type.split(b";", 1)[0].strip() != b"text/html" or encoding not in (b"", b"gzip", b"deflate"):
        return False
    done = Deferred()
    reader = _ReadCapped(done, MAX_BODY)
    response.deliverBody(reader)
    try:
        whole = await done
        came = reader.body() if whole else b""
        body = await in_pool(reactor, rewrite_body, came, encoding.decode(), rewriter.html) if whole else None
    except BodyError as e:
        # Not a Status from the apiserver's own errors: upstream's is a 500 with the reader's words alone.
        raise errors.StatusError(500, "", str(e)) from None
    _relay(request, response)
    if not whole:
        if request.channel is None or getattr(request, "_disconnected", False):
            reader.transport.stopProducing()    # the client has gone: nothing to relay to
            return True
        relayed = Deferred()
        reader.hand_over(_BodyRelay(request, relayed, throttle))
        await relayed
        return True
    if body is None:
        body = came                         # its text past the cap: sent as it came
    del came
    request.responseHeaders.removeHeader(b"content-length")
    if request.method != b"HEAD" and len(body) <= _UNCHUNKED:
        request.setHeader(b"Content-Length", str(len(body)).encode())
    if request.channel is None or getattr(request, "_disconnected", False):
        return True
    if throttle is not None and body:
        finished = Deferred()
        throttle.send(body, request.write, None)
        throttle.when_drained(lambda: finished.callback(None))
        await finished
    elif body:
        request.write(body)
    if not request.finished and not getattr(request, "_disconnected", False):
        request.finish()
    return True


class _Drop(Protocol):
    """A body not wanted: its connection dropped."""

    def connectionMade(self):
        self.transport.stopProducing()


def _discard(response) -> None:
    response.deliverBody(_Drop())


class _ReadCapped(Protocol):
    """A response body read whole while it is at most ``limit`` bytes: ``done`` fires True once it has ended
    (``body()`` is it), or False as soon as it passes ``limit``, the backend paused until ``hand_over`` gives what
    was read and the rest to another protocol.  A body broken off first is Go's 'unexpected EOF' (a BodyError)."""

    def __init__(self, done: Deferred, limit: int):
        self.done, self.limit, self.parts, self.size = done, limit, [], 0
        self.relay = None
        self.ended = None           # why the body ended, when it did past the limit before hand_over

    def body(self) -> bytes:
        body, self.parts = b"".join(self.parts), []
        return body

    def dataReceived(self, data: bytes) -> None:
        if self.relay is not None:
            self.relay.dataReceived(data)
            return
        self.parts.append(data)
        self.size += len(data)
        if self.size > self.limit and not self.done.called:
            self.transport.pauseProducing()
            self.done.callback(False)

    def connectionLost(self, reason=None) -> None:
        if self.relay is not None:
            self.relay.connectionLost(reason)
        elif self.done.called:
            self.ended = reason
        elif reason is None or reason.check(ResponseDone, PotentialDataLoss):
            self.done.callback(True)
        else:
            self.done.errback(BodyError("unexpected EOF"))

    def hand_over(self, relay: Protocol) -> None:
        """What was read, then the rest of the body as it comes, to ``relay``; the backend resumed."""
        relay.makeConnection(self.transport)
        if self.ended is None:
            self.transport.resumeProducing()    # anything it gives at once joins what was read
        read = self.body()
        self.relay = relay
        if read:
            relay.dataReceived(read)
        if self.ended is not None:
            relay.connectionLost(self.ended)


class _ReadAtMost(Protocol):
    """The first ``limit`` bytes of a response body; the rest is not waited for (the connection is dropped)."""

    def __init__(self, done: Deferred, limit: int):
        self.done, self.limit, self.parts, self.size = done, limit, [], 0

    def dataReceived(self, data: bytes) -> None:
        if self.done.called:
            return
        self.parts.append(data[:self.limit - self.size])
        self.size += len(self.parts[-1])
        if self.size >= self.limit:
            self.done.callback(b"".join(self.parts))
            self.transport.stopProducing()

    def connectionLost(self, reason=None) -> None:
        if not self.done.called:
            self.done.callback(b"".join(self.parts))


async def _checked(response, check) -> None:
    """Raise ``check``'s error for a response outside 200-206 (upstream's response checkers), the first
    MAX_READ_LENGTH bytes of its body read, as theirs read."""
    if check is None or 200 <= response.code <= 206:
        return
    done = Deferred()
    response.deliverBody(_ReadAtMost(done, MAX_READ_LENGTH))
    raise check(response.code, await done)


def _relay(request, response) -> None:
    """The backend's status and headers, on the client's response."""
    request.setResponseCode(response.code, response.phrase)
    for name, values in response.headers.getAllRawHeaders():
        if name.lower() not in HOP_BY_HOP:
            request.responseHeaders.setRawHeaders(name, values)


# The WebSocket subprotocols a streamed response is read over, as upstream's wsstream reader offers them:
# binary frames, or base64 text frames; a client offering none gets binary frames.
_READER_PROTOCOLS = {"binary.k8s.io": True, "base64.binary.k8s.io": False}


class _MessageRelay(Session, Protocol):
    """A response body (pods/log) sent over WebSocket as it arrives, one message per chunk, and the
    socket closed when the body ends; the backend is stopped when the client goes away."""

    def __init__(self, done: Deferred):
        self.done = done
        self.binary = True
        self.ws = None
        self.early: list[bytes] = []
        self.ended = False

    # Session (the client's side)
    def choose(self, offered):
        for name in offered:
            if name in _READER_PROTOCOLS:
                self.binary = _READER_PROTOCOLS[name]
                return name
        return None

    def opened(self, ws, protocol):
        self.ws = ws
        early, self.early = self.early, []
        for data in early:
            self._send(data)
        if self.ended:
            ws.close()

    def closed(self):
        self.ws = None
        if not self.ended and self.transport is not None:
            self.transport.stopProducing()

    # Protocol (the backend's body)
    def dataReceived(self, data):
        if self.ws is None:
            self.early.append(data)
        else:
            self._send(data)

    def connectionLost(self, reason):
        self.ended = True
        if self.ws is not None:
            self.ws.close()
        self.done.callback(None)

    def _send(self, data: bytes) -> None:
        if self.binary:
            self.ws.send(data)
        else:
            self.ws.send(base64.b64encode(data), binary=False)


async def stream_over_websocket(request, reactor, dial, host: str, port: int, path: bytes, check=None) -> None:
    """GET host:port at `path` plainly and send its body to the client over WebSocket, as upstream serves a
    streamed response (pods/log) to a WebSocket client.  A backend error is answered as plain HTTP (with
    ``check``, as the error it gives, see forward)."""
    response = await _send(request, reactor, dial, host, port, path, Headers())
    await _checked(response, check)
    if response.code != 200:
        _relay(request, response)
        done = Deferred()
        response.deliverBody(_BodyRelay(request, done))
        await done
        return
    done = Deferred()
    relay = _MessageRelay(done)
    serve_websocket(request, relay)
    response.deliverBody(relay)
    await done


def _reason(exc: Exception) -> str:
    # Agent wraps connection failures in ResponseNeverReceived/RequestTransmissionFailed lists of Failures.
    failures = getattr(exc, "reasons", None)
    if failures:
        return "; ".join(str(f.value) or type(f.value).__name__ for f in failures)
    return str(exc) or type(exc).__name__

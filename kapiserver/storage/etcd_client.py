"""
A small Twisted-native client for etcd v3's JSON gateway (grpc-gateway).

Every call is an HTTP/1.1 POST of one JSON message to ``/v3/<service>/<method>``,
pipelined on a few persistent connections per endpoint (``etcd_http``); a
watch is one streaming POST to ``/v3/watch`` (through Twisted's Agent) whose
response is newline-separated JSON messages.  No threads: connections are
built from endpoints that need no name resolution for IP addresses (the Agent
is made with ``Agent.usingEndpointFactory``; a plain ``Agent`` resolves even
``127.0.0.1`` in the reactor's thread pool).

The gateway's JSON is protobuf's: bytes fields are base64, int64 fields are
decimal strings, fields at their zero value are left out, enums are names.
Errors come back as a non-200 response carrying ``{"code": <gRPC code>,
"message": ...}``.

Several endpoints may be given: calls go to one of them, and a connection that
cannot be made moves the client on to the next (a write is resent only when
its connection was never made, so no write can apply twice).
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from twisted.internet import error as net_error
from twisted.internet.defer import CancelledError, Deferred, TimeoutError as DeferredTimeout, fail, succeed
from twisted.internet.endpoints import (
    HostnameEndpoint, TCP4ClientEndpoint, TCP6ClientEndpoint, UNIXClientEndpoint, wrapClientTLS,
)
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import Agent, HTTPConnectionPool, PotentialDataLoss, ResponseDone, _HTTP11ClientFactory
from twisted.web.http_headers import Headers
from twisted.web.iweb import IBodyProducer
from zope.interface import implementer

from ..machinery import codec
from ..tlskeys import ClientFiles
from .etcd_http import PipelinedPool
from .interface import Unavailable

__all__ = ["EtcdClient", "EtcdError", "TLSFiles", "b64", "unb64"]

log = Logger()


class _QuietFactory(_HTTP11ClientFactory):
    noisy = False      # no "Starting factory" line per connection


def _quiet_pool(reactor, persistent: bool) -> HTTPConnectionPool:
    pool = HTTPConnectionPool(reactor, persistent=persistent)
    pool._factory = _QuietFactory
    return pool

# gRPC status codes etcd answers with.
OUT_OF_RANGE = 11          # compacted or future revision
UNAVAILABLE = 14           # no leader, member stopping, ...
DEADLINE_EXCEEDED = 4      # "etcdserver: request timed out"

_HEADERS = Headers({b"Content-Type": [b"application/json"]})


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: Optional[str]) -> bytes:
    return base64.b64decode(text) if text else b""


class EtcdError(Exception):
    """etcd answered with an error status."""

    def __init__(self, code: int, message: str):
        super().__init__(code, message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class TLSFiles:
    """PEM files for TLS to etcd (--etcd-cafile, --etcd-certfile, --etcd-keyfile)."""

    cafile: Optional[str] = None
    certfile: Optional[str] = None
    keyfile: Optional[str] = None


@implementer(IBodyProducer)
class _Body:
    """A request body known in full (the Agent wants a producer)."""

    def __init__(self, data: bytes):
        self._data = data
        self.length = len(data)

    def startProducing(self, consumer: Any) -> Deferred:
        consumer.write(self._data)
        d: Deferred = Deferred()
        d.callback(None)
        return d

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


class _Endpoints:
    """The Agent's endpoint factory: request URLs name an endpoint by index
    (``http://etcd-3/...``), and each index maps to a connection recipe built
    once from the --etcd-servers URL."""

    def __init__(self, reactor: Any, servers: list[str], tls: Optional[TLSFiles],
                 connect_timeout: float):
        self._reactor = reactor
        self._tls = tls or TLSFiles()
        self._timeout = connect_timeout
        # The TLS files, read off the reactor thread when a connection needs them (_TLSEndpoint).
        self._files: Optional[ClientFiles] = None
        self._made: dict[int, Any] = {}
        self.servers = servers
        self._pools: dict[int, PipelinedPool] = {}

    def endpointForURI(self, uri: Any) -> Any:
        index = int(uri.host.decode().rsplit("-", 1)[1])
        if index not in self._made:
            self._made[index] = self._build(self.servers[index])
        return self._made[index]

    def pool(self, index: int, size: int) -> PipelinedPool:
        if index not in self._pools:
            if index not in self._made:
                self._made[index] = self._build(self.servers[index])
            self._pools[index] = PipelinedPool(self._made[index], b"etcd-%d" % index, size=size)
        return self._pools[index]

    def close_pools(self) -> None:
        for pool in self._pools.values():
            pool.close()

    def _build(self, server: str) -> Any:
        scheme, _, rest = server.partition("://")
        if scheme in ("unix", "unixs"):
            path = rest.split("?", 1)[0]
            ep = UNIXClientEndpoint(self._reactor, path, timeout=self._timeout)
            return self._wrap(ep, "localhost") if scheme == "unixs" else ep
        parts = urlsplit(server)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or 2379
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ep = HostnameEndpoint(self._reactor, host.encode("idna"), port, timeout=self._timeout)
        else:
            cls = TCP4ClientEndpoint if ip.version == 4 else TCP6ClientEndpoint
            ep = cls(self._reactor, host, port, timeout=self._timeout)
        ep = _NoDelay(ep)
        return self._wrap(ep, host) if scheme == "https" else ep

    def _wrap(self, ep: Any, host: str) -> Any:
        if self._files is None:
            self._files = ClientFiles(self._tls.cafile or "", self._tls.certfile or "",
                                      self._tls.keyfile or self._tls.certfile or "")
        return _TLSEndpoint(self._reactor, self._files, host, ep)


class _TLSEndpoint:
    """TLS over ``endpoint`` to ``host``, its CA and client certificate read from their files in a thread (never
    on the reactor's) when a connection is made: once for all members, then again every five minutes as
    ClientFiles does, so a rotated client certificate is used without a restart. A file that cannot be read
    fails the connection, which the client reports as etcd being unavailable."""

    def __init__(self, reactor: Any, files: ClientFiles, host: str, endpoint: Any):
        self._reactor = reactor
        self._files = files
        self._host = host
        self._endpoint = endpoint

    def connect(self, factory: Any) -> Deferred:
        return Deferred.fromCoroutine(self._connect(factory))

    async def _connect(self, factory: Any) -> Any:
        from twisted.internet.ssl import optionsForClientTLS
        trust, client = await self._files.material(self._reactor)
        options = optionsForClientTLS(self._host, trustRoot=trust, extraCertificateOptions=client)
        return await wrapClientTLS(options, self._endpoint).connect(factory)


class _NoDelay:
    """An endpoint whose TCP connections send at once: the Agent writes a
    request's headers and body separately, and Nagle's algorithm against
    etcd's delayed ACK would hold the body back ~40 ms."""

    def __init__(self, endpoint: Any):
        self._endpoint = endpoint

    def connect(self, factory: Any) -> Deferred:
        def connected(protocol: Any) -> Any:
            set_no_delay = getattr(protocol.transport, "setTcpNoDelay", None)
            if set_no_delay is not None:
                set_no_delay(True)
            return protocol
        return self._endpoint.connect(factory).addCallback(connected)


def _never_sent(failure: Failure) -> bool:
    """True when the request cannot have reached etcd (no connection was made)."""
    return failure.check(net_error.ConnectError, net_error.ConnectionRefusedError,
                         net_error.TimeoutError, net_error.DNSLookupError) is not None


class _Lines(Protocol):
    """Splits a streaming response body into JSON messages, one per line."""

    def __init__(self, on_message: Callable[[dict], None], finished: Deferred):
        self._on_message = on_message
        self._finished = finished
        self._buffer = b""

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        while True:
            line, sep, rest = self._buffer.partition(b"\n")
            if not sep:
                return
            self._buffer = rest
            if line.strip():
                try:
                    self._on_message(codec.loads(line))
                except Exception:
                    log.failure("etcd watch message handler failed")
                if self.transport is None:
                    return

    def connectionLost(self, reason: Failure = None) -> None:
        d, self._finished = self._finished, None
        if d is not None:
            d.callback(reason.value if reason is not None else ResponseDone())


class _Collect(Protocol):
    """Gathers a whole response body (readBody without its deprecation
    warning about the pool's transport proxy)."""

    def __init__(self, finished: Deferred):
        self._finished = finished
        self._parts: list[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self._parts.append(data)

    def connectionLost(self, reason: Failure = None) -> None:
        if reason is not None and reason.check(ResponseDone, PotentialDataLoss):
            self._finished.callback(b"".join(self._parts))
        else:
            self._finished.errback(reason)


def _read_body(response: Any) -> Deferred:
    d: Deferred = Deferred()
    response.deliverBody(_Collect(d))
    return d


class WatchStream:
    """One streaming /v3/watch request.  ``done`` fires (never fails) with
    the reason the stream ended, an exception instance."""

    def __init__(self) -> None:
        self.done: Deferred = Deferred()
        self._protocol: Optional[_Lines] = None
        self._request: Optional[Deferred] = None
        self.stopped = False

    def stop(self) -> None:
        """End the stream (closing its connection); ``done`` fires soon after."""
        self.stopped = True
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.stopProducing()
        elif self._request is not None:
            self._request.cancel()


class EtcdClient:
    """``call("kv/range", {...})`` -> Deferred[dict]; ``watch({...}, on_message)``.

    Calls fail with EtcdError for etcd's own errors and Unavailable when etcd
    cannot be reached or does not answer within ``timeout`` seconds."""

    def __init__(self, reactor: Any, servers: list[str], *, tls: Optional[TLSFiles] = None,
                 timeout: float = 5.0, connect_timeout: float = 2.0, pool_size: int = 16):
        if not servers:
            raise ValueError("no etcd servers")
        self._reactor = reactor
        self.servers = list(servers)
        self.timeout = timeout
        self._endpoints = _Endpoints(reactor, self.servers, tls, connect_timeout)
        self._pool_size = pool_size
        # Watches hold their connection for as long as they live: no pooling.
        self._stream_agent = Agent.usingEndpointFactory(
            reactor, self._endpoints, pool=_quiet_pool(reactor, persistent=False))
        self._current = 0
        self._closed = False

    def _url(self, index: int, path: str) -> bytes:
        return f"http://etcd-{index}/v3/{path}".encode()

    def _next_endpoint(self, failed: int) -> None:
        if self._current == failed:
            self._current = (failed + 1) % len(self.servers)

    # -- unary calls ----------------------------------------------------------

    def call(self, path: str, body: dict | bytes, timeout: Optional[float] = None) -> Deferred:
        """``body``: the request message, or its JSON already encoded (a request made again and again)."""
        if self._closed:
            return fail(Unavailable("etcd client closed"))
        data = body if body.__class__ is bytes else codec.dumps(body)
        d = self._attempt(path, data, self._current, len(self.servers))
        # A timer that cancels the call, and one callback that stops it and says why the call failed: what
        # Deferred.addTimeout and an errback did with three callbacks and two closures per call.
        timeout = timeout or self.timeout
        timer = self._reactor.callLater(timeout, d.cancel)
        return d.addBoth(self._settled, timer, path, timeout)

    def _attempt(self, path: str, data: bytes, index: int, tries_left: int) -> Deferred:
        d = self._endpoints.pool(index, self._pool_size).request(b"/v3/" + path.encode(), data)

        def failed(failure: Failure) -> Any:
            if failure.check(CancelledError, EtcdError):
                return failure
            self._next_endpoint(index)
            if _never_sent(failure) and tries_left > 1 and not self._closed:
                return self._attempt(path, data, (index + 1) % len(self.servers), tries_left - 1)
            raise Unavailable(f"etcd {self.servers[index]}: {failure.getErrorMessage()}")

        return d.addCallback(self._read, index).addErrback(failed)

    def _read(self, response: tuple[int, bytes], index: int) -> dict:
        status, body = response
        message = codec.loads(body) if body else {}
        if status != 200:
            raise EtcdError(int(message.get("code", 2)),
                            str(message.get("message") or message.get("error") or status))
        return message

    @staticmethod
    def _settled(result: Any, timer: Any, path: str, timeout: float) -> Any:
        if timer.active():
            timer.cancel()
        if not isinstance(result, Failure):
            return result
        if result.check(DeferredTimeout, CancelledError):
            raise Unavailable(f"etcd did not answer {path} within {timeout}s")
        if result.check(EtcdError) and result.value.code in (UNAVAILABLE, DEADLINE_EXCEEDED):
            raise Unavailable(f"etcd: {result.value.message}")
        return result

    # -- watch streams --------------------------------------------------------

    def watch(self, create_request: dict, on_message: Callable[[dict], None]) -> WatchStream:
        """Open a watch stream; each message (a WatchResponse's ``result``, or
        ``{"error": ...}``) goes to ``on_message`` on the reactor thread."""
        stream = WatchStream()
        if self._closed:
            stream.done.callback(Unavailable("etcd client closed"))
            return stream
        index = self._current
        body = _Body(codec.dumps({"create_request": create_request}))
        d = self._stream_agent.request(b"POST", self._url(index, "watch"), _HEADERS, body)
        stream._request = d

        def connected(response: Any) -> None:
            stream._request = None
            if response.code != 200:
                _read_body(response).addBoth(
                    lambda body: stream.done.callback(EtcdError(response.code, repr(body))))
                return
            finished: Deferred = Deferred()
            stream._protocol = _Lines(on_message, finished)
            response.deliverBody(stream._protocol)
            if stream.stopped:
                stream.stop()
            finished.addCallback(stream.done.callback)

        def failed(failure: Failure) -> None:
            stream._request = None
            self._next_endpoint(index)
            stream.done.callback(failure.value)

        d.addCallbacks(connected, failed)
        return stream

    def close(self) -> Deferred:
        self._closed = True
        self._endpoints.close_pools()
        return succeed(None)



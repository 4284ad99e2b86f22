"""The server runtime around the API: a timeout for every request that is not long-running
(--request-timeout, 504), --max-requests-inflight / --max-mutating-requests-inflight (429 with
Retry-After; only with --enable-priority-and-fairness=false, else API Priority and Fairness limits),
panic recovery (an exception is a 500 Status and the server keeps serving), and the connections' limits,
as upstream's Go server has them: 1 MiB of request headers (431, and no limit on their count), headers
read within READ_HEADER_TIMEOUT of a request's first byte (else the connection is closed), an idle
connection closed after IDLE_TIMEOUT, and at most --max-open-connections connections at once (past it, a
503 Status and the connection closed).

On shutdown (``RuntimeLimits.drain``) a request arriving is answered 503 "apiserver is shutting down"
with Connection: close, while those in flight finish (``RuntimeLimits.idle()``)."""

from __future__ import annotations

import re
import sys
from typing import Callable, Optional
from OpenSSL import SSL

from twisted.internet.defer import Deferred, succeed
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from .endpoints.http import when_finished, write_status
from .http2 import LocalAddressOnce, channel_factory
from .listener import add_request_headers, header_name, set_header
from .endpoints.requestinfo import request_info_of
from .machinery import codec, errors
from .machinery.meta import new_uid

log = Logger()
MAX_HEADER_BYTES = 1 << 20
# Upstream's serving defaults (k8s.io/apiserver's secure serving): a request's headers must arrive within
# 32 s of its first byte, and a keep-alive connection with no request is closed after 90 s.
READ_HEADER_TIMEOUT = 32.0
IDLE_TIMEOUT = 90.0
_LONG_RUNNING_SUBRESOURCES = frozenset(("attach", "exec", "proxy", "log", "portforward"))
_MUTATING = frozenset((b"POST", b"PUT", b"PATCH", b"DELETE"))


def is_long_running(request) -> bool:
    """watch, proxy and the node streams run as long as they need (upstream's long-running check)."""
    # Kept on the request, so the API root does not parse it again.
    info = request_info_of(request)
    if info.verb in ("watch", "proxy") or info.subresource in _LONG_RUNNING_SUBRESOURCES:
        return True
    return request.requestHeaders.hasHeader(b"upgrade")


AUDIT_ID = header_name(b"Audit-Id")


def init_audit_id(request) -> str:
    """The request's audit ID, as upstream's audit-init filter gives it to every request: the client's Audit-ID
    header if it sent one, else a new UUID; echoed in the response's Audit-Id header, and the auditID of its
    audit event."""
    audit_id = request.getHeader(AUDIT_ID)
    audit_id = audit_id.decode("utf-8", "replace") if audit_id else new_uid()
    request.kapi_audit_id = audit_id
    set_header(request, AUDIT_ID, audit_id.encode())
    return audit_id


class RuntimeLimits(Resource):
    """Wraps the API root: limits, timeouts and panic recovery, none of them in the handlers."""
    isLeaf = True

    def __init__(self, inner, reactor, request_timeout: float = 60.0, max_inflight: int = 400,
                 max_mutating_inflight: int = 200, metrics=None):
        super().__init__()
        self.inner = inner
        # The request metrics (kapiserver.endpoints.metrics): requests in flight, and those refused here.
        self.metrics = metrics
        if metrics is not None:
            metrics.add_inflight_source(lambda: self.inflight, lambda: self.mutating_inflight)
        self.reactor = reactor
        self.request_timeout = request_timeout
        self.max_inflight = max_inflight
        self.max_mutating_inflight = max_mutating_inflight
        self.inflight = 0
        self.mutating_inflight = 0
        self.draining = False
        self._idle: list[Deferred] = []
        # Requests not yet answered, in the order they came (so of their deadlines): id -> (deadline,
        # request); the one timer is due at the first one's deadline.
        self._pending: dict = {}
        self._timer = None

    def drain(self) -> None:
        """From now on every request is refused (503, Connection: close): the server is shutting down."""
        self.draining = True

    def idle(self) -> Deferred:
        """Fires once no request that is not long-running is in flight."""
        if not self.inflight and not self.mutating_inflight:
            return succeed(None)
        d = Deferred()
        self._idle.append(d)
        return d

    def render(self, request):
        init_audit_id(request)
        long_running = is_long_running(request)
        mutating = request.method in _MUTATING
        if self.draining:
            # As upstream once its non-long-running requests' wait group is closed (HTTP/2 has no
            # Connection header: its connection closes with the server's).
            if getattr(request, "clientproto", b"HTTP/1.1") != b"HTTP/2":
                request.setHeader(b"Connection", b"close")
            request.setHeader(b"Retry-After", b"1")
            write_status(request, errors.service_unavailable("apiserver is shutting down"))
            return NOT_DONE_YET
        if not long_running:
            limit, current = ((self.max_mutating_inflight, self.mutating_inflight) if mutating
                              else (self.max_inflight, self.inflight))
            if limit and current >= limit:
                request.setHeader(b"Retry-After", b"1")
                write_status(request, errors.too_many_requests("Too many requests, please try again later.", 1))
                if self.metrics is not None:
                    self.metrics.count_rejected(request, request_info_of(request))
                return NOT_DONE_YET
            self._count(mutating, +1)
            if self.request_timeout > 0:
                self._pending[id(request)] = (self.reactor.seconds() + self.request_timeout, request)
                if self._timer is None:
                    self._timer = self.reactor.callLater(self.request_timeout, self._expire)
            when_finished(request, lambda _, key=id(request): self._finished(key, mutating))
        try:
            return self.inner.render(request)
        except Exception as e:
            log.failure("handler failed for {path}", path=request.path)
            write_status(request, errors.internal_error(f"{type(e).__name__}: {e}"))
            return NOT_DONE_YET

    def _finished(self, key: int, mutating: bool) -> None:
        self._count(mutating, -1)
        self._pending.pop(key, None)

    def _expire(self) -> None:
        """Every request past its deadline is answered 504; the timer is set again for the next deadline.
        One timer for all requests rather than one each: every request has the same timeout, so the
        pending ones are in deadline order."""
        self._timer = None
        now = self.reactor.seconds()
        pending = self._pending
        while pending:
            key, (deadline, request) = next(iter(pending.items()))
            if deadline > now:
                self._timer = self.reactor.callLater(deadline - now, self._expire)
                return
            del pending[key]
            self._timed_out(request)

    def _count(self, mutating: bool, delta: int):
        if mutating:
            self.mutating_inflight += delta
        else:
            self.inflight += delta
        if self._idle and not self.inflight and not self.mutating_inflight:
            waiting, self._idle = self._idle, []
            for d in waiting:
                d.callback(None)

    def _timed_out(self, request):
        write_status(request, errors.StatusError(
            504, "Timeout", "Timeout: request did not complete within the allotted timeout", {}))


# A request's line and headers, whole, in the forms twisted.web accepts (a token method, a printable target,
# HTTP/1.0 or 1.1; token header names, values without CR, LF or NUL), for LimitedHeadersChannel's one-piece read.
_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_REQUEST_HEAD = re.compile(rb"(" + _TOKEN + rb") ([\x21-\x7e]+) (HTTP/1\.[01])\r\n((?:" + _TOKEN
                           + rb":[^\r\n\x00]*\r\n)*)\r\n")
# Headers that leave a request to twisted.web's parser unless it is one Content-Length of the bytes that came
# with the head (Expect: 100-continue is answered there).
_LENGTH_HEADERS = frozenset((b"content-length", b"transfer-encoding", b"expect"))


class LimitedHeadersChannel(LocalAddressOnce, http.HTTPChannel):
    """An HTTP channel that answers 431 when a request's headers pass MAX_HEADER_BYTES and puts no limit on
    their count, as Go's server does; and closes the connection when a request's headers take longer than
    ``header_timeout`` from its first byte (or from the connection's start, for the first request).

    Its two deadlines, idle (TimeoutMixin's ``timeOut`` from the last byte while no request is in flight) and
    headers, share one timer that moves only when it fires: a keep-alive connection's requests set and clear
    deadlines, not timers (TimeoutMixin and a header timer of its own made two callLaters and two cancels a
    request)."""
    totalHeadersSize = MAX_HEADER_BYTES * 2
    MAX_LENGTH = MAX_HEADER_BYTES * 2
    maxHeaders = sys.maxsize
    header_timeout = READ_HEADER_TIMEOUT
    _idle_deadline = None
    _header_deadline = None
    _deadline_call = None

    def connectionMade(self):
        super().connectionMade()
        self._start_header_timer()

    def dataReceived(self, data):
        # Line mode, outside a request: the bytes of a request line or headers.
        if data and self.line_mode and not self._handlingRequest:
            self._start_header_timer()
            if self._read_whole_request(data):
                return None
        return super().dataReceived(data)

    def _read_whole_request(self, data: bytes) -> bool:
        """A request whose line, headers and body (if it has one, of the Content-Length it declares) came in
        one piece, with nothing after them: read at once rather than line by line (twisted.web's HTTPChannel
        takes a pass through its line parser per header, and checks the request-target a byte at a time).
        Whether it was read; anything else (a chunked or partial body, a header twisted.web would refuse or
        fold, Expect, a size past the limit, pipelined bytes) is left to twisted.web's parser, so a request is
        refused in the same words either way."""
        end = data.find(b"\r\n\r\n") + 4
        if (end == 3 or end > MAX_HEADER_BYTES or self._buffer or self._busyReceiving or not self.persistent
                or getattr(self, "_HTTPChannel__first_line", None) != 1 or self.requests):
            return False
        head = _REQUEST_HEAD.fullmatch(data, 0, end)
        if head is None:
            return False
        headers = []
        length = None
        for line in head[4].split(b"\r\n")[:-1]:
            name, value = line.split(b":", 1)
            value = value.strip(b" \t")
            lowered = name.lower()
            if lowered in _LENGTH_HEADERS:
                if lowered != b"content-length" or length is not None or not value.isdigit():
                    return False
                length = int(value)
            headers.append((name, value))
        if len(data) - end != (length or 0):
            return False
        self.resetTimeout()
        request = self.requestFactory(self, len(self.requests))
        self.requests.append(request)
        self._command, self._path, self._version = head[1], head[2], head[3]
        add_request_headers(request, headers)
        # As twisted.web's line parser would: another piece arriving meanwhile waits in its buffer.
        self._busyReceiving = True
        try:
            self.length = length or 0
            self.allHeadersReceived()
            if length:
                request.handleContentChunk(data[end:])
            self.allContentReceived()
        finally:
            self._busyReceiving = False
        if self._buffer and not self.paused:
            super().dataReceived(b"")
        return True

    def allHeadersReceived(self):
        self.stop_header_timer()
        return super().allHeadersReceived()

    def connectionLost(self, reason):
        self.stop_header_timer()
        super().connectionLost(reason)
        call, self._deadline_call = self._deadline_call, None
        if call is not None and call.active():
            call.cancel()

    # TimeoutMixin's two methods, on the shared timer.
    def setTimeout(self, period):
        previous, self.timeOut = self.timeOut, period
        self._idle_deadline = None if period is None else self._deadline(period)
        return previous

    def resetTimeout(self):
        if self._idle_deadline is not None and self.timeOut is not None:
            self._idle_deadline = self._deadline(self.timeOut)

    def _start_header_timer(self):
        if self._header_deadline is None and self.header_timeout:
            self._header_deadline = self._deadline(self.header_timeout)

    def stop_header_timer(self):
        """No header timeout now (the headers are in, or the connection speaks HTTP/2)."""
        self._header_deadline = None

    def _deadline(self, seconds: float) -> float:
        """The time ``seconds`` from now, the timer set to fire by then."""
        call = self._deadline_call
        if call is None:
            call = self._deadline_call = self.callLater(seconds, self._deadline_passed)
            return call.getTime()
        deadline = call.seconds() + seconds
        if deadline < call.getTime():
            call.reset(seconds)
        return deadline

    def _deadline_passed(self):
        call, self._deadline_call = self._deadline_call, None
        now = call.seconds()
        if self._header_deadline is not None and now >= self._header_deadline:
            self._header_deadline = self._idle_deadline = None
            self._headers_too_slow()
        elif self._idle_deadline is not None and now >= self._idle_deadline:
            self._idle_deadline = None
            self.timeoutConnection()
        pending = [d for d in (self._header_deadline, self._idle_deadline) if d is not None]
        if pending and self._deadline_call is None:
            self._deadline_call = self.callLater(max(0.0, min(pending) - now), self._deadline_passed)

    def _headers_too_slow(self):
        log.info("Closing {peer}: no request headers within {timeout}s", peer=str(self.transport.getPeer()),
                 timeout=self.header_timeout)
        # As a timeout does: loseConnection, and an abort if the peer will not let go.
        self.timeoutConnection()

    def lineReceived(self, line):
        self._kap_header_bytes = getattr(self, "_kap_header_bytes", 0) + len(line) + 2
        if self._kap_header_bytes > MAX_HEADER_BYTES:
            self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; "
                                 b"charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large")
            self.transport.loseConnection()
            self._kap_header_bytes = 0
            return
        if line == b"":
            self._kap_header_bytes = 0
        return super().lineReceived(line)


def connection_cap(configured: int) -> int:
    """The most connections served at once: ``configured`` (--max-open-connections), or with 0 the
    open-files soft limit less a reserve for storage, logs and outgoing clients (a quarter, at most 1024)."""
    if configured > 0:
        return configured
    import resource
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 0
    return max(soft - min(1024, soft // 4), 1)


class RefusedConnection(Protocol):
    """A connection past the cap: told so and closed, before any request is read.  Over HTTP/1.1 (and on the
    insecure port, at once) a 503 Status; where TLS negotiated HTTP/2, known once the client's first bytes
    arrive, a GOAWAY (ENHANCE_YOUR_CALM) carrying the same words.  Closed after READ_HEADER_TIMEOUT whatever
    the client does."""

    def __init__(self, cap: int, clock=None):
        self.cap = cap
        self.clock = clock
        self._answered = False
        self._timer = None

    @property
    def message(self) -> str:
        return f"too many open connections (the limit is {self.cap}); try again later"

    def connectionMade(self):
        from twisted.internet.interfaces import ISSLTransport
        if not ISSLTransport.providedBy(self.transport):
            self._answer()
            return
        if self.clock is None:
            from twisted.internet import reactor as clock
        else:
            clock = self.clock
        self._timer = clock.callLater(READ_HEADER_TIMEOUT, self.transport.abortConnection)

    def dataReceived(self, data):
        if not self._answered:
            self._answer()

    def _answer(self):
        self._answered = True
        if getattr(self.transport, "negotiatedProtocol", None) == b"h2":
            import h2.config
            import h2.connection
            import h2.errors
            conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
            conn.initiate_connection()
            conn.close_connection(error_code=h2.errors.ErrorCodes.ENHANCE_YOUR_CALM,
                                  additional_data=self.message.encode())
            self.transport.write(conn.data_to_send())
        else:
            body = codec.encode(errors.service_unavailable(self.message).to_status())
            self.transport.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                 b"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
                                 % len(body) + body)
        self.transport.loseConnection()

    def connectionLost(self, reason):
        if self._timer is not None and self._timer.active():
            self._timer.cancel()


class Connections:
    """The open connections of the sites sharing this object, at most ``cap`` (0: no cap) at once."""

    def __init__(self, cap: int = 0, clock=None):
        self.cap = cap
        self.clock = clock
        self.open: set = set()
        self.refused = 0
        self._closed: list[Deferred] = []

    def build(self, build: Callable, addr):
        """A protocol for a new connection: ``build(addr)``'s, tracked, or a RefusedConnection past the cap."""
        if self.cap and len(self.open) >= self.cap:
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                log.warn("Refused a connection from {peer}: {count} connections are open (the limit); "
                         "{refused} refused so far", peer=str(addr), count=len(self.open), refused=self.refused)
            return RefusedConnection(self.cap, self.clock)
        protocol = build(addr)
        if protocol is None:
            return None
        self.open.add(protocol)
        lost = protocol.connectionLost

        def connection_lost(reason):
            self.open.discard(protocol)
            try:
                return lost(reason)
            finally:
                if not self.open and self._closed:
                    waiting, self._closed = self._closed, []
                    for d in waiting:
                        d.callback(None)
        protocol.connectionLost = connection_lost
        return protocol

    def close_all(self) -> Deferred:
        """Close every open connection once what was written to it is sent; fires once all are gone."""
        # A connection whose transport is already gone is not waited for (its loss may have reached another
        # protocol than the one tracked: HTTP/2 replaces the channel of a negotiated connection).
        self.open = {protocol for protocol in self.open if _connected(protocol)}
        if not self.open:
            return succeed(None)
        d = Deferred()
        self._closed.append(d)
        for protocol in list(self.open):
            _close(protocol)
        self._prune_later()
        return d

    def _prune_later(self) -> None:
        """Until every connection is gone, look again shortly for those whose transport has gone without their
        loss reaching the protocol tracked here."""
        clock = self.clock
        if clock is None:
            from twisted.internet import reactor as clock

        def prune():
            self.open = {protocol for protocol in self.open if _connected(protocol)}
            if self.open:
                self._prune_later()
            elif self._closed:
                waiting, self._closed = self._closed, []
                for d in waiting:
                    d.callback(None)
        clock.callLater(0.05, prune)

    def abort_all(self) -> None:
        """Drop every connection still open, sent or not."""
        for protocol in list(self.open):
            transport = _transport_of(protocol)
            if transport is None:
                continue
            try:
                transport.abortConnection()
            except AttributeError:
                # A TLS transport whose TLS side is already shut down: drop the connection under it.
                transport.transport.abortConnection()


def _close(protocol) -> None:
    """Close a connection once what was written is sent: HTTP/2 with a GOAWAY first.  The channel stops being
    its transport's producer first: a paused producer would be resumed instead of the connection closed."""
    channel = getattr(protocol, "_channel", protocol)
    transport = _transport_of(protocol)
    if transport is None:
        return
    h2 = getattr(getattr(channel, "conn", None), "close_connection", None)
    if h2 is not None:
        h2()
        transport.write(channel.conn.data_to_send())
        transport.unregisterProducer()
        transport.loseConnection()
    elif hasattr(channel, "_networkProducer"):
        channel.loseConnection()     # HTTP/1.1: unregisters itself, then loses the connection
    else:
        transport.loseConnection()
    _finish_tls_close(transport)


def _finish_tls_close(transport) -> None:
    """As Go's tls.Conn.Close: once our close_notify is sent, the TCP connection closes without waiting for the
    peer's (Twisted's TLS waits for it, and an idle client that is not reading never sends it)."""
    tls, lower = getattr(transport, "_tlsConnection", None), getattr(transport, "transport", None)
    if tls is None or lower is None:
        return
    try:
        sent = tls.get_shutdown() & SSL.SENT_SHUTDOWN
    except SSL.Error:
        return
    if sent:
        lower.loseConnection()


def _connected(protocol) -> bool:
    transport = _transport_of(protocol)
    return transport is not None and bool(getattr(transport, "connected", True))


def _transport_of(protocol):
    # A NegotiatedChannel's transport is its current channel's (HTTP/1.1 or HTTP/2).
    return getattr(protocol, "transport", None) or getattr(getattr(protocol, "_channel", None), "transport", None)


def wrap_site(site, root, reactor, config, connections: Optional[Connections] = None):
    """Install the runtime on a Site: the limits around `root`, and channels that limit headers and speak
    HTTP/2 where TLS negotiated it."""
    access = getattr(config, "node_access", None)
    # With API Priority and Fairness the two flags are its total concurrency, not limits of their own.
    apf = getattr(getattr(root, "context", None), "flow_control", None) is not None
    site.resource = RuntimeLimits(root, reactor, getattr(config, "request_timeout", 60.0),
                                  0 if apf else getattr(access, "max_requests_inflight", 400),
                                  0 if apf else getattr(access, "max_mutating_requests_inflight", 200),
                                  getattr(getattr(root, "context", None), "metrics", None))
    security = getattr(config, "security", None)
    site.protocol = channel_factory(LimitedHeadersChannel, getattr(security, "http2_max_streams_per_connection", 0))
    site.timeOut = IDLE_TIMEOUT
    if connections is not None:
        site.connections = connections
    return site

"""HTTP/2 for the client: one TLS connection per Client carrying every request and watch as its own stream,
as client-go's transport does when the server offers h2 by ALPN.

What a caller may rely on:

- ``H2Pool.request(method, path, headers, body)`` returns a response with ``code``, ``headers`` (lower-case
  names), ``content()`` (the whole body) and ``deliverBody(protocol)`` (the body as it arrives, for watches;
  the protocol's transport has ``stopProducing()``, which resets the stream). It returns ``None`` when the
  server does not speak h2 (ALPN chose http/1.1, or none): the caller then uses HTTP/1.1 for good.
- One connection at a time. Requests beyond the server's SETTINGS_MAX_CONCURRENT_STREAMS wait for a stream to
  close. A GOAWAY lets the streams it covers finish while new requests go to a new connection; a stream the
  server never processed (above GOAWAY's last stream id, or reset with REFUSED_STREAM), and a GET whose
  connection was lost before its response, are sent again on a new connection (at most twice). A lost
  connection fails its other open streams (a watch's body ends with the error, so its
  reflector re-watches); the next request dials again.
- Flow control: a 4 MiB stream window and a 1 GiB connection window (Go's transport defaults), received data
  acknowledged as it is consumed; request bodies are sent as the server's windows allow.
- Health check as client-go configures Go's transport: after 30 s without a frame read, a PING; no answer
  within 15 s closes the connection.
"""

from __future__ import annotations

from typing import Optional

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from h2.errors import ErrorCodes
from twisted.internet import defer, endpoints, error, protocol
from twisted.internet.interfaces import IHandshakeListener
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from zope.interface import implementer

log = Logger()

STREAM_WINDOW = 4 << 20          # Go's transportDefaultStreamFlow
CONNECTION_WINDOW = 1 << 30      # Go's transportDefaultConnFlow
READ_IDLE_TIMEOUT = 30.0         # client-go's http2 ReadIdleTimeout
PING_TIMEOUT = 15.0              # client-go's http2 PingTimeout
_REPLAYABLE = frozenset({"GET", "HEAD", "OPTIONS"})


class H2Unprocessed(Exception):
    """The server did not process this stream (GOAWAY above it, REFUSED_STREAM): safe to send again."""


class H2StreamReset(Exception):
    """The server reset the stream with this HTTP/2 error code."""

    def __init__(self, code):
        super().__init__(f"stream reset by the server: {code!r}")
        self.code = code


class H2ConnectionLost(error.ConnectionLost):
    """The HTTP/2 connection ended while the stream was open."""


class _BodyTransport:
    """What a body protocol sees as its transport: stopProducing() cancels the stream."""

    def __init__(self, stream: "_Stream"):
        self._stream = stream

    def stopProducing(self) -> None:
        self._stream.cancel()

    def pauseProducing(self) -> None:   # flow control already bounds what the server sends
        pass

    def resumeProducing(self) -> None:
        pass


class _Collect(protocol.Protocol):
    def __init__(self):
        self.chunks: list = []
        self.done: defer.Deferred = defer.Deferred()

    def dataReceived(self, data):
        self.chunks.append(data)

    def connectionLost(self, reason=None):
        if reason is None or reason.check(ResponseDone):
            self.done.callback(b"".join(self.chunks))
        else:
            self.done.errback(reason)


class H2Response:
    """A response on one stream: ``code``, ``headers``, then its body by ``content()`` or ``deliverBody``."""

    def __init__(self, stream: "_Stream", code: int, headers: dict):
        self.code = code
        self.headers = headers
        self._stream = stream
        self._chunks: list = []
        self._protocol = None
        self._ended: Optional[Failure] = None

    def deliverBody(self, proto) -> None:
        self._protocol = proto
        proto.makeConnection(_BodyTransport(self._stream))
        chunks, self._chunks = self._chunks, []
        for chunk in chunks:
            proto.dataReceived(chunk)
        if self._ended is not None:
            proto.connectionLost(self._ended)

    def content(self) -> defer.Deferred:
        collect = _Collect()
        self.deliverBody(collect)
        return collect.done

    def _data(self, data: bytes) -> None:
        if self._protocol is not None:
            self._protocol.dataReceived(data)
        else:
            self._chunks.append(data)

    def _end(self, reason: Failure) -> None:
        if self._ended is not None:
            return
        self._ended = reason
        if self._protocol is not None:
            self._protocol.connectionLost(reason)


class _Stream:
    def __init__(self, conn: "H2ClientProtocol", method: str, path: str, headers: list, body: bytes):
        self.conn = conn
        self.request = (method, path, headers, body)
        self.id: Optional[int] = None
        self.response: Optional[H2Response] = None
        self.outbound = body
        self.closed = False
        # Cancelling the request's Deferred resets the stream; the Deferred then fails with CancelledError.
        self.d: defer.Deferred = defer.Deferred(lambda d: self._abandon())

    def cancel(self) -> None:
        """The caller gives up on the stream (its body's stopProducing): reset it, end the body."""
        if self._abandon():
            self.fail(Failure(error.ConnectionAborted()))

    def _abandon(self) -> bool:
        if self.closed:
            return False
        self.closed = True
        if self.id is None:
            self.conn._queued.remove(self)
        else:
            self.conn._reset(self, ErrorCodes.CANCEL)
        return True

    def fail(self, reason: Failure) -> None:
        self.closed = True
        if self.response is not None:
            self.response._end(reason)
        elif not self.d.called:
            self.d.errback(reason)


@implementer(IHandshakeListener)
class H2ClientProtocol(protocol.Protocol):
    """One client HTTP/2 connection over TLS. ``ready`` fires with True once ALPN chose h2, False otherwise
    (the connection is then closed), or errbacks if the handshake failed."""

    def __init__(self, reactor, authority: str):
        self.reactor = reactor
        self.authority = authority
        self.ready: defer.Deferred = defer.Deferred()
        self.lost: defer.Deferred = defer.Deferred()
        # Our own request headers are lower-case and well-formed: no per-request normalisation.
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8", validate_outbound_headers=False,
            normalize_outbound_headers=False))
        self._streams: dict = {}
        self._queued: list = []
        self.usable = False          # takes new streams
        self._going_away = False
        self._idle_timer = None
        self._ping_timer = None

    # -- connection life --------------------------------------------------------------------------
    def handshakeCompleted(self) -> None:
        if getattr(self.transport, "negotiatedProtocol", None) != b"h2":
            self.ready.callback(False)
            self.transport.loseConnection()
            return
        self.conn.local_settings = h2.settings.Settings(client=True, initial_values={
            h2.settings.SettingCodes.ENABLE_PUSH: 0,
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
            h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 10 << 20})
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(CONNECTION_WINDOW - 65535)
        self.usable = True
        self._flush()
        self._arm_idle()
        self.ready.callback(True)

    def connectionLost(self, reason=None) -> None:
        self.usable = False
        self._cancel_timers()
        lost = Failure(H2ConnectionLost(f"HTTP/2 connection lost: {reason.getErrorMessage() if reason else ''}"))
        for stream in list(self._streams.values()) + list(self._queued):
            # Not sent yet, or a read the server had not answered (net/http replays those): send it again.
            replayable = stream.id is None or (stream.response is None and stream.request[0] in _REPLAYABLE)
            stream.fail(Failure(H2Unprocessed("connection lost")) if replayable else lost)
        self._streams.clear()
        self._queued.clear()
        if not self.ready.called:
            self.ready.errback(reason or lost)
        self.lost.callback(None)

    def close(self) -> defer.Deferred:
        self.usable = False
        if self.transport is not None and not self.lost.called:
            try:
                self.conn.close_connection()
                self._flush()
            except h2.exceptions.ProtocolError:
                pass
            self.transport.loseConnection()
        return self.lost

    # -- requests ---------------------------------------------------------------------------------
    def request(self, method: str, path: str, headers: list, body: bytes = b"") -> defer.Deferred:
        """A Deferred H2Response; errbacks with H2Unprocessed when the stream was never processed."""
        stream = _Stream(self, method, path, headers, body)
        if not self.usable:
            stream.d.errback(H2Unprocessed("connection not usable"))
            return stream.d
        self._queued.append(stream)
        self._start_queued()
        return stream.d

    def _start_queued(self) -> None:
        limit = self.conn.remote_settings.max_concurrent_streams
        while self._queued and self.usable and self.conn.open_outbound_streams < limit:
            try:
                stream_id = self.conn.get_next_available_stream_id()
            except h2.exceptions.NoAvailableStreamIDError:
                # 2^31 streams used up: this connection ends when its streams do; the rest go to a new one.
                self.usable = False
                self._going_away = True
                for stream in self._queued:
                    stream.fail(Failure(H2Unprocessed("stream ids exhausted")))
                self._queued.clear()
                self._close_if_drained()
                break
            stream = self._queued.pop(0)
            method, path, headers, body = stream.request
            stream.id = stream_id
            request_headers = [(":method", method), (":scheme", "https"), (":authority", self.authority),
                               (":path", path), *headers]
            if body:
                request_headers.append(("content-length", str(len(body))))
            self.conn.send_headers(stream.id, request_headers, end_stream=not body)
            self._streams[stream.id] = stream
            self._send_body(stream)
        self._flush()

    def _send_body(self, stream: _Stream) -> None:
        while stream.outbound and not stream.closed:
            window = min(self.conn.local_flow_control_window(stream.id), self.conn.max_outbound_frame_size)
            if window <= 0:
                return  # resumed by a WINDOW_UPDATE
            chunk, stream.outbound = stream.outbound[:window], stream.outbound[window:]
            self.conn.send_data(stream.id, chunk, end_stream=not stream.outbound)

    def _reset(self, stream: _Stream, code) -> None:
        self._streams.pop(stream.id, None)
        try:
            self.conn.reset_stream(stream.id, code)
        except h2.exceptions.ProtocolError:  # the stream, or the connection, is already closed
            pass
        self._flush()
        self._start_queued()
        self._close_if_drained()

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data and self.transport is not None:
            self.transport.write(data)

    # -- frames in --------------------------------------------------------------------------------
    def dataReceived(self, data: bytes) -> None:
        self._arm_idle()
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            log.warn("HTTP/2 protocol error from the server: {error}", error=e)
            self._flush()
            self.transport.loseConnection()
            return
        for event in events:
            self._event(event)
        self._flush()

    def _event(self, event) -> None:
        if isinstance(event, h2.events.ResponseReceived):
            stream = self._streams.get(event.stream_id)
            if stream is not None:
                headers = dict(event.headers)
                code = int(headers.pop(":status"))
                stream.response = H2Response(stream, code, headers)
                stream.d.callback(stream.response)
        elif isinstance(event, h2.events.DataReceived):
            stream = self._streams.get(event.stream_id)
            if stream is not None and stream.response is not None:
                stream.response._data(event.data)
            try:
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                pass
        elif isinstance(event, h2.events.StreamEnded):
            stream = self._streams.pop(event.stream_id, None)
            if stream is not None:
                stream.closed = True
                if stream.response is not None:
                    stream.response._end(Failure(ResponseDone()))
                elif not stream.d.called:
                    stream.d.errback(H2ConnectionLost("stream ended without a response"))
            self._start_queued()
            self._close_if_drained()
        elif isinstance(event, h2.events.StreamReset):
            stream = self._streams.pop(event.stream_id, None)
            if stream is not None:
                unprocessed = event.error_code == ErrorCodes.REFUSED_STREAM and stream.response is None
                stream.fail(Failure(H2Unprocessed("stream refused") if unprocessed
                                    else H2StreamReset(event.error_code)))
            self._start_queued()
            self._close_if_drained()
        elif isinstance(event, h2.events.WindowUpdated):
            streams = [self._streams[event.stream_id]] if event.stream_id in self._streams else \
                list(self._streams.values())
            for stream in streams:
                self._send_body(stream)
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            self._start_queued()
        elif isinstance(event, h2.events.PingAckReceived):
            if self._ping_timer is not None and self._ping_timer.active():
                self._ping_timer.cancel()
            self._ping_timer = None
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._goaway(event)

    def _goaway(self, event) -> None:
        """GOAWAY: no new streams here; those above last_stream_id were never processed."""
        self.usable = False
        last = event.last_stream_id if event.last_stream_id is not None else 0
        for stream_id, stream in list(self._streams.items()):
            if stream_id > last:
                del self._streams[stream_id]
                stream.fail(Failure(H2Unprocessed("GOAWAY")))
        for stream in self._queued:
            stream.fail(Failure(H2Unprocessed("GOAWAY")))
        self._queued.clear()
        if event.error_code != ErrorCodes.NO_ERROR:
            log.info("HTTP/2 GOAWAY from the server: {code}", code=event.error_code)
        self._going_away = True
        self._close_if_drained()

    def _close_if_drained(self) -> None:
        """After a GOAWAY, the connection ends once the streams it still serves have ended."""
        if self._going_away and not self._streams and self.transport is not None:
            self.transport.loseConnection()

    # -- health check ------------------------------------------------------------------------------
    def _arm_idle(self) -> None:
        if self._idle_timer is not None and self._idle_timer.active():
            self._idle_timer.reset(READ_IDLE_TIMEOUT)
        else:
            self._idle_timer = self.reactor.callLater(READ_IDLE_TIMEOUT, self._idle)

    def _idle(self) -> None:
        self._idle_timer = None
        if self.lost.called or self._ping_timer is not None:
            return
        try:
            self.conn.ping(b"kapiping")
        except h2.exceptions.ProtocolError:
            return
        self._flush()
        self._ping_timer = self.reactor.callLater(PING_TIMEOUT, self._ping_timeout)

    def _ping_timeout(self) -> None:
        self._ping_timer = None
        log.info("HTTP/2 health check: no PING answer in {t} s; closing the connection", t=PING_TIMEOUT)
        self.usable = False
        self.transport.abortConnection()

    def _cancel_timers(self) -> None:
        for timer in (self._idle_timer, self._ping_timer):
            if timer is not None and timer.active():
                timer.cancel()
        self._idle_timer = self._ping_timer = None


class H2Pool:
    """The one HTTP/2 connection of a Client, dialled on first use and again after it is lost.

    ``creator`` is an IOpenSSLClientConnectionCreator offering h2 and http/1.1 by ALPN."""

    def __init__(self, reactor, host: str, port: int, creator):
        self.reactor = reactor
        self.host = host
        self.port = port
        self.creator = creator
        self.authority = host if port == 443 else f"{host}:{port}"
        self.supported: Optional[bool] = None     # None until the first handshake says
        self._conn: Optional[H2ClientProtocol] = None
        self._connecting: Optional[defer.Deferred] = None
        self._waiting: list = []
        self.connections = 0                      # dialled so far (tests and figures)

    async def _connection(self) -> Optional[H2ClientProtocol]:
        if self._conn is not None and self._conn.usable:
            return self._conn
        if self._connecting is None:
            self._connecting = defer.Deferred.fromCoroutine(self._dial())
            self._connecting.addBoth(self._dialled)
        waiter: defer.Deferred = defer.Deferred()
        self._waiting.append(waiter)
        return await waiter

    async def _dial(self) -> Optional[H2ClientProtocol]:
        endpoint = endpoints.wrapClientTLS(self.creator, endpoints.HostnameEndpoint(self.reactor, self.host,
                                                                                  self.port))
        conn = H2ClientProtocol(self.reactor, self.authority)
        await endpoints.connectProtocol(endpoint, conn)
        self.connections += 1
        h2_chosen = await conn.ready
        self.supported = h2_chosen
        return conn if h2_chosen else None

    def _dialled(self, result):
        self._connecting = None
        waiting, self._waiting = self._waiting, []
        if isinstance(result, Failure):
            for waiter in waiting:
                waiter.errback(result)
            return None
        self._conn = result
        for waiter in waiting:
            waiter.callback(result)
        return None

    async def request(self, method: str, path: str, headers: list, body: bytes = b""):
        """An H2Response, or None when the server does not speak h2."""
        for attempt in range(3):
            conn = await self._connection()
            if conn is None:
                return None
            try:
                return await conn.request(method, path, headers, body)
            except H2Unprocessed:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> defer.Deferred:
        conn, self._conn = self._conn, None
        if conn is None:
            return defer.succeed(None)
        return conn.close()


__all__ = ["H2ClientProtocol", "H2ConnectionLost", "H2Pool", "H2Response", "H2StreamReset", "H2Unprocessed"]

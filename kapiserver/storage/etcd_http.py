"""
A lean HTTP/1.1 client for etcd's unary JSON calls: a few persistent
connections per endpoint, requests pipelined on them, responses matched to
requests in order.

Twisted's Agent spends most of a small call's CPU time on machinery etcd does
not need (per-request header objects, a producer per body, a pool lookup), and
cannot pipeline; this protocol writes each request as one buffer and parses
only what etcd's gateway sends (a status line, headers, a body framed by
Content-Length or chunked encoding).  Streaming watches still use the Agent.

When a connection is lost, every request outstanding on it fails with
ConnectionLost: none is resent, since a write may already have applied.  A
request cancelled while it waits for a connection is dropped, never sent.
"""

from __future__ import annotations

import re
from typing import Any

from twisted.internet import tcp
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionLost
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure

__all__ = ["PipelinedPool"]

_HEAD, _BODY, _CHUNK_SIZE, _CHUNK, _CHUNK_END, _TRAILER = range(6)

# The response header fields the connection acts on, found in the lower-cased head in one scan.
_FIELDS = re.compile(rb"\r\n(content-length|transfer-encoding|connection)[ \t]*:[ \t]*([^\r]*)")


def send_now(transport: Any, data: bytes) -> None:
    """Write ``data`` to ``transport``, sending it at once when the transport is a plain TCP connection with
    nothing queued.

    Twisted's write queues the bytes and registers the socket with epoll to send them once the reactor hears
    it is writable: two epoll_ctl calls and one more reactor event per request, and the request leaves only at
    the next poll.  A request to etcd is written whole, with TCP_NODELAY, mostly at the end of a reactor turn
    (a turn's consistent reads share one: coalesce.py), so it is sent there; what the socket does not take (or
    a socket error) goes to Twisted's write behind it, which sends the rest or finds out the error.  Any other
    transport (TLS, a test's) is written to as usual."""
    if (transport.__class__ is not tcp.Client or transport.dataBuffer or transport._tempDataBuffer
            or not transport.connected or transport.disconnecting or transport._aborting
            or transport._writeDisconnecting or transport._writeDisconnected):
        transport.write(data)
        return
    try:
        sent = transport.socket.send(data)
    except OSError:
        sent = 0
    if sent < len(data):
        transport.write(data[sent:])


class _Connection(Protocol):
    """One HTTP/1.1 connection; ``request`` may be called with requests still
    outstanding (pipelining)."""

    def __init__(self, host: bytes) -> None:
        self._host = host
        self.outstanding: list[Deferred] = []
        # What is left of the bytes received, not yet a whole part of a response.  A bytearray: appending
        # to it and deleting from its front are cheap, so a large chunked body is not copied once per chunk.
        self._buffer = bytearray()
        self._state = _HEAD
        self._status = 0
        self._length = -1
        self._body: list[bytes] = []
        self._close_after = False
        self.lost = False
        self.on_lost: Any = None

    def request(self, path: bytes, body: bytes) -> Deferred:
        # Cancelling (a timeout) gives up the connection: responses come in
        # order, so the ones queued behind a stuck request would wait too.
        d: Deferred = Deferred(lambda _: self.transport.abortConnection())
        self.outstanding.append(d)
        send_now(self.transport, b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (path, self._host, len(body), body))
        return d

    def dataReceived(self, data: bytes) -> None:
        # A whole response in one read (the usual case) is parsed from ``data`` itself, without a copy.
        buffer = self._buffer
        if buffer:
            buffer += data
            data = buffer
        try:
            used = self._parse(data)
        except ValueError as e:
            self._fail_all(Failure(ConnectionLost(f"bad response from etcd: {e}")))
            self.transport.loseConnection()
            return
        if data is buffer:
            del buffer[:used]
        elif used < len(data):
            buffer += data[used:]

    def _parse(self, data: Any) -> int:
        """Deliver what ``data`` (bytes or the buffer) holds of responses; how many bytes were used."""
        at = 0
        size = len(data)
        while True:
            state = self._state
            if state == _HEAD:
                end = data.find(b"\r\n\r\n", at)
                if end < 0:
                    if size - at >= 5 and not data.startswith(b"HTTP/", at):
                        raise ValueError(repr(bytes(data[at:at + 80])))     # not HTTP: no need to wait for more
                    return at
                self._head(bytes(data[at:end]))
                at = end + 4
            elif state == _BODY:
                if size - at < self._length:
                    return at
                end = at + self._length
                body = bytes(data[at:end])
                at = end
                self._finish(body)
            elif state == _CHUNK:
                if size - at < self._length:
                    return at
                end = at + self._length
                self._body.append(bytes(data[at:end]))
                at = end
                self._state = _CHUNK_END
            else:
                end = data.find(b"\r\n", at)
                if end < 0:
                    return at
                line = bytes(data[at:end])
                at = end + 2
                if state == _CHUNK_SIZE:
                    self._length = int(line.split(b";", 1)[0], 16)
                    self._state = _CHUNK if self._length else _TRAILER
                elif state == _CHUNK_END:
                    self._state = _CHUNK_SIZE
                elif not line:      # _TRAILER: header lines until an empty one
                    self._finish(b"".join(self._body))

    def _head(self, head: bytes) -> None:
        """The status line and header fields of a response."""
        line, _, _ = head.partition(b"\r\n")
        parts = line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise ValueError(repr(line[:80]))
        self._status = int(parts[1])
        length, chunked, self._body = -1, False, []
        self._close_after = parts[0] == b"HTTP/1.0"
        for name, value in _FIELDS.findall(head[len(line):].lower()):
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = chunked or b"chunked" in value
            elif value.strip() == b"close":
                self._close_after = True
        if chunked:
            self._state = _CHUNK_SIZE
        elif length >= 0:
            self._length = length
            self._state = _BODY
        else:
            raise ValueError("response without a length")

    def _finish(self, body: bytes) -> None:
        self._state = _HEAD
        d = self.outstanding.pop(0)
        if not d.called:
            d.callback((self._status, body))
        if self._close_after:
            self.transport.loseConnection()

    def _fail_all(self, failure: Failure) -> None:
        outstanding, self.outstanding = self.outstanding, []
        for d in outstanding:
            if not d.called:        # one cancelled (its timeout) has had its CancelledError already
                d.errback(failure)

    def connectionLost(self, reason: Failure = None) -> None:
        self.lost = True
        if self.on_lost is not None:
            self.on_lost(self)
        self._fail_all(reason or Failure(ConnectionLost()))


class PipelinedPool:
    """Up to ``size`` connections to one endpoint, made on demand; a request
    goes to the connection with the fewest outstanding requests, and a new
    connection is made while every one has ``pipeline`` or more."""

    def __init__(self, endpoint: Any, host: bytes, size: int = 4, pipeline: int = 4):
        self._endpoint = endpoint
        self._host = host
        self._size = size
        self._pipeline = pipeline
        self._connections: list[_Connection] = []
        self._connecting = 0
        self._waiting: list[tuple[bytes, bytes, Deferred, list[Deferred]]] = []

    def request(self, path: bytes, body: bytes) -> Deferred:
        """Fires with (status, body bytes); fails with a connection error."""
        best = min(self._connections, key=lambda c: len(c.outstanding), default=None)
        room = len(self._connections) + self._connecting < self._size
        if best is not None and (len(best.outstanding) < self._pipeline or not room):
            return best.request(path, body)
        # Cancelled (a timeout) while it waits, it is dropped unsent (so its
        # caller's failure means it was never applied); once sent, it is
        # cancelled as a request on a connection is.
        sent: list[Deferred] = []

        def cancel(d: Deferred) -> None:
            if sent:
                sent[0].cancel()
            else:
                self._waiting = [entry for entry in self._waiting if entry[2] is not d]
        d: Deferred = Deferred(cancel)
        self._waiting.append((path, body, d, sent))
        if room:
            self._connect()
        return d

    def _connect(self) -> None:
        self._connecting += 1
        factory = Factory.forProtocol(lambda: _Connection(self._host))
        self._endpoint.connect(factory).addCallbacks(self._connected, self._failed)

    def _connected(self, connection: _Connection) -> None:
        self._connecting -= 1
        connection.on_lost = self._lost
        self._connections.append(connection)
        self._dispatch_waiting()

    def _failed(self, failure: Failure) -> None:
        self._connecting -= 1
        if self._connections:
            self._dispatch_waiting()
        elif self._connecting == 0:
            waiting, self._waiting = self._waiting, []
            for _, _, d, _ in waiting:
                d.errback(failure)

    def _dispatch_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        for path, body, d, sent in waiting:
            sent.append(self.request(path, body))
            sent[0].chainDeferred(d)

    def _lost(self, connection: _Connection) -> None:
        if connection in self._connections:
            self._connections.remove(connection)

    def close(self) -> None:
        connections, self._connections = self._connections, []
        for connection in connections:
            connection.transport.loseConnection()

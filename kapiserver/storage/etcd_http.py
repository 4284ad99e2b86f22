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

from typing import Any, Optional

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionLost
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure

__all__ = ["PipelinedPool"]

_STATUS, _HEADERS, _BODY, _CHUNK_SIZE, _CHUNK, _CHUNK_END, _TRAILER = range(7)


class _Connection(Protocol):
    """One HTTP/1.1 connection; ``request`` may be called with requests still
    outstanding (pipelining)."""

    def __init__(self, host: bytes) -> None:
        self._host = host
        self.outstanding: list[Deferred] = []
        # A bytearray: deleting from its front is cheap, so a large chunked
        # body is not copied once per chunk.
        self._buffer = bytearray()
        self._state = _STATUS
        self._status = 0
        self._length = -1
        self._chunked = False
        self._body: list[bytes] = []
        self._close_after = False
        self.lost = False
        self.on_lost: Any = None

    def request(self, path: bytes, body: bytes) -> Deferred:
        # Cancelling (a timeout) gives up the connection: responses come in
        # order, so the ones queued behind a stuck request would wait too.
        d: Deferred = Deferred(lambda _: self.transport.abortConnection())
        self.outstanding.append(d)
        self.transport.write(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (path, self._host, len(body), body))
        return d

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        try:
            while self._step():
                pass
        except ValueError as e:
            self._fail_all(Failure(ConnectionLost(f"bad response from etcd: {e}")))
            self.transport.loseConnection()

    def _line(self) -> Optional[bytes]:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            return None
        line = bytes(self._buffer[:end])
        del self._buffer[:end + 2]
        return line

    def _take(self, n: int) -> bytes:
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def _step(self) -> bool:
        state = self._state
        if state == _STATUS:
            line = self._line()
            if line is None:
                return False
            parts = line.split(b" ", 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
                raise ValueError(repr(line[:80]))
            self._status = int(parts[1])
            self._length, self._chunked, self._body = -1, False, []
            self._close_after = parts[0] == b"HTTP/1.0"
            self._state = _HEADERS
            return True
        if state == _HEADERS:
            line = self._line()
            if line is None:
                return False
            if not line:
                if self._chunked:
                    self._state = _CHUNK_SIZE
                elif self._length >= 0:
                    self._state = _BODY
                else:
                    raise ValueError("response without a length")
                return True
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                self._length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                self._chunked = True
            elif name == b"connection" and value.strip().lower() == b"close":
                self._close_after = True
            return True
        if state == _BODY:
            if len(self._buffer) < self._length:
                return False
            self._finish(self._take(self._length))
            return True
        if state == _CHUNK_SIZE:
            line = self._line()
            if line is None:
                return False
            self._length = int(line.split(b";", 1)[0], 16)
            self._state = _CHUNK if self._length else _TRAILER
            return True
        if state == _CHUNK:
            if len(self._buffer) < self._length:
                return False
            self._body.append(self._take(self._length))
            self._state = _CHUNK_END
            return True
        if state == _CHUNK_END:
            line = self._line()
            if line is None:
                return False
            self._state = _CHUNK_SIZE
            return True
        # _TRAILER: header lines until an empty one
        line = self._line()
        if line is None:
            return False
        if not line:
            self._finish(b"".join(self._body))
        return True

    def _finish(self, body: bytes) -> None:
        self._state = _STATUS
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

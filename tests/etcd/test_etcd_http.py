"""
The pipelined HTTP/1.1 connection under the etcd client, against a
StringTransport: responses are matched to requests in order, with either
framing, and a lost connection fails every request still outstanding; the
pool sends a request waiting for its connection only if it is still wanted.
On a real TCP connection a request is sent in the call that makes it.
"""

from __future__ import annotations

import pytest
from twisted.internet import reactor
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.error import ConnectionLost, ConnectionRefusedError
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from kapiserver.storage.etcd_http import PipelinedPool, _Connection


def _connection():
    connection = _Connection(b"etcd-0")
    connection.makeConnection(StringTransport())
    return connection


def _outcomes(deferreds):
    got = []
    for d in deferreds:
        d.addBoth(got.append)
    return got


def test_pipelined_requests_get_their_responses_in_order():
    """Two requests written back to back receive the two responses in order, Content-Length and chunked alike, split anywhere."""
    connection = _connection()
    got = _outcomes([connection.request(b"/v3/kv/range", b"{}"), connection.request(b"/v3/kv/txn", b'{"a":1}')])
    written = connection.transport.value()
    assert written.count(b"POST ") == 2 and b"Content-Length: 7\r\n\r\n{\"a\":1}" in written
    stream = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
              b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\n{\"cod\r\n6\r\ne\":11}\r\n0\r\n\r\n")
    for i in range(0, len(stream), 7):
        connection.dataReceived(stream[i:i + 7])
    assert got == [(200, b"{}"), (400, b'{"code":11}')]
    assert connection.outstanding == []


def test_lost_connection_fails_every_outstanding_request():
    """When the connection drops, each request without a response fails; the answered one keeps its answer."""
    connection = _connection()
    got = _outcomes([connection.request(b"/a", b"{}") for _ in range(3)])
    connection.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    connection.connectionLost(Failure(ConnectionLost()))
    assert got[0] == (200, b"")
    assert [f.check(ConnectionLost) for f in got[1:]] == [ConnectionLost, ConnectionLost]


def test_garbage_response_fails_outstanding_requests():
    """A response that is not HTTP fails the requests and closes the connection."""
    connection = _connection()
    got = _outcomes([connection.request(b"/a", b"{}")])
    connection.dataReceived(b"SSH-2.0-OpenSSH\r\n")
    assert got[0].check(ConnectionLost)
    assert connection.transport.disconnecting


@pytest.mark.parametrize("header", [b"Connection: close", b"Connection: Close"])
def test_connection_close_header_closes_after_the_response(header):
    """A response saying Connection: close is delivered and the connection is then closed."""
    connection = _connection()
    got = _outcomes([connection.request(b"/a", b"{}")])
    connection.dataReceived(b"HTTP/1.1 503 Service Unavailable\r\n" + header + b"\r\nContent-Length: 1\r\n\r\nx")
    assert got == [(503, b"x")]
    assert connection.transport.disconnecting


def test_a_cancelled_request_does_not_stop_the_others_failing_when_the_connection_goes():
    """A request cancelled by its timeout (which aborts the connection) has its CancelledError; the requests
    queued behind it still fail with the connection's loss (an AlreadyCalledError used to stop that loop, and
    they waited for their own timeouts)."""
    connection = _connection()
    first, second = connection.request(b"/v3/kv/range", b"{}"), connection.request(b"/v3/kv/txn", b"{}")
    got = _outcomes([first, second])
    first.cancel()
    connection.connectionLost(Failure(ConnectionLost()))
    assert [type(f.value).__name__ for f in got] == ["CancelledError", "ConnectionLost"]


class _PendingEndpoint:
    """An endpoint whose connection attempts wait until the test finishes them."""

    def __init__(self):
        self.attempts = []

    def connect(self, factory):
        d = Deferred()
        self.attempts.append((factory, d))
        return d

    def connect_one(self):
        factory, d = self.attempts.pop(0)
        connection = factory.buildProtocol(None)
        connection.makeConnection(StringTransport())
        d.callback(connection)
        return connection


def test_a_request_cancelled_while_waiting_for_its_connection_is_never_sent():
    """A call that timed out before its connection was made has failed for its caller: the connection made
    afterwards must not carry it to etcd (a write answered Unavailable would then apply after all)."""
    endpoint = _PendingEndpoint()
    pool = PipelinedPool(endpoint, b"etcd-0", size=1)
    cancelled, kept = pool.request(b"/v3/kv/txn", b'{"n":1}'), pool.request(b"/v3/kv/txn", b'{"n":2}')
    got = _outcomes([cancelled, kept])
    cancelled.cancel()
    connection = endpoint.connect_one()
    written = connection.transport.value()
    assert b'{"n":1}' not in written and b'{"n":2}' in written
    connection.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    assert got[0].check(CancelledError) and got[1] == (200, b"{}")
    assert connection.outstanding == []


def test_requests_waiting_for_a_connection_that_cannot_be_made_fail_unsent():
    """When the only connection attempt fails, the requests waiting for it fail with its error."""
    endpoint = _PendingEndpoint()
    pool = PipelinedPool(endpoint, b"etcd-0", size=1)
    got = _outcomes([pool.request(b"/a", b"{}"), pool.request(b"/b", b"{}")])
    endpoint.attempts.pop(0)[1].errback(Failure(ConnectionRefusedError()))
    assert [f.check(ConnectionRefusedError) for f in got] == [ConnectionRefusedError, ConnectionRefusedError]


def test_a_request_cancelled_after_its_connection_was_made_gives_up_the_connection():
    """A request that waited for its connection and was then cancelled is cancelled as one made on a ready
    connection is: the connection is given up, and its loss later adds nothing (no second failure)."""
    endpoint = _PendingEndpoint()
    pool = PipelinedPool(endpoint, b"etcd-0", size=1)
    waited = pool.request(b"/v3/kv/txn", b"{}")
    got = _outcomes([waited])
    connection = endpoint.connect_one()
    sent = connection.outstanding[0]
    waited.cancel()
    assert got[0].check(CancelledError)
    assert connection.transport.disconnecting
    connection.connectionLost(Failure(ConnectionLost()))
    outcome = []
    sent.addBoth(outcome.append)
    assert outcome == [None]     # its CancelledError went to the caller; not a second failure (AlreadyCalledError)


def test_responses_read_together_are_each_delivered_and_a_partial_one_waits():
    """Several responses in one read (pipelining), header names in any case and spacing, a chunked body
    with extensions and trailer fields, and a response cut short that completes at the next read."""
    connection = _connection()
    got = _outcomes([connection.request(b"/a", b"{}") for _ in range(4)])
    connection.dataReceived(
        b"HTTP/1.1 200 OK\r\ncontent-LENGTH:3\r\nX-Other: content-length: 99\r\n\r\nabc"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding :  Chunked\r\n\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Le")
    assert got == [(200, b"abc"), (200, b"de"), (404, b"")]
    connection.dataReceived(b"ngth: 4\r\n\r\nwx")
    assert len(got) == 3
    connection.dataReceived(b"yz")
    assert got[3] == (200, b"wxyz")
    assert connection.outstanding == [] and not connection.transport.disconnecting


def test_a_response_without_a_length_fails_the_requests():
    """Neither Content-Length nor chunked: the body's end cannot be known, so the connection is given up."""
    connection = _connection()
    got = _outcomes([connection.request(b"/a", b"{}")])
    connection.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}")
    assert got[0].check(ConnectionLost)
    assert connection.transport.disconnecting


def test_an_http_1_0_response_closes_the_connection_after_it():
    connection = _connection()
    got = _outcomes([connection.request(b"/a", b"{}")])
    connection.dataReceived(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    assert got == [(200, b"{}")]
    assert connection.transport.disconnecting


class _Received(Protocol):
    """The server side of a test connection: keeps what it receives."""

    def connectionMade(self):
        self.factory.received.append(self)
        self.data = b""

    def dataReceived(self, data):
        self.data += data


class _Stingy:
    """A socket that takes ``take`` bytes per send."""

    def __init__(self, sock, take):
        self._sock = sock
        self._take = take
        self.sends = 0

    def send(self, data):
        self.sends += 1
        return self._sock.send(data[:self._take])

    def __getattr__(self, name):
        return getattr(self._sock, name)


@pytest.fixture(name="tcp_pool")
def _tcp_pool(run, run_until):
    """A PipelinedPool with one TCP connection to a loopback server, and what that server receives."""
    server_factory = Factory.forProtocol(_Received)
    server_factory.received = []
    port = reactor.listenTCP(0, server_factory, interface="127.0.0.1")
    pool = PipelinedPool(TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), b"etcd-0", size=1)
    pool.request(b"/first", b"{}")
    run_until(lambda: server_factory.received and pool._connections)
    yield pool, server_factory.received[0]
    pool.close()
    run(port.stopListening())


def test_a_request_on_a_tcp_connection_is_sent_at_once(tcp_pool, run_until):
    """A request on a TCP connection with nothing queued leaves in the call itself: nothing is left for the
    reactor to send, and the socket is not registered for writing."""
    pool, server = tcp_pool
    connection = pool._connections[0]
    pool.request(b"/v3/kv/range", b'{"key":"AA=="}')
    transport = connection.transport
    assert not transport.dataBuffer and not transport._tempDataBuffer
    assert transport not in reactor.getWriters()
    run_until(lambda: server.data.count(b"POST ") == 2)
    assert server.data.endswith(b'/v3/kv/range HTTP/1.1\r\nHost: etcd-0\r\nContent-Type: application/json\r\n'
                                b'Content-Length: 14\r\n\r\n{"key":"AA=="}')


def test_what_the_socket_does_not_take_goes_to_the_reactor_in_order(tcp_pool, run_until):
    """A send that takes part of a request leaves the rest to Twisted's write, and a request made meanwhile
    queues behind it: the server receives both whole, in order."""
    pool, server = tcp_pool
    transport = pool._connections[0].transport
    stingy = transport.socket = _Stingy(transport.socket, 10)
    pool.request(b"/one", b'{"n":1}')
    assert stingy.sends == 1 and transport in reactor.getWriters()
    pool.request(b"/two", b'{"n":2}')
    assert stingy.sends == 1        # queued behind the rest of the first, not sent ahead of it
    stingy._take = 1 << 20
    run_until(lambda: server.data.count(b"POST ") == 3)
    assert server.data.index(b'{"n":1}') < server.data.index(b"POST /two")
    assert server.data.endswith(b'{"n":2}')
    run_until(lambda: transport not in reactor.getWriters())

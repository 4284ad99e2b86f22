"""The listener's connections (kapiserver.listener.FlushingConnection) on real sockets and a reactor of their
own, turned by hand: a turn's writes leave together once the turn is done, without the reactor being asked
whether the socket is writable; whatever the socket does not take, a big write, and a closing connection go
Twisted's usual way, and nothing is lost or reordered."""

from __future__ import annotations

import socket

import pytest
from twisted.internet import error, protocol
from twisted.python import failure
from twisted.internet.epollreactor import EPollReactor

from kapiserver.listener import FLUSH_LIMIT, FlushingConnection, ServerEndpoint


class Kept(protocol.Protocol):
    def connectionMade(self):
        self.factory.connections.append(self)

    def connectionLost(self, reason):
        self.factory.lost.append(reason)


class Keeper(protocol.Factory):
    protocol = Kept

    def __init__(self):
        self.connections, self.lost = [], []


def turn(reactor) -> None:
    """One reactor turn: the I/O that is ready, then the calls due (the port's flush among them)."""
    reactor.doIteration(0)
    reactor.runUntilCurrent()


@pytest.fixture
def served():
    reactor = EPollReactor()
    factory = Keeper()
    port = ServerEndpoint(reactor, 0, "127.0.0.1", 50)._listen(factory)
    client = socket.create_connection(("127.0.0.1", port.getHost().port))
    client.setblocking(False)
    for _ in range(1000):
        if factory.connections:
            break
        turn(reactor)
    server = factory.connections[0]
    yield reactor, client, server, factory
    client.close()
    server.transport.abortConnection()
    port.stopListening()
    for _ in range(5):
        turn(reactor)


def received(client, reactor, until: int, turns: int = 1000) -> bytes:
    got = b""
    for _ in range(turns):
        try:
            chunk = client.recv(1 << 20)
        except BlockingIOError:
            chunk = None
        except ConnectionResetError:
            break       # an abort's end of the stream
        if chunk == b"":
            break
        if chunk:
            got += chunk
        if len(got) >= until:
            break
        turn(reactor)
    return got


def test_a_turns_writes_leave_together_once_the_turn_is_done(served):
    reactor, client, server, _ = served
    assert isinstance(server.transport, FlushingConnection)
    server.transport.writeSequence([b"HTTP/1.1 200 OK\r\n", b"Content-Length: 2\r\n\r\n"])
    server.transport.write(b"ok")
    with pytest.raises(BlockingIOError):
        client.recv(100)        # nothing sent while the turn goes on
    assert server.transport not in reactor.getWriters()
    reactor.runUntilCurrent()   # the turn's end: the port's flush
    assert client.recv(100) == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    assert server.transport not in reactor.getWriters()     # epoll was never asked


class TakesLittle:
    """A socket whose first send takes only ``first`` bytes (as a full socket buffer would)."""

    def __init__(self, sock, first: int):
        self._sock, self._first = sock, first

    def send(self, data):
        if self._first is not None:
            data, self._first = data[:self._first], None
        return self._sock.send(data)

    def __getattr__(self, name):
        return getattr(self._sock, name)


def test_what_the_socket_does_not_take_is_written_by_the_reactor_in_order(served):
    reactor, client, server, _ = served
    server.transport.socket = TakesLittle(server.transport.socket, 1000)
    body = bytes(range(256)) * 64
    server.transport.write(body[:10])
    server.transport.write(body[10:])
    reactor.runUntilCurrent()
    assert server.transport in reactor.getWriters()     # the rest is the reactor's to send
    server.transport.write(b"tail")
    got = received(client, reactor, len(body) + 4)
    assert len(got) == len(body) + 4 and got == body + b"tail"
    turn(reactor)
    assert server.transport not in reactor.getWriters()


def test_a_big_write_goes_to_the_reactor_at_once(served):
    reactor, client, server, _ = served
    body = b"x" * (FLUSH_LIMIT + 1)
    server.transport.write(b"head")
    server.transport.write(body)
    assert server.transport in reactor.getWriters()
    assert received(client, reactor, len(body) + 4) == b"head" + body


class SendmsgTakes:
    """A socket whose first sendmsg takes only ``first`` bytes; the buffers it was given are noted."""

    def __init__(self, sock, first=None):
        self._sock, self._first, self.given = sock, first, []

    def sendmsg(self, buffers):
        self.given.append(list(buffers))
        data = b"".join(buffers)
        if self._first is not None:
            data, self._first = data[:self._first], None
        return self._sock.send(data)

    def __getattr__(self, name):
        return getattr(self._sock, name)


@pytest.mark.parametrize("first", [None, 100, 5000, 0])
def test_a_head_and_big_body_go_out_from_their_own_buffers(served, first):
    """write_parts sends the two buffers as they are (one sendmsg, at once: no flush waited for); what the socket
    leaves, a part of the head or of the body, the reactor sends after, in order."""
    reactor, client, server, _ = served
    server.transport.socket = SendmsgTakes(server.transport.socket, first)
    head, body = b"HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n", bytes(range(256)) * 1172
    server.transport.write_parts(head, body)
    [given] = server.transport.socket.given
    assert given[0] is head and given[1] is body
    assert (server.transport in reactor.getWriters()) == (first is not None)
    assert received(client, reactor, len(head) + len(body)) == head + body
    turn(reactor)
    assert server.transport not in reactor.getWriters()


def test_parts_behind_writes_still_waiting_are_joined_and_wait_too(served):
    reactor, client, server, _ = served
    server.transport.socket = SendmsgTakes(server.transport.socket)
    server.transport.write(b"first")
    server.transport.write_parts(b"head", b"b" * 200000)
    assert server.transport.socket.given == []      # not ahead of what waits
    assert received(client, reactor, 5 + 4 + 200000) == b"firsthead" + b"b" * 200000


def test_closing_after_writes_sends_them_then_ends_the_connection(served):
    reactor, client, server, factory = served
    server.transport.write(b"last words")
    server.transport.loseConnection()
    assert received(client, reactor, 1 << 30) == b"last words"     # then the end of the stream
    for _ in range(10):
        if factory.lost:
            break
        turn(reactor)
    assert factory.lost


def test_writes_to_a_connection_lost_before_the_flush_are_dropped(served):
    reactor, client, server, factory = served
    server.transport.write(b"never")
    server.transport.connectionLost(failure.Failure(error.ConnectionDone()))
    reactor.runUntilCurrent()       # the flush finds it gone and sends nothing
    assert factory.lost and server.transport._tempDataBuffer == []


def test_an_aborted_connection_sends_nothing_more(served):
    reactor, client, server, factory = served
    server.transport.write(b"never")
    server.transport.abortConnection()
    reactor.runUntilCurrent()       # the flush, then the abort's connectionLost
    assert received(client, reactor, 1) == b""      # the end of the stream (a reset), and not a byte
    assert factory.lost


def test_a_sequence_of_anything_but_bytes_is_refused(served):
    _, _, server, _ = served
    with pytest.raises(TypeError):
        server.transport.writeSequence([b"a", "b"])


def test_the_endpoint_says_where_it_listens():
    assert str(ServerEndpoint(None, 6443, "::1")) == "tcp:6443:interface=\\:\\:1"
    assert str(ServerEndpoint(None, 6443, "", tls_options=object())) == "ssl:6443:interface="


def answer(request_bytes: bytes, resource) -> bytes:
    """What a QuietSite serving ``resource`` answers to these bytes (one in-memory connection)."""
    from twisted.internet.testing import StringTransport
    from kapiserver.listener import QuietSite
    channel = QuietSite(resource).buildProtocol(None)
    transport = StringTransport()
    channel.makeConnection(transport)
    channel.dataReceived(request_bytes)
    return transport.value()


def test_responses_carry_a_date_and_no_server_header():
    """As Go's server (kube-apiserver's) answers: a Date header, and none naming the server."""
    import email.utils
    import time
    from twisted.web.resource import Resource

    class Found(Resource):
        isLeaf = True

        def render_GET(self, request):
            return b"found"
    root = Resource()
    root.putChild(b"a", Resource())
    root.children[b"a"].putChild(b"b", Found())
    head, _, body = answer(b"GET /a/b HTTP/1.1\r\nHost: x\r\n\r\n", root).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and body == b"found"     # resources found below the root as before
    headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
    assert b"Server" not in headers
    date = email.utils.parsedate_to_datetime(headers[b"Date"].decode())
    assert abs(date.timestamp() - time.time()) < 5


def test_the_status_line_has_go_s_reason_phrase():
    """Go's server writes "422 Unprocessable Entity" and "429 Too Many Requests" where twisted.web knows no phrase
    ("Unknown Status"), and "504 Gateway Timeout"; the others as twisted.web words them, which are Go's too."""
    from twisted.web.resource import Resource

    class Answers(Resource):
        isLeaf = True

        def render_GET(self, request):
            request.setResponseCode(int(request.path.rsplit(b"/", 1)[-1]))
            return b""
    for code, phrase in ((422, b"Unprocessable Entity"), (429, b"Too Many Requests"), (504, b"Gateway Timeout"),
                         (409, b"Conflict"), (404, b"Not Found")):
        head = answer(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % code, Answers())
        assert head.startswith(b"HTTP/1.1 %d %s\r\n" % (code, phrase)), head[:60]


def test_options_star_is_answered_as_twisted_web_does():
    from twisted.web.resource import Resource
    assert answer(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", Resource()).startswith(b"HTTP/1.1 200")
    assert answer(b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", Resource()).startswith(b"HTTP/1.1 405")


def test_http_date_is_formatted_once_a_second():
    from kapiserver.listener import http_date
    assert http_date(0.2) == b"Thu, 01 Jan 1970 00:00:00 GMT"
    assert http_date(0.9) is http_date(0.2)
    assert http_date(86400.5) == b"Fri, 02 Jan 1970 00:00:00 GMT"


def test_the_path_is_split_for_a_traversal_and_when_a_resource_asks():
    """Below a root that is not a leaf, resources are found by the path's unquoted segments, the rest left in
    postpath; a leaf root (the API's) is served without a traversal, and its postpath is there if it asks."""
    from twisted.web.resource import Resource

    class Rest(Resource):
        isLeaf = True

        def render_GET(self, request):
            return b"/".join([b"pre"] + request.prepath + [b"post"] + request.postpath)
    root = Resource()
    root.putChild(b"a b", Rest())
    assert answer(b"GET /a%20b/c%2Fd/e HTTP/1.1\r\nHost: x\r\n\r\n", root).endswith(b"\r\n\r\npre/a b/post/c/d/e")
    assert answer(b"GET /a%20b/c HTTP/1.1\r\nHost: x\r\n\r\n", Rest()).endswith(b"\r\n\r\npre/post/a b/c")


def test_a_site_that_finds_its_own_resources_is_asked_even_with_a_leaf_root():
    """A site choosing the resource itself (the embedded controllers' loopback site does) is asked, whatever
    its root is."""
    from twisted.internet.testing import StringTransport
    from twisted.web.resource import Resource
    from kapiserver.listener import QuietSite

    class Says(Resource):
        isLeaf = True

        def __init__(self, word):
            super().__init__()
            self.word = word

        def render_GET(self, request):
            return self.word

    class Choosing(QuietSite):
        def getResourceFor(self, request):
            request.site = self
            return Says(b"chosen")
    channel = Choosing(Says(b"root")).buildProtocol(None)
    transport = StringTransport()
    channel.makeConnection(transport)
    channel.dataReceived(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
    assert transport.value().endswith(b"\r\n\r\nchosen")

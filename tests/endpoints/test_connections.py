"""The connections' limits, on a deterministic clock: the header-read timeout (32 s from a request's first
byte), the idle timeout (90 s, HTTP/1.1 and HTTP/2), no limit on the number of headers, the cap on open
connections (a 503 Status past it), and the drain of shutdown (503 "apiserver is shutting down")."""

from __future__ import annotations

import json
import re

from twisted.internet import task
from twisted.internet.testing import StringTransport
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request
from twisted.web.test.requesthelper import DummyRequest

from kapiserver import runtime
from kapiserver.http2 import APIServerH2Connection
from kapiserver.listener import QuietSite

from channel_sites import connect, site_of


class Answer(Resource):
    """Answers every request with the number of headers it had; /hang never answers."""
    isLeaf = True

    def render(self, request):
        if request.path == b"/hang":
            return NOT_DONE_YET
        return str(len(list(request.requestHeaders.getAllRawHeaders()))).encode()


def _site(clock, connections=None):
    site = site_of(Answer(), clock)
    site.connections = connections
    return site


def test_headers_that_trickle_in_past_32_seconds_close_the_connection():
    """A client sending a request's headers a byte at a time keeps the connection only 32 s from the
    request's first byte, however often it sends."""
    clock = task.Clock()
    _, transport = connect(_site(clock))
    transport.protocol.dataReceived(b"GET / HTTP/1.1\r\nX: ")
    for _ in range(31):
        clock.advance(1)
        transport.protocol.dataReceived(b"a")
    assert not transport.disconnecting
    clock.advance(1.5)
    assert transport.disconnecting
    assert transport.value() == b""


def test_header_timeout_counts_from_each_requests_first_byte():
    """On a keep-alive connection the header timeout starts again with the next request's first byte, not
    at the connection's start; headers that arrive in time are served."""
    clock = task.Clock()
    _, transport = connect(_site(clock))
    clock.advance(20)
    transport.protocol.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"200 OK" in transport.value()
    transport.clear()
    clock.advance(60)     # idle, under the idle timeout
    transport.protocol.dataReceived(b"GET / HTTP/1.1\r\n")
    clock.advance(31)
    assert not transport.disconnecting
    transport.protocol.dataReceived(b"Host: x\r\n\r\n")
    assert b"200 OK" in transport.value()
    clock.advance(31)
    assert not transport.disconnecting


def test_an_idle_keep_alive_connection_closes_after_90_seconds():
    """A connection with no request in flight is closed 90 s after its last byte; one with a request in
    flight (a watch) is not."""
    clock = task.Clock()
    site = _site(clock)
    _, idle = connect(site)
    idle.protocol.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    _, busy = connect(site)
    busy.protocol.dataReceived(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
    clock.advance(89)
    assert not idle.disconnecting
    clock.advance(2)
    assert idle.disconnecting
    clock.advance(3600)
    assert not busy.disconnecting


def test_a_silent_new_connection_closes_after_the_header_timeout():
    """A connection that sends nothing at all is closed 32 s after it was made (the first request's headers
    are due from the start, TLS handshake included)."""
    clock = task.Clock()
    _, transport = connect(_site(clock))
    clock.advance(31)
    assert not transport.disconnecting
    clock.advance(2)
    assert transport.disconnecting


def test_more_than_500_headers_are_served():
    """A request with 600 headers (well under 1 MiB) is served, as upstream has no limit on their count."""
    clock = task.Clock()
    _, transport = connect(_site(clock))
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(600))
    transport.protocol.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert transport.value().startswith(b"HTTP/1.1 200 ")
    assert transport.value().endswith(b"601")


def test_http2_idle_timeout_spares_a_connection_with_a_stream_open():
    """An HTTP/2 connection is idle (and closed) only with no stream open: a quiet watch stream keeps it."""
    clock = task.Clock()
    connection = APIServerH2Connection(clock)
    connection.timeOut = runtime.IDLE_TIMEOUT
    connection.callLater = clock.callLater
    transport = StringTransport()
    connection.makeConnection(transport)
    connection.streams[1] = object()      # a stream in flight
    clock.advance(runtime.IDLE_TIMEOUT * 3)
    assert not transport.disconnecting
    del connection.streams[1]
    clock.advance(runtime.IDLE_TIMEOUT + 1)
    assert transport.disconnecting


def test_connections_past_the_cap_get_a_503_status_and_are_closed():
    """With a cap of 2, a third connection is answered 503 with a Status naming the limit and closed; once one
    of the two closes, a new connection is served."""
    clock = task.Clock()
    connections = runtime.Connections(2)
    site = _site(clock, connections)
    first, _ = connect(site)
    connect(site)
    _, third = connect(site)
    head, _, body = third.value().partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 ") and b"Retry-After: 1" in head
    status = json.loads(body)
    assert status["kind"] == "Status" and status["code"] == 503 and status["reason"] == "ServiceUnavailable"
    assert "too many open connections (the limit is 2)" in status["message"]
    assert third.disconnecting
    first.connectionLost(None)
    _, fourth = connect(site)
    fourth.protocol.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert fourth.value().startswith(b"HTTP/1.1 200 ")


def test_connection_cap_defaults_from_the_open_files_limit(monkeypatch):
    """--max-open-connections=0 caps at the open-files limit less a reserve; a value given is used as is."""
    import resource
    monkeypatch.setattr(resource, "getrlimit", lambda _: (20000, 20000))
    assert runtime.connection_cap(0) == 20000 - 1024
    monkeypatch.setattr(resource, "getrlimit", lambda _: (1024, 4096))
    assert runtime.connection_cap(0) == 768
    assert runtime.connection_cap(50) == 50


def _request(path, method=b"GET"):
    request = DummyRequest(path.strip(b"/").split(b"/"))
    request.path = request.uri = path
    request.method = method
    request.args = {}
    return request


def test_draining_refuses_new_requests_and_waits_for_those_in_flight():
    """Once draining, a request is answered 503 "apiserver is shutting down" with Connection: close; idle()
    fires only once the requests in flight have finished."""
    clock = task.Clock()
    hanging = Resource()
    hanging.isLeaf = True
    hanging.render = lambda request: NOT_DONE_YET
    limits = runtime.RuntimeLimits(hanging, clock, request_timeout=0)
    in_flight = _request(b"/api/v1/namespaces/default/configmaps", b"POST")
    limits.render(in_flight)
    limits.drain()
    idle = limits.idle()
    late = _request(b"/api/v1/pods")
    limits.render(late)
    assert late.responseCode == 503
    assert late.responseHeaders.getRawHeaders(b"connection") == [b"close"]
    assert json.loads(b"".join(late.written))["message"] == "apiserver is shutting down"
    assert not idle.called
    in_flight.finish()
    assert idle.called


def test_closing_all_connections_waits_for_them_to_go():
    """close_all() closes every tracked connection (an HTTP/1.1 channel whose transport paused it as well) and
    fires once each is lost."""
    clock = task.Clock()
    connections = runtime.Connections(0)
    site = _site(clock, connections)
    _, first = connect(site)
    _, second = connect(site)
    second.producer.pauseProducing()      # the transport's buffer was full
    closed = connections.close_all()
    assert first.disconnecting and second.disconnecting
    assert not closed.called
    first.protocol.connectionLost(None)
    second.protocol.connectionLost(None)
    assert closed.called and not connections.open


class _TLSTransport(StringTransport):
    """A StringTransport that says it is TLS, with the protocol ALPN chose."""

    def __init__(self, negotiated):
        super().__init__()
        self.negotiatedProtocol = negotiated


def test_a_refused_http2_connection_gets_a_goaway_with_the_reason():
    """Past the cap on the TLS port, a client that negotiated h2 gets, once it speaks, a GOAWAY
    (ENHANCE_YOUR_CALM) whose debug data says why; one that says nothing is dropped after the header timeout."""
    import h2.config
    import h2.connection
    import h2.events
    from zope.interface import directlyProvides
    from twisted.internet.interfaces import ISSLTransport
    clock = task.Clock()
    refused = runtime.RefusedConnection(7, clock)
    transport = _TLSTransport(b"h2")
    directlyProvides(transport, ISSLTransport)
    refused.makeConnection(transport)
    assert transport.value() == b""
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    refused.dataReceived(client.data_to_send())
    events = client.receive_data(transport.value())
    goaway = [e for e in events if isinstance(e, h2.events.ConnectionTerminated)]
    assert goaway and b"too many open connections (the limit is 7)" in goaway[0].additional_data
    assert transport.disconnecting
    silent = runtime.RefusedConnection(7, clock)
    quiet = _TLSTransport(None)
    directlyProvides(quiet, ISSLTransport)
    silent.makeConnection(quiet)
    clock.advance(runtime.READ_HEADER_TIMEOUT + 1)
    assert quiet.disconnected


def h2_watches(resource, *stream_ids):
    """An APIServerH2Connection serving ``resource`` on a task.Clock, and an h2 client that has sent a GET on each
    of ``stream_ids``: (clock, connection, transport, client)."""
    import h2.config
    import h2.connection

    clock = task.Clock()
    site = QuietSite(resource, reactor=clock)
    connection = APIServerH2Connection(clock)
    connection.requestFactory = site.requestFactory
    connection.site = site
    connection.factory = site
    connection.callLater = clock.callLater
    transport = StringTransport()
    connection.makeConnection(transport)
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    for stream_id in stream_ids:
        client.send_headers(stream_id, [(":method", "GET"), (":scheme", "https"), (":authority", "x"),
                                        (":path", "/w")], end_stream=True)
    connection.dataReceived(client.data_to_send())
    return clock, connection, transport, client

def test_http2_sends_many_frames_per_reactor_turn():
    """A watch stream's queued events leave in one reactor turn (up to FRAMES_PER_TURN DATA frames), not one
    frame per turn as Twisted's own send loop does: on a busy reactor that held a watch minutes behind."""
    import h2.events
    from kapiserver.http2 import FRAMES_PER_TURN

    class Watch(Resource):
        isLeaf = True

        def render(self, request):
            for i in range(100):
                request.write(b'{"type":"ADDED","n":%d}\n' % i)
            return NOT_DONE_YET

    clock, connection, transport, client = h2_watches(Watch(), 1)

    def turn():
        """One reactor turn: the calls due now, not those they schedule (Clock.advance would run those too)."""
        due = [c for c in clock.getDelayedCalls() if c.getTime() <= clock.seconds()]
        for call in due:
            clock.calls.remove(call)
        for call in due:
            call.func(*call.args, **call.kw)

    def received():
        events = client.receive_data(transport.value())
        transport.clear()
        return sum(len(e.data) for e in events if isinstance(e, h2.events.DataReceived))
    event = len(b'{"type":"ADDED","n":00}\n')
    sent = 0
    for _ in range(3):      # the turn the response starts in, then the first send turns
        turn()
        sent += received()
    assert sent >= min(100, FRAMES_PER_TURN) * (event - 1)
    for _ in range(10):
        turn()
    assert sent + received() == sum(len(b'{"type":"ADDED","n":%d}\n' % i) for i in range(100))
    connection.connectionLost(None)


def test_http2_streams_with_data_take_turns_and_idle_ones_cost_nothing():
    """kapiserver.http2.StreamTurns, Twisted's send loop's scheduler here: ready streams take turns, a frame each,
    in the order they became ready; blocked ones are skipped without being looked at; the priority tree's errors
    for unknown and duplicate streams, and DeadlockError when nothing is ready, as Twisted expects them."""
    import priority
    import pytest

    from kapiserver.http2 import StreamTurns

    turns = StreamTurns()
    for stream_id in (1, 3, 5):
        turns.insert_stream(stream_id)
    assert [next(turns) for _ in range(6)] == [1, 3, 5, 1, 3, 5]
    turns.block(3)
    assert [next(turns) for _ in range(4)] == [1, 5, 1, 5]
    turns.unblock(3)
    turns.unblock(3)            # already ready: keeps its place
    assert [next(turns) for _ in range(3)] == [1, 5, 3]
    for stream_id in (1, 5):
        turns.block(stream_id)
    turns.remove_stream(3)
    with pytest.raises(priority.DeadlockError):
        next(turns)
    turns.reprioritize(1, weight=200)       # priorities are taken and ignored
    with pytest.raises(priority.MissingStreamError):
        turns.reprioritize(3)
    with pytest.raises(priority.MissingStreamError):
        turns.unblock(3)
    with pytest.raises(priority.DuplicateStreamError):
        turns.insert_stream(1)
    for _ in range(1000):
        turns.insert_stream(7 + 2 * _)
        turns.block(7 + 2 * _)
    turns.unblock(1)
    assert next(turns) == 1 and next(turns) == 1


def test_http2_connection_interleaves_its_streams_responses():
    """Two watch streams on one connection, each with queued events: both are served from the first turns,
    frame by frame in turn, and both complete."""
    import h2.events

    class Watch(Resource):
        isLeaf = True

        def render(self, request):
            for i in range(20):
                request.write(b'{"type":"ADDED","n":%d}\n' % i)
            request.finish()
            return NOT_DONE_YET

    clock, connection, transport, client = h2_watches(Watch(), 1, 3)
    order, ended = [], set()
    for _ in range(20):
        clock.advance(0)
        for event in client.receive_data(transport.value()):
            if isinstance(event, h2.events.DataReceived) and event.data:
                order.append(event.stream_id)
            if isinstance(event, h2.events.StreamEnded):
                ended.add(event.stream_id)
        transport.clear()
    assert ended == {1, 3}
    assert order.count(1) == order.count(3) == 20
    assert set(order[:4]) == {1, 3}, order      # interleaved from the start, neither waits for the other
    connection.connectionLost(None)


class Echo(Resource):
    """Answers with the request's method, path, version, headers and body as twisted.web gives them, and
    what ``getHeader`` (the request's own, and twisted.web's) answers for a few names."""
    isLeaf = True
    ASKED = (b"user-agent", b"X-DUP", b"x-dup", b"Content-Length", b"content-type", b"absent", "X-Dup", "absent")

    def render(self, request):
        return json.dumps({"method": request.method.decode(), "uri": request.uri.decode(),
                           "version": request.clientproto.decode(), "body": request.content.read().decode(),
                           "headers": sorted([name.decode(), [v.decode() for v in values]]
                                             for name, values in request.requestHeaders.getAllRawHeaders()),
                           "asked": [_text(request.getHeader(name)) for name in self.ASKED],
                           "asked_of_twisted": [_text(Request.getHeader(request, name)) for name in self.ASKED]}
                          ).encode()


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _echo_site(clock):
    return site_of(Echo(), clock)


def _answers(raw: bytes, pieces) -> bytes:
    """What a connection answers to ``raw`` sent in the given pieces (a function splitting the bytes), its Date
    headers blanked (two answers a second apart differ there only)."""
    clock = task.Clock()
    _, transport = connect(_echo_site(clock))
    for piece in pieces(raw):
        if transport.disconnecting:
            break       # as a closing socket stops reading
        transport.protocol.dataReceived(piece)
    return re.sub(rb"\r\nDate: [^\r]*\r\n", b"\r\nDate: -\r\n", transport.value())


def _whole(raw):
    return [raw]


def _bytewise(raw):
    return [raw[i:i + 1] for i in range(len(raw))]


HEADS = [
    b"GET /api/v1/namespaces/default/pods?limit=5 HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n"
    b"user-agent:   kubectl/v1.32.0 \t\r\nX-Dup: a\r\nx-dup: b\r\nAuthorization: Bearer t\r\n\r\n",
    b"DELETE /x HTTP/1.1\r\nHost: x\r\nEmpty:\r\n\r\n",
    b"HEAD / HTTP/1.0\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
    # what twisted.web refuses, or reads its own way: the same answer either way
    b"GET / HTTP/1.1\r\nBad Header: v\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
    b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
    b"GET  / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
    b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    # with a body
    b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 25\r\n\r\n{\"metadata\":{\"name\":\"c\"}}",
    b"PUT /x HTTP/1.1\r\ncontent-length:   5 \r\n\r\nhello",
    b"POST /x HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi",
    b"POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET /second HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    b"POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
    b"POST /x HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi",
    b"POST /x HTTP/1.1\r\nContent-Length: +2\r\n\r\nhi",
]
# A body past twisted.web's in-memory limit (it goes to a temporary file): sent whole, and in 1000-byte pieces.
BIG = b"PATCH /x HTTP/1.1\r\nContent-Length: 200001\r\n\r\n" + b"x" * 200001


def test_a_request_head_in_one_piece_is_read_as_line_by_line(monkeypatch):
    """A request's line and headers arriving in one piece (read at once) give the request, its headers and
    the answer they give when they arrive a byte at a time (read line by line by twisted.web), malformed
    ones and pipelined ones included."""
    lines = []
    line_received = runtime.LimitedHeadersChannel.lineReceived
    monkeypatch.setattr(runtime.LimitedHeadersChannel, "lineReceived",
                        lambda self, line: lines.append(line) or line_received(self, line))
    _answers(HEADS[0], _whole)
    assert lines == []      # read at once
    _answers(HEADS[0], _bytewise)
    assert len(lines) == 8
    for raw in HEADS:
        whole = _answers(raw, _whole)
        assert whole == _answers(raw, _bytewise), raw
        assert whole.startswith(b"HTTP/1."), raw
    one = _answers(HEADS[0], _whole)
    body = json.loads(one.split(b"\r\n\r\n", 1)[1])
    assert body["method"] == "GET" and body["uri"] == "/api/v1/namespaces/default/pods?limit=5"
    assert ["User-Agent", ["kubectl/v1.32.0"]] in body["headers"]
    assert ["X-Dup", ["a", "b"]] in body["headers"]
    assert body["asked"] == body["asked_of_twisted"] == [
        "kubectl/v1.32.0", "b", "b", None, None, None, "b", None]
    assert b" 400 " in _answers(b"GET / HTTP/1.1\r\nBad Header: v\r\n\r\n", _whole)
    pipelined = _answers(HEADS[12], _whole)
    assert pipelined.count(b"HTTP/1.1 200 ") == 2 and b'"uri": "/second"' in pipelined


def test_a_request_with_its_body_in_one_piece_is_read_at_once(monkeypatch):
    """A request whose Content-Length body came with its head is read at once, body and all; one whose body
    is still on its way is read by twisted.web's parser as the rest arrives."""
    lines = []
    line_received = runtime.LimitedHeadersChannel.lineReceived
    monkeypatch.setattr(runtime.LimitedHeadersChannel, "lineReceived",
                        lambda self, line: lines.append(line) or line_received(self, line))
    post = HEADS[14]
    one = json.loads(_answers(post, _whole).split(b"\r\n\r\n", 1)[1])
    assert lines == []
    assert one["method"] == "POST" and one["body"] == '{"metadata":{"name":"c"}}'
    assert ["Content-Length", ["25"]] in one["headers"]
    assert one["asked"] == one["asked_of_twisted"] == [None, None, None, "25", "application/json", None, None, None]
    halves = _answers(post, lambda raw: [raw[:-10], raw[-10:]])
    assert lines and halves == _answers(post, _whole)
    big = _answers(BIG, _whole)
    assert len(json.loads(big.split(b"\r\n\r\n", 1)[1])["body"]) == 200001
    assert big == _answers(BIG, lambda raw: [raw[i:i + 1000] for i in range(0, len(raw), 1000)])


def test_requests_on_a_connection_share_one_timer():
    """A keep-alive connection's requests move its deadlines, not its timers: one timer however many
    requests, and the idle timeout still counts from the last one."""
    clock = task.Clock()
    _, transport = connect(_site(clock))
    for _ in range(20):
        transport.protocol.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        clock.advance(10)
        assert len(clock.getDelayedCalls()) == 1
    assert transport.value().count(b"200 OK") == 20
    clock.advance(79)
    assert not transport.disconnecting
    clock.advance(2)
    assert transport.disconnecting

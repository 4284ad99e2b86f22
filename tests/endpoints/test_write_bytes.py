"""write_bytes answers an HTTP/1.x request in one write: the bytes on the wire are those twisted.web's own
Request.write and finish send (status line, headers in the order they were set, body), for every kind of
answer, and those it must leave to twisted.web (HEAD, 204, a header it sets already present) go that way."""

from __future__ import annotations

import re

import pytest
from twisted.internet.testing import StringTransport
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from kapiserver import listener
from kapiserver.endpoints import http

from channel_sites import connect, site_of


class Answer(Resource):
    """Answers as the request's path says: /CODE/TYPE, with headers from X-Set (name=value;name=value)."""
    isLeaf = True

    def render(self, request):
        _, code, content_type = request.path.decode().split("/", 2)
        for pair in filter(None, (request.getHeader(b"X-Set") or b"").decode().split(";")):
            name, value = pair.split("=", 1)
            request.setHeader(name.encode(), value.encode())
        for pair in filter(None, (request.getHeader(b"X-Set-Known") or b"").decode().split(";")):
            name, value = pair.split("=", 1)
            listener.set_header(request, listener.header_name(name.encode()), value.encode())
        http.write_bytes(request, int(code), content_type.replace("+", " ").replace("%0A", "\n"),
                         b'{"kind":"Status"}')
        return NOT_DONE_YET


def _exchange(raw: bytes) -> bytes:
    channel, transport = connect(site_of(Answer()))
    channel.dataReceived(raw)
    # Blank the Date headers: two exchanges a second apart differ there only.
    return re.sub(rb"\r\nDate: [^\r]*\r\n", b"\r\nDate: -\r\n", transport.value())


def _twisted_web_way(monkeypatch, raw: bytes) -> bytes:
    with monkeypatch.context() as m:
        m.setattr(http, "_write_whole", lambda request, content_type, body: False)
        return _exchange(raw)


REQUESTS = [
    b"GET /200/application/json HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /404/application/json HTTP/1.1\r\nHost: x\r\nX-Set: Audit-Id=abc;X-Other=1\r\n\r\n",
    b"GET /200/application/json HTTP/1.1\r\nHost: x\r\nX-Set: Cache-Control=no-store\r\n\r\n",
    b"GET /200/text/plain;+charset=utf-8 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /200/text/plain%0Abroken HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /500/application/json HTTP/1.0\r\n\r\n",
    b"GET /200/application/json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET /200/application/json HTTP/1.1\r\nHost: x\r\nX-Set: Content-Type=text/html\r\n\r\n",
    b"HEAD /200/application/json HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /204/application/json HTTP/1.1\r\nHost: x\r\n\r\n",
    # two on one connection: the second is answered after the first
    b"GET /200/application/json HTTP/1.1\r\nHost: x\r\n\r\nGET /409/application/json HTTP/1.1\r\nHost: x\r\n\r\n",
]


@pytest.mark.parametrize("raw", REQUESTS)
def test_the_bytes_are_twisted_webs(monkeypatch, raw):
    ours = _exchange(raw)
    assert ours == _twisted_web_way(monkeypatch, raw)
    assert ours.startswith(b"HTTP/1.")


def test_one_write_carries_headers_and_body_once():
    """The common answer: Content-Type, Cache-Control and Content-Length once each, after the headers the
    request set, and the body after the blank line."""
    out = _exchange(b"GET /201/application/json HTTP/1.1\r\nHost: x\r\nX-Set: Audit-Id=abc\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 201 Created"
    names = [line.split(b":")[0] for line in lines[1:]]
    assert names[-4:] == [b"Audit-Id", b"Content-Type", b"Cache-Control", b"Content-Length"]
    assert len(names) == len(set(names))
    assert b"Content-Length: 17" in lines
    assert body == b'{"kind":"Status"}'


def test_a_header_set_before_is_kept_once():
    """A handler's own Cache-Control stands (not twice); a Content-Type set before is replaced, not repeated."""
    out = _exchange(b"GET /200/application/json HTTP/1.1\r\nHost: x\r\n"
                    b"X-Set: Cache-Control=no-store;Content-Type=text/html\r\n\r\n")
    head = out.partition(b"\r\n\r\n")[0].split(b"\r\n")
    assert head.count(b"Cache-Control: no-store") == 1
    assert [line for line in head if line.startswith(b"Content-Type")] == [b"Content-Type: application/json"]


def test_a_newline_in_a_content_type_becomes_a_space():
    out = _exchange(b"GET /200/text/plain%0Abroken HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"Content-Type: text/plain broken\r\n" in out


@pytest.mark.parametrize("raw, whole", [
    (REQUESTS[0], True), (REQUESTS[2], True), (REQUESTS[5], True),
    (REQUESTS[7], False), (REQUESTS[8], False), (REQUESTS[9], False),
])
def test_which_answers_go_in_one_write(monkeypatch, raw, whole):
    """The one write is taken for GETs (HTTP/1.0 too, and with a Cache-Control of the handler's); a HEAD, a
    204 and a Content-Type set before are left to twisted.web."""
    taken = []
    real = http._write_whole
    monkeypatch.setattr(http, "_write_whole", lambda *args: taken.append(real(*args)) or taken[-1])
    _exchange(raw)
    assert taken == [whole]


class _PartsTransport(StringTransport):
    """A test transport that can send a head and a body from their own buffers, as FlushingConnection does."""

    def __init__(self):
        super().__init__()
        self.parts = []

    def write_parts(self, head, body):
        self.parts.append((head, body))
        self.write(head + body)


class Big(Resource):
    isLeaf = True
    body = b"[" + b"1," * 50000 + b"1]"

    def render(self, request):
        http.write_bytes(request, 200, "application/json", self.body)
        return NOT_DONE_YET


def test_a_big_body_goes_behind_its_head_unjoined(monkeypatch):
    """Past BIG_BODY the head and the body go to the connection's write_parts as two buffers (the body the very
    bytes given), the same bytes on the wire as twisted.web's way; a smaller body is joined to its head."""
    raw = b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n"
    channel = site_of(Big()).buildProtocol(None)
    transport = _PartsTransport()
    channel.makeConnection(transport)
    channel.dataReceived(raw)
    [(head, body)] = transport.parts
    assert body is Big.body and head.endswith(b"Content-Length: %d\r\n\r\n" % len(Big.body))
    ours = re.sub(rb"\r\nDate: [^\r]*\r\n", b"\r\nDate: -\r\n", transport.value())
    with monkeypatch.context() as m:
        m.setattr(http, "_write_whole", lambda request, content_type, body: False)
        channel, plain = connect(site_of(Big()))
        channel.dataReceived(raw)
    assert ours == re.sub(rb"\r\nDate: [^\r]*\r\n", b"\r\nDate: -\r\n", plain.value())

    channel = site_of(Answer()).buildProtocol(None)
    transport = _PartsTransport()
    channel.makeConnection(transport)
    channel.dataReceived(REQUESTS[0])
    assert transport.parts == [] and transport.value().endswith(b'{"kind":"Status"}')


def test_a_big_body_under_tls_is_never_sent_around_it():
    """A TLS layer hands unknown attributes to the connection beneath it (Twisted's ProtocolWrapper): its
    write_parts is not the TLS connection's, and the body goes through the layer's own write."""

    class Layer(StringTransport):
        def __init__(self, beneath):
            super().__init__()
            self.beneath = beneath

        def __getattr__(self, name):
            return getattr(self.beneath, name)

    beneath = _PartsTransport()
    channel = site_of(Big()).buildProtocol(None)
    transport = Layer(beneath)
    channel.makeConnection(transport)
    channel.dataReceived(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    assert beneath.parts == [] and beneath.value() == b""
    assert transport.value().endswith(Big.body)


def test_headers_set_as_known_are_on_the_wire_as_setheader_puts_them():
    """listener.set_header (the Date, Audit-Id and flow control headers of every answer) gives the bytes
    twisted.web's setHeader gives: the name in its canonical case, in the order set, a second value replacing the
    first."""
    headers = b"audit-id=abc;X-Kubernetes-PF-FlowSchema-UID=u-1;Date=d;Audit-Id=def"
    known = _exchange(b"GET /200/application/json HTTP/1.1\r\nHost: x\r\nX-Set-Known: " + headers + b"\r\n\r\n")
    usual = _exchange(b"GET /200/application/json HTTP/1.1\r\nHost: x\r\nX-Set: " + headers + b"\r\n\r\n")
    assert known == usual
    assert b"\r\nX-Kubernetes-Pf-Flowschema-Uid: u-1\r\n" in known and b"\r\nAudit-Id: def\r\n" in known

"""What the proxy subresources do to a backend's answer, as upstream's proxy transport
(k8s.io/apimachinery pkg/util/proxy/transport.go): the links of a text/html body and a Location header are moved
under the proxy's path, CORS headers dropped, the backend told X-Forwarded-Uri and the client's Host; any other
body is relayed as it came.  The apiserver is served in process (StubTreq), its backend a canned HTTP answer
over an in-memory connection; the rewriting itself (kapiserver.endpoints.proxyrewrite) is sans-IO."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest
from twisted.internet.defer import Deferred, succeed
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.test import iosim
from twisted.web.client import ResponseDone

from kapiserver.endpoints import forward
from kapiserver.endpoints.proxyrewrite import MAX_BODY, URL, Rewriter, URLError, rewrite_body
from tests.endpoints.inprocess import streams_client

POD = "/api/v1/namespaces/default/pods/p:8080/proxy"


class Backend(Protocol):
    """Answers the first request it reads with ``answer`` (raw bytes) and closes; keeps what it read."""

    def __init__(self, answer: bytes):
        self.answer, self.received = answer, b""

    def dataReceived(self, data):
        self.received += data
        if b"\r\n\r\n" in self.received:
            self.transport.write(self.answer)
            self.transport.loseConnection()


class Tunnels:
    """The nodes' tunnels a pod's proxy dials through: each dial connects to the next canned Backend."""

    def __init__(self):
        self.backends, self.pumps = [], []

    def dial(self, host, port, protocol):
        backend = self.backends.pop(0)
        self.pumps.append(iosim.connect(backend, iosim.FakeTransport(backend, True), protocol,
                                        iosim.FakeTransport(protocol, False), greet=False))
        return succeed(protocol)


class Kubelet:
    def __init__(self):
        self.tunneler = Tunnels()

    async def connection_info(self, node_name):
        return "http", "127.0.0.1", 10250

    def dial(self, host, port, protocol):
        return self.tunneler.dial(host, port, protocol)


@pytest.fixture
def world():
    kubelet = Kubelet()
    client, clock, registry = streams_client(kubelet)
    world = (client, clock, kubelet.tunneler)
    call(world, "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": "default"}})
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}}
    created = json.loads(call(world, "POST", "/api/v1/namespaces/default/pods", pod)[2])
    created["status"] = {"podIP": "10.0.0.7"}
    assert call(world, "PUT", "/api/v1/namespaces/default/pods/p/status", created)[0] == 200
    return world


def call(world, method, path, body=None, answer=None):
    """(code, headers, body) of a request, the backend (when it is dialled) answering ``answer``."""
    client, clock, tunnels = world
    if answer is not None:
        tunnels.backends.append(Backend(answer))
    responses, bodies = [], []
    data = json.dumps(body).encode() if body is not None else None
    client.request(method, "http://api" + path, data=data,
                   headers={"Content-Type": "application/json"}, allow_redirects=False).addCallback(responses.append)
    for _ in range(20):
        client.flush()
        clock.advance(0)
        for pump in tunnels.pumps:
            pump.flush()
    assert responses, (method, path)
    client.content(responses[0]).addCallback(bodies.append)
    client.flush()
    return responses[0].code, responses[0].headers, bodies[0]


def answer(headers: dict, body: bytes = b"", code: str = "200 OK") -> bytes:
    lines = [f"HTTP/1.1 {code}"] + [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


LINK = b'<a href="/rewriteme">test</a>'


def test_html_links_are_moved_under_the_pod_proxy(world):
    """A text/html body's same-host absolute links come back under pods/NAME:PORT/proxy; the backend was told
    X-Forwarded-Uri, the client's Host and (X-Forwarded-For) address."""
    code, headers, body = call(world, "GET", POD + "/", answer=answer({"Content-Type": "text/html"}, LINK))
    assert (code, body) == (200, f'<a href="{POD}/rewriteme">test</a>'.encode())
    sent = world[2].pumps[0].server.received
    assert b"X-Forwarded-Uri: " + POD.encode() + b"/\r\n" in sent
    assert b"Host: api\r\n" in sent
    assert b"X-Forwarded-For: 127.0.0.1\r\n" in sent


def test_other_bodies_are_relayed_as_they_came(world):
    """text/plain (and text/html in an encoding Go cannot read) is not rewritten."""
    for headers in ({"Content-Type": "text/plain"}, {"Content-Type": "text/html", "Content-Encoding": "br"}):
        code, got, body = call(world, "GET", POD + "/", answer=answer(headers, LINK))
        assert (code, body) == (200, LINK), headers


def test_gzip_html_is_rewritten_and_sent_gzipped(world):
    """A gzip text/html body is read, rewritten and gzipped again (treq, the client here, un-gzips it)."""
    code, headers, body = call(world, "GET", POD + "/x/", answer=answer(
        {"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"}, gzip.compress(LINK)))
    assert (code, body) == (200, f'<a href="{POD}/rewriteme">test</a>'.encode())


def test_broken_gzip_html_is_a_500_status(world):
    """A body that says gzip but is not is upstream's 500 with the reader's words (reason Unknown)."""
    code, _, body = call(world, "GET", POD + "/", answer=answer(
        {"Content-Type": "text/html", "Content-Encoding": "gzip"}, b"not gzip at all"))
    assert code == 500
    assert json.loads(body) == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": "errorf making gzip reader: gzip: invalid header", "code": 500}


def test_location_is_rewritten_and_cors_headers_dropped(world):
    """A redirect's Location to the backend's own path comes back under the proxy; Access-Control-Allow-* go."""
    code, headers, _ = call(world, "GET", POD + "/a", answer=answer(
        {"Location": "/login?next=/a", "Access-Control-Allow-Origin": "*", "X-Other": "kept"}, code="302 Found"))
    assert code == 302
    assert headers.getRawHeaders("Location") == [POD + "/login?next=/a"]
    assert headers.getRawHeaders("Access-Control-Allow-Origin") is None
    assert headers.getRawHeaders("X-Other") == ["kept"]


def test_an_unparsable_location_is_an_internal_error(world):
    """A Location Go's url.Parse refuses is upstream's InternalError, with Go's words."""
    code, _, body = call(world, "GET", POD + "/", answer=answer({"Location": "http://[::1/x"}, code="302 Found"))
    assert code == 500
    assert json.loads(body)["message"] == ('Internal error occurred: error trying to parse Location header: '
                                           'parse "http://[::1/x": missing \']\' in host')


# -- the rewriting, sans-IO ------------------------------------------------------------------------------------

REWRITER = Rewriter.for_proxy("/api/v1/namespaces/ns/pods/p/proxy/dir/page", ["dir", "page"], "10.0.0.7:80",
                              "apiserver:6443")
PREFIX = "/api/v1/namespaces/ns/pods/p/proxy"


@pytest.mark.parametrize("html, expected", [
    # Tag and attribute names lower-cased, values double-quoted and escaped, valueless attributes given "".
    ('<A HREF=/x?a=1&copy=2&amp;b class=c disabled>x</A>',
     f'<a href="{PREFIX}/x?a=1&amp;copy=2&amp;b" class="c" disabled="">x</A>'),
    ('<img src="http://10.0.0.7:80/i.png" alt=\'a"b\'/>', f'<img src="{PREFIX}/i.png" alt="a&#34;b"/>'),
    ('<a href="//10.0.0.7:80/y/">', f'<a href="{PREFIX}/y/">'),
    ('<a href="http://apiserver:6443/z">', f'<a href="http://apiserver:6443{PREFIX}/z">'),
    ('<a href="http://elsewhere/x">', '<a href="http://elsewhere/x">'),
    ('<a href="relative page">', '<a href="relative%20page">'),
    (f'<a href="{PREFIX}/already">', f'<a href="{PREFIX}/already">'),
    ('<form action="/../x/./y">', '<form action="/api/v1/namespaces/ns/pods/p/x/y">'),
    ('<a href=":no scheme">', '<a href=":no scheme">'),
    ('<div data="/x"><p title="/x">', '<div data="/x"><p title="/x">'),
    # Comments and raw text are not tags; a tag the body ends inside is dropped.
    ('<!-- <a href="/no"> --><script>"<a href=\'/no\'>"</script><title><a href="/no"></title>',
     '<!-- <a href="/no"> --><script>"<a href=\'/no\'>"</script><title><a href="/no"></title>'),
    ('text <a href="/x', 'text '),
])
def test_html_rewriting(html, expected):
    """Every start tag is written again; the URL attributes of upstream's tags are rewritten."""
    assert REWRITER.html(html.encode()) == expected.encode()


def test_forwarded_uri_and_prepend():
    """The proxy's own path is the request's less the backend's (cleaned, a trailing slash kept)."""
    assert (REWRITER.prepend, REWRITER.forwarded_uri) == (PREFIX, PREFIX + "/dir/page")
    root = Rewriter.for_proxy(PREFIX + "/", [], "10.0.0.7", "h")
    assert (root.prepend, root.forwarded_uri) == (PREFIX, PREFIX + "/")


@pytest.mark.parametrize("text", ["http://u:p@h:1/a%2Fb?q#f", "mailto:x@y", "/a b", "?q", "#", "http:/x", "//h",
                                  "./a:b", "HTTP://H/é"])
def test_urls_read_and_written_as_go(text):
    """A URL comes back as Go's url.Parse then URL.String() write it."""
    expected = {"/a b": "/a%20b", "#": "", "HTTP://H/é": "http://H/%C3%A9"}.get(text, text)
    assert str(URL.parse(text)) == expected


@pytest.mark.parametrize("text, error", [
    ("http://h:x/", 'parse "http://h:x/": invalid port ":x" after host'),
    ("1a:b/c", 'parse "1a:b/c": first path segment in URL cannot contain colon'),
    ("/%zz", 'parse "/%zz": invalid URL escape "%zz"'),
    (":x", 'parse ":x": missing protocol scheme'),
    # Quoted as Go's %q quotes: printable Unicode as it is, control characters and bytes that are not UTF-8 as
    # \x escapes, other unprintable characters as \u ones.
    ("/%é", 'parse "/%é": invalid URL escape "%é"'),
    ("#%\x01", 'parse "#%\\x01": invalid URL escape "%\\x01"'),
    ("/%\udce9", 'parse "/%\\xe9": invalid URL escape "%\\xe9"'),
    ("#%\u00ad", 'parse "#%\\u00ad": invalid URL escape "%\\u00ad"'),
])
def test_urls_go_refuses(text, error):
    """What Go's url.Parse refuses is refused, in its words."""
    with pytest.raises(URLError) as raised:
        URL.parse(text)
    assert str(raised.value) == error


def test_deflate_is_a_raw_stream():
    """Content-Encoding deflate is read and written as Go's flate package: raw DEFLATE, no zlib header."""
    writer = zlib.compressobj(6, zlib.DEFLATED, -15)
    raw = writer.compress(b'<a href="/x">') + writer.flush()
    out = rewrite_body(raw, "deflate", REWRITER.html)
    assert zlib.decompress(out, -15) == f'<a href="{PREFIX}/x">'.encode()
    assert rewrite_body(b"", "br", REWRITER.html) is None


@pytest.mark.parametrize("location, expected", [
    ("/redirected/target/%00<script>alert(1)</script>/",
     PREFIX + "/redirected/target/%00%3Cscript%3Ealert%281%29%3C/script%3E/"),
    ("http://10.0.0.7:80/redirected/target/", PREFIX + "/redirected/target/"),
    ("http://example.com/redirected/<x>/", "http://example.com/redirected/%3Cx%3E/"),
    ("http://apiserver:6443/redirected/", "http://apiserver:6443" + PREFIX + "/redirected/"),
])
def test_location_rewriting(location, expected):
    """A Location is rewritten as a link is, and comes back escaped as Go writes a path."""
    assert REWRITER.location(location) == expected


def test_forwarded_uri_is_escaped():
    """X-Forwarded-Uri is the backend's path escaped as Go escapes a path."""
    path = PREFIX + "/logs/log.log\x00<script>alert(1)</script>"
    rewriter = Rewriter.for_proxy(path, path[len(PREFIX) + 1:].split("/"), "10.0.0.7", "h")
    assert rewriter.forwarded_uri == PREFIX + "/logs/log.log%00%3Cscript%3Ealert%281%29%3C/script%3E"


def test_the_bare_proxy_path_redirects_to_its_decoded_path(world):
    """A GET of .../proxy is a 301 to .../proxy/ written from the percent-decoded path (Go's URL.Path), the query
    as sent."""
    code, headers, _ = call(world, "GET", "/api/v1/namespaces/default/pods/http%3Ap%3A8080/proxy?a=%2F")
    assert code == 301
    assert headers.getRawHeaders("Location") == ["/api/v1/namespaces/default/pods/http:p:8080/proxy/?a=%2F"]


@pytest.mark.parametrize("path, backend, forwarded", [
    ("/api/v1/namespaces/default/pods/p%3A8080/proxy/foo/bar", "/foo/bar", POD + "/foo/bar"),
    (POD + "/%7Ea%20b/c%3Fd/", "/~a%20b/c%3Fd/", POD + "/~a%20b/c%3Fd/"),
    # A path not clean has no backend's path to take off its end: the proxy's own path is all of it (upstream's
    # TrimSuffix), the backend's added again.
    (POD + "/x//./y/../z?q=%2F", "/x/z?q=%2F", POD + "/x/z/x/z"),
])
def test_the_backend_is_asked_for_the_path_it_is_told(world, path, backend, forwarded):
    """The backend's path is the percent-decoded path after .../proxy, cleaned and escaped again as Go's
    URL.EscapedPath escapes it, the query as sent: the one X-Forwarded-Uri is made from and the rewriting uses,
    whatever the client escaped (a name's colon too)."""
    code, _, body = call(world, "GET", path, answer=answer({"Content-Type": "text/html"}, LINK))
    assert code == 200
    sent = world[2].pumps[0].server.received
    assert sent.startswith(b"GET " + backend.encode() + b" HTTP/1.1\r\n")
    assert b"X-Forwarded-Uri: " + forwarded.encode() + b"\r\n" in sent
    if "//" not in path:
        assert body == f'<a href="{POD}/rewriteme">test</a>'.encode()


# -- a body too big to hold: relayed as it came ----------------------------------------------------------------

def test_html_past_the_cap_is_relayed_as_it_came(world):
    """A text/html body of more than MAX_BODY bytes is not read whole to be rewritten: it is relayed unchanged,
    not failed."""
    big = LINK + b" " * MAX_BODY
    code, _, body = call(world, "GET", POD + "/", answer=answer({"Content-Type": "text/html"}, big))
    assert code == 200
    assert len(body) == len(big) and body[:len(LINK)] == LINK


def test_gzip_html_decoding_past_the_cap_is_relayed_as_it_came(world):
    """A small gzip body whose text is more than MAX_BODY bytes is not decompressed whole: it is relayed as it
    came (treq, the client here, un-gzips it)."""
    text = LINK + b" " * MAX_BODY
    code, _, body = call(world, "GET", POD + "/", answer=answer(
        {"Content-Type": "text/html", "Content-Encoding": "gzip"}, gzip.compress(text)))
    assert code == 200
    assert len(body) == len(text) and body[:len(LINK)] == LINK


def test_the_cap_counts_the_body_as_it_came(world, monkeypatch):
    """A body of the cap is rewritten; one byte more and it is relayed unchanged."""
    monkeypatch.setattr(forward, "MAX_BODY", len(LINK))
    code, _, body = call(world, "GET", POD + "/", answer=answer({"Content-Type": "text/html"}, LINK))
    assert (code, body) == (200, f'<a href="{POD}/rewriteme">test</a>'.encode())
    code, _, body = call(world, "GET", POD + "/", answer=answer({"Content-Type": "text/html"}, LINK + b" "))
    assert (code, body) == (200, LINK + b" ")


@pytest.mark.parametrize("encoding", ["", "gzip", "deflate"])
def test_rewrite_body_leaves_text_past_the_limit(encoding):
    """rewrite_body gives None (send it as it came) for a body whose text passes the limit, however small it is
    compressed; the text at the limit is rewritten."""
    text = b'<a href="/x">' + b" " * 100

    def encode(data):
        if encoding == "gzip":
            return gzip.compress(data[:50]) + gzip.compress(data[50:])     # two members, counted together
        if encoding == "deflate":
            writer = zlib.compressobj(6, zlib.DEFLATED, -15)
            return writer.compress(data) + writer.flush()
        return data
    assert rewrite_body(encode(text), encoding, REWRITER.html, limit=len(text) - 1) is None
    out = rewrite_body(encode(text), encoding, REWRITER.html, limit=len(text))
    decode = {"gzip": gzip.decompress, "deflate": lambda b: zlib.decompress(b, -15)}.get(encoding, bytes)
    assert decode(out) == f'<a href="{PREFIX}/x">'.encode() + b" " * 100


class Transport:
    def __init__(self):
        self.calls = []

    def pauseProducing(self):
        self.calls.append("pause")

    def resumeProducing(self):
        self.calls.append("resume")


class Relay(Protocol):
    def __init__(self):
        self.events = []

    def connectionMade(self):
        self.events.append("made")

    def dataReceived(self, data):
        self.events.append(data)

    def connectionLost(self, reason=None):
        self.events.append("lost")


def test_a_body_read_past_its_cap_is_handed_over_in_order():
    """The capped reader pauses the backend past its cap and fires False; what comes meanwhile, and the body's end,
    reach the protocol it hands over to after what was read, then the rest as it comes."""
    done, transport = Deferred(), Transport()
    results = []
    done.addCallback(results.append)
    reader = forward._ReadCapped(done, 4)
    reader.makeConnection(transport)
    reader.dataReceived(b"abc")
    assert results == [] and transport.calls == []
    reader.dataReceived(b"de")
    assert results == [False] and transport.calls == ["pause"]
    reader.dataReceived(b"f")
    relay = Relay()
    reader.hand_over(relay)
    assert transport.calls == ["pause", "resume"]
    reader.dataReceived(b"g")
    reader.connectionLost(Failure(ResponseDone()))
    assert relay.events == ["made", b"abcdef", b"g", "lost"]

    ended, transport = forward._ReadCapped(Deferred(), 1), Transport()
    ended.makeConnection(transport)
    ended.dataReceived(b"ab")
    ended.connectionLost(Failure(ResponseDone()))
    relay = Relay()
    ended.hand_over(relay)
    assert transport.calls == ["pause"]                 # not resumed: the body has ended
    assert relay.events == ["made", b"ab", "lost"]

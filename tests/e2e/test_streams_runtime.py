"""The server runtime around the API: request timeouts, in-flight limits, panic recovery, the
header limit, and the listener that retries a taken port."""

from twisted.internet import defer, task
from twisted.internet.testing import StringTransport
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site
from twisted.web.test.requesthelper import DummyRequest

from kapiserver import runtime
from kapiserver.listener import Listener
import json


class Hanging(Resource):
    """A handler that never answers, or raises when asked to."""
    isLeaf = True

    def __init__(self):
        super().__init__()
        self.raise_next = False

    def render(self, request):
        if self.raise_next:
            self.raise_next = False
            raise RuntimeError("boom")
        if request.path.endswith(b"/quick"):
            return b"ok"
        return NOT_DONE_YET


def _request(path, method=b"GET", args=None):
    request = DummyRequest(path.strip(b"/").split(b"/"))
    request.path = path
    request.uri = path
    request.method = method
    request.args = args or {}
    return request


def _body(request):
    return json.loads(b"".join(request.written))


def test_non_long_running_request_times_out_with_504():
    """A get that takes longer than --request-timeout is answered 504 Timeout; a watch is exempt."""
    clock = task.Clock()
    limits = runtime.RuntimeLimits(Hanging(), clock, request_timeout=60)
    slow = _request(b"/api/v1/namespaces/default/pods/x")
    watch = _request(b"/api/v1/pods", args={b"watch": [b"true"]})
    limits.render(slow)
    limits.render(watch)
    clock.advance(61)
    assert slow.responseCode == 504 and _body(slow)["reason"] == "Timeout"
    assert watch.finished == 0


def test_each_request_times_out_at_its_own_deadline():
    """Requests share one timer, and each still gets its 504 at its own --request-timeout, not before; one
    answered in time is left alone."""
    clock = task.Clock()
    limits = runtime.RuntimeLimits(Hanging(), clock, request_timeout=60)
    first = _request(b"/api/v1/namespaces/default/pods/a")
    limits.render(first)
    clock.advance(30)
    second = _request(b"/api/v1/namespaces/default/pods/b")
    limits.render(second)
    clock.advance(10)
    first.finish()
    clock.advance(30)       # t=70: the first's deadline has passed (it was answered), not the second's
    assert first.responseCode != 504 and second.responseCode is None
    third = _request(b"/api/v1/namespaces/default/pods/c")
    limits.render(third)
    clock.advance(19.5)     # t=89.5
    assert second.responseCode is None
    clock.advance(1)        # t=90.5
    assert second.responseCode == 504 and third.responseCode is None
    clock.advance(39)       # t=129.5
    assert third.responseCode is None
    clock.advance(1)
    assert third.responseCode == 504 and _body(third)["reason"] == "Timeout"
    assert not clock.getDelayedCalls()


def test_inflight_limits_answer_429_with_retry_after():
    """Past --max-requests-inflight a request gets 429 with Retry-After; mutating ones count separately."""
    clock = task.Clock()
    limits = runtime.RuntimeLimits(Hanging(), clock, request_timeout=0, max_inflight=1, max_mutating_inflight=1)
    first = _request(b"/api/v1/pods")
    limits.render(first)
    second = _request(b"/api/v1/pods")
    limits.render(second)
    assert second.responseCode == 429
    assert second.responseHeaders.getRawHeaders(b"retry-after") == [b"1"]
    assert _body(second)["details"] == {"retryAfterSeconds": 1}
    create = _request(b"/api/v1/namespaces/default/pods", method=b"POST")
    limits.render(create)
    assert create.responseCode is None or create.responseCode == 200
    first.finish()
    third = _request(b"/api/v1/pods")
    limits.render(third)
    assert third.responseCode != 429


def test_a_handler_that_raises_gives_500_and_the_next_request_succeeds():
    """An exception in a handler is a 500 Status; the server keeps serving."""
    inner = Hanging()
    limits = runtime.RuntimeLimits(inner, task.Clock(), request_timeout=0)
    inner.raise_next = True
    failing = _request(b"/api/v1/pods")
    limits.render(failing)
    assert failing.responseCode == 500 and _body(failing)["reason"] == "InternalError"
    assert limits.render(_request(b"/quick")) == b"ok"


def test_headers_over_one_mebibyte_are_431():
    """Request headers beyond 1 MiB are answered 431 and the connection closed, as Go's server does."""
    site = Site(Resource())
    site.protocol = runtime.LimitedHeadersChannel
    channel = site.buildProtocol(None)
    transport = StringTransport()
    channel.makeConnection(transport)
    channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 431 ")
    assert transport.disconnecting


class FlakyEndpoint:
    """An endpoint whose port is taken for the first `failures` listens."""

    def __init__(self, failures):
        self.failures = failures
        self.attempts = 0

    def listen(self, factory):
        self.attempts += 1
        if self.attempts <= self.failures:
            return defer.fail(OSError("Address already in use"))
        return defer.succeed(type("Port", (), {"getHost": lambda self: type("H", (), {"host": "127.0.0.1", "port": 1})(),
                                               "stopListening": lambda self: None})())


def test_listener_retries_a_taken_port_until_it_is_free():
    """A listen that fails is retried every LISTEN_RETRY seconds; the listener comes up once the port is free."""
    clock = task.Clock()
    endpoint = FlakyEndpoint(failures=2)
    listener = Listener(clock, endpoint, Site(Resource()), "insecure")
    listener.startService()
    assert not listener.listening.called
    clock.advance(15)
    assert not listener.listening.called
    clock.advance(15)
    assert listener.listening.called and endpoint.attempts == 3
    listener.stopService()

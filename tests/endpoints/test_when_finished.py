"""endpoints.http.when_finished: the layers that wait for a request's end share one notifyFinish."""

from __future__ import annotations

from twisted.python.failure import Failure
from twisted.web.test.requesthelper import DummyRequest

from kapiserver.endpoints.http import when_finished


def test_callbacks_run_in_order_once_the_request_is_answered():
    request, seen, asked = DummyRequest([b"x"]), [], []
    notify = request.notifyFinish
    request.notifyFinish = lambda: asked.append(1) or notify()
    when_finished(request, lambda result: seen.append(("limits", result)))
    when_finished(request, lambda result: seen.append(("flow control", result)))
    assert len(asked) == 1      # one Deferred for both
    assert seen == []
    request.finish()
    assert seen == [("limits", None), ("flow control", None)]


def test_a_client_gone_is_a_failure_and_a_raising_callback_stops_no_other():
    request, seen = DummyRequest([b"x"]), []

    def broken(result):
        raise RuntimeError("bug")
    when_finished(request, broken)
    when_finished(request, lambda result: seen.append(result))
    request.processingFailed(Failure(ConnectionError("gone")))
    assert len(seen) == 1 and isinstance(seen[0], Failure) and seen[0].check(ConnectionError)


def _served(resource_render):
    """A request to a site of the API's request class (listener.RawBodyRequest) over a test transport."""
    from twisted.web.resource import Resource

    from channel_sites import connect, site_of

    class Leaf(Resource):
        isLeaf = True
        render = staticmethod(resource_render)
    channel, transport = connect(site_of(Leaf()))
    channel.dataReceived(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
    return channel, transport


def test_the_apis_requests_keep_the_callbacks_themselves():
    """A listener.RawBodyRequest runs when_finished's callbacks itself, without a notifyFinish Deferred: in
    order once answered; with the Failure if the client goes first; a raising one stops no other; one given
    after the end is not called (as notifyFinish's)."""
    from twisted.web.server import NOT_DONE_YET

    seen, held = [], []

    def render(request):
        asked = []
        request.notifyFinish = lambda: asked.append(1)
        when_finished(request, lambda result: seen.append(("first", result)))
        when_finished(request, lambda result: 1 / 0)
        when_finished(request, lambda result: seen.append(("third", result)))
        assert asked == []
        held.append(request)
        return NOT_DONE_YET
    channel, transport = _served(render)
    request = held.pop()
    request.write(b"ok")
    request.finish()
    assert seen == [("first", None), ("third", None)]
    when_finished(request, lambda result: seen.append(("late", result)))
    assert seen == [("first", None), ("third", None)]
    seen.clear()
    channel, transport = _served(render)
    channel.connectionLost(Failure(ConnectionError("gone")))
    assert [name for name, _ in seen] == ["first", "third"]
    assert all(isinstance(result, Failure) and result.check(ConnectionError) for _, result in seen)

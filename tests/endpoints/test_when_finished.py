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

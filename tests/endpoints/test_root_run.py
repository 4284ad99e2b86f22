"""The API root runs a request's handler coroutine itself until it first waits: one answered without waiting
ends within the render, one that waits on a Deferred goes on when that fires, each in a context of its own."""

from __future__ import annotations

import json
from contextvars import ContextVar

from treq.testing import StubTreq
from twisted.internet import task
from twisted.internet.defer import Deferred

from kapiserver import runtime
from kapiserver.auth.context import current_user, set_user
from kapiserver.auth.user import INSECURE_USER, UserInfo
from kapiserver.endpoints.api import APIContext
from kapiserver.endpoints.http import write_bytes
from kapiserver.endpoints.root import APIRoot
from kapiserver.machinery import errors
from kapiserver.registry.registry import Registry

from tests.watch.test_cacher import FakeStorage


_MARK: ContextVar = ContextVar("test_mark", default=None)


class _NotADeferred:
    def __await__(self):
        yield "something else"


class Scripted(APIRoot):
    """Serves /now at once, /later once ``later`` fires (with the user the request set, read after the wait),
    /fail with a Status error raised before any wait, /boom with a bug's exception, /retry once ``later`` has
    failed and ``again`` fired (the failure caught), and /odd never: it awaits what is not a Deferred."""

    def __init__(self, context):
        super().__init__(context)
        self.later, self.again = Deferred(), Deferred()

    async def _serve(self, request):
        set_user(UserInfo(request.path.decode()))
        if request.path == b"/later":
            mark = _MARK.set("waiting")     # reset after the wait: one context throughout, as quota admission needs
            await self.later
            _MARK.reset(mark)
        elif request.path == b"/retry":
            mark = _MARK.set("waiting")
            try:
                await self.later
            except errors.StatusError:
                await self.again
            _MARK.reset(mark)
        elif request.path == b"/odd":
            await _NotADeferred()
        elif request.path == b"/fail":
            raise errors.bad_request("no such thing")
        elif request.path == b"/boom":
            raise ValueError("a bug")
        write_bytes(request, 200, "text/plain", current_user().name.encode())


def _client():
    clock = task.Clock()
    root = Scripted(APIContext(Registry(FakeStorage(), clock, watch_cache=False), clock, clock))
    return root, StubTreq(runtime.RuntimeLimits(root, clock, request_timeout=60))


def _get(client, url, *then):
    responses, bodies = [], []
    client.get(url).addCallback(responses.append)
    client.flush()
    for step in then:
        assert responses == []      # still waiting
        step()
        client.flush()
    [response] = responses
    client.content(response).addCallback(bodies.append)
    client.flush()
    return response.code, bodies[0]


def test_requests_answered_with_and_without_waiting_each_keep_their_own_user():
    root, client = _client()
    assert _get(client, "http://k/now") == (200, b"/now")
    assert _get(client, "http://k/later", lambda: root.later.callback(None)) == (200, b"/later")
    assert current_user() is INSECURE_USER      # nothing a request set is left outside it


def test_errors_before_any_wait_are_answered_as_statuses():
    _, client = _client()
    code, body = _get(client, "http://k/fail")
    assert code == 400 and json.loads(body)["message"] == "no such thing"
    code, body = _get(client, "http://k/boom")
    assert code == 500 and "ValueError: a bug" in json.loads(body)["message"]


def test_a_failed_wait_is_answered_as_its_status():
    root, client = _client()
    code, body = _get(client, "http://k/later", lambda: root.later.errback(errors.bad_request("late")))
    assert code == 400 and json.loads(body)["message"] == "late"


def test_a_failure_caught_in_the_handler_lets_it_wait_again():
    """A failed wait is thrown into the handler where it waits; one that catches it goes on, in the same context,
    to its next wait and its answer."""
    root, client = _client()
    code, body = _get(client, "http://k/retry", lambda: root.later.errback(errors.bad_request("late")),
                      lambda: root.again.callback(None))
    assert (code, body) == (200, b"/retry")
    assert current_user() is INSECURE_USER


def test_awaiting_what_is_not_a_deferred_is_a_server_error():
    """A handler that awaits anything but a Deferred is answered 500, with the TypeError that names it."""
    _, client = _client()
    code, body = _get(client, "http://k/odd")
    assert code == 500 and "awaited 'something else', not a Deferred" in json.loads(body)["message"]

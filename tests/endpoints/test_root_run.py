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


class Scripted(APIRoot):
    """Serves /now at once, /later once ``later`` fires (with the user the request set, read after the wait),
    /fail with a Status error raised before any wait, and /boom with a bug's exception."""

    def __init__(self, context):
        super().__init__(context)
        self.later = Deferred()

    async def _serve(self, request):
        set_user(UserInfo(request.path.decode()))
        if request.path == b"/later":
            mark = _MARK.set("waiting")     # reset after the wait: one context throughout, as quota admission needs
            await self.later
            _MARK.reset(mark)
        elif request.path == b"/fail":
            raise errors.bad_request("no such thing")
        elif request.path == b"/boom":
            raise ValueError("a bug")
        write_bytes(request, 200, "text/plain", current_user().name.encode())


def _client():
    clock = task.Clock()
    root = Scripted(APIContext(Registry(FakeStorage(), clock, watch_cache=False), clock, clock))
    return root, StubTreq(runtime.RuntimeLimits(root, clock, request_timeout=60))


def _get(client, url, then=None):
    responses, bodies = [], []
    client.get(url).addCallback(responses.append)
    client.flush()
    if then is not None:
        assert responses == []      # still waiting
        then()
        client.flush()
    [response] = responses
    client.content(response).addCallback(bodies.append)
    client.flush()
    return response.code, bodies[0]


def test_requests_answered_with_and_without_waiting_each_keep_their_own_user():
    root, client = _client()
    assert _get(client, "http://k/now") == (200, b"/now")
    assert _get(client, "http://k/later", then=lambda: root.later.callback(None)) == (200, b"/later")
    assert current_user() is INSECURE_USER      # nothing a request set is left outside it


def test_errors_before_any_wait_are_answered_as_statuses():
    _, client = _client()
    code, body = _get(client, "http://k/fail")
    assert code == 400 and json.loads(body)["message"] == "no such thing"
    code, body = _get(client, "http://k/boom")
    assert code == 500 and "ValueError: a bug" in json.loads(body)["message"]


def test_a_failed_wait_is_answered_as_its_status():
    root, client = _client()
    code, body = _get(client, "http://k/later", then=lambda: root.later.errback(errors.bad_request("late")))
    assert code == 400 and json.loads(body)["message"] == "late"

"""A request's RequestInfo is parsed once: the runtime's long-running check and the API root share it."""

from __future__ import annotations

import json

import pytest
from treq.testing import StubTreq
from twisted.internet import task

from kapiserver import runtime
from kapiserver.endpoints import requestinfo
from kapiserver.endpoints.api import APIContext
from kapiserver.endpoints.root import APIRoot
from kapiserver.registry.registry import Registry

from tests.watch.test_cacher import FakeStorage


@pytest.fixture
def parses(monkeypatch):
    """The (method, path) of every RequestInfo parse."""
    seen = []
    parse = requestinfo.request_info

    def counting(method, path, args):
        seen.append((method, path))
        return parse(method, path, args)
    monkeypatch.setattr(requestinfo, "request_info", counting)
    monkeypatch.setattr(requestinfo, "_READ", {})
    return seen


@pytest.fixture
def client():
    clock = task.Clock()
    registry = Registry(FakeStorage(), clock, watch_cache=False)
    root = APIRoot(APIContext(registry, clock, clock))
    return StubTreq(runtime.RuntimeLimits(root, clock, request_timeout=60))


def _get(client, url):
    responses = []
    client.get(url).addCallback(responses.append)
    client.flush()
    [response] = responses
    bodies = []
    client.content(response).addCallback(bodies.append)
    client.flush()
    return response.code, json.loads(bodies[0])


def test_resource_request_is_parsed_once(client, parses):
    """A list through the runtime wrapper and the API root parses its RequestInfo exactly once."""
    code, body = _get(client, "http://k/api/v1/namespaces/default/configmaps")
    assert code == 200 and body["kind"] == "ConfigMapList"
    assert parses == [("GET", "/api/v1/namespaces/default/configmaps")]


def test_missing_resource_is_parsed_once_and_still_404(client, parses):
    """An unknown resource is still 404 NotFound, from the one parse."""
    code, body = _get(client, "http://k/api/v1/nothings")
    assert code == 404 and body["reason"] == "NotFound"
    assert len(parses) == 1


def test_request_info_of_keeps_the_parse_on_the_request(parses):
    """request_info_of parses a request on first use and hands back the same RequestInfo after."""
    class Request:
        method, path, args = b"GET", b"/apis/apps/v1/watch/namespaces/ns/deployments/web", {b"watch": [b"1"]}
    request = Request()
    first = requestinfo.request_info_of(request)
    assert requestinfo.request_info_of(request) is first
    assert (first.verb, first.api_group, first.namespace, first.resource, first.name) == \
        ("watch", "apps", "ns", "deployments", "web")
    assert len(parses) == 1
    assert runtime.is_long_running(request) and len(parses) == 1


def test_requests_for_the_same_path_share_one_parse(client, parses):
    """Requests with the method, path and watch parameter of one already read take its RequestInfo; another
    watch value is read anew (a watch, not a list), and the others' query parameters change nothing."""
    for url in ("http://k/api/v1/namespaces/default/configmaps", "http://k/api/v1/namespaces/default/configmaps",
                "http://k/api/v1/namespaces/default/configmaps?limit=1"):
        code, body = _get(client, url)
        assert code == 200 and body["kind"] == "ConfigMapList"
    assert parses == [("GET", "/api/v1/namespaces/default/configmaps")]
    request = type("Request", (), {"method": b"GET", "path": b"/api/v1/namespaces/default/configmaps",
                                    "args": {b"watch": [b"true"]}})()
    assert requestinfo.request_info_of(request).verb == "watch"
    assert len(parses) == 2


def test_remembered_request_infos_are_forgotten_past_the_limit(monkeypatch, parses):
    monkeypatch.setattr(requestinfo, "READ_LIMIT", 3)
    for i in range(4):
        request = type("Request", (), {"method": b"GET", "path": b"/api/v1/pods/%d" % i, "args": {}})()
        assert requestinfo.request_info_of(request).name == str(i)
    assert len(requestinfo._READ) == 1

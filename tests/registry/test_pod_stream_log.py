"""pods/log through the apiserver as upstream's LogREST serves it: PodLogOptions converted from the query (a 400
with Go's conversion error) and validated (a 422 naming the fields) before the pod is read; the container chosen
as validateContainer does; a pod bound to no node answered 204; the kubelet asked with a query made from the
options and none of the client's headers; a kubelet's error answer made the Status GenericHttpResponseChecker
makes of it."""

from __future__ import annotations

import json

import pytest
from twisted.test import iosim
from twisted.web.resource import Resource
from twisted.web.server import Site

from tests.endpoints.inprocess import streams_client


class KubeletPage(Resource):
    """The kubelet's answer, chosen by the test; each request's path and headers recorded."""
    isLeaf = True

    def __init__(self):
        super().__init__()
        self.seen = []
        self.answer = (200, b"text/plain", b"line\n")

    def render(self, request):
        self.seen.append((request.uri, request.requestHeaders))
        code, content_type, body = self.answer
        request.setResponseCode(code)
        request.setHeader(b"Content-Type", content_type)
        return body


class Kubelet:
    """The kubelet client's two calls; a dial connects in memory to KubeletPage."""

    def __init__(self):
        self.page = KubeletPage()
        self.pumps = []

    async def connection_info(self, node_name: str):
        return "http", "127.0.0.1", 10250

    async def dial(self, host, port, protocol):
        server = Site(self.page).buildProtocol(None)
        self.pumps.append(iosim.connect(server, iosim.FakeTransport(server, isServer=True),
                                        protocol, iosim.FakeTransport(protocol, isServer=False), greet=False))
        return protocol


def _pod(name, containers, node="n1", init=()):
    spec = {"containers": [{"name": c, "image": "busybox"} for c in containers]}
    if init:
        spec["initContainers"] = [{"name": c, "image": "busybox"} for c in init]
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


@pytest.fixture
def world():
    kubelet = Kubelet()
    client, clock, registry = streams_client(kubelet)
    world = client, clock, kubelet
    _call(world, "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": "default"}})
    for pod in (_pod("p", ["c"]), _pod("two", ["a", "b"], init=["setup"]), _pod("pending", ["c"], node=None)):
        assert _call(world, "POST", "/api/v1/namespaces/default/pods", pod)[0] == 201
    return world


def _call(world, method, path, body=None, headers=None):
    """(code, body, headers) of a request answered."""
    client, clock, kubelet = world
    responses, bodies = [], []
    data = json.dumps(body).encode() if body is not None else None
    client.request(method, "http://api" + path, data=data,
                   headers=dict({"Content-Type": "application/json"}, **(headers or {}))).addCallback(responses.append)
    for _ in range(20):
        client.flush()
        for pump in kubelet.pumps:
            pump.flush()
        clock.advance(0)
    assert responses, "no answer"
    client.content(responses[0]).addCallback(bodies.append)
    for _ in range(5):
        client.flush()
        for pump in kubelet.pumps:
            pump.flush()
    return responses[0].code, bodies[0], responses[0].headers


def _status(body):
    return json.loads(body)


@pytest.mark.parametrize("query, field, message", [
    ("tailLines=-1", "tailLines", "Invalid value: -1: must be greater than or equal to 0"),
    ("limitBytes=0", "limitBytes", "Invalid value: 0: must be greater than 0"),
    ("sinceSeconds=-5", "sinceSeconds", "Invalid value: -5: must be greater than 0"),
])
def test_invalid_options_are_a_422_naming_the_field(world, query, field, message):
    """Negative tailLines, limitBytes below 1 and sinceSeconds below 1 are PodLogOptions' 422, the kubelet not asked."""
    code, body, _ = _call(world, "GET", f"/api/v1/namespaces/default/pods/p/log?{query}")
    assert code == 422
    assert body == json.dumps({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f'PodLogOptions "p" is invalid: {field}: {message}', "reason": "Invalid",
        "details": {"name": "p", "kind": "PodLogOptions",
                    "causes": [{"reason": "FieldValueInvalid", "message": message, "field": field}]},
        "code": 422}, separators=(",", ":")).encode() + b"\n"
    assert world[2].page.seen == []


def test_since_seconds_and_since_time_together_are_forbidden(world):
    """sinceSeconds with sinceTime is one Forbidden error on the options as a whole."""
    code, body, _ = _call(world, "GET", "/api/v1/namespaces/default/pods/p/log?sinceSeconds=5"
                                        "&sinceTime=2024-01-01T00:00:00Z")
    status = _status(body)
    assert code == 422
    assert status["message"] == ('PodLogOptions "p" is invalid: : Forbidden: at most one of `sinceTime` or '
                                 '`sinceSeconds` may be specified')
    assert status["details"]["causes"] == [{"reason": "FieldValueForbidden", "message":
                                            "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"}]


def test_options_are_checked_before_the_pod_is_read(world):
    """Invalid options on a pod that does not exist are still the 422 (LogREST validates first)."""
    code, body, _ = _call(world, "GET", "/api/v1/namespaces/default/pods/nope/log?tailLines=-1")
    assert code == 422 and _status(body)["details"]["name"] == "nope"


@pytest.mark.parametrize("query, message", [
    ("tailLines=abc", 'strconv.ParseInt: parsing "abc": invalid syntax'),
    ("limitBytes=1.5", 'strconv.ParseInt: parsing "1.5": invalid syntax'),
    ("sinceSeconds=99999999999999999999", 'strconv.ParseInt: parsing "99999999999999999999": value out of range'),
    ("sinceTime=bogus", 'parsing time "bogus" as "2006-01-02T15:04:05Z07:00": cannot parse "bogus" as "2006"'),
    ("sinceTime=2024-13-01T00:00:00Z", 'parsing time "2024-13-01T00:00:00Z": month out of range'),
    ("sinceTime=2024-01-01", 'parsing time "2024-01-01" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "T"'),
])
def test_values_that_do_not_convert_are_a_400(world, query, message):
    """A value that is not an int64 or an RFC 3339 time is the 400 of Go's conversion error, never a 500."""
    code, body, _ = _call(world, "GET", f"/api/v1/namespaces/default/pods/p/log?{query}")
    assert (code, _status(body)["message"], _status(body)["reason"]) == (400, message, "BadRequest")


def test_a_container_must_be_chosen_among_all_of_the_pods(world):
    """Without a container, a pod of several lists them all, init containers first, as validateContainer does."""
    code, body, _ = _call(world, "GET", "/api/v1/namespaces/default/pods/two/log")
    assert code == 400
    assert _status(body)["message"] == "a container name must be specified for pod two, choose one of: [setup a b]"
    code, body, _ = _call(world, "GET", "/api/v1/namespaces/default/pods/two/log?container=setup")
    assert code == 200 and world[2].page.seen[-1][0] == b"/containerLogs/default/two/setup"


def test_a_pod_bound_to_no_node_has_no_log_content(world):
    """A pod not yet scheduled answers 204 for its log (after its container is checked), exec a 400."""
    code, body, _ = _call(world, "GET", "/api/v1/namespaces/default/pods/pending/log")
    assert (code, body) == (204, b"")
    code, body, _ = _call(world, "GET", "/api/v1/namespaces/default/pods/pending/log?container=x")
    assert (code, _status(body)["message"]) == (400, "container x is not valid for pod pending")
    code, body, _ = _call(world, "POST", "/api/v1/namespaces/default/pods/pending/exec?command=ls&container=x",
                          headers={"Connection": "Upgrade", "Upgrade": "websocket"})
    assert (code, _status(body)["message"]) == (400, "container x is not valid for pod pending")
    assert world[2].page.seen == []


def test_the_kubelet_is_asked_with_the_options_alone(world):
    """The kubelet's query is made from the options (keys sorted, flags "true"), the client's credentials and
    other parameters left out; the answer is text/plain."""
    code, body, headers = _call(world, "GET", "/api/v1/namespaces/default/pods/p/log?tailLines=2&follow=1"
                                              "&limitBytes=5&pretty=true&timestamps=false&sinceTime=2024-01-01T"
                                              "02:00:00%2B02:00", headers={"Authorization": "Bearer secret",
                                                                           "Impersonate-User": "x"})
    assert (code, body) == (200, b"line\n")
    uri, sent = world[2].page.seen[-1]
    assert uri == b"/containerLogs/default/p/c?follow=true&limitBytes=5&sinceTime=2024-01-01T00%3A00%3A00Z&tailLines=2"
    assert not sent.hasHeader(b"authorization") and not sent.hasHeader(b"impersonate-user")
    assert headers.getRawHeaders(b"content-type") == [b"text/plain"]


@pytest.mark.parametrize("answer, status", [
    ((400, b"text/plain", b'previous terminated container "c" in pod "p" not found'),
     (400, "BadRequest", 'previous terminated container "c" in pod "p" not found', None)),
    ((400, b"application/json", b'{"kind": "Status", "apiVersion": "v1", "message": "container \\"c\\" in pod '
                                 b'\\"p\\" is waiting to start: ContainerCreating", "reason": "BadRequest", '
                                 b'"code": 400}'),
     (400, "BadRequest", 'container "c" in pod "p" is waiting to start: ContainerCreating', None)),
    ((500, b"text/plain", b"boom"), (500, "InternalError", "Internal error occurred: boom",
                                     {"causes": [{"message": "boom"}]})),
    ((404, b"text/plain", b'pod "p" does not exist'),
     (404, "NotFound", "the server could not find the requested resource ( pods/log p)",
      {"name": "p", "kind": "pods/log"})),
    ((406, b"text/plain", b"unknown"),
     (406, "NotAcceptable", "the server was unable to respond with a content type that the client supports "
      "( pods/log p)", {"name": "p", "kind": "pods/log"})),
    ((415, b"text/plain", b"only text/plain"),
     (415, "UnsupportedMediaType", "only text/plain ( pods/log p)", {"name": "p", "kind": "pods/log"})),
    ((400, b"text/plain", b"x" * 60000), (400, "BadRequest", "x" * 50000, None)),
])
def test_a_kubelet_error_is_made_a_status(world, answer, status):
    """The kubelet's error answer is not relayed as it is: a 400 is a BadRequest with its text (a Status's
    message when kube-node answers with one), a 500 an InternalError, others a generic error about pods/log."""
    world[2].page.answer = answer
    code, body, headers = _call(world, "GET", "/api/v1/namespaces/default/pods/p/log?previous=true")
    got = _status(body)
    assert (code, got["reason"], got["message"], got.get("details")) == status
    assert headers.getRawHeaders(b"content-type") == [b"application/json"]


def test_exec_reaches_the_kubelet_without_the_clients_credentials(world):
    """An exec upgrade is relayed to the kubelet with the user's Authorization and Impersonate-* headers left out."""
    client, clock, kubelet = world
    client.request("POST", "http://api/api/v1/namespaces/default/pods/p/exec?command=ls&stdout=1",
                   headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1", "Authorization": "Bearer secret",
                            "Impersonate-Group": "g"})
    for _ in range(20):
        client.flush()
        for pump in kubelet.pumps:
            pump.flush()
        clock.advance(0)
    uri, sent = kubelet.page.seen[-1]
    assert uri == b"/exec/default/p/c?command=ls&stdout=1"
    assert not sent.hasHeader(b"authorization") and not sent.hasHeader(b"impersonate-group")
    assert sent.getRawHeaders(b"upgrade") == [b"SPDY/3.1"]

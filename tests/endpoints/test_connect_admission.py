"""exec, attach, portforward and proxy (pods, services, nodes) are admitted as CONNECT, before anything is looked
up or connected; logs are not a connect."""

from __future__ import annotations

import json

import pytest
from treq.testing import StubTreq
from twisted.internet import task

from kapiserver import runtime
from kapiserver.endpoints.api import APIContext
from kapiserver.endpoints.root import APIRoot
from kapiserver.machinery.errors import StatusError
from kapiserver.registry.registry import Registry

from tests.watch.test_cacher import FakeStorage


class Refusing:
    """Admission that keeps every Attributes and refuses them all."""

    def __init__(self):
        self.seen = []

    async def admit(self, attributes) -> None:
        self.seen.append(attributes)
        raise StatusError(403, "Forbidden", f"no {attributes.resource.resource}/{attributes.subresource}")

    async def validate(self, attributes) -> None:
        return None


@pytest.fixture
def admission():
    return Refusing()


@pytest.fixture
def client(admission):
    clock = task.Clock()
    registry = Registry(FakeStorage(), clock, watch_cache=False, admission=admission)
    root = APIRoot(APIContext(registry, clock, clock))
    return StubTreq(runtime.RuntimeLimits(root, clock, request_timeout=60))


def _call(client, method, url):
    responses = []
    client.request(method, url).addCallback(responses.append)
    client.flush()
    [response] = responses
    bodies = []
    client.content(response).addCallback(bodies.append)
    client.flush()
    return response.code, json.loads(bodies[0])


@pytest.mark.parametrize("method,path,target,kind,options", [
    ("POST", "/api/v1/namespaces/ns/pods/p/exec?command=ls&command=-l&stdout=true&container=c",
     ("pods", "exec", "p", "ns"), "PodExecOptions", {"stdout": True, "container": "c", "command": ["ls", "-l"]}),
    ("GET", "/api/v1/namespaces/ns/pods/p/attach?stdin=true&tty=true", ("pods", "attach", "p", "ns"),
     "PodAttachOptions", {"stdin": True, "tty": True}),
    ("GET", "/api/v1/namespaces/ns/pods/p/portforward?ports=8080", ("pods", "portforward", "p", "ns"),
     "PodPortForwardOptions", {"ports": [8080]}),
    ("GET", "/api/v1/namespaces/ns/pods/p:8080/proxy/healthz", ("pods", "proxy", "p:8080", "ns"),
     "PodProxyOptions", {"path": "/healthz"}),
    ("GET", "/api/v1/namespaces/ns/services/s:http/proxy/a/b/", ("services", "proxy", "s:http", "ns"),
     "ServiceProxyOptions", {"path": "/a/b/"}),
    ("GET", "/api/v1/nodes/n/proxy/metrics", ("nodes", "proxy", "n", ""), "NodeProxyOptions", {"path": "/metrics"}),
])
def test_connect_is_admitted_first(client, admission, method, path, target, kind, options):
    """A connect request's admission sees CONNECT, the subresource and its options object, and its refusal
    is the answer (no 404 for the object that was never looked up)."""
    code, body = _call(client, method, "http://k" + path)
    [attributes] = admission.seen
    assert (attributes.resource.resource, attributes.subresource, attributes.name, attributes.namespace) == target
    assert (code, body["message"]) == (403, f"no {target[0]}/{target[1]}")
    assert attributes.operation == "CONNECT" and attributes.kind.kind == kind
    assert attributes.object == {"kind": kind, "apiVersion": "v1", **options}
    assert attributes.old_object is None and attributes.user_info.name == "system:unsecured"


def test_logs_are_not_admitted(client, admission):
    """pods/log is a read, not a connect: nothing is admitted (the request goes on to read the pod)."""
    code, _ = _call(client, "GET", "http://k/api/v1/namespaces/ns/pods/p/log")
    assert admission.seen == [] and code != 403

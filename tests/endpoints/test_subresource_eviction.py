"""pods/eviction as upstream 1.32's EvictionREST answers it, through the HTTP handlers in process: the request's
dryRun merged into the eviction's delete options (propagateDryRun), the body's kind and name checked, a budget
still being processed refused with a Retry-After, and the DisruptionTarget condition's preconditions."""

from __future__ import annotations

import json

import pytest
from treq.testing import StubTreq
from twisted.internet import task

from kapiserver import runtime
from kapiserver.endpoints.api import APIContext
from kapiserver.endpoints.root import APIRoot
from kapiserver.registry.registry import Registry
from kapiserver.storage.memory import MemoryStorage

PODS = "/api/v1/namespaces/default/pods"
PDBS = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"


class Answer:
    def __init__(self, code, body, headers):
        self.code, self.body, self.headers = code, body, headers


@pytest.fixture
def api():
    clock = task.Clock()
    registry = Registry(MemoryStorage(clock), clock)
    clock.advance(0)
    client = StubTreq(runtime.RuntimeLimits(APIRoot(APIContext(registry, clock, clock)), clock, request_timeout=60))

    def call(method, path, body=None) -> Answer:
        responses, bodies = [], []
        data = json.dumps(body).encode() if body is not None else None
        client.request(method, "http://api" + path, data=data,
                       headers={"Content-Type": "application/json"}).addCallback(responses.append)
        for _ in range(5):
            client.flush()
            clock.advance(0)
        assert responses, (method, path)
        client.content(responses[0]).addCallback(bodies.append)
        client.flush()
        text = bodies[0] if bodies else b""
        return Answer(responses[0].code, json.loads(text) if text.strip() else None, responses[0].headers)

    assert call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": "default"}}).code == 201
    return call


def running_pod(api, name, labels=None, ready=True) -> dict:
    """A Running pod (Ready unless told), as the kubelet would report it."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {"app": "e"}},
           "spec": {"containers": [{"name": "c", "image": "nginx"}], "nodeName": "n1"}}
    created = api("POST", PODS, pod)
    assert created.code == 201, created.body
    created.body["status"] = {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}
    written = api("PUT", f"{PODS}/{name}/status", created.body)
    assert written.code == 200, written.body
    return written.body


def budget(api, name, status=None, processed=True, **spec) -> dict:
    """A PodDisruptionBudget selecting app=e, its status written as the disruption controller would (its
    observedGeneration behind its generation unless ``processed``)."""
    created = api("POST", PDBS, {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                                 "metadata": {"name": name},
                                 "spec": {"selector": {"matchLabels": {"app": "e"}}, **spec}})
    assert created.code == 201, created.body
    created.body["status"] = {"observedGeneration": created.body["metadata"]["generation"] if processed else 0,
                              "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0,
                              "disruptionsAllowed": 0, **(status or {})}
    written = api("PUT", f"{PDBS}/{name}/status", created.body)
    assert written.code == 200, written.body
    return written.body


def eviction(name, **fields) -> dict:
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}, **fields}


def evict(api, name, body=None, query=""):
    return api("POST", f"{PODS}/{name}/eviction{query}", body if body is not None else eviction(name))


def test_budget_still_being_processed_asks_to_retry_after_ten_seconds(api):
    """createTooManyRequestsError: NewTooManyRequests(..., 10), so details.retryAfterSeconds 10 and a
    Retry-After: 10 header beside the DisruptionBudget cause."""
    running_pod(api, "web")
    budget(api, "fresh", processed=False, minAvailable=0)
    answer = evict(api, "web")
    assert answer.code == 429
    assert answer.body["reason"] == "TooManyRequests"
    assert answer.body["details"] == {
        "causes": [{"reason": "DisruptionBudget",
                    "message": "The disruption budget fresh is still being processed by the server."}],
        "retryAfterSeconds": 10}
    assert answer.headers.getRawHeaders("Retry-After") == ["10"]


def test_budget_without_disruptions_left_names_no_retry(api):
    """The 'needs N healthy pods' refusal is NewTooManyRequests(..., 0): no retryAfterSeconds, no header."""
    running_pod(api, "web")
    budget(api, "tight", {"desiredHealthy": 1, "currentHealthy": 1}, minAvailable=1)
    answer = evict(api, "web")
    assert answer.code == 429
    assert answer.body["details"] == {"causes": [{
        "reason": "DisruptionBudget",
        "message": "The disruption budget tight needs 1 healthy pods and has 1 currently"}]}
    assert answer.headers.getRawHeaders("Retry-After") is None

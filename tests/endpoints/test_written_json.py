"""A write's answer in JSON is the watch cache's bytes of the version written (the bytes a GET of it gives, not an
encoding of the dict the write ended with), where the cache holds that version; otherwise the object encoded."""

from __future__ import annotations

import json

from treq.testing import StubTreq
from twisted.internet import task

from kapiserver import runtime
from kapiserver.endpoints.api import APIContext
from kapiserver.endpoints.root import APIRoot
from kapiserver.registry.registry import Registry
from kapiserver.storage.memory import MemoryStorage

NS = "/api/v1/namespaces/default/configmaps"


def _client(watch_cache: bool = True):
    clock = task.Clock()
    registry = Registry(MemoryStorage(clock), clock, watch_cache=watch_cache)
    clock.advance(0)        # the watch caches filled
    client = StubTreq(runtime.RuntimeLimits(APIRoot(APIContext(registry, clock, clock)), clock, request_timeout=60))
    call(client, clock, "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                         "metadata": {"name": "default"}})
    return registry, client, clock


def call(client, clock, method: str, url: str, body=None, accept: str = "application/json"):
    """(status, body bytes) of one request, the clock and the stub turned until it is answered."""
    responses, bodies = [], []
    headers = {"Accept": accept, "Content-Type": "application/json"}
    data = json.dumps(body).encode() if body is not None else None
    client.request(method, "http://api" + url, data=data, headers=headers).addCallback(responses.append)
    for _ in range(20):
        client.flush()
        clock.advance(0)
        if responses:
            break
    [response] = responses
    client.content(response).addCallback(bodies.append)
    client.flush()
    return response.code, bodies[0]


def test_create_and_update_answer_with_the_bytes_a_get_of_that_version_gives():
    registry, client, clock = _client()
    code, created = call(client, clock, "POST", NS, {"apiVersion": "v1", "kind": "ConfigMap",
                                                      "metadata": {"name": "one", "labels": {"a": "b"}},
                                                      "data": {"k": "v"}})
    assert code == 201
    assert call(client, clock, "GET", NS + "/one") == (200, created)
    # Go's field order: resourceVersion where ObjectMeta has it (after uid), not where the write set it last.
    metadata = list(json.loads(created)["metadata"])
    assert metadata.index("resourceVersion") == metadata.index("uid") + 1
    assert created.endswith(b"}\n")

    code, updated = call(client, clock, "PUT", NS + "/one", dict(json.loads(created), data={"k": "w"}))
    assert code == 200 and json.loads(updated)["data"] == {"k": "w"}
    assert call(client, clock, "GET", NS + "/one") == (200, updated)


def test_answers_the_cache_cannot_give_are_encoded():
    """A dry run (nothing stored), YAML, and a subresource's object (a Deployment's Scale names the
    Deployment's version) are encoded from the object; so is every answer without a watch cache."""
    registry, client, clock = _client()
    code, dry = call(client, clock, "POST", NS + "?dryRun=All", {"apiVersion": "v1", "kind": "ConfigMap",
                                                                  "metadata": {"name": "dry"}})
    assert code == 201 and "resourceVersion" not in json.loads(dry)["metadata"]
    assert call(client, clock, "GET", NS + "/dry")[0] == 404
    # A dry-run update names the stored version but is not it.
    code, created = call(client, clock, "POST", NS, {"apiVersion": "v1", "kind": "ConfigMap",
                                                      "metadata": {"name": "wet"}, "data": {"k": "v"}})
    code, dry = call(client, clock, "PUT", NS + "/wet?dryRun=All", dict(json.loads(created), data={"k": "w"}))
    assert code == 200 and json.loads(dry)["data"] == {"k": "w"}
    assert json.loads(call(client, clock, "GET", NS + "/wet")[1])["data"] == {"k": "v"}

    code, text = call(client, clock, "POST", NS, {"apiVersion": "v1", "kind": "ConfigMap",
                                                   "metadata": {"name": "two"}}, accept="application/yaml")
    assert code == 201 and b"\n  name: two\n" in text and not text.startswith(b"{")

    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {
        "selector": {"matchLabels": {"app": "d"}},
        "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    assert call(client, clock, "POST", "/apis/apps/v1/namespaces/default/deployments", deployment)[0] == 201
    code, scale = call(client, clock, "PUT", "/apis/apps/v1/namespaces/default/deployments/d/scale", {
        "apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "d", "namespace": "default"},
        "spec": {"replicas": 3}})
    assert code == 200 and json.loads(scale)["kind"] == "Scale" and json.loads(scale)["spec"] == {"replicas": 3}

    registry, client, clock = _client(watch_cache=False)
    code, created = call(client, clock, "POST", NS, {"apiVersion": "v1", "kind": "ConfigMap",
                                                      "metadata": {"name": "one"}})
    assert code == 201 and json.loads(created)["metadata"]["name"] == "one"
    # Encoded, in Go's field order all the same: the bytes a GET of it gives; so too an update naming no
    # resourceVersion (the store puts it in its place).
    assert call(client, clock, "GET", NS + "/one") == (200, created)
    unnamed = json.loads(created)
    del unnamed["metadata"]["resourceVersion"]
    code, updated = call(client, clock, "PUT", NS + "/one", dict(unnamed, data={"k": "w"}))
    assert code == 200 and call(client, clock, "GET", NS + "/one") == (200, updated)

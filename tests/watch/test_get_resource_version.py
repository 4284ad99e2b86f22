"""A GET's resourceVersion, as upstream 1.32's cacher answers it: unset, a consistent read; "0", the watch cache as
it is (no round trip to storage, nothing waited for); N, the cache once it has reached N, else 504 "Too large
resource version" after the wait; storage while the cache is not filled.  Each against the embedded store's watch
and a remote (etcd-like) one whose watch vouches only for what its progress notifications reached."""

from __future__ import annotations

import json

import pytest
from twisted.internet import task
from twisted.internet.defer import Deferred, succeed

from kapiserver import runtime
from kapiserver.endpoints.api import APIContext
from kapiserver.endpoints.root import APIRoot
from kapiserver.machinery.errors import StatusError
from kapiserver.registry.registry import Registry
from kapiserver.storage.memory import MemoryStorage
from kapiserver.watch.cacher import NOT_CACHED
from treq.testing import StubTreq

from .test_cacher import PREFIX, FakeStorage, cm, make_cacher, result
from .test_future_rv import TOO_LARGE_CAUSES, RemoteHandle

KEY = PREFIX + b"default/a"


class Storage(FakeStorage):
    """FakeStorage with the point reads StorageReader.get makes, counted."""

    def __init__(self):
        super().__init__()
        self.gets = 0
        self.revision_reads = 0

    def get(self, key):
        self.gets += 1
        return succeed(self.data.get(key))

    def current_revision(self):
        self.revision_reads += 1
        return super().current_revision()


class Remote(Storage):
    delivers_before_ack = False

    def watch(self, prefix, after, sink, on_progress=None):
        self.handle = RemoteHandle(super().watch(prefix, after, sink), after)
        return self.handle


@pytest.fixture(params=["embedded", "remote"])
def world(request):
    storage = Storage() if request.param == "embedded" else Remote()
    clock = task.Clock()
    storage.write("a", cm("a"))     # revision 2
    cacher = make_cacher(storage, clock)
    cacher.start()
    return storage, clock, cacher


def get(cacher, resource_version, shared=False):
    return Deferred.fromCoroutine(cacher.get(KEY, shared, resource_version))


def test_resource_version_0_is_the_cache_as_it_is_without_asking_storage(world):
    """At "0" the cache answers at once, even when a remote store cannot vouch for it being current, and storage
    is neither read nor asked its revision, where a consistent GET asks it (and reads storage when the cache cannot
    be confirmed current)."""
    storage, clock, cacher = world
    storage.other_write()                       # storage at 3, nothing under the prefix
    reads = storage.revision_reads
    obj = result(get(cacher, "0"))
    assert obj["metadata"] == {"name": "a", "namespace": "default", "resourceVersion": "2"}
    assert storage.gets == 0 and storage.revision_reads == reads
    assert json.loads(result(Deferred.fromCoroutine(cacher.get_encoded(KEY, "0")))) == obj
    assert result(get(cacher, ""))["metadata"]["resourceVersion"] == "2"
    if isinstance(storage, Remote):
        assert storage.gets == 1        # a consistent GET where the watch cannot vouch for the cache: storage read
    else:
        assert storage.revision_reads > reads and storage.gets == 0     # storage's revision asked, the cache read


def test_resource_version_0_of_an_object_the_cache_does_not_hold_is_none(world):
    storage, clock, cacher = world
    assert result(Deferred.fromCoroutine(cacher.get(PREFIX + b"default/nope", False, "0"))) is None
    assert result(Deferred.fromCoroutine(cacher.get_encoded(PREFIX + b"default/nope", "0"))) is None
    assert storage.gets == 0


def test_resource_version_n_reached_is_served_from_the_cache_at_once(world):
    storage, clock, cacher = world
    storage.write("a", cm("a", "y"))            # revision 3
    assert cacher.get_encoded_now(KEY, "3") not in (None, NOT_CACHED)
    assert result(get(cacher, "3"))["data"] == {"k": "y"}
    assert result(get(cacher, "2"))["data"] == {"k": "y"}     # not older than 2: the newest the cache has
    assert storage.gets == 0


def test_resource_version_n_ahead_waits_then_is_served_when_the_cache_gets_there(world):
    storage, clock, cacher = world
    assert cacher.get_encoded_now(KEY, "3") is NOT_CACHED
    d = get(cacher, "3")
    clock.advance(1)
    assert not d.called
    storage.write("a", cm("a", "z"))            # revision 3
    assert result(d)["data"] == {"k": "z"} and storage.gets == 0


def test_resource_version_n_never_reached_is_504_too_large_after_the_wait(world):
    storage, clock, cacher = world
    d = get(cacher, "50")
    clock.advance(2.9)
    assert not d.called
    clock.advance(0.1)
    with pytest.raises(StatusError) as e:
        result(d)
    assert e.value.code == 504 and e.value.reason == "Timeout"
    assert e.value.message == "Timeout: Too large resource version: 50, current: 2"
    assert e.value.details == {"causes": TOO_LARGE_CAUSES, "retryAfterSeconds": 1}


def test_resource_version_that_is_not_one_is_400(world):
    storage, clock, cacher = world
    for bad in ("abc", "-1", "1.5"):
        with pytest.raises(StatusError) as e:
            result(get(cacher, bad))
        assert e.value.code == 400 and e.value.message == f'invalid resource version "{bad}"'
        with pytest.raises(StatusError):
            cacher.get_encoded_now(KEY, bad)


def test_before_the_cache_is_filled_storage_answers_and_checks_n():
    """Not filled: "0" reads storage; N within storage's revision reads it; N ahead of it is 504 at once (as
    upstream's etcd3 store answers a GET with a minimum resourceVersion it has not reached)."""
    storage, clock = Storage(), task.Clock()
    storage.write("a", cm("a"))
    cacher = make_cacher(storage, clock)        # never started: not filled
    assert result(get(cacher, "0"))["metadata"]["name"] == "a" and storage.gets == 1
    assert result(get(cacher, "2"))["metadata"]["name"] == "a" and storage.gets == 2
    assert result(Deferred.fromCoroutine(cacher.get_encoded(KEY, "0"))) is NOT_CACHED
    with pytest.raises(StatusError) as e:
        result(get(cacher, "9"))
    assert e.value.code == 504 and e.value.message == "Timeout: Too large resource version: 9, current: 2"
    assert e.value.details == {"causes": TOO_LARGE_CAUSES}


# -- over HTTP ------------------------------------------------------------------------------------------------
NS = "/api/v1/namespaces/default/configmaps"


def _server():
    clock = task.Clock()
    registry = Registry(MemoryStorage(clock), clock, watch_cache=True)
    clock.advance(0)        # the watch caches filled
    client = StubTreq(runtime.RuntimeLimits(APIRoot(APIContext(registry, clock, clock)), clock, request_timeout=60))
    return client, clock


def _call(client, clock, method, url, body=None, wait=0.0, accept="application/json"):
    responses, bodies = [], []
    data = json.dumps(body).encode() if body is not None else None
    client.request(method, "http://api" + url, data=data,
                   headers={"Accept": accept, "Content-Type": "application/json"}
                   ).addCallback(responses.append)
    for _ in range(40):
        client.flush()
        clock.advance(0)
        if responses:
            break
        if wait:
            clock.advance(wait / 10)
    [response] = responses
    client.content(response).addCallback(bodies.append)
    client.flush()
    return response, bodies[0]


def test_http_get_at_resource_versions():
    client, clock = _server()
    _call(client, clock, "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                         "metadata": {"name": "default"}})
    response, created = _call(client, clock, "POST", NS, {"apiVersion": "v1", "kind": "ConfigMap",
                                                           "metadata": {"name": "one"}, "data": {"k": "v"}})
    assert response.code == 201
    rv = json.loads(created)["metadata"]["resourceVersion"]
    for query in ("", "?resourceVersion=0", f"?resourceVersion={rv}"):
        response, body = _call(client, clock, "GET", NS + "/one" + query)
        assert (response.code, body) == (200, created), query

    response, body = _call(client, clock, "GET", NS + f"/one?resourceVersion={int(rv) + 100}", wait=3.0)
    status = json.loads(body)
    assert response.code == 504 and response.headers.getRawHeaders(b"retry-after") == [b"1"]
    assert status["reason"] == "Timeout" and status["details"]["causes"] == TOO_LARGE_CAUSES
    assert status["message"] == f"Timeout: Too large resource version: {int(rv) + 100}, current: {rv}"

    response, body = _call(client, clock, "GET", NS + "/one?resourceVersion=x")
    assert response.code == 400 and json.loads(body)["message"] == 'invalid resource version "x"'

    # A Table's GET and a subresource's (not the cached bytes' path) take it too.
    response, body = _call(client, clock, "GET", NS + "/one?resourceVersion=0",
                           accept="application/json;as=Table;v=v1;g=meta.k8s.io")
    assert response.code == 200 and json.loads(body)["rows"][0]["cells"][0] == "one"
    response, body = _call(client, clock, "GET", NS + f"/one?resourceVersion={int(rv) + 100}", wait=3.0,
                           accept="application/json;as=Table;v=v1;g=meta.k8s.io")
    assert response.code == 504
    response, body = _call(client, clock, "GET", "/api/v1/namespaces/default/status?resourceVersion=0")
    assert response.code == 200 and json.loads(body)["metadata"]["name"] == "default"
    response, body = _call(client, clock, "GET", "/api/v1/namespaces/default/status?resourceVersion=x")
    assert response.code == 400 and json.loads(body)["message"] == 'invalid resource version "x"'

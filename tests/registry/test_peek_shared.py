"""Store.peek_shared: what the watch cache holds of an object now, without a consistent read's wait (what
NamespaceLifecycle reads, as upstream's plugin reads its informer's lister)."""

from __future__ import annotations

from twisted.internet import task
from twisted.internet.defer import Deferred

from kapiserver.registry.registry import Registry
from kapiserver.storage.memory import MemoryStorage
from kapiserver.watch.cacher import NOT_CACHED


def result(coro):
    out = []
    Deferred.fromCoroutine(coro).addBoth(out.append)
    assert out, "the Deferred has not fired"
    if hasattr(out[0], "raiseException"):
        out[0].raiseException()
    return out[0]


def namespace(name):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def test_peek_shared_answers_from_the_filled_cache():
    clock = task.Clock()
    store = Registry(MemoryStorage(clock), clock, watch_cache=True).store("", "v1", "namespaces")
    store.reads.start()
    clock.advance(0)
    assert store.peek_shared(None, "a") is None
    created = result(store.create(None, namespace("a")))
    seen = store.peek_shared(None, "a")
    assert seen["metadata"]["uid"] == created["metadata"]["uid"]
    assert seen["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert store.peek_shared(None, "a") is seen     # the cache's own dict, not a copy per call
    result(store.delete(None, "a"))     # marked: its finalizer stays until the namespace controller is done
    assert store.peek_shared(None, "a")["status"]["phase"] == "Terminating"


def test_peek_shared_without_a_watch_cache_cannot_tell():
    clock = task.Clock()
    store = Registry(MemoryStorage(clock), clock).store("", "v1", "namespaces")
    result(store.create(None, namespace("a")))
    assert store.peek_shared(None, "a") is NOT_CACHED

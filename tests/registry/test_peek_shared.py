"""Store.peek_shared: what the watch cache holds of an object now, without a consistent read's wait (what
NamespaceLifecycle reads, as upstream's plugin reads its informer's lister)."""

from __future__ import annotations

from kapiserver.watch.cacher import NOT_CACHED

from tests.registry.conftest import memory_store, result


def namespace(name):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def test_peek_shared_answers_from_the_filled_cache():
    store = memory_store("namespaces", watch_cache=True)
    assert store.peek_shared(None, "a") is None
    created = result(store.create(None, namespace("a")))
    seen = store.peek_shared(None, "a")
    assert seen["metadata"]["uid"] == created["metadata"]["uid"]
    assert seen["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert store.peek_shared(None, "a") is seen     # the cache's own dict, not a copy per call
    result(store.delete(None, "a"))     # marked: its finalizer stays until the namespace controller is done
    assert store.peek_shared(None, "a")["status"]["phase"] == "Terminating"


def test_peek_shared_without_a_watch_cache_cannot_tell():
    store = memory_store("namespaces")
    result(store.create(None, namespace("a")))
    assert store.peek_shared(None, "a") is NOT_CACHED


def quota(name, namespace):
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name, "namespace": namespace},
            "spec": {"hard": {"pods": "1"}}}


def test_peek_list_is_the_list_at_resource_version_0():
    from kapiserver.registry.options import ListOptions
    store = memory_store("resourcequotas", watch_cache=True)
    assert store.peek_list("a") == []
    result(store.create("a", quota("q1", "a")))
    result(store.create("a", quota("q2", "a")))
    result(store.create("b", quota("q1", "b")))
    listed = result(store.list("a", ListOptions(resource_version="0")))[0]
    peeked = store.peek_list("a")
    assert [q["metadata"]["name"] for q in peeked] == ["q1", "q2"]
    assert peeked == listed
    assert [q["metadata"]["namespace"] for q in store.peek_list("b")] == ["b"]


def test_peek_list_without_a_watch_cache_cannot_tell():
    store = memory_store("resourcequotas")
    assert store.peek_list("a") is NOT_CACHED

"""Optimistic concurrency in the generic Store: writes racing on one object retry on the fresh object
unless the request named a resourceVersion, as upstream's GuaranteedUpdate does."""

from __future__ import annotations

import pytest
from twisted.internet.defer import Deferred, DeferredList

from kapiserver.machinery.errors import StatusError

from tests.controllers.conftest import run


@pytest.fixture
def configmaps(store_registry):
    store = store_registry.store("", "v1", "configmaps")
    run(store.create("default", {"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": "shared", "namespace": "default"}}))
    return store


def label(key):
    """What a merge patch without a resourceVersion does: change the current object, keeping its version."""
    def patch(old):
        old["metadata"].setdefault("labels", {})[key] = "set"
        return old
    return patch


def test_racing_patches_all_land(configmaps):
    """Ten patches on one object at once all succeed; none gets a 409."""
    writes = [Deferred.fromCoroutine(configmaps.update("default", "shared", label(f"k{i}"))) for i in range(10)]
    results = run(DeferredList(writes, consumeErrors=True))
    assert [ok for ok, _ in results] == [True] * 10, [r for ok, r in results if not ok]
    labels = run(configmaps.get("default", "shared"))["metadata"]["labels"]
    assert sorted(labels) == sorted(f"k{i}" for i in range(10))


def test_a_stale_resource_version_is_still_a_conflict(configmaps):
    """An update naming a resourceVersion that is no longer current gets 409 Conflict."""
    stale = run(configmaps.get("default", "shared"))
    run(configmaps.update("default", "shared", label("first")))

    def put(old):
        return dict(stale, data={"x": "y"})
    with pytest.raises(StatusError) as error:
        run(configmaps.update("default", "shared", put))
    assert error.value.code == 409 and error.value.reason == "Conflict"


def test_an_update_asks_a_conversion_webhook_once(configmaps):
    """An object stored in another version is converted once per update, not once more for the update
    function's own copy (each conversion is a webhook round trip)."""
    calls = []

    async def converter(objects, api_version):
        calls.append(api_version)
        return [dict(obj, apiVersion=api_version) for obj in objects]
    configmaps.strategy.converter = converter
    try:
        key = configmaps.key("default", "old")
        run(configmaps.storage.create(key, b'{"apiVersion":"v0","kind":"ConfigMap",'
                                           b'"metadata":{"name":"old","namespace":"default"}}'))
        run(configmaps.update("default", "old", label("k")))
    finally:
        configmaps.strategy.converter = None
    assert calls == ["v1"]
    assert run(configmaps.get("default", "old"))["metadata"]["labels"] == {"k": "set"}

"""Updates start from the watch cache's object (no storage read), as upstream's GuaranteedUpdate does, and
fall back to storage's whenever the cached one may be stale: a refused compare-and-swap, an error, or
nothing to write."""

from __future__ import annotations

import pytest

from kapiserver.machinery.errors import StatusError

from tests.registry.conftest import memory_store, result


def cm(value, rv=None):
    meta = {"name": "a"}
    if rv is not None:
        meta["resourceVersion"] = rv
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"v": value}}


@pytest.fixture
def setup():
    store = memory_store("configmaps", watch_cache=True)
    storage = store.storage
    reads = []
    real_get = storage.get

    def counting_get(key):
        reads.append(key)
        return real_get(key)
    storage.get = counting_get
    created = result(store.create("default", cm("1")))
    return store, reads, created


def put(store, obj):
    return result(store.update("default", "a", lambda old: obj))


def stale(store, obj):
    """Make the cache answer ``obj``'s version (an older one) to the next peek."""
    from kapiserver.machinery import codec
    guess = (codec.dumps(obj), int(obj["metadata"]["resourceVersion"]))
    store.reads.peek = lambda key: guess


def test_update_starts_from_the_cached_object_without_reading_storage(setup):
    store, reads, created = setup
    updated, made = put(store, cm("2"))
    assert not made and updated["data"] == {"v": "2"}
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    assert reads == []
    assert result(store.get("default", "a"))["data"] == {"v": "2"}


def test_a_stale_cached_object_is_refused_by_storage_and_the_update_made_on_the_fresh_one(setup):
    store, reads, created = setup
    current, _ = put(store, cm("2"))
    stale(store, created)
    updated, _ = put(store, cm("3", rv=current["metadata"]["resourceVersion"]))
    assert updated["data"] == {"v": "3"} and reads


def test_a_stale_conflict_stands_once_storage_confirms_it(setup):
    store, reads, created = setup
    put(store, cm("2"))
    stale(store, created)
    with pytest.raises(StatusError) as e:
        put(store, cm("3", rv="999999"))
    assert e.value.code == 409 and reads


def test_an_error_on_the_current_cached_object_stands_after_one_storage_read(setup):
    store, reads, created = setup
    with pytest.raises(StatusError) as e:
        put(store, cm("3", rv="999999"))
    assert e.value.code == 409 and len(reads) == 1


def test_nothing_to_write_on_a_stale_object_is_checked_against_storage(setup):
    """The request equals the stale cached object but not storage's: it is written."""
    store, reads, created = setup
    current, _ = put(store, cm("2"))
    stale(store, created)
    updated, _ = put(store, cm("1"))
    assert updated["data"] == {"v": "1"} and reads
    assert int(updated["metadata"]["resourceVersion"]) > int(current["metadata"]["resourceVersion"])


def test_nothing_to_write_answers_the_object_unchanged(setup):
    store, reads, created = setup
    same, _ = put(store, cm("1"))
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert same["metadata"]["managedFields"] == created["metadata"]["managedFields"]


def test_a_cached_object_deleted_from_storage_is_not_found(setup):
    """The cache still shows an object storage no longer has: the update answers 404, as it would from storage."""
    store, reads, created = setup
    result(store.delete("default", "a"))
    stale(store, created)
    with pytest.raises(StatusError) as e:
        put(store, cm("3", rv=created["metadata"]["resourceVersion"]))
    assert e.value.code == 404 and reads

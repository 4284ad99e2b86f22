"""The garbage collector against a Registry on SQLite: background, foreground and orphan propagation."""

from __future__ import annotations

import pytest
from twisted.internet import reactor

from kapiserver.controllers.garbagecollector import GarbageCollector
from kapiserver.machinery.errors import StatusError
from kapiserver.registry.options import DeleteOptions

from .conftest import run, run_until, settle


@pytest.fixture
def gc(registry):
    run(registry.store("", "v1", "namespaces").create(None, {"metadata": {"name": "default"}}))
    collector = GarbageCollector(registry, reactor, retry_interval=0.05, resync_interval=0.05)
    run(collector.start())
    yield collector
    collector.stop()


def configmaps(registry):
    return registry.store("", "v1", "configmaps")


def make(registry, name, *owners, block=False, finalizers=()):
    refs = [{"apiVersion": "v1", "kind": "ConfigMap", "name": o["metadata"]["name"], "uid": o["metadata"]["uid"],
             **({"blockOwnerDeletion": True} if block else {})} for o in owners]
    meta = {"name": name}
    if refs:
        meta["ownerReferences"] = refs
    if finalizers:
        meta["finalizers"] = list(finalizers)
    return run(configmaps(registry).create("default", {"metadata": meta}))


def exists(registry, name):
    try:
        return run(configmaps(registry).get("default", name))
    except StatusError as e:
        assert e.code == 404
        return None


def test_background_deletes_dependents_after_owner(registry, gc):
    """Deleting an owner (background) removes it at once; its dependents follow."""
    owner = make(registry, "owner")
    make(registry, "child", owner)
    make(registry, "grandchild", exists(registry, "child"))
    _, now = run(configmaps(registry).delete("default", "owner", DeleteOptions(propagation_policy="Background")))
    assert now
    run_until(lambda: exists(registry, "child") is None and exists(registry, "grandchild") is None)


def test_dependent_of_a_never_seen_owner_is_collected(registry, gc):
    """An object whose owner does not exist (with that uid) is deleted."""
    run(configmaps(registry).create("default", {"metadata": {"name": "orphaned", "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "00000000-0000-0000-0000-000000000001"}]}}))
    run_until(lambda: exists(registry, "orphaned") is None)


def test_solid_owner_keeps_dependent_and_dangling_reference_goes(registry, gc):
    """With one live owner and one missing, the dependent stays and loses the dangling reference."""
    alive = make(registry, "alive")
    gone = make(registry, "gone")
    make(registry, "shared", alive, gone)
    run(configmaps(registry).delete("default", "gone"))
    run_until(lambda: len(exists(registry, "shared")["metadata"].get("ownerReferences", [])) == 1)
    assert exists(registry, "shared")["metadata"]["ownerReferences"][0]["uid"] == alive["metadata"]["uid"]


def test_foreground_waits_for_blocking_dependents(registry, gc):
    """Foreground: the owner is marked with foregroundDeletion and goes only after its blocking dependents."""
    owner = make(registry, "fg-owner")
    make(registry, "fg-child", owner, block=True, finalizers=["example.com/hold"])
    obj, now = run(configmaps(registry).delete("default", "fg-owner", DeleteOptions(propagation_policy="Foreground")))
    assert not now
    assert obj["metadata"]["finalizers"] == ["foregroundDeletion"] and obj["metadata"]["deletionTimestamp"]
    # The child is being deleted but held by its own finalizer: the owner must wait.
    run_until(lambda: (exists(registry, "fg-child") or {}).get("metadata", {}).get("deletionTimestamp"))
    settle(0.3)
    assert exists(registry, "fg-owner") is not None
    child = exists(registry, "fg-child")
    child["metadata"]["finalizers"] = []
    run(configmaps(registry).update("default", "fg-child", lambda old: child))
    run_until(lambda: exists(registry, "fg-owner") is None)


def test_foreground_without_dependents_finishes(registry, gc):
    """Foreground deletion of an object with no dependents ends with the object gone."""
    make(registry, "lonely")
    run(configmaps(registry).delete("default", "lonely", DeleteOptions(propagation_policy="Foreground")))
    run_until(lambda: exists(registry, "lonely") is None)


def test_orphan_keeps_dependents_without_the_reference(registry, gc):
    """Orphan: the owner goes, its dependents stay with their reference to it removed."""
    owner = make(registry, "or-owner")
    other = make(registry, "other-owner")
    make(registry, "or-child", owner, other)
    obj, now = run(configmaps(registry).delete("default", "or-owner", DeleteOptions(propagation_policy="Orphan")))
    assert not now and obj["metadata"]["finalizers"] == ["orphan"]
    run_until(lambda: exists(registry, "or-owner") is None)
    refs = exists(registry, "or-child")["metadata"]["ownerReferences"]
    assert [r["uid"] for r in refs] == [other["metadata"]["uid"]]
    settle(0.2)
    assert exists(registry, "or-child") is not None


def test_custom_resource_store_added_later_is_watched(registry, gc):
    """A store registered after start (as a CRD's) is watched on the next resync."""
    import dataclasses
    base = next(s for s in registry.stores.values() if s.info.resource == "configmaps").info
    info = dataclasses.replace(base, group="example.com", version="v1", resource="widgets", kind="Widget",
                               storage_group="example.com", storage_version="v1", storage_resource="widgets")
    widgets = registry.add(info, builtin=False)
    owner = make(registry, "w-owner")
    run(widgets.create("default", {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {
        "name": "w", "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "w-owner",
                                          "uid": owner["metadata"]["uid"]}]}}))
    run_until(lambda: any(k == widgets.key_root for k in gc._monitors))
    run(configmaps(registry).delete("default", "w-owner"))

    def gone():
        try:
            run(widgets.get("default", "w"))
            return False
        except StatusError:
            return True
    run_until(gone)


def test_second_delete_swaps_the_gc_finalizer(registry):
    """Deleting again with another policy swaps orphan for foregroundDeletion, keeping the deletionTimestamp."""
    run(registry.store("", "v1", "namespaces").create(None, {"metadata": {"name": "default"}}))
    make(registry, "twice", finalizers=["example.com/hold"])
    first, _ = run(configmaps(registry).delete("default", "twice", DeleteOptions(propagation_policy="Orphan")))
    assert first["metadata"]["finalizers"] == ["example.com/hold", "orphan"]
    second, now = run(configmaps(registry).delete("default", "twice",
                                                  DeleteOptions(propagation_policy="Foreground")))
    assert not now
    assert second["metadata"]["finalizers"] == ["example.com/hold", "foregroundDeletion"]
    assert second["metadata"]["deletionTimestamp"] == first["metadata"]["deletionTimestamp"]
    assert exists(registry, "twice")["metadata"]["finalizers"] == ["example.com/hold", "foregroundDeletion"]


def test_orphan_only_finalizer_removed_by_background_delete_deletes_at_once(registry):
    """An object held only by orphan goes at once when deleted again with Background."""
    run(registry.store("", "v1", "namespaces").create(None, {"metadata": {"name": "default"}}))
    make(registry, "held")
    run(configmaps(registry).delete("default", "held", DeleteOptions(propagation_policy="Orphan")))
    _, now = run(configmaps(registry).delete("default", "held", DeleteOptions(propagation_policy="Background")))
    assert now and exists(registry, "held") is None


def test_foreground_cycle_is_broken(registry, gc):
    """Two objects owning each other with blockOwnerDeletion are both collected by a foreground delete."""
    a = make(registry, "cyc-a")
    b = make(registry, "cyc-b", a, block=True)
    refs = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "cyc-b", "uid": b["metadata"]["uid"],
             "blockOwnerDeletion": True}]
    run(configmaps(registry).update("default", "cyc-a", lambda old: {
        **old, "metadata": {**old["metadata"], "ownerReferences": refs}}))
    run(configmaps(registry).delete("default", "cyc-a", DeleteOptions(propagation_policy="Foreground")))
    run_until(lambda: exists(registry, "cyc-a") is None and exists(registry, "cyc-b") is None)


def test_owner_of_an_unknown_kind_keeps_the_dependent(registry, gc):
    """An owner reference to a kind no store serves is never taken as absent: the dependent stays."""
    run(configmaps(registry).create("default", {"metadata": {"name": "unknown-owner", "ownerReferences": [
        {"apiVersion": "nowhere.example.com/v1", "kind": "Thing", "name": "t",
         "uid": "00000000-0000-0000-0000-000000000002"}]}}))
    settle(0.4)
    assert exists(registry, "unknown-owner") is not None
    assert gc._failures, "the unknown owner is retried with backoff"

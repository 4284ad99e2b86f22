"""NamespaceLifecycle: a create reads its namespace from the watch cache, as upstream's plugin reads its
informer's lister, and reads it live only when the cache has none, cannot tell, or has it Active shortly after
a DELETE of it was admitted here (upstream's forced live lookup)."""

from __future__ import annotations

import pytest

from kapiserver.admission.lifecycle import FORCE_LIVE_LOOKUP_SIZE, FORCE_LIVE_LOOKUP_TTL, NamespaceLifecycle
from kapiserver.machinery.errors import StatusError
from kapiserver.watch.cacher import NOT_CACHED

from .conftest import call, drive, store

CONFIGMAPS = store("configmaps", "ConfigMap")
NAMESPACES = store("namespaces", "Namespace", namespaced=False)


def namespace(name, phase="Active", deleting=False):
    meta = {"name": name, **({"deletionTimestamp": "2024-01-01T00:00:00Z"} if deleting else {})}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta, "status": {"phase": phase}}


def configmap(ns):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": ns}}


class Namespaces:
    """The live namespaces and the cache's (which may lag), counting live reads."""

    def __init__(self, live=(), cached=(), cache_ready=True):
        self.live = {n["metadata"]["name"]: n for n in live}
        self.cached = {n["metadata"]["name"]: n for n in cached}
        self.cache_ready = cache_ready
        self.live_reads = []
        self.now = 1000.0

    async def get(self, name):
        self.live_reads.append(name)
        if name not in self.live:
            raise StatusError(404, "NotFound", f'namespaces "{name}" not found')
        return self.live[name]

    def peek(self, name):
        return self.cached.get(name) if self.cache_ready else NOT_CACHED

    def plugin(self):
        return NamespaceLifecycle(self.get, self.peek, lambda: self.now)


def create_in(plugin, ns):
    return drive(call(plugin, "create", CONFIGMAPS, configmap(ns), None))


def test_a_namespace_the_cache_holds_is_not_read_live():
    namespaces = Namespaces(live=[namespace("a")], cached=[namespace("a")])
    create_in(namespaces.plugin(), "a")
    assert namespaces.live_reads == []


def test_a_terminating_namespace_in_the_cache_refuses_creates():
    namespaces = Namespaces(live=[namespace("a")], cached=[namespace("a", "Terminating", deleting=True)])
    with pytest.raises(StatusError) as e:
        create_in(namespaces.plugin(), "a")
    assert e.value.code == 403
    assert e.value.message.endswith("is forbidden: unable to create new content in namespace a because it is "
                                     "being terminated")
    # The cause in upstream's own words, shorter than the message's.
    assert e.value.details["causes"] == [{"reason": "NamespaceTerminating", "message": "namespace a is being "
                                          "terminated", "field": "metadata.namespace"}]
    assert namespaces.live_reads == []


def test_a_namespace_missing_from_the_cache_is_read_live():
    """Just created, the cache not yet told: the live read finds it; absent there too, a 404."""
    namespaces = Namespaces(live=[namespace("new")], cached=[])
    plugin = namespaces.plugin()
    create_in(plugin, "new")
    assert namespaces.live_reads == ["new"]
    with pytest.raises(StatusError) as e:
        create_in(plugin, "none")
    assert e.value.code == 404
    assert namespaces.live_reads == ["new", "none"]


def test_without_a_filled_cache_every_create_reads_live():
    namespaces = Namespaces(live=[namespace("a", "Terminating")], cache_ready=False)
    with pytest.raises(StatusError) as e:
        create_in(namespaces.plugin(), "a")
    assert e.value.code == 403
    assert namespaces.live_reads == ["a"]


def test_after_a_namespace_delete_an_active_cached_namespace_is_read_live_for_a_while():
    namespaces = Namespaces(live=[namespace("a", "Terminating", deleting=True)], cached=[namespace("a")])
    plugin = namespaces.plugin()
    create_in(plugin, "a")      # the cache lags; nothing was deleted here: it is believed
    assert namespaces.live_reads == []
    drive(call(plugin, "delete", NAMESPACES, namespace("a"), None))
    with pytest.raises(StatusError) as e:
        create_in(plugin, "a")
    assert e.value.code == 403
    assert namespaces.live_reads == ["a"]
    # Once the TTL has passed, the cache is believed again.
    namespaces.now += FORCE_LIVE_LOOKUP_TTL
    create_in(plugin, "a")
    assert namespaces.live_reads == ["a"]


def test_after_a_namespace_delete_a_cached_terminating_namespace_needs_no_live_read():
    namespaces = Namespaces(live=[namespace("a", "Terminating")], cached=[namespace("a", "Terminating")])
    plugin = namespaces.plugin()
    drive(call(plugin, "delete", NAMESPACES, namespace("a"), None))
    with pytest.raises(StatusError):
        create_in(plugin, "a")
    assert namespaces.live_reads == []


def test_forced_live_lookups_remember_the_newest_deletes_only():
    names = [f"n{i}" for i in range(FORCE_LIVE_LOOKUP_SIZE + 1)]
    namespaces = Namespaces(live=[namespace(n) for n in names], cached=[namespace(n) for n in names])
    plugin = namespaces.plugin()
    for name in names:
        drive(call(plugin, "delete", NAMESPACES, namespace(name), None))
    create_in(plugin, names[0])     # the oldest was forgotten
    create_in(plugin, names[-1])
    assert namespaces.live_reads == [names[-1]]


def test_immortal_namespaces_cannot_be_deleted():
    namespaces = Namespaces(live=[namespace("default")], cached=[namespace("default")])
    with pytest.raises(StatusError) as e:
        drive(call(namespaces.plugin(), "delete", NAMESPACES, namespace("default"), None))
    assert e.value.code == 403

"""The garbage collector's deletes and virtual-node checks against a fake client, in process: the
resourceVersion precondition of a collecting delete, the re-check of a virtual owner that exists, and which
owners count as named across namespaces."""

from __future__ import annotations

import copy

import pytest
from twisted.internet.defer import ensureDeferred

from kapiserver.client.resources import CONFIG_MAPS, NAMESPACES
from kapiserver.client.rest import APIError
from kapiserver.client.workqueue import RateLimitingQueue
from kapiserver.controllermanager import garbagecollector as gcmod
from kapiserver.controllermanager.gcgraph import Graph


class FakeClient:
    """Objects by (namespace, name); a DELETE checks its uid/resourceVersion preconditions as the apiserver does;
    ``on_delete`` runs before each DELETE (a writer racing the collector)."""

    def __init__(self):
        self.objects = {}
        self.deletes = []
        self.on_delete = None

    async def get(self, resource, name, namespace=None):
        obj = self.objects.get((namespace, name))
        if obj is None:
            raise APIError(404, {"kind": "Status", "reason": "NotFound", "message": "not found"})
        return copy.deepcopy(obj)

    async def delete(self, resource, name, namespace=None, propagation_policy=None, preconditions=None,
                     grace_period_seconds=None):
        if self.on_delete is not None:
            self.on_delete, hook = None, self.on_delete
            hook()
        self.deletes.append((name, propagation_policy, dict(preconditions or {})))
        obj = self.objects.get((namespace, name))
        if obj is None:
            raise APIError(404, {"kind": "Status", "reason": "NotFound", "message": "not found"})
        meta = obj["metadata"]
        for field, key in (("uid", "uid"), ("resourceVersion", "resourceVersion")):
            if (preconditions or {}).get(field) not in (None, meta[key]):
                raise APIError(409, {"kind": "Status", "reason": "Conflict", "message": "precondition"})
        del self.objects[(namespace, name)]
        return obj


def _gc(client):
    gc = gcmod.GarbageCollector.__new__(gcmod.GarbageCollector)
    gc.client = client
    gc.delete_queue = RateLimitingQueue(None, "test")
    gc.graph = Graph(lambda uid: None, lambda uid: None)
    gc.kinds = {("", "v1", "ConfigMap"): CONFIG_MAPS, ("", "v1", "Namespace"): NAMESPACES}
    gc.group_kinds = {}
    gc.events = []

    class Recorder:
        def event(self, obj, type_, reason, message):
            gc.events.append((reason, message))
    gc.recorder = Recorder()
    return gc


def _cm(name, uid, rv, owners=(), namespace="ns"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": name, "namespace": namespace, "uid": uid, "resourceVersion": rv,
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": n, "uid": u} for n, u in owners]}}


def _run(coroutine):
    result = []
    d = ensureDeferred(coroutine)
    d.addBoth(result.append)
    assert result, "the fake client never waits"
    if hasattr(result[0], "raiseException"):
        result[0].raiseException()
    return result[0]


def _observed(gc, obj):
    gc.graph.observe(CONFIG_MAPS, obj)
    return gc.graph.nodes[obj["metadata"]["uid"]]


def test_collecting_delete_names_the_resource_version_read():
    """An object whose owner is gone is deleted with the uid and resourceVersion it was read at."""
    client = FakeClient()
    client.objects[("ns", "d")] = _cm("d", "d-uid", "5", owners=[("gone", "gone-uid")])
    gc = _gc(client)
    node = _observed(gc, client.objects[("ns", "d")])
    _run(gc.attempt_to_delete(node.uid))
    assert client.deletes == [("d", "Background", {"uid": "d-uid", "resourceVersion": "5"})]
    assert ("ns", "d") not in client.objects


def test_owner_added_before_the_delete_keeps_the_object():
    """An owner reference added between the read and the delete (an adoption): the delete conflicts and the
    object is kept and looked at again, not deleted."""
    client = FakeClient()
    client.objects[("ns", "owner")] = _cm("owner", "owner-uid", "3")
    client.objects[("ns", "d")] = _cm("d", "d-uid", "5", owners=[("gone", "gone-uid")])
    gc = _gc(client)
    node = _observed(gc, client.objects[("ns", "d")])

    def adopt():
        client.objects[("ns", "d")] = _cm("d", "d-uid", "6", owners=[("gone", "gone-uid"), ("owner", "owner-uid")])
    client.on_delete = adopt
    with pytest.raises(gcmod.OwnersChanged):
        _run(gc.attempt_to_delete(node.uid))
    assert ("ns", "d") in client.objects


def test_an_unrelated_change_before_the_delete_still_deletes():
    """A change that leaves the ownerReferences alone (a label) between read and delete: deleted at the newer
    resourceVersion."""
    client = FakeClient()
    client.objects[("ns", "d")] = _cm("d", "d-uid", "5", owners=[("gone", "gone-uid")])
    gc = _gc(client)
    node = _observed(gc, client.objects[("ns", "d")])

    def relabel():
        client.objects[("ns", "d")]["metadata"]["resourceVersion"] = "7"
    client.on_delete = relabel
    _run(gc.attempt_to_delete(node.uid))
    assert [d[2]["resourceVersion"] for d in client.deletes] == ["5", "7"]
    assert ("ns", "d") not in client.objects


def test_a_virtual_owner_that_exists_is_looked_at_again_until_observed():
    """A virtual node whose object the API has, but no monitor reported yet, is retried (an error to the
    queue, which backs off) instead of being dropped from the queue for good."""
    client = FakeClient()
    client.objects[("ns", "owner")] = _cm("owner", "owner-uid", "3")
    gc = _gc(client)
    _observed(gc, _cm("d", "d-uid", "5", owners=[("owner", "owner-uid")]))
    assert not gc.graph.nodes["owner-uid"].observed
    with pytest.raises(gcmod.OwnerNotYetObserved):
        _run(gc.attempt_to_delete("owner-uid"))
    _observed(gc, client.objects[("ns", "owner")])
    _run(gc.attempt_to_delete("owner-uid"))     # now observed: an ordinary look, no error


def test_a_cluster_scoped_owner_is_not_reported_as_in_another_namespace():
    """A reference whose uid is an observed cluster-scoped object's but whose kind is namespaced (so the read
    finds nothing): dangling, but no OwnerRefInvalidNamespace event (upstream reports namespaced owners
    only)."""
    client = FakeClient()
    gc = _gc(client)
    gc.graph.observe(NAMESPACES, {"metadata": {"name": "cluster-thing", "uid": "c-uid"}})
    client.objects[("ns", "d")] = _cm("d", "d-uid", "5", owners=[("cluster-thing", "c-uid")])
    node = _observed(gc, client.objects[("ns", "d")])
    _run(gc.attempt_to_delete(node.uid))
    assert gc.events == [] and ("ns", "d") not in client.objects


def test_a_namespaced_owner_elsewhere_is_reported():
    """A reference to an owner observed in another namespace gets upstream's OwnerRefInvalidNamespace Warning."""
    client = FakeClient()
    gc = _gc(client)
    _observed(gc, _cm("owner", "owner-uid", "3", namespace="other"))
    client.objects[("ns", "d")] = _cm("d", "d-uid", "5", owners=[("owner", "owner-uid")])
    node = _observed(gc, client.objects[("ns", "d")])
    _run(gc.attempt_to_delete(node.uid))
    assert gc.events == [("OwnerRefInvalidNamespace", 'ownerRef [v1/ConfigMap, namespace: ns, name: owner, '
                                                      'uid: owner-uid] does not exist in namespace "ns"')]



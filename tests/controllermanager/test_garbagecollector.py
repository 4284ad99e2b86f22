"""garbage-collector-controller against a real apiserver that runs no collector of its own
(--embedded-controllers=): background, foreground and orphan propagation, custom resources, cycles, and
cross-namespace owners."""

from __future__ import annotations

import pytest

from kapiserver.client.resources import CONFIG_MAPS, EVENTS, Resource
from kapiserver.client.rest import APIError
from tests.controllers.conftest import settle
from tests.controllermanager.conftest import WITHOUT_NAMESPACE_AND_GC, eventually, run
from tests.e2e.conftest import APIServerProcess


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory):
    server = APIServerProcess(tmp_path_factory.mktemp("apiserver") / "data", args=(WITHOUT_NAMESPACE_AND_GC,))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def gc(controllers):
    return controllers("garbage-collector-controller").controllers["garbage-collector-controller"]


def make(client, namespace, name, *owners, block=False, finalizers=(), kind="ConfigMap", api_version="v1"):
    refs = [{"apiVersion": api_version, "kind": kind, "name": o["metadata"]["name"], "uid": o["metadata"]["uid"],
             **({"blockOwnerDeletion": True} if block else {})} for o in owners]
    meta = {"name": name, "namespace": namespace}
    if refs:
        meta["ownerReferences"] = refs
    if finalizers:
        meta["finalizers"] = list(finalizers)
    return run(client.create(CONFIG_MAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}))


def get(client, namespace, name, resource=CONFIG_MAPS):
    try:
        return run(client.get(resource, name, namespace))
    except APIError as e:
        assert e.code == 404
        return None


def test_background_deletes_dependents_after_owner(client, namespace, gc):
    """Deleting an owner (background) removes it at once; its dependents and theirs follow."""
    owner = make(client, namespace, "owner")
    child = make(client, namespace, "child", owner)
    make(client, namespace, "grandchild", child)
    eventually(lambda: child["metadata"]["uid"] in gc.graph.nodes)
    cached = gc.monitors[CONFIG_MAPS].indexer.get_by_key(namespace, "child")
    assert cached["kind"] == "PartialObjectMetadata" and "data" not in cached, "the monitors hold metadata only"
    run(client.delete(CONFIG_MAPS, "owner", namespace, propagation_policy="Background"))
    assert get(client, namespace, "owner") is None
    eventually(lambda: get(client, namespace, "child") is None and get(client, namespace, "grandchild") is None)


def test_dependent_of_a_never_seen_owner_is_collected(client, namespace, gc):
    """An object whose owner does not exist (with that uid) is deleted."""
    run(client.create(CONFIG_MAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "orphaned", "namespace": namespace, "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost",
             "uid": "00000000-0000-0000-0000-000000000001"}]}}))
    eventually(lambda: get(client, namespace, "orphaned") is None)


def test_solid_owner_keeps_dependent_and_dangling_reference_goes(client, namespace, gc):
    """With one live owner and one gone, the dependent stays and loses the dangling reference."""
    alive = make(client, namespace, "alive")
    gone = make(client, namespace, "gone")
    make(client, namespace, "shared", alive, gone)
    run(client.delete(CONFIG_MAPS, "gone", namespace))
    shared = eventually(lambda: (lambda cm: cm if len(cm["metadata"].get("ownerReferences", [])) == 1 else None)(
        get(client, namespace, "shared")))
    assert shared["metadata"]["ownerReferences"][0]["uid"] == alive["metadata"]["uid"]


def test_foreground_waits_for_blocking_dependents(client, namespace, gc):
    """Foreground: the owner is marked with foregroundDeletion and goes only after its blocking dependents."""
    owner = make(client, namespace, "fg-owner")
    make(client, namespace, "fg-child", owner, block=True, finalizers=["example.com/hold"])
    marked = run(client.delete(CONFIG_MAPS, "fg-owner", namespace, propagation_policy="Foreground"))
    assert marked["metadata"]["finalizers"] == ["foregroundDeletion"] and marked["metadata"]["deletionTimestamp"]
    # The child is being deleted but held by its own finalizer: the owner must wait.
    eventually(lambda: get(client, namespace, "fg-child")["metadata"].get("deletionTimestamp"))
    settle(0.5)
    assert get(client, namespace, "fg-owner") is not None
    run(client.patch(CONFIG_MAPS, "fg-child", {"metadata": {"finalizers": None}}, namespace))
    eventually(lambda: get(client, namespace, "fg-owner") is None)


def test_foreground_without_dependents_finishes(client, namespace, gc):
    """Foreground deletion of an object with no dependents ends with the object gone."""
    make(client, namespace, "lonely")
    run(client.delete(CONFIG_MAPS, "lonely", namespace, propagation_policy="Foreground"))
    eventually(lambda: get(client, namespace, "lonely") is None)


def test_orphan_keeps_dependents_without_the_reference(client, namespace, gc):
    """Orphan: the owner goes, its dependents stay with their reference to it removed."""
    owner = make(client, namespace, "or-owner")
    other = make(client, namespace, "other-owner")
    make(client, namespace, "or-child", owner, other)
    marked = run(client.delete(CONFIG_MAPS, "or-owner", namespace, propagation_policy="Orphan"))
    assert marked["metadata"]["finalizers"] == ["orphan"]
    eventually(lambda: get(client, namespace, "or-owner") is None)
    refs = get(client, namespace, "or-child")["metadata"]["ownerReferences"]
    assert [r["uid"] for r in refs] == [other["metadata"]["uid"]]
    settle(0.3)
    assert get(client, namespace, "or-child") is not None


def test_foreground_cycle_is_broken(client, namespace, gc):
    """Two objects owning each other with blockOwnerDeletion are both collected by a foreground delete."""
    a = make(client, namespace, "cyc-a")
    b = make(client, namespace, "cyc-b", a, block=True)
    run(client.patch(CONFIG_MAPS, "cyc-a", {"metadata": {"ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "cyc-b", "uid": b["metadata"]["uid"],
         "blockOwnerDeletion": True}]}}, namespace))
    run(client.delete(CONFIG_MAPS, "cyc-a", namespace, propagation_policy="Foreground"))
    eventually(lambda: get(client, namespace, "cyc-a") is None and get(client, namespace, "cyc-b") is None)


def test_owner_of_an_unknown_kind_keeps_the_dependent(client, namespace, gc):
    """An owner reference to a kind nothing serves is never taken as absent: the dependent stays, retried."""
    run(client.create(CONFIG_MAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "unknown-owner", "namespace": namespace, "ownerReferences": [
            {"apiVersion": "nowhere.example.com/v1", "kind": "Thing", "name": "t",
             "uid": "00000000-0000-0000-0000-000000000002"}]}}))
    eventually(lambda: gc.delete_queue.num_requeues("00000000-0000-0000-0000-000000000002") > 0)
    assert get(client, namespace, "unknown-owner") is not None


def test_cross_namespace_owner_is_absent_and_reported(client, namespace, gc):
    """A namespaced owner referenced from another namespace counts as absent: the dependent is deleted and an
    OwnerRefInvalidNamespace warning is recorded on it."""
    from kapiserver.client.resources import NAMESPACES
    other = namespace + "-other"
    run(client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other}}))
    try:
        owner = make(client, other, "elsewhere")
        eventually(lambda: owner["metadata"]["uid"] in gc.graph.nodes)
        dependent = make(client, namespace, "cross", owner)
        eventually(lambda: get(client, namespace, "cross") is None)
        events = eventually(lambda: [e for e in run(client.list(EVENTS, namespace))["items"]
                                     if e["reason"] == "OwnerRefInvalidNamespace"])
        assert events[0]["type"] == "Warning"
        assert events[0]["involvedObject"]["uid"] == dependent["metadata"]["uid"]
        assert events[0]["message"] == (
            f"ownerRef [v1/ConfigMap, namespace: {namespace}, name: elsewhere, uid: {owner['metadata']['uid']}] "
            f'does not exist in namespace "{namespace}"')
        assert get(client, other, "elsewhere") is not None
    finally:
        run(client.delete(NAMESPACES, other))


CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": "widgets.gc.example.com"},
       "spec": {"group": "gc.example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                    "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}
WIDGETS = Resource("gc.example.com", "v1", "widgets", "Widget")
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False)


def test_custom_resource_defined_later_is_watched(client, namespace, gc):
    """A custom resource whose CRD is created after the collector started is watched and collected: a widget
    owned by a ConfigMap goes with it, and a ConfigMap owned by a widget goes with the widget."""
    run(client.create(CRDS, CRD))
    try:
        eventually(lambda: WIDGETS in gc.monitors, timeout=20)
        owner = make(client, namespace, "w-owner")
        run(client.create(WIDGETS, {"apiVersion": "gc.example.com/v1", "kind": "Widget", "metadata": {
            "name": "w", "namespace": namespace, "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "w-owner", "uid": owner["metadata"]["uid"]}]}}))
        run(client.delete(CONFIG_MAPS, "w-owner", namespace))
        eventually(lambda: get(client, namespace, "w", WIDGETS) is None)
        widget = run(client.create(WIDGETS, {"apiVersion": "gc.example.com/v1", "kind": "Widget",
                                             "metadata": {"name": "w2", "namespace": namespace}}))
        make(client, namespace, "w-child", widget, kind="Widget", api_version="gc.example.com/v1")
        run(client.delete(WIDGETS, "w2", namespace))
        eventually(lambda: get(client, namespace, "w-child") is None)
    finally:
        run(client.delete(CRDS, "widgets.gc.example.com"))


# -- the dependency graph alone (gcgraph, sans-IO) -------------------------------------------------------------

def _graph():
    from kapiserver.controllermanager.gcgraph import Graph
    deletes, orphans = [], []
    return Graph(deletes.append, orphans.append), deletes, orphans


def _obj(uid, name, namespace="ns", owners=(), deleting=False, finalizers=()):
    meta = {"uid": uid, "name": name, "namespace": namespace,
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": o, "uid": o,
                                 "blockOwnerDeletion": True} for o in owners]}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    if finalizers:
        meta["finalizers"] = list(finalizers)
    return {"metadata": meta}


def test_graph_links_owners_and_checks_an_owner_never_seen():
    """A dependent naming an unseen owner makes a virtual node, looked at once; seeing the owner makes it real and
    has its dependents looked at again."""
    graph, deletes, _ = _graph()
    graph.observe(CONFIG_MAPS, _obj("d", "dep", owners=["o"]))
    assert deletes == ["o"] and not graph.nodes["o"].observed and graph.nodes["o"].dependents == {"d"}
    graph.observe(CONFIG_MAPS, _obj("o", "o"))
    assert graph.nodes["o"].observed and deletes == ["o", "d"]


def test_graph_removal_hands_dependents_over_and_forgets_virtual_owners_once_unneeded():
    """An owner gone: its dependents are looked at, and it stays as a virtual node until none points at it."""
    graph, deletes, _ = _graph()
    graph.observe(CONFIG_MAPS, _obj("o", "o"))
    graph.observe(CONFIG_MAPS, _obj("d", "dep", owners=["o"]))
    graph.remove("o")
    assert deletes == ["d"] and not graph.nodes["o"].observed
    graph.remove("d")
    assert "o" not in graph.nodes and "d" not in graph.nodes


def test_graph_foreground_and_orphan_finalizers_queue_their_work():
    """An owner being deleted with foregroundDeletion has every dependent and itself looked at; with orphan it goes to
    the orphan queue; a dependent dropping blockOwnerDeletion lets a waiting owner proceed."""
    graph, deletes, orphans = _graph()
    graph.observe(CONFIG_MAPS, _obj("o", "o"))
    graph.observe(CONFIG_MAPS, _obj("a", "a", owners=["o"]))
    graph.observe(CONFIG_MAPS, _obj("b", "b", owners=["o"]))
    graph.observe(CONFIG_MAPS, _obj("o", "o", deleting=True, finalizers=["foregroundDeletion"]))
    assert sorted(deletes) == ["a", "b", "o"]
    assert [n.uid for n in graph.blocking_dependents(graph.nodes["o"])] in (["a", "b"], ["b", "a"])
    deletes.clear()
    unblocked = _obj("a", "a", owners=["o"])
    unblocked["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] = False
    graph.observe(CONFIG_MAPS, unblocked)
    assert deletes == ["o"] and [n.uid for n in graph.blocking_dependents(graph.nodes["o"])] == ["b"]
    graph.observe(CONFIG_MAPS, _obj("p", "p", deleting=True, finalizers=["orphan"]))
    assert orphans == ["p"]


def test_graph_checks_a_dependent_naming_an_owner_seen_in_another_namespace():
    """A namespaced owner known in another namespace: the dependent is looked at (its reference cannot hold)."""
    graph, deletes, _ = _graph()
    graph.observe(CONFIG_MAPS, _obj("o", "o", namespace="elsewhere"))
    graph.observe(CONFIG_MAPS, _obj("d", "dep", namespace="ns", owners=["o"]))
    assert deletes == ["d"]


def test_graph_checks_again_an_owner_gone_when_a_new_dependent_names_it():
    """A dependent first seen after its owner was deleted (a controller's create racing the delete), while the
    owner lives on as a virtual node for its earlier dependents: the owner is looked at again, so the late
    dependent is collected too instead of staying for ever."""
    graph, deletes, _ = _graph()
    graph.observe(CONFIG_MAPS, _obj("o", "o"))
    graph.observe(CONFIG_MAPS, _obj("d", "dep", owners=["o"]))
    graph.remove("o")
    deletes.clear()
    graph.observe(CONFIG_MAPS, _obj("e", "late", owners=["o"]))
    assert deletes == ["o"] and graph.nodes["o"].dependents == {"d", "e"}


def test_a_resync_the_apiserver_refuses_is_told_in_one_line(gc):
    """A resync of the monitors the apiserver refused (shutting down: 503) is a one-line warning, left to the next
    resync; a failure of any other kind keeps its traceback."""
    from twisted.logger import globalLogPublisher
    from twisted.python.failure import Failure

    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        gc._resync_failed(Failure(APIError(503, {"kind": "Status", "reason": "ServiceUnavailable",
                                                 "message": "apiserver is shutting down"})))
        try:
            raise ValueError("boom")
        except ValueError:
            gc._resync_failed(Failure())
    finally:
        globalLogPublisher.removeObserver(events.append)
    told = [e for e in events if "resyncing the monitors failed" in (e.get("log_format") or "")]
    assert [e["log_level"].name for e in told] == ["warn", "critical"]
    assert "log_failure" not in told[0] and "shutting down" in str(told[0]["error"])
    assert told[1]["log_failure"].check(ValueError)

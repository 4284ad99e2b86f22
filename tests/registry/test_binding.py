"""Pod binding through the generic Store: the pod strategy, not the Store, decides that a
binding write skips update validation."""

from __future__ import annotations

import inspect

import pytest

from kapiserver.registry.subresources.binding import bind_pod
from kapiserver.machinery.errors import StatusError
from kapiserver.registry import store as store_module
from kapiserver.registry.catalog import ResourceInfo
from kapiserver.registry.core import PodStrategy
from kapiserver.registry.strategy import Strategy

from tests.controllers.conftest import run


@pytest.fixture
def pods(store_registry):
    return store_registry.store("", "v1", "pods")


def pod(name="web"):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def binding(node, name="web"):
    return {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name}, "target": {"kind": "Node", "name": node}}


def test_binding_sets_the_node_an_ordinary_update_may_not(pods):
    """An update setting spec.nodeName is 422 Invalid; the same change through a binding is written."""
    run(pods.create("default", pod()))

    def set_node(old):
        old["spec"]["nodeName"] = "node-1"
        return old
    with pytest.raises(StatusError) as e:
        run(pods.update("default", "web", set_node))
    assert e.value.code == 422 and e.value.reason == "Invalid"
    bound = run(bind_pod(pods, "default", "web", binding("node-1")))
    assert bound["spec"]["nodeName"] == "node-1"
    assert run(pods.get("default", "web"))["spec"]["nodeName"] == "node-1"


def test_second_binding_is_a_conflict(pods):
    """A pod already bound to a node cannot be bound again (409)."""
    run(pods.create("default", pod()))
    run(bind_pod(pods, "default", "web", binding("node-1")))
    with pytest.raises(StatusError) as e:
        run(bind_pod(pods, "default", "web", binding("node-2")))
    assert e.value.code == 409 and 'already assigned to node "node-1"' in e.value.message


def test_pod_strategy_skips_validation_for_binding_only():
    """PodStrategy answers no errors for a binding write; a /status write is judged by the status rules (the
    node may not be changed there)."""
    strategy = PodStrategy(ResourceInfo("", "v1", "pods", "Pod", True))
    old = pod()
    old["metadata"]["resourceVersion"] = "1"
    new = pod()
    new["metadata"]["resourceVersion"] = "1"
    new["spec"]["nodeName"] = "node-1"
    assert strategy.validate_subresource_update("binding", new, old) == []
    assert [str(e) for e in strategy.validate_subresource_update("status", new, old)] == [
        "status.nodeName: Forbidden: may not be changed directly"]


def test_default_strategy_validates_subresource_writes_as_updates(monkeypatch):
    """The default hook is the object's update validation, whatever the subresource."""
    strategy = Strategy(ResourceInfo("", "v1", "configmaps", "ConfigMap", True))
    monkeypatch.setattr(strategy, "validate_update", lambda new, old: ["checked"])
    assert strategy.validate_subresource_update("binding", {}, {}) == ["checked"]
    assert strategy.validate_subresource_update("status", {}, {}) == ["checked"]


def test_generic_store_names_no_subresource_of_one_resource():
    """The generic Store's code has no branch for the pods' binding subresource."""
    assert "binding" not in inspect.getsource(store_module)


def test_binding_records_the_pod_scheduled_condition(pods):
    """A bound pod's status carries PodScheduled=True, as upstream's binding writes it."""
    run(pods.create("default", pod()))
    run(bind_pod(pods, "default", "web", binding("node-1")))
    conditions = run(pods.get("default", "web"))["status"]["conditions"]
    assert [(c["type"], c["status"]) for c in conditions] == [("PodScheduled", "True")]
    assert conditions[0]["lastTransitionTime"].endswith("Z")


def test_bindings_resource_without_a_name(pods):
    """The bindings resource takes the pod's name from the Binding: none is a 400 from the pods' key function
    (NamespaceKeyFunc), after the Binding is validated."""
    run(pods.create("default", pod()))
    unnamed = {"apiVersion": "v1", "kind": "Binding", "metadata": {}, "target": {"kind": "Node", "name": "n1"}}
    with pytest.raises(StatusError) as e:
        run(bind_pod(pods, "default", "", unnamed))
    assert (e.value.code, e.value.reason, e.value.message) == (400, "BadRequest", "Name parameter required.")
    unnamed["target"] = {}
    with pytest.raises(StatusError) as e:
        run(bind_pod(pods, "default", "", unnamed))
    assert (e.value.code, e.value.message) == (500, "target.name: Required value")

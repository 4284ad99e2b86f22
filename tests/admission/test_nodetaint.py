"""TaintNodesByCondition: new nodes start tainted not-ready:NoSchedule."""

from __future__ import annotations

from kapiserver.admission.nodetaint import TaintNodesByCondition

from .conftest import call, drive, store

NODES = store("nodes", "Node", namespaced=False)


def test_new_node_gets_the_not_ready_taint():
    """The taint is added after the node's own taints."""
    node = {"metadata": {"name": "n"}, "spec": {"taints": [{"key": "a", "value": "b", "effect": "NoExecute"}]}}
    drive(call(TaintNodesByCondition(), "create", NODES, node, None))
    assert node["spec"]["taints"] == [{"key": "a", "value": "b", "effect": "NoExecute"},
                                      {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]


def test_a_node_already_tainted_is_unchanged():
    """A not-ready NoSchedule taint (any value) already there is not added twice."""
    taint = {"key": "node.kubernetes.io/not-ready", "value": "x", "effect": "NoSchedule"}
    node = {"metadata": {"name": "n"}, "spec": {"taints": [taint]}}
    drive(call(TaintNodesByCondition(), "create", NODES, node, None))
    assert node["spec"]["taints"] == [taint]


def test_updates_are_untouched():
    """Only creates are tainted: a node whose taint was removed stays untainted."""
    node = {"metadata": {"name": "n"}, "spec": {}}
    drive(call(TaintNodesByCondition(), "update", NODES, node, node))
    assert node["spec"] == {}

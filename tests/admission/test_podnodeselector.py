"""PodNodeSelector: the namespace's node selector merged into new pods, conflicts and whitelists refused."""

from __future__ import annotations

import pytest

from kapiserver.admission.podnodeselector import ANNOTATION, PodNodeSelector, parse_configuration
from kapiserver.machinery.errors import StatusError

from .conftest import FakeRegistry, call, drive, store

PODS = store("pods", "Pod")


def namespace(name, selector=None) -> dict:
    annotations = {ANNOTATION: selector} if selector is not None else {}
    return {"metadata": {"name": name, "annotations": annotations}}


def pod(namespace_name, node_selector=None) -> dict:
    spec = {"containers": [{"name": "c", "image": "i"}]}
    if node_selector is not None:
        spec["nodeSelector"] = node_selector
    return {"metadata": {"name": "p", "namespace": namespace_name}, "spec": spec}


def plugin(config=None) -> PodNodeSelector:
    registry = FakeRegistry(namespaces=[namespace("annotated", "env=prod, tier=web"), namespace("plain"),
                                        namespace("empty", "")])
    return PodNodeSelector(registry, parse_configuration({"podNodeSelectorPluginConfig": config or {}}))


def test_namespace_annotation_is_merged_into_the_pod():
    """The annotation's labels join the pod's own nodeSelector."""
    obj = pod("annotated", {"disk": "ssd"})
    drive(call(plugin(), "create", PODS, obj, None))
    assert obj["spec"]["nodeSelector"] == {"env": "prod", "tier": "web", "disk": "ssd"}


def test_cluster_default_applies_without_an_annotation():
    """A namespace without the annotation gets clusterDefaultNodeSelector; an empty annotation opts out."""
    obj = pod("plain")
    drive(call(plugin({"clusterDefaultNodeSelector": "region=eu"}), "create", PODS, obj, None))
    assert obj["spec"]["nodeSelector"] == {"region": "eu"}
    obj = pod("empty")
    drive(call(plugin({"clusterDefaultNodeSelector": "region=eu"}), "create", PODS, obj, None))
    assert "nodeSelector" not in obj["spec"]


def test_conflict_with_the_namespace_is_forbidden():
    """A pod naming another value for one of the namespace's keys gets upstream's 403."""
    with pytest.raises(StatusError) as info:
        drive(call(plugin(), "create", PODS, pod("annotated", {"env": "dev"}), None))
    e = info.value
    assert (e.code, e.reason) == (403, "Forbidden")
    assert e.message == 'pods "p" is forbidden: pod node label selector conflicts with its namespace node label ' \
                        'selector'
    assert e.details == {"name": "p", "kind": "pods"}


def test_whitelist_limits_the_merged_selector():
    """A namespace whitelist refuses a pod whose selector names labels outside it."""
    config = {"plain": "env=prod"}
    drive(call(plugin(config), "create", PODS, pod("plain", {"env": "prod"}), None))
    with pytest.raises(StatusError) as info:
        drive(call(plugin(config), "create", PODS, pod("plain", {"disk": "ssd"}), None))
    assert info.value.message.endswith("pod node label selector labels conflict with its namespace whitelist")


def test_only_pod_creates_are_touched():
    """Updates and other resources pass unchanged."""
    obj = pod("annotated")
    drive(call(plugin(), "update", PODS, obj, obj))
    drive(call(plugin(), "create", store("configmaps", "ConfigMap"), {"metadata": {"namespace": "annotated"}}, None))
    assert "nodeSelector" not in obj["spec"]


def test_malformed_selector_is_an_error():
    """A selector that is not k=v pairs fails the request with upstream's plain error."""
    with pytest.raises(StatusError) as info:
        drive(call(plugin({"clusterDefaultNodeSelector": "a=b=c"}), "create", PODS, pod("plain"), None))
    assert (info.value.code, info.value.message) == (500, "invalid selector: [a b c]")


def test_a_malformed_selector_is_worded_as_labels_convert_selector_to_labels_map():
    """Upstream validates the key on a nil field path (printed "<nil>") and the value on that path's key."""
    from kapiserver.admission.podnodeselector import SelectorError, selector_to_labels
    with pytest.raises(SelectorError) as key:
        selector_to_labels("bad key=x")
    assert str(key.value).startswith('<nil>: Invalid value: "bad key": name part must consist of')
    with pytest.raises(SelectorError) as value:
        selector_to_labels("env=bad value")
    assert str(value.value).startswith('[env]: Invalid value: "bad value": a valid label must be')
    assert selector_to_labels("a=b, c = d") == {"a": "b", "c": "d"}

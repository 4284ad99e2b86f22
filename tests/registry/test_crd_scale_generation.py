"""A custom resource's metadata.generation when its replicas are written through /scale: upstream's custom
resource ScaleREST writes through the resource's own store, whose strategy (PrepareForUpdate) bumps the
generation when anything but metadata and status changed, so a new spec replicas is a new generation."""

from __future__ import annotations

import pytest

from kapiserver.registry.options import WriteOptions
from kapiserver.registry.subresources import rest_for

from tests.controllers.conftest import run
from tests.registry.test_crd_scale import patch_replicas, scale_rest, widget, widgets  # noqa: F401


def test_a_scale_write_bumps_the_generation(widgets):  # noqa: F811
    run(widgets.create("default", widget(spec={"replicas": 3})))
    assert run(widgets.get("default", "w1"))["metadata"]["generation"] == 1
    run(scale_rest(widgets).update("default", "w1", patch_replicas(5), WriteOptions()))
    stored = run(widgets.get("default", "w1"))
    assert (stored["spec"], stored["metadata"]["generation"]) == ({"replicas": 5}, 2)
    run(scale_rest(widgets).update("default", "w1", patch_replicas(6), WriteOptions()))
    assert run(widgets.get("default", "w1"))["metadata"]["generation"] == 3


def test_a_scale_write_that_changes_nothing_keeps_the_generation(widgets):  # noqa: F811
    run(widgets.create("default", widget(spec={"replicas": 3})))
    run(scale_rest(widgets).update("default", "w1", patch_replicas(3), WriteOptions()))
    assert run(widgets.get("default", "w1"))["metadata"]["generation"] == 1


POD_TEMPLATE = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}


@pytest.mark.parametrize("resource,kind,extra", [
    ("deployments", "Deployment", {}),
    ("replicasets", "ReplicaSet", {}),
    ("statefulsets", "StatefulSet", {"serviceName": "s"}),
])
def test_a_workloads_scale_write_bumps_its_generation(store_registry, resource, kind, extra):
    """As upstream's workload ScaleREST: the replicas are the spec's, so the workload's strategy bumps it."""
    store = store_registry.store("apps", "v1", resource)
    run(store.create("default", {
        "apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "a1", "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "a"}}, "template": POD_TEMPLATE, **extra}}))
    run(rest_for(store, "scale").update("default", "a1", patch_replicas(4), WriteOptions()))
    stored = run(store.get("default", "a1"))
    assert (stored["spec"]["replicas"], stored["metadata"]["generation"]) == (4, 2)

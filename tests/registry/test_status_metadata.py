"""What a write through /status may change in the metadata, as upstream's status strategies reset it: a
StatefulSet's resets only the spec (its ownerReferences are written), a pod's keeps the old
ownerReferences."""

from __future__ import annotations

import pytest

from tests.controllers.conftest import run

OWNER = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "6b1f2c1e-0000-4000-8000-000000000001"}
TEMPLATE = {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


@pytest.fixture
def statefulsets(store_registry):
    store = store_registry.store("apps", "v1", "statefulsets")
    run(store.create("default", {"apiVersion": "apps/v1", "kind": "StatefulSet",
                                 "metadata": {"name": "db", "namespace": "default"},
                                 "spec": {"selector": {"matchLabels": {"app": "db"}}, "serviceName": "db",
                                          "template": TEMPLATE}}))
    return store


@pytest.fixture
def pods(store_registry):
    store = store_registry.store("", "v1", "pods")
    run(store.create("default", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db", "namespace": "default"},
                                 "spec": TEMPLATE["spec"]}))
    return store


def status_write_with_owner(store):
    def update(old):
        old["metadata"]["ownerReferences"] = [OWNER]
        old["metadata"]["labels"] = {"written": "by-status"}
        return old
    return run(store.update("default", "db", update, subresource="status"))[0]


def test_statefulset_status_writes_the_owner_references(statefulsets):
    """statefulSetStatusStrategy.PrepareForUpdate resets the spec alone."""
    written = status_write_with_owner(statefulsets)
    assert written["metadata"]["ownerReferences"] == [OWNER]
    assert written["metadata"]["labels"] == {"written": "by-status"}
    assert run(statefulsets.get("default", "db"))["metadata"]["ownerReferences"] == [OWNER]


def test_pod_status_keeps_the_old_owner_references(pods):
    """podStatusStrategy keeps the old ownerReferences (old kubelets corrupted them), takes the labels."""
    written = status_write_with_owner(pods)
    assert "ownerReferences" not in written["metadata"]
    assert written["metadata"]["labels"] == {"written": "by-status"}

"""managedFields through /scale, as upstream's ScaleHandler moves them between a resource and its Scale: an
apply to the Scale meets the resource's owners of the replicas, and what the Scale's managers own comes back
to the resource as entries with the subresource "scale"."""

from __future__ import annotations

import pytest

from inprocess import served
from kapiserver.machinery import fieldmanager as fm
from kapiserver.machinery import schema
from kapiserver.machinery.errors import StatusError
from kapiserver.machinery.scalefields import ScaleFields

APPLY = "application/apply-patch+yaml"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "d"}},
                       "template": {"metadata": {"labels": {"app": "d"}},
                                    "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
SCALE = {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "d"}, "spec": {"replicas": 5}}


@pytest.fixture
def call():
    call = served()
    assert call("PATCH", DEPLOYMENTS + "/d?fieldManager=m1", DEPLOYMENT, APPLY).code == 201
    return call


def _entries(call):
    return {(e["manager"], e["operation"]): e
            for e in call("GET", DEPLOYMENTS + "/d").body["metadata"]["managedFields"]}


def test_apply_to_the_scale_conflicts_with_the_resources_owner_of_the_replicas(call):
    """The Scale is handed the resource's appliers of .spec.replicas: an apply of other replicas is their 409."""
    answer = call("PATCH", DEPLOYMENTS + "/d/scale?fieldManager=sc", SCALE, APPLY)
    assert answer.code == 409
    assert answer.body["message"] == 'Apply failed with 1 conflict: conflict with "m1": .spec.replicas'
    assert answer.body["details"]["causes"] == [
        {"type": "FieldManagerConflict", "message": 'conflict with "m1"', "field": ".spec.replicas"}]


def test_forced_apply_to_the_scale_takes_the_replicas_for_the_subresource(call):
    """Forced, the Scale's applier owns the resource's replicas at its version, with the subresource "scale" and
    no time (upstream gives such entries the resource's time for them: none)."""
    assert call("PATCH", DEPLOYMENTS + "/d/scale?fieldManager=sc&force=true", SCALE, APPLY).code == 200
    entries = _entries(call)
    assert entries[("sc", "Apply")] == {"manager": "sc", "operation": "Apply", "apiVersion": "apps/v1",
                                        "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}},
                                        "subresource": "scale"}
    assert "f:replicas" not in entries[("m1", "Apply")]["fieldsV1"]["f:spec"]


def test_an_update_of_the_scale_is_recorded_for_the_subresource_and_conflicts_with_the_applier(call):
    """A merge patch of the Scale makes its manager the owner of the replicas (subresource "scale"); the
    resource's applier applying other replicas then conflicts with it."""
    assert call("PATCH", DEPLOYMENTS + "/d/scale?fieldManager=hpa", {"spec": {"replicas": 4}},
                "application/merge-patch+json").code == 200
    assert _entries(call)[("hpa", "Update")] == {
        "manager": "hpa", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:replicas": {}}}, "subresource": "scale"}
    answer = call("PATCH", DEPLOYMENTS + "/d?fieldManager=m1", DEPLOYMENT, APPLY)
    assert answer.code == 409
    assert answer.body["message"] == ('Apply failed with 1 conflict: conflict with "hpa" with subresource "scale" '
                                      'using apps/v1: .spec.replicas')


def _entry(manager, operation, api_version, fields, subresource=""):
    out = {"manager": manager, "operation": operation, "apiVersion": api_version, "fieldsType": "FieldsV1",
           "fieldsV1": fields}
    if subresource:
        out["subresource"] = subresource
    return out


def test_scale_entries_go_back_to_the_resource_as_upstreams_scale_handler_gives_them():
    """Upstream's "different-managers: update -> update": the resource's updater loses the replicas to the
    Scale's, whose entry is written at the resource's version."""
    parent = {"metadata": {"managedFields": [
        _entry("test", "Update", "apps/v1", {"f:spec": {"f:replicas": {}, "f:selector": {}}})]}}
    fields = ScaleFields(parent, "apps/v1", ("f:spec", "f:replicas"))
    assert fields.to_subresource() == [_entry("test", "Update", "autoscaling/v1", {"f:spec": {"f:replicas": {}}})]
    scale = {"metadata": {"managedFields": [
        _entry("scale", "Update", "autoscaling/v1", {"f:spec": {"f:replicas": {}}}, "scale")]}}
    assert fields.to_parent(scale) == [
        _entry("scale", "Update", "apps/v1", {"f:spec": {"f:replicas": {}}}, "scale"),
        _entry("test", "Update", "apps/v1", {"f:spec": {"f:selector": {}}})]


def test_before_first_apply_through_status_names_the_subresource():
    """The stand-in owner of an untracked object's fields, met by an apply through /status, is recorded with the
    subresource "status" (upstream builds it by the status field manager)."""
    node = schema.node_for("apps", "v1", "Deployment")
    live = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 1},
            "status": {"replicas": 1}}
    config = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "status": {"replicas": 3}}
    with pytest.raises(StatusError) as caught:
        fm.apply(live, config, "st", "apps/v1", 0, (node, None), subresource="status",
                 seed=fm.zero_object("apps", "Deployment"), reset_fields=(("spec",),))
    assert caught.value.message == ('Apply failed with 1 conflict: conflict with "before-first-apply" with '
                                    'subresource "status" using apps/v1: .status.replicas')


def test_a_scale_update_without_a_field_manager_is_recorded_for_the_apiserver():
    """An in-process writer that names no manager (no User-Agent to take one from): its replicas are recorded
    for "kube-apiserver", as the Store records any update without one, not under an empty name."""
    from twisted.internet import task

    from kapiserver.registry.options import WriteOptions
    from kapiserver.registry.registry import Registry
    from kapiserver.registry.subresources import rest_for
    from kapiserver.storage.memory import MemoryStorage
    from tests.controllers.conftest import run
    clock = task.Clock()
    registry = Registry(MemoryStorage(clock), clock)
    deployments = registry.store("apps", "v1", "deployments")
    run(registry.store("", "v1", "namespaces").create(None, {"metadata": {"name": "default"}}, WriteOptions()))
    run(deployments.create("default", {**DEPLOYMENT, "metadata": {"name": "d", "namespace": "default"}},
                           WriteOptions(field_manager="m1")))
    run(rest_for(deployments, "scale").update("default", "d", lambda scale: {**scale, "spec": {"replicas": 4}},
                                              WriteOptions()))
    managers = [e["manager"] for e in run(deployments.get("default", "d"))["metadata"]["managedFields"]]
    assert "kube-apiserver" in managers and "" not in managers

"""The scale subresource of built-in workloads as upstream's ScaleREST writes it: the Scale taken as the
handlers take it (decoded, its namespace and name the request's), validated (ValidateScale), its uid a
precondition."""

from __future__ import annotations

import pytest

from kapiserver.machinery.errors import StatusError
from kapiserver.registry.options import WriteOptions
from kapiserver.registry.subresources import rest_for

from tests.controllers.conftest import run


@pytest.fixture
def deployments(store_registry):
    store = store_registry.store("apps", "v1", "deployments")
    run(store.create("default", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d1", "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}},
                 "template": {"metadata": {"labels": {"app": "d"}},
                              "spec": {"containers": [{"name": "c", "image": "i"}]}}}}))
    return store


def put(deployments, scale: dict):
    body = {"apiVersion": "autoscaling/v1", "kind": "Scale", **scale}
    return rest_for(deployments, "scale").update("default", "d1", lambda current: body, WriteOptions())


def refused(coroutine) -> StatusError:
    with pytest.raises(StatusError) as error:
        run(coroutine)
    return error.value


def test_the_scale_is_named_as_the_url(deployments):
    """checkName's 400s: another name, or none; another namespace is the namespace check's 400."""
    error = refused(put(deployments, {"metadata": {"name": "zz"}, "spec": {"replicas": 2}}))
    assert (error.code, error.reason, error.message) == (
        400, "BadRequest", "the name of the object (zz) does not match the name on the URL (d1)")
    error = refused(put(deployments, {"metadata": {}, "spec": {"replicas": 2}}))
    assert error.message == "the name of the object (d1 based on URL) was undeterminable: name must be provided"
    error = refused(put(deployments, {"metadata": {"name": "d1", "namespace": "other"}, "spec": {"replicas": 2}}))
    assert error.message == "the namespace of the provided object does not match the namespace sent on the request"
    assert run(put(deployments, {"metadata": {"name": "d1"}, "spec": {"replicas": 2}}))["spec"] == {"replicas": 2}


def test_replicas_of_another_json_type_are_the_decoders_400(deployments):
    """A string count is not the validation's 422: the Scale cannot be decoded."""
    error = refused(put(deployments, {"metadata": {"name": "d1"}, "spec": {"replicas": "3"}}))
    assert (error.code, error.reason, error.message) == (
        400, "BadRequest", 'Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal string into '
                           "Go struct field ScaleSpec.spec.replicas of type int32")


def test_the_scale_is_validated_then_its_uid_compared(deployments):
    """ValidateScale (the metadata as a namespaced object's, the replicas not negative) is 422 Scale.autoscaling;
    a uid not the deployment's is the 409 of deployments/scale, in upstream's words."""
    error = refused(put(deployments, {"metadata": {"name": "d1", "uid": "bogus", "labels": {"a b": "c"}},
                                      "spec": {"replicas": -1}}))
    assert (error.code, error.reason) == (422, "Invalid")
    assert [(c["field"], c["message"][:18]) for c in error.details["causes"]] == [
        ("metadata.labels", 'Invalid value: "a '), ("spec.replicas", "Invalid value: -1:")]
    uid = run(deployments.get("default", "d1"))["metadata"]["uid"]
    error = refused(put(deployments, {"metadata": {"name": "d1", "uid": "bogus"}, "spec": {"replicas": 2}}))
    assert (error.code, error.reason) == (409, "Conflict")
    assert error.message == ('Operation cannot be fulfilled on deployments/scale.apps "d1": Precondition failed: '
                             f"UID in precondition: bogus, UID in object meta: {uid}")
    assert error.details == {"name": "d1", "group": "apps", "kind": "deployments/scale"}
    scale = run(put(deployments, {"metadata": {"name": "d1", "uid": uid}, "spec": {"replicas": 3}}))
    assert scale["spec"] == {"replicas": 3} and scale["status"] == {"replicas": 0, "selector": "app=d"}

"""A custom resource's scale subresource as upstream's apiextensions serves it: its replicas and selector paths
validated on every write (ValidateScaleSpec, ValidateScaleStatus), and its ScaleREST read and written through
the resource."""

from __future__ import annotations

import pytest
from twisted.internet import reactor

from kapiserver.controllers.crd import CRDController
from kapiserver.machinery.errors import StatusError
from kapiserver.registry.options import WriteOptions
from kapiserver.registry.subresources import rest_for

from tests.controllers.conftest import run

SCALE = {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
         "labelSelectorPath": ".status.selector"}
CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": "widgets.ex.com"},
       "spec": {"group": "ex.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                "versions": [{"name": "v1", "served": True, "storage": True,
                              "subresources": {"status": {}, "scale": SCALE},
                              "schema": {"openAPIV3Schema": {"type": "object",
                                                             "x-kubernetes-preserve-unknown-fields": True}}}]}}


@pytest.fixture
def widgets(store_registry):
    CRDController(store_registry, reactor)       # serves what the CRD defines once it is written
    run(store_registry.store("apiextensions.k8s.io", "v1", "customresourcedefinitions").create(None, CRD))
    return store_registry.store("ex.com", "v1", "widgets")


def widget(name: str = "w1", **fields) -> dict:
    return {"apiVersion": "ex.com/v1", "kind": "Widget", "metadata": {"name": name, "namespace": "default"},
            **fields}


def refused(coroutine) -> StatusError:
    with pytest.raises(StatusError) as error:
        run(coroutine)
    return error.value


def write_status(widgets, status: dict):
    def change(current):
        return dict(current, status=status)
    return rest_for(widgets, "status").update("default", "w1", change, WriteOptions())


def test_spec_replicas_are_validated_on_create_and_update(widgets):
    """A negative spec replicas is 422, Widget.ex.com the kind and the CRD's path (its leading period too) the
    field; above MaxInt32, or not an integer, as upstream's ValidateScaleSpec words it."""
    error = refused(widgets.create("default", widget(spec={"replicas": -3})))
    assert (error.code, error.reason) == (422, "Invalid")
    assert error.message == 'Widget.ex.com "w1" is invalid: .spec.replicas: Invalid value: -3: should be a ' \
                            'non-negative integer'
    assert error.details == {"name": "w1", "group": "ex.com", "kind": "Widget", "causes": [
        {"reason": "FieldValueInvalid", "message": "Invalid value: -3: should be a non-negative integer",
         "field": ".spec.replicas"}]}
    error = refused(widgets.create("default", widget(spec={"replicas": 1 << 31})))
    assert error.message == 'Widget.ex.com "w1" is invalid: .spec.replicas: Invalid value: 2147483648: should ' \
                            'be less than or equal to 2147483647'
    created = run(widgets.create("default", widget(spec={"replicas": 1})))

    def update(replicas):
        def change(current):
            current["spec"]["replicas"] = replicas
            return current
        return widgets.update("default", "w1", change)
    assert refused(update("many")).details["causes"] == [
        {"reason": "FieldValueInvalid", "field": ".spec.replicas", "message":
         "Invalid value: 0: .spec.replicas accessor error: many is of the type string, expected int64"}]
    assert refused(update(2.5)).details["causes"][0]["message"] == \
        "Invalid value: 0: .spec.replicas accessor error: 2.5 is of the type float64, expected int64"
    assert run(update(0))[0]["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]


def test_status_replicas_and_selector_are_validated_on_status_writes(widgets):
    """Through /status: status replicas as the spec's, and a selector that is not a string is 422 with the
    accessor's words (Go's %v and %T of the value, the zero string as the value shown)."""
    run(widgets.create("default", widget(spec={"replicas": 1})))
    error = refused(write_status(widgets, {"replicas": -3}))
    assert error.message == 'Widget.ex.com "w1" is invalid: .status.replicas: Invalid value: -3: should be a ' \
                            'non-negative integer'
    error = refused(write_status(widgets, {"replicas": 1, "selector": 5}))
    assert error.details["causes"] == [
        {"reason": "FieldValueInvalid", "field": ".status.selector",
         "message": 'Invalid value: "": .status.selector accessor error: 5 is of the type int64, expected string'}]
    error = refused(write_status(widgets, {"replicas": "many", "selector": {"a": "b"}}))
    assert [cause["message"] for cause in error.details["causes"]] == [
        "Invalid value: 0: .status.replicas accessor error: many is of the type string, expected int64",
        'Invalid value: "": .status.selector accessor error: map[a:b] is of the type map[string]interface {}, '
        "expected string"]
    written = run(write_status(widgets, {"replicas": 2, "selector": "app=w"}))
    assert written["status"] == {"replicas": 2, "selector": "app=w"}


def test_a_value_on_the_way_to_a_path_must_be_an_object(widgets):
    """NestedFieldNoCopy's error: the path up to the value that is not an object, that value's type named."""
    error = refused(widgets.create("default", widget(spec=[1, 2])))
    assert error.details["causes"] == [
        {"reason": "FieldValueInvalid", "field": ".spec.replicas", "message":
         "Invalid value: 0: .spec.replicas accessor error: [1 2] is of the type []interface {}, expected "
         "map[string]interface{}"}]
    run(widgets.create("default", widget(spec={}, status={"selector": None})))


def test_a_status_write_does_not_judge_the_spec_replicas(widgets):
    """Upstream's status strategy runs ValidateScaleStatus alone: spec replicas stored out of range (before
    the check) do not keep the status from being written; an update of the resource judges both."""
    old = run(widgets.create("default", widget(spec={"replicas": 1})))
    new = dict(old, spec={"replicas": -1}, status={"replicas": -2})
    causes = [str(e) for e in widgets.strategy.validate_subresource_update("status", new, old)]
    assert causes == [".status.replicas: Invalid value: -2: should be a non-negative integer"]
    causes = [str(e) for e in widgets.strategy.validate_update(new, old)]
    assert causes == [".spec.replicas: Invalid value: -1: should be a non-negative integer",
                      ".status.replicas: Invalid value: -2: should be a non-negative integer"]


def scale_rest(widgets):
    return rest_for(widgets, "scale")


def patch_replicas(replicas):
    def change(scale):
        return dict(scale, spec={"replicas": replicas})
    return change


def test_a_scale_write_is_judged_as_the_custom_resource_it_makes(widgets):
    """Upstream's custom resource ScaleREST validates no Scale: the resource its replicas go into is, so a
    negative count is the Widget's 422 at the CRD's path, not a Scale.autoscaling one."""
    run(widgets.create("default", widget(spec={"replicas": 1})))
    error = refused(scale_rest(widgets).update("default", "w1", patch_replicas(-3), WriteOptions()))
    assert (error.code, error.reason) == (422, "Invalid")
    assert error.message == 'Widget.ex.com "w1" is invalid: .spec.replicas: Invalid value: -3: should be a ' \
                            'non-negative integer'
    assert error.details["kind"] == "Widget" and error.details["causes"][0]["field"] == ".spec.replicas"
    scale = run(scale_rest(widgets).update("default", "w1", patch_replicas(4), WriteOptions()))
    assert (scale["kind"], scale["spec"], scale["status"]) == ("Scale", {"replicas": 4}, {"replicas": 0})


def test_a_resource_without_spec_replicas(widgets):
    """Its /scale is upstream's 500 InternalError; a change that sets no replicas is a 400 (it is handed
    int32's smallest, as upstream's patch is), one that sets them writes them."""
    run(widgets.create("default", widget(spec={})))
    run(write_status(widgets, {"replicas": 2, "selector": "app=w"}))
    error = refused(scale_rest(widgets).get("default", "w1"))
    assert (error.code, error.reason, error.message) == (
        500, "InternalError", 'Internal error occurred: the spec replicas field ".spec.replicas" does not exist')
    assert error.details == {"causes": [{"message": 'the spec replicas field ".spec.replicas" does not exist'}]}
    handed = []

    def label(scale):
        handed.append(scale["spec"])
        return dict(scale, metadata=dict(scale["metadata"], labels={"a": "b"}))
    error = refused(scale_rest(widgets).update("default", "w1", label, WriteOptions()))
    assert (error.code, error.reason, error.message) == (
        400, "BadRequest", 'the spec replicas field ".spec.replicas" cannot be empty')
    assert handed == [{"replicas": -2147483648}]
    scale = run(scale_rest(widgets).update("default", "w1", patch_replicas(0), WriteOptions()))
    assert scale["spec"] == {} and scale["status"] == {"replicas": 2, "selector": "app=w"}
    assert run(widgets.get("default", "w1"))["spec"] == {"replicas": 0}
    assert run(scale_rest(widgets).get("default", "w1"))["spec"] == {}


def test_a_scale_handed_over_is_decoded_and_named_as_the_url(widgets):
    """As upstream's handlers take a Scale before its REST sees it: a replicas count of another JSON type or
    past int32 is the decoder's 400, another name checkName's 400."""
    run(widgets.create("default", widget(spec={"replicas": 1})))
    error = refused(scale_rest(widgets).update("default", "w1", patch_replicas("3"), WriteOptions()))
    assert (error.code, error.message) == (400, 'Scale in version "v1" cannot be handled as a Scale: json: cannot '
                                                "unmarshal string into Go struct field ScaleSpec.spec.replicas of "
                                                "type int32")
    error = refused(scale_rest(widgets).update("default", "w1", lambda scale: dict(
        scale, metadata={"name": "zz"}), WriteOptions()))
    assert (error.code, error.message) == (400, "the name of the object (zz) does not match the name on the URL "
                                                "(w1)")

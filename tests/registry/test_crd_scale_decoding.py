"""A patch or update of a custom resource's /scale is decoded as upstream decodes it: as an autoscaling/v1 Scale (a
built-in type), its unknown fields those a Scale lacks, not what the custom resource's schema would prune."""

from __future__ import annotations

import pytest

from kapiserver.controllers.crd import CRDController
from tests.endpoints.inprocess import served

WIDGETS = "/apis/ex.com/v1/namespaces/default/widgets"
# A schema that declares no spec.replicas and no status: the Scale's fields are not the Widget's.
CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": "widgets.ex.com"},
       "spec": {"group": "ex.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                "versions": [{"name": "v1", "served": True, "storage": True,
                              "subresources": {"scale": {"specReplicasPath": ".spec.size",
                                                         "statusReplicasPath": ".status.size"}},
                              "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                  "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                                  "status": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]}}


@pytest.fixture
def call():
    call = served(lambda registry, clock: CRDController(registry, clock))
    assert call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD).code == 201
    widget = {"apiVersion": "ex.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}}
    assert call("POST", WIDGETS, widget).code == 201
    return call


def patch(call, body, validation=""):
    query = f"?fieldValidation={validation}" if validation else ""
    return call("PATCH", f"{WIDGETS}/w1/scale{query}", body, "application/merge-patch+json")


def test_a_scale_patch_warns_of_no_field_a_scale_has(call):
    """kubectl scale's merge patch: no warning (the probe's 'unknown field "spec.replicas"' and '"status"' were the
    Widget schema's), and the replicas written."""
    answer = patch(call, {"spec": {"replicas": 5}})
    assert (answer.code, answer.warnings, answer.body["spec"]) == (200, [], {"replicas": 5})
    assert call("GET", f"{WIDGETS}/w1").body["spec"] == {"size": 5}


def test_a_scale_patchs_unknown_fields_are_a_scales(call):
    """A field a Scale lacks is warned about (Warn) or refused (Strict) as upstream's strict decoding of a Scale
    says it; one the Widget's schema has but a Scale lacks is unknown too (a merge patch's result has its keys
    sorted, as Go encodes a map)."""
    answer = patch(call, {"spec": {"bogus": 1, "replicas": 4, "size": 9}})
    assert answer.code == 200
    assert answer.warnings == ['299 - "unknown field \\"spec.bogus\\""', '299 - "unknown field \\"spec.size\\""']
    assert call("GET", f"{WIDGETS}/w1").body["spec"] == {"size": 4}
    answer = patch(call, {"spec": {"replicas": 6, "bogus": 1}}, "Strict")
    # The patch handler's 422 of the field "patch", as upstream's patcher answers a strict decoding error.
    assert (answer.code, answer.body["reason"], answer.body["details"]["causes"][0]["field"]) == (422, "Invalid",
                                                                                                 "patch")
    assert answer.body["message"].endswith('strict decoding error: unknown field "spec.bogus"')
    assert call("GET", f"{WIDGETS}/w1").body["spec"] == {"size": 4}



def test_a_scale_put_is_decoded_as_a_scale(call):
    """A PUT of /scale is a Scale decoded strictly as upstream's update handler decodes it: a field a Scale lacks is
    warned about, a value of the wrong type is upstream's 400."""
    scale = call("GET", f"{WIDGETS}/w1/scale").body
    scale["spec"] = {"replicas": 7, "bogus": 1}
    answer = call("PUT", f"{WIDGETS}/w1/scale", scale)
    assert (answer.code, answer.warnings) == (200, ['299 - "unknown field \\"spec.bogus\\""'])
    scale = answer.body
    scale["spec"] = {"replicas": "x"}
    answer = call("PUT", f"{WIDGETS}/w1/scale", scale)
    assert answer.code == 400
    assert answer.body["message"] == ('Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal '
                                      'string into Go struct field ScaleSpec.spec.replicas of type int32')
    assert call("GET", f"{WIDGETS}/w1").body["spec"] == {"size": 7}

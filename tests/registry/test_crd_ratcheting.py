"""Custom resources' validation ratcheting (CRDValidationRatcheting) as an operator meets it through the API: an
object stored before its CRD was tightened, updated elsewhere; served in process."""

from __future__ import annotations

import pytest

from kapiserver.controllers.crd import CRDController
from tests.endpoints.inprocess import served

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "/apis/ex.com/v1/namespaces/default/widgets"


def crd(spec_schema: dict) -> dict:
    schema = {"type": "object", "properties": {"spec": spec_schema}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.ex.com"},
            "spec": {"group": "ex.com", "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema}}]}}


@pytest.fixture
def api():
    call = served(lambda registry, clock: CRDController(registry, clock))

    def ask(method, path, body=None):
        return call(method, path, body, "application/merge-patch+json" if method == "PATCH" else "application/json")
    return ask


def _stored_then_tightened(api, loose: dict, tight: dict, spec: dict) -> None:
    assert api("POST", CRDS, crd(loose)).code == 201
    widget = {"apiVersion": "ex.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": spec}
    assert api("POST", WIDGETS, widget).code == 201
    current = api("GET", f"{CRDS}/widgets.ex.com").body
    current["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = crd(tight)["spec"]["versions"][0][
        "schema"]["openAPIV3Schema"]
    assert api("PUT", f"{CRDS}/widgets.ex.com", current).code == 200


def test_a_ratcheted_rule_failure_is_a_warning(api):
    """A rule an unchanged value fails is no error but a Warning header with the error's text, as upstream's
    CEL validator warns; changing the value to another that fails is refused."""
    loose = {"type": "object", "properties": {"name": {"type": "string"}, "other": {"type": "string"},
                                              "tags": {"type": "array", "items": {"type": "string"}}}}
    tight = {"type": "object", "properties": {
        "name": {"type": "string", "x-kubernetes-validations": [{"rule": "self.startsWith('a')",
                                                                 "message": "must start with a"}]},
        "other": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string", "x-kubernetes-validations": [
            {"rule": "self != 'zz'", "messageExpression": "'bad tag ' + self", "reason": "FieldValueForbidden"}]}}}}
    _stored_then_tightened(api, loose, tight, {"name": "bob", "other": "x", "tags": ["zz"]})
    answer = api("PATCH", f"{WIDGETS}/w1", {"spec": {"other": "y"}})
    assert answer.code == 200
    assert answer.warnings == ['299 - "spec.name: Invalid value: \\"string\\": must start with a"',
                               '299 - "spec.tags[0]: Forbidden: bad tag zz"']
    answer = api("PATCH", f"{WIDGETS}/w1", {"spec": {"name": "bcd"}})
    assert answer.code == 422
    assert answer.body["details"]["causes"] == [{"reason": "FieldValueInvalid", "message": 'Invalid value: '
                                                 '"string": must start with a', "field": "spec.name"}]
    assert answer.warnings == ['299 - "spec.tags[0]: Forbidden: bad tag zz"']


def test_a_reordered_list_type_map_is_unchanged(api):
    """A list-type map's items pair by their keys, so the list reordered counts as unchanged and its own errors
    (maxItems here) ratchet; a changed item makes it changed."""
    items = {"type": "object", "required": ["k"], "properties": {"k": {"type": "string"}, "v": {"type": "string"}}}
    loose = {"type": "object", "properties": {"ports": {"type": "array", "x-kubernetes-list-type": "map",
                                                        "x-kubernetes-list-map-keys": ["k"], "items": items}}}
    tight = {"type": "object", "properties": {"ports": dict(loose["properties"]["ports"], maxItems=1)}}
    _stored_then_tightened(api, loose, tight, {"ports": [{"k": "a"}, {"k": "b"}]})
    assert api("PATCH", f"{WIDGETS}/w1", {"spec": {"ports": [{"k": "b"}, {"k": "a"}]}}).code == 200
    answer = api("PATCH", f"{WIDGETS}/w1", {"spec": {"ports": [{"k": "b", "v": "1"}, {"k": "a"}]}})
    assert answer.code == 422
    assert [c["field"] for c in answer.body["details"]["causes"]] == ["spec.ports"]


def test_an_object_with_undeclared_fields_never_counts_as_unchanged(api):
    """A field kept by x-kubernetes-preserve-unknown-fields has no schema to pair by: upstream counts its object
    as changed, so that object's own errors (a required field missing) are not ratcheted."""
    loose = {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
             "properties": {"cfg": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    tight = {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
             "properties": {"cfg": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                                    "required": ["mode"]}}}
    _stored_then_tightened(api, loose, tight, {"cfg": {"extra": 1}, "other": "x"})
    answer = api("PATCH", f"{WIDGETS}/w1", {"spec": {"other": "y"}})
    assert answer.code == 422
    assert [c["field"] for c in answer.body["details"]["causes"]] == ["spec.cfg.mode"]


"""Access reviews' validation as upstream's pkg/apis/authorization/validation: every problem reported."""

import asyncio

import pytest

from kapiserver.auth import reviews
from kapiserver.auth.user import UserInfo
from kapiserver.machinery.errors import StatusError

BOB = UserInfo("bob", groups=["system:authenticated"])


class _Info:
    group = "authorization.k8s.io"

    def __init__(self, resource, kind):
        self.resource, self.kind = resource, kind


SAR = _Info("subjectaccessreviews", "SubjectAccessReview")
SSAR = _Info("selfsubjectaccessreviews", "SelfSubjectAccessReview")
LSAR = _Info("localsubjectaccessreviews", "LocalSubjectAccessReview")


def _invalid(info, spec, namespace="") -> StatusError:
    with pytest.raises(StatusError) as e:
        asyncio.run(reviews.review_status(None, info, spec, BOB, namespace))
    assert e.value.code == 422
    return e.value


BOTH = {"resourceAttributes": {"verb": "get", "resource": "pods"},
        "nonResourceAttributes": {"path": "/x", "verb": "get"}}


def test_both_attributes_refused():
    error = _invalid(SAR, {**BOTH, "user": "alice"})
    assert error.message == (
        'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.nonResourceAttributes: Invalid value: '
        'authorization.NonResourceAttributes{Path:"/x", Verb:"get"}: cannot be specified in combination with '
        'resourceAttributes')
    assert error.details["causes"] == [{"reason": "FieldValueInvalid", "field": "spec.nonResourceAttributes",
                                        "message": 'Invalid value: authorization.NonResourceAttributes{Path:"/x", '
                                                   'Verb:"get"}: cannot be specified in combination with '
                                                   'resourceAttributes'}]
    assert "cannot be specified in combination" in _invalid(SSAR, BOTH).message


def test_every_problem_reported():
    error = _invalid(SAR, {})
    assert error.message == (
        'SubjectAccessReview.authorization.k8s.io "" is invalid: [spec.resourceAttributes: Invalid value: "null": '
        'exactly one of nonResourceAttributes or resourceAttributes must be specified, spec.user: Invalid value: "": '
        'at least one of user or group must be specified]')
    error = _invalid(LSAR, {**BOTH, "user": "alice"}, namespace="ns")
    assert [c["field"] for c in error.details["causes"]] == [
        "spec.nonResourceAttributes", "spec.resourceAttributes.namespace", "spec.nonResourceAttributes"]
    assert error.details["causes"][2]["message"].endswith(": disallowed on this kind of request")


def test_selector_attributes():
    spec = {"user": "alice", "resourceAttributes": {"verb": "list", "resource": "pods", "labelSelector": {},
                                                    "fieldSelector": {"rawSelector": "a=b",
                                                                      "requirements": [{"key": "a", "operator": "In",
                                                                                        "values": ["b"]}]}}}
    error = _invalid(SAR, spec)
    assert [(c["field"], c["reason"]) for c in error.details["causes"]] == [
        ("spec.resourceAttributes.fieldSelector.rawSelector", "FieldValueInvalid"),
        ("spec.resourceAttributes.labelSelector.requirements", "FieldValueRequired")]
    assert error.details["causes"][1]["message"] == (
        "Required value: when spec.resourceAttributes.labelSelector is specified, requirements or rawSelector is "
        "required")


def test_empty_resource_attributes_are_resource_attributes():
    """An empty resourceAttributes object is there (a pointer upstream): a resource request for nothing."""
    status = asyncio.run(reviews.review_status(None, SAR, {"user": "alice", "resourceAttributes": {}}, BOB, ""))
    assert status["allowed"] is True

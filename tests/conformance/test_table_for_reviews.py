"""Part of "API metadata HTTP return" (Servers with support for Table transformation): a resource that
stores and prints nothing (a SelfSubjectAccessReview) answers a request for a Table with 406, while JSON
and YAML are still answered."""

from __future__ import annotations

import yaml

SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
REVIEW = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
          "spec": {"nonResourceAttributes": {"path": "/", "verb": "get"}}}


def test_table_of_a_review_is_not_acceptable(apiserver):
    status, body = apiserver.request("POST", SSAR, REVIEW,
                                     headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    assert status == 406 and body["reason"] == "NotAcceptable"
    assert body["message"] == ("only the following media types are accepted: application/json, application/yaml, "
                               "application/vnd.kubernetes.protobuf")


def test_review_answers_json_and_yaml(apiserver):
    status, body = apiserver.request("POST", SSAR, REVIEW, headers={"Accept": "application/json"})
    assert status == 201 and body["status"]["allowed"] is True
    status, text = apiserver.request("POST", SSAR, REVIEW, headers={"Accept": "application/yaml"})
    assert status == 201 and yaml.safe_load(text)["kind"] == "SelfSubjectAccessReview"

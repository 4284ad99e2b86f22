"""Webhook matchConditions: "Mutating Admission webhook, reject mutating webhook configurations with invalid
matchConditions" (and the validating one), and "Mutating Admission webhook, mutating webhook excluding object
with specific name"."""

from __future__ import annotations

import base64
import json

import pytest

from tests.e2e.httpsjson import JSONHandler, serve_https

BASE = "/apis/admissionregistration.k8s.io/v1"


class Labeller(JSONHandler):
    def do_POST(self):
        request = self.read_json()["request"]
        patch = [{"op": "add", "path": "/data", "value": {"mutation-stage-1": "yes"}}]
        self.reply_json({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {
            "uid": request["uid"], "allowed": True, "patchType": "JSONPatch",
            "patch": base64.b64encode(json.dumps(patch).encode()).decode()}})


@pytest.fixture(scope="module")
def labeller(tmp_path_factory):
    server, ca = serve_https(Labeller, tmp_path_factory.mktemp("labeller"))
    yield f"https://127.0.0.1:{server.server_address[1]}/mutate", base64.b64encode(ca).decode()
    server.shutdown()


def configuration(kind, name, url, ca, conditions, namespace_label="match-conditions"):
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": {"name": name},
            "webhooks": [{"name": f"{name}.example.com", "clientConfig": {"url": url, "caBundle": ca},
                          "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                     "resources": ["configmaps"]}],
                          "sideEffects": "None", "admissionReviewVersions": ["v1"],
                          "namespaceSelector": {"matchLabels": {namespace_label: "true"}},
                          "matchConditions": conditions}]}


@pytest.mark.parametrize("kind,resource", [("MutatingWebhookConfiguration", "mutatingwebhookconfigurations"),
                                           ("ValidatingWebhookConfiguration", "validatingwebhookconfigurations")])
def test_reject_webhook_configurations_with_invalid_match_conditions(apiserver, labeller, kind, resource):
    url, ca = labeller
    status, body = apiserver.request("POST", f"{BASE}/{resource}", configuration(
        kind, f"invalid-{resource[:4]}", url, ca,
        [{"name": "invalid-expression-1", "expression": "... [] bad syntax"}]))
    assert status == 422 and body["reason"] == "Invalid"
    cause, = body["details"]["causes"]
    assert cause["field"] == "webhooks[0].matchConditions[0].expression"
    assert "compilation failed" in cause["message"]


def test_mutating_webhook_excluding_object_with_specific_name(apiserver, labeller):
    url, ca = labeller
    status, body = apiserver.request("POST", "/api/v1/namespaces", {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "match-conditions",
                                                              "labels": {"match-conditions": "true"}}})
    assert status == 201, body
    status, body = apiserver.request("POST", f"{BASE}/mutatingwebhookconfigurations", configuration(
        "MutatingWebhookConfiguration", "exclude-skip-me", url, ca,
        [{"name": "exclude-skip-me", "expression": "object.metadata.name != 'skip-me'"}]))
    assert status == 201, body
    collection = "/api/v1/namespaces/match-conditions/configmaps"
    status, skipped = apiserver.request("POST", collection, {"apiVersion": "v1", "kind": "ConfigMap",
                                                             "metadata": {"name": "skip-me"}})
    assert status == 201 and "data" not in skipped
    status, mutated = apiserver.request("POST", collection, {"apiVersion": "v1", "kind": "ConfigMap",
                                                             "metadata": {"name": "mutate-me"}})
    assert status == 201 and mutated["data"] == {"mutation-stage-1": "yes"}


def test_a_condition_that_cannot_be_evaluated_fails_closed(apiserver, labeller):
    """A condition erroring at evaluation refuses the request under failurePolicy Fail (403)."""
    url, ca = labeller
    status, body = apiserver.request("POST", "/api/v1/namespaces", {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "match-errors",
                                                              "labels": {"match-errors": "true"}}})
    assert status == 201, body
    status, body = apiserver.request("POST", f"{BASE}/mutatingwebhookconfigurations", configuration(
        "MutatingWebhookConfiguration", "erroring-condition", url, ca,
        [{"name": "missing-key", "expression": "object.data['absent'] == 'x'"}], namespace_label="match-errors"))
    assert status == 201, body
    status, body = apiserver.request("POST", "/api/v1/namespaces/match-errors/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"present": "1"}})
    assert status == 403 and body["reason"] == "Forbidden"
    # Upstream names the expression that failed, not the condition.
    assert "expression 'object.data['absent'] == 'x'' resulted in error: no such key: absent" in body["message"], \
        body["message"]

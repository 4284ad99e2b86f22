"""Validation of admissionregistration.k8s.io/v1 objects as upstream's pkg/apis/admissionregistration/validation:
the wording, the field paths and the Go rendering of the bad values a 422 carries."""

from __future__ import annotations

from kapiserver.registry import defaults, validation
from tests.endpoints.inprocess import served

GROUP = "admissionregistration.k8s.io"


def _webhooks(kind: str = "ValidatingWebhookConfiguration", **hook) -> dict:
    webhook = {"name": "hook.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
               "clientConfig": {"url": "https://example.com/hook"},
               "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]}
    webhook.update(hook)
    return {"apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": {"name": "cfg"}, "webhooks": [webhook]}


def _rule(**rule) -> list:
    base = {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}
    base.update(rule)
    return [base]


def _errors(obj: dict) -> list[str]:
    defaults.apply_defaults(GROUP, "v1", obj["kind"], obj)
    return [str(e) for e in validation.validate(GROUP, "v1", obj["kind"], obj, None, False)]


def test_a_valid_configuration():
    assert _errors(_webhooks()) == []
    assert _errors(_webhooks("MutatingWebhookConfiguration", rules=_rule(resources=["pods", "pods/status"]))) == []


def test_resource_wildcards():
    path = "webhooks[0].rules[0].resources"
    assert _errors(_webhooks(rules=_rule(resources=["*", "pods"]))) == [
        f'{path}: Invalid value: []string{{"*", "pods"}}: if \'*\' is present, must not specify other resources '
        "without subresources"]
    assert _errors(_webhooks(rules=_rule(resources=["*/*", "pods"]))) == [
        f'{path}: Invalid value: []string{{"*/*", "pods"}}: if \'*/*\' is present, must not specify other resources']
    assert _errors(_webhooks(rules=_rule(resources=["pods/*", "pods/status"]))) == [
        f'{path}[1]: Invalid value: "pods/status": if \'pods/*\' is present, must not specify pods/status']
    assert _errors(_webhooks(rules=_rule(resources=["*/status", "pods/status"]))) == [
        f'{path}[1]: Invalid value: "pods/status": if \'*/status\' is present, must not specify pods/status']
    # "*" with resources that all name a subresource is fine
    assert _errors(_webhooks(rules=_rule(resources=["*", "pods/status"]))) == []


def test_typed_slices_print_with_their_go_types():
    assert _errors(_webhooks(rules=_rule(operations=["*", "CREATE"]))) == [
        'webhooks[0].rules[0].operations: Invalid value: []admissionregistration.OperationType{"*", "CREATE"}: '
        "if '*' is present, must not specify other operations"]
    assert _errors(_webhooks(rules=_rule(apiGroups=["*", "apps"]))) == [
        'webhooks[0].rules[0].apiGroups: Invalid value: []string{"*", "apps"}: '
        "if '*' is present, must not specify other API groups"]
    assert _errors(_webhooks(admissionReviewVersions=["v2"])) == [
        'webhooks[0].admissionReviewVersions: Invalid value: []string{"v2"}: must include at least one of v1, v1beta1']


def test_duplicate_admission_review_version():
    assert _errors(_webhooks(admissionReviewVersions=["v1", "v1"])) == [
        'webhooks[0].admissionReviewVersions[1]: Invalid value: "v1": duplicate version']


def test_match_conditions_must_be_bools():
    conditions = [{"name": "int", "expression": "1"}, {"name": "str", "expression": "request.name"},
                  {"name": "ok", "expression": "request.dryRun"}, {"name": "ok2", "expression": "has(object.a)"}]
    assert _errors(_webhooks(matchConditions=conditions)) == [
        'webhooks[0].matchConditions[0].expression: Invalid value: "1": must evaluate to bool but got int',
        'webhooks[0].matchConditions[1].expression: Invalid value: "request.name": must evaluate to bool but got '
        "string"]


def test_a_422_over_the_api():
    call = served()
    answer = call("POST", f"/apis/{GROUP}/v1/validatingwebhookconfigurations",
                  _webhooks(rules=_rule(resources=["*", "pods"]), admissionReviewVersions=["v1", "v1"]))
    assert answer.code == 422, answer.body
    assert [c["field"] for c in answer.body["details"]["causes"]] == [
        "webhooks[0].rules[0].resources", "webhooks[0].admissionReviewVersions[1]"]


def test_result_types_are_named_as_cel_go_names_them():
    conditions = [{"name": "a", "expression": "request.userInfo.groups"}, {"name": "b", "expression": "[1, 2]"},
                  {"name": "c", "expression": "request.kind"}, {"name": "d", "expression": "request.options.x"},
                  {"name": "e", "expression": "request.userInfo.extra"}]
    assert [e.rsplit(": ", 1)[1] for e in _errors(_webhooks(matchConditions=conditions))] == [
        "must evaluate to bool but got list(string)", "must evaluate to bool but got list(int)",
        "must evaluate to bool but got kubernetes.GroupVersionKind", "must evaluate to bool but got dyn",
        "must evaluate to bool but got map(string, list(string))"]


def test_updates_keep_what_the_old_object_had():
    old = _webhooks(sideEffects="Some", matchConditions=[{"name": "a", "expression": "1"}])
    new = _webhooks(sideEffects="Unknown", matchConditions=[{"name": "a", "expression": "1"}])
    for obj in (old, new):
        obj["metadata"]["resourceVersion"] = "1"
        defaults.apply_defaults(GROUP, "v1", obj["kind"], obj)
    assert [str(e) for e in validation.validate(GROUP, "v1", new["kind"], new, old, False)] == []
    assert [str(e).split(":")[0] for e in validation.validate(GROUP, "v1", new["kind"], new, None, False)] == [
        "webhooks[0].sideEffects", "webhooks[0].matchConditions[0].expression"]
    changed = _webhooks(sideEffects="Unknown", matchConditions=[{"name": "a", "expression": "2"}])
    changed["metadata"]["resourceVersion"] = "1"
    defaults.apply_defaults(GROUP, "v1", changed["kind"], changed)
    assert [str(e).split(":")[0] for e in validation.validate(GROUP, "v1", new["kind"], changed, old, False)] == [
        "webhooks[0].matchConditions[0].expression"]

"""CRD validation rules (x-kubernetes-validations) through kubectl and raw requests."""

from __future__ import annotations

import json

import pytest

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.cel.example.com"},
    "spec": {"group": "cel.example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "kind": "Widget"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object",
                 "x-kubernetes-validations": [{"rule": "self.metadata.name.startsWith('w')",
                                               "message": "name must start with w"}],
                 "properties": {"spec": {
                     "type": "object",
                     "x-kubernetes-validations": [
                         {"rule": "self.min <= self.max", "message": "min must not exceed max"},
                         {"rule": "self.max >= oldSelf.max",
                          "messageExpression": "'max may not shrink below ' + string(oldSelf.max)"},
                         {"rule": "!has(self.mode) || self.mode != 'off'", "reason": "FieldValueForbidden",
                          "fieldPath": ".mode"}],
                     "properties": {"min": {"type": "integer"}, "max": {"type": "integer"},
                                    "mode": {"type": "string"}}}}}}}]}}


def widget(name="w1", **spec):
    return json.dumps({"apiVersion": "cel.example.com/v1", "kind": "Widget", "metadata": {"name": name},
                       "spec": spec})


@pytest.fixture(scope="module")
def widgets(kubectl):
    kubectl("apply", "-f", "-", input=json.dumps(CRD))
    return kubectl


def test_rules_admit_and_refuse(widgets):
    """A passing object is created; failing rules are 422 with upstream's messages and reasons."""
    widgets("apply", "-f", "-", input=widget(min=1, max=5))
    result = widgets("apply", "-f", "-", check=False, input=widget("w2", min=6, max=5, mode="off"))
    assert result.returncode == 1
    assert 'spec: Invalid value: "object": min must not exceed max' in result.stderr
    assert "spec.mode: Forbidden: failed rule: !has(self.mode) || self.mode != 'off'" in result.stderr
    status, body = widgets.server.request("POST", "/apis/cel.example.com/v1/namespaces/default/widgets",
                                          json.loads(widget("bad", min=1, max=2)))
    assert status == 422
    assert body["details"]["causes"] == [{"reason": "FieldValueInvalid", "field": "<nil>",
                                          "message": 'Invalid value: "object": name must start with w'}]


def test_transition_rule_runs_on_update_only(widgets):
    """A rule with oldSelf passes on create and refuses a shrinking update with its messageExpression."""
    widgets("apply", "-f", "-", input=widget("w3", min=1, max=3))
    result = widgets("apply", "-f", "-", check=False, input=widget("w3", min=1, max=2))
    assert result.returncode == 1
    assert 'spec: Invalid value: "object": max may not shrink below 3' in result.stderr
    widgets("apply", "-f", "-", input=widget("w3", min=1, max=4))


RULE_PATH = "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"


def with_spec_rules(plural: str, kind: str, rules: list[dict]) -> dict:
    """The widgets CRD renamed to ``plural``/``kind``, its spec's rules replaced by ``rules``."""
    crd = json.loads(json.dumps(CRD).replace("widgets", plural).replace("Widget", kind))
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-validations"] = rules
    return crd


def refused_causes(widgets, crd: dict) -> list[dict]:
    """The causes of the 422 Invalid that creating ``crd`` is answered with."""
    status, body = widgets.server.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert status == 422 and body["reason"] == "Invalid"
    return body["details"]["causes"]


def test_rule_that_does_not_compile_makes_the_crd_invalid(widgets):
    """A CRD whose rule does not compile is refused with 422 at the rule's path."""
    cause = refused_causes(widgets, with_spec_rules("gadgets", "Gadget", [{"rule": "self.min <"}]))[0]
    assert cause["field"] == RULE_PATH
    assert "compilation failed: ERROR: <input>:1:" in cause["message"]


def test_rule_whose_result_is_not_a_bool_makes_the_crd_invalid(widgets):
    """A rule evidently not a bool (a field, arithmetic) is refused as upstream's checker refuses it."""
    crd = with_spec_rules("sprockets", "Sprocket", [{"rule": "self.min + 1"}, {"rule": "self.min > 0"}])
    assert refused_causes(widgets, crd) == [{
        "reason": "FieldValueInvalid", "field": RULE_PATH,
        "message": 'Invalid value: apiextensions.ValidationRule{Rule:"self.min + 1", Message:"", '
                   'MessageExpression:"", Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:"", '
                   "OptionalOldSelf:(*bool)(nil)}: cel expression must evaluate to a bool"}]


def test_rule_with_mismatched_operand_types_makes_the_crd_invalid(widgets):
    """An operator no overload takes for its operands' declared types (an integer against a string) is refused
    when the CRD is written, with cel-go's words and its caret under the operator, as upstream's checker does;
    kubectl apply reports it."""
    crd = with_spec_rules("cogs", "Cog", [{"rule": "self.min > '3'"}, {"rule": "self.min <= self.max"}])
    assert refused_causes(widgets, crd) == [{
        "reason": "FieldValueInvalid", "field": RULE_PATH,
        "message": 'Invalid value: apiextensions.ValidationRule{Rule:"self.min > \'3\'", Message:"", '
                   'MessageExpression:"", Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:"", '
                   "OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: <input>:1:10: found no matching "
                   "overload for '_>_' applied to '(int, string)'\n | self.min > '3'\n | .........^"}]
    result = widgets("apply", "-f", "-", check=False, input=json.dumps(crd))
    assert result.returncode == 1
    assert "found no matching overload for '_>_' applied to '(int, string)'" in result.stderr

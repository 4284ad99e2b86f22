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
                          "messageExpression": "'max may not shrink below %d'.format([oldSelf.max])"},
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


COST_ADVICE = ("(try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and "
               "strings are declared)")


def with_tags(plural: str, kind: str, **bounds) -> dict:
    """The widgets CRD renamed, its spec given a list of tags, each of which must be lowercase letters; ``bounds``
    (maxItems, maxLength) bound the list and its strings."""
    crd = with_spec_rules(plural, kind, [])
    tag = {"type": "string", "x-kubernetes-validations": [{"rule": "self.matches('^[a-z]+$')",
                                                           "message": "tags are lowercase letters"}]}
    if "maxLength" in bounds:
        tag["maxLength"] = bounds.pop("maxLength")
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"]["tags"] = {"type": "array", "items": tag, **bounds}
    return crd


def test_rule_too_costly_for_unbounded_lists_makes_the_crd_invalid(widgets):
    """A rule whose estimated cost, times the times it may run, is past upstream's budget is refused when the CRD
    is written, at the rule's path, with upstream's words and the factor: a regular expression on every string of
    a list neither bounds.  Bounded by maxItems and maxLength, the same CRD installs and its rule runs."""
    result = widgets("apply", "-f", "-", check=False, input=json.dumps(with_tags("labels", "Label")))
    assert result.returncode == 1
    at = "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[tags].items.x-kubernetes-validations[0]"
    assert (f"{at}.rule: Forbidden: estimated rule cost exceeds budget by factor of more than 100x {COST_ADVICE}"
            in result.stderr)
    assert ("spec.versions[0].schema.openAPIV3Schema: Forbidden: x-kubernetes-validations estimated rule cost "
            "total for entire OpenAPIv3 schema exceeds budget by factor of more than 100x" in result.stderr)
    widgets("apply", "-f", "-", input=json.dumps(with_tags("labels", "Label", maxItems=16, maxLength=63)))
    widgets("wait", "--for=condition=Established", "crd/labels.cel.example.com", "--timeout=30s")
    label = json.dumps({"apiVersion": "cel.example.com/v1", "kind": "Label", "metadata": {"name": "w1"},
                        "spec": {"min": 1, "max": 2, "tags": ["ok", "Not-OK"]}})
    result = widgets("apply", "-f", "-", check=False, input=label)
    assert result.returncode == 1 and "spec.tags[1]: Invalid value: \"string\": tags are lowercase letters" in \
        result.stderr


def test_message_expression_of_unbounded_size_makes_the_crd_invalid(widgets):
    """string() of a number has no size the estimate can bound, so adding it to a string costs past the budget:
    the CRD is refused with the same three causes a real cluster gives (kubernetes/kubernetes#124234)."""
    crd = with_spec_rules("gizmos", "Gizmo", [{"rule": "self.min >= 0",
                                               "messageExpression": "'invalid min: ' + string(self.min)"}])
    at = "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].messageExpression"
    assert refused_causes(widgets, crd) == [
        {"reason": "FieldValueForbidden", "field": at,
         "message": f"Forbidden: estimated messageExpression cost exceeds budget by factor of more than 100x "
                    f"{COST_ADVICE}"},
        {"reason": "FieldValueForbidden", "field": at,
         "message": "Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 "
                    "schema"},
        {"reason": "FieldValueForbidden", "field": "spec.versions[0].schema.openAPIV3Schema",
         "message": "Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema "
                    f"exceeds budget by factor of more than 100x {COST_ADVICE}"}]


def test_rules_with_optional_syntax(widgets):
    """``a.?f`` and ``a[?k]`` with orValue() (CEL's optionals, on in Kubernetes since 1.28): such a CRD installs
    and its rule holds an object to it; an absent field takes the rule's default."""
    crd = with_spec_rules("valves", "Valve", [{"rule": "self.?max.orValue(0) <= 100", "message": "max too large"}])
    widgets("apply", "-f", "-", input=json.dumps(crd))
    widgets("wait", "--for=condition=Established", "crd/valves.cel.example.com", "--timeout=30s")

    def valve(name, **spec):
        return json.dumps({"apiVersion": "cel.example.com/v1", "kind": "Valve", "metadata": {"name": name},
                           "spec": spec})
    widgets("apply", "-f", "-", input=valve("w-open", min=1))
    result = widgets("apply", "-f", "-", check=False, input=valve("w-wide", min=1, max=101))
    assert result.returncode == 1 and 'spec: Invalid value: "object": max too large' in result.stderr


def test_non_structural_schema_makes_the_crd_invalid(widgets):
    """A schema a real cluster refuses (a property without a type, uniqueItems) is refused at kubectl apply with
    the same causes; typed and without uniqueItems, the same CRD installs."""
    crd = with_spec_rules("dials", "Dial", [])
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"]["notes"] = {"description": "free text"}
    spec["properties"]["steps"] = {"type": "array", "uniqueItems": True, "items": {"type": "integer"}}
    result = widgets("apply", "-f", "-", check=False, input=json.dumps(crd))
    assert result.returncode == 1
    at = "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties"
    assert f"{at}[notes].type: Required value: must not be empty for specified object fields" in result.stderr
    assert (f"{at}[steps].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity "
            "becomes quadratic") in result.stderr
    spec["properties"]["notes"]["type"] = "string"
    del spec["properties"]["steps"]["uniqueItems"]
    widgets("apply", "-f", "-", input=json.dumps(crd))

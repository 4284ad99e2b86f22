"""ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding: upstream's defaults and validation."""

from __future__ import annotations

from kapiserver.registry import defaults, validation

GROUP = "admissionregistration.k8s.io"


def _policy(**spec):
    base = {"matchConstraints": {"resourceRules": [{"operations": ["CREATE"], "apiGroups": ["apps"],
                                                    "apiVersions": ["v1"], "resources": ["deployments"]}]},
            "validations": [{"expression": "object.spec.replicas <= 5"}]}
    base.update(spec)
    return {"apiVersion": f"{GROUP}/v1", "kind": "ValidatingAdmissionPolicy", "metadata": {"name": "p"}, "spec": base}


def _errors(kind, obj):
    defaults.apply_defaults(GROUP, "v1", kind, obj)
    return {e.field: e.body for e in validation.validate(GROUP, "v1", kind, obj, None, False)}


def test_policy_defaults():
    policy = _policy()
    defaults.apply_defaults(GROUP, "v1", "ValidatingAdmissionPolicy", policy)
    spec = policy["spec"]
    assert spec["failurePolicy"] == "Fail"
    match = spec["matchConstraints"]
    assert (match["matchPolicy"], match["namespaceSelector"], match["objectSelector"]) == ("Equivalent", {}, {})
    assert match["resourceRules"][0]["scope"] == "*"


def test_valid_policy():
    assert _errors("ValidatingAdmissionPolicy", _policy(
        paramKind={"apiVersion": "v1", "kind": "ConfigMap"},
        variables=[{"name": "replicas", "expression": "object.spec.replicas"}],
        validations=[{"expression": "variables.replicas <= int(params.data.max)", "reason": "Forbidden",
                      "messageExpression": "'too many: ' + string(variables.replicas)"}],
        auditAnnotations=[{"key": "replicas", "valueExpression": "string(object.spec.replicas)"}],
        matchConditions=[{"name": "not-kube-system", "expression": "request.namespace != 'kube-system'"}])) == {}


def test_policy_rules():
    errors = _errors("ValidatingAdmissionPolicy", _policy(
        matchConstraints={}, validations=[{"expression": "object.spec. <"}, {"expression": "true", "reason": "Bad"},
                                          {"expression": "nope == 1"}],
        variables=[{"name": "not an identifier", "expression": "1"}],
        matchConditions=[{"name": "uses-variables", "expression": "variables.x"}]))
    assert errors["spec.matchConstraints.resourceRules"].startswith("Required value")
    assert "compilation failed" in errors["spec.validations[0].expression"]
    assert errors["spec.validations[1].reason"].startswith('Unsupported value: "Bad"')
    assert "undeclared reference to 'nope'" in errors["spec.validations[2].expression"]
    assert "not a valid CEL identifier" in errors["spec.variables[0].name"]
    assert "undeclared reference to 'variables'" in errors["spec.matchConditions[0].expression"]
    errors = _errors("ValidatingAdmissionPolicy", _policy(validations=[]))
    assert "validations or auditAnnotations" in errors["spec.validations"]


def test_binding_rules():
    binding = {"metadata": {"name": "b"}, "spec": {"policyName": "", "validationActions": ["Deny", "Warn", "Nope"],
                                                  "paramRef": {"name": "x", "selector": {}}}}
    errors = _errors("ValidatingAdmissionPolicyBinding", binding)
    assert set(errors) == {"spec.policyName", "spec.paramRef.name", "spec.paramRef.selector",
                           "spec.paramRef.parameterNotFoundAction", "spec.validationActions",
                           "spec.validationActions[2]"}
    assert errors["spec.paramRef.name"] == "Forbidden: name and selector are mutually exclusive"
    assert errors["spec.validationActions"] == (
        'Invalid value: []admissionregistration.ValidationAction{"Deny", "Warn", "Nope"}: must not contain both '
        "Deny and Warn (repeating the same validation failure information in the API response and headers serves "
        "no purpose)")
    good = {"metadata": {"name": "b"}, "spec": {"policyName": "p", "validationActions": ["Warn", "Audit"],
                                               "paramRef": {"name": "x", "parameterNotFoundAction": "Deny"},
                                               "matchResources": {}}}
    assert _errors("ValidatingAdmissionPolicyBinding", good) == {}
    assert good["spec"]["matchResources"]["namespaceSelector"] == {}


def test_type_checking_against_the_matched_kinds_and_params():
    from kapiserver.registry.admissionregistration import type_check
    spec = _policy(paramKind={"apiVersion": "v1", "kind": "ConfigMap"},
                   validations=[{"expression": "object.spec.replicas <= params.data.max"},
                                {"expression": "object.spec.replicas <= int(params.data.max)"}],
                   variables=[{"name": "n", "expression": "object.metadata.name + 1"}])["spec"]
    warnings = type_check(spec)["expressionWarnings"]
    assert [w["fieldRef"] for w in warnings] == ["spec.validations[0].expression", "spec.variables[0].expression"]
    assert warnings[0]["warning"].startswith("apps/v1, Kind=Deployment: ERROR: <input>:1:")
    assert "found no matching overload for '_<=_' applied to '(int, string)'" in warnings[0]["warning"]
    assert "'_+_' applied to '(string, int)'" in warnings[1]["warning"]
    assert type_check(_policy()["spec"]) == {}


def _policy_errors(**spec) -> list[str]:
    policy = _policy(**spec)
    defaults.apply_defaults(GROUP, "v1", "ValidatingAdmissionPolicy", policy)
    return [str(e) for e in validation.validate(GROUP, "v1", "ValidatingAdmissionPolicy", policy, None, False)]


def test_expressions_evaluate_to_their_fields_types():
    assert _policy_errors(validations=[{"expression": "1", "messageExpression": "2"},
                                       {"expression": "object.spec.paused"}],
                          matchConditions=[{"name": "c", "expression": "'x'"}]) == [
        'spec.matchConditions[0].expression: Invalid value: "\'x\'": must evaluate to bool but got string',
        'spec.validations[0].expression: Invalid value: "1": must evaluate to bool but got int',
        'spec.validations[0].messageExpression: Invalid value: "2": must evaluate to string but got int',
        'spec.validations[1].expression: Invalid value: "object.spec.paused": must evaluate to bool but got dyn']
    assert _policy_errors(auditAnnotations=[{"key": "k", "valueExpression": "1"}]) == [
        'spec.auditAnnotations[0].valueExpression: Invalid value: "1": must evaluate to one of [string null_type] '
        "but got int"]
    assert _policy_errors(auditAnnotations=[{"key": "k", "valueExpression": "null"}],
                          variables=[{"name": "v", "expression": "1"}]) == []


def test_declared_variables_per_field():
    # params only with a paramKind; no authorizer in a messageExpression; variables only where there are some
    errors = _policy_errors(validations=[{"expression": "params.x == 1", "messageExpression": "authorizer.path('/')"},
                                         {"expression": "variables.x == 1"}])
    assert [e.split(":")[0] for e in errors] == ["spec.validations[0].expression",
                                                  "spec.validations[0].messageExpression",
                                                  "spec.validations[1].expression"]
    assert all("compilation failed: ERROR: <input>:1:1: undeclared reference to" in e for e in errors)
    assert _policy_errors(paramKind={"apiVersion": "v1", "kind": "ConfigMap"},
                          matchConditions=[{"name": "c", "expression": "params.x == 'y'"}],
                          validations=[{"expression": "namespaceObject.metadata.name == params.x",
                                        "messageExpression": "'m' + params.x"}]) == []
    assert _policy_errors(validations=[{"expression": "request.nope == 1"}])[0].startswith(
        "spec.validations[0].expression: Invalid value: \"request.nope == 1\": compilation failed: "
        "ERROR: <input>:1:8: undefined field 'nope'")


def test_validation_details():
    assert _policy_errors(validations=[{"expression": " ", "reason": "Unauthorized", "message": "  "}]) == [
        "spec.validations[0].expression: Required value: expression is not specified",
        'spec.validations[0].message: Invalid value: "  ": message must be non-empty if specified',
        'spec.validations[0].reason: Unsupported value: "Unauthorized": supported values: "Forbidden", "Invalid", '
        '"RequestEntityTooLarge"']
    assert _policy_errors(validations=[]) == [
        "spec.validations: Required value: validations or auditAnnotations must contain at least one item",
        "spec.auditAnnotations: Required value: validations or auditAnnotations must contain at least one item"]
    assert _policy_errors(variables=[{"name": "", "expression": ""}]) == [
        "spec.variables[0].name: Required value: name is not specified",
        "spec.variables[0].expression: Required value: expression is not specified"]
    error, = _policy_errors(validations=[{"expression": "true", "messageExpression": "'a' +"}])
    assert error.startswith("spec.validations[0].messageExpression: Invalid value: \"'a' +\": compilation failed: ")


def test_param_kind():
    assert _policy_errors(paramKind={"apiVersion": "a/b/c", "kind": "Bad_Kind"}) == [
        'spec.paramKind.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c',
        'spec.paramKind.kind: Invalid value: "Bad_Kind": may have mixed case, but should otherwise match: a DNS-1035 '
        "label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and "
        "end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
        "'[a-z]([-a-z0-9]*[a-z0-9])?')"]
    assert _policy_errors(paramKind={"apiVersion": "example.com/", "kind": "Params"}) == [
        'spec.paramKind.apiVersion: Invalid value: "example.com/": version must be specified']

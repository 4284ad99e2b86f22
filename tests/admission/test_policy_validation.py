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
    assert set(errors) == {"spec.policyName", "spec.paramRef", "spec.paramRef.parameterNotFoundAction",
                           "spec.validationActions", "spec.validationActions[2]"}
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

"""ValidatingAdmissionPolicy: the conformance entries "ValidatingAdmissionPolicy" (a policy bound to a namespace
refuses deployments it does not validate, and lets the ones it does through), "ValidatingAdmissionPolicy API"
and "ValidatingAdmissionPolicyBinding API" (discovery, create, get, list, watch, patch, update, status, delete,
deletecollection); and kubectl showing a denial and a warning as it prints them."""

from __future__ import annotations

import json

from tests.conformance.support import MERGE, Watch, ok, unique, wait_for

GROUP = "admissionregistration.k8s.io"
BASE = f"/apis/{GROUP}/v1"


def _policy(name, namespace_label, validations, **spec):
    return {"apiVersion": f"{GROUP}/v1", "kind": "ValidatingAdmissionPolicy", "metadata": {"name": name},
            "spec": dict({"matchConstraints": {
                "resourceRules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": ["apps"], "apiVersions": ["v1"],
                                   "resources": ["deployments"]}],
                "namespaceSelector": {"matchLabels": {namespace_label: "true"}}},
                "validations": validations}, **spec)}


def _binding(name, policy, actions=("Deny",)):
    return {"apiVersion": f"{GROUP}/v1", "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": name},
            "spec": {"policyName": policy, "validationActions": list(actions)}}


def _deployment(name, replicas):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def _labelled_namespace(apiserver, label):
    name = unique("vap")
    ok(apiserver.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                        "metadata": {"name": name, "labels": {label: "true"}}}))
    return name


def test_validating_admission_policy(apiserver):
    """ValidatingAdmissionPolicy

    A bound policy with a messageExpression denies a one-replica deployment and admits a two-replica one."""
    label = unique("vap-e2e")
    namespace = _labelled_namespace(apiserver, label)
    policy = unique("replicas-policy")
    ok(apiserver.request("POST", f"{BASE}/validatingadmissionpolicies", _policy(policy, label, [
        {"expression": "object.spec.replicas > 1",
         "messageExpression": "'wants replicas > 1, got ' + string(object.spec.replicas)"},
        {"expression": f"namespaceObject.metadata.name == '{namespace}'",
         "message": "another namespace should not be matched"}])))
    ok(apiserver.request("POST", f"{BASE}/validatingadmissionpolicybindings", _binding(unique("b"), policy)))
    collection = f"/apis/apps/v1/namespaces/{namespace}/deployments"

    def denied():
        status, body = apiserver.request("POST", collection, _deployment(unique("one"), 1))
        return body if status == 422 else None
    body = wait_for(denied, what="the policy to deny")
    assert body["reason"] == "Invalid"
    assert f"ValidatingAdmissionPolicy '{policy}' with binding '" in body["message"]
    assert body["message"].endswith("denied request: wants replicas > 1, got 1")
    ok(apiserver.request("POST", collection, _deployment("two", 2)))
    status, _ = apiserver.request("POST", "/apis/apps/v1/namespaces/default/deployments", _deployment("free", 1))
    assert status == 201                                   # not a namespace the policy selects


def _api_test(apiserver, resource, make, kind):
    status, discovery = apiserver.request("GET", BASE)
    assert status == 200
    names = {r["name"] for r in discovery["resources"]}
    assert resource in names
    label = unique("set")
    objects = []
    for i in range(3):
        obj = make(f"{label}-{i}")
        obj["metadata"]["labels"] = {"set": label}
        objects.append(ok(apiserver.request("POST", f"{BASE}/{resource}", obj)))
    assert objects[0]["kind"] == kind and objects[0]["metadata"]["generation"] == 1
    first = objects[0]["metadata"]["name"]
    got = ok(apiserver.request("GET", f"{BASE}/{resource}/{first}"))
    assert got["metadata"]["uid"] == objects[0]["metadata"]["uid"]
    listed = ok(apiserver.request("GET", f"{BASE}/{resource}?labelSelector=set%3D{label}"))
    assert sorted(o["metadata"]["name"] for o in listed["items"]) == [o["metadata"]["name"] for o in objects]
    watch = Watch(apiserver, f"{BASE}/{resource}?watch=1&labelSelector=set%3D{label}"
                             f"&resourceVersion={listed['metadata']['resourceVersion']}")
    patched = ok(apiserver.request("PATCH", f"{BASE}/{resource}/{first}",
                                   {"metadata": {"annotations": {"patched": "true"}}}, MERGE))
    assert patched["metadata"]["annotations"]["patched"] == "true"
    patched["metadata"]["annotations"]["updated"] = "true"
    updated = ok(apiserver.request("PUT", f"{BASE}/{resource}/{first}", patched))
    assert updated["metadata"]["annotations"]["updated"] == "true"
    events = [watch.next() for _ in range(2)]
    assert [e["type"] for e in events] == ["MODIFIED", "MODIFIED"]
    ok(apiserver.request("DELETE", f"{BASE}/{resource}/{first}"))
    assert apiserver.request("GET", f"{BASE}/{resource}/{first}")[0] == 404
    ok(apiserver.request("DELETE", f"{BASE}/{resource}?labelSelector=set%3D{label}"))
    assert ok(apiserver.request("GET", f"{BASE}/{resource}?labelSelector=set%3D{label}"))["items"] == []
    return names


def test_validating_admission_policy_api(apiserver):
    """ValidatingAdmissionPolicy API"""
    names = _api_test(apiserver, "validatingadmissionpolicies", lambda name: _policy(
        name, "unused", [{"expression": "object.spec.replicas < 100"}]), "ValidatingAdmissionPolicy")
    assert "validatingadmissionpolicies/status" in names
    name = unique("status")
    created = ok(apiserver.request("POST", f"{BASE}/validatingadmissionpolicies", _policy(
        name, "unused", [{"expression": "true"}])))
    assert created["spec"]["failurePolicy"] == "Fail"
    assert created["spec"]["matchConstraints"]["matchPolicy"] == "Equivalent"
    status = ok(apiserver.request("GET", f"{BASE}/validatingadmissionpolicies/{name}/status"))
    status["status"] = {"conditions": [{"type": "StatusUpdated", "status": "True", "reason": "E2E", "message": "set",
                                        "lastTransitionTime": "2024-01-01T00:00:00Z"}]}
    updated = ok(apiserver.request("PUT", f"{BASE}/validatingadmissionpolicies/{name}/status", status))
    assert updated["status"]["conditions"][0]["type"] == "StatusUpdated"
    patched = ok(apiserver.request("PATCH", f"{BASE}/validatingadmissionpolicies/{name}/status", {
        "status": {"conditions": [{"type": "StatusPatched", "status": "True", "reason": "E2E", "message": "set",
                                   "lastTransitionTime": "2024-01-01T00:00:00Z"}]}}, MERGE))
    assert patched["status"]["conditions"][0]["type"] == "StatusPatched"
    ok(apiserver.request("DELETE", f"{BASE}/validatingadmissionpolicies/{name}"))
    status, body = apiserver.request("POST", f"{BASE}/validatingadmissionpolicies", _policy(
        unique("bad"), "unused", [{"expression": "object.spec.replicas <"}]))
    assert status == 422 and body["details"]["causes"][0]["field"] == "spec.validations[0].expression"


def test_validating_admission_policy_binding_api(apiserver):
    """ValidatingAdmissionPolicyBinding API"""
    _api_test(apiserver, "validatingadmissionpolicybindings", lambda name: _binding(name, "some-policy"),
              "ValidatingAdmissionPolicyBinding")
    status, body = apiserver.request("POST", f"{BASE}/validatingadmissionpolicybindings",
                                     _binding(unique("bad"), "p", ("Deny", "Warn")))
    assert status == 422 and body["details"]["causes"][0]["field"] == "spec.validationActions"


def test_kubectl_prints_a_denial_and_a_warning(apiserver, kubectl):
    label = unique("vap-kubectl")
    namespace = _labelled_namespace(apiserver, label)
    deny, warn = unique("deny"), unique("warn")
    ok(apiserver.request("POST", f"{BASE}/validatingadmissionpolicies", _policy(
        deny, label, [{"expression": "object.spec.replicas <= 5", "message": "at most 5 replicas"}])))
    ok(apiserver.request("POST", f"{BASE}/validatingadmissionpolicybindings", _binding(deny, deny)))
    ok(apiserver.request("POST", f"{BASE}/validatingadmissionpolicies", _policy(
        warn, label, [{"expression": "has(object.metadata.labels) && 'team' in object.metadata.labels",
                       "message": "deployments should name their team"}])))
    ok(apiserver.request("POST", f"{BASE}/validatingadmissionpolicybindings", _binding(warn, warn, ("Warn",))))
    table = kubectl("get", "validatingadmissionpolicies", deny).stdout.split("\n")[0].split()
    assert table == ["NAME", "VALIDATIONS", "PARAMKIND", "AGE"]
    assert kubectl("get", "validatingadmissionpolicybindings", deny).stdout.split("\n")[1].split()[:3] == \
        [deny, deny, "<unset>"]

    def refused():
        result = kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(_deployment(unique("big"), 6)),
                         check=False)
        return result if result.returncode != 0 else None
    result = wait_for(refused, what="kubectl to be refused")
    assert (f"is invalid: : ValidatingAdmissionPolicy '{deny}' with binding '{deny}' denied request: "
            "at most 5 replicas") in result.stderr
    result = kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(_deployment("small", 2)))
    assert (f"Warning: Validation failed for ValidatingAdmissionPolicy '{warn}' with binding '{warn}': "
            "deployments should name their team") in result.stderr
    assert "deployment.apps/small created" in result.stdout


def test_type_checking(apiserver):
    """"should type check validation expressions": status.typeChecking is present once checked, with a warning
    for each expression whose operator has no overload for the deployment's field types."""
    correct = ok(apiserver.request("POST", f"{BASE}/validatingadmissionpolicies", _policy(
        unique("correct"), "unused", [{"expression": "object.spec.replicas > 1"}])))
    assert correct["status"]["typeChecking"] == {} and correct["status"]["observedGeneration"] == 1
    name = unique("confused")
    ok(apiserver.request("POST", f"{BASE}/validatingadmissionpolicies", _policy(
        name, "unused", [{"expression": "object.spec.replicas > '1'",
                          "messageExpression": "'wants replicas > 1, got ' + object.spec.replicas"}])))
    confused = ok(apiserver.request("GET", f"{BASE}/validatingadmissionpolicies/{name}"))
    first, second = confused["status"]["typeChecking"]["expressionWarnings"]
    assert first["fieldRef"] == "spec.validations[0].expression"
    assert "found no matching overload for '_>_' applied to '(int, string)'" in first["warning"]
    assert second["fieldRef"] == "spec.validations[0].messageExpression"
    assert "found no matching overload for '_+_' applied to '(string, int)'" in second["warning"]
    confused["spec"]["validations"] = [{"expression": "object.spec.replicas > 1"}]
    fixed = ok(apiserver.request("PUT", f"{BASE}/validatingadmissionpolicies/{name}", confused))
    assert fixed["metadata"]["generation"] == 2
    assert fixed["status"] == {"observedGeneration": 2, "typeChecking": {}}


def test_params_from_a_configmap(apiserver):
    """paramKind ConfigMap with the binding's paramRef: no ConfigMap yet denies (parameterNotFoundAction Deny),
    then the ConfigMap's limit decides, with the validation's reason as the status code."""
    label = unique("vap-params")
    namespace = _labelled_namespace(apiserver, label)
    name = unique("limited")
    ok(apiserver.request("POST", f"{BASE}/validatingadmissionpolicies", _policy(
        name, label, [{"expression": "object.spec.replicas <= int(params.data.max)", "reason": "Forbidden",
                       "messageExpression": "'at most ' + params.data.max + ' replicas'"}],
        paramKind={"apiVersion": "v1", "kind": "ConfigMap"})))
    binding = _binding(name, name)
    binding["spec"]["paramRef"] = {"name": "limits", "parameterNotFoundAction": "Deny"}
    ok(apiserver.request("POST", f"{BASE}/validatingadmissionpolicybindings", binding))
    collection = f"/apis/apps/v1/namespaces/{namespace}/deployments"

    def refused(expected):
        def check():
            status, body = apiserver.request("POST", collection, _deployment(unique("d"), 3))
            return body if status >= 400 and expected in body.get("message", "") else None
        return check
    body = wait_for(refused("no params found for policy binding with `Deny` parameterNotFoundAction"))
    assert body["code"] == 422
    ok(apiserver.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "limits"}, "data": {"max": "2"}}))
    body = wait_for(refused("denied request: at most 2 replicas"))
    assert body["code"] == 403 and body["reason"] == "Forbidden"
    ok(apiserver.request("POST", collection, _deployment("small", 2)))

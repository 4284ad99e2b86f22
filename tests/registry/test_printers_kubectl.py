"""Real kubectl 1.32 against a real apiserver, for the columns whose server-side Table is subtle: a CRD's
``[-1:]`` printer column, webhook configurations, a ValidatingAdmissionPolicyBinding's selector PARAMREF and the
FlowSchema list's matching order.  Ages are never asserted (they depend on when the test runs)."""

from __future__ import annotations

import json

import pytest

from tests.conformance.support import wait_for
from tests.e2e.conftest import APIServerProcess, Kubectl, kubectl_binary

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "trainjobs.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "trainjobs", "singular": "trainjob", "kind": "TrainJob", "listKind": "TrainJobList"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields": True}},
                           "additionalPrinterColumns": [
                               {"name": "State", "type": "string", "jsonPath": ".status.conditions[-1:].type"},
                               {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                               {"name": "Workers", "type": "integer", "jsonPath": ".spec.workers"}]}]}}


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory):
    binary = kubectl_binary()
    if not binary:
        pytest.skip("kubectl is not installed on this machine")
    server = APIServerProcess(tmp_path_factory.mktemp("printers") / "data").start()
    try:
        yield Kubectl(binary, server, tmp_path_factory.mktemp("printers-kubectl"))
    finally:
        server.stop()


def rows(kubectl, *args) -> list[list[str]]:
    """kubectl get's lines split into their cells (no cell here holds a space)."""
    return [line.split() for line in kubectl("get", *args).stdout.splitlines()]


def apply(kubectl, *objects) -> None:
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))


def test_a_crd_last_condition_column_and_the_columns_after_it(kubectl):
    """STATE is the last condition's type ([-1:]), and AGE and WORKERS after it are printed, not dropped."""
    apply(kubectl, CRD)
    wait_for(lambda: kubectl("get", "trainjobs", check=False).returncode == 0, timeout=30, what="trainjobs served")
    # created over HTTP: kubectl's client-side validation may not know the new kind's schema yet
    status, _ = kubectl.server.request("POST", "/apis/example.com/v1/namespaces/default/trainjobs", {
        "apiVersion": "example.com/v1", "kind": "TrainJob", "metadata": {"name": "mnist"}, "spec": {"workers": 4},
        "status": {"conditions": [{"type": "Created"}, {"type": "Running"}, {"type": "Succeeded"}]}})
    assert status == 201
    header, row = rows(kubectl, "trainjobs")
    assert header == ["NAME", "STATE", "AGE", "WORKERS"]
    assert (row[0], row[1], row[3]) == ("mnist", "Succeeded", "4")


def test_webhook_configurations_and_a_binding_selector(kubectl):
    """WEBHOOKS counts a configuration's webhooks; a binding's selector PARAMREF is the selector's Go String()."""
    apply(kubectl, {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
                    "metadata": {"name": "hooks"},
                    "webhooks": [{"name": f"{n}.example.com", "clientConfig": {"url": "https://example.com/x"},
                                  "admissionReviewVersions": ["v1"], "sideEffects": "None"} for n in "ab"]})
    header, row = rows(kubectl, "mutatingwebhookconfigurations")
    assert header == ["NAME", "WEBHOOKS", "AGE"] and row[:2] == ["hooks", "2"]
    apply(kubectl,
          {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
           "metadata": {"name": "policy"},
           "spec": {"paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}, "validations": [{"expression": "true"}],
                    "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                            "operations": ["CREATE"], "resources": ["pods"]}]}}},
          {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
           "metadata": {"name": "binding"},
           "spec": {"policyName": "policy", "validationActions": ["Deny"],
                    "paramRef": {"namespace": "team", "selector": {"matchLabels": {"env": "prod"}},
                                 "parameterNotFoundAction": "Deny"}}})
    header, row = rows(kubectl, "validatingadmissionpolicybindings")
    assert header == ["NAME", "POLICYNAME", "PARAMREF", "AGE"]
    assert row[:3] == ["binding", "policy",
                       "&LabelSelector{MatchLabels:map[string]string{env:"]  # the selector's String() has a space
    line = kubectl("get", "validatingadmissionpolicybindings", "--no-headers").stdout
    assert "&LabelSelector{MatchLabels:map[string]string{env: prod,},MatchExpressions:[]" \
           "LabelSelectorRequirement{},}" in line


def test_flow_schemas_are_listed_in_matching_order(kubectl):
    """kubectl get flowschemas lists the bootstrap schemas by precedence, then name."""
    listed = [(row[0], int(row[2])) for row in rows(kubectl, "flowschemas")[1:]]
    assert listed == sorted(listed, key=lambda item: (item[1], item[0]))
    assert [name for name, _ in listed[:2]] == ["exempt", "probes"] and listed[-1][0] == "catch-all"

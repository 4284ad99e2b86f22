"""admissionregistration.k8s.io/v1 webhook configurations get upstream's defaults (SetDefaults_MutatingWebhook,
_ValidatingWebhook, _Rule, _ServiceReference), on POST and as read back."""

from __future__ import annotations

from kapiserver.registry import defaults
from tests.endpoints.inprocess import served

GROUP = "admissionregistration.k8s.io"
BASE = f"/apis/{GROUP}/v1"


def _configuration(kind: str, **hook) -> dict:
    webhook = {"name": "hook.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
               "clientConfig": {"service": {"name": "svc", "namespace": "ns"}},
               "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]}
    webhook.update(hook)
    return {"apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": {"name": "cfg"}, "webhooks": [webhook]}


def test_mutating_webhook_defaults_on_create_and_get():
    call = served()
    created = call("POST", f"{BASE}/mutatingwebhookconfigurations", _configuration("MutatingWebhookConfiguration"))
    assert created.code == 201, created.body
    for answer in (created, call("GET", f"{BASE}/mutatingwebhookconfigurations/cfg")):
        hook = answer.body["webhooks"][0]
        assert list(hook) == ["name", "clientConfig", "rules", "failurePolicy", "matchPolicy", "namespaceSelector",
                              "objectSelector", "sideEffects", "timeoutSeconds", "admissionReviewVersions",
                              "reinvocationPolicy"]
        assert (hook["failurePolicy"], hook["matchPolicy"], hook["namespaceSelector"], hook["objectSelector"],
                hook["timeoutSeconds"], hook["reinvocationPolicy"]) == ("Fail", "Equivalent", {}, {}, 10, "Never")
        assert hook["rules"][0]["scope"] == "*"
        assert hook["clientConfig"]["service"] == {"namespace": "ns", "name": "svc", "port": 443}


def test_validating_webhook_defaults_have_no_reinvocation_policy():
    call = served()
    created = call("POST", f"{BASE}/validatingwebhookconfigurations",
                   _configuration("ValidatingWebhookConfiguration"))
    assert created.code == 201, created.body
    hook = call("GET", f"{BASE}/validatingwebhookconfigurations/cfg").body["webhooks"][0]
    assert "reinvocationPolicy" not in hook
    assert (hook["failurePolicy"], hook["matchPolicy"], hook["timeoutSeconds"]) == ("Fail", "Equivalent", 10)
    assert hook["clientConfig"]["service"]["port"] == 443


def test_set_values_are_kept():
    obj = _configuration("MutatingWebhookConfiguration", failurePolicy="Ignore", matchPolicy="Exact",
                         timeoutSeconds=5, reinvocationPolicy="IfNeeded", namespaceSelector={"matchLabels": {"a": "b"}},
                         clientConfig={"url": "https://example.com/hook"})
    obj["webhooks"][0]["rules"][0]["scope"] = "Namespaced"
    defaults.apply_defaults(GROUP, "v1", "MutatingWebhookConfiguration", obj)
    hook = obj["webhooks"][0]
    assert (hook["failurePolicy"], hook["matchPolicy"], hook["timeoutSeconds"], hook["reinvocationPolicy"],
            hook["namespaceSelector"], hook["objectSelector"]) == ("Ignore", "Exact", 5, "IfNeeded",
                                                                   {"matchLabels": {"a": "b"}}, {})
    assert hook["rules"][0]["scope"] == "Namespaced"
    assert hook["clientConfig"] == {"url": "https://example.com/hook"}

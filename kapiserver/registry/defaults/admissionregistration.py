"""Defaults of admissionregistration.k8s.io/v1 (pkg/apis/admissionregistration/v1/defaults.go): the webhooks of a
Mutating/ValidatingWebhookConfiguration (SetDefaults_MutatingWebhook, _ValidatingWebhook, _Rule and
_ServiceReference) and a ValidatingAdmissionPolicy's spec and match resources, and a binding's."""

from __future__ import annotations

from ._util import go_order, items, set_if_nil, sub

# The Go structs' field order (encoding/json writes a struct's fields in it).
_RULE_FIELDS = ("operations", "apiGroups", "apiVersions", "resources", "scope")
_SERVICE_FIELDS = ("namespace", "name", "path", "port")
_VALIDATING_FIELDS = ("name", "clientConfig", "rules", "failurePolicy", "matchPolicy", "namespaceSelector",
                      "objectSelector", "sideEffects", "timeoutSeconds", "admissionReviewVersions", "matchConditions")
_MUTATING_FIELDS = _VALIDATING_FIELDS[:-1] + ("reinvocationPolicy", "matchConditions")

DEFAULT_TIMEOUT_SECONDS = 10
DEFAULT_SERVICE_PORT = 443


def _webhook(hook: dict, mutating: bool) -> None:
    set_if_nil(hook, "failurePolicy", "Fail")
    set_if_nil(hook, "matchPolicy", "Equivalent")
    set_if_nil(hook, "namespaceSelector", {})
    set_if_nil(hook, "objectSelector", {})
    set_if_nil(hook, "timeoutSeconds", DEFAULT_TIMEOUT_SECONDS)
    if mutating:
        set_if_nil(hook, "reinvocationPolicy", "Never")
    for rule in items(hook, "rules"):
        set_if_nil(rule, "scope", "*")
        go_order(rule, _RULE_FIELDS)
    client = hook.get("clientConfig")
    service = client.get("service") if isinstance(client, dict) else None
    if isinstance(service, dict):
        set_if_nil(service, "port", DEFAULT_SERVICE_PORT)
        go_order(service, _SERVICE_FIELDS)
    go_order(hook, _MUTATING_FIELDS if mutating else _VALIDATING_FIELDS)


def mutating_webhook_configuration(obj: dict) -> None:
    for hook in items(obj, "webhooks"):
        _webhook(hook, True)


def validating_webhook_configuration(obj: dict) -> None:
    for hook in items(obj, "webhooks"):
        _webhook(hook, False)


def _match_resources(match) -> None:
    """SetDefaults_MatchResources and the rules' scope (SetDefaults_Rule)."""
    if not isinstance(match, dict):
        return
    set_if_nil(match, "matchPolicy", "Equivalent")
    set_if_nil(match, "namespaceSelector", {})
    set_if_nil(match, "objectSelector", {})
    for key in ("resourceRules", "excludeResourceRules"):
        for rule in items(match, key):
            set_if_nil(rule, "scope", "*")


def validating_admission_policy(obj: dict) -> None:
    spec = sub(obj, "spec")
    set_if_nil(spec, "failurePolicy", "Fail")
    _match_resources(spec.get("matchConstraints"))


def validating_admission_policy_binding(obj: dict) -> None:
    _match_resources(sub(obj, "spec").get("matchResources"))


GROUP = "admissionregistration.k8s.io"
DEFAULTERS = {
    (GROUP, "*", "MutatingWebhookConfiguration"): mutating_webhook_configuration,
    (GROUP, "*", "ValidatingWebhookConfiguration"): validating_webhook_configuration,
    (GROUP, "*", "ValidatingAdmissionPolicy"): validating_admission_policy,
    (GROUP, "*", "ValidatingAdmissionPolicyBinding"): validating_admission_policy_binding,
}

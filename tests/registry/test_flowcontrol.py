"""flowcontrol.apiserver.k8s.io/v1: upstream's defaults, validation rules and Table rows for FlowSchemas and
PriorityLevelConfigurations, and the bootstrap objects passing their own validation unchanged by defaulting."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from kapiserver.registry import apfbootstrap
from kapiserver.registry.defaults import apply_defaults
from kapiserver.registry.printers import printer_for
from kapiserver.registry.validation import validate

GROUP = "flowcontrol.apiserver.k8s.io"
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def errors(kind: str, obj: dict, old: dict = None) -> list[tuple[str, str]]:
    return [(e.field, e.body) for e in validate(GROUP, "v1", kind, obj, old, False)]


def fs(name="fs", **spec) -> dict:
    body = {"priorityLevelConfiguration": {"name": "global-default"}, "matchingPrecedence": 500,
            "rules": [{"subjects": [{"kind": "User", "user": {"name": "alice"}}],
                       "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]}]}
    body.update(spec)
    return {"apiVersion": f"{GROUP}/v1", "kind": "FlowSchema", "metadata": {"name": name}, "spec": body}


def pl(name="pl", **spec) -> dict:
    body = {"type": "Limited", "limited": {"nominalConcurrencyShares": 2, "lendablePercent": 0,
                                           "limitResponse": {"type": "Reject"}}}
    body.update(spec)
    return {"apiVersion": f"{GROUP}/v1", "kind": "PriorityLevelConfiguration", "metadata": {"name": name},
            "spec": body}


def test_defaults():
    schema = {"spec": {"priorityLevelConfiguration": {"name": "x"}}}
    apply_defaults(GROUP, "v1", "FlowSchema", schema)
    assert schema["spec"]["matchingPrecedence"] == 1000
    level = {"spec": {"type": "Limited", "limited": {"limitResponse": {"type": "Queue", "queuing": {}}}}}
    apply_defaults(GROUP, "v1", "PriorityLevelConfiguration", level)
    assert level["spec"]["limited"] == {"nominalConcurrencyShares": 30, "lendablePercent": 0, "limitResponse": {
        "type": "Queue", "queuing": {"queues": 64, "handSize": 8, "queueLengthLimit": 50}}}
    explicit_zero = {"spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 0,
                                                             "limitResponse": {"type": "Reject"}}}}
    apply_defaults(GROUP, "v1", "PriorityLevelConfiguration", explicit_zero)
    assert explicit_zero["spec"]["limited"]["nominalConcurrencyShares"] == 0
    exempt = {"spec": {"type": "Exempt", "exempt": {}}}
    apply_defaults(GROUP, "v1", "PriorityLevelConfiguration", exempt)
    assert exempt["spec"]["exempt"] == {"nominalConcurrencyShares": 0, "lendablePercent": 0}


def test_bootstrap_objects_are_valid_and_already_defaulted():
    for name in apfbootstrap.MANDATORY_FLOW_SCHEMAS + apfbootstrap.SUGGESTED_FLOW_SCHEMAS:
        obj = apfbootstrap.flow_schema(name)
        defaulted = copy.deepcopy(obj)
        apply_defaults(GROUP, "v1", "FlowSchema", defaulted)
        assert defaulted == obj and errors("FlowSchema", obj) == [], name
        assert obj["metadata"]["annotations"] == {"apf.kubernetes.io/autoupdate-spec": "true"}
    for name in apfbootstrap.MANDATORY_PRIORITY_LEVELS + apfbootstrap.SUGGESTED_PRIORITY_LEVELS:
        obj = apfbootstrap.priority_level(name)
        defaulted = copy.deepcopy(obj)
        apply_defaults(GROUP, "v1", "PriorityLevelConfiguration", defaulted)
        assert defaulted == obj and errors("PriorityLevelConfiguration", obj) == [], name


def test_bootstrap_values():
    catch_all = apfbootstrap.priority_level("catch-all")["spec"]
    assert catch_all == {"type": "Limited", "limited": {"nominalConcurrencyShares": 5, "lendablePercent": 0,
                                                        "limitResponse": {"type": "Reject"}}}
    assert apfbootstrap.priority_level("workload-low")["spec"]["limited"] == {
        "nominalConcurrencyShares": 100, "lendablePercent": 90,
        "limitResponse": {"type": "Queue", "queuing": {"queues": 128, "handSize": 6, "queueLengthLimit": 50}}}
    probes = apfbootstrap.flow_schema("probes")["spec"]
    assert probes["priorityLevelConfiguration"] == {"name": "exempt"} and "distinguisherMethod" not in probes
    assert probes["rules"][0]["nonResourceRules"] == [
        {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/readyz", "/livez"]}]
    endpoints = apfbootstrap.flow_schema("endpoint-controller")["spec"]
    assert endpoints["matchingPrecedence"] == 150
    assert [s.get("user", s.get("serviceAccount")) for s in endpoints["rules"][0]["subjects"]] == [
        {"name": "system:kube-controller-manager"},
        {"namespace": "kube-system", "name": "endpoint-controller"},
        {"namespace": "kube-system", "name": "endpointslicemirroring-controller"}]
    # Since 1.29 the control plane's leader election is by Lease only (workload-leader-election keeps the rest).
    assert [rule["resources"] for rule in
            apfbootstrap.flow_schema("system-leader-election")["spec"]["rules"][0]["resourceRules"]] == [["leases"]]


def test_flow_schema_rules():
    assert errors("FlowSchema", fs()) == []
    assert errors("FlowSchema", fs(matchingPrecedence=1)) == [
        ("spec.matchingPrecedence", "Invalid value: 1: only the schema named 'exempt' may have matchingPrecedence 1")]
    assert errors("FlowSchema", fs(matchingPrecedence=10001)) == [
        ("spec.matchingPrecedence", "Invalid value: 10001: must not be greater than 10000")]
    assert errors("FlowSchema", fs(priorityLevelConfiguration={}, distinguisherMethod={"type": "ByGroup"})) == [
        ("spec.distinguisherMethod.type",
         'Unsupported value: flowcontrol.FlowDistinguisherMethod{Type:"ByGroup"}: supported values: '
         '"ByNamespace", "ByUser"'),
        ("spec.priorityLevelConfiguration.name", "Required value: must reference a priority level")]
    bad_rules = [{"subjects": [{"kind": "Group", "user": {"name": "x"}}, {"kind": "Robot"}],
                  "resourceRules": [{"verbs": ["get", "*"], "apiGroups": [], "resources": ["pods"]}]},
                 {"subjects": []}]
    assert errors("FlowSchema", fs(rules=bad_rules)) == [
        ("spec.rules[0].subjects[0].group", "Required value: group is required when subject kind is 'Group'"),
        ("spec.rules[0].subjects[0].user", "Forbidden: user is forbidden when subject kind is not 'User'"),
        ("spec.rules[0].subjects[1].kind",
         'Unsupported value: "Robot": supported values: "Group", "ServiceAccount", "User"'),
        ("spec.rules[0].resourceRules[0].verbs",
         "Invalid value: []string{\"get\", \"*\"}: if '*' is present, must not specify other verbs"),
        ("spec.rules[0].resourceRules[0].apiGroups",
         "Required value: resource rules must supply at least one api group"),
        ("spec.rules[0].resourceRules[0].namespaces",
         "Required value: resource rules that are not cluster scoped must supply at least one namespace"),
        ("spec.rules[1].subjects", "Required value: subjects must contain at least one value"),
        ("spec.rules[1]", "Required value: at least one of resourceRules and nonResourceRules has to be non-empty")]


def test_mandatory_flow_schemas_keep_their_specs():
    exempt = apfbootstrap.flow_schema("exempt")
    assert errors("FlowSchema", exempt) == []
    exempt["spec"]["matchingPrecedence"] = 2
    assert errors("FlowSchema", exempt) == [
        ("spec", "Invalid value: spec: spec of 'exempt' must equal the fixed value")]


def test_priority_level_rules():
    assert errors("PriorityLevelConfiguration", pl()) == []
    assert errors("PriorityLevelConfiguration", pl(type="Exempt")) == [
        ("spec.type", "Invalid value: \"Exempt\": type must be 'Exempt' if and only if name is 'exempt'"),
        ("spec.limited", "Forbidden: must be nil if the type is not Limited")]
    assert errors("PriorityLevelConfiguration", pl(type="Limited", limited=None)) == [
        ("spec.limited", "Required value: must not be empty when type is Limited")]
    queuing = {"queues": 4, "handSize": 5, "queueLengthLimit": 0}
    assert errors("PriorityLevelConfiguration", pl(limited={
        "nominalConcurrencyShares": -1, "lendablePercent": 101,
        "limitResponse": {"type": "Queue", "queuing": queuing}})) == [
        ("spec.limited.nominalConcurrencyShares", "Invalid value: -1: must be a non-negative integer"),
        ("spec.limited.lendablePercent", "Invalid value: 101: must be between 0 and 100, inclusive"),
        ("spec.limited.limitResponse.queuing.queueLengthLimit", "Invalid value: 0: must be positive"),
        ("spec.limited.limitResponse.queuing.handSize", "Invalid value: 5: should not be greater than queues (4)")]
    assert errors("PriorityLevelConfiguration", pl(limited={
        "nominalConcurrencyShares": 1, "limitResponse": {"type": "Queue"}})) == [
        ("spec.limited.limitResponse.queuing",
         "Required value: must not be empty if limited.limitResponse.type is Limited")]
    assert errors("PriorityLevelConfiguration", pl(type="Other")) == [
        ("spec.type", 'Unsupported value: "Other": supported values: "Exempt", "Limited"')]


def test_mandatory_priority_levels():
    catch_all = apfbootstrap.priority_level("catch-all")
    catch_all["spec"]["limited"]["nominalConcurrencyShares"] = 6
    assert errors("PriorityLevelConfiguration", catch_all) == [
        ("spec", "Invalid value: spec: spec of 'catch-all' must equal the fixed value")]
    exempt = apfbootstrap.priority_level("exempt")
    exempt["spec"]["exempt"]["nominalConcurrencyShares"] = 10    # the exempt level's shares are the admin's
    assert errors("PriorityLevelConfiguration", exempt) == []


def test_status_conditions_are_typed_once():
    schema = fs()
    schema["status"] = {"conditions": [{"type": "Dangling", "status": "False"}, {"type": "Dangling"}, {}]}
    assert errors("FlowSchema", schema) == [
        ("status.conditions[1].type", 'Duplicate value: "Dangling"'),
        ("status.conditions[2].type", "Required value: must not be empty")]


def test_flow_schema_rows():
    printer = printer_for(GROUP, "flowschemas")
    assert [c["name"] for c in printer.columns] == ["Name", "PriorityLevel", "MatchingPrecedence",
                                                     "DistinguisherMethod", "Age", "MissingPL"]
    schema = apfbootstrap.flow_schema("exempt")
    schema["metadata"]["creationTimestamp"] = "2024-05-01T11:00:00Z"
    assert printer.row(schema, NOW) == ["exempt", "exempt", 1, "<none>", "60m", "?"]
    schema = apfbootstrap.flow_schema("global-default")
    schema["metadata"]["creationTimestamp"] = "2024-05-01T11:00:00Z"
    schema["status"] = {"conditions": [{"type": "Dangling", "status": "False", "reason": "Found"}]}
    assert printer.row(schema, NOW) == ["global-default", "global-default", 9900, "ByUser", "60m", "False"]


@pytest.mark.parametrize("name, row", [
    ("exempt", ["exempt", "Exempt", "<none>", "<none>", "<none>", "<none>"]),
    ("catch-all", ["catch-all", "Limited", 5, "<none>", "<none>", "<none>"]),
    ("leader-election", ["leader-election", "Limited", 10, 16, 4, 50]),
])
def test_priority_level_rows(name, row):
    printer = printer_for(GROUP, "prioritylevelconfigurations")
    assert [c["name"] for c in printer.columns] == ["Name", "Type", "NominalConcurrencyShares", "Queues",
                                                     "HandSize", "QueueLengthLimit", "Age"]
    level = apfbootstrap.priority_level(name)
    level["metadata"]["creationTimestamp"] = "2024-05-01T11:59:00Z"
    assert printer.row(level, NOW) == row + ["60s"]


def test_subjects_verbs_namespaces_and_urls():
    rules = [{"subjects": [{"kind": "ServiceAccount", "serviceAccount": {"name": "*"}},
                           {"kind": "User", "user": {"name": ""}}],
              "resourceRules": [{"verbs": ["get", "escalate"], "apiGroups": ["*"], "resources": ["*"],
                                 "namespaces": ["-foo"]}],
              "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["healthz", "/a b", "/a//b", "/a*",
                                                                         "/metrics/*", "/"]}]}]
    assert errors("FlowSchema", fs(rules=rules)) == [
        ("spec.rules[0].subjects[0].serviceAccount.namespace",
         "Required value: must specify namespace for service account"),
        ("spec.rules[0].subjects[1].user.name", "Required value"),
        ("spec.rules[0].resourceRules[0].verbs",
         'Unsupported value: []string{"get", "escalate"}: supported values: "create", "delete", '
         '"deletecollection", "get", "list", "patch", "proxy", "update", "watch"'),
        ("spec.rules[0].resourceRules[0].namespaces[0]",
         "Invalid value: \"-foo\": each member of this list must be '*' or a DNS-1123 label; a lowercase RFC 1123 "
         "label must consist of lower case alphanumeric characters or '-', and must start and end with an "
         "alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
         "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"),
        ("spec.rules[0].nonResourceRules[0].nonResourceURLs[0]", 'Invalid value: "healthz": must start with slash'),
        ("spec.rules[0].nonResourceRules[0].nonResourceURLs[1]",
         'Invalid value: "/a b": must not contain white-space'),
        ("spec.rules[0].nonResourceRules[0].nonResourceURLs[2]",
         'Invalid value: "/a//b": must not contain double slash'),
        ("spec.rules[0].nonResourceRules[0].nonResourceURLs[3]",
         'Invalid value: "/a*": wildcard can only do suffix matching')]


def test_queuing_entropy_and_the_exempt_levels_fixed_part():
    queuing = {"queues": 512, "handSize": 8, "queueLengthLimit": 100}
    assert errors("PriorityLevelConfiguration", pl(limited={
        "nominalConcurrencyShares": 1, "limitResponse": {"type": "Queue", "queuing": queuing}})) == [
        ("spec.limited.limitResponse.queuing.handSize",
         "Invalid value: 8: required entropy bits of deckSize 512 and handSize 8 should not be greater than 60")]
    exempt = apfbootstrap.priority_level("exempt")
    exempt["spec"]["limited"] = {"nominalConcurrencyShares": 1, "limitResponse": {"type": "Reject"}}
    assert errors("PriorityLevelConfiguration", exempt) == [
        ("spec.limited", "Forbidden: must be nil if the type is not Limited"),
        ("spec", "Invalid value: spec: spec of 'exempt' except the 'spec.exempt' field must equal the fixed value")]

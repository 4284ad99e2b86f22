"""The stored kinds of scheduling.k8s.io, node.k8s.io and storage.k8s.io (CSI) beside StorageClass:
defaulting, validation (upstream's paths and messages), Table rows, and the Store's behaviour for them."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from kapiserver.machinery.errors import StatusError
from kapiserver.registry.defaults import apply_defaults
from kapiserver.registry.printers import printer_for
from kapiserver.registry.store import ListOptions
from kapiserver.registry.validation import validate

from tests.controllers.conftest import run

NOW = datetime(2024, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
CREATED = "2024-01-01T11:00:00Z"


def defaulted(group, kind, obj, version="v1"):
    obj = copy.deepcopy(obj)
    apply_defaults(group, version, kind, obj)
    return obj


def errors(group, kind, obj, old=None, namespaced=False, version="v1"):
    obj = defaulted(group, kind, obj, version)
    if old is not None:
        old = defaulted(group, kind, old, version)
    return [str(e) for e in validate(group, version, kind, obj, old, namespaced)]


def row(group, resource, obj):
    return printer_for(group, resource).row(obj, NOW)


def headers(group, resource):
    return [c["name"] for c in printer_for(group, resource).columns]


# -- scheduling.k8s.io/v1 PriorityClass -------------------------------------------------------

SCHED = "scheduling.k8s.io"


def pc(name="high", value=1000, **fields):
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name, "creationTimestamp": CREATED, "resourceVersion": "1"}, "value": value,
            **fields}


def test_priority_class_defaults():
    assert defaulted(SCHED, "PriorityClass", {"metadata": {"name": "x"}})["preemptionPolicy"] == \
        "PreemptLowerPriority"
    assert defaulted(SCHED, "PriorityClass", {"metadata": {"name": "x"}})["value"] == 0
    assert defaulted(SCHED, "PriorityClass", pc(preemptionPolicy="Never"))["preemptionPolicy"] == "Never"


def test_priority_class_validation():
    assert errors(SCHED, "PriorityClass", pc()) == []
    assert errors(SCHED, "PriorityClass", pc(value=1_000_000_000)) == []
    assert errors(SCHED, "PriorityClass", pc(value=1_000_000_001)) == [
        "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]
    assert errors(SCHED, "PriorityClass", pc(value=-5)) == []
    assert errors(SCHED, "PriorityClass", pc("system-foo")) == [
        "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use "
        "only. error: system-foo is not a known system priority class"]
    assert errors(SCHED, "PriorityClass", pc("system-node-critical", 5)) == [
        "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use "
        "only. error: value of system-node-critical PriorityClass must be 2000001000"]
    assert errors(SCHED, "PriorityClass", pc("system-cluster-critical", 2_000_000_000, globalDefault=True)) == [
        "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use "
        "only. error: globalDefault of system-cluster-critical PriorityClass must be false"]
    assert errors(SCHED, "PriorityClass", pc("system-node-critical", 2_000_001_000)) == []
    assert errors(SCHED, "PriorityClass", pc(preemptionPolicy="Sometimes")) == [
        'preemptionPolicy: Unsupported value: "Sometimes": supported values: "PreemptLowerPriority", "Never"']
    assert errors(SCHED, "PriorityClass", pc(preemptionPolicy="")) == ["preemptionPolicy: Required value"]
    assert errors(SCHED, "PriorityClass", pc("Bad_Name"))[0].startswith('metadata.name: Invalid value: "Bad_Name"')


def test_priority_class_update_keeps_value_and_policy():
    old = pc()
    assert errors(SCHED, "PriorityClass", pc(description="new words", globalDefault=True), old) == []
    assert errors(SCHED, "PriorityClass", pc(value=7), old) == [
        "value: Forbidden: may not be changed in an update."]
    assert errors(SCHED, "PriorityClass", pc(preemptionPolicy="Never"), old) == [
        'preemptionPolicy: Invalid value: "Never": field is immutable']


def test_priority_class_table():
    assert headers(SCHED, "priorityclasses") == ["Name", "Value", "Global-Default", "Age", "PreemptionPolicy"]
    columns = printer_for(SCHED, "priorityclasses").columns
    assert [c["type"] for c in columns] == ["string", "integer", "boolean", "string", "string"]
    assert columns[1]["description"].startswith("value represents the integer value of this priority class")
    assert row(SCHED, "priorityclasses", defaulted(SCHED, "PriorityClass", pc(globalDefault=True))) == [
        "high", 1000, True, "60m", "PreemptLowerPriority"]


def test_priority_class_store(store_registry):
    """The system classes the apiserver creates at start; they cannot be deleted one by one; a new class
    starts at generation 1 and keeps it."""
    from kapiserver.controllers.bootstrap import ensure_system_priority_classes
    run(ensure_system_priority_classes(store_registry))
    run(ensure_system_priority_classes(store_registry))   # idempotent
    store = store_registry.store(SCHED, "v1", "priorityclasses")
    items, _ = run(store.list(None, ListOptions()))
    by_name = {i["metadata"]["name"]: i for i in items}
    assert {n: (i["value"], i["description"], i["preemptionPolicy"]) for n, i in by_name.items()} == {
        "system-node-critical": (2000001000, "Used for system critical pods that must not be moved from their "
                                             "current node.", "PreemptLowerPriority"),
        "system-cluster-critical": (2000000000, "Used for system critical pods that must run in the cluster, "
                                                "but can be moved to another node if necessary.",
                                    "PreemptLowerPriority"),
    }
    with pytest.raises(StatusError) as e:
        run(store.delete(None, "system-node-critical"))
    assert e.value.code == 403
    assert e.value.to_status()["message"] == ('priorityclasses.scheduling.k8s.io "system-node-critical" is '
                                             'forbidden: this is a system priority class and cannot be deleted')
    created = run(store.create(None, pc()))
    assert created["metadata"]["generation"] == 1
    updated, _ = run(store.update(None, "high", lambda old: {**old, "description": "changed"}))
    assert updated["metadata"]["generation"] == 1
    obj, deleted = run(store.delete(None, "high"))
    assert deleted


# -- node.k8s.io/v1 RuntimeClass --------------------------------------------------------------

NODE = "node.k8s.io"


def rc(name="gvisor", handler="runsc", **fields):
    return {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
            "metadata": {"name": name, "creationTimestamp": CREATED, "resourceVersion": "1"}, "handler": handler,
            **fields}


def test_runtime_class_defaults():
    assert defaulted(NODE, "RuntimeClass", {"metadata": {"name": "x"}})["handler"] == ""
    assert defaulted(NODE, "RuntimeClass", rc(overhead={"podFixed": {"cpu": "1000m", "memory": "1024Mi"}}))[
        "overhead"] == {"podFixed": {"cpu": "1", "memory": "1Gi"}}


def test_runtime_class_validation():
    assert errors(NODE, "RuntimeClass", rc()) == []
    assert errors(NODE, "RuntimeClass", rc(handler="Not_A_Label")) == [
        'handler: Invalid value: "Not_A_Label": a lowercase RFC 1123 label must consist of lower case alphanumeric '
        "characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
        "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]
    assert errors(NODE, "RuntimeClass", rc(handler=""))[0].startswith('handler: Invalid value: ""')
    assert errors(NODE, "RuntimeClass", rc(overhead={"podFixed": {"cpu": "-1"}})) == [
        'overhead.limits[cpu]: Invalid value: "-1": must be greater than or equal to 0']
    assert errors(NODE, "RuntimeClass", rc(scheduling={
        "nodeSelector": {"bad key!": "v"},
        "tolerations": [{"key": "k", "operator": "Maybe"}]})) == [
        'scheduling.nodeSelector: Invalid value: "bad key!": name part must consist of alphanumeric characters, '
        "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  "
        "or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        'scheduling.tolerations[0].operator: Unsupported value: "Maybe": supported values: "Equal", "Exists"']
    assert errors(NODE, "RuntimeClass", rc(handler="kata"), rc()) == [
        'handler: Invalid value: "kata": field is immutable']
    assert errors(NODE, "RuntimeClass", rc(scheduling={"nodeSelector": {"a": "b"}}), rc()) == []


def test_runtime_class_table():
    assert headers(NODE, "runtimeclasses") == ["Name", "Handler", "Age"]
    assert [c["description"] for c in printer_for(NODE, "runtimeclasses").columns][1] == ""
    assert row(NODE, "runtimeclasses", rc()) == ["gvisor", "runsc", "60m"]


def test_runtime_class_put_creates(store_registry):
    store = store_registry.store(NODE, "v1", "runtimeclasses")
    new = rc()
    del new["metadata"]["resourceVersion"]
    obj, created = run(store.update(None, "gvisor", lambda old: new))
    assert created and obj["handler"] == "runsc" and "generation" not in obj["metadata"]

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


def unstored(obj: dict) -> dict:
    """``obj`` as a create sends it: without the resourceVersion the helpers give it (a create naming one is
    refused, as upstream's storage refuses it)."""
    meta = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
    return {**obj, "metadata": meta}


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


def test_no_system_priority_classes_when_the_group_is_off(tmp_path):
    """--runtime-config=scheduling.k8s.io/v1=false: nothing to create, and no error."""
    from twisted.internet import reactor

    from kapiserver.controllers.bootstrap import ensure_system_priority_classes
    from kapiserver.registry.catalog import Catalog, enabled_builtin
    from kapiserver.registry.registry import Registry
    from kapiserver.storage.sqlite import open_sqlite
    storage = run(open_sqlite(str(tmp_path / "data"), reactor))
    try:
        registry = Registry(storage, reactor, Catalog(enabled_builtin({"scheduling.k8s.io/v1": False})))
        assert registry.lookup(SCHED, "v1", "priorityclasses") is None
        run(ensure_system_priority_classes(registry))
    finally:
        run(storage.close())


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
    created = run(store.create(None, unstored(pc())))
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


# -- storage.k8s.io/v1 CSIDriver, CSINode, CSIStorageCapacity, VolumeAttachment -----------------

STORAGE = "storage.k8s.io"


def csi(kind, name, namespace=None, **fields):
    meta = {"name": name, "creationTimestamp": CREATED, "resourceVersion": "1"}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "storage.k8s.io/v1", "kind": kind, "metadata": meta, **fields}


def test_csi_driver_defaults_and_table():
    driver = defaulted(STORAGE, "CSIDriver", csi("CSIDriver", "hostpath.csi.k8s.io"))
    assert driver["spec"] == {"attachRequired": True, "podInfoOnMount": False, "storageCapacity": False,
                              "fsGroupPolicy": "ReadWriteOnceWithFSType", "volumeLifecycleModes": ["Persistent"],
                              "requiresRepublish": False, "seLinuxMount": False}
    assert headers(STORAGE, "csidrivers") == ["Name", "AttachRequired", "PodInfoOnMount", "StorageCapacity",
                                              "TokenRequests", "RequiresRepublish", "Modes", "Age"]
    assert row(STORAGE, "csidrivers", driver) == [
        "hostpath.csi.k8s.io", True, False, False, "<unset>", False, "Persistent", "60m"]
    driver["spec"].update(tokenRequests=[{"audience": "a"}, {"audience": "b"}],
                          volumeLifecycleModes=["Persistent", "Ephemeral"])
    assert row(STORAGE, "csidrivers", driver)[4:7] == ["a,b", False, "Persistent,Ephemeral"]


def test_csi_driver_validation():
    assert errors(STORAGE, "CSIDriver", csi("CSIDriver", "hostpath.csi.k8s.io")) == []
    assert errors(STORAGE, "CSIDriver", csi("CSIDriver", "d", spec={
        "fsGroupPolicy": "Sometimes", "volumeLifecycleModes": ["Forever"],
        "tokenRequests": [{"audience": "x", "expirationSeconds": 60}, {"audience": "x"}]})) == [
        'spec.fsGroupPolicy: Unsupported value: "Sometimes": supported values: "File", "None", '
        '"ReadWriteOnceWithFSType"',
        "spec.tokenRequests[0].expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes",
        'spec.tokenRequests[1].audience: Duplicate value: "x"',
        'spec.volumeLifecycleModes: Unsupported value: "Forever": supported values: "Persistent", "Ephemeral"']
    old = csi("CSIDriver", "d")
    assert errors(STORAGE, "CSIDriver", csi("CSIDriver", "d", spec={"podInfoOnMount": True}), old) == []
    assert errors(STORAGE, "CSIDriver", csi("CSIDriver", "d", spec={"attachRequired": False}), old) == [
        "spec.attachedRequired: Invalid value: false: field is immutable"]
    assert errors(STORAGE, "CSIDriver", csi("CSIDriver", "d", spec={"volumeLifecycleModes": ["Ephemeral"]}),
                  old) == ['spec.volumeLifecycleModes: Invalid value: []storage.VolumeLifecycleMode{"Ephemeral"}: '
                           'field is immutable']


def test_csi_node():
    node = csi("CSINode", "node-1", spec={"drivers": [{"name": "hostpath.csi.k8s.io", "nodeID": "node-1"}]})
    assert defaulted(STORAGE, "CSINode", node)["spec"]["drivers"][0]["topologyKeys"] is None
    assert defaulted(STORAGE, "CSINode", csi("CSINode", "n"))["spec"] == {"drivers": None}
    assert errors(STORAGE, "CSINode", node) == []
    assert headers(STORAGE, "csinodes") == ["Name", "Drivers", "Age"]
    assert row(STORAGE, "csinodes", node) == ["node-1", 1, "60m"]
    bad = csi("CSINode", "n", spec={"drivers": [
        {"name": "d", "nodeID": "x" * 193, "topologyKeys": ["zone", "zone"]},
        {"name": "d", "nodeID": "", "allocatable": {"count": -1}}]})
    assert errors(STORAGE, "CSINode", bad) == [
        f'spec.drivers[0].nodeID: Invalid value: "{"x" * 193}": must be 192 characters or less',
        'spec.drivers[0]: Duplicate value: "zone"',
        "spec.drivers[1].nodeID: Required value",
        "spec.drivers[1].allocatable.count: Invalid value: -1: must be greater than or equal to 0",
        'spec.drivers[1].name: Duplicate value: "d"']
    same = copy.deepcopy(node)
    same["spec"]["drivers"][0]["topologyKeys"] = []   # Go's semantic equality: no list and an empty one agree
    assert errors(STORAGE, "CSINode", same, node) == []
    changed = copy.deepcopy(node)
    changed["spec"]["drivers"][0]["nodeID"] = "other"
    assert errors(STORAGE, "CSINode", changed, node) == [
        'spec.drivers: Invalid value: storage.CSINodeDriver{Name:"hostpath.csi.k8s.io", NodeID:"other", '
        'TopologyKeys:[]string(nil), Allocatable:(*storage.VolumeNodeResources)(nil)}: field is immutable']


def test_csi_storage_capacity():
    capacity = csi("CSIStorageCapacity", "cap", "default", storageClassName="standard", capacity="1024Mi",
                   nodeTopology={"matchLabels": {"zone": "a"}})
    assert defaulted(STORAGE, "CSIStorageCapacity", capacity)["capacity"] == "1Gi"
    assert errors(STORAGE, "CSIStorageCapacity", capacity, namespaced=True) == []
    # upstream's storage serves them through the default table convertor, whatever its printers declare
    assert headers(STORAGE, "csistoragecapacities") == ["Name", "Created At"]
    assert row(STORAGE, "csistoragecapacities", capacity) == ["cap", CREATED]
    assert errors(STORAGE, "CSIStorageCapacity", csi("CSIStorageCapacity", "c", "default", storageClassName="Bad!",
                                                     capacity="-1"), namespaced=True) == [
        'storageClassName: Invalid value: "Bad!": a lowercase RFC 1123 subdomain must consist of lower case '
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
        "'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        'capacity: Invalid value: "-1": must be greater than or equal to 0']
    moved = copy.deepcopy(capacity)
    moved["storageClassName"] = "fast"
    moved["nodeTopology"] = {"matchLabels": {"zone": "b"}}
    assert errors(STORAGE, "CSIStorageCapacity", moved, capacity, namespaced=True) == [
        'nodeTopology: Invalid value: &v1.LabelSelector{MatchLabels:map[string]string{"zone":"b"}, '
        'MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable',
        'storageClassName: Invalid value: "fast": field is immutable']


def attachment(**spec):
    return csi("VolumeAttachment", "va-1", spec={"attacher": "hostpath.csi.k8s.io", "nodeName": "node-1",
                                                 "source": {"persistentVolumeName": "pv-1"}, **spec})


def test_volume_attachment_validation_and_table():
    va = defaulted(STORAGE, "VolumeAttachment", attachment())
    assert errors(STORAGE, "VolumeAttachment", va) == []
    assert headers(STORAGE, "volumeattachments") == ["Name", "Attacher", "PV", "Node", "Attached", "Age"]
    assert printer_for(STORAGE, "volumeattachments").columns[1]["format"] == "name"
    assert row(STORAGE, "volumeattachments", va) == ["va-1", "hostpath.csi.k8s.io", "pv-1", "node-1", False, "60m"]
    assert errors(STORAGE, "VolumeAttachment", attachment(source={})) == [
        "spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName"]
    assert errors(STORAGE, "VolumeAttachment", attachment(source={
        "persistentVolumeName": "pv", "inlineVolumeSpec": {}})) == [
        "spec.source: Forbidden: must specify exactly one of inlineVolumeSpec and persistentVolumeName"]
    assert errors(STORAGE, "VolumeAttachment", attachment(source={"inlineVolumeSpec": {
        "capacity": {"storage": "1Gi"}}})) == [
        "spec.source.inlineVolumeSpec.accessModes: Required value",
        "spec.source.inlineVolumeSpec.capacity: Forbidden: may not be specified in the context of inline volumes",
        "spec.source.inlineVolumeSpec.csi: Required value: has to be specified in the context of inline volumes"]
    assert errors(STORAGE, "VolumeAttachment", attachment(attacher="Bad_Attacher")) == [
        'spec.attacher: Invalid value: "Bad_Attacher": a lowercase RFC 1123 subdomain must consist of lower case '
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
        "'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]
    assert errors(STORAGE, "VolumeAttachment", attachment(nodeName="node-2"), attachment()) == [
        "spec: Invalid value: storage.VolumeAttachmentSpec{...}: field is immutable"]


def test_volume_attachment_status(store_registry):
    """The status starts cleared (attached: false) and changes only through /status, which keeps the spec."""
    store = store_registry.store(STORAGE, "v1", "volumeattachments")
    new = attachment()
    new["status"] = {"attached": True}
    created = run(store.create(None, unstored(new)))
    assert created["status"] == {"attached": False}
    assert "generation" not in created["metadata"]

    def attach(old):
        old = copy.deepcopy(old)
        old["status"] = {"attached": True, "attachmentMetadata": {"devicePath": "/dev/sdb"}}
        old["spec"]["nodeName"] = "elsewhere"
        old["metadata"]["labels"] = {"a": "b"}
        return old
    updated, _ = run(store.update(None, "va-1", attach, subresource="status"))
    assert updated["status"] == {"attached": True, "attachmentMetadata": {"devicePath": "/dev/sdb"}}
    assert updated["spec"]["nodeName"] == "node-1" and "labels" not in updated["metadata"]


def test_csi_driver_generation(store_registry):
    store = store_registry.store(STORAGE, "v1", "csidrivers")
    driver = csi("CSIDriver", "hostpath.csi.k8s.io")
    assert run(store.create(None, unstored(driver)))["metadata"]["generation"] == 1

    def republish(old):
        old = copy.deepcopy(old)
        old["spec"]["requiresRepublish"] = True
        return old
    updated, _ = run(store.update(None, "hostpath.csi.k8s.io", republish))
    assert updated["metadata"]["generation"] == 2


def test_which_deletes_answer_with_the_object(store_registry):
    """Upstream's stores of CSIDrivers, CSINodes and VolumeAttachments return the deleted object; the others
    a Status."""
    returns = {resource: store_registry.store(group, "v1", resource).strategy.return_deleted_object
               for group, resource in ((SCHED, "priorityclasses"), (NODE, "runtimeclasses"),
                                       (STORAGE, "csidrivers"), (STORAGE, "csinodes"),
                                       (STORAGE, "csistoragecapacities"), (STORAGE, "volumeattachments"))}
    assert returns == {"priorityclasses": False, "runtimeclasses": False, "csidrivers": True, "csinodes": True,
                       "csistoragecapacities": False, "volumeattachments": True}

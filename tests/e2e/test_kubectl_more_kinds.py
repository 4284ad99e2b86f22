"""kubectl 1.32 against a running kapiserver for the PriorityClass, RuntimeClass and CSI kinds: create (the
create subcommand sends protobuf), get with upstream's columns, explain, and refusals in upstream's words."""

from __future__ import annotations

MANIFEST = """
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: gvisor}
handler: runsc
overhead: {podFixed: {cpu: 250m, memory: 120Mi}}
---
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata: {name: hostpath.csi.k8s.io}
spec: {podInfoOnMount: true, volumeLifecycleModes: [Persistent, Ephemeral]}
---
apiVersion: storage.k8s.io/v1
kind: CSINode
metadata: {name: node-1}
spec:
  drivers: [{name: hostpath.csi.k8s.io, nodeID: node-1, topologyKeys: [topology.hostpath.csi/node]}]
---
apiVersion: storage.k8s.io/v1
kind: CSIStorageCapacity
metadata: {name: capacity-1, namespace: default}
storageClassName: standard
capacity: 10Gi
---
apiVersion: storage.k8s.io/v1
kind: VolumeAttachment
metadata: {name: va-1}
spec: {attacher: hostpath.csi.k8s.io, nodeName: node-1, source: {persistentVolumeName: pv-1}}
"""


def lines(result):
    return [line.split() for line in result.stdout.splitlines()]


def test_priority_classes(kubectl):
    """The system classes exist from the start and cannot be deleted; kubectl create priorityclass makes one."""
    table = lines(kubectl("get", "priorityclasses"))
    assert table[0] == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    rows = {row[0]: row for row in table[1:]}
    assert rows["system-node-critical"][1:3] == ["2000001000", "false"]
    assert rows["system-cluster-critical"][1:3] == ["2000000000", "false"]
    assert rows["system-cluster-critical"][4] == "PreemptLowerPriority"
    kubectl("create", "priorityclass", "high", "--value=1000", "--description=important",
            "--preemption-policy=Never")
    created = kubectl.json("get", "pc", "high")
    assert (created["value"], created["description"], created["preemptionPolicy"]) == (1000, "important", "Never")
    refused = kubectl("delete", "pc", "system-node-critical", check=False)
    assert refused.returncode != 0
    assert ('priorityclasses.scheduling.k8s.io "system-node-critical" is forbidden: this is a system priority '
            "class and cannot be deleted") in refused.stderr
    too_high = kubectl("create", "priorityclass", "too-high", "--value=2000000000", check=False)
    assert too_high.returncode != 0
    assert ('PriorityClass.scheduling.k8s.io "too-high" is invalid: value: Forbidden: maximum allowed value of a '
            "user defined priority is 1000000000") in too_high.stderr
    patched = kubectl("patch", "pc", "high", "--type=merge", "-p", '{"value": 5}', check=False)
    assert "value: Forbidden: may not be changed in an update." in patched.stderr


def test_runtime_class_and_csi_kinds(kubectl):
    """apply creates each kind with its defaults; kubectl get prints upstream's columns."""
    out = kubectl("apply", "-f", "-", input=MANIFEST).stdout
    for line in ("runtimeclass.node.k8s.io/gvisor created", "csidriver.storage.k8s.io/hostpath.csi.k8s.io created",
                 "csinode.storage.k8s.io/node-1 created",
                 "csistoragecapacity.storage.k8s.io/capacity-1 created",
                 "volumeattachment.storage.k8s.io/va-1 created"):
        assert line in out
    assert lines(kubectl("get", "runtimeclass"))[0] == ["NAME", "HANDLER", "AGE"]
    assert lines(kubectl("get", "runtimeclass"))[1][:2] == ["gvisor", "runsc"]
    drivers = lines(kubectl("get", "csidrivers"))
    assert drivers[0] == ["NAME", "ATTACHREQUIRED", "PODINFOONMOUNT", "STORAGECAPACITY", "TOKENREQUESTS",
                          "REQUIRESREPUBLISH", "MODES", "AGE"]
    assert drivers[1][:7] == ["hostpath.csi.k8s.io", "true", "true", "false", "<unset>", "false",
                              "Persistent,Ephemeral"]
    driver = kubectl.json("get", "csidriver", "hostpath.csi.k8s.io")
    assert driver["spec"]["fsGroupPolicy"] == "ReadWriteOnceWithFSType"
    assert driver["spec"]["seLinuxMount"] is False
    assert lines(kubectl("get", "csinodes"))[1][:2] == ["node-1", "1"]
    capacities = lines(kubectl("get", "csistoragecapacities", "-n", "default"))
    assert capacities[0] == ["NAME", "CREATED", "AT"] and capacities[1][0] == "capacity-1"
    attachments = lines(kubectl("get", "volumeattachments"))
    assert attachments[0] == ["NAME", "ATTACHER", "PV", "NODE", "ATTACHED", "AGE"]
    assert attachments[1][:5] == ["va-1", "hostpath.csi.k8s.io", "pv-1", "node-1", "false"]
    kubectl("patch", "volumeattachment", "va-1", "--subresource=status", "--type=merge",
            "-p", '{"status": {"attached": true}}')
    assert lines(kubectl("get", "volumeattachments"))[1][4] == "true"
    bad = kubectl("create", "-f", "-", check=False, input=(
        "apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: bad}\nhandler: Not_A_Label\n"))
    assert 'The RuntimeClass "bad" is invalid: handler: Invalid value: "Not_A_Label"' in bad.stderr


def test_explain(kubectl):
    """kubectl explain finds the new kinds in the published OpenAPI."""
    assert "PriorityClass defines mapping from a priority class name" in kubectl("explain", "priorityclass").stdout
    assert "attachRequired" in kubectl("explain", "csidriver.spec").stdout
    assert "handler" in kubectl("explain", "runtimeclass").stdout
    assert "attached" in kubectl("explain", "volumeattachment.status").stdout


def test_server_side_apply(kubectl):
    """Server-side apply knows the new kinds' schemas: it creates, then changes only what the manager owns."""
    manifest = ("apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: ssa-pc}\nvalue: 100\n"
                "description: {desc}\n")
    assert "serverside-applied" in kubectl("apply", "--server-side", "-f", "-",
                                           input=manifest.replace("{desc}", "first")).stdout
    kubectl("apply", "--server-side", "-f", "-", input=manifest.replace("{desc}", "second"))
    pc = kubectl.json("get", "pc", "ssa-pc", "--show-managed-fields")
    assert (pc["value"], pc["description"], pc["preemptionPolicy"]) == (100, "second", "PreemptLowerPriority")
    assert [m["manager"] for m in pc["metadata"]["managedFields"]] == ["kubectl"]
    attachment = ("apiVersion: storage.k8s.io/v1\nkind: VolumeAttachment\nmetadata: {name: ssa-va}\n"
                  "spec: {attacher: a.example.com, nodeName: n1, source: {persistentVolumeName: pv}}\n"
                  "status: {attached: true}\n")
    kubectl("apply", "--server-side", "-f", "-", input=attachment)
    assert kubectl.json("get", "volumeattachment", "ssa-va")["status"] == {"attached": False}


def test_component_statuses(kubectl):
    """kubectl get cs prints upstream's printer columns from the server's Table (a plain list before gave NAME and
    AGE only), with the deprecation warning upstream sends for every request to v1 ComponentStatus; the
    scheduler and the controller manager are listed whether they answer or not, as upstream lists them."""
    got = kubectl("get", "cs")
    table = lines(got)
    assert table[0] == ["NAME", "STATUS", "MESSAGE", "ERROR"]
    assert [row[0] for row in table[1:]] == ["scheduler", "controller-manager", "etcd-0"]
    assert table[3] == ["etcd-0", "Healthy", "ok"]
    assert "Warning: v1 ComponentStatus is deprecated in v1.19+" in got.stderr
    assert lines(kubectl("get", "cs", "etcd-0")) == [["NAME", "STATUS", "MESSAGE", "ERROR"],
                                                     ["etcd-0", "Healthy", "ok"]]
    assert kubectl.json("get", "cs")["items"][2]["conditions"] == [
        {"type": "Healthy", "status": "True", "message": "ok"}]


def test_scale_subresource_as_a_table(kubectl):
    """kubectl get --subresource=scale asks for a Table: a built-in resource's scale prints with upstream's scale
    printer (DESIRED, AVAILABLE), not the default NAME/AGE."""
    kubectl("create", "deployment", "scaled", "--image=nginx", "--replicas=2")
    table = lines(kubectl("get", "deployment", "scaled", "--subresource=scale"))
    assert table[0] == ["NAME", "DESIRED", "AVAILABLE", "AGE"] and table[1][:3] == ["scaled", "2", "0"]
    assert kubectl.json("get", "deployment", "scaled", "--subresource=scale")["kind"] == "Scale"

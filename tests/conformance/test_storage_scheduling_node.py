"""The API-only entries of [sig-scheduling], [sig-node] and [sig-storage] for the stored kinds an API server
alone serves: PriorityClass endpoints, the RuntimeClass and CSIStorageCapacity APIs, and the CSIDriver,
CSINode and VolumeAttachment lifecycles (with VolumeAttachment's /status)."""

from __future__ import annotations

from tests.conformance.support import MERGE, STRATEGIC, discovery_has, exercise, ok, unique

PRIORITY_CLASSES = "/apis/scheduling.k8s.io/v1/priorityclasses"
CSI_DRIVERS = "/apis/storage.k8s.io/v1/csidrivers"
CSI_NODES = "/apis/storage.k8s.io/v1/csinodes"
VOLUME_ATTACHMENTS = "/apis/storage.k8s.io/v1/volumeattachments"


def _rv(obj) -> int:
    return int(obj["metadata"]["resourceVersion"])


def test_scheduler_verify_priorityclass_endpoints(apiserver):
    """Scheduler, Verify PriorityClass endpoints"""
    label = unique("e2e")
    pcs = [ok(apiserver.request("POST", PRIORITY_CLASSES, {
        "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
        "metadata": {"name": f"{label}-p{i}", "labels": {"e2e": label}}, "value": i})) for i in (1, 2)]
    try:
        # an immutable field: neither a patch nor an update may change it
        status, body = apiserver.request("PATCH", f"{PRIORITY_CLASSES}/{pcs[0]['metadata']['name']}",
                                         {"value": 10}, headers=STRATEGIC)
        assert status == 422 and body["reason"] == "Invalid", body
        changed = dict(pcs[1], value=20)
        status, body = apiserver.request("PUT", f"{PRIORITY_CLASSES}/{pcs[1]['metadata']['name']}", changed)
        assert status == 422, body
        assert body["details"]["causes"] == [{"reason": "FieldValueForbidden",
                                              "message": "Forbidden: may not be changed in an update.",
                                              "field": "value"}]
        # a mutable one: both succeed
        ok(apiserver.request("PATCH", f"{PRIORITY_CLASSES}/{pcs[0]['metadata']['name']}",
                             {"description": "updated description"}, headers=STRATEGIC))
        ok(apiserver.request("PUT", f"{PRIORITY_CLASSES}/{pcs[1]['metadata']['name']}",
                             dict(pcs[1], description="updated description")))
        names = {i["metadata"]["name"] for i in ok(apiserver.request("GET", PRIORITY_CLASSES))["items"]}
        assert {"system-node-critical", "system-cluster-critical"} | {p["metadata"]["name"] for p in pcs} <= names
        for pc in pcs:
            live = ok(apiserver.request("GET", f"{PRIORITY_CLASSES}/{pc['metadata']['name']}"))
            assert live["value"] == pc["value"] and live["description"] == "updated description"
            assert _rv(live) > _rv(pc)
    finally:
        ok(apiserver.request("DELETE", f"{PRIORITY_CLASSES}?labelSelector=e2e%3D{label}"))


def test_runtimeclass_api(apiserver):
    """RuntimeClass API"""
    discovery_has(apiserver, "node.k8s.io/v1", "runtimeclasses")
    label = unique("label")

    def runtime_class(i):
        return {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                "metadata": {"name": f"{label}-{i}", "labels": {"special-label": label}},
                "handler": f"{label}-handler"}
    exercise(apiserver, "/apis/node.k8s.io/v1/runtimeclasses", None, [runtime_class(i) for i in range(3)], label)


def test_csistoragecapacity_api(apiserver, namespace):
    """CSIStorageCapacity API"""
    discovery_has(apiserver, "storage.k8s.io/v1", "csistoragecapacities")
    label = unique("label")

    def capacity(i):
        return {"apiVersion": "storage.k8s.io/v1", "kind": "CSIStorageCapacity",
                "metadata": {"name": f"{label}-{i}", "labels": {"special-label": label}},
                "storageClassName": "e2e.example.com", "capacity": "1Gi"}
    exercise(apiserver, f"/apis/storage.k8s.io/v1/namespaces/{namespace}/csistoragecapacities",
             "/apis/storage.k8s.io/v1/csistoragecapacities", [capacity(i) for i in range(3)], label)


def test_csidriver_lifecycle(apiserver):
    """CSIDriver, lifecycle"""
    label = unique("e2e")
    selector = f"labelSelector=e2e-test%3D{label}"
    drivers = [ok(apiserver.request("POST", CSI_DRIVERS, {
        "apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver",
        "metadata": {"name": unique("inline-driver"), "labels": {"e2e-test": label}},
        "spec": {"volumeLifecycleModes": modes, "fsGroupPolicy": "ReadWriteOnceWithFSType"}}))
        for modes in (["Ephemeral"], ["Ephemeral", "Persistent"])]
    first, second = (d["metadata"]["name"] for d in drivers)
    for driver in drivers:
        assert ok(apiserver.request("GET", f"{CSI_DRIVERS}/{driver['metadata']['name']}"))["spec"][
            "attachRequired"] is True
    patched = ok(apiserver.request("PATCH", f"{CSI_DRIVERS}/{second}",
                                   {"metadata": {"labels": {second: "patched"}}}, headers=MERGE))
    assert patched["metadata"]["labels"][second] == "patched"
    current = ok(apiserver.request("GET", f"{CSI_DRIVERS}/{second}"))
    current["metadata"]["labels"][second] = "updated"
    assert ok(apiserver.request("PUT", f"{CSI_DRIVERS}/{second}", current))["metadata"]["labels"][second] == \
        "updated"
    assert len(ok(apiserver.request("GET", f"{CSI_DRIVERS}?{selector}"))["items"]) == 2
    ok(apiserver.request("DELETE", f"{CSI_DRIVERS}/{first}"))
    assert apiserver.request("GET", f"{CSI_DRIVERS}/{first}")[0] == 404
    ok(apiserver.request("DELETE", f"{CSI_DRIVERS}?{selector}"))
    assert apiserver.request("GET", f"{CSI_DRIVERS}/{second}")[0] == 404


def _csi_node(name):
    return {"apiVersion": "storage.k8s.io/v1", "kind": "CSINode", "metadata": {"name": name},
            "spec": {"drivers": []}}


def test_csinode_lifecycle(apiserver):
    """CSINode, lifecycle"""
    name = unique("e2e-csinode")
    created = ok(apiserver.request("POST", CSI_NODES, _csi_node(name)))
    got = ok(apiserver.request("GET", f"{CSI_NODES}/{name}"))
    assert got["metadata"]["name"] == name
    patched = ok(apiserver.request("PATCH", f"{CSI_NODES}/{name}", {"metadata": {"labels": {name: "patched"}}},
                                   headers=MERGE))
    assert patched["metadata"]["labels"][name] == "patched" and _rv(patched) > _rv(created)
    listed = ok(apiserver.request("GET", f"{CSI_NODES}?labelSelector={name}%3Dpatched"))["items"]
    assert [i["metadata"]["name"] for i in listed] == [name]
    ok(apiserver.request("DELETE", f"{CSI_NODES}/{name}"))
    assert apiserver.request("GET", f"{CSI_NODES}/{name}")[0] == 404
    ok(apiserver.request("POST", CSI_NODES, _csi_node(name)))
    current = ok(apiserver.request("GET", f"{CSI_NODES}/{name}"))
    current["metadata"]["labels"] = {name: "updated"}
    assert ok(apiserver.request("PUT", f"{CSI_NODES}/{name}", current))["metadata"]["labels"] == {name: "updated"}
    ok(apiserver.request("DELETE", f"{CSI_NODES}?labelSelector={name}%3Dupdated"))
    assert apiserver.request("GET", f"{CSI_NODES}/{name}")[0] == 404


def _attachment(name):
    return {"apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment",
            "metadata": {"name": name, "uid": name},
            "spec": {"attacher": "e2e-test.storage.k8s.io", "nodeName": "node-1",
                     "source": {"persistentVolumeName": name.replace("va-", "pv-")}},
            "status": {"attached": False}}


def test_volumeattachment_lifecycle(apiserver):
    """VolumeAttachment, lifecycle"""
    first = unique("va-e2e")
    created = ok(apiserver.request("POST", VOLUME_ATTACHMENTS, _attachment(first)))
    assert created["metadata"]["uid"] != first   # the server names the uid
    got = ok(apiserver.request("GET", f"{VOLUME_ATTACHMENTS}/{first}"))
    patched = ok(apiserver.request("PATCH", f"{VOLUME_ATTACHMENTS}/{first}",
                                   {"metadata": {"labels": {first: "patched"}}}, headers=MERGE))
    assert patched["metadata"]["labels"][first] == "patched" and _rv(patched) > _rv(got)
    listed = ok(apiserver.request("GET", f"{VOLUME_ATTACHMENTS}?labelSelector={first}%3Dpatched"))["items"]
    assert len(listed) == 1
    ok(apiserver.request("DELETE", f"{VOLUME_ATTACHMENTS}/{first}"))
    assert ok(apiserver.request("GET", f"{VOLUME_ATTACHMENTS}?labelSelector={first}%3Dpatched"))["items"] == []
    label = unique("updated")
    for _ in range(2):
        name = unique("va-e2e")
        ok(apiserver.request("POST", VOLUME_ATTACHMENTS, _attachment(name)))
        current = ok(apiserver.request("GET", f"{VOLUME_ATTACHMENTS}/{name}"))
        current["metadata"]["labels"] = {"va-e2e": label}
        assert ok(apiserver.request("PUT", f"{VOLUME_ATTACHMENTS}/{name}", current))["metadata"]["labels"] == {
            "va-e2e": label}
    ok(apiserver.request("DELETE", f"{VOLUME_ATTACHMENTS}?labelSelector=va-e2e%3D{label}"))
    assert ok(apiserver.request("GET", f"{VOLUME_ATTACHMENTS}?labelSelector=va-e2e%3D{label}"))["items"] == []


def test_volumeattachment_apply_changes_to_a_volumeattachment_status(apiserver):
    """VolumeAttachment, apply changes to a volumeattachment status"""
    name = unique("va-e2e")
    ok(apiserver.request("POST", VOLUME_ATTACHMENTS, _attachment(name)))
    patched = ok(apiserver.request("PATCH", f"{VOLUME_ATTACHMENTS}/{name}",
                                   {"metadata": {"labels": {name: "patched"}}}, headers=MERGE))
    assert patched["metadata"]["labels"][name] == "patched"
    assert ok(apiserver.request("GET", f"{VOLUME_ATTACHMENTS}/{name}/status"))["status"]["attached"] is False
    attached = ok(apiserver.request("PATCH", f"{VOLUME_ATTACHMENTS}/{name}/status",
                                    {"status": {"attached": True}}, headers=MERGE))
    assert attached["status"]["attached"] is True
    current = ok(apiserver.request("GET", f"{VOLUME_ATTACHMENTS}/{name}"))
    current["status"]["attached"] = False
    assert ok(apiserver.request("PUT", f"{VOLUME_ATTACHMENTS}/{name}/status", current))["status"]["attached"] is False
    ok(apiserver.request("DELETE", f"{VOLUME_ATTACHMENTS}/{name}"))
    assert ok(apiserver.request("GET", f"{VOLUME_ATTACHMENTS}?labelSelector={name}%3Dpatched"))["items"] == []

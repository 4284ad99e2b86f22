"""The [sig-storage] entries an API server alone passes: pods with inline CSI volumes through the pod API,
immutable ConfigMaps and Secrets, and the StorageClass lifecycle (test/e2e/storage/csi_inline.go,
storageclass.go, test/e2e/common/storage/{configmap,secrets}_volume.go)."""

from __future__ import annotations

import base64

from tests.conformance.support import MERGE, STRATEGIC, ok, unique, wait_for

STORAGE_CLASSES = "/apis/storage.k8s.io/v1/storageclasses"
BUSYBOX = "registry.k8s.io/e2e-test-images/busybox:1.36.1-1"


def test_csiinlinevolumes_should_support_pods_with_inline_volumes(apiserver, namespace):
    """CSIInlineVolumes should support Pods with inline volumes"""
    pods = f"/api/v1/namespaces/{namespace}/pods"
    name = "pod-csi-inline-volumes"
    driver = "e2e.example.com"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "volumes": [{"name": "csi-inline-vol1", "csi": {"driver": driver}},
                    {"name": "csi-inline-vol2", "csi": {"driver": driver, "fsType": "ext4", "readOnly": True}}],
        "containers": [{"name": name, "image": BUSYBOX, "command": ["sh", "-c", "ls /mnt/*"],
                        "volumeMounts": [{"name": "csi-inline-vol1", "mountPath": "/mnt/vol1"},
                                         {"name": "csi-inline-vol2", "mountPath": "/mnt/vol2"}]}]}}
    created = ok(apiserver.request("POST", pods, pod))
    status, body = apiserver.request("POST", pods, pod)
    assert status == 409 and body["reason"] == "AlreadyExists", body

    assert ok(apiserver.request("GET", f"{pods}/{name}"))["metadata"]["uid"] == created["metadata"]["uid"]
    assert len(ok(apiserver.request("GET", pods))["items"]) == 1

    patched = ok(apiserver.request("PATCH", f"{pods}/{name}", {"metadata": {"annotations": {"patched": "true"}}},
                                   headers=MERGE))
    assert patched["metadata"]["annotations"]["patched"] == "true"

    ok(apiserver.request("DELETE", f"{pods}/{name}"))
    status, body = apiserver.request("GET", f"{pods}/{name}")
    assert status == 404 or body["metadata"].get("deletionTimestamp"), (status, body)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def check_immutability(apiserver, namespace, kind, resource, data):
    """upstream's immutability walk for a ConfigMap or Secret: updating the data of a mutable object MUST
    succeed, and so MUST marking it immutable; then changing its data, or marking it mutable again, MUST be
    refused as invalid (422); its metadata MUST still change; it MUST be deletable."""
    collection = f"/api/v1/namespaces/{namespace}/{resource}"
    name = unique(f"{resource[:-1]}-test-immutable")
    current = ok(apiserver.request("POST", collection, {
        "apiVersion": "v1", "kind": kind, "metadata": {"name": name},
        "data": {f"data-{i}": data(f"value-{i}") for i in (1, 2, 3)}}))

    current["data"]["data-4"] = data("value-4")
    current = ok(apiserver.request("PUT", f"{collection}/{name}", current))
    current["immutable"] = True
    current = ok(apiserver.request("PUT", f"{collection}/{name}", current))

    current["data"]["data-5"] = data("value-5")
    status, body = apiserver.request("PUT", f"{collection}/{name}", current)
    assert status == 422 and body["reason"] == "Invalid", body

    current = ok(apiserver.request("GET", f"{collection}/{name}"))
    assert current["immutable"] is True
    current["immutable"] = False
    status, body = apiserver.request("PUT", f"{collection}/{name}", current)
    assert status == 422 and body["reason"] == "Invalid", body

    current = ok(apiserver.request("GET", f"{collection}/{name}"))
    current["metadata"]["labels"] = {"label1": "value1"}
    ok(apiserver.request("PUT", f"{collection}/{name}", current))

    ok(apiserver.request("DELETE", f"{collection}/{name}"))


def test_configmap_volume_immutability(apiserver, namespace):
    """ConfigMap Volume, immutability"""
    check_immutability(apiserver, namespace, "ConfigMap", "configmaps", lambda value: value)


def test_secrets_volume_immutability(apiserver, namespace):
    """Secrets Volume, immutability"""
    check_immutability(apiserver, namespace, "Secret", "secrets", b64)


def test_storageclass_lifecycle(apiserver):
    """StorageClass, lifecycle"""
    created = ok(apiserver.request("POST", STORAGE_CLASSES, {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"generateName": "e2e-"},
        "provisioner": "e2e-fake-provisioner"}))
    name = created["metadata"]["name"]
    assert created["metadata"]["resourceVersion"]
    retrieved = ok(apiserver.request("GET", f"{STORAGE_CLASSES}/{name}"))

    patched = ok(apiserver.request("PATCH", f"{STORAGE_CLASSES}/{name}", {"metadata": {"labels": {name: "patched"}}},
                                   headers=STRATEGIC))
    assert patched["metadata"]["labels"][name] == "patched"
    assert int(patched["metadata"]["resourceVersion"]) > int(retrieved["metadata"]["resourceVersion"])

    ok(apiserver.request("DELETE", f"{STORAGE_CLASSES}/{name}"))
    wait_for(lambda: ok(apiserver.request("GET", f"{STORAGE_CLASSES}?labelSelector={name}%3Dpatched"))["items"]
             == [], what="the StorageClass's deletion")

    replacement = ok(apiserver.request("POST", STORAGE_CLASSES, {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"generateName": "e2e-v2-"},
        "provisioner": "e2e-fake-provisioner"}))
    name = replacement["metadata"]["name"]
    current = ok(apiserver.request("GET", f"{STORAGE_CLASSES}/{name}"))
    current["metadata"]["labels"] = {name: "updated"}
    updated = ok(apiserver.request("PUT", f"{STORAGE_CLASSES}/{name}", current))
    assert updated["metadata"]["labels"][name] == "updated"

    selector = f"labelSelector={name}%3Dupdated"
    assert len(ok(apiserver.request("GET", f"{STORAGE_CLASSES}?{selector}"))["items"]) == 1
    ok(apiserver.request("DELETE", f"{STORAGE_CLASSES}?{selector}"))
    wait_for(lambda: ok(apiserver.request("GET", f"{STORAGE_CLASSES}?{selector}"))["items"] == [],
             what="the replacement StorageClass's deletion")

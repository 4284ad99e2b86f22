"""The conformance entries the node, taint-eviction and volume controllers make possible without a real kubelet:
[sig-node] NoExecuteTaintManager's "Taint, Pod Eviction on taint removal" and "Pod Eviction, Toleration limits"
(pods run on a simulated node, the taint-eviction-controller in this process), and [sig-storage]'s
"PersistentVolumes(Claims), lifecycle" and "apply changes to a pv/pvc status" with the
persistentvolume-binder and protection controllers running beside the API, as in a cluster (their deletions
complete only when the protection controllers release the finalizers).

Differences from the e2e tests: the tolerationSeconds are shorter (1-3 s instead of 5-25 s) so the module stays
quick, and the e2e's informer watching deletions is a poll of the pods."""

from __future__ import annotations

import time
import uuid

from kapiserver.client.resources import NODES, PODS
from kapiserver.client.resources import PERSISTENT_VOLUME_CLAIMS as PVCS
from kapiserver.client.resources import PERSISTENT_VOLUMES as PVS
from kapiserver.client.rest import APIError
from tests.controllermanager.conftest import client, controllers, eventually, run, simulated_nodes  # noqa: F401


def taint():
    return {"key": f"kubernetes.io/e2e-evict-taint-key-{uuid.uuid4()}", "value": "evictTaintVal",
            "effect": "NoExecute"}


def taint_pod(name, namespace, test_taint, seconds, node=None):
    spec = {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10"}],
            "tolerations": [{"key": test_taint["key"], "value": test_taint["value"], "effect": "NoExecute",
                             "tolerationSeconds": seconds}]}
    if node:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace,
                                                            "labels": {"group": name}}, "spec": spec}


def set_taint(client, node_name, test_taint, present):  # noqa: F811
    def update():    # again on a conflict: the simulated node writes its status meanwhile
        node = run(client.get(NODES, node_name))
        taints = [t for t in node["spec"].get("taints") or [] if t["key"] != test_taint["key"]]
        node["spec"]["taints"] = taints + ([test_taint] if present else [])
        run(client.update(NODES, node))
    retry_on_conflict(update)


def running_on(client, name, namespace):  # noqa: F811
    pod = run(client.get(PODS, name, namespace))
    return pod["status"].get("phase") == "Running" and pod["spec"]["nodeName"]


def gone(client, name, namespace):  # noqa: F811
    return name not in [p["metadata"]["name"] for p in run(client.list(PODS, namespace))["items"]]


def retry_on_conflict(update, attempts=5):
    """client-go's retry.RetryOnConflict, as the e2e test wraps its updates (the controllers write too)."""
    for attempt in range(attempts):
        try:
            return update()
        except APIError as e:
            if e.code != 409 or attempt == attempts - 1:
                raise


def turn(seconds):
    stop = time.monotonic() + seconds
    eventually(lambda: time.monotonic() > stop, timeout=seconds + 2)


def test_taint_pod_eviction_on_taint_removal(controllers, simulated_nodes, client, namespace):  # noqa: F811
    """Taint, Pod Eviction on taint removal: a pod tolerating a NoExecute taint for a while MUST NOT be evicted
    when the taint is removed before that time ends. (Toleration 6 s here, 20 s in the e2e test: the taint is
    removed a second after it was put, and the rest leaves room for a loaded machine.)"""
    simulated_nodes("conf-taint-a", schedule=True)
    controllers("taint-eviction-controller")
    test_taint = taint()
    run(client.create(PODS, taint_pod("taint-eviction-4", namespace, test_taint, 6)))
    node = eventually(lambda: running_on(client, "taint-eviction-4", namespace))
    set_taint(client, node, test_taint, True)
    turn(1)
    assert not gone(client, "taint-eviction-4", namespace), "Pod was evicted despite toleration"
    set_taint(client, node, test_taint, False)
    turn(7)
    assert not gone(client, "taint-eviction-4", namespace), "Pod was evicted despite toleration"


def test_pod_eviction_toleration_limits(controllers, simulated_nodes, client, namespace):  # noqa: F811
    """Pod Eviction, Toleration limits: two pods on one tainted node, tolerating it for different times, MUST
    both be evicted, each when its tolerationSeconds run out. (1 s and 6 s here, 5 s and 25 s in the e2e: the
    second is still there when the first is seen gone, even on a loaded machine.)"""
    simulated_nodes("conf-taint-b", schedule=True)
    controllers("taint-eviction-controller")
    test_taint = taint()
    run(client.create(PODS, taint_pod("taint-eviction-b1", namespace, test_taint, 1, node="conf-taint-b")))
    run(client.create(PODS, taint_pod("taint-eviction-b2", namespace, test_taint, 6, node="conf-taint-b")))
    for name in ("taint-eviction-b1", "taint-eviction-b2"):
        assert eventually(lambda: running_on(client, name, namespace)) == "conf-taint-b"
    try:
        set_taint(client, "conf-taint-b", test_taint, True)
        started = time.monotonic()
        eventually(lambda: gone(client, "taint-eviction-b1", namespace))
        first = time.monotonic() - started
        assert not gone(client, "taint-eviction-b2", namespace)
        eventually(lambda: gone(client, "taint-eviction-b2", namespace))
        second = time.monotonic() - started
        assert 0.5 <= first < second and second >= 5.5
    finally:
        set_taint(client, "conf-taint-b", test_taint, False)


def _pv_and_pvc(namespace, labels):
    pv = {"apiVersion": "v1", "kind": "PersistentVolume",
          "metadata": {"generateName": f"{namespace}-", "labels": dict(labels)},
          "spec": {"capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": namespace,
                   "persistentVolumeReclaimPolicy": "Retain",
                   "csi": {"driver": f"inline-driver-{uuid.uuid4()}", "volumeHandle": "e2e-conformance"}}}
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
           "metadata": {"generateName": "pvc-", "namespace": namespace},
           "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}},
                    "storageClassName": namespace}}
    return pv, pvc


def _selector(labels):
    return ",".join(f"{k}={v}" for k, v in labels.items())


def test_persistentvolumes_claims_lifecycle(controllers, client, namespace):  # noqa: F811
    """PersistentVolumes(Claims), lifecycle: create, list by label, patch, get, delete (confirmed), recreate,
    update, list across namespaces, deleteCollection (confirmed) of a PV and a PVC. Here the binder binds them
    and the protection controllers hold and release the finalizers, so each deletion is confirmed only once the
    controllers let it complete."""
    controllers("persistentvolume-binder-controller", "persistentvolumeclaim-protection-controller",
                "persistentvolume-protection-controller")
    labels = {"e2e-pv-pool": namespace}
    pv, pvc = _pv_and_pvc(namespace, labels)
    run(client.create(PVS, pv))
    run(client.create(PVCS, pvc, namespace))
    initial_pv, = run(client.list(PVS, label_selector=_selector(labels)))["items"]
    initial_pvc, = run(client.list(PVCS, namespace))["items"]
    patched_pv = run(client.patch(PVS, initial_pv["metadata"]["name"],
                                  {"metadata": {"labels": {initial_pv["metadata"]["name"]: "patched"}}},
                                  patch_type="strategic"))
    assert patched_pv["metadata"]["labels"][patched_pv["metadata"]["name"]] == "patched"
    assert int(patched_pv["metadata"]["resourceVersion"]) > int(initial_pv["metadata"]["resourceVersion"])
    patched_pvc = run(client.patch(PVCS, initial_pvc["metadata"]["name"],
                                   {"metadata": {"labels": {initial_pvc["metadata"]["name"]: "patched"}}},
                                   namespace, patch_type="strategic"))
    assert patched_pvc["metadata"]["labels"][patched_pvc["metadata"]["name"]] == "patched"
    assert run(client.get(PVS, patched_pv["metadata"]["name"]))["metadata"]["uid"] == patched_pv["metadata"]["uid"]
    assert run(client.get(PVCS, patched_pvc["metadata"]["name"], namespace))["metadata"]["uid"] == \
        patched_pvc["metadata"]["uid"]
    # Bound by the binder, protected by the protection controllers, before the deletions start.
    eventually(lambda: run(client.get(PVCS, patched_pvc["metadata"]["name"], namespace))["status"].get(
        "phase") == "Bound")
    eventually(lambda: "kubernetes.io/pv-protection" in run(client.get(PVS, patched_pv["metadata"]["name"]))[
        "metadata"].get("finalizers", []))

    run(client.delete(PVCS, patched_pvc["metadata"]["name"], namespace))
    eventually(lambda: not run(client.list(PVCS, namespace))["items"], timeout=30)
    run(client.delete(PVS, patched_pv["metadata"]["name"]))
    eventually(lambda: not run(client.list(PVS, label_selector=_selector(labels)))["items"], timeout=30)

    pv, pvc = _pv_and_pvc(namespace, labels)
    pv_name = run(client.create(PVS, pv))["metadata"]["name"]
    pvc_name = run(client.create(PVCS, pvc, namespace))["metadata"]["name"]

    def label_pv():
        current = run(client.get(PVS, pv_name))
        current["metadata"]["labels"][pv_name] = "updated"
        return run(client.update(PVS, current))
    assert retry_on_conflict(label_pv)["metadata"]["labels"][pv_name] == "updated"

    def label_pvc():
        claim = run(client.get(PVCS, pvc_name, namespace))
        claim["metadata"]["labels"] = {pvc_name: "updated"}
        return run(client.update(PVCS, claim))
    assert retry_on_conflict(label_pvc)["metadata"]["labels"] == {pvc_name: "updated"}
    assert len(run(client.request("GET", "/api/v1/persistentvolumeclaims",
                                  query={"labelSelector": f"{pvc_name}=updated"}))["items"]) == 1
    run(client.request("DELETE", f"/api/v1/namespaces/{namespace}/persistentvolumeclaims",
                       query={"labelSelector": f"{pvc_name}=updated"}))
    eventually(lambda: not run(client.list(PVCS, namespace, label_selector=f"{pvc_name}=updated"))["items"],
               timeout=30)
    run(client.request("DELETE", "/api/v1/persistentvolumes", query={"labelSelector": f"{pv_name}=updated"}))
    eventually(lambda: not run(client.list(PVS, label_selector=f"{pv_name}=updated"))["items"], timeout=30)


def test_persistentvolumes_claims_apply_changes_to_a_pv_pvc_status(controllers, client, namespace):  # noqa: F811
    """PersistentVolumes(Claims), apply changes to a pv/pvc status: the statuses read with a valid phase; a
    patched PVC status condition and PV status reason/message are found; so are updated ones. The binder runs
    beside it, as in a cluster."""
    controllers("persistentvolume-binder-controller")
    labels = {"e2e-pv-pool": namespace}
    pv, pvc = _pv_and_pvc(namespace, labels)
    pv_name = run(client.create(PVS, pv))["metadata"]["name"]
    pvc_name = run(client.create(PVCS, pvc, namespace))["metadata"]["name"]
    claim = run(client.request("GET", f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{pvc_name}/status"))
    assert claim["status"].get("phase") in ("Pending", "Bound")
    volume = run(client.request("GET", f"/api/v1/persistentvolumes/{pv_name}/status"))
    assert volume["status"].get("phase") in ("Available", "Bound", "Pending")
    eventually(lambda: run(client.get(PVCS, pvc_name, namespace))["status"].get("phase") == "Bound")
    patched = run(client.patch(PVCS, pvc_name, {"status": {"conditions": [
        {"type": "StatusPatched", "status": "True", "reason": "E2E patchedStatus", "message": "Set from e2e test"}]}},
        namespace, patch_type="merge", subresource="status"))
    assert [c["type"] for c in patched["status"]["conditions"]] == ["StatusPatched"]
    patched_pv = run(client.patch(PVS, pv_name, {"status": {"reason": "E2E patchStatus",
                                                             "message": "Set from e2e test"}},
                                  patch_type="merge", subresource="status"))
    assert (patched_pv["status"]["reason"], patched_pv["status"]["message"]) == ("E2E patchStatus",
                                                                                 "Set from e2e test")

    def update_claim_status():
        claim = run(client.get(PVCS, pvc_name, namespace))
        claim["status"]["conditions"].append({"type": "StatusUpdated", "status": "True",
                                              "reason": "E2E updateStatus", "message": "Set from e2e test"})
        return run(client.update(PVCS, claim, subresource="status"))
    updated = retry_on_conflict(update_claim_status)
    assert "StatusUpdated" in [c["type"] for c in updated["status"]["conditions"]]

    def update_volume_status():
        volume = run(client.get(PVS, pv_name))
        volume["status"].update(reason="E2E updateStatus", message="Set from e2e test")
        return run(client.update(PVS, volume, subresource="status"))
    updated_pv = retry_on_conflict(update_volume_status)
    assert updated_pv["status"]["reason"] == "E2E updateStatus"
    assert updated_pv["status"]["phase"] == "Bound"

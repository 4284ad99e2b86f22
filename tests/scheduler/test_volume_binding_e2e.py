"""VolumeBinding end to end: the scheduler in this process, kube-controller-manager's PV binder beside it, and a
real kube-apiserver process; a WaitForFirstConsumer claim is bound to the local volume of the node the pod
goes to, and the pod is bound only after it."""

from __future__ import annotations

from twisted.internet import reactor

from kapiserver.client.resources import (PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES, PODS, STORAGE_CLASSES)
from kapiserver.client.rest import APIError
from kapiserver.controllermanager.manager import ControllerManager
from tests.conformance.support import unique
from tests.scheduler.conftest import eventually, make_pod, run


def test_wait_for_first_consumer_claim_binds_with_its_pod(client, scheduler, namespace):
    """The pod lands on sched-b, the only node with an Available volume for its claim; the scheduler writes the
    volume's claimRef, the PV controller completes the binding (both Bound), and the pod is bound after."""
    cls, pv = unique("wffc"), unique("pv-local")
    run(client.create(STORAGE_CLASSES, {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": cls},
        "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer"}))
    run(client.create(PERSISTENT_VOLUMES, {
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": cls,
                 "persistentVolumeReclaimPolicy": "Retain", "local": {"path": "/mnt/disk"},
                 "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                     {"key": "kubernetes.io/hostname", "operator": "In", "values": ["sched-b"]}]}]}}}}))
    manager = ControllerManager(client, reactor, ["persistentvolume-binder-controller"], {})
    run(manager.start())
    try:
        run(client.create(PERSISTENT_VOLUME_CLAIMS, {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": cls,
                     "resources": {"requests": {"storage": "512Mi"}}}}, namespace=namespace))
        pod = make_pod("uses-data", volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}])
        run(client.create(PODS, pod, namespace=namespace))
        placed = eventually(lambda: run(client.get(PODS, "uses-data", namespace))["spec"].get("nodeName"))
        assert placed == "sched-b"
        claim = run(client.get(PERSISTENT_VOLUME_CLAIMS, "data", namespace))
        assert claim["spec"]["volumeName"] == pv and claim["status"]["phase"] == "Bound"
        assert "pv.kubernetes.io/bind-completed" in claim["metadata"]["annotations"]
        volume = eventually(lambda: (v := run(client.get(PERSISTENT_VOLUMES, pv)))["status"]["phase"] == "Bound"
                            and v)
        assert volume["spec"]["claimRef"]["name"] == "data"
        assert volume["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]
        assert volume["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"
    finally:
        manager.stop()
        for resource, name in ((PERSISTENT_VOLUMES, pv), (STORAGE_CLASSES, cls)):
            try:
                run(client.delete(resource, name))
            except APIError:
                pass

"""persistentvolumeclaim-protection-controller and persistentvolume-protection-controller: a claim in use by a
scheduled pod, and a Bound volume, stay (with their finalizers) after deletion until they are free."""

from kapiserver.client.resources import PERSISTENT_VOLUME_CLAIMS as PVCS
from kapiserver.client.resources import PERSISTENT_VOLUMES as PVS
from kapiserver.client.resources import PODS
from kapiserver.controllermanager.pvcprotection import pod_uses_claim
from tests.conformance.support import unique
from tests.controllermanager.conftest import eventually, run


def claim(name, namespace):
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": namespace},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}


def names(client, resource, namespace=None):
    return [o["metadata"]["name"] for o in run(client.list(resource, namespace))["items"]]


def test_only_scheduled_pods_use_claims():
    """An unscheduled pod does not hold a claim; a shut-down pod does not hold its ephemeral claim."""
    pvc = {"metadata": {"name": "data", "namespace": "ns", "ownerReferences": [{"uid": "u", "controller": True}]}}
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u"},
           "spec": {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]}}
    assert not pod_uses_claim(pod, pvc)
    pod["spec"]["nodeName"] = "n"
    assert pod_uses_claim(pod, pvc)
    ephemeral = {"metadata": {"name": "p-data", "namespace": "ns", "ownerReferences": [{"uid": "u", "controller": True}]}}
    pod["spec"]["volumes"] = [{"name": "data", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}]
    assert pod_uses_claim(pod, ephemeral)
    pod["metadata"].update(deletionTimestamp="2024-01-01T00:00:00Z", deletionGracePeriodSeconds=0)
    assert not pod_uses_claim(pod, ephemeral)


def test_claim_in_use_is_kept_until_its_pod_goes(controllers, client, namespace):
    """The finalizer is added to a new claim; deleting the claim while a scheduled pod uses it leaves it
    terminating; when the pod is gone the finalizer is removed and the claim goes."""
    controllers("persistentvolumeclaim-protection-controller")
    run(client.create(PVCS, claim("data", namespace)))
    eventually(lambda: "kubernetes.io/pvc-protection" in run(client.get(PVCS, "data", namespace))["metadata"].get(
        "finalizers", []))
    run(client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user", "namespace": namespace},
                             "spec": {"nodeName": "nowhere", "containers": [{"name": "c", "image": "busybox"}],
                                      "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]}}))
    run(client.delete(PVCS, "data", namespace))
    terminating = run(client.get(PVCS, "data", namespace))
    assert terminating["metadata"]["deletionTimestamp"]
    run(client.create(PVCS, claim("unused", namespace)))
    eventually(lambda: run(client.get(PVCS, "unused", namespace))["metadata"].get("finalizers"))
    run(client.delete(PVCS, "unused", namespace))
    eventually(lambda: "unused" not in names(client, PVCS, namespace))
    assert "data" in names(client, PVCS, namespace)
    run(client.delete(PODS, "user", namespace, grace_period_seconds=0))
    eventually(lambda: "data" not in names(client, PVCS, namespace))


def test_bound_volume_is_kept_until_released(controllers, client):
    """A volume gets the pv-protection finalizer; deleted while Bound it stays; once not Bound it goes."""
    controllers("persistentvolume-protection-controller")
    name = unique("pv")
    run(client.create(PVS, {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
                            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                     "hostPath": {"path": "/tmp/x"}}}))
    volume = eventually(lambda: (v := run(client.get(PVS, name)))["metadata"].get("finalizers") and v)
    assert volume["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]
    volume["status"] = {"phase": "Bound"}
    run(client.update(PVS, volume, subresource="status"))
    run(client.delete(PVS, name))
    eventually(lambda: run(client.get(PVS, name))["metadata"].get("deletionTimestamp"))
    assert name in names(client, PVS)
    volume = run(client.get(PVS, name))
    volume["status"] = {"phase": "Released"}
    run(client.update(PVS, volume, subresource="status"))
    eventually(lambda: name not in names(client, PVS))

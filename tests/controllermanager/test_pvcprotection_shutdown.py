"""persistentvolumeclaim-protection-controller: a pod shut down (deleted with grace period 0) but kept by a
finalizer of its own frees its ephemeral claim at once, as upstream's (its update queues the claim: upstream's
enqueuePVCs takes a pod being deleted with no container running as terminated)."""

from kapiserver.client.resources import PERSISTENT_VOLUME_CLAIMS as PVCS
from kapiserver.client.resources import PODS
from tests.controllermanager.conftest import eventually, run
from tests.controllermanager.test_protection import names


def test_a_shut_down_pod_kept_by_its_finalizer_frees_its_ephemeral_claim(controllers, client, namespace):
    """The ephemeral claim, deleted while its scheduled pod runs, stays; once the pod is deleted with grace period
    0 (its own finalizer keeping the object) the claim's finalizer is removed and the claim goes, so the pod's
    finalizer, waiting for the claim, cannot wait on it forever."""
    controllers("persistentvolumeclaim-protection-controller")
    pod = run(client.create(PODS, {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "user", "namespace": namespace, "finalizers": ["example.com/hold"]},
        "spec": {"nodeName": "nowhere", "containers": [{"name": "c", "image": "busybox"}],
                 "volumes": [{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {
                     "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}}}]}}))
    run(client.create(PVCS, {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "user-scratch", "namespace": namespace,
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "user",
                                          "uid": pod["metadata"]["uid"], "controller": True}]},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
    eventually(lambda: run(client.get(PVCS, "user-scratch", namespace))["metadata"].get("finalizers"))
    run(client.delete(PVCS, "user-scratch", namespace))
    assert run(client.get(PVCS, "user-scratch", namespace))["metadata"]["deletionTimestamp"]
    run(client.delete(PODS, "user", namespace, grace_period_seconds=0))
    assert run(client.get(PODS, "user", namespace))["metadata"]["deletionGracePeriodSeconds"] == 0
    eventually(lambda: "user-scratch" not in names(client, PVCS, namespace))
    run(client.patch(PODS, "user", {"metadata": {"finalizers": None}}, namespace))

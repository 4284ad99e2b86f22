"""ephemeral-volume-controller: a pod's ephemeral volume gets its claim <pod>-<volume>, owned by the pod."""

from kapiserver.client.resources import EVENTS, PODS
from kapiserver.client.resources import PERSISTENT_VOLUME_CLAIMS as PVCS
from tests.controllermanager.conftest import eventually, run


def pod(name, namespace):
    template = {"metadata": {"labels": {"app": "scratchy"}},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": "busybox"}],
                     "volumes": [{"name": "scratch", "ephemeral": {"volumeClaimTemplate": template}}]}}


def test_ephemeral_volume_gets_an_owned_claim(controllers, client, namespace):
    """The claim is made from the template (labels, spec) with the pod as its controlling owner."""
    controllers("ephemeral-volume-controller")
    created = run(client.create(PODS, pod("app", namespace)))
    claim = eventually(lambda: run(client.get(PVCS, "app-scratch", namespace)))
    assert claim["metadata"]["labels"] == {"app": "scratchy"}
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    owner, = claim["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Pod", "app", created["metadata"]["uid"])
    assert owner["controller"] and owner["blockOwnerDeletion"]


def test_a_claim_of_that_name_not_owned_by_the_pod_is_reported(controllers, client, namespace):
    """An existing claim of the generated name that the pod does not own is left alone, with a FailedBinding
    event on the pod."""
    run(client.create(PVCS, {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                             "metadata": {"name": "other-scratch", "namespace": namespace},
                             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}}))
    controllers("ephemeral-volume-controller")
    run(client.create(PODS, pod("other", namespace)))
    event = eventually(lambda: [e for e in run(client.list(EVENTS, namespace))["items"]
                                if e["reason"] == "FailedBinding"])[0]
    assert event["message"] == (f"ephemeral volume scratch: PVC {namespace}/other-scratch was not created for pod "
                                f"{namespace}/other (pod is not owner)")
    assert not run(client.get(PVCS, "other-scratch", namespace))["metadata"].get("ownerReferences")

"""ephemeral-volume-controller: each ephemeral volume of a pod gets its PersistentVolumeClaim, named
``<pod>-<volume>``, made from the volume's claim template and owned (controller, blockOwnerDeletion) by the pod,
as upstream's pkg/controller/volume/ephemeral. A claim of that name not owned by the pod is reported, not
touched."""

from __future__ import annotations

from typing import Optional

from ..client.cache import split_key
from ..client.resources import PERSISTENT_VOLUME_CLAIMS, PODS
from ..client.rest import APIError
from .context import ControllerContext, QueueController

FAILED_BINDING = "FailedBinding"
POD_EPHEMERAL_CLAIM_INDEX = "infra:ephemeral-claims"


def volume_claim_name(pod: dict, volume: dict) -> str:
    return f"{pod['metadata']['name']}-{volume['name']}"


def volume_is_for_pod(pod: dict, claim: dict) -> Optional[str]:
    """None when ``claim`` was made for ``pod`` (the pod is its controller), else upstream's error text."""
    for owner in claim["metadata"].get("ownerReferences") or []:
        if owner.get("uid") == pod["metadata"].get("uid") and owner.get("controller"):
            return None
    return (f"PVC {claim['metadata']['namespace']}/{claim['metadata']['name']} was not created for pod "
            f"{pod['metadata']['namespace']}/{pod['metadata']['name']} (pod is not owner)")


def ephemeral_volumes(pod: dict) -> list:
    return [v for v in (pod.get("spec") or {}).get("volumes") or [] if v.get("ephemeral")]


def pod_ephemeral_claims(pod: dict) -> list:
    return [f"{pod['metadata']['namespace']}/{volume_claim_name(pod, v)}" for v in ephemeral_volumes(pod)]


class EphemeralVolumeController(QueueController):
    name = "ephemeral-volume-controller"
    workers_option = "concurrent-ephemeralvolume-syncs"
    default_workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.recorder = ctx.recorder(self.name)
        self.pods = self.informer(PODS)
        self.claims = self.informer(PERSISTENT_VOLUME_CLAIMS)
        self.pods.indexer.add_indexers({POD_EPHEMERAL_CLAIM_INDEX: pod_ephemeral_claims})
        self.pods.add_event_handler(on_add=self._pod_changed, on_update=lambda old, new: self._pod_changed(new))
        self.claims.add_event_handler(on_delete=self._claim_deleted)

    def _pod_changed(self, pod: dict) -> None:
        if ephemeral_volumes(pod) and not pod["metadata"].get("deletionTimestamp"):
            self.enqueue(pod)

    def _claim_deleted(self, claim: dict) -> None:
        key = f"{claim['metadata']['namespace']}/{claim['metadata']['name']}"
        for pod_key in self.pods.indexer.index_keys(POD_EPHEMERAL_CLAIM_INDEX, key):
            self.queue.add(pod_key)

    async def sync(self, key: str) -> None:
        pod = self.pods.indexer.get(key)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        namespace, _ = split_key(key)
        for volume in ephemeral_volumes(pod):
            try:
                await self._ensure_claim(pod, namespace, volume)
            except Exception as e:
                self.recorder.event(pod, "Warning", FAILED_BINDING, f"ephemeral volume {volume['name']}: {e}")
                raise

    async def _ensure_claim(self, pod: dict, namespace: str, volume: dict) -> None:
        name = volume_claim_name(pod, volume)
        claim = self.claims.indexer.get_by_key(namespace, name)
        if claim is not None:
            problem = volume_is_for_pod(pod, claim)
            if problem:
                raise ValueError(problem)
            return
        template = volume["ephemeral"].get("volumeClaimTemplate") or {}
        metadata = {"name": name, "namespace": namespace,
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": pod["metadata"]["name"],
                                         "uid": pod["metadata"]["uid"], "controller": True,
                                         "blockOwnerDeletion": True}]}
        for field in ("labels", "annotations"):
            if (template.get("metadata") or {}).get(field):
                metadata[field] = dict(template["metadata"][field])
        try:
            await self.client.create(PERSISTENT_VOLUME_CLAIMS, {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                                                "metadata": metadata,
                                                                "spec": template.get("spec") or {}})
        except APIError as e:
            if e.code == 409:
                return      # made meanwhile: the claim's event brings the check of its owner
            raise ValueError(f"create PVC {name}: {e.message}") from None


def start_ephemeral_volume_controller(ctx: ControllerContext) -> EphemeralVolumeController:
    return EphemeralVolumeController(ctx)

"""persistentvolumeclaim-protection-controller: a claim keeps the kubernetes.io/pvc-protection finalizer (added
here when missing) while a scheduled pod uses it; once it is being deleted and no pod uses it, the finalizer is
removed, as upstream's pkg/controller/volume/pvcprotection. "No pod" is checked in the informer's cache and then
by a live list, so a pod not yet in the cache keeps the claim."""

from __future__ import annotations

from ..client.cache import split_key
from ..client.resources import PERSISTENT_VOLUME_CLAIMS, PODS
from ..client.rest import APIError
from .context import ControllerContext, QueueController
from .ephemeralvolume import volume_claim_name, volume_is_for_pod

PVC_PROTECTION = "kubernetes.io/pvc-protection"
POD_CLAIM_INDEX = "infra:claims"


def pod_claims(pod: dict) -> list:
    """"namespace/claim" of every claim the pod's volumes name (ephemeral ones by their generated name)."""
    keys = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        if volume.get("persistentVolumeClaim"):
            keys.append(f"{pod['metadata']['namespace']}/{volume['persistentVolumeClaim'].get('claimName')}")
        elif volume.get("ephemeral"):
            keys.append(f"{pod['metadata']['namespace']}/{volume_claim_name(pod, volume)}")
    return keys


def pod_is_shut_down(pod: dict) -> bool:
    meta = pod["metadata"]
    return bool(meta.get("deletionTimestamp")) and meta.get("deletionGracePeriodSeconds") == 0


def pod_is_stopped(pod: dict) -> bool:
    """Upstream's volume util IsPodTerminated: finished, or being deleted with no container still running."""
    status = pod.get("status") or {}
    if status.get("phase") in ("Failed", "Succeeded"):
        return True
    if not pod["metadata"].get("deletionTimestamp"):
        return False
    statuses = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or []),
                *(status.get("ephemeralContainerStatuses") or [])]
    return all("terminated" in (s.get("state") or {}) or "waiting" in (s.get("state") or {}) for s in statuses)


def pod_uses_claim(pod: dict, claim: dict) -> bool:
    """Upstream's podUsesPVC: only a scheduled pod counts; its ephemeral claim not once the pod is shut down."""
    if not (pod.get("spec") or {}).get("nodeName"):
        return False
    name = claim["metadata"]["name"]
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        if (volume.get("persistentVolumeClaim") or {}).get("claimName") == name:
            return True
        if volume.get("ephemeral") and not pod_is_shut_down(pod) and volume_claim_name(pod, volume) == name and \
                volume_is_for_pod(pod, claim) is None:
            return True
    return False


def finalizers(obj: dict) -> list:
    return list(obj["metadata"].get("finalizers") or [])


class PVCProtectionController(QueueController):
    name = "persistentvolumeclaim-protection-controller"

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.claims = self.informer(PERSISTENT_VOLUME_CLAIMS)
        self.pods = self.informer(PODS)
        self.pods.indexer.add_indexers({POD_CLAIM_INDEX: pod_claims})
        self.claims.add_event_handler(on_add=self._claim_changed, on_update=lambda old, new: self._claim_changed(new))
        self.pods.add_event_handler(on_add=lambda p: self._pod_changed(p, False),
                                    on_update=self._pod_updated, on_delete=lambda p: self._pod_changed(p, True))

    def _claim_changed(self, claim: dict) -> None:
        has = PVC_PROTECTION in finalizers(claim)
        if (not has and not claim["metadata"].get("deletionTimestamp")) or \
                (has and claim["metadata"].get("deletionTimestamp")):
            self.enqueue(claim)

    def _pod_updated(self, old: dict, new: dict) -> None:
        self._pod_changed(new, False)
        if old["metadata"].get("uid") != new["metadata"].get("uid"):
            self._pod_changed(old, True)

    def _pod_changed(self, pod: dict, deleted: bool) -> None:
        # Only pods that may free a claim matter: gone, finished or stopping, or never scheduled.
        if not deleted and not pod_is_stopped(pod) and (pod.get("spec") or {}).get("nodeName"):
            return
        for key in pod_claims(pod):
            self.queue.add(key)

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        claim = self.claims.indexer.get(key)
        if claim is None:
            return
        deleting = bool(claim["metadata"].get("deletionTimestamp"))
        present = finalizers(claim)
        if not deleting and PVC_PROTECTION not in present:
            await self._set_finalizers(claim, present + [PVC_PROTECTION])
        elif deleting and PVC_PROTECTION in present and not await self._in_use(claim):
            await self._set_finalizers(claim, [f for f in present if f != PVC_PROTECTION])

    async def _in_use(self, claim: dict) -> bool:
        key = f"{claim['metadata']['namespace']}/{claim['metadata']['name']}"
        if any(pod_uses_claim(p, claim) for p in self.pods.indexer.by_index(POD_CLAIM_INDEX, key)):
            return True
        live = await self.client.list(PODS, claim["metadata"]["namespace"])
        return any(pod_uses_claim(p, claim) for p in live.get("items") or [])

    async def _set_finalizers(self, claim: dict, wanted: list) -> None:
        try:
            await self.client.update(PERSISTENT_VOLUME_CLAIMS,
                                     {**claim, "metadata": {**claim["metadata"], "finalizers": wanted}})
        except APIError as e:
            if e.code != 404:
                raise


def start_pvc_protection_controller(ctx: ControllerContext) -> PVCProtectionController:
    return PVCProtectionController(ctx)

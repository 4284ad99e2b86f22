"""persistentvolume-protection-controller: a volume keeps the kubernetes.io/pv-protection finalizer (added here
when missing); once it is being deleted and is not Bound, the finalizer is removed, as upstream's
pkg/controller/volume/pvprotection."""

from __future__ import annotations

from ..client.resources import PERSISTENT_VOLUMES
from ..client.rest import APIError
from .context import ControllerContext, QueueController
from .pvcprotection import finalizers

PV_PROTECTION = "kubernetes.io/pv-protection"


class PVProtectionController(QueueController):
    name = "persistentvolume-protection-controller"

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.volumes = self.informer(PERSISTENT_VOLUMES)
        self.volumes.add_event_handler(on_add=self._changed, on_update=lambda old, new: self._changed(new))

    def _changed(self, volume: dict) -> None:
        has = PV_PROTECTION in finalizers(volume)
        deleting = bool(volume["metadata"].get("deletionTimestamp"))
        if (not has and not deleting) or (has and deleting):
            self.enqueue(volume)

    async def sync(self, key: str) -> None:
        volume = self.volumes.indexer.get(key)
        if volume is None:
            return
        deleting = bool(volume["metadata"].get("deletionTimestamp"))
        present = finalizers(volume)
        if not deleting and PV_PROTECTION not in present:
            wanted = present + [PV_PROTECTION]
        elif deleting and PV_PROTECTION in present and (volume.get("status") or {}).get("phase") != "Bound":
            wanted = [f for f in present if f != PV_PROTECTION]
        else:
            return
        try:
            await self.client.update(PERSISTENT_VOLUMES, {**volume, "metadata": {**volume["metadata"],
                                                                                 "finalizers": wanted}})
        except APIError as e:
            if e.code != 404:
                raise


def start_pv_protection_controller(ctx: ControllerContext) -> PVProtectionController:
    return PVProtectionController(ctx)

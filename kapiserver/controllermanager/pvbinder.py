"""persistentvolume-binder-controller: binds claims to volumes and keeps both phases true, as upstream's
pkg/controller/volume/persistentvolume (the "persistentvolume-controller" of events).

A claim without spec.volumeName gets the smallest Available volume of its class (spec.storageClassName, or the
default class assigned to a claim with none), with its access modes and volume mode, matching its selector; one
naming a volume (pre-bound) gets that volume if it satisfies the claim. Binding writes the volume's claimRef
(annotated pv.kubernetes.io/bound-by-controller when the controller chose), then the claim's volumeName with
pv.kubernetes.io/bind-completed, and both phases Bound. Claims of a WaitForFirstConsumer class wait for a pod's
scheduling (volume.kubernetes.io/selected-node), their event naming the unscheduled pods that use them. Every claim
and volume is synced again each --pvclaimbinder-sync-period (15s), as upstream's resync. A volume whose claim is
gone is Released and reclaimed by its policy: Retain keeps it; Delete leaves a volume of an external provisioner
(pv.kubernetes.io/provisioned-by), a CSI volume and one migrated to CSI (pv.kubernetes.io/migrated-to) to their
driver, and otherwise uses kube-controller-manager's in-tree deleters: a hostPath under /tmp/ is removed from this
host and the volume deleted, any other volume is Failed with VolumeFailedDelete and the deleter's error as its
message. Dynamic provisioning is left to external provisioners: a claim of a class with a provisioner is annotated
with it and waits."""

from __future__ import annotations

import os
import re
import shutil
from typing import Dict, Optional

from ..pool import in_pool
from ..client.resources import NODES, PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES, PODS, STORAGE_CLASSES
from ..client.rest import APIError
from ..machinery.pvhelpers import best_match, bound_to_claim, claim_class, claim_has_class, satisfy_error, volume_mode
from ..machinery.storageclass import default_class
from .context import ControllerContext, QueueController
from .ownwrites import newest
from .pvcprotection import POD_CLAIM_INDEX, pod_claims, pod_is_stopped

COMPONENT = "persistentvolume-controller"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
DYNAMICALLY_PROVISIONED = "pv.kubernetes.io/provisioned-by"
MIGRATED_TO = "pv.kubernetes.io/migrated-to"
NO_PROVISIONER = "kubernetes.io/no-provisioner"
HOST_PATH_PLUGIN = "kubernetes.io/host-path"
NFS_PLUGIN = "kubernetes.io/nfs"
# The in-tree provisioners whose volumes 1.32 hands to a CSI driver (CSI migration, Portworx's on by default since
# 1.31): a class naming one is provisioned by that driver's external provisioner.
CSI_MIGRATED_PROVISIONERS = {
    "kubernetes.io/aws-ebs": "ebs.csi.aws.com",
    "kubernetes.io/gce-pd": "pd.csi.storage.gke.io",
    "kubernetes.io/azure-disk": "disk.csi.azure.com",
    "kubernetes.io/azure-file": "file.csi.azure.com",
    "kubernetes.io/cinder": "cinder.csi.openstack.org",
    "kubernetes.io/vsphere-volume": "csi.vsphere.vmware.com",
    "kubernetes.io/portworx-volume": "pxd.portworx.com",
}


class PersistentVolumeBinder(QueueController):
    name = "persistentvolume-binder-controller"

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.recorder = ctx.recorder(COMPONENT)
        self.volumes = self.informer(PERSISTENT_VOLUMES)
        self.claims = self.informer(PERSISTENT_VOLUME_CLAIMS)
        self.classes = self.informer(STORAGE_CLASSES)
        self.nodes = self.informer(NODES)
        self.pods = self.informer(PODS)
        self.pods.indexer.add_indexers({POD_CLAIM_INDEX: pod_claims})
        self.sync_period = float(ctx.option("pvclaimbinder-sync-period", 15.0))
        self._resync_call = None
        self._stopped = False
        self.written_volumes: Dict[str, dict] = {}
        self.written_claims: Dict[str, dict] = {}
        self.remove_host_path = remove_host_path
        self.volumes.add_event_handler(on_add=self._volume_changed,
                                       on_update=lambda old, new: self._volume_changed(new),
                                       on_delete=self._volume_deleted)
        self.claims.add_event_handler(on_add=self._claim_changed, on_update=lambda old, new: self._claim_changed(new),
                                      on_delete=self._claim_deleted)
        self.classes.add_event_handler(on_add=lambda c: self._requeue_unbound_claims(),
                                       on_update=lambda old, new: self._requeue_unbound_claims())

    async def run(self) -> None:
        await super().run()
        if not self._stopped:       # stopped while the caches were syncing: no resyncs to arm
            self._resync()

    def stop(self) -> None:
        self._stopped = True
        if self._resync_call is not None and self._resync_call.active():
            self._resync_call.cancel()
        self._resync_call = None
        super().stop()

    def _resync(self) -> None:
        """Every claim and volume queued now and again each sync period (upstream's resync): what no event
        announces, a pod waiting on a claim among them, is seen within a period."""
        for claim in self.claims.indexer.list():
            self._claim_changed(claim)
        for name in self.volumes.indexer.keys():
            self.queue.add("volume:" + name)
        if self.sync_period > 0:
            self._resync_call = self.clock.callLater(self.sync_period, self._resync)

    # -- handlers ----------------------------------------------------------------------------------
    def _volume_changed(self, volume: dict) -> None:
        self.queue.add("volume:" + volume["metadata"]["name"])
        ref = (volume.get("spec") or {}).get("claimRef")
        if ref:
            self.queue.add(f"claim:{ref.get('namespace')}/{ref.get('name')}")
        else:
            # A new Available volume may serve a waiting claim.
            self._requeue_unbound_claims()

    def _volume_deleted(self, volume: dict) -> None:
        self.written_volumes.pop(volume["metadata"]["name"], None)
        ref = (volume.get("spec") or {}).get("claimRef")
        if ref:
            self.queue.add(f"claim:{ref.get('namespace')}/{ref.get('name')}")

    def _claim_changed(self, claim: dict) -> None:
        self.queue.add(f"claim:{claim['metadata']['namespace']}/{claim['metadata']['name']}")

    def _claim_deleted(self, claim: dict) -> None:
        self.written_claims.pop(f"{claim['metadata']['namespace']}/{claim['metadata']['name']}", None)
        name = (claim.get("spec") or {}).get("volumeName")
        if name:
            self.queue.add("volume:" + name)
        for volume in self.volumes.indexer.list():
            if bound_to_claim(volume, claim):
                self.queue.add("volume:" + volume["metadata"]["name"])

    def _requeue_unbound_claims(self) -> None:
        for claim in self.claims.indexer.list():
            if (claim.get("status") or {}).get("phase") != "Bound":
                self._claim_changed(claim)

    # -- reads through our own writes -------------------------------------------------------------
    def volume(self, name: str) -> Optional[dict]:
        return newest(self.volumes.indexer.get(name), self.written_volumes.get(name))

    def claim(self, key: str) -> Optional[dict]:
        return newest(self.claims.indexer.get(key), self.written_claims.get(key))

    def all_volumes(self):
        return [v for name in self.volumes.indexer.keys() if (v := self.volume(name)) is not None]

    async def sync(self, key: str) -> None:
        kind, _, rest = key.partition(":")
        if kind == "volume":
            volume = self.volume(rest)
            if volume is not None:
                await self.sync_volume(volume)
        else:
            claim = self.claim(rest)
            if claim is not None:
                await self.sync_claim(claim)

    # -- writes ------------------------------------------------------------------------------------
    async def _save_volume(self, volume: dict, status: bool = False) -> dict:
        saved = await self.client.update(PERSISTENT_VOLUMES, volume, subresource="status" if status else None)
        self.written_volumes[saved["metadata"]["name"]] = saved
        return saved

    async def _save_claim(self, claim: dict, status: bool = False) -> dict:
        saved = await self.client.update(PERSISTENT_VOLUME_CLAIMS, claim, subresource="status" if status else None)
        self.written_claims[f"{saved['metadata']['namespace']}/{saved['metadata']['name']}"] = saved
        return saved

    async def volume_phase(self, volume: dict, phase: str, message: str = "", event=None) -> dict:
        if (volume.get("status") or {}).get("phase") == phase:
            return volume
        status = {**(volume.get("status") or {}), "phase": phase}
        if event and not message:
            message = event[2]      # upstream's updateVolumePhaseWithEvent records the event's message
        if message:
            status["message"] = message
        else:
            status.pop("message", None)
        saved = await self._save_volume({**volume, "status": status}, status=True)
        if event:
            self.recorder.event(saved, *event)
        return saved

    async def claim_status(self, claim: dict, phase: str, volume: Optional[dict] = None, event=None) -> dict:
        status = dict(claim.get("status") or {})
        old_phase = status.get("phase")
        if event and old_phase == phase:
            return claim
        status["phase"] = phase
        if volume is None:
            status.pop("accessModes", None)
            status.pop("capacity", None)
        else:
            status["accessModes"] = (volume.get("spec") or {}).get("accessModes")
            if old_phase != phase:
                status["capacity"] = (volume.get("spec") or {}).get("capacity")
        if status == (claim.get("status") or {}):
            return claim
        saved = await self._save_claim({**claim, "status": status}, status=True)
        if event:
            self.recorder.event(saved, *event)
        return saved

    async def bind(self, volume: dict, claim: dict) -> None:
        """Upstream's bind: volume claimRef, volume Bound, claim volumeName and annotations, claim Bound."""
        spec = volume.get("spec") or {}
        meta = claim["metadata"]
        ref = {"kind": "PersistentVolumeClaim", "namespace": meta["namespace"], "name": meta["name"],
               "uid": meta["uid"], "apiVersion": "v1", "resourceVersion": meta.get("resourceVersion")}
        current = spec.get("claimRef") or {}
        if (current.get("uid"), current.get("name"), current.get("namespace")) != \
                (ref["uid"], ref["name"], ref["namespace"]):
            annotations = dict(volume["metadata"].get("annotations") or {})
            if not spec.get("claimRef"):
                annotations[BOUND_BY_CONTROLLER] = "yes"
            volume = await self._save_volume({**volume, "metadata": {**volume["metadata"], "annotations": annotations},
                                              "spec": {**spec, "claimRef": ref}})
        volume = await self.volume_phase(volume, "Bound")
        annotations = dict(meta.get("annotations") or {})
        claim_spec = claim.get("spec") or {}
        if claim_spec.get("volumeName") != volume["metadata"]["name"] or BIND_COMPLETED not in annotations:
            if claim_spec.get("volumeName") != volume["metadata"]["name"]:
                annotations[BOUND_BY_CONTROLLER] = "yes"
            annotations[BIND_COMPLETED] = "yes"
            claim = await self._save_claim({**claim, "metadata": {**meta, "annotations": annotations},
                                            "spec": {**claim_spec, "volumeName": volume["metadata"]["name"]}})
        await self.claim_status(claim, "Bound", volume)

    # -- claims ------------------------------------------------------------------------------------
    async def sync_claim(self, claim: dict) -> None:
        if BIND_COMPLETED in (claim["metadata"].get("annotations") or {}):
            await self._sync_bound_claim(claim)
        else:
            await self._sync_unbound_claim(claim)

    def _delay_binding(self, claim: dict) -> bool:
        if SELECTED_NODE in (claim["metadata"].get("annotations") or {}):
            return False
        cls = self.classes.indexer.get(claim_class(claim)) if claim_class(claim) else None
        return (cls or {}).get("volumeBindingMode") == "WaitForFirstConsumer"

    def _default_class(self) -> Optional[dict]:
        return default_class(self.classes.indexer.list())

    async def _sync_unbound_claim(self, claim: dict) -> None:
        name = (claim.get("spec") or {}).get("volumeName")
        if not name:
            delay = self._delay_binding(claim)
            node_name = (claim["metadata"].get("annotations") or {}).get(SELECTED_NODE)
            node = self.nodes.indexer.get(node_name) if node_name else None
            volume = best_match(claim, self.all_volumes(), delay, node)
            if volume is not None:
                await self.bind(volume, claim)
                return
            if not claim_has_class(claim) and (default := self._default_class()) is not None:
                # Upstream's retroactive default StorageClass assignment.
                await self._save_claim({**claim, "spec": {**claim["spec"],
                                                          "storageClassName": default["metadata"]["name"]}})
                return
            if delay:
                self._wait_for_consumer_event(claim)
            elif claim_class(claim):
                claim = await self._provision(claim)
            else:
                self.recorder.event(claim, "Normal", "FailedBinding",
                                    "no persistent volumes available for this claim and no storage class is set")
            await self.claim_status(claim, "Pending")
            return
        volume = self.volume(name)
        if volume is None:
            await self.claim_status(claim, "Pending")
            return
        if not (volume.get("spec") or {}).get("claimRef"):
            problem = satisfy_error(volume, claim)
            if problem:
                self.recorder.event(claim, "Warning", "VolumeMismatch",
                                    f'Cannot bind to requested volume "{name}": {problem}')
                await self.claim_status(claim, "Pending")
                return
            await self.bind(volume, claim)
        elif bound_to_claim(volume, claim):
            await self.bind(volume, claim)
        else:
            self.recorder.event(claim, "Warning", "FailedBinding",
                                f'volume "{name}" already bound to a different claim.')
            await self.claim_status(claim, "Pending")

    def _wait_for_consumer_event(self, claim: dict) -> None:
        """Upstream's emitEventForUnboundDelayBindingClaim: the unscheduled pods using the claim are named, if any."""
        meta = claim["metadata"]
        pods = sorted(p["metadata"]["name"] for p in
                      self.pods.indexer.by_index(POD_CLAIM_INDEX, f"{meta['namespace']}/{meta['name']}")
                      if not pod_is_stopped(p) and not (p.get("spec") or {}).get("nodeName"))
        if not pods:
            self.recorder.event(claim, "Normal", "WaitForFirstConsumer",
                                "waiting for first consumer to be created before binding")
        elif len(pods) == 1:
            self.recorder.event(claim, "Normal", "WaitForPodScheduled", f"waiting for pod {pods[0]} to be scheduled")
        else:
            self.recorder.event(claim, "Normal", "WaitForPodScheduled",
                                f"waiting for pods {','.join(pods)} to be scheduled")

    async def _provision(self, claim: dict) -> dict:
        """No in-tree provisioner provisions here: a class's provisioner (the CSI driver of a migrated in-tree one) is
        named on the claim for it to act; kube-controller-manager's hostPath plugin (provisioning only with
        --enable-hostpath-provisioner, which kapiserver has not) takes the claim and fails as upstream's does; any
        other in-tree name is refused."""
        class_name = claim_class(claim)
        cls = self.classes.indexer.get(class_name)
        if cls is None:
            self.recorder.event(claim, "Warning", "ProvisioningFailed",
                                f'storageclass.storage.k8s.io "{class_name}" not found')
            return claim
        provisioner = cls.get("provisioner") or ""
        provisioner = CSI_MIGRATED_PROVISIONERS.get(provisioner, provisioner)
        if provisioner == HOST_PATH_PLUGIN:
            return await self._provision_host_path(claim, cls)
        if provisioner == NFS_PLUGIN:
            self.recorder.event(claim, "Warning", "ProvisioningFailed", "no provisionable volume plugin matched")
            return claim
        if provisioner == NO_PROVISIONER or provisioner.startswith("kubernetes.io/"):
            self.recorder.event(claim, "Warning", "ProvisioningFailed",
                                f"no volume plugin matched name: {provisioner}")
            return claim
        claim = await self._set_claim_provisioner(claim, provisioner)
        self.recorder.event(claim, "Normal", "ExternalProvisioning",
                            f"Waiting for a volume to be created either by the external provisioner '{provisioner}' "
                            f"or manually by the system administrator. If volume creation is delayed, please verify "
                            f"that the provisioner is running and correctly registered.")
        return claim

    async def _set_claim_provisioner(self, claim: dict, provisioner: str) -> dict:
        """Upstream's setClaimProvisioner: the claim names who provisions it (GA and beta annotations)."""
        annotations = claim["metadata"].get("annotations") or {}
        if annotations.get(STORAGE_PROVISIONER) != provisioner or \
                annotations.get(BETA_STORAGE_PROVISIONER) != provisioner:
            claim = await self._save_claim({**claim, "metadata": {**claim["metadata"], "annotations": {
                **annotations, STORAGE_PROVISIONER: provisioner, BETA_STORAGE_PROVISIONER: provisioner}}})
        return claim

    async def _provision_host_path(self, claim: dict, cls: dict) -> dict:
        """Upstream's provisionClaimOperation with the hostPath plugin, provisioning disabled: a data source is
        refused first, then the claim is annotated, then mount options are refused, then the provisioner."""
        if (claim.get("spec") or {}).get("dataSource") is not None:
            self.recorder.event(claim, "Warning", "ProvisioningFailed",
                                f'plugin "{HOST_PATH_PLUGIN}" is not a CSI plugin. Only CSI plugin can provision a '
                                f'claim with a datasource')
            return claim
        claim = await self._set_claim_provisioner(claim, HOST_PATH_PLUGIN)
        options = cls.get("mountOptions") or []
        if options:
            self.recorder.event(claim, "Warning", "ProvisioningFailed",
                                f'Mount options are not supported by the provisioner but StorageClass '
                                f'"{cls["metadata"]["name"]}" has mount options [{" ".join(options)}]')
            return claim
        self.recorder.event(claim, "Warning", "ProvisioningFailed",
                            f'Failed to create provisioner: provisioning in volume plugin "{HOST_PATH_PLUGIN}" is '
                            f'disabled')
        return claim

    async def _sync_bound_claim(self, claim: dict) -> None:
        name = (claim.get("spec") or {}).get("volumeName")
        if not name:
            await self.claim_status(claim, "Lost", event=(
                "Warning", "ClaimLost",
                "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!"))
            return
        volume = self.volume(name)
        if volume is None:
            await self.claim_status(claim, "Lost", event=(
                "Warning", "ClaimLost", "Bound claim has lost its PersistentVolume. Data on the volume is lost!"))
            return
        ref = (volume.get("spec") or {}).get("claimRef")
        if not ref or ref.get("uid") == claim["metadata"]["uid"]:
            await self.bind(volume, claim)
        else:
            await self.claim_status(claim, "Lost", event=(
                "Warning", "ClaimMisbound", "Two claims are bound to the same volume, this one is bound incorrectly"))

    # -- volumes -----------------------------------------------------------------------------------
    async def sync_volume(self, volume: dict) -> None:
        ref = (volume.get("spec") or {}).get("claimRef")
        if not ref or not ref.get("uid"):
            await self.volume_phase(volume, "Available")
            return
        key = f"{ref.get('namespace')}/{ref.get('name')}"
        claim = self.claim(key)
        if claim is None or claim["metadata"].get("uid") != ref.get("uid"):
            # Make sure before reclaiming: the cache may not have the claim yet.
            try:
                claim = await self.client.get(PERSISTENT_VOLUME_CLAIMS, ref.get("name"), ref.get("namespace"))
            except APIError as e:
                if e.code != 404:
                    raise
                claim = None
            if claim is not None and claim["metadata"].get("uid") != ref.get("uid"):
                claim = None
        if claim is None:
            if (volume.get("status") or {}).get("phase") not in ("Released", "Failed"):
                volume = await self.volume_phase(volume, "Released")
            await self.reclaim(volume)
            return
        claimed = (claim.get("spec") or {}).get("volumeName")
        if not claimed and volume_mode(volume.get("spec") or {}) != volume_mode(claim.get("spec") or {}):
            # The claim's sync would never pick this volume: both are told why, and the claim is not queued.
            self.recorder.event(volume, "Warning", "VolumeMismatch",
                                f"Cannot bind PersistentVolume to requested PersistentVolumeClaim "
                                f"\"{claim['metadata']['name']}\" due to incompatible volumeMode.")
            self.recorder.event(claim, "Warning", "VolumeMismatch",
                                f"Cannot bind PersistentVolume \"{volume['metadata']['name']}\" to requested "
                                f"PersistentVolumeClaim due to incompatible volumeMode.")
        elif not claimed:
            self.queue.add("claim:" + key)
        elif claimed == volume["metadata"]["name"]:
            await self.volume_phase(volume, "Bound")
        elif DYNAMICALLY_PROVISIONED in (volume["metadata"].get("annotations") or {}) and \
                volume["spec"].get("persistentVolumeReclaimPolicy") == "Delete":
            if (volume.get("status") or {}).get("phase") not in ("Released", "Failed"):
                volume = await self.volume_phase(volume, "Released")
            await self.reclaim(volume)
        else:
            await self.unbind(volume)

    async def unbind(self, volume: dict) -> None:
        annotations = dict(volume["metadata"].get("annotations") or {})
        spec = dict(volume["spec"])
        if BOUND_BY_CONTROLLER in annotations:
            spec.pop("claimRef", None)
            annotations.pop(BOUND_BY_CONTROLLER)
        else:
            spec["claimRef"] = {k: v for k, v in spec["claimRef"].items() if k != "uid"}
        volume = await self._save_volume({**volume, "metadata": {**volume["metadata"], "annotations": annotations},
                                          "spec": spec})
        await self.volume_phase(volume, "Available")

    async def reclaim(self, volume: dict) -> None:
        spec = volume.get("spec") or {}
        annotations = volume["metadata"].get("annotations") or {}
        if annotations.get(MIGRATED_TO):
            return      # migrated to a CSI driver: its external provisioner reclaims the volume
        policy = spec.get("persistentVolumeReclaimPolicy") or "Retain"
        if policy == "Retain":
            return
        if policy == "Delete":
            provisioner = annotations.get(DYNAMICALLY_PROVISIONED)
            if provisioner and not provisioner.startswith("kubernetes.io/"):
                return      # an external provisioner deletes it
            if not provisioner and spec.get("csi") is not None:
                return      # a CSI volume's driver deletes it (HonorPVReclaimPolicy, on in 1.32)
            problem = await self._delete_volume_source(volume)
            if problem:
                await self.volume_phase(volume, "Failed", event=("Warning", "VolumeFailedDelete", problem))
                # Tried again with the queue's back-off, as upstream's delete operation is retried.
                raise ReclaimFailed(problem)
            try:
                await self.client.delete(PERSISTENT_VOLUMES, volume["metadata"]["name"])
            except APIError as e:
                if e.code != 404:
                    raise
            return
        if policy == "Recycle":
            await self.volume_phase(volume, "Failed", event=(
                "Warning", "VolumeFailedRecycle", "No recycler plugin found for the volume!"))
            return
        await self.volume_phase(volume, "Failed", event=(
            "Warning", "VolumeUnknownReclaimPolicy", "Volume has unrecognized PersistentVolumeReclaimPolicy"))

    async def _delete_volume_source(self, volume: dict) -> Optional[str]:
        """Upstream's in-tree deleters as kube-controller-manager has them: only the hostPath plugin deletes,
        and only a path under /tmp/ (removed from this host, as upstream's development-only deleter does);
        every other volume has no deleter. The reason it cannot delete, or None once deleted."""
        host_path = (volume.get("spec") or {}).get("hostPath")
        if not isinstance(host_path, dict):
            return f'error getting deleter volume plugin for volume "{volume["metadata"]["name"]}": ' \
                   f"no deletable volume plugin matched"
        path = host_path.get("path") or ""
        try:
            await in_pool(self.clock, self.remove_host_path, path)
        except OSError as e:
            return str(e)
        return None


def remove_host_path(path: str) -> None:
    """os.RemoveAll of ``path`` (nothing there is no error), run in the thread pool.  Upstream's deleter takes any
    path in which /tmp/ and more appear, and runs in the controller manager's container; here it runs on the host
    itself, so only a path that is under /tmp/ once its links are resolved is removed (a link under /tmp/ leading
    elsewhere is refused in upstream's words)."""
    refused = OSError(f"host_path deleter only supports /tmp/.+ but received provided {path}")
    if not re.match("/tmp/.+", path):
        raise refused
    resolved = os.path.realpath(path)
    if not resolved.startswith("/tmp/") or os.path.realpath("/tmp") != "/tmp":
        raise refused
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)     # a file, or a link itself (not what it leads to), as os.RemoveAll
    except FileNotFoundError:
        pass


class ReclaimFailed(Exception):
    """A volume's reclaim failed (its event and Failed phase written): the sync is retried with back-off."""


def start_persistent_volume_binder_controller(ctx: ControllerContext) -> PersistentVolumeBinder:
    return PersistentVolumeBinder(ctx)

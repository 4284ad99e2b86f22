"""VolumeRestrictions: a PersistentVolumeClaim with the ReadWriteOncePod access mode serves one pod at a
time, so while any placed pod uses it every node rejects another pod naming it; and the inline volumes
that attach one writer at a time (GCE PD, AWS EBS, iSCSI, RBD) may not be on a node twice unless every
user mounts them read-only.

Its PreFilter reads every claim the pod names, so a missing one rejects the pod first, with the lister's
NotFound words.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional

from ..framework import SKIP, Status, unresolvable, unschedulable

ERR_REASON_DISK_CONFLICT = "node(s) had no available disk"
ERR_REASON_READ_WRITE_ONCE_POD_CONFLICT = ("node has pod using PersistentVolumeClaim with the same name and "
                                           "ReadWriteOncePod access mode")
_INLINE = ("gcePersistentDisk", "awsElasticBlockStore", "rbd", "iscsi")


def _conflict(volume: Mapping, other: Mapping) -> bool:
    """isVolumeConflict: the same disk, image or iSCSI target, unless both are read-only (EBS: always)."""
    for kind in _INLINE:
        mine, theirs = volume.get(kind), other.get(kind)
        if mine is None or theirs is None:
            continue
        read_only = bool(mine.get("readOnly")) and bool(theirs.get("readOnly"))
        if kind == "gcePersistentDisk":
            return mine.get("pdName") == theirs.get("pdName") and not read_only
        if kind == "awsElasticBlockStore":
            return mine.get("volumeID") == theirs.get("volumeID")
        if kind == "iscsi":
            return mine.get("iqn") == theirs.get("iqn") and not read_only
        return (bool(set(mine.get("monitors") or []) & set(theirs.get("monitors") or []))
                and (mine.get("pool") or "rbd") == (theirs.get("pool") or "rbd")
                and mine.get("image") == theirs.get("image") and not read_only)
    return False


def _claim_keys(pod: Mapping) -> set[str]:
    namespace = pod["metadata"].get("namespace", "")
    return {f"{namespace}/{v['persistentVolumeClaim'].get('claimName', '')}"
            for v in (pod.get("spec") or {}).get("volumes") or [] if v.get("persistentVolumeClaim")}


class VolumeRestrictions:
    name = "VolumeRestrictions"
    events = {"Node/Add", "AssignedPod/Delete", "PersistentVolumeClaim/Add", "PersistentVolumeClaim/Update"}

    def __init__(self, get_claim: Callable[[str, str], Optional[Mapping]] = lambda ns, name: None):
        self.get_claim = get_claim

    def pre_filter(self, state, pod: Mapping, snapshot):
        volumes = (pod.get("spec") or {}).get("volumes") or []
        inline = [v for v in volumes if any(v.get(kind) is not None for kind in _INLINE)]
        namespace = pod["metadata"].get("namespace", "")
        exclusive = set()
        for volume in volumes:
            if not volume.get("persistentVolumeClaim"):
                continue
            name = volume["persistentVolumeClaim"].get("claimName", "")
            claim = self.get_claim(namespace, name)
            if claim is None:
                return unresolvable(f'persistentvolumeclaim "{name}" not found')
            if "ReadWriteOncePod" in ((claim.get("spec") or {}).get("accessModes") or []):
                exclusive.add(f"{namespace}/{name}")
        in_use = 0
        if exclusive:
            used = set()
            for info, _ in snapshot.pods():
                used |= _claim_keys(info.pod)
            in_use = len(exclusive & used)
        if not inline and not in_use:
            return Status(SKIP)
        state[self.name] = (inline, in_use)
        return None

    def filter(self, state, pod: Mapping, node_info):
        inline, in_use = state.get(self.name) or ((), 0)
        for volume in inline:
            for other in node_info.pods:
                if any(_conflict(volume, v) for v in (other.pod.get("spec") or {}).get("volumes") or []):
                    return unschedulable(ERR_REASON_DISK_CONFLICT)
        if in_use:
            return unschedulable(ERR_REASON_READ_WRITE_ONCE_POD_CONFLICT)
        return None

"""VolumeZone: a pod's bound volumes labelled with a zone or region (topology.kubernetes.io/zone and /region,
or their failure-domain.beta.kubernetes.io forms) may only be used on nodes in one of those zones or regions.
A node with none of those labels takes any volume (a cluster of one zone may leave its nodes unlabelled).

Claims that are not bound yet are VolumeBinding's concern; a claim bound to a volume that does not exist
rejects the pod at PreFilter with the lister's NotFound words.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional

from ..framework import SKIP, Status, unresolvable
from .volumebinding import claim_names, claim_storage_class

ERR_REASON_CONFLICT = "node(s) had no available volume zone"
TOPOLOGY_LABELS = ("failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
                   "topology.kubernetes.io/zone", "topology.kubernetes.io/region")
# A volume's beta label is also matched against the node's GA one.
_GA = {"failure-domain.beta.kubernetes.io/zone": "topology.kubernetes.io/zone",
       "failure-domain.beta.kubernetes.io/region": "topology.kubernetes.io/region"}


def label_zones(value: str) -> Optional[set[str]]:
    """A zone label's value as a set ("a__b": a or b); None when a part is empty (such a label is ignored)."""
    zones = set()
    for part in value.split("__"):
        part = part.strip()
        if not part:
            return None
        zones.add(part)
    return zones


class VolumeZone:
    name = "VolumeZone"
    events = {"Node/Add", "Node/UpdateNodeLabel", "PersistentVolumeClaim/Add", "PersistentVolumeClaim/Update",
              "PersistentVolume/Add", "PersistentVolume/Update", "StorageClass/Add"}

    def __init__(self, get_claim: Callable[[str, str], Optional[Mapping]] = lambda ns, name: None,
                 get_volume: Callable[[str], Optional[Mapping]] = lambda name: None,
                 get_storage_class: Callable[[str], Optional[Mapping]] = lambda name: None):
        self.get_claim, self.get_volume, self.get_storage_class = get_claim, get_volume, get_storage_class

    def pre_filter(self, state, pod: Mapping, snapshot):
        namespace = pod["metadata"].get("namespace", "")
        topologies: list[tuple[str, set[str]]] = []
        for name, _ in claim_names(pod):
            if not name:
                return unresolvable("PersistentVolumeClaim had no name")
            claim = self.get_claim(namespace, name)
            if claim is None:
                return unresolvable(f'persistentvolumeclaim "{name}" not found')
            volume_name = (claim.get("spec") or {}).get("volumeName")
            if not volume_name:
                class_name = claim_storage_class(claim)
                if not class_name:
                    return unresolvable("PersistentVolumeClaim had no pv name and storageClass name")
                storage_class = self.get_storage_class(class_name)
                if storage_class is None:
                    return unresolvable(f'storageclass.storage.k8s.io "{class_name}" not found')
                mode = storage_class.get("volumeBindingMode")
                if not mode:
                    return unresolvable(f'VolumeBindingMode not set for StorageClass "{class_name}"')
                if mode == "WaitForFirstConsumer":
                    continue
                return unresolvable("PersistentVolume had no name")
            volume = self.get_volume(volume_name)
            if volume is None:
                return unresolvable(f'persistentvolume "{volume_name}" not found')
            labels = volume["metadata"].get("labels") or {}
            for key in TOPOLOGY_LABELS:
                zones = label_zones(labels[key]) if key in labels else None
                if zones is not None:
                    topologies.append((key, zones))
        if not topologies:
            return Status(SKIP)
        state[self.name] = topologies
        return None

    def filter(self, state, pod: Mapping, node_info):
        topologies = state.get(self.name) or ()
        labels = node_info.labels
        if not topologies or not any(key in labels for key in TOPOLOGY_LABELS):
            return None
        for key, zones in topologies:
            value = labels.get(key)
            if value is None:
                value = labels.get(_GA.get(key, key))
            if value is None or value not in zones:
                return unresolvable(ERR_REASON_CONFLICT)
        return None

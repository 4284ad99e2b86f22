"""VolumeBinding, as far as it goes without CSI or a volume binder: a pod's claims must exist and not be
terminating; a claim bound to a PersistentVolume restricts the pod to the nodes the volume's nodeAffinity
allows (those it names by kubernetes.io/hostname are the only ones the Filter phase tries, as upstream's
PreFilterResult); an unbound claim of an Immediate class (or of no class) keeps the pod pending until the PV
controller binds it.  Claims of a WaitForFirstConsumer class pass unchecked: nothing here picks or
provisions their volumes."""

from __future__ import annotations

from typing import Callable, Mapping, Optional

from ..framework import SKIP, Status, unresolvable
from .helpers import node_selector_matches

ERR_REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ERR_REASON_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_REASON_PV_NOT_EXIST = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
ERR_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
HOSTNAME = "kubernetes.io/hostname"


def claim_names(pod: Mapping) -> list[tuple[str, bool]]:
    """(claim name, is an ephemeral volume's claim) for each of the pod's PVC volumes."""
    names = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        if volume.get("persistentVolumeClaim"):
            names.append((volume["persistentVolumeClaim"].get("claimName", ""), False))
        elif volume.get("ephemeral"):
            names.append((f"{pod['metadata']['name']}-{volume.get('name', '')}", True))
    return names


def claim_storage_class(claim: Mapping) -> str:
    annotations = claim["metadata"].get("annotations") or {}
    return (claim.get("spec") or {}).get("storageClassName") or annotations.get(
        "volume.beta.kubernetes.io/storage-class", "")


def hostname_node_names(volume: Mapping) -> set[str]:
    """GetLocalPersistentVolumeNodeNames: the union over the volume's required node selector terms of the
    kubernetes.io/hostname values each term's In expressions allow (intersected within a term)."""
    required = ((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}
    found: set[str] = set()
    for term in required.get("nodeSelectorTerms") or []:
        names: Optional[set[str]] = None
        for expression in term.get("matchExpressions") or []:
            if expression.get("key") == HOSTNAME and expression.get("operator") == "In":
                values = set(expression.get("values") or [])
                names = values if names is None else names & values
        found |= names or set()
    return found


class VolumeBinding:
    name = "VolumeBinding"
    events = {"PersistentVolumeClaim/Add", "PersistentVolumeClaim/Update", "PersistentVolume/Add",
              "PersistentVolume/Update", "StorageClass/Add", "StorageClass/Update", "Node/Add", "Node/UpdateNodeLabel"}

    def __init__(self, get_claim: Callable[[str, str], Optional[Mapping]] = lambda ns, name: None,
                 get_volume: Callable[[str], Optional[Mapping]] = lambda name: None,
                 get_storage_class: Callable[[str], Optional[Mapping]] = lambda name: None):
        self.get_claim, self.get_volume, self.get_storage_class = get_claim, get_volume, get_storage_class

    def pre_filter(self, state, pod: Mapping, snapshot):
        names = claim_names(pod)
        if not names:
            return Status(SKIP)
        namespace = pod["metadata"].get("namespace", "")
        bound, unbound_immediate = [], False
        for name, ephemeral in names:
            claim = self.get_claim(namespace, name)
            if claim is None:
                if ephemeral:
                    return unresolvable(f'waiting for ephemeral volume controller to create the '
                                        f'persistentvolumeclaim "{name}"')
                return unresolvable(f'persistentvolumeclaim "{name}" not found')
            if (claim.get("status") or {}).get("phase") == "Lost":
                return unresolvable(f'persistentvolumeclaim "{name}" bound to non-existent persistentvolume '
                                    f'"{(claim.get("spec") or {}).get("volumeName", "")}"')
            if claim["metadata"].get("deletionTimestamp"):
                return unresolvable(f'persistentvolumeclaim "{name}" is being deleted')
            if ephemeral and not any(r.get("controller") and r.get("uid") == pod["metadata"].get("uid")
                                     for r in claim["metadata"].get("ownerReferences") or []):
                return unresolvable(f"PVC {namespace}/{name} was not created for pod {namespace}/"
                                    f"{pod['metadata']['name']} (pod is not owner)")
            volume_name = (claim.get("spec") or {}).get("volumeName")
            if volume_name:
                bound.append(volume_name)
                continue
            storage_class = self.get_storage_class(claim_storage_class(claim)) or {}
            if storage_class.get("volumeBindingMode") != "WaitForFirstConsumer":
                unbound_immediate = True
        if unbound_immediate:
            return unresolvable(ERR_UNBOUND_IMMEDIATE)
        state[self.name] = bound
        eligible = self.eligible_nodes(bound)
        if eligible is not None:
            state.setdefault("__node_names__", {})[self.name] = eligible
        return None

    def eligible_nodes(self, volume_names) -> Optional[set[str]]:
        """GetEligibleNodes: the nodes the bound volumes' nodeAffinity names by kubernetes.io/hostname In
        (the intersection over the volumes naming some), or None (every node) when none names any or a
        volume is missing."""
        eligible: Optional[set[str]] = None
        for volume_name in volume_names:
            volume = self.get_volume(volume_name)
            if volume is None:
                return None
            names = hostname_node_names(volume)
            if names:
                eligible = names if eligible is None else eligible & names
        return eligible

    def filter(self, state, pod: Mapping, node_info):
        for volume_name in state.get(self.name) or ():
            volume = self.get_volume(volume_name)
            if volume is None:
                return unresolvable(ERR_REASON_PV_NOT_EXIST)
            required = ((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required")
            if required and not node_selector_matches(required, node_info.node):
                return unresolvable(ERR_REASON_NODE_CONFLICT)
        return None

"""What kube-controller-manager's persistent volume binder and kube-scheduler's VolumeBinding plugin both ask of
claims and volumes (upstream's k8s.io/component-helpers/storage/volume): a claim's class, size and modes, whether
a volume satisfies a claim, and which Available volume a claim gets."""

from __future__ import annotations

from fractions import Fraction
from typing import Dict, Optional

from .quantity import parse_quantity
from .selectors import label_selector_from_dict

BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"


def quantity(text) -> Fraction:
    """A resource.Quantity's value (0 for an absent or unparseable one)."""
    return parse_quantity(text if text is not None else "0") or Fraction(0)


def claim_class(claim: dict) -> str:
    annotations = claim["metadata"].get("annotations") or {}
    if BETA_STORAGE_CLASS in annotations:
        return annotations[BETA_STORAGE_CLASS]
    return (claim.get("spec") or {}).get("storageClassName") or ""


def claim_has_class(claim: dict) -> bool:
    return BETA_STORAGE_CLASS in (claim["metadata"].get("annotations") or {}) or \
        (claim.get("spec") or {}).get("storageClassName") is not None


def volume_class(volume: dict) -> str:
    annotations = volume["metadata"].get("annotations") or {}
    if BETA_STORAGE_CLASS in annotations:
        return annotations[BETA_STORAGE_CLASS]
    return (volume.get("spec") or {}).get("storageClassName") or ""


def volume_mode(spec: dict) -> str:
    return spec.get("volumeMode") or "Filesystem"


def requested(claim: dict) -> Fraction:
    return quantity((((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage"))


def capacity(volume: dict) -> Fraction:
    return quantity(((volume.get("spec") or {}).get("capacity") or {}).get("storage"))


def bound_to_claim(volume: dict, claim: dict) -> bool:
    """Upstream's IsVolumeBoundToClaim: the claimRef names the claim (and its uid, once set)."""
    ref = (volume.get("spec") or {}).get("claimRef")
    if not ref:
        return False
    meta = claim["metadata"]
    return ref.get("name") == meta["name"] and ref.get("namespace") == meta["namespace"] and \
        (not ref.get("uid") or ref.get("uid") == meta.get("uid"))


def access_modes_fit(claim: dict, volume: dict) -> bool:
    return set((claim.get("spec") or {}).get("accessModes") or []) <= \
        set((volume.get("spec") or {}).get("accessModes") or [])


def satisfy_error(volume: dict, claim: dict) -> Optional[str]:
    """Upstream's checkVolumeSatisfyClaim: why a pre-bound volume cannot serve the claim, or None."""
    if volume["metadata"].get("deletionTimestamp"):
        return f'the volume is marked for deletion "{volume["metadata"]["name"]}"'
    if capacity(volume) < requested(claim):
        return "requested PV is too small"
    if volume_class(volume) != claim_class(claim):
        return "storageClassName does not match"
    if volume_mode(volume.get("spec") or {}) != volume_mode(claim.get("spec") or {}):
        return "incompatible volumeMode"
    if not access_modes_fit(claim, volume):
        return "incompatible accessMode"
    return None


def node_affinity_matches(volume: dict, node: Optional[dict]) -> bool:
    """The volume's required node affinity (nodeSelectorTerms, ORed; expressions on labels) against ``node``."""
    terms = ((((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {})
             .get("nodeSelectorTerms"))
    if not terms or node is None:
        return True
    labels = node["metadata"].get("labels") or {}
    for term in terms:
        if all(_requirement(expression, labels) for expression in term.get("matchExpressions") or []):
            return True
    return False


def _requirement(expression: dict, labels: dict) -> bool:
    key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
    if operator == "In":
        return labels.get(key) in values
    if operator == "NotIn":
        return labels.get(key) not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return False


def find_matching_volume(claim: dict, volumes, delay_binding: bool, node: Optional[dict] = None) -> Optional[dict]:
    """Upstream's FindMatchingVolume: a volume pre-bound to the claim, else (unless binding waits for a consumer)
    the smallest Available, unclaimed one of the claim's class and selector (and, given a node, of its access modes
    and that node)."""
    want = requested(claim)
    selector = (claim.get("spec") or {}).get("selector")
    selects = label_selector_from_dict(selector) if selector else None
    best = None
    for volume in volumes:
        spec = volume.get("spec") or {}
        if spec.get("claimRef") and not bound_to_claim(volume, claim):
            continue
        if capacity(volume) < want or volume_mode(spec) != volume_mode(claim.get("spec") or {}) or \
                volume["metadata"].get("deletionTimestamp"):
            continue
        affinity = node_affinity_matches(volume, node)
        if bound_to_claim(volume, claim):
            return volume if affinity else None
        if delay_binding and node is None:
            continue
        if (volume.get("status") or {}).get("phase") != "Available":
            continue
        if selects is not None and not selects.matches(volume["metadata"].get("labels") or {}):
            continue
        if volume_class(volume) != claim_class(claim) or not affinity:
            continue
        if node is not None and not access_modes_fit(claim, volume):
            continue
        if best is None or capacity(volume) < capacity(best):
            best = volume
    return best


def best_match(claim: dict, volumes, delay_binding: bool, node: Optional[dict] = None) -> Optional[dict]:
    """Upstream's findBestMatchForClaim: the volumes are taken by their set of access modes, the sets holding
    every mode the claim asks for in order of fewest modes, and the first set with a match gives it; so a
    ReadWriteOnce claim gets a ReadWriteOnce volume before a smaller ReadWriteOnce,ReadWriteMany one. Given a node
    (the claim's selected node), every volume is searched at once, as the scheduler's binder does."""
    if node is not None:
        return find_matching_volume(claim, volumes, delay_binding, node)
    by_modes: Dict[tuple, list] = {}
    for volume in volumes:
        by_modes.setdefault(tuple(sorted(set((volume.get("spec") or {}).get("accessModes") or []))), []).append(volume)
    wanted = set((claim.get("spec") or {}).get("accessModes") or [])
    for modes in sorted((m for m in by_modes if wanted <= set(m)), key=lambda m: (len(m), m)):
        found = find_matching_volume(claim, by_modes[modes], delay_binding)
        if found is not None:
            return found
    return None

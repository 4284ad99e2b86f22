"""
The storage admission plugins, on by default as upstream's.

StorageObjectInUseProtection: a new PersistentVolumeClaim gets the kubernetes.io/pvc-protection finalizer, a
new PersistentVolume kubernetes.io/pv-protection, so neither goes while in use (upstream's protection
controllers remove the finalizer once nothing uses the object; kapiserver has no controller manager yet, so a
deleted claim or volume stays Terminating until a client removes the finalizer).

PersistentVolumeClaimResize: a claim's storage request may grow only while it is Bound and when its
StorageClass (unchanged) sets allowVolumeExpansion.
"""

from __future__ import annotations

from ..machinery.errors import StatusError
from ..registry.attributes import CREATE, UPDATE, Attributes
from ..machinery.quantity import parse_quantity
from .refusal import forbidden, is_resource

PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"
BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"


class StorageObjectInUseProtection:
    # The only (group, resource) pairs its admit and validate act on: the chain calls it for no other.
    admission_resources = frozenset({("", "persistentvolumeclaims"), ("", "persistentvolumes")})

    async def admit(self, attributes: Attributes) -> None:
        if attributes.operation != CREATE:
            return
        if is_resource(attributes, "", "persistentvolumeclaims"):
            finalizer = PVC_PROTECTION
        elif is_resource(attributes, "", "persistentvolumes"):
            finalizer = PV_PROTECTION
        else:
            return
        metadata = attributes.object.setdefault("metadata", {})
        finalizers = list(metadata.get("finalizers") or [])
        if finalizer not in finalizers:
            metadata["finalizers"] = finalizers + [finalizer]


def claim_class(claim: dict) -> str:
    """The claim's storage class: the beta annotation wins over spec.storageClassName, as upstream reads it."""
    annotations = (claim.get("metadata") or {}).get("annotations") or {}
    if BETA_STORAGE_CLASS in annotations:
        return annotations[BETA_STORAGE_CLASS] or ""
    return (claim.get("spec") or {}).get("storageClassName") or ""


def _storage_request(claim: dict):
    requests = (((claim.get("spec") or {}).get("resources") or {}).get("requests") or {})
    return parse_quantity(requests.get("storage", "0")) or 0


class PersistentVolumeClaimResize:
    # The only (group, resource) pairs its admit and validate act on: the chain calls it for no other.
    admission_resources = frozenset({("", "persistentvolumeclaims")})

    def __init__(self, registry):
        self.registry = registry

    async def _allows_expansion(self, name: str) -> bool:
        store = self.registry.lookup("storage.k8s.io", "v1", "storageclasses")
        if store is None:
            return False
        try:
            storage_class = await store.get_shared(None, name)
        except StatusError:
            return False
        return bool(storage_class.get("allowVolumeExpansion"))

    async def validate(self, attributes: Attributes) -> None:
        if attributes.operation != UPDATE or not is_resource(attributes, "", "persistentvolumeclaims"):
            return
        claim, old = attributes.object, attributes.old_object or {}
        if _storage_request(claim) <= _storage_request(old):
            return
        if (old.get("status") or {}).get("phase") != "Bound":
            raise forbidden(attributes, "Only bound persistent volume claims can be expanded")
        name, old_name = claim_class(claim), claim_class(old)
        if not name or not old_name or name != old_name or not await self._allows_expansion(name):
            raise forbidden(attributes, "only dynamically provisioned pvc can be resized and the storageclass "
                                        "that provisions the pvc must support resize")

"""
The StorageClass printer: NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE.
"""

from __future__ import annotations

from datetime import datetime

from . import _base as b

_DEFAULT_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                        "storageclass.beta.kubernetes.io/is-default-class")


def _cells(sc: dict, now: datetime) -> list:
    annotations = b.meta(sc).get("annotations") or {}
    name = b.name(sc)
    if any(annotations.get(key) == "true" for key in _DEFAULT_ANNOTATIONS):
        name += " (default)"
    return [name, sc.get("provisioner", ""), b.ptr(sc.get("reclaimPolicy"), "Delete"),
            b.ptr(sc.get("volumeBindingMode"), "Immediate"), bool(sc.get("allowVolumeExpansion") or False),
            b.age(sc, now)]


_SC = "storage.v1.StorageClass"
PRINTERS = {
    ("storage.k8s.io", "storageclasses"): b.Printer(
        lambda: [
            b.name_column(),
            b.column("Provisioner", "string", b.doc(_SC, "provisioner")),
            b.column("ReclaimPolicy", "string", b.doc(_SC, "reclaimPolicy")),
            b.column("VolumeBindingMode", "string", b.doc(_SC, "volumeBindingMode")),
            b.column("AllowVolumeExpansion", "string", b.doc(_SC, "allowVolumeExpansion")),
            b.age_column(),
        ],
        _cells),
}

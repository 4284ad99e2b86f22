"""
Printers for storage.k8s.io/v1:
StorageClass NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE;
CSIDriver NAME ATTACHREQUIRED PODINFOONMOUNT STORAGECAPACITY TOKENREQUESTS REQUIRESREPUBLISH MODES AGE;
CSINode NAME DRIVERS AGE; VolumeAttachment NAME ATTACHER PV NODE ATTACHED AGE.
CSIStorageCapacities print as the default NAME CREATED AT table: upstream's storage for them uses the default
table convertor, not the printer pkg/printers/internalversion declares for them.
"""

from __future__ import annotations

from datetime import datetime

from ...machinery.storageclass import BETA_DEFAULT_CLASS, DEFAULT_CLASS
from . import _base as b

_DEFAULT_ANNOTATIONS = (DEFAULT_CLASS, BETA_DEFAULT_CLASS)


def _cells(sc: dict, now: datetime) -> list:
    annotations = b.meta(sc).get("annotations") or {}
    name = b.name(sc)
    if any(annotations.get(key) == "true" for key in _DEFAULT_ANNOTATIONS):
        name += " (default)"
    return [name, sc.get("provisioner", ""), b.ptr(sc.get("reclaimPolicy"), "Delete"),
            b.ptr(sc.get("volumeBindingMode"), "Immediate"), bool(sc.get("allowVolumeExpansion") or False),
            b.age(sc, now)]


def _flag(value, default: bool) -> bool:
    return bool(value) if value is not None else default


def _csi_driver_cells(driver: dict, now: datetime) -> list:
    spec = driver.get("spec") or {}
    requests = spec.get("tokenRequests")
    token_requests = "<unset>" if requests is None else \
        ",".join((r or {}).get("audience", "") for r in requests if isinstance(requests, list))
    modes = ",".join(str(m) for m in spec.get("volumeLifecycleModes") or []) or "<none>"
    return [b.name(driver), _flag(spec.get("attachRequired"), True), _flag(spec.get("podInfoOnMount"), False),
            _flag(spec.get("storageCapacity"), False), token_requests, _flag(spec.get("requiresRepublish"), False),
            modes, b.age(driver, now)]


def _csi_node_cells(node: dict, now: datetime) -> list:
    return [b.name(node), len(b.get(node, "spec.drivers") or []), b.age(node, now)]


def _attachment_cells(attachment: dict, now: datetime) -> list:
    return [b.name(attachment), b.get(attachment, "spec.attacher", ""),
            b.get(attachment, "spec.source.persistentVolumeName", ""), b.get(attachment, "spec.nodeName", ""),
            bool(b.get(attachment, "status.attached", False)), b.age(attachment, now)]


_CSI = "storage.v1.CSIDriverSpec"
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
    ("storage.k8s.io", "csidrivers"): b.Printer(
        lambda: [
            b.name_column(),
            b.column("AttachRequired", "boolean", b.doc(_CSI, "attachRequired")),
            b.column("PodInfoOnMount", "boolean", b.doc(_CSI, "podInfoOnMount")),
            b.column("StorageCapacity", "boolean", b.doc(_CSI, "storageCapacity")),
            b.column("TokenRequests", "string", b.doc(_CSI, "tokenRequests")),
            b.column("RequiresRepublish", "boolean", b.doc(_CSI, "requiresRepublish")),
            b.column("Modes", "string", b.doc(_CSI, "volumeLifecycleModes")),
            b.age_column(),
        ],
        _csi_driver_cells),
    ("storage.k8s.io", "csinodes"): b.Printer(
        lambda: [
            b.name_column(),
            b.column("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node"),
            b.age_column(),
        ],
        _csi_node_cells),
    ("storage.k8s.io", "volumeattachments"): b.Printer(
        lambda: [
            b.name_column(),
            b.column("Attacher", "string", b.doc("storage.v1.VolumeAttachmentSpec", "attacher"), format_="name"),
            b.column("PV", "string", b.doc("storage.v1.VolumeAttachmentSource", "persistentVolumeName")),
            b.column("Node", "string", b.doc("storage.v1.VolumeAttachmentSpec", "nodeName")),
            b.column("Attached", "boolean", b.doc("storage.v1.VolumeAttachmentStatus", "attached")),
            b.age_column(),
        ],
        _attachment_cells),
}

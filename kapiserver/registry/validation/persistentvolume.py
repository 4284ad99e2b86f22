"""Validation of PersistentVolumes and PersistentVolumeClaims (upstream's ValidatePersistentVolume*,
ValidatePersistentVolumeClaim* in pkg/apis/core/validation), with upstream's paths and messages.

Feature gates as 1.32 ships them: VolumeAttributesClass (beta, off) leaves volumeAttributesClassName
unchecked; RecoverVolumeExpansionFailure (beta, on) lets a bound claim's request come down to above its
status.capacity, and checks the allocated resources and their resize statuses a status update writes."""

from __future__ import annotations

import posixpath
from typing import Any

from . import meta as _meta
from . import pod
from ...machinery import names
from ...machinery.quantity import parse_quantity
from ._util import (FIELD_IMMUTABLE, Errors, as_dict, as_dicts, forbidden, go_diff, invalid, invalid_go, label_selector,
                    not_supported, required, seq, text, too_long)

ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
VOLUME_MODES = ("Block", "Filesystem")
RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"

# The volume sources of a PersistentVolumeSpec in the order upstream checks them, each with the path its
# "more than 1 volume type" error names (cephfs's is spelt cephFS there); flexVolume is counted but never
# refused as a second source.
PV_SOURCES = (
    ("hostPath", "hostPath"), ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"), ("glusterfs", "glusterfs"), ("flocker", "flocker"),
    ("nfs", "nfs"), ("rbd", "rbd"), ("quobyte", "quobyte"), ("cephfs", "cephFS"), ("iscsi", "iscsi"),
    ("cinder", "cinder"), ("fc", "fc"), ("flexVolume", None), ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"), ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"), ("azureDisk", "azureDisk"), ("scaleIO", "scaleIO"), ("local", "local"),
    ("storageos", "storageos"), ("csi", "csi"),
)
PV_SOURCE_KEYS = tuple(key for key, _ in PV_SOURCES)

# Node labels a volume's node affinity may move from (beta) to (GA) after creation.
_GA_TOPOLOGY_LABELS = {
    "failure-domain.beta.kubernetes.io/zone": "topology.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region": "topology.kubernetes.io/region",
    "beta.kubernetes.io/instance-type": "node.kubernetes.io/instance-type",
    "beta.kubernetes.io/os": "kubernetes.io/os",
    "beta.kubernetes.io/arch": "kubernetes.io/arch",
}

SPEC_IMMUTABLE = "spec is immutable after creation except resources.requests and volumeAttributesClassName for " \
                 "bound claims"


def semantic(value: Any) -> Any:
    """``value`` as apimachinery's Semantic.DeepEqual compares it: an empty list or map equals none."""
    if isinstance(value, dict):
        return {k: semantic(v) for k, v in value.items() if v is not None and v != [] and v != {}}
    if isinstance(value, list):
        return [semantic(v) for v in value]
    return value


# -- shared pieces ---------------------------------------------------------------------------

def access_modes(value: Any, path: str, detail: str = "") -> Errors:
    """The modes are known ones, at least one, and ReadWriteOncePod alone."""
    modes = seq(value)
    errs: Errors = [] if modes else [required(path, detail)]
    once_pod = other = False
    for mode in modes:
        if mode not in ACCESS_MODES:
            errs.append(not_supported(path, mode, ACCESS_MODES))
        elif mode == "ReadWriteOncePod":
            once_pod = True
        else:
            other = True
    if once_pod and other:
        errs.append(forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return errs


def positive_quantity(value: Any, path: str) -> Errors:
    amount = parse_quantity(value)
    if amount is not None and amount <= 0:
        return [invalid(path, text(value), "must be greater than zero")]
    return []


def class_name(value: Any, path: str) -> Errors:
    return [invalid(path, value, msg) for msg in names.is_dns1123_subdomain(text(value))]


def node_selector(selector: dict, path: str) -> Errors:
    """ValidateNodeSelector (label values checked strictly, as for a new volume)."""
    terms = selector.get("nodeSelectorTerms")
    if not isinstance(terms, list) or not terms:
        return [required(f"{path}.nodeSelectorTerms", "must have at least one node selector term")]
    errs: Errors = []
    for i, term in enumerate(as_dicts(terms)):
        errs += pod.node_selector_term(term, f"{path}.nodeSelectorTerms[{i}]", True)
    return errs


# -- volume sources --------------------------------------------------------------------------

def csi_driver_name(value: Any, path: str) -> Errors:
    """ValidateCSIDriverName, of a CSI volume source and of storage.k8s.io's CSIDriver, CSINode and
    VolumeAttachment alike: required, at most 63 characters, a DNS subdomain in lower case (every rule broken is
    reported: an empty name is also no subdomain)."""
    name = text(value)
    errs: Errors = [] if name else [required(path, "")]
    if len(name) > 63:
        errs.append(too_long(path, name, 63))
    return errs + [invalid(path, name, msg) for msg in names.is_dns1123_subdomain(name.lower())]


def _secret_reference(ref: Any, path: str) -> Errors:
    ref = as_dict(ref)
    errs: Errors = []
    if not text(ref.get("name")):
        errs.append(required(f"{path}.name", ""))
    else:
        errs += [invalid(f"{path}.name", ref["name"], msg)
                 for msg in names.name_is_dns_subdomain(text(ref["name"]), False)]
    if not text(ref.get("namespace")):
        errs.append(required(f"{path}.namespace", ""))
    else:
        errs += [invalid(f"{path}.namespace", ref["namespace"], msg)
                 for msg in names.is_dns1123_label(text(ref["namespace"]))]
    return errs


def _source(key: str, source: dict, path: str) -> Errors:
    """The checks of one volume source that matter for the volumes people create by hand."""
    errs: Errors = []
    if key == "hostPath":
        errs += pod.host_path_source(source, path)
    elif key == "nfs":
        errs += pod.nfs_source(source, path)
    elif key == "local":
        if not text(source.get("path")):
            errs.append(required(f"{path}.path", ""))
        else:
            errs += pod.no_backsteps(text(source["path"]), f"{path}.path")
    elif key == "csi":
        errs += csi_driver_name(source.get("driver"), f"{path}.driver")
        if not text(source.get("volumeHandle")):
            errs.append(required(f"{path}.volumeHandle", ""))
        for ref in ("controllerPublishSecretRef", "controllerExpandSecretRef", "nodePublishSecretRef",
                    "nodeExpandSecretRef", "nodeStageSecretRef"):
            if source.get(ref) is not None:
                errs += _secret_reference(source[ref], f"{path}.{ref}")
    return errs


# -- PersistentVolume ------------------------------------------------------------------------

def persistent_volume_spec(spec: dict, path: str = "spec") -> Errors:
    errs = access_modes(spec.get("accessModes"), f"{path}.accessModes")
    capacity = as_dict(spec.get("capacity"))
    if not capacity:
        errs.append(required(f"{path}.capacity", ""))
    if "storage" not in capacity or len(capacity) > 1:
        errs.append(not_supported(f"{path}.capacity", capacity, ["storage"]))
    for name in sorted(capacity):
        amount = parse_quantity(capacity[name])
        if amount is not None and amount < 0:
            errs.append(invalid(f"{path}.capacity[{name}]", int(amount), "must be a valid resource quantity"))
        errs += positive_quantity(capacity[name], f"{path}.capacity[{name}]")
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy and policy not in RECLAIM_POLICIES:
        errs.append(not_supported(f"{path}.persistentVolumeReclaimPolicy", policy, RECLAIM_POLICIES))
    affinity = spec.get("nodeAffinity")
    if affinity is not None:
        required_nodes = as_dict(affinity).get("required")
        if required_nodes is None:
            errs.append(required(f"{path}.nodeAffinity.required", "must specify required node constraints"))
        else:
            errs += node_selector(as_dict(required_nodes), f"{path}.nodeAffinity.required")
    count = 0
    for key, forbidden_path in PV_SOURCES:
        source = spec.get(key)
        if source is None:
            continue
        if count and forbidden_path is not None:
            errs.append(forbidden(f"{path}.{forbidden_path}", "may not specify more than 1 volume type"))
            continue
        count += 1
        errs += _source(key, as_dict(source), f"{path}.{key}")
        if key == "local" and affinity is None:
            errs.append(required(f"{path}.nodeAffinity", "Local volume requires node affinity"))
    if not count:
        errs.append(required(path, "must specify a volume type"))
    host_path = spec.get("hostPath")
    if host_path is not None and policy == "Recycle" and \
            posixpath.normpath(text(as_dict(host_path).get("path")) or ".") in ("/", "//"):
        errs.append(forbidden(f"{path}.persistentVolumeReclaimPolicy", "may not be 'recycle' for a hostPath mount "
                                                                        "of '/'"))
    if spec.get("storageClassName"):
        errs += class_name(spec["storageClassName"], f"{path}.storageClassName")
    if spec.get("volumeMode") is not None and spec["volumeMode"] not in VOLUME_MODES:
        errs.append(not_supported(f"{path}.volumeMode", spec["volumeMode"], VOLUME_MODES))
    return errs


def validate_persistent_volume(obj: dict, namespaced: bool = False) -> Errors:
    errs = _meta.object_meta(obj.get("metadata"), False, names.name_is_dns_subdomain)
    return errs + persistent_volume_spec(as_dict(obj.get("spec")))


def _ga_affinity(affinity: Any) -> Any:
    """The node affinity with beta topology label keys read as their GA names."""
    affinity = semantic(affinity)
    for term in as_dicts(as_dict(as_dict(affinity).get("required")).get("nodeSelectorTerms")):
        for expr in as_dicts(term.get("matchExpressions")):
            if isinstance(expr.get("key"), str) and expr["key"] in _GA_TOPOLOGY_LABELS:
                expr["key"] = _GA_TOPOLOGY_LABELS[expr["key"]]
    return affinity


def _go_affinity(affinity: Any) -> str:
    if affinity is None:
        return "null"
    required_nodes = as_dict(affinity).get("required")
    return "core.VolumeNodeAffinity{Required:" + ("(*core.NodeSelector)(nil)" if required_nodes is None else
                                                  "(*core.NodeSelector){...}") + "}"


def validate_persistent_volume_update(new: dict, old: dict, namespaced: bool = False) -> Errors:
    """ValidatePersistentVolumeUpdate: the volume source and volumeMode are fixed at creation; node affinity
    may be set once, then only move from beta to GA topology labels."""
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    errs += validate_persistent_volume(new)
    spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    source = {k: spec[k] for k in PV_SOURCE_KEYS if spec.get(k) is not None}
    old_source = {k: old_spec[k] for k in PV_SOURCE_KEYS if old_spec.get(k) is not None}
    old_csi, new_csi = old_source.get("csi"), source.get("csi")
    if isinstance(old_csi, dict) and isinstance(new_csi, dict) and old_csi.get("controllerExpandSecretRef") is None:
        # The expansion secret may be added to a volume that had none.
        source["csi"] = {k: v for k, v in new_csi.items() if k != "controllerExpandSecretRef"}
    if semantic(source) != semantic(old_source):
        errs.append(forbidden("spec.persistentvolumesource", "spec.persistentvolumesource is immutable after "
                              "creation\n" + go_diff("core.PersistentVolumeSource", old_source, source)))
    if spec.get("volumeMode") != old_spec.get("volumeMode"):
        errs.append(invalid("volumeMode", spec.get("volumeMode"), FIELD_IMMUTABLE))
    if old_spec.get("nodeAffinity") is not None and \
            _ga_affinity(spec.get("nodeAffinity")) != _ga_affinity(old_spec.get("nodeAffinity")):
        errs.append(invalid_go("nodeAffinity", _go_affinity(spec.get("nodeAffinity")),
                               FIELD_IMMUTABLE + ", except for updating from beta label to GA"))
    return errs


def validate_persistent_volume_status_update(new: dict, old: dict, namespaced: bool = False) -> Errors:
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    if not as_dict(new.get("metadata")).get("resourceVersion"):
        errs.append(required("resourceVersion", ""))
    return errs


# -- PersistentVolumeClaim -------------------------------------------------------------------

def _data_source(ref: dict, path: str, with_namespace: bool) -> Errors:
    errs: Errors = []
    if not text(ref.get("name")):
        errs.append(required(f"{path}.name", ""))
    if not text(ref.get("kind")):
        errs.append(required(f"{path}.kind", ""))
    group = text(ref.get("apiGroup"))
    if not group and ref.get("kind") != "PersistentVolumeClaim":
        errs.append(invalid(path, text(ref.get("kind")),
                            "must be 'PersistentVolumeClaim' when referencing the default apiGroup"))
    if group:
        errs += [invalid(f"{path}.apiGroup", group, msg) for msg in names.is_dns1123_subdomain(group)]
    if with_namespace and text(ref.get("namespace")):
        errs += [invalid(f"{path}.namespace", ref["namespace"], msg)
                 for msg in names.is_dns1123_label(text(ref["namespace"]))]
    return errs


def pvc_spec(spec: dict, path: str) -> Errors:
    """ValidatePersistentVolumeClaimSpec: of a claim, or of a claim template (statefulset, ephemeral volume)."""
    errs = [] if spec.get("accessModes") else [required(f"{path}.accessModes", "at least 1 access mode is required")]
    if spec.get("selector") is not None:
        errs += label_selector(spec["selector"], f"{path}.selector")
    errs += [e for e in access_modes(spec.get("accessModes"), f"{path}.accessModes")
             if e.reason != "FieldValueRequired"]
    requests = as_dict(as_dict(spec.get("resources")).get("requests"))
    if "storage" not in requests:
        errs.append(required(f"{path}.resources[storage]", ""))
    else:
        errs += positive_quantity(requests["storage"], f"{path}.resources[storage]")
    if spec.get("storageClassName"):
        errs += class_name(spec["storageClassName"], f"{path}.storageClassName")
    if spec.get("volumeMode") is not None and spec["volumeMode"] not in VOLUME_MODES:
        errs.append(not_supported(f"{path}.volumeMode", spec["volumeMode"], VOLUME_MODES))
    source, source_ref = spec.get("dataSource"), spec.get("dataSourceRef")
    if source is not None:
        errs += _data_source(as_dict(source), f"{path}.dataSource", False)
    if source_ref is not None:
        errs += _data_source(as_dict(source_ref), f"{path}.dataSourceRef", True)
    if source_ref is not None and text(as_dict(source_ref).get("namespace")):
        if source is not None:
            errs.append(invalid(path, f"{path}.dataSource", "may not be specified when dataSourceRef.namespace is "
                                                            "specified"))
    elif source is not None and source_ref is not None:
        source, source_ref = as_dict(source), as_dict(source_ref)
        if (source.get("apiGroup"), text(source.get("kind")), text(source.get("name"))) != \
                (source_ref.get("apiGroup"), text(source_ref.get("kind")), text(source_ref.get("name"))):
            errs.append(invalid(path, f"{path}.dataSource", "must match dataSourceRef"))
    return errs


def validate_persistent_volume_claim(obj: dict, namespaced: bool = True) -> Errors:
    errs = _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns_subdomain)
    return errs + pvc_spec(as_dict(obj.get("spec")), "spec")


def _class_from_annotation(old_annotations: dict, new_annotations: dict, old_class, new_class) -> bool:
    """A claim's beta class annotation may become its spec.storageClassName (same class)."""
    if BETA_STORAGE_CLASS not in old_annotations or old_class is not None or new_class is None:
        return False
    named = old_annotations[BETA_STORAGE_CLASS]
    return new_class == named and new_annotations.get(BETA_STORAGE_CLASS, named) == named


def _storage(claim: dict, where: str = "spec") -> Any:
    if where == "spec":
        return as_dict(as_dict(as_dict(claim.get("spec")).get("resources")).get("requests")).get("storage")
    return as_dict(as_dict(claim.get("status")).get("capacity")).get("storage")


def validate_persistent_volume_claim_update(new: dict, old: dict, namespaced: bool = True) -> Errors:
    """ValidatePersistentVolumeClaimUpdate: a claim's spec is fixed but for volumeName (set once), a nil class
    (set once), and the storage request of a bound claim (never lowered to its status.capacity or below)."""
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    errs += validate_persistent_volume_claim(new, namespaced)
    spec, old_spec = dict(as_dict(new.get("spec"))), dict(as_dict(old.get("spec")))
    if not old_spec.get("volumeName"):
        old_spec["volumeName"] = spec.get("volumeName")
    annotations = as_dict(as_dict(new.get("metadata")).get("annotations"))
    old_annotations = as_dict(as_dict(old.get("metadata")).get("annotations"))
    if _class_from_annotation(old_annotations, annotations, old_spec.get("storageClassName"),
                              spec.get("storageClassName")):
        spec.pop("storageClassName", None)
    else:
        if annotations.get(BETA_STORAGE_CLASS, "") != old_annotations.get(BETA_STORAGE_CLASS, ""):
            errs.append(invalid(f"metadata.annotations.{BETA_STORAGE_CLASS}", annotations.get(BETA_STORAGE_CLASS, ""),
                                FIELD_IMMUTABLE))
        if spec.get("storageClassName") is not None and old_spec.get("storageClassName") is None and \
                (BETA_STORAGE_CLASS not in old_annotations or
                 spec["storageClassName"] == old_annotations[BETA_STORAGE_CLASS]):
            spec["storageClassName"] = old_spec.get("storageClassName")
    resources = as_dict(spec.get("resources"))
    if as_dict(new.get("status")).get("phase") == "Bound" and resources.get("requests") is not None:
        spec["resources"] = {**resources, "requests": {**as_dict(resources["requests"]), "storage": _storage(old)}}
    spec["volumeAttributesClassName"] = old_spec.get("volumeAttributesClassName")
    if semantic(spec) != semantic(old_spec):
        errs.append(forbidden("spec", SPEC_IMMUTABLE + "\n" + go_diff("core.PersistentVolumeClaimSpec",
                                                                      semantic(old_spec), semantic(spec))))
    new_size, old_size = parse_quantity(_storage(new)) or 0, parse_quantity(_storage(old)) or 0
    # RecoverVolumeExpansionFailure (on in 1.32): a request may come down again, to above what the volume has.
    if new_size < old_size and new_size <= (parse_quantity(_storage(old, "status")) or 0):
        errs.append(forbidden("spec.resources.requests.storage", "field can not be less than status.capacity"))
    new_mode, old_mode = as_dict(new.get("spec")).get("volumeMode"), as_dict(old.get("spec")).get("volumeMode")
    if new_mode != old_mode:
        errs.append(invalid("volumeMode", new_mode, FIELD_IMMUTABLE))
    return errs


def validate_persistent_volume_claim_status_update(new: dict, old: dict, namespaced: bool = True) -> Errors:
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    if not as_dict(new.get("metadata")).get("resourceVersion"):
        errs.append(required("resourceVersion", ""))
    if not as_dict(new.get("spec")).get("accessModes"):
        errs.append(required("Spec.accessModes", ""))
    status = as_dict(new.get("status"))
    for name, value in sorted(as_dict(status.get("capacity")).items()):
        errs += _basic_resource(value, f"status.capacity[{name}]")
    # RecoverVolumeExpansionFailure (on in 1.32): what the resizer records is checked.
    for name, value in sorted(as_dict(status.get("allocatedResourceStatuses")).items()):
        errs += _claim_resource_key(name, "status.allocatedResourceStatus")
        if value not in RESIZE_STATUSES:
            errs.append(not_supported("status.allocatedResourceStatus", name, RESIZE_STATUSES))
    for name, value in sorted(as_dict(status.get("allocatedResources")).items()):
        key_errors = _claim_resource_key(name, "status.allocatedResources")
        errs += key_errors or _basic_resource(value, f"status.allocatedResources[{name}]")
    return errs


# The resize statuses of a claim's status.allocatedResourceStatuses, sorted as upstream lists them.
RESIZE_STATUSES = ("ControllerResizeInProgress", "ControllerResizeInfeasible", "NodeResizeInProgress",
                   "NodeResizeInfeasible", "NodeResizePending")


def _basic_resource(value: Any, path: str) -> Errors:
    amount = parse_quantity(value)
    if amount is not None and amount < 0:
        return [invalid(path, int(amount), "must be a valid resource quantity")]
    return []


def _claim_resource_key(name: str, path: str) -> Errors:
    """validatePersistentVolumeClaimResourceKey: a qualified name; of the native ones (no prefix, or a
    kubernetes.io one) only storage. The path is the map's, the bad key its value."""
    errs = [invalid(path, name, msg) for msg in names.is_qualified_name(name)]
    if not errs and ("/" not in name or "kubernetes.io/" in name) and name != "storage":
        errs.append(not_supported(path, name, ["storage"]))
    return errs

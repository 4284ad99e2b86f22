"""Validation of storage.k8s.io: StorageClass, CSIDriver, CSINode, CSIStorageCapacity and VolumeAttachment
(upstream's pkg/apis/storage/validation)."""

from __future__ import annotations

from typing import Any

from . import meta as _meta
from ...machinery import names
from ...machinery.quantity import parse_quantity
from .core import ACCESS_MODES
from .persistentvolume import csi_driver_name
from ._util import (FIELD_IMMUTABLE, Errors, as_dict, as_dicts, duplicate, forbidden, go_label_selector, go_quote,
                    go_strings, immutable, invalid, invalid_go, is_int, label_selector, nonnegative, not_supported,
                    qualified_name, required, seq, text, too_long)


def _meta_create(obj: dict, namespaced: bool, name_fn=names.name_is_dns_subdomain) -> Errors:
    return _meta.object_meta(obj.get("metadata"), namespaced, name_fn)


def validate_storage_class(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, False)
    provisioner = text(obj.get("provisioner"))
    if not provisioner:
        errs.append(required("provisioner", ""))
    else:
        errs += qualified_name(provisioner.lower(), "provisioner")
    parameters = as_dict(obj.get("parameters"))
    total = sum(len(k) + len(str(v)) for k, v in parameters.items())
    if len(parameters) > 512:
        errs.append(invalid_go("parameters", "map[string]string{...}", "can't have more than 512 parameters"))
    if total > 256 * 1024:
        errs.append(invalid_go("parameters", "map[string]string{...}",
                               "total length of parameters must be less than 262144"))
    policy = obj.get("reclaimPolicy")
    if policy is not None and policy not in ("Delete", "Retain"):
        errs.append(not_supported("reclaimPolicy", policy, ["Delete", "Retain"]))
    mode = obj.get("volumeBindingMode")
    if mode is None:
        errs.append(required("volumeBindingMode", ""))
    elif mode not in ("Immediate", "WaitForFirstConsumer"):
        errs.append(not_supported("volumeBindingMode", mode, ["Immediate", "WaitForFirstConsumer"]))
    return errs + _allowed_topologies(obj.get("allowedTopologies"))


def _allowed_topologies(value: Any, path: str = "allowedTopologies") -> Errors:
    """validateAllowedTopologies: each term's requirements have values (no value twice) and a label key (no key
    twice), and no term repeats another (the same keys with the same value sets). Upstream compares each term with
    a list that starts with as many empty terms as there are terms, so a term without requirements is reported as
    a duplicate once per empty term before it."""
    terms = as_dicts(value)
    errs: Errors = []
    seen: list = [{} for _ in terms]
    for i, term in enumerate(terms):
        expressions: dict = {}
        for j, requirement in enumerate(as_dicts(term.get("matchLabelExpressions"))):
            at = f"{path}[{i}].matchLabelExpressions[{j}]"
            values = seq(requirement.get("values"))
            if not values:
                errs.append(required(f"{at}.values", ""))
            value_set: set = set()
            for k, item in enumerate(values):
                if item in value_set:
                    errs.append(duplicate(f"{at}.values[{k}]", item))
                value_set.add(item)
            key = text(requirement.get("key"))
            errs += qualified_name(key, f"{at}.key")
            if key in expressions:
                errs.append(duplicate(f"{at}.key", key))
            expressions[key] = value_set
        errs += [duplicate(f"{path}[{i}].matchLabelExpressions", "") for earlier in seen if earlier == expressions]
        seen.append(expressions)
    return errs


def validate_storage_class_update(new: dict, old: dict, namespaced: bool) -> Errors:
    """As upstream's strategy: the create rules first, then the update's own."""
    errs = validate_storage_class(new, namespaced)
    errs += _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    if (new.get("parameters") or {}) != (old.get("parameters") or {}):
        errs.append(forbidden("parameters", "updates to parameters are forbidden."))
    if new.get("provisioner") != old.get("provisioner"):
        errs.append(forbidden("provisioner", "updates to provisioner are forbidden."))
    if new.get("reclaimPolicy") != old.get("reclaimPolicy"):
        errs.append(forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
    errs += immutable(new.get("volumeBindingMode"), old.get("volumeBindingMode"), "volumeBindingMode")
    return errs


# -- storage: CSI ----------------------------------------------------------------------------

MAX_ATTACHED_VOLUME_METADATA_SIZE = 256 * (1 << 10)
MAX_VOLUME_ERROR_MESSAGE_SIZE = 1024
CSI_NODE_ID_MAX_LENGTH = 192
CSI_NODE_ID_LONGER_MAX_LENGTH = 256
FS_GROUP_POLICIES = ("File", "None", "ReadWriteOnceWithFSType")   # upstream lists them sorted
VOLUME_LIFECYCLE_MODES = ("Persistent", "Ephemeral")


def _go_bool_ptr(value: Any) -> str:
    return "(*bool)(nil)" if value is None else ("true" if value else "false")


def _csi_driver_spec(spec: dict) -> Errors:
    errs: Errors = []
    # upstream names the attachRequired path "attachedRequired"
    for key, path in (("attachRequired", "spec.attachedRequired"), ("podInfoOnMount", "spec.podInfoOnMount"),
                      ("storageCapacity", "spec.storageCapacity")):
        if spec.get(key) is None:
            errs.append(required(path, ""))
    policy = spec.get("fsGroupPolicy")
    if policy is not None and policy not in FS_GROUP_POLICIES:
        errs.append(not_supported("spec.fsGroupPolicy", policy, FS_GROUP_POLICIES))
    audiences: set = set()
    for i, request in enumerate(as_dicts(spec.get("tokenRequests"))):
        audience = text(request.get("audience"))
        if audience in audiences:
            errs.append(duplicate(f"spec.tokenRequests[{i}].audience", audience))
            continue
        audiences.add(audience)
        seconds = request.get("expirationSeconds")
        if not is_int(seconds):
            continue
        if seconds < 600:
            errs.append(invalid(f"spec.tokenRequests[{i}].expirationSeconds", seconds,
                                "may not specify a duration less than 10 minutes"))
        if seconds > 1 << 32:
            errs.append(invalid(f"spec.tokenRequests[{i}].expirationSeconds", seconds,
                                "may not specify a duration larger than 2^32 seconds"))
    for mode in seq(spec.get("volumeLifecycleModes")):
        if mode not in VOLUME_LIFECYCLE_MODES:
            errs.append(not_supported("spec.volumeLifecycleModes", mode, VOLUME_LIFECYCLE_MODES))
    if spec.get("seLinuxMount") is None:
        errs.append(required("spec.seLinuxMount", ""))
    return errs


def validate_csi_driver(obj: dict, namespaced: bool) -> Errors:
    return _meta_create(obj, False) + _csi_driver_spec(as_dict(obj.get("spec")))


def _go_lifecycle_modes(value: Any) -> str:
    if value is None:
        return "[]storage.VolumeLifecycleMode(nil)"
    return "[]storage.VolumeLifecycleMode{" + ", ".join(go_quote(m) for m in seq(value)) + "}"


def validate_csi_driver_update(new: dict, old: dict, namespaced: bool) -> Errors:
    """As upstream's: the create rules, then the update's own (which check the spec once more)."""
    spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    errs = validate_csi_driver(new, namespaced)
    errs += _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    errs += _csi_driver_spec(spec)
    if spec.get("attachRequired") != old_spec.get("attachRequired"):
        errs.append(invalid_go("spec.attachedRequired", _go_bool_ptr(spec.get("attachRequired")), FIELD_IMMUTABLE))
    if spec.get("volumeLifecycleModes") != old_spec.get("volumeLifecycleModes"):
        errs.append(invalid_go("spec.volumeLifecycleModes", _go_lifecycle_modes(spec.get("volumeLifecycleModes")),
                               FIELD_IMMUTABLE))
    return errs


def _csi_node(obj: dict, allow_long_node_id: bool) -> Errors:
    errs = _meta_create(obj, False)
    seen: set = set()
    for i, driver in enumerate(as_dicts(as_dict(obj.get("spec")).get("drivers"))):
        path = f"spec.drivers[{i}]"
        name = text(driver.get("name"))
        errs += csi_driver_name(name, f"{path}.name")
        node_id = text(driver.get("nodeID"))
        if not node_id:
            errs.append(required(f"{path}.nodeID", ""))
        limit = CSI_NODE_ID_LONGER_MAX_LENGTH if allow_long_node_id else CSI_NODE_ID_MAX_LENGTH
        if len(node_id) > limit:
            errs.append(invalid(f"{path}.nodeID", node_id, f"must be {limit} characters or less"))
        count = as_dict(driver.get("allocatable")).get("count")
        if count is not None:
            errs += nonnegative(count, f"{path}.allocatable.count")
        if name in seen:
            errs.append(duplicate(f"{path}.name", name))
        seen.add(name)
        keys: set = set()
        for key in seq(driver.get("topologyKeys")):
            key = text(key)
            if not key:
                errs.append(required(path, ""))
            if key in keys:
                errs.append(duplicate(path, key))
            keys.add(key)
            errs += qualified_name(key, path)
    return errs


def validate_csi_node(obj: dict, namespaced: bool) -> Errors:
    return _csi_node(obj, False)


def _go_csi_node_driver(driver: dict) -> str:
    count = as_dict(driver.get("allocatable")).get("count")
    allocatable = "(*storage.VolumeNodeResources)(nil)" if driver.get("allocatable") is None else \
        "&storage.VolumeNodeResources{Count:" + ("(*int32)(nil)" if count is None else f"&{count}") + "}"
    return (f"storage.CSINodeDriver{{Name:{go_quote(driver.get('name'))}, NodeID:{go_quote(driver.get('nodeID'))}, "
            f"TopologyKeys:{go_strings(driver.get('topologyKeys'))}, Allocatable:{allocatable}}}")


def _semantic_driver(driver: dict) -> dict:
    """A driver as Go's semantic equality sees it: an empty list of topology keys is no list."""
    return {key: value for key, value in driver.items() if not (key == "topologyKeys" and not value)}


def validate_csi_node_update(new: dict, old: dict, namespaced: bool) -> Errors:
    """As upstream's: the create rules, then the update's (the create rules again, and each existing
    driver immutable); a long node ID stays allowed once an old driver has one."""
    old_drivers = as_dicts(as_dict(old.get("spec")).get("drivers"))
    allow_long = any(len(text(d.get("nodeID"))) > CSI_NODE_ID_MAX_LENGTH for d in old_drivers)
    errs = _csi_node(new, allow_long) + _csi_node(new, allow_long)
    errs += _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    for old_driver in old_drivers:
        for driver in as_dicts(as_dict(new.get("spec")).get("drivers")):
            if text(driver.get("name")) == text(old_driver.get("name")) and \
                    _semantic_driver(driver) != _semantic_driver(old_driver):
                errs.append(invalid_go("spec.drivers", _go_csi_node_driver(driver), FIELD_IMMUTABLE))
    return errs


def validate_csi_storage_capacity(obj: dict, namespaced: bool) -> Errors:
    errs = _meta_create(obj, True)
    errs += label_selector(obj.get("nodeTopology"), "nodeTopology")
    class_name = text(obj.get("storageClassName"))
    errs += [invalid("storageClassName", class_name, msg) for msg in names.name_is_dns_subdomain(class_name, False)]
    capacity = obj.get("capacity")
    if capacity is not None:
        amount = parse_quantity(capacity)
        if amount is not None and amount < 0:
            errs.append(invalid("capacity", text(capacity), "must be greater than or equal to 0"))
    return errs


def _go_selector_ptr(selector: Any) -> str:
    return "(*v1.LabelSelector)(nil)" if selector is None else "&" + go_label_selector(selector)


def validate_csi_storage_capacity_update(new: dict, old: dict, namespaced: bool) -> Errors:
    errs = validate_csi_storage_capacity(new, namespaced)
    errs += _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    if new.get("nodeTopology") != old.get("nodeTopology"):
        errs.append(invalid_go("nodeTopology", _go_selector_ptr(new.get("nodeTopology")), FIELD_IMMUTABLE))
    if text(new.get("storageClassName")) != text(old.get("storageClassName")):
        errs.append(invalid("storageClassName", text(new.get("storageClassName")), FIELD_IMMUTABLE))
    return errs


def _inline_volume_spec(spec: dict, path: str) -> Errors:
    """ValidatePersistentVolumeSpec of an inline volume: access modes, and a CSI source alone."""
    errs: Errors = []
    modes = seq(spec.get("accessModes"))
    if not modes:
        errs.append(required(f"{path}.accessModes", ""))
    for mode in modes:
        if mode not in ACCESS_MODES:
            errs.append(not_supported(f"{path}.accessModes", mode, ACCESS_MODES))
    if spec.get("claimRef") is not None:
        errs.append(forbidden(f"{path}.claimRef", "may not be specified in the context of inline volumes"))
    if spec.get("capacity"):
        errs.append(forbidden(f"{path}.capacity", "may not be specified in the context of inline volumes"))
    if spec.get("csi") is None:
        errs.append(required(f"{path}.csi", "has to be specified in the context of inline volumes"))
    return errs


def _volume_attachment(obj: dict) -> Errors:
    errs = _meta_create(obj, False)
    spec = as_dict(obj.get("spec"))
    if not text(spec.get("attacher")):
        errs.append(required("spec.attacher", ""))
    source = as_dict(spec.get("source"))
    pv_name, inline = source.get("persistentVolumeName"), source.get("inlineVolumeSpec")
    one_of_them = "must specify exactly one of inlineVolumeSpec and persistentVolumeName"
    if pv_name is None and inline is None:
        errs.append(required("spec.source", one_of_them))
    elif pv_name is not None and inline is not None:
        errs.append(forbidden("spec.source", one_of_them))
    elif pv_name is not None:
        if not text(pv_name):
            errs.append(required("spec.source.persistentVolumeName", "must specify non empty persistentVolumeName"))
    else:
        errs += _inline_volume_spec(as_dict(inline), "spec.source.inlineVolumeSpec")
    node_name = text(spec.get("nodeName"))
    errs += [invalid("spec.nodeName", node_name, msg) for msg in names.name_is_dns_subdomain(node_name, False)]
    status = as_dict(obj.get("status"))
    metadata = as_dict(status.get("attachmentMetadata"))
    if sum(len(k) + len(text(v)) for k, v in metadata.items()) > MAX_ATTACHED_VOLUME_METADATA_SIZE:
        errs.append(too_long("status.attachmentMetadata", "", MAX_ATTACHED_VOLUME_METADATA_SIZE))
    for key in ("attachError", "detachError"):
        error = status.get(key)
        if isinstance(error, dict):
            if len(text(error.get("message"))) > MAX_VOLUME_ERROR_MESSAGE_SIZE:
                # upstream reports the metadata's limit here
                errs.append(too_long(f"status.{key}.message", "", MAX_ATTACHED_VOLUME_METADATA_SIZE))
    return errs


def validate_volume_attachment(obj: dict, namespaced: bool) -> Errors:
    """Upstream's rules, with v1's tighter ones (a CSI driver name as attacher, a PV name as source)."""
    errs = _volume_attachment(obj)
    spec = as_dict(obj.get("spec"))
    errs += csi_driver_name(spec.get("attacher"), "spec.attacher")
    pv_name = as_dict(spec.get("source")).get("persistentVolumeName")
    if pv_name is not None:
        errs += [invalid("spec.source.persistentVolumeName", text(pv_name), msg)
                 for msg in names.name_is_dns_subdomain(text(pv_name), False)]
    return errs


def validate_volume_attachment_update(new: dict, old: dict, namespaced: bool) -> Errors:
    """As upstream's: the rules of any version (twice, as upstream runs them), and a spec that cannot change."""
    errs = _volume_attachment(new) + _volume_attachment(new)
    errs += _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    if as_dict(new.get("spec")) != as_dict(old.get("spec")):
        errs.append(invalid_go("spec", "storage.VolumeAttachmentSpec{...}", FIELD_IMMUTABLE))
    return errs

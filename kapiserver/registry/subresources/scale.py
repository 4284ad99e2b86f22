"""
The scale subresource (upstream's ScaleREST): a resource's replicas read and
written as an autoscaling/v1 Scale.  Built-in workloads keep them at
spec.replicas / status.replicas; a custom resource's scale subresource names its paths.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ...machinery import errors, gojson, meta, names, schema, scalefields, selectors, typed
from ..catalog import ResourceInfo
from ..options import WriteOptions

# The kind a Scale is read and patched as.
SCALE_INFO = ResourceInfo("autoscaling", "v1", "scale", "Scale", True)
_BUILTIN_SCALE = {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}
_INT64 = (-(1 << 63), (1 << 63) - 1)
# What upstream's custom resource ScaleREST hands a change as the spec replicas of a resource that has none
# (int32's smallest), so that a change which sets none is told from one that sets 0.
_NO_SPEC_REPLICAS = -(1 << 31)


class AccessorError(Exception):
    """A value of another type on the way to a field of a custom resource, in the words of upstream's
    unstructured accessors (NestedFieldNoCopy, NestedInt64, NestedString)."""


def _fields(path: str) -> list[str]:
    """A scale subresource's path as upstream splits it: its leading period dropped, then at each period."""
    return (path[1:] if path.startswith(".") else path).split(".")


def _json_path(fields: list[str]) -> str:
    return "." + ".".join(fields)


def _is_int64(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and _INT64[0] <= value <= _INT64[1]


def _go_value(value: Any) -> str:
    """``%v`` of a value a custom resource was decoded to (an integer past int64 is a float64 there)."""
    if isinstance(value, int) and not isinstance(value, bool) and not _is_int64(value):
        return gojson.go_float(float(value))
    return gojson.go_value(value)


def _go_type(value: Any) -> str:
    """``%T`` of such a value."""
    if value is None:
        return "<nil>"
    if isinstance(value, int) and not isinstance(value, bool) and not _is_int64(value):
        return "float64"
    return gojson.type_name(value)


def _accessor_error(fields: list[str], value: Any, expected: str) -> AccessorError:
    return AccessorError(f"{_json_path(fields)} accessor error: {_go_value(value)} is of the type "
                         f"{_go_type(value)}, expected {expected}")


def nested_field(obj: dict, path: str) -> tuple[Any, bool]:
    """(the value at ``path``, whether it is there), as upstream's NestedFieldNoCopy: a null on the way is
    not there; anything else but an object on the way is an AccessorError."""
    fields, value = _fields(path), obj
    for index, field in enumerate(fields):
        if value is None:
            return None, False
        if not isinstance(value, dict):
            raise _accessor_error(fields[:index + 1], value, "map[string]interface{}")
        if field not in value:
            return None, False
        value = value[field]
    return value, True


def nested_int64(obj: dict, path: str) -> tuple[int, bool]:
    """The integer at ``path`` (0 when not there), as upstream's NestedInt64: a value there of another type,
    null included, is an AccessorError."""
    value, found = nested_field(obj, path)
    if not found:
        return 0, False
    if not _is_int64(value):
        raise _accessor_error(_fields(path), value, "int64")
    return value, True


def nested_string(obj: dict, path: str) -> tuple[str, bool]:
    """The string at ``path`` ("" when not there), as upstream's NestedString."""
    value, found = nested_field(obj, path)
    if not found:
        return "", False
    if not isinstance(value, str):
        raise _accessor_error(_fields(path), value, "string")
    return value, True


def _selector_string(selector) -> str:
    if not selector:
        return ""
    if isinstance(selector, dict) and ("matchLabels" in selector or "matchExpressions" in selector):
        return str(selectors.label_selector_from_dict(selector))
    if isinstance(selector, dict):
        return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    return ""


def scale_paths(store) -> dict:
    """Where replicas live: a CRD's scale subresource says; built-ins use spec/status.replicas."""
    return getattr(store.strategy, "scale_paths", None) or _BUILTIN_SCALE


def _int32(value: int) -> int:
    """Go's int32(value): an int64 wrapped into 32 bits."""
    return (value + (1 << 31)) % (1 << 32) - (1 << 31)


def _scale(obj: dict, spec_replicas: int, status_replicas: int, selector: str) -> dict:
    meta_ = obj["metadata"]
    scale_meta = {k: meta_[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                  if k in meta_}
    status = {"replicas": status_replicas}
    if selector:
        status["selector"] = selector
    return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": scale_meta,
            "spec": {"replicas": spec_replicas} if spec_replicas else {}, "status": status}


def to_scale(obj: dict) -> dict:
    """A built-in workload's Scale: its spec and status replicas, its selector as a string."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return _scale(obj, spec.get("replicas") or 0, status.get("replicas") or 0,
                  _selector_string(spec.get("selector")))


def scale_from_custom_resource(obj: dict, paths: dict) -> tuple[dict, bool]:
    """A custom resource's Scale and whether it has spec replicas, as upstream's scaleFromCustomResource reads
    them: replicas not there are 0, a value of another type at a path is an AccessorError."""
    spec_replicas, found = nested_int64(obj, paths.get("specReplicasPath", ""))
    status_replicas, _ = nested_int64(obj, paths.get("statusReplicasPath", ""))
    selector_path = paths.get("labelSelectorPath") or ""
    selector = nested_string(obj, selector_path)[0] if selector_path else ""
    return _scale(obj, _int32(spec_replicas), _int32(status_replicas), selector), found


def _set_nested_field(obj: dict, path: str, value: Any) -> None:
    """Upstream's SetNestedField: the objects on the way made where missing; a value there that is not one is
    an error that is no API status."""
    fields = _fields(path)
    for index, field in enumerate(fields[:-1]):
        if field not in obj:
            obj[field] = {}
        elif not isinstance(obj[field], dict):
            raise _unknown_error(f"value cannot be set because {_json_path(fields[:index + 1])} is not a "
                                 "map[string]interface{}")
        obj = obj[field]
    obj[fields[-1]] = value


def _unknown_error(message: str) -> errors.StatusError:
    """How upstream answers an error that is no API status (ErrorToAPIStatus): a 500 without a reason."""
    return errors.StatusError(500, "", message)


def _handed_scale(scale: Any, namespace: Optional[str], name: str) -> dict:
    """The Scale a PUT or a PATCH hands over, taken as upstream's handlers take it: decoded as an
    autoscaling/v1 Scale (a value of another JSON type is a 400), put in the request's namespace (another one
    is a 400), and named as the URL names it (checkName)."""
    scale, _ = typed.decode(scale, schema.node_for("autoscaling", "v1", "Scale"), "Scale", "v1")
    meta_ = scale.setdefault("metadata", {})
    meta.place_in_namespace(meta_, namespace, bool(namespace))
    if not meta_.get("name"):
        raise errors.bad_request(
            f"the name of the object ({name} based on URL) was undeterminable: name must be provided")
    if meta_["name"] != name:
        raise errors.bad_request(
            f"the name of the object ({meta_['name']}) does not match the name on the URL ({name})")
    return scale


class ScaleREST:
    """get and update of ``<resource>/scale``, answering with Scale objects."""

    subresource = "scale"
    # Answered and patched as an autoscaling/v1 Scale, not as the resource.
    info = SCALE_INFO

    def __init__(self, store):
        self.store = store
        self.paths = scale_paths(store)
        self.custom = self.paths is not _BUILTIN_SCALE

    async def get(self, namespace, name: str, resource_version: str = "") -> dict:
        obj = await self.store.get(namespace, name, resource_version)
        if not self.custom:
            return to_scale(obj)
        scale, found = self._custom_scale(obj)
        if not found:
            # Upstream's custom resource ScaleREST.Get; its update hands a patch int32's smallest instead.
            raise errors.internal_error(f"the spec replicas field {gojson.go_quote(self.paths['specReplicasPath'])} "
                                        "does not exist")
        return scale

    async def update(self, namespace, name: str, change: Callable[[dict], dict], options) -> dict:
        """Apply ``change`` (the current Scale -> the wanted one) to the resource's replicas."""
        store = self.store

        def update(old):
            if old is None:
                raise errors.not_found(store.qualified, name)
            fields = scalefields.ScaleFields(old, store.info.api_version,
                                             scalefields.replicas_path(self.paths["specReplicasPath"]))
            handed = []
            recorded = lambda scale: _with_managed_fields(scale, change, fields, options, store.now(), handed)
            if self.custom:
                new = self._update_custom_resource(old, recorded, namespace, name)
            else:
                new = self._update_workload(old, recorded, namespace, name)
            entries = fields.to_parent(handed[-1])
            if entries:
                new["metadata"]["managedFields"] = entries
            else:
                new["metadata"].pop("managedFields", None)
            return new
        # The Scale's managedFields were recorded above, not by the store.
        recorded_options = _ScaleWriteOptions(options.dry_run, options.field_manager, options.field_validation)
        result, _ = await store.update(namespace, name, update, recorded_options, subresource="scale",
                                       allow_create=False)
        if not self.custom:
            return to_scale(result)
        try:
            return scale_from_custom_resource(result, self.paths)[0]
        except AccessorError as error:
            raise errors.bad_request(str(error)) from None

    def _custom_scale(self, obj: dict) -> tuple[dict, bool]:
        try:
            return scale_from_custom_resource(obj, self.paths)
        except AccessorError as error:
            raise _unknown_error(str(error)) from None

    def _update_custom_resource(self, old: dict, change, namespace, name: str) -> dict:
        """As upstream's scaleUpdatedObjectInfo for custom resources: the Scale is not validated, the custom
        resource it makes is (by its own strategy, as any update).  Spec replicas not there are handed to the
        change as int32's smallest, which a change must replace (a 400 otherwise)."""
        old_scale, found = self._custom_scale(old)
        if not found:
            old_scale["spec"] = {"replicas": _NO_SPEC_REPLICAS}
        scale = _handed_scale(change(old_scale), namespace, name)
        path = self.paths["specReplicasPath"]
        replicas = scale.get("spec", {}).get("replicas", 0)
        if replicas == _NO_SPEC_REPLICAS:
            raise errors.bad_request(f"the spec replicas field {gojson.go_quote(path)} cannot be empty")
        new = copy.deepcopy(old)
        _set_nested_field(new, path, replicas)
        return _with_resource_version(new, scale)

    def _update_workload(self, old: dict, change, namespace, name: str) -> dict:
        """As upstream's scaleUpdatedObjectInfo of deployments, replica sets, stateful sets and replication
        controllers: the Scale validated (ValidateScale: 422, the Scale.autoscaling kind), then its uid, where
        it gives one, that of the resource (409, on the resource's scale subresource)."""
        scale = _handed_scale(change(to_scale(old)), namespace, name)
        found = _scale_errors(scale)
        if found:
            raise errors.invalid_object("autoscaling", "Scale", name, found)
        uid, old_uid = scale["metadata"].get("uid"), old["metadata"].get("uid", "")
        if uid and uid != old_uid:
            info = self.store.info
            raise errors.conflict(errors.GroupResource(info.group, f"{info.resource}/scale"), name,
                                  f"Precondition failed: UID in precondition: {uid}, UID in object meta: {old_uid}")
        new = copy.deepcopy(old)
        new.setdefault("spec", {})["replicas"] = scale.get("spec", {}).get("replicas", 0)
        return _with_resource_version(new, scale)


def _with_managed_fields(old_scale: dict, change, fields, options, now: float, handed: list) -> dict:
    """``change`` of the Scale handed its resource's managers of the replicas, as upstream's ScaleHandler does;
    an update (not an apply, which records its own) recorded on the Scale by the request's manager.  The Scale
    made is appended to ``handed``."""
    entries = fields.to_subresource()
    if entries:
        old_scale["metadata"]["managedFields"] = entries
    scale = change(old_scale)
    if getattr(options, "operation", "Update") == "Update" and isinstance(scale, dict):
        if not isinstance(scale.get("metadata"), dict):
            scale["metadata"] = {}
        fields.record_update(old_scale, scale, options.field_manager or "kube-apiserver", now)
    handed.append(scale if isinstance(scale, dict) else {})
    return scale


@dataclass
class _ScaleWriteOptions(WriteOptions):
    """A write through /scale, whose managedFields its ScaleREST records (the store leaves them)."""
    operation: str = "Scale"


def _scale_errors(scale: dict) -> list:
    """Upstream's ValidateScale: the Scale's metadata as any namespaced object's, its replicas not negative."""
    from ..validation import meta
    out = meta.object_meta(scale["metadata"], True, names.name_is_dns_subdomain)
    replicas = scale.get("spec", {}).get("replicas", 0)
    if replicas < 0:
        out.append(errors.invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    return out


def _with_resource_version(new: dict, scale: dict) -> dict:
    """The resourceVersion a Scale gives is the precondition of the write (none: the one read)."""
    resource_version = scale["metadata"].get("resourceVersion")
    if resource_version:
        new["metadata"]["resourceVersion"] = resource_version
    return new

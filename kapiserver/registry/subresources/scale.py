"""
The scale subresource (upstream's ScaleREST): a resource's replicas read and
written as an autoscaling/v1 Scale.  Built-in workloads keep them at
spec.replicas / status.replicas; a custom resource's scale subresource names its paths.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from ...machinery import errors, gojson, selectors
from ..catalog import ResourceInfo

# The kind a Scale is read and patched as.
SCALE_INFO = ResourceInfo("autoscaling", "v1", "scale", "Scale", True)
_BUILTIN_SCALE = {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}
_INT64 = (-(1 << 63), (1 << 63) - 1)


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


def _path(text: str) -> list[str]:
    return [p for p in (text or "").split(".") if p]


def _get_path(obj: dict, text: str):
    if not _path(text):
        return None
    for part in _path(text):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _set_path(obj: dict, text: str, value) -> None:
    parts = _path(text)
    for part in parts[:-1]:
        obj = obj.setdefault(part, {})
    obj[parts[-1]] = value


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


def to_scale(obj: dict, paths: dict = _BUILTIN_SCALE) -> dict:
    meta_ = obj["metadata"]
    scale_meta = {k: meta_[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                  if k in meta_}
    out_status = {"replicas": _get_path(obj, paths["statusReplicasPath"]) or 0}
    if paths is _BUILTIN_SCALE:
        selector = _selector_string((obj.get("spec") or {}).get("selector"))
    else:
        selector = _get_path(obj, paths.get("labelSelectorPath", "")) or ""
    if selector:
        out_status["selector"] = selector
    replicas = _get_path(obj, paths["specReplicasPath"])
    return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": scale_meta,
            "spec": {"replicas": replicas} if replicas else {}, "status": out_status}


class ScaleREST:
    """get and update of ``<resource>/scale``, answering with Scale objects."""

    subresource = "scale"
    # Answered and patched as an autoscaling/v1 Scale, not as the resource.
    info = SCALE_INFO

    def __init__(self, store):
        self.store = store
        self.paths = scale_paths(store)

    async def get(self, namespace, name: str, resource_version: str = "") -> dict:
        return to_scale(await self.store.get(namespace, name, resource_version), self.paths)

    async def update(self, namespace, name: str, change: Callable[[dict], dict], options) -> dict:
        """Apply ``change`` (the current Scale -> the wanted one) to the resource's replicas."""
        store, paths = self.store, self.paths

        def update(old):
            if old is None:
                raise errors.not_found(store.qualified, name)
            scale = change(to_scale(old, paths))
            replicas = (scale.get("spec") or {}).get("replicas", 0)
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise errors.invalid_object("autoscaling", "Scale", name, [
                    errors.invalid("spec.replicas", replicas, "must be greater than or equal to 0")])
            new = copy.deepcopy(old)
            _set_path(new, paths["specReplicasPath"], replicas)
            rv = (scale.get("metadata") or {}).get("resourceVersion")
            if rv:
                new["metadata"]["resourceVersion"] = rv
            return new
        result, _ = await store.update(namespace, name, update, options, subresource="scale", allow_create=False)
        return to_scale(result, paths)

"""
The scale subresource (upstream's ScaleREST): a resource's replicas read and
written as an autoscaling/v1 Scale.  Built-in workloads keep them at
spec.replicas / status.replicas; a custom resource's scale subresource names its paths.
"""

from __future__ import annotations

import copy
from typing import Callable

from ...machinery import errors, selectors
from ..catalog import ResourceInfo

# The kind a Scale is read and patched as.
SCALE_INFO = ResourceInfo("autoscaling", "v1", "scale", "Scale", True)
_BUILTIN_SCALE = {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}


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

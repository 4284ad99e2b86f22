"""
Conversion between the versions that share one storage: core/v1 and
events.k8s.io/v1 events, autoscaling/v1 and v2 horizontal pod autoscalers.
Everything else is stored as it is served.
"""

from __future__ import annotations

from .catalog import ResourceInfo


def to_storage(obj: dict, info: ResourceInfo) -> dict:
    group, version = info.storage_gv
    if (group, version) == (info.group, info.version):
        return obj
    convert = _CONVERTERS.get((info.group, info.version, group, version))
    obj = convert(obj) if convert else obj
    obj["apiVersion"] = f"{group}/{version}" if group else version
    return obj


def from_storage(obj: dict, info: ResourceInfo) -> dict:
    group, version = info.storage_gv
    if (group, version) == (info.group, info.version):
        return obj
    convert = _CONVERTERS.get((group, version, info.group, info.version))
    obj = convert(obj) if convert else obj
    obj["apiVersion"] = info.api_version
    return obj


_CONVERTERS: dict = {}

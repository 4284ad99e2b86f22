"""
Conversion between the versions that share one storage: events.k8s.io/v1
events are stored as core/v1 events, and autoscaling/v1 horizontal pod
autoscalers as autoscaling/v2 ones.  Everything else is stored as served.

What one version cannot express travels in annotations, as upstream does for
HPAs, so a round trip through the narrower version loses nothing.
"""

from __future__ import annotations

from typing import Callable

from .catalog import ResourceInfo

Converter = Callable[[dict], dict]


def to_storage(obj: dict, info: ResourceInfo) -> dict:
    group, version = info.storage_gv
    if (group, version) == (info.group, info.version):
        return obj
    convert = _CONVERTERS.get((info.group, info.version, group, version))
    obj = convert(obj) if convert else dict(obj)
    obj["apiVersion"] = f"{group}/{version}" if group else version
    coerce = _SCHEMA_COERCERS.get((group, info.storage_key, version))
    return coerce(obj) if coerce else obj


def from_storage(obj: dict, info: ResourceInfo) -> dict:
    """``obj`` as stored, in ``info``'s version.  An object is read as the version it was written in:
    one written before a CRD's storage version changed still says the old one.  Custom resources are
    pruned and defaulted by each version's schema on the way, so defaults added to a schema since the
    object was written show when it is read, as upstream defaults on read."""
    group, version = info.storage_gv
    written = obj.get("apiVersion")
    if written and written != (f"{group}/{version}" if group else version):
        group, _, version = written.rpartition("/")
    if (group, version) == (info.group, info.version):
        coerce = _SCHEMA_COERCERS.get((info.group, info.storage_key, info.version))
        return coerce(obj) if coerce else obj
    storage_coerce = _SCHEMA_COERCERS.get((group, info.storage_key, version))
    if storage_coerce is not None:
        obj = storage_coerce(obj)
    convert = _CONVERTERS.get((group, version, info.group, info.version))
    obj = convert(obj) if convert else dict(obj)
    obj["apiVersion"] = info.api_version
    coerce = _SCHEMA_COERCERS.get((info.group, info.storage_key, info.version))
    return coerce(obj) if coerce else obj


# -- custom resources: every version of a CRD shares one storage version ---------------------------
# With conversion strategy None only apiVersion changes, but each version's schema still prunes and
# defaults what crosses into it, as upstream's schema-coercing codec does.  Keyed by
# (group, resource, version); the CRD controller keeps it in step with the CRDs it serves.
_SCHEMA_COERCERS: dict[tuple[str, str, str], Converter] = {}


def set_schema_coercer(group: str, resource: str, version: str, coerce: Converter | None) -> None:
    """Prune/default objects entering ``group/version`` of ``resource`` with ``coerce`` (None: stop)."""
    if coerce is None:
        _SCHEMA_COERCERS.pop((group, resource, version), None)
    else:
        _SCHEMA_COERCERS[(group, resource, version)] = coerce


def read_as_stored(info: ResourceInfo) -> bool:
    """Whether ``from_storage`` leaves an object written in ``info``'s own version as it is (no schema of a
    custom resource to prune and default it by)."""
    return (info.group, info.storage_key, info.version) not in _SCHEMA_COERCERS


def _head(obj: dict) -> dict:
    return {k: obj[k] for k in ("kind", "apiVersion", "metadata") if k in obj}


# -- events: events.k8s.io/v1 <-> core/v1 ----------------------------------------------------------
# (events.k8s.io name, core name)
_EVENT_FIELDS = (
    ("eventTime", "eventTime"), ("series", "series"), ("reportingController", "reportingComponent"),
    ("reportingInstance", "reportingInstance"), ("action", "action"), ("reason", "reason"),
    ("regarding", "involvedObject"), ("related", "related"), ("note", "message"), ("type", "type"),
    ("deprecatedSource", "source"), ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"), ("deprecatedCount", "count"),
)
# Go order of core/v1 Event's fields.
_CORE_EVENT_ORDER = ("involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp",
                     "count", "type", "eventTime", "series", "action", "related", "reportingComponent",
                     "reportingInstance")


def events_to_core(obj: dict) -> dict:
    out = _head(obj)
    renamed = {core: obj[new] for new, core in _EVENT_FIELDS if new in obj}
    for field in _CORE_EVENT_ORDER:
        if field in renamed:
            out[field] = renamed[field]
    # core/v1 requires involvedObject; an events.k8s.io event may omit regarding.
    out.setdefault("involvedObject", {})
    return out


def core_to_events(obj: dict) -> dict:
    out = _head(obj)
    for new, core in _EVENT_FIELDS:
        if core in obj and not (core == "involvedObject" and obj[core] == {}):
            out[new] = obj[core]
    return out


# -- horizontal pod autoscalers: autoscaling/v1 <-> v2 (in .hpaconversion) ------------------------------
from .hpaconversion import hpa_v1_to_v2, hpa_v2_to_v1  # noqa: E402


_CONVERTERS: dict[tuple[str, str, str, str], Converter] = {
    ("events.k8s.io", "v1", "", "v1"): events_to_core,
    ("", "v1", "events.k8s.io", "v1"): core_to_events,
    ("autoscaling", "v1", "autoscaling", "v2"): hpa_v1_to_v2,
    ("autoscaling", "v2", "autoscaling", "v1"): hpa_v2_to_v1,
}

"""Event validation, core/v1 and events.k8s.io/v1, as upstream's ValidateEventCreate/Update.

Both versions are one internal Event upstream, and which rules apply depends on the version of the
request: core/v1 gets only the legacy rules (namespace agreement, and for an event with an eventTime the
reporting fields); events.k8s.io/v1 adds ObjectMeta, series, the deprecated fields left unset on create,
and immutability on update.  Field paths name the internal fields (``involvedObject``, ``message``,
``reportingController``), whichever version the request used, as upstream reports them.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from ...machinery import names
from . import meta as _meta
from ._util import FIELD_IMMUTABLE, Errors, as_dict, go_quote, invalid, invalid_go, qualified_name, required, text

REPORTING_INSTANCE_LIMIT = 128
ACTION_LIMIT = 128
REASON_LIMIT = 128
NOTE_LIMIT = 1024

# events.k8s.io/v1 name -> the internal (core) name; the others are the same in both versions
_FROM_EVENTS_V1 = {
    "regarding": "involvedObject", "note": "message", "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp", "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
_SHARED = ("metadata", "reason", "type", "eventTime", "series", "action", "related", "reportingController",
           "reportingInstance")
_CORE_V1 = ("metadata", "involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp",
            "count", "type", "eventTime", "series", "action", "related", "reportingInstance")


def internal(obj: dict, events_v1: bool) -> dict:
    """The object under the internal Event's field names, from either version."""
    if events_v1:
        out = {core: obj[name] for name, core in _FROM_EVENTS_V1.items() if name in obj}
        out.update((name, obj[name]) for name in _SHARED if name in obj)
    else:
        out = {name: obj[name] for name in _CORE_V1 if name in obj}
        if "reportingComponent" in obj:
            out["reportingController"] = obj["reportingComponent"]  # core/v1's name for it
    return out


def _too_long(value: Any, limit: int, field: str) -> Errors:
    if len(text(value).encode()) > limit:      # Go's len: UTF-8 bytes
        return [invalid(field, "", f"can have at most {limit} characters")]
    return []


def legacy(event: dict, core_request: bool) -> Errors:
    """legacyValidateEvent: every event, whichever version the request used (a core/v1 request hears of
    the reporting controller by its core/v1 name)."""
    errs: Errors = []
    controller_path = "reportingComponent" if core_request else "reportingController"
    namespace = text(as_dict(event.get("metadata")).get("namespace"))
    involved_ns = text(as_dict(event.get("involvedObject")).get("namespace"))
    mismatch = invalid("involvedObject.namespace", involved_ns, "does not match event.namespace")
    if not event.get("eventTime"):
        # an old-style event: its namespace is the involved object's (or "default" for a cluster-scoped one)
        if (not involved_ns and namespace not in ("", "default")) or (involved_ns and namespace != involved_ns):
            errs.append(mismatch)
    else:
        if not involved_ns and namespace not in ("default", "kube-system"):
            errs.append(mismatch)
        controller = text(event.get("reportingController"))
        if not controller:
            errs.append(required(controller_path, ""))
        errs += qualified_name(controller, controller_path)
        if not event.get("reportingInstance"):
            errs.append(required("reportingInstance", ""))
        errs += _too_long(event.get("reportingInstance"), REPORTING_INSTANCE_LIMIT, "reportingInstance")
        if not event.get("action"):
            errs.append(required("action", ""))
        errs += _too_long(event.get("action"), ACTION_LIMIT, "action")
        if not event.get("reason"):
            errs.append(required("reason", ""))
        errs += _too_long(event.get("reason"), REASON_LIMIT, "reason")
        errs += _too_long(event.get("message"), NOTE_LIMIT, "message")
    errs += [invalid("namespace", namespace, msg) for msg in names.is_dns1123_subdomain(namespace)]
    return errs


def _series(event: dict) -> Errors:
    series = event.get("series")
    if not isinstance(series, dict):
        return []
    errs: Errors = []
    count = series.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 2:
        errs.append(invalid("series.count", "", "should be at least 2"))
    if not series.get("lastObservedTime"):
        errs.append(required("series.lastObservedTime", ""))
    return errs


def _source_set(event: dict) -> bool:
    source = as_dict(event.get("source"))
    return bool(source.get("component") or source.get("host"))


def _strict_create(event: dict) -> Errors:
    errs = _meta.object_meta(event.get("metadata"), True, names.name_is_dns_subdomain)
    errs += _series(event)
    if not event.get("eventTime"):
        errs.append(required("eventTime", ""))
    if event.get("type") not in ("Normal", "Warning"):
        errs.append(invalid("type", "", f"has invalid value: {text(event.get('type'))}"))
    for field in ("firstTimestamp", "lastTimestamp", "count"):
        if event.get(field):
            errs.append(invalid(field, "", "needs to be unset"))
    if _source_set(event):
        errs.append(invalid("source", "", "needs to be unset"))
    return errs


def validate_core_event(obj: dict, namespaced: bool) -> Errors:
    """A core/v1 create: the legacy rules only, for backwards compatibility."""
    return legacy(internal(obj, False), True)


def validate_core_event_update(new: dict, old: dict, namespaced: bool) -> Errors:
    return legacy(internal(new, False), True)


def validate_events_event(obj: dict, namespaced: bool) -> Errors:
    """An events.k8s.io/v1 create: the legacy rules, then the strict ones."""
    event = internal(obj, True)
    return legacy(event, False) + _strict_create(event)


# -- update: ValidateImmutableField over the internal fields, their bad values printed as Go prints them

def go_time(value: Any) -> str:
    """time.Time's String() of a metav1.Time or MicroTime (the apiserver's location is UTC)."""
    if not value:
        return "0001-01-01 00:00:00 +0000 UTC"
    # at most microseconds: what a MicroTime keeps, and what Python parses
    stamp = re.sub(r"(\.\d{6})\d+", r"\1", str(value)).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(stamp).astimezone(timezone.utc)
    except ValueError:
        return go_quote(value)
    stamp = parsed.strftime("%Y-%m-%d %H:%M:%S")
    if parsed.microsecond:
        stamp += ("." + f"{parsed.microsecond:06d}").rstrip("0")
    return stamp + " +0000 UTC"


_REFERENCE = (("Kind", "kind"), ("Namespace", "namespace"), ("Name", "name"), ("UID", "uid"),
              ("APIVersion", "apiVersion"), ("ResourceVersion", "resourceVersion"), ("FieldPath", "fieldPath"))


def go_reference(value: Any) -> str:
    ref = as_dict(value)
    return "core.ObjectReference{" + ", ".join(f"{go}:{go_quote(ref.get(js))}" for go, js in _REFERENCE) + "}"


def _go_source(value: Any) -> str:
    source = as_dict(value)
    return f"core.EventSource{{Component:{go_quote(source.get('component'))}, Host:{go_quote(source.get('host'))}}}"


def _reference_key(value: Any) -> tuple:
    ref = as_dict(value)
    return tuple(text(ref.get(js)) for _, js in _REFERENCE)


def _immutable(new: dict, old: dict, field: str) -> Errors:
    a, b = new.get(field), old.get(field)
    if field in ("involvedObject", "related"):
        same = (a is None) == (b is None) if field == "related" and (a is None or b is None) \
            else _reference_key(a) == _reference_key(b)
        render = (lambda v: '"null"' if v is None else go_reference(v))  # a nil pointer prints as "null"
    elif field == "source":
        same = (text(as_dict(a).get("component")), text(as_dict(a).get("host"))) == \
            (text(as_dict(b).get("component")), text(as_dict(b).get("host")))
        render = _go_source
    elif field == "eventTime":
        # only a change at microsecond precision counts: clients may send nanoseconds, or truncate them
        same = go_time(a) == go_time(b)
        render = go_time
    elif field in ("firstTimestamp", "lastTimestamp"):
        same = go_time(a) == go_time(b)
        render = go_time
    elif field == "count":
        same = (a or 0) == (b or 0)
        return [] if same else [invalid(field, a or 0, FIELD_IMMUTABLE)]
    else:
        same = text(a) == text(b)
        return [] if same else [invalid(field, text(a), FIELD_IMMUTABLE)]
    return [] if same else [invalid_go(field, render(a), FIELD_IMMUTABLE)]


# upstream's order, "reason" twice included
_IMMUTABLE = ("involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count", "reason",
              "type", "eventTime", "action", "related", "reportingController", "reportingInstance")


def validate_events_event_update(new: dict, old: dict, namespaced: bool) -> Errors:
    """An events.k8s.io/v1 update: the legacy rules, metadata's update rules, a changed series' rules,
    and every other field immutable."""
    event, before = internal(new, True), internal(old, True)
    errs = legacy(event, False) + _meta.object_meta_update(event.get("metadata"), before.get("metadata"))
    if event.get("series") != before.get("series"):
        errs += _series(event)
    for field in _IMMUTABLE:
        errs += _immutable(event, before, field)
    return errs

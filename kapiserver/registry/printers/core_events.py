"""
The event printer: LAST SEEN TYPE REASON OBJECT MESSAGE, wide SUBOBJECT SOURCE
FIRST SEEN COUNT NAME.  core/v1 and events.k8s.io/v1 share it, as they share storage.
"""

from __future__ import annotations

from datetime import datetime

from . import _base as b

_EVENT = "core.v1.Event"


def _columns() -> list[dict]:
    return [
        b.column("Last Seen", "string", b.doc(_EVENT, "lastTimestamp")),
        b.column("Type", "string", b.doc(_EVENT, "type")),
        b.column("Reason", "string", b.doc(_EVENT, "reason")),
        b.column("Object", "string", b.doc(_EVENT, "involvedObject")),
        b.column("Subobject", "string", b.doc("core.v1.ObjectReference", "fieldPath"), 1),
        b.column("Source", "string", b.doc(_EVENT, "source"), 1),
        b.column("Message", "string", b.doc(_EVENT, "message")),
        b.column("First Seen", "string", b.doc(_EVENT, "firstTimestamp"), 1),
        b.column("Count", "string", b.doc(_EVENT, "count"), 1),
        b.name_column(priority=1),
    ]


def as_core_event(event: dict) -> dict:
    """An events.k8s.io/v1 Event in its core/v1 shape (the names printers and fields use)."""
    if "involvedObject" in event or "regarding" not in event and "note" not in event:
        return event
    core = dict(event)
    core["involvedObject"] = event.get("regarding") or {}
    core["message"] = event.get("note", "")
    core["source"] = event.get("deprecatedSource") or {}
    core["firstTimestamp"] = event.get("deprecatedFirstTimestamp")
    core["lastTimestamp"] = event.get("deprecatedLastTimestamp")
    core["count"] = event.get("deprecatedCount", 0)
    core["reportingComponent"] = event.get("reportingController", "")
    return core


def _cells(event: dict, now: datetime) -> list:
    event = as_core_event(event)
    first_seen = b.translate_timestamp_since(event.get("firstTimestamp"), now)
    if b.parse_time(event.get("firstTimestamp")) is None:
        first_seen = b.translate_timestamp_since(event.get("eventTime"), now)
    last_seen = b.translate_timestamp_since(event.get("lastTimestamp"), now)
    if b.parse_time(event.get("lastTimestamp")) is None:
        last_seen = first_seen
    count = int(event.get("count") or 0)
    series = event.get("series")
    if series is not None:
        last_seen = b.translate_timestamp_since(series.get("lastObservedTime"), now)
        count = int(series.get("count") or 0)
    elif count == 0:
        count = 1  # singleton events of the new API carry no count
    ref = event.get("involvedObject") or {}
    kind = (ref.get("kind") or "").lower()
    target = f"{kind}/{ref['name']}" if ref.get("name") else kind
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingComponent") or ""
    host = source.get("host") or event.get("reportingInstance") or ""
    return [last_seen, event.get("type", ""), event.get("reason", ""), target, ref.get("fieldPath", ""),
            f"{component}, {host}" if host else component, (event.get("message") or "").strip(),
            first_seen, count, b.name(event)]


EVENT = b.Printer(_columns, _cells)

PRINTERS = {("", "events"): EVENT, ("events.k8s.io", "events"): EVENT}

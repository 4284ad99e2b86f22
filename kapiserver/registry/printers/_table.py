"""
Building the Table object, as the apiserver's asTable and the table convertors do.

Shape facts (k8s.io/apimachinery metav1.Table and friends):
- ``columnDefinitions`` and ``rows`` have no omitempty: without headers the former is
  ``null``; each column carries all of name, type, format, description, priority.
- ``metadata`` is always present; its resourceVersion / continue / remainingItemCount only
  when set.
- a row is ``{"cells": [...], "conditions": [...]?, "object": ...}``; ``object`` is a
  PartialObjectMetadata for includeObject=Metadata (the default), the object itself for
  Object, and ``null`` for None.
- the default convertor's rows start out nil, so an empty list gives ``"rows": null``;
  the built-in printers' rows start out empty, giving ``[]``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable, Mapping, Optional

from ...machinery import errors
from ...machinery.gojson import go_quote
from . import _base as b

# ObjectMeta's fields in Go's declaration order, the order its JSON has
_OBJECT_META_ORDER = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
                      "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "labels", "annotations", "ownerReferences", "finalizers", "managedFields")


def _created_at(obj: Mapping) -> str:
    # time.Time.UTC().Format(time.RFC3339): whole seconds, "Z"; Go's zero time when unset
    when = b.parse_time(b.meta(obj).get("creationTimestamp"))
    if when is None:
        return "0001-01-01T00:00:00Z"
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


DEFAULT = b.Printer(
    lambda: [b.name_column(), b.column("Created At", "date", b.doc(b._META, "creationTimestamp"))],
    lambda obj, now: [b.name(obj), _created_at(obj)],
    rows_start_nil=True)


def _go_object_meta(metadata: Mapping) -> dict:
    """The metadata as Go's ObjectMeta marshals it: declaration order, empty fields omitted
    (omitempty), but creationTimestamp always there (a struct, which omitempty never drops)."""
    out: dict = {}
    for key in _OBJECT_META_ORDER:
        value = metadata.get(key)
        if key == "creationTimestamp":
            out[key] = value
        elif key == "deletionGracePeriodSeconds":
            if value is not None:
                out[key] = value
        elif value not in (None, "", 0, {}, []):
            out[key] = value
    return out


def partial_object_metadata(obj: Mapping, group_version: str = "meta.k8s.io/v1") -> dict:
    """meta.AsPartialObjectMetadata: the object's metadata under a PartialObjectMetadata kind."""
    return {"kind": "PartialObjectMetadata", "apiVersion": group_version,
            "metadata": _go_object_meta(b.meta(obj))}


def table(printer: b.Printer, objects: Iterable[Mapping], now: datetime, include_object: str = "Metadata",
          list_meta: Optional[Mapping] = None, no_headers: bool = False,
          group_version: str = "meta.k8s.io/v1") -> dict:
    """The Table for ``objects`` (a list, or one object in a one-element list).

    ``list_meta`` supplies resourceVersion / continue / remainingItemCount (for a single
    object, pass its resourceVersion).  ``group_version`` is meta.k8s.io/v1 or v1beta1,
    whichever the client negotiated.  An unknown ``include_object`` raises upstream's 400,
    rows or none."""
    if include_object not in ("Metadata", "Object", "None", ""):
        # the request's TableOptions are validated (meta/v1beta1 ValidateTableOptions) before any row is made
        raise errors.bad_request(f"Unable to convert to Table as requested: includeObject: Invalid value: "
                                 f"{go_quote(include_object)}: must be 'Metadata', 'Object', 'None', or empty")
    rows = []
    if printer.order is not None:
        objects = sorted(objects, key=printer.order)
    for obj in objects:
        row: dict = {"cells": printer.row(obj, now)}
        conditions = printer.conditions(obj)
        if conditions:
            row["conditions"] = conditions
        if include_object == "Object":
            row["object"] = obj
        elif include_object == "None":
            row["object"] = None
        else:
            row["object"] = partial_object_metadata(obj, group_version)
        rows.append(row)
    metadata: dict = {}
    list_meta = list_meta or {}
    for key in ("resourceVersion", "continue"):
        if list_meta.get(key):
            metadata[key] = list_meta[key]
    if list_meta.get("remainingItemCount") is not None:
        metadata["remainingItemCount"] = list_meta["remainingItemCount"]
    return {
        "kind": "Table",
        "apiVersion": group_version,
        "metadata": metadata,
        "columnDefinitions": None if no_headers and not printer.headers_always else [dict(c) for c in printer.columns],
        "rows": None if not rows and printer.rows_start_nil else rows,
    }

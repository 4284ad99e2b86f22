"""Turning objects and lists into the representation the client asked for."""

from __future__ import annotations

import datetime

from .negotiation import Representation


def now(clock) -> datetime.datetime:
    """The clock's time as the printers take it."""
    return datetime.datetime.fromtimestamp(clock.seconds(), datetime.timezone.utc)


def partial_metadata(obj: dict, version: str = "v1") -> dict:
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{version}",
            "metadata": obj.get("metadata", {})}


def list_object(store, items: list[dict], list_meta: dict) -> dict:
    info = store.info
    if store.builtin:
        stripped = getattr(items, "stripped", None)   # the watch cache keeps them ready
        items = stripped if stripped is not None else \
            [{k: v for k, v in item.items() if k not in ("kind", "apiVersion")} for item in items]
    return {"kind": info.list_kind, "apiVersion": info.api_version, "metadata": list_meta, "items": items}


def table(store, items: list[dict], list_meta: dict, rep: Representation, clock, include_object: str,
          no_headers: bool = False) -> dict:
    from ..registry import printers
    printer = store.strategy.printer()
    return printers.table(printer, items, now(clock), include_object or "Metadata", list_meta,
                          no_headers=no_headers, group_version=f"meta.k8s.io/{rep.target_version}")


def render_object(store, obj: dict, rep: Representation, clock, include_object: str = "") -> dict:
    if rep.target == "Table":
        return table(store, [obj], {"resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")},
                     rep, clock, include_object)
    if rep.target == "PartialObjectMetadata":
        return partial_metadata(obj, rep.target_version)
    return obj


def encoded_list(store, items, list_meta: dict) -> "bytes | None":
    """The plain JSON list document, spliced from the watch cache's per-object bytes
    (the same bytes codec.encode(list_object(...)) gives); None for other item lists."""
    document = getattr(items, "document", None)
    if document is None:
        return None
    from ..machinery import codec
    info = store.info
    head = codec.dumps({"kind": info.list_kind, "apiVersion": info.api_version, "metadata": list_meta})
    return document(store.builtin, head)


def encoded_metadata_list(items, list_meta: dict, version: str) -> bytes:
    """The PartialObjectMetadataList JSON document of a watch cache's entries (what codec.encode of
    render_list's would be), each object decoded and encoded in turn rather than all held decoded at once."""
    from ..machinery import codec
    head = codec.dumps({"kind": "PartialObjectMetadataList", "apiVersion": f"meta.k8s.io/{version}",
                        "metadata": list_meta})
    body = b",".join([codec.dumps(partial_metadata(e.obj, version)) for e in items.entries])
    return b"".join((head[:-1], b',"items":[', body, b"]}\n"))


def render_list(store, items: list[dict], list_meta: dict, rep: Representation, clock,
                include_object: str = "") -> dict:
    if rep.target == "Table":
        return table(store, items, list_meta, rep, clock, include_object)
    if rep.target in ("PartialObjectMetadataList", "PartialObjectMetadata"):
        return {"kind": "PartialObjectMetadataList", "apiVersion": f"meta.k8s.io/{rep.target_version}",
                "metadata": list_meta, "items": [partial_metadata(i, rep.target_version) for i in items]}
    return list_object(store, items, list_meta)

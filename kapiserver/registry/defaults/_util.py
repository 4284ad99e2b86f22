"""Small helpers shared by the per-group defaulters."""

from __future__ import annotations

from typing import Any


def sub(obj: dict, key: str) -> dict:
    """The dict at ``obj[key]``, created empty when missing or null (a Go non-pointer struct)."""
    value = obj.get(key)
    if not isinstance(value, dict):
        value = {}
        obj[key] = value
    return value


def child(obj: Any, key: str) -> dict | None:
    """The dict at ``obj[key]`` when present, else None (a Go pointer left nil)."""
    if isinstance(obj, dict):
        value = obj.get(key)
        if isinstance(value, dict):
            return value
    return None


def items(obj: Any, key: str) -> list[dict]:
    """The dict items of the list at ``obj[key]`` (missing or malformed lists give none)."""
    if isinstance(obj, dict):
        value = obj.get(key)
        if isinstance(value, list):
            return [item for item in value if isinstance(item, dict)]
    return []


def empty(value: Any) -> bool:
    """Go's zero-value test for the scalar kinds JSON carries: absent, null, "" or 0."""
    return value is None or value == "" or (value == 0 and not isinstance(value, bool))


def set_if_empty(obj: dict, key: str, value: Any) -> None:
    """Default a string field (Go: ``if x == "" { x = value }``)."""
    if empty(obj.get(key)):
        obj[key] = value


def set_if_nil(obj: dict, key: str, value: Any) -> None:
    """Default a pointer field (Go: ``if x == nil { x = &value }``); an explicit 0/false/"" stays."""
    if obj.get(key) is None:
        obj[key] = value


def template_metadata(template: dict) -> None:
    """An embedded ObjectMeta always serialises, with ``creationTimestamp: null`` when unset."""
    meta = sub(template, "metadata")
    meta.setdefault("creationTimestamp", None)


def go_order(obj: dict, fields: tuple) -> None:
    """Put ``fields`` (those present) in Go's struct order, after whatever else ``obj`` has."""
    for field in fields:
        if field in obj:
            obj[field] = obj.pop(field)

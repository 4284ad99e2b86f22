"""
Resources embedded in a custom resource: a schema node marked
``x-kubernetes-embedded-resource`` holds an object whose apiVersion, kind and
metadata mean what they mean at an object's root, whatever the schema says.

Their metadata is decoded as an ObjectMeta, as apiextensions' objectmeta
coercion does: fields ObjectMeta lacks are pruned (and reported to
fieldValidation), and the result is written back as Go would marshal it
(empty fields omitted).  A value of the wrong type refuses a request
(:func:`request_error`) but is dropped from an object read from storage
(:func:`coerce_metadata`), which may predate any of these checks.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

from . import errors
from .errors import FieldError
from .gojson import json_kind

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
TYPE_FIELDS = ("apiVersion", "kind")


def embedded_objects(value: Any, schema: Optional[dict], path: str = "") -> Iterator[tuple[dict, str]]:
    """Every object of ``value`` at a node its schema marks embedded, with its field path (properties as
    ``.name``, additionalProperties as ``[key]``, items as ``[i]``), outermost first."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, list):
        items = schema.get("items")
        for index, item in enumerate(value):
            yield from embedded_objects(item, items, f"{path}[{index}]")
        return
    if not isinstance(value, dict):
        return
    if schema.get("x-kubernetes-embedded-resource") and path:
        yield value, path
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    for key, item in value.items():
        if key in properties:
            yield from embedded_objects(item, properties[key], f"{path}.{key}" if path else key)
        elif isinstance(additional, dict):
            yield from embedded_objects(item, additional, f"{path}[{key}]")


def unmarshal_metadata(metadata: Any) -> tuple[dict, list[str]]:
    """(the ObjectMeta ``metadata`` decodes to, the fields it does not know); ValueError with Go's text when
    it does not decode (not an object, or a field of the wrong type)."""
    if metadata is None:
        return {}, []
    if not isinstance(metadata, dict):
        raise ValueError(f"json: cannot unmarshal {json_kind(metadata)} into Go value of type v1.ObjectMeta")
    from .schema import node_named
    from .typed import unmarshal
    decoded, unknown = unmarshal(metadata, node_named(OBJECT_META))
    return _marshalled(decoded), unknown


def _marshalled(meta: dict) -> dict:
    # ObjectMeta's fields are omitempty (generation is the only plain integer; the others are pointers) and a
    # zero creationTimestamp is left out.
    return {key: value for key, value in meta.items()
            if value not in ("", None, {}, []) and not (key == "generation" and value == 0)}


def coerce_metadata(metadata: Any) -> Any:
    """An embedded object's metadata as stored: unknown fields pruned, fields of the wrong type dropped one
    by one; anything but an object is left as it is (validation names it)."""
    try:
        return unmarshal_metadata(metadata)[0]
    except ValueError:
        if not isinstance(metadata, dict):
            return metadata
    kept = {}
    for key, value in metadata.items():
        try:
            kept.update(unmarshal_metadata({key: value})[0])
        except ValueError:
            continue
    return kept


def request_error(value: Any, schema: Optional[dict]) -> Optional[FieldError]:
    """The first value of the wrong type in the embedded resources of a request's object (it refuses the
    request), or None."""
    for obj, path in embedded_objects(value, schema):
        for key in TYPE_FIELDS:
            if key in obj and not isinstance(obj[key], str):
                return errors.invalid(f"{path}.{key}", obj[key], "must be a string")
        if "metadata" in obj:
            try:
                unmarshal_metadata(obj["metadata"])
            except ValueError as e:
                return errors.invalid(f"{path}.metadata", obj["metadata"], str(e))
    return None

"""
The patch types of the Kubernetes API, as pure functions on decoded JSON.

- ``application/json-patch+json``: :func:`json_patch` (RFC 6902 as evanphx/json-patch v4 applies it, in
  jsonpatch4.py);
- ``application/merge-patch+json``: :func:`merge_patch` (RFC 7386 as evanphx/json-patch does it);
- ``application/strategic-merge-patch+json``: :func:`strategic_merge_patch` (in strategic.py).

:func:`decode_patch` turns a request body into the patch document with the errors
upstream answers for a malformed body, and :func:`apply_patch` does both steps.  Errors
are StatusErrors with upstream's codes and messages (k8s.io/apiserver's patch handler):
a malformed body is 400 BadRequest; a JSON patch operation that fails (a failed
``test`` included) is 422 Invalid with the fixed message "the server rejected our
request due to an error in our request"; more than 10000 operations is 413.
"""

from __future__ import annotations

from typing import Any, Optional

import orjson

from . import codec, jsonpatch4
from .errors import StatusError, bad_request, request_entity_too_large, unsupported_media_type
from .gojson import MAX_DEPTH, json_kind, syntax_error
from .schema import SchemaNode
from .strategic import strategic_merge_patch, unprocessable

__all__ = ["JSON_PATCH", "MERGE_PATCH", "STRATEGIC_MERGE_PATCH", "PATCH_TYPES", "MAX_JSON_PATCH_OPERATIONS",
           "json_patch", "merge_patch", "strategic_merge_patch", "decode_patch", "apply_patch"]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH)
MAX_JSON_PATCH_OPERATIONS = 10000
_OP_FIELDS = ("op", "path", "from")


def _not_an_object(result: Any) -> StatusError:
    # upstream fails decoding the patched document into the kind's struct
    text = codec.dumps(result).decode()
    message = (f"json: cannot unmarshal {json_kind(result)} into Go value of type "
               "map[string]interface {}")
    cause = {"reason": "FieldValueInvalid", "message": f"Invalid value: {codec.dumps(text).decode()}: {message}",
             "field": "patch"}
    return StatusError(422, "Invalid", f' "" is invalid: patch: {cause["message"]}', {"causes": [cause]})


# --- JSON patch ---------------------------------------------------------------------------


def json_patch(original: dict, ops: list) -> dict:
    """Apply RFC 6902 operations to ``original`` (not modified) and return the new object."""
    if ops is None:
        return orjson.loads(orjson.dumps(original))
    if not isinstance(ops, list):
        raise bad_request(f"json: cannot unmarshal {json_kind(ops)} into Go value of type jsonpatch.Patch")
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise request_entity_too_large(f"The allowed maximum operations in a JSON patch is "
                                       f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}")
    try:
        # (orjson refuses a document nested past its depth with a TypeError)
        document = jsonpatch4.apply(orjson.loads(orjson.dumps(original)), ops)
    except (jsonpatch4.PatchError, RecursionError, TypeError):
        # upstream keeps the library's reason out of the Status: only the fixed message
        raise unprocessable() from None
    if not isinstance(document, dict):
        raise _not_an_object(document)
    return document


# --- merge patch --------------------------------------------------------------------------


def _prune_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune_nulls(v) if v is not None else None for v in value]
    return value


def _merge_docs(doc: dict, patch: dict) -> dict:
    for key, value in patch.items():
        if value is None:
            doc.pop(key, None)
            continue
        current = doc.get(key)
        if current is None:
            doc[key] = _prune_nulls(value)
        elif isinstance(current, dict):
            doc[key] = _merge_docs(current, value) if isinstance(value, dict) else value
        else:
            doc[key] = _prune_nulls(value)
    return doc


def merge_patch(original: dict, patch: Any) -> dict:
    """Apply an RFC 7386 merge patch: null deletes, objects merge, anything else replaces."""
    if patch is None:
        raise bad_request("Invalid JSON Patch")
    if not isinstance(patch, dict):
        if isinstance(patch, list):
            raise _not_an_object(_prune_nulls(patch))
        raise bad_request("Invalid JSON Patch")
    try:
        return _merge_docs(orjson.loads(orjson.dumps(original)), patch)
    except (RecursionError, TypeError):  # nested deeper than the codec can write
        raise unprocessable() from None


# --- request bodies -----------------------------------------------------------------------


def _strict_ops_error(ops: Any) -> Optional[str]:
    """What decoding the body into upstream's []jsonPatchOp reports, if anything."""
    if ops is None:
        return None
    if not isinstance(ops, list):
        return f"json: cannot unmarshal {json_kind(ops)} into Go value of type []handlers.jsonPatchOp"
    for op in ops:
        if op is None:
            continue
        if not isinstance(op, dict):
            return f"json: cannot unmarshal {json_kind(op)} into Go value of type handlers.jsonPatchOp"
        for field in _OP_FIELDS:
            value = op.get(field)
            if value is not None and not isinstance(value, str):
                return (f"json: cannot unmarshal {json_kind(value)} into Go struct field "
                        f"jsonPatchOp.{field} of type string")
    return None


_UNREAD = object()


def _read_well_formed(body: "bytes | str") -> Any:
    """The document in ``body`` when the codec reads it and it has fewer brackets than Go's scanner allows levels
    (MAX_DEPTH): the codec reads well-formed JSON only, so the scanner would report nothing, and the pure-Python
    scan (about a quarter of a millisecond per KiB) is spared; _UNREAD otherwise (the scan then says why)."""
    if isinstance(body, str):
        brackets = body.count("{") + body.count("[")
    else:
        brackets = body.count(b"{") + body.count(b"[")
    if brackets > MAX_DEPTH:
        return _UNREAD
    try:
        return codec.loads(body)
    except ValueError:
        return _UNREAD


def decode_patch(patch_type: str, body: bytes, field_validation: str = "") -> Any:
    """Parse a PATCH body of ``patch_type`` as upstream does, raising its 400 for a bad body.

    ``field_validation`` is the request's fieldValidation ("Strict", "Warn", "Ignore";
    empty means Warn, upstream's default), which decides how strictly the body is read.
    """
    strict = field_validation != "Ignore"
    document = _read_well_formed(body)
    if document is _UNREAD:
        problem = syntax_error(body)
        if problem is not None:
            if patch_type == STRATEGIC_MERGE_PATCH:
                raise bad_request(problem)
            if patch_type == MERGE_PATCH and not strict:
                raise bad_request("Invalid JSON Patch")
            raise bad_request(f"error decoding patch: {problem}" if strict else problem)
        try:
            document = codec.loads(body)
        except ValueError:
            try:
                # Go's decoder replaces invalid UTF-8 instead of refusing it
                text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else body
                document = codec.loads(text)
            except ValueError as err:  # e.g. 1e400, which Go cannot hold in a float64 either
                raise bad_request(str(err)) from None
    if patch_type == JSON_PATCH:
        problem = _strict_ops_error(document)
        if problem is not None:
            if strict:
                raise bad_request(f"error decoding patch: {problem}")
            raise bad_request(problem.replace("[]handlers.jsonPatchOp", "jsonpatch.Patch")
                              .replace("handlers.jsonPatchOp", "jsonpatch.Operation"))
    elif document is not None and not isinstance(document, dict):
        problem = f"json: cannot unmarshal {json_kind(document)} into Go value of type map[string]interface {{}}"
        if patch_type == STRATEGIC_MERGE_PATCH:
            raise bad_request(problem)
        if strict:
            raise bad_request(f"error decoding patch: {problem}")
    return document


def apply_patch(patch_type: str, original: dict, body: bytes, node: Optional[SchemaNode] = None,
                field_validation: str = "") -> dict:
    """Decode ``body`` and apply it to ``original`` (not modified); returns the patched object.

    ``node`` is the schema of the object's kind, needed for strategic merge patches
    (``schema.node_for(group, version, kind)``).  Unsupported ``patch_type`` → 415.
    """
    if patch_type not in PATCH_TYPES:
        raise unsupported_media_type(patch_type, PATCH_TYPES)
    document = decode_patch(patch_type, body, field_validation)
    if patch_type == JSON_PATCH:
        return json_patch(original, document)
    if patch_type == MERGE_PATCH:
        return merge_patch(original, document)
    return strategic_merge_patch(original, document, node)

"""
Structural schemas (a CRD version's openAPIV3Schema): pruning of unknown
fields, defaulting, and validation with upstream's field error messages.

Schemas are plain dicts as a CRD carries them.  Rules, as apiextensions does:
- pruning drops every field not declared under ``properties`` (or
  ``additionalProperties``), except below ``x-kubernetes-preserve-unknown-fields``
  and inside ``x-kubernetes-embedded-resource`` (apiVersion/kind kept, metadata
  coerced to an ObjectMeta: see embedded.py);
- defaults apply where a field is absent, top-down, and are pruned themselves;
- ``metadata`` of the object itself is the apiserver's, not the schema's.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from . import errors
from .embedded import coerce_metadata, unmarshal_metadata
from .errors import FieldError
from .gojson import go_quote

_JSON_TYPE = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return _JSON_TYPE.get(type(value), "object")


def _type_matches(declared: str, value: Any) -> bool:
    actual = _json_type(value)
    if declared == "number":
        return actual in ("number", "integer")
    if declared == "integer" and actual == "number":
        return float(value).is_integer()
    return declared == actual


# -- pruning --------------------------------------------------------------------------------------

def prune(value: Any, schema: Optional[dict], root: bool = False) -> Any:
    """``value`` without the fields ``schema`` does not declare."""
    if schema is None or not isinstance(value, (dict, list)):
        return value
    if isinstance(value, list):
        items = schema.get("items")
        return [prune(item, items if isinstance(items, dict) else None) for item in value]
    preserve = schema.get("x-kubernetes-preserve-unknown-fields")
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    embedded = schema.get("x-kubernetes-embedded-resource")
    out = {}
    for key, item in value.items():
        if root and key in ("apiVersion", "kind"):
            out[key] = item
        elif (root or embedded) and key == "metadata":
            out[key] = coerce_metadata(item)
        elif embedded and key in ("apiVersion", "kind"):
            if isinstance(item, str):       # as decoding a stored object drops what a request is refused for
                out[key] = item
        elif key in properties:
            out[key] = prune(item, properties[key])
        elif isinstance(additional, dict):
            out[key] = prune(item, additional)
        elif preserve or additional is True:
            out[key] = item
    return out


def unknown_fields(value: Any, schema: Optional[dict], path: str = "", root: bool = False) -> list[str]:
    """The paths (``spec.foo``, ``spec.items[0].bar``) that ``prune`` would drop, for fieldValidation."""
    out: list[str] = []
    _unknown(value, schema, path, root, out)
    return sorted(out)


def _unknown(value: Any, schema: Optional[dict], path: str, root: bool, out: list) -> None:
    if schema is None:
        return
    if isinstance(value, list):
        items = schema.get("items")
        for index, item in enumerate(value):
            _unknown(item, items if isinstance(items, dict) else None, f"{path}[{index}]", False, out)
        return
    if not isinstance(value, dict):
        return
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    for key, item in value.items():
        child = f"{path}.{key}" if path else key
        if (root or schema.get("x-kubernetes-embedded-resource")) and key in ("apiVersion", "kind", "metadata"):
            if key == "metadata" and not root:     # the root's is the decoder's (endpoints.decoding)
                try:
                    out += [f"{child}.{field}" for field in unmarshal_metadata(item)[1]]
                except ValueError:
                    pass            # a request with it is refused (embedded.request_error)
            continue
        if key in properties:
            _unknown(item, properties[key], child, False, out)
        elif isinstance(additional, dict):
            _unknown(item, additional, f"{path}[{key}]" if path else key, False, out)
        elif not (schema.get("x-kubernetes-preserve-unknown-fields") or additional is True):
            out.append(child)


# -- defaulting -----------------------------------------------------------------------------------

def apply_defaults(value: Any, schema: Optional[dict]) -> Any:
    if schema is None:
        return value
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, sub in properties.items():
            if key not in value and isinstance(sub, dict) and "default" in sub:
                value[key] = prune(_copy(sub["default"]), sub)
        for key, item in value.items():
            sub = properties.get(key)
            if sub is None and isinstance(schema.get("additionalProperties"), dict):
                sub = schema["additionalProperties"]
            if sub is not None:
                value[key] = apply_defaults(item, sub)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(item, schema["items"]) for item in value]
    return value


def _copy(value):
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# -- validation -----------------------------------------------------------------------------------

def _show(value: Any) -> str:
    return errors._show(value)


# An old value that cannot be paired with the new one (validation without ratcheting).
UNCORRELATED: Any = object()


def validate(value: Any, schema: Optional[dict], path: str = "", root: bool = False,
             old: Any = UNCORRELATED) -> list[FieldError]:
    """The schema's errors for ``value``.  With ``old`` (an update's old object), ratcheted as upstream's
    CRDValidationRatcheting (on by default since 1.30): errors at and below a value equal to the old value it
    pairs with (see ``unchanged``) are dropped, so an object stored before its CRD was tightened can still be
    changed elsewhere.
    A property pairs with the old object's property of that name; an item of a list-type map with the old item
    of the same keys; items of other lists do not pair (their list does, as a whole).  A duplicate in a
    list-type map or set is an error only where the old object had none."""
    out: list[FieldError] = []
    if schema is None:
        return out
    _validate(value, schema, path, out, root)
    if out and old is not UNCORRELATED:
        # Errors are rare: only then is the walk made again, pairing values with the old ones.
        out = []
        _validate(value, schema, path, out, root, old)
        if any(e.reason == "FieldValueDuplicate" for e in out) and _has_duplicates(old, schema, root):
            out = [e for e in out if e.reason != "FieldValueDuplicate"]
    return out


def _validate(value: Any, schema: dict, path: str, out: list, root: bool = False, old: Any = UNCORRELATED) -> None:
    if old is UNCORRELATED:
        _validate_node(value, schema, path, out, root, old)
        return
    mine: list = []
    _validate_node(value, schema, path, mine, root, old)
    if mine and not unchanged(value, old, schema):
        out.extend(mine)


def unchanged(new: Any, old: Any, schema: Optional[dict]) -> bool:
    """Whether ``new`` counts as unchanged from ``old`` for ratcheting, as upstream's correlated comparison:
    a list-type map's items compared with the old items of the same keys (so a reordering is no change),
    other lists whole; an object's fields one by one, a field its schema does not declare (kept by
    x-kubernetes-preserve-unknown-fields) counting as a change."""
    if new is None or old is None:
        return new is None and old is None
    if isinstance(new, dict) and isinstance(old, dict):
        if len(new) != len(old):
            return False
        schema = schema or {}
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, item in new.items():
            sub = properties.get(key, additional if isinstance(additional, dict) else None)
            if key not in old or sub is None or not unchanged(item, old[key], sub):
                return False
        return True
    if isinstance(new, list) and isinstance(old, list):
        schema = schema or {}
        keys = schema.get("x-kubernetes-list-map-keys")
        items = schema.get("items")
        if schema.get("x-kubernetes-list-type") != "map" or not keys or not isinstance(items, dict):
            return deep_equal(new, old)
        if len(new) != len(old):
            return False
        olds = _old_map_items(old, keys)
        for item in new:
            paired = olds.get(_map_key(item, keys), UNCORRELATED) if isinstance(item, dict) else UNCORRELATED
            if paired is UNCORRELATED or not unchanged(item, paired, items):
                return False
        return True
    return deep_equal(new, old)


def deep_equal(new: Any, old: Any) -> bool:
    """Go's reflect.DeepEqual of two decoded JSON values (an integer never equals a float)."""
    if type(new) is not type(old):
        return False
    if isinstance(new, dict):
        return new.keys() == old.keys() and all(deep_equal(v, old[k]) for k, v in new.items())
    if isinstance(new, list):
        return len(new) == len(old) and all(deep_equal(a, b) for a, b in zip(new, old))
    return new == old


def _validate_node(value: Any, schema: dict, path: str, out: list, root: bool, old: Any) -> None:
    where = path or "<root>"
    if value is None:
        if not schema.get("nullable") and schema.get("type"):
            out.append(FieldError("FieldValueTypeInvalid", path,
                                  f'Invalid value: "null": {where} in body must be of type {schema["type"]}: "null"'))
        return
    if schema.get("x-kubernetes-int-or-string"):
        if _json_type(value) not in ("integer", "string"):
            out.append(FieldError("FieldValueTypeInvalid", path,
                                  f'Invalid value: "{_json_type(value)}": {where} in body must be of type '
                                  f'integer,string: "{_json_type(value)}"'))
            return
    declared = schema.get("type")
    if declared and not _type_matches(declared, value):
        out.append(FieldError("FieldValueTypeInvalid", path,
                              f'Invalid value: "{_json_type(value)}": {where} in body must be of type {declared}: '
                              f'"{_json_type(value)}"'))
        return
    enum = schema.get("enum")
    if enum is not None and value not in enum:
        out.append(errors.not_supported(path, value, [v if isinstance(v, str) else _show(v) for v in enum]))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _numbers(value, schema, path, where, out)
    if isinstance(value, str):
        _strings(value, schema, path, where, out)
    if isinstance(value, list):
        _arrays(value, schema, path, where, out, old)
    if isinstance(value, dict):
        _objects(value, schema, path, where, out, root, old)
    _combinations(value, schema, path, out, old)


def _composite(path: str, text: str) -> FieldError:
    # kube-openapi's composite errors carry no field: apiextensions reports them at the object's own (nil) path
    # with an empty value, the schema's path quoted in the message.
    return FieldError("FieldValueInvalid", errors.NIL_PATH, f'Invalid value: "": {go_quote(path)} {text}')


def _combinations(value: Any, schema: dict, path: str, out: list, old: Any) -> None:
    """allOf, anyOf, oneOf and not, as kube-openapi's schema props validator reports them: every allOf
    alternative's errors; for a failed anyOf or a oneOf none of whose alternatives passes, the errors of the
    alternative that came closest (fewest errors; kube-openapi counts the checks that passed); a composite
    error naming the construct."""
    alternatives = schema.get("anyOf")
    if alternatives:
        results = [validate(value, sub, path) for sub in alternatives]
        if all(results):
            out.append(_composite(path, "must validate at least one schema (anyOf)"))
            out.extend(min(results, key=len))
    alternatives = schema.get("oneOf")
    if alternatives:
        results = [validate(value, sub, path) for sub in alternatives]
        passed = sum(1 for errors_ in results if not errors_)
        if passed == 0:
            out.append(_composite(path, "must validate one and only one schema (oneOf). Found none valid"))
            out.extend(min(results, key=len))
        elif passed > 1:
            out.append(_composite(path, f"must validate one and only one schema (oneOf). Found {passed} valid "
                                        "alternatives"))
    alternatives = schema.get("allOf")
    if alternatives:
        failed = 0
        for sub in alternatives:
            mine: list = []
            # ratcheted with the node's own errors (upstream's allOf validators are not ratcheting ones)
            _validate_node(value, sub, path, mine, False, old)
            failed += bool(mine)
            out.extend(mine)
        if failed:
            out.append(_composite(path, "must validate all the schemas (allOf)" +
                                  (". None validated" if failed == len(alternatives) else "")))
    if isinstance(schema.get("not"), dict) and not validate(value, schema["not"], path):
        out.append(_composite(path, "must not validate the schema (not)"))


def _numbers(value, schema, path, where, out):
    maximum, minimum = schema.get("maximum"), schema.get("minimum")
    if maximum is not None:
        if schema.get("exclusiveMaximum") and value >= maximum:
            out.append(errors.invalid(path, value, f"{where} in body should be less than {maximum}"))
        elif value > maximum:
            out.append(errors.invalid(path, value, f"{where} in body should be less than or equal to {maximum}"))
    if minimum is not None:
        if schema.get("exclusiveMinimum") and value <= minimum:
            out.append(errors.invalid(path, value, f"{where} in body should be greater than {minimum}"))
        elif value < minimum:
            out.append(errors.invalid(path, value, f"{where} in body should be greater than or equal to {minimum}"))
    multiple = schema.get("multipleOf")
    if multiple and (value / multiple) != int(value / multiple):
        out.append(errors.invalid(path, value, f"{where} in body should be a multiple of {multiple}"))


def _strings(value, schema, path, where, out):
    if schema.get("maxLength") is not None and len(value) > schema["maxLength"]:
        out.append(FieldError("FieldValueTooLong", path, f"Too long: may not be more than {schema['maxLength']} bytes"))
    if schema.get("minLength") is not None and len(value) < schema["minLength"]:
        out.append(errors.invalid(path, value, f"{where} in body should be at least {schema['minLength']} chars long"))
    pattern = schema.get("pattern")
    if pattern:
        from . import goregex    # RE2 and the formats' checks load with the first schema that needs them
        try:
            if goregex.compile(pattern).search(value) is None:
                out.append(errors.invalid(path, value, f"{where} in body should match '{pattern}'"))
        except goregex.RegexpError:
            pass  # a pattern Go refuses is refused with its CRD (pattern_errors); one stored before is ignored
    format_name = schema.get("format")
    if format_name:
        from . import formats
        if not formats.valid(format_name, value):
            # kube-openapi's InvalidType, naming the format as the schema writes it ("date-time").
            shown = go_quote(value)
            out.append(FieldError("FieldValueTypeInvalid", path,
                                  f"Invalid value: {shown}: {where} in body must be of type {format_name}: {shown}"))


def _arrays(value, schema, path, where, out, old=UNCORRELATED):
    if schema.get("maxItems") is not None and len(value) > schema["maxItems"]:
        out.append(FieldError("FieldValueTooMany", path,
                              f"Too many: {len(value)}: must have at most {schema['maxItems']} items"))
    if schema.get("minItems") is not None and len(value) < schema["minItems"]:
        out.append(errors.invalid(path, len(value), f"{where} in body should have at least {schema['minItems']} "
                                                    "items"))
    items = schema.get("items")
    keys = schema.get("x-kubernetes-list-map-keys")
    old_items = _old_map_items(old, keys) if old is not UNCORRELATED and \
        schema.get("x-kubernetes-list-type") == "map" and keys and isinstance(old, list) else None
    if isinstance(items, dict):
        for index, item in enumerate(value):
            paired = UNCORRELATED
            if old_items is not None and isinstance(item, dict):
                paired = old_items.get(_map_key(item, keys), UNCORRELATED)
            _validate(item, items, f"{path}[{index}]", out, old=paired)
    _duplicates(value, schema, path, out)


def _duplicates(value: list, schema: dict, path: str, out: list) -> None:
    """The duplicates of a set (or uniqueItems list), and the items of a list-type map whose keys repeat."""
    if schema.get("uniqueItems") or schema.get("x-kubernetes-list-type") == "set":
        seen = []
        for index, item in enumerate(value):
            if item in seen:
                out.append(errors.duplicate(f"{path}[{index}]", item))
            seen.append(item)
    keys = schema.get("x-kubernetes-list-map-keys")
    if schema.get("x-kubernetes-list-type") == "map" and keys:
        identities = []
        for index, item in enumerate(value):
            if isinstance(item, dict):
                identity = _map_key(item, keys)
                if identity in identities:
                    # The duplicate shown as the keys it has, as apiextensions' listtype validation.
                    out.append(errors.duplicate(f"{path}[{index}]", {k: item[k] for k in keys if k in item}))
                identities.append(identity)


_ABSENT = object()


def _map_key(item: dict, keys: list) -> tuple:
    """A list-type map item's identity: its keys' values, an absent key unlike a null one; hashable whatever the
    values are (a key of the wrong type, a list or an object, is refused by the item's own validation)."""
    return tuple(_hashable(item.get(k, _ABSENT)) for k in keys)


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return (type(value).__name__, json.dumps(value, sort_keys=True))
    if isinstance(value, bool):
        return ("bool", value)     # true is not 1
    return value


def _objects(value, schema, path, where, out, root, old=UNCORRELATED):
    for name in schema.get("required") or []:
        if name not in value:
            out.append(errors.required(f"{path}.{name}" if path else name))
    if schema.get("maxProperties") is not None and len(value) > schema["maxProperties"]:
        out.append(FieldError("FieldValueTooMany", path,
                              f"Too many: {len(value)}: must have at most {schema['maxProperties']} items"))
    if schema.get("minProperties") is not None and len(value) < schema["minProperties"]:
        out.append(errors.invalid(path, len(value), f"{where} in body should have at least "
                                                    f"{schema['minProperties']} properties"))
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    olds = old if isinstance(old, dict) else None
    for key, item in value.items():
        if root and key in ("apiVersion", "kind", "metadata"):
            continue
        child = f"{path}.{key}" if path else key
        paired = olds.get(key, UNCORRELATED) if olds is not None else UNCORRELATED
        if key in properties:
            _validate(item, properties[key], child, out, old=paired)
        elif isinstance(additional, dict):
            _validate(item, additional, f"{path}[{key}]" if path else key, out, old=paired)


def _old_map_items(old: list, keys: list) -> dict:
    """A list-type map's old items by their keys (the first of duplicates)."""
    items: dict = {}
    for item in old:
        if isinstance(item, dict):
            items.setdefault(_map_key(item, keys), item)
    return items


def _has_duplicates(value: Any, schema: dict, root: bool = False) -> bool:
    """Whether ``value`` has a duplicate in any list-type map or set under ``schema``."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            if root and key in ("apiVersion", "kind", "metadata"):
                continue
            sub = properties.get(key, additional if isinstance(additional, dict) else None)
            if isinstance(sub, dict) and _has_duplicates(item, sub):
                return True
        return False
    if not isinstance(value, list):
        return False
    duplicates: list = []
    _duplicates(value, schema, "", duplicates)
    if duplicates:
        return True
    items = schema.get("items")
    return isinstance(items, dict) and any(_has_duplicates(item, items) for item in value)


def pattern_errors(schema: Any, path: str) -> list[FieldError]:
    """Errors of every ``pattern`` under ``schema`` (at ``path``) that Go's regexp refuses, as
    apiextensions refuses such a CRD: ``<path>.properties[a].pattern: Invalid value: ...``."""
    out: list[FieldError] = []
    _pattern_errors(schema, path, out)
    return out


def _pattern_errors(schema: Any, path: str, out: list) -> None:
    if not isinstance(schema, dict):
        return
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and pattern:
        from . import goregex
        try:
            goregex.compile(pattern)
        except goregex.RegexpError as e:
            out.append(errors.invalid(f"{path}.pattern", pattern,
                                      f"must be a valid regular expression, but isn't: {e}"))
    for name, child in (schema.get("properties") or {}).items():
        _pattern_errors(child, f"{path}.properties[{name}]", out)
    for key in ("items", "additionalProperties", "not"):
        _pattern_errors(schema.get(key), f"{path}.{key}", out)
    for key in ("allOf", "anyOf", "oneOf"):
        for index, child in enumerate(schema.get(key) or []):
            _pattern_errors(child, f"{path}.{key}[{index}]", out)

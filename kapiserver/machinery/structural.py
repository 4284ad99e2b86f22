"""
Structural schemas (a CRD version's openAPIV3Schema): pruning of unknown
fields, defaulting, and validation with upstream's field error messages.

Schemas are plain dicts as a CRD carries them.  Rules, as apiextensions does:
- pruning drops every field not declared under ``properties`` (or
  ``additionalProperties``), except below ``x-kubernetes-preserve-unknown-fields``
  and inside ``x-kubernetes-embedded-resource`` (apiVersion/kind/metadata kept);
- defaults apply where a field is absent, top-down, and are pruned themselves;
- ``metadata`` of the object itself is the apiserver's, not the schema's.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from . import errors, formats
from .errors import FieldError
from .selectors import go_quote

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
        if root and key in ("apiVersion", "kind", "metadata"):
            out[key] = item
        elif embedded and key in ("apiVersion", "kind", "metadata"):
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


def validate(value: Any, schema: Optional[dict], path: str = "", root: bool = False) -> list[FieldError]:
    out: list[FieldError] = []
    if schema is not None:
        _validate(value, schema, path, out, root)
    return out


def _validate(value: Any, schema: dict, path: str, out: list, root: bool = False) -> None:
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
        _arrays(value, schema, path, where, out)
    if isinstance(value, dict):
        _objects(value, schema, path, where, out, root)
    for key in ("allOf",):
        for sub in schema.get(key) or []:
            _validate(value, sub, path, out)
    if schema.get("anyOf"):
        if not any(not validate(value, sub, path) for sub in schema["anyOf"]):
            out.append(FieldError("FieldValueInvalid", path, f"Invalid value: {_show(value)}: "
                                                            f"{where} in body must be of type ... (anyOf)"))
    if schema.get("oneOf"):
        matches = sum(1 for sub in schema["oneOf"] if not validate(value, sub, path))
        if matches != 1:
            out.append(FieldError("FieldValueInvalid", path, f"Invalid value: {_show(value)}: "
                                                            f"{where} in body must validate one and only one schema (oneOf)"))
    if isinstance(schema.get("not"), dict) and not validate(value, schema["not"], path):
        out.append(FieldError("FieldValueInvalid", path, f"Invalid value: {_show(value)}: "
                                                        f"{where} in body should not validate the schema"))


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
        try:
            if re.search(pattern, value) is None:
                out.append(errors.invalid(path, value, f"{where} in body should match '{pattern}'"))
        except re.error:
            pass
    format_name = schema.get("format")
    if format_name and not formats.valid(format_name, value):
        # kube-openapi's InvalidType, naming the format as the schema writes it ("date-time").
        shown = go_quote(value)
        out.append(FieldError("FieldValueTypeInvalid", path,
                              f"Invalid value: {shown}: {where} in body must be of type {format_name}: {shown}"))


def _arrays(value, schema, path, where, out):
    if schema.get("maxItems") is not None and len(value) > schema["maxItems"]:
        out.append(FieldError("FieldValueTooMany", path,
                              f"Too many: {len(value)}: must have at most {schema['maxItems']} items"))
    if schema.get("minItems") is not None and len(value) < schema["minItems"]:
        out.append(errors.invalid(path, value, f"{where} in body should have at least {schema['minItems']} items"))
    items = schema.get("items")
    seen = []
    for index, item in enumerate(value):
        if isinstance(items, dict):
            _validate(item, items, f"{path}[{index}]", out)
        if schema.get("uniqueItems") or schema.get("x-kubernetes-list-type") == "set":
            if item in seen:
                out.append(errors.duplicate(f"{path}[{index}]", item))
            seen.append(item)
    keys = schema.get("x-kubernetes-list-map-keys")
    if schema.get("x-kubernetes-list-type") == "map" and keys:
        identities = []
        for index, item in enumerate(value):
            if isinstance(item, dict):
                identity = tuple(item.get(k) for k in keys)
                if identity in identities:
                    out.append(errors.duplicate(f"{path}[{index}]", {k: item.get(k) for k in keys}))
                identities.append(identity)


def _objects(value, schema, path, where, out, root):
    for name in schema.get("required") or []:
        if name not in value:
            out.append(errors.required(f"{path}.{name}" if path else name))
    if schema.get("maxProperties") is not None and len(value) > schema["maxProperties"]:
        out.append(FieldError("FieldValueTooMany", path,
                              f"Too many: {len(value)}: must have at most {schema['maxProperties']} items"))
    if schema.get("minProperties") is not None and len(value) < schema["minProperties"]:
        out.append(errors.invalid(path, value, f"{where} in body should have at least "
                                               f"{schema['minProperties']} properties"))
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    for key, item in value.items():
        if root and key in ("apiVersion", "kind", "metadata"):
            continue
        child = f"{path}.{key}" if path else key
        if key in properties:
            _validate(item, properties[key], child, out)
        elif isinstance(additional, dict):
            _validate(item, additional, f"{path}[{key}]" if path else key, out)

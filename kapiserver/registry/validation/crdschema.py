"""
A CRD version's ``openAPIV3Schema`` checked as apiextensions checks it before accepting the CRD: the schema must
be structural, and use only what a CRD schema may.

- Structural (upstream's ValidateStructural, its errors sorted as upstream sorts them): every property, array
  item and the root has a ``type`` (or is int-or-string, or preserves unknown fields); an array has ``items``; the
  root is an object without ``additionalProperties``, and of ``metadata`` says nothing but ``type`` and its
  ``name``/``generateName``; ``kind`` and ``apiVersion`` are strings; an embedded resource is an object with
  properties (or preserving unknown fields); inside ``anyOf``/``allOf``/``oneOf``/``not`` no type, default, title,
  description, nullable or ``x-kubernetes-*`` extension, and every property named there is also specified outside
  them.
- What a CRD schema may use (ValidateCustomResourceDefinitionOpenAPISchema): one of OpenAPI's six types; no
  ``uniqueItems``, ``$ref``, ``id``, ``additionalItems``, ``patternProperties``, ``definitions``,
  ``dependencies``, array-valued ``items``; ``additionalProperties`` and ``properties`` not together;
  ``x-kubernetes-preserve-unknown-fields`` true or absent; ``x-kubernetes-map-type`` and ``-list-type`` on an
  object and an array, with their values; a map list's keys scalar properties of its object items, each
  required or defaulted; a set's object items atomic; each x-kubernetes-validations entry's own shape (its rule,
  message, messageExpression, reason and fieldPath).
- At the root (root_errors): not nullable; with the status subresource, an object saying nothing but what still
  validates it when its ``status`` property is taken out to validate the subresource.
"""

from __future__ import annotations

import re
from typing import Any

from ...machinery import celnames, errors, structural
from ...machinery.errors import FieldError
from ._util import go_strings, invalid_go

_ROOT, _ITEM, _FIELD = "root", "item", "field"
_OPENAPI_TYPES = ("array", "boolean", "integer", "number", "object", "string")
_INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]
_VALUE_VALIDATIONS = ("anyOf", "allOf", "oneOf")


# The root schema's fields in the order of upstream's internal JSONSchemaProps, each with its Go kind (a "bool" or
# "str" is unset at its zero value; a "set" field, a pointer, slice or map, only when absent or null), and whether
# the root may have it when the status subresource is enabled (upstream's allowedFieldsAtRootSchema).
_ROOT_FIELDS = (
    ("id", "str", False), ("$schema", "str", False), ("$ref", "set", False), ("description", "str", True),
    ("type", "str", True), ("nullable", "bool", False), ("format", "str", True), ("title", "str", True),
    ("default", "set", False), ("maximum", "set", True), ("exclusiveMaximum", "bool", True),
    ("minimum", "set", True), ("exclusiveMinimum", "bool", True), ("maxLength", "set", True),
    ("minLength", "set", True), ("pattern", "str", True), ("maxItems", "set", True), ("minItems", "set", True),
    ("uniqueItems", "bool", True), ("multipleOf", "set", True), ("enum", "set", False),
    ("maxProperties", "set", False), ("minProperties", "set", False), ("required", "set", True),
    ("items", "set", True), ("allOf", "set", False), ("oneOf", "set", False), ("anyOf", "set", False),
    ("not", "set", False), ("properties", "set", True), ("additionalProperties", "set", False),
    ("patternProperties", "set", False), ("dependencies", "set", False), ("additionalItems", "set", False),
    ("definitions", "set", False), ("externalDocs", "set", True), ("example", "set", True),
    ("x-kubernetes-preserve-unknown-fields", "set", True), ("x-kubernetes-embedded-resource", "bool", False),
    ("x-kubernetes-int-or-string", "bool", False), ("x-kubernetes-list-map-keys", "set", False),
    ("x-kubernetes-list-type", "set", False), ("x-kubernetes-map-type", "set", False),
    ("x-kubernetes-validations", "set", True),
)
_ALLOWED_AT_STATUS_ROOT = ("[Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength "
                           "MinLength Pattern MaxItems MinItems UniqueItems MultipleOf Required Items Properties "
                           "ExternalDocs Example XPreserveUnknownFields XValidations]")


def root_errors(schema: dict, path: str, status_enabled: bool) -> list[FieldError]:
    """What upstream checks of a version's root schema (at ``path``) before anything else: with the status
    subresource enabled, the first field in upstream's order that is set and not allowed there (a type other than
    object, or anything but upstream's allowedFieldsAtRootSchema; the schema shown as the value), and a
    nullable root."""
    out: list[FieldError] = []
    if status_enabled:
        for key, unset, allowed in _ROOT_FIELDS:
            value = schema.get(key)
            if value is None or (unset != "set" and _zero(value)):     # a Go pointer, slice or map set empty counts
                continue
            if key == "type":
                if value != "object":
                    out.append(errors.invalid(f"{path}.type", value, 'only "object" is allowed as the type at the '
                                              "root of the schema if the status subresource is enabled"))
                    break
                continue
            if not allowed:
                out.append(errors.invalid(path, schema, f"only {_ALLOWED_AT_STATUS_ROOT} fields are allowed at the "
                                          "root of the schema if the status subresource is enabled"))
                break
    if schema.get("nullable") is True:
        out.append(errors.forbidden(f"{path}.nullable", "nullable cannot be true at the root"))
    return out


def schema_errors(schema: dict, path: str) -> tuple[list[FieldError], list[FieldError], set[str]]:
    """Of one version's ``openAPIV3Schema`` (at ``path``): its structural field errors (or, in a structural schema,
    its defaults', their rules' among them), with which no rule is compiled; what a CRD schema may not use; and the
    paths of the nodes whose rules the latter keep from compiling: as upstream, each
    node that reported such an error in checking itself or the nodes below it (wherever the error's path points:
    a list reports its items' faults)."""
    found: list[FieldError] = []
    _invariants(schema, _ROOT, path, found)
    _completeness(schema, schema, path, path, found)
    found += structural.pattern_errors(schema, path)    # one of upstream's structural invariants
    found.sort(key=str)
    if not found:
        found += _default_errors(schema, path)
    usage: list[FieldError] = []
    uncompiled: set[str] = set()
    _openapi(schema, path, usage, uncompiled, root=True)
    return found, usage, uncompiled


def _default_errors(schema: dict, path: str) -> list[FieldError]:
    """Each default (in a structural schema) as upstream's ValidateDefaults judges it, before anything else of the
    schema: not pruned by its schema; valid by it; and, only then, passing the x-kubernetes-validations at and below
    its node, as a value written anew and as one updated to itself (which transition rules see).  Those rules are
    type-checked here, not yet compiled as the CRD's: one that does not compile fails the default ('rule compile
    error'), and any error here keeps the CRD's rules from being compiled at all.  Not as upstream: defaults inside
    an embedded resource's metadata are not judged (upstream's 'must result in valid metadata', and their rules),
    and each default's rules get a cost budget of their own (upstream's is one for all the schema's defaults)."""
    out: list[FieldError] = []
    for node, default, at, embedded in _defaults(schema, path):
        if not structural.deep_equal(structural.prune(default, node, root=embedded), default):
            out.append(errors.invalid(at, default, "must not have unknown fields"))
        refused = structural.validate(default, node, at, root=embedded)
        out += refused
        if not refused and celnames.has_rules(node):
            from ...machinery import cel     # cel-python loads in about 0.1 s: only once a CRD needs it
            rules = cel.Validator(node, root=embedded, typed=True)
            out += rules.validate(default, default, at) or rules.validate(default, None, at)
    return out


# -- defaults ----------------------------------------------------------------------------------------------

def _defaults(s: dict, path: str, embedded: bool = True, inside_meta: bool = False):
    """(node, default, the default's path, whether the node is a resource's root) of each default outside a
    resource's metadata; a resource's root, and an embedded resource, start a resource anew."""
    embedded = embedded or bool(s.get("x-kubernetes-embedded-resource"))
    if embedded:
        inside_meta = False
    if s.get("default") is not None and not inside_meta:
        yield s, s["default"], f"{path}.default", embedded
    if isinstance(s.get("items"), dict):
        yield from _defaults(s["items"], f"{path}.items", False, inside_meta)
    for name, sub in (s.get("properties") or {}).items():
        if isinstance(sub, dict):
            yield from _defaults(sub, f"{path}.properties[{name}]", False,
                                 inside_meta or (embedded and name in ("metadata", "apiVersion", "kind")))


# -- structural ------------------------------------------------------------------------------------------------

def _invariants(s: dict, level: str, path: str, out: list) -> None:
    kind = s.get("type") or ""
    items = s.get("items")
    if kind == "array" and items is None:
        out.append(errors.required(f"{path}.items", "must be specified"))
    if isinstance(items, dict):
        _invariants(items, _ITEM, f"{path}.items", out)
    properties = s.get("properties") or {}
    for name, sub in properties.items():
        if isinstance(sub, dict):
            _invariants(sub, _FIELD, f"{path}.properties[{name}]", out)
    values = s.get("additionalProperties")
    if values is not None:
        if level == _ROOT:
            out.append(errors.forbidden(f"{path}.additionalProperties", "must not be used at the root"))
        if isinstance(values, dict):
            _invariants(values, _FIELD, f"{path}.additionalProperties", out)
    int_or_string = bool(s.get("x-kubernetes-int-or-string"))
    preserve = bool(s.get("x-kubernetes-preserve-unknown-fields"))
    embedded = bool(s.get("x-kubernetes-embedded-resource"))
    if int_or_string and preserve:
        out.append(errors.invalid(f"{path}.x-kubernetes-preserve-unknown-fields", True,
                                  "must be false if x-kubernetes-int-or-string is true"))
    if int_or_string and embedded:
        out.append(errors.invalid(f"{path}.x-kubernetes-embedded-resource", True,
                                  "must be false if x-kubernetes-int-or-string is true"))
    _value_validations(s, level, path, out, skip_any_of=_int_or_string_any_of(s.get("anyOf")),
                       skip_first_all_of=_int_or_string_all_of(s))
    if embedded and kind != "object":
        if kind:
            out.append(errors.invalid(f"{path}.type", kind, "must be object if x-kubernetes-embedded-resource is true"))
        else:
            out.append(errors.required(f"{path}.type", "must be object if x-kubernetes-embedded-resource is true"))
    elif not kind and not int_or_string and not preserve:
        where = {_ROOT: "at the root", _ITEM: "for specified array items", _FIELD: "for specified object fields"}
        out.append(errors.required(f"{path}.type", f"must not be empty {where[level]}"))
    if embedded and values is not None:
        out.append(errors.forbidden(f"{path}.additionalProperties",
                                    "must not be used if x-kubernetes-embedded-resource is set"))
    if level == _ROOT and kind and kind != "object":
        out.append(errors.invalid(f"{path}.type", kind, "must be object at the root"))
    check_metadata = level == _ROOT or embedded
    for name in ("kind", "apiVersion"):
        sub = properties.get(name)
        if isinstance(sub, dict) and check_metadata and sub.get("type", "") != "string":
            out.append(errors.invalid(f"{path}.properties[{name}].type", sub.get("type", ""), "must be string"))
    metadata = properties.get("metadata")
    if isinstance(metadata, dict):
        _metadata(metadata, check_metadata, level, f"{path}.properties[metadata]", out)
    if embedded and not preserve and not properties:
        out.append(errors.required(f"{path}.properties", "must not be empty if x-kubernetes-embedded-resource is "
                                                         "true without x-kubernetes-preserve-unknown-fields"))


def _metadata(s: dict, check_metadata: bool, level: str, path: str, out: list) -> None:
    if check_metadata and s.get("type", "") != "object":
        out.append(errors.invalid(f"{path}.type", s.get("type", ""), "must be object"))
    if level != _ROOT:
        return
    rest = {key: value for key, value in s.items() if key not in ("type", "default") and not _zero(value)}
    names = set(rest.get("properties") or {})
    if names <= {"name", "generateName"}:
        rest.pop("properties", None)
    if rest:
        out.append(errors.forbidden(path, "must not specify anything other than name and generateName, but metadata "
                                          "is implicitly specified"))


def _zero(value: Any) -> bool:
    """Go's zero value of a schema field: what upstream cannot tell from its absence."""
    return value is None or value is False or value in ("", [], {})


def _int_or_string_any_of(any_of: Any) -> bool:
    return any_of == _INT_OR_STRING_ANY_OF


def _int_or_string_all_of(s: dict) -> bool:
    all_of = s.get("allOf")
    return bool(all_of) and isinstance(all_of[0], dict) and _int_or_string_any_of(all_of[0].get("anyOf"))


def _value_validations(s: dict, level: str, path: str, out: list, skip_any_of: bool = False,
                       skip_first_all_of: bool = False) -> None:
    """The schemas of anyOf, allOf, oneOf and not: validations only, no part of the structure."""
    for key in _VALUE_VALIDATIONS:
        if key == "anyOf" and skip_any_of:
            continue
        for index, nested in enumerate(s.get(key) or []):
            if isinstance(nested, dict):
                skip = key == "allOf" and index == 0 and skip_first_all_of
                _nested(nested, level, f"{path}.{key}[{index}]", out, skip_any_of=skip)
    if isinstance(s.get("not"), dict):
        _nested(s["not"], level, f"{path}.not", out)


_FORBIDDEN_NESTED = (
    ("type", "must be empty to be structural"),
    ("additionalProperties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"),
    ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
    ("x-kubernetes-embedded-resource", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "must be false to be structural"),
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
    ("x-kubernetes-map-type", "must be undefined to be structural"),
    ("x-kubernetes-validations", "must be empty to be structural"),
)


def _nested(v: dict, level: str, path: str, out: list, skip_any_of: bool = False) -> None:
    _value_validations(v, level, path, out, skip_any_of=skip_any_of)
    if isinstance(v.get("items"), dict):
        _nested(v["items"], level, f"{path}.items", out)
    properties = v.get("properties") or {}
    for name, sub in properties.items():
        if isinstance(sub, dict):
            _nested(sub, _FIELD, f"{path}.properties[{name}]", out)
    for key, detail in _FORBIDDEN_NESTED:
        value = v.get(key)
        if value is not None and (key == "default" or value not in (False, "", [])):
            out.append(errors.forbidden(f"{path}.{key}", detail))
    if "metadata" in properties:
        out.append(errors.forbidden(f"{path}.properties[metadata]", "must not be specified in a nested context"))


def _completeness(v: dict, s: Any, s_path: str, v_path: str, out: list) -> None:
    """Every property (and items) a value validation of ``s`` names is specified in ``s`` itself."""
    for key in ("not", "allOf", "anyOf", "oneOf"):
        nested = [v.get(key)] if key == "not" else list(v.get(key) or [])
        for index, sub in enumerate(nested):
            if isinstance(sub, dict):
                _nested_completeness(sub, s, s_path, f"{v_path}.{key}" if key == "not" else f"{v_path}.{key}[{index}]",
                                     out)


def _nested_completeness(v: dict, s: Any, s_path: str, v_path: str, out: list) -> None:
    if not isinstance(s, dict):
        out.append(errors.required(s_path, f"because it is defined in {v_path}"))
        return
    _completeness(v, s, s_path, v_path, out)
    if isinstance(v.get("items"), dict):
        _nested_completeness(v["items"], s.get("items"), f"{s_path}.items", f"{v_path}.items", out)
    specified = s.get("properties") or {}
    for name, sub in (v.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        if name not in specified:
            out.append(errors.required(f"{s_path}.properties[{name}]",
                                       f"because it is defined in {v_path}.properties[{name}]"))
        else:
            _nested_completeness(sub, specified[name], f"{s_path}.properties[{name}]",
                                 f"{v_path}.properties[{name}]", out)


# -- what a CRD schema may use -----------------------------------------------------------------------------

_UNSUPPORTED = (("id", "id is not supported"), ("additionalItems", "additionalItems is not supported"),
                ("patternProperties", "patternProperties is not supported"),
                ("definitions", "definitions is not supported"), ("dependencies", "dependencies is not supported"),
                ("$ref", "$ref is not supported"))


def _openapi(s: dict, path: str, out: list, uncompiled: set, root: bool = False, no_defaults: str = "") -> None:
    """``uncompiled``: gets ``path`` if this node or one below reports an error; ``no_defaults``: why a default may
    not be set here (in a resource's top-level metadata), if it may not."""
    reported = len(out)
    kind = s.get("type") or ""
    if kind and kind not in _OPENAPI_TYPES:
        out.append(errors.not_supported(f"{path}.type", kind, _OPENAPI_TYPES))
    if no_defaults and s.get("default") is not None:
        out.append(errors.forbidden(f"{path}.default", f"must not be set {no_defaults}"))
    for key, detail in _UNSUPPORTED:
        if s.get(key) not in (None, "", {}):
            out.append(errors.forbidden(f"{path}.{key}", detail))
    if kind == "null":
        out.append(errors.forbidden(f"{path}.type", "type cannot be set to null, use nullable as an alternative"))
    items = s.get("items")
    if isinstance(items, list):
        out.append(errors.forbidden(f"{path}.items", "items must be a schema object and not an array"))
    if s.get("uniqueItems"):
        out.append(errors.forbidden(f"{path}.uniqueItems",
                                    "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"))
    values = s.get("additionalProperties")
    if values is not None:
        if s.get("properties") and values is not True:
            out.append(errors.forbidden(f"{path}.additionalProperties",
                                        "additionalProperties and properties are mutual exclusive"))
        if isinstance(values, dict):
            _openapi(values, f"{path}.additionalProperties", out, uncompiled, no_defaults=no_defaults)
    for name, sub in (s.get("properties") or {}).items():
        if isinstance(sub, dict):
            meta = root and name in ("metadata", "apiVersion", "kind")
            _openapi(sub, f"{path}.properties[{name}]", out, uncompiled,
                     no_defaults=f"in top-level {name}" if meta else no_defaults)
    if isinstance(s.get("not"), dict):
        _openapi(s["not"], f"{path}.not", out, uncompiled, no_defaults=no_defaults)
    for key in ("allOf", "oneOf", "anyOf"):
        for index, sub in enumerate(s.get(key) or []):
            if isinstance(sub, dict):
                _openapi(sub, f"{path}.{key}[{index}]", out, uncompiled, no_defaults=no_defaults)
    if isinstance(items, dict):
        _openapi(items, f"{path}.items", out, uncompiled, no_defaults=no_defaults)
    elif isinstance(items, list):
        for index, sub in enumerate(items):
            if isinstance(sub, dict):
                _openapi(sub, f"{path}.items[{index}]", out, uncompiled, no_defaults=no_defaults)
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        out.append(errors.invalid(f"{path}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined"))
    _map_type(s, kind, path, out)
    _list_type(s, kind, path, out)
    _rule_entries(s, path, out)
    if len(out) > reported:
        uncompiled.add(path)


# Line breaks as CEL's grammar knows them.
_LINE_BREAKS = re.compile(r"[\n\r]+")
# The reasons a rule may give its error (sorted, as upstream lists them).
_RULE_REASONS = ("FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired")


def _rule_entries(s: dict, path: str, out: list) -> None:
    """Each x-kubernetes-validations entry's own shape, as upstream checks it (a schema error, which keeps the rules
    at and above it from compiling): a rule; a message, when given, not blank and on one line; a message for a rule
    on several lines (the first of these that fails); then each on its own, a messageExpression, when given, not
    blank; a known reason; a fieldPath, when given, not blank, on one line, and naming a field of the node."""
    for index, entry in enumerate(s.get("x-kubernetes-validations") or []):
        if not isinstance(entry, dict):
            continue
        at = f"{path}.x-kubernetes-validations[{index}]"
        rule, given = (entry.get("rule") or "").strip(), entry.get("message") or ""
        message = given.strip()
        if not rule:
            out.append(errors.required(f"{at}.rule", "rule is not specified"))
        elif given and not message:
            out.append(errors.invalid(f"{at}.message", given, "message must be non-empty if specified"))
        elif _LINE_BREAKS.search(message):
            out.append(errors.invalid(f"{at}.message", given, "message must not contain line breaks"))
        elif _LINE_BREAKS.search(rule) and not message:
            out.append(errors.required(f"{at}.message", "message must be specified if rule contains line breaks"))
        expression = entry.get("messageExpression") or ""
        if expression and not expression.strip():
            out.append(errors.required(f"{at}.messageExpression", "messageExpression must be non-empty if specified"))
        reason = entry.get("reason")
        if reason is not None and reason not in _RULE_REASONS:
            out.append(errors.not_supported(f"{at}.reason", reason, _RULE_REASONS))
        field_path = entry.get("fieldPath") or ""
        if field_path and not field_path.strip():
            out.append(errors.invalid(f"{at}.fieldPath", field_path, "fieldPath must be non-empty if specified"))
        if _LINE_BREAKS.search(field_path):
            out.append(errors.invalid(f"{at}.fieldPath", field_path, "fieldPath must not contain line breaks"))
        if field_path and celnames.field_path(field_path, s) is None:
            out.append(errors.invalid(f"{at}.fieldPath", field_path, "fieldPath must be a valid path"))


def _map_type(s: dict, kind: str, path: str, out: list) -> None:
    map_type = s.get("x-kubernetes-map-type")
    if map_type is None:
        return
    if kind != "object":
        detail = "must be object if x-kubernetes-map-type is specified"
        out.append(errors.invalid(f"{path}.type", kind, detail) if kind else errors.required(f"{path}.type", detail))
    if map_type not in ("atomic", "granular"):
        out.append(errors.not_supported(f"{path}.x-kubernetes-map-type", map_type, ("atomic", "granular")))


def _list_type(s: dict, kind: str, path: str, out: list) -> None:
    list_type = s.get("x-kubernetes-list-type")
    items = s.get("items")
    item = items if isinstance(items, dict) else None
    if list_type is not None and kind != "array":
        detail = "must be array if x-kubernetes-list-type is specified"
        out.append(errors.invalid(f"{path}.type", kind, detail) if kind else errors.required(f"{path}.type", detail))
    elif list_type == "set" and item is not None:
        if item.get("type") == "array" and item.get("x-kubernetes-list-type", "atomic") != "atomic":
            out.append(errors.invalid(f"{path}.items.x-kubernetes-list-type", item["x-kubernetes-list-type"],
                                      "must be atomic as item of a list with x-kubernetes-list-type=set"))
        if item.get("type") == "object" and item.get("x-kubernetes-map-type") != "atomic":
            # upstream names the item's list type here (Go's nil pointer: "null"), not its map type
            out.append(errors.invalid(f"{path}.items.x-kubernetes-map-type", item.get("x-kubernetes-list-type", "null"),
                                      "must be atomic as item of a list with x-kubernetes-list-type=set"))
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        out.append(errors.not_supported(f"{path}.x-kubernetes-list-type", list_type, ("atomic", "set", "map")))
    keys = s.get("x-kubernetes-list-map-keys") or []
    if keys:
        detail = "must be map if x-kubernetes-list-map-keys is non-empty"
        if list_type is None:
            out.append(errors.required(f"{path}.x-kubernetes-list-type", detail))
        elif list_type != "map":
            out.append(errors.invalid(f"{path}.x-kubernetes-list-type", list_type, detail))
    if list_type == "map":
        if not keys:
            out.append(errors.required(f"{path}.x-kubernetes-list-map-keys",
                                       "must not be empty if x-kubernetes-list-type is map"))
        if items is None:
            out.append(errors.required(f"{path}.items", "must have a schema if x-kubernetes-list-type is map"))
        elif item is None:
            out.append(errors.invalid(f"{path}.items", items,
                                      "must only have a single schema if x-kubernetes-list-type is map"))
        elif item.get("type") != "object":
            out.append(errors.invalid(f"{path}.items.type", item.get("type", ""),
                                      "must be object if parent array's x-kubernetes-list-type is map"))
        else:
            properties, seen = item.get("properties") or {}, set()
            for key in keys:
                if key in properties:
                    if (properties[key] or {}).get("type") in ("array", "object"):
                        out.append(errors.invalid(f"{path}.items.properties[{key}].type", "object",
                                                  "must be a scalar type if parent array's x-kubernetes-list-type "
                                                  "is map"))
                else:
                    out.append(invalid_go(f"{path}.x-kubernetes-list-map-keys", go_strings(keys),
                                          "entries must all be names of item properties"))
                if key in seen:
                    out.append(invalid_go(f"{path}.x-kubernetes-list-map-keys", go_strings(keys),
                                          "must not contain duplicate entries"))
                seen.add(key)
    if list_type in ("set", "map") and item is not None:
        if item.get("nullable"):
            out.append(errors.forbidden(f"{path}.items.nullable", f"cannot be nullable when x-kubernetes-list-type "
                                                                  f"is {list_type}"))
        if list_type == "map":
            required = set(item.get("required") or ())
            properties = item.get("properties") or {}
            for key in keys:
                prop = properties.get(key)
                if not isinstance(prop, dict):
                    continue
                if key not in required and prop.get("default") is None:
                    out.append(errors.required(f"{path}.items.properties[{key}].default",
                                               "this property is in x-kubernetes-list-map-keys, so it must have a "
                                               "default or be a required property"))
                if prop.get("nullable"):
                    out.append(errors.forbidden(f"{path}.items.properties[{key}].nullable",
                                                "this property is in x-kubernetes-list-map-keys, so it cannot be "
                                                "nullable"))


"""
Decoding a JSON object into a built-in type, as Go's decoder does upstream:
values of the wrong JSON type are a 400, unknown fields are dropped (and
reported, for fieldValidation), and nulls in struct fields mean "absent".

Upstream keeps a built-in object as its Go struct and encodes it again, so
a field tagged ``omitempty`` whose Go type is a map, slice, string, number
or bool is gone when it holds the zero value ({}, [], "", 0, false): a
``nodeSelector: {}`` or ``hostNetwork: false`` in a request is never stored,
answered or owned.  :func:`decode` drops those fields as it goes (their list
is ``omitempty_fields.py``, generated from the Go struct tags); pointers and
structs are never dropped, and neither is anything without ``omitempty``.
"""

from __future__ import annotations

from typing import Any, Optional

from . import errors
from .gojson import go_bytes, json_kind
from .schema import SchemaNode, node_named

_GO_TYPES = {("integer", "int32"): "int32", ("integer", "int64"): "int64", ("integer", None): "int",
             ("number", "double"): "float64", ("number", None): "float64", ("boolean", None): "bool",
             ("string", None): "string"}


def _go_type(node: SchemaNode) -> str:
    kind = node.type
    if kind == "object":
        if node.name:
            return node.name.rsplit(".", 2)[-2] + "." + node.name.rsplit(".", 1)[-1]
        values = node.values()
        if values is not None and values.name and values.type == "object":
            return "map[string]" + _go_type(values)     # map[string]v1.JSONSchemaProps
        return "map[string]string" if values is not None and values.type == "string" else \
            "map[string]interface {}"
    if kind == "array":
        items = node.items()
        return "[]" + (_go_type(items) if items is not None else "interface {}")
    return _GO_TYPES.get((kind, node.format), _GO_TYPES.get((kind, None), kind or "interface {}"))


_ZEROS = {"string": "", "integer": 0, "number": 0, "boolean": False}
_STRING = SchemaNode({"type": "string"})


def _zero(node: Optional[SchemaNode]) -> Any:
    """What Go's json.Unmarshal leaves for a null item of a slice: the element type's zero value (a struct with
    no fields set, an empty string...); null where that is a pointer, map or interface."""
    if node is None or node.preserve_unknown or node.int_or_string:
        return None
    if node.type == "object" and node.properties:
        return {}
    return _ZEROS.get(node.type)


_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_APIEXTENSIONS = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."
_SCHEMA_PROPS = _APIEXTENSIONS + "JSONSchemaProps"
# A CRD schema's fields of more than one shape, each with a JSON unmarshaler of its own (apiextensions/v1's
# marshal.go); the schema has no type for them.
_OR_BOOL, _OR_ARRAY, _OR_STRINGS = (_APIEXTENSIONS + name for name in (
    "JSONSchemaPropsOrBool", "JSONSchemaPropsOrArray", "JSONSchemaPropsOrStringArray"))
_NONE: frozenset[str] = frozenset()
_omittable: Optional[dict[str, frozenset[str]]] = None


def omittable() -> dict[str, frozenset[str]]:
    """Definition name -> the JSON names of its fields that upstream's encoding leaves out at their zero value,
    read from the generated table on first use.

    ObjectMeta's managedFields is not among them: upstream's handlers see the decoded Go object, in which
    ``managedFields: []`` is an empty list rather than none, and that resets the managed fields; it is the
    field manager that leaves the empty list out of what is stored."""
    global _omittable
    if _omittable is None:
        from .omitempty_fields import FIELDS
        table = {name: frozenset(field.split(" ", 1)[0] for field in fields.split("; "))
                 for name, fields in FIELDS.items()}
        table[_OBJECT_META] = table[_OBJECT_META] - {"managedFields"}
        _omittable = table
    return _omittable


class _Decoder:
    def __init__(self, kind: str, version: str, encode: bool = False):
        self.kind = kind
        self.version = version
        self.unknown: list[str] = []
        # With ``encode``, the object is what upstream's encoding of the decoded struct gives: its omitempty
        # fields at their zero values left out.
        self.omittable = omittable() if encode else {}
        # Inside a type that decodes itself: the (struct, path) of its field, which Go's decoder puts in the
        # type errors of the nested json.Unmarshal in place of their own.
        self.outer: Optional[tuple[str, str]] = None

    def fail(self, value: Any, struct: str, path: str, node: SchemaNode, literal: str = ""):
        if self.outer is not None:
            struct, path = self.outer
        self.failed(f"json: cannot unmarshal {json_kind(value)}{literal} into Go struct field {struct}.{path} of "
                    f"type {_go_type(node)}")

    def bytes_value(self, text: str) -> str:
        """A []byte field's string as Go decodes and encodes it again (canonical base64), or Go's 400."""
        try:
            return go_bytes(text)
        except ValueError as e:
            self.failed(str(e))

    def failed(self, text: str):
        if not self.kind:
            raise ValueError(text)
        raise errors.bad_request(f'{self.kind} in version "{self.version}" cannot be handled as a {self.kind}: {text}')

    def schema_or(self, value: Any, node: SchemaNode, struct: str, path: str, field: str) -> Any:
        """A JSONSchemaPropsOrBool, OrArray or OrStringArray as its UnmarshalJSON reads it: an object is a
        JSONSchemaProps; true or false (OrBool), a list of schemas (OrArray) or of strings (OrStringArray);
        any other value is an error (OrBool) or nothing at all (the other two: they leave the field empty)."""
        name = node.name
        if isinstance(value, dict):
            inner, shape = node_named(_SCHEMA_PROPS), "schema"
        elif name == _OR_BOOL:
            if isinstance(value, bool):
                return value
            self.failed("boolean or JSON schema expected")
        elif isinstance(value, list):
            inner, shape = node_named(_SCHEMA_PROPS), "array"
        else:
            return None
        # The nested json.Unmarshal is not strict: the unknown fields it drops are not reported.
        outer, unknown = self.outer, self.unknown
        self.unknown = []
        if outer is None:
            self.outer = (struct, path)
        try:
            if shape == "schema":
                return self.object(value, inner, "JSONSchemaProps", path, field)
            if name == _OR_STRINGS:
                for item in value:
                    if item is not None and not isinstance(item, str):
                        self.fail(item, struct, path, _STRING)
                return [item if item is not None else "" for item in value]
            return [self.object(item, inner, "JSONSchemaProps", path, f"{field}[{i}]") if isinstance(item, dict)
                    else self.value(item, inner, "JSONSchemaProps", path, f"{field}[{i}]") if item is not None
                    else {} for i, item in enumerate(value)]
        finally:
            self.outer, self.unknown = outer, unknown

    def value(self, value: Any, node: Optional[SchemaNode], struct: str, path: str, field: str = "") -> Any:
        """``path`` is the field's path as Go's type errors name it (no list indices); ``field`` as the strict
        decoder names unknown fields (with them)."""
        field = field or path
        if node is None or value is None:
            return value
        if node.name in (_OR_BOOL, _OR_ARRAY, _OR_STRINGS):
            return self.schema_or(value, node, struct, path, field)
        if node.preserve_unknown:
            return value
        if node.int_or_string:
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                self.fail(value, struct, path, node)
            return value
        kind = node.type
        if node.name == "io.k8s.apimachinery.pkg.api.resource.Quantity":
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                self.fail(value, struct, path, node)
            return value
        if kind == "object" or (kind is None and isinstance(value, dict) and node.properties):
            if not isinstance(value, dict):
                self.fail(value, struct, path, node)
            return self.object(value, node, struct, path, field)
        if kind == "array":
            if not isinstance(value, list):
                self.fail(value, struct, path, node)
            items = node.items()
            return [self.value(item, items, struct, path, f"{field}[{i}]") if item is not None else _zero(items)
                    for i, item in enumerate(value)]
        if kind == "string":
            if not isinstance(value, str):
                self.fail(value, struct, path, node)
            if node.is_bytes:
                return self.bytes_value(value)
        elif kind == "integer":
            if type(value) is float:
                # Go's decoder reads an integer field's number as strconv.ParseInt does: a fraction or an exponent
                # (3.0, 1e3) does not decode, and the error quotes the number.
                self.fail(value, struct, path, node, f" {value!r}")
            if isinstance(value, bool) or not isinstance(value, int):
                self.fail(value, struct, path, node)
            # Go's integers are fixed-width: a number out of the field's range does not decode (and could
            # not be stored or encoded either).
            bits = 32 if node.format == "int32" else 64
            if not -2 ** (bits - 1) <= value < 2 ** (bits - 1):
                self.fail(value, struct, path, node, f" {value}")
            return int(value)
        elif kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.fail(value, struct, path, node)
        elif kind == "boolean":
            if not isinstance(value, bool):
                self.fail(value, struct, path, node)
        return value

    def object(self, value: dict, node: SchemaNode, struct: str, path: str, field: str = "") -> dict:
        field = field or path
        properties = node.properties
        if properties:
            own = node.name.rsplit(".", 1)[-1] if node.name else struct
            # Looked up for falsy values only: a value that decoded is its Go field's zero value if it is falsy.
            omit = self.omittable.get(node.name, _NONE)
            out = {}
            for key, item in value.items():
                child = node.field(key)
                if child is None:
                    self.unknown.append(f"{field}.{key}" if field else key)
                    continue
                if item is None:
                    continue
                if type(item) is str and child.type == "string":
                    if child.is_bytes:
                        item = self.bytes_value(item)
                    if item or key not in omit:
                        out[key] = item     # what value() answers for any string field given a string
                    continue
                item = self.value(item, child, own, f"{path}.{key}" if path else key,
                                  f"{field}.{key}" if field else key)
                if item or key not in omit:
                    out[key] = item
            return out
        values = node.values()
        if values is None:
            return value
        out = {}
        strings = values.type == "string"
        as_bytes = strings and values.is_bytes       # a map of []byte (a Secret's data, binaryData)
        # A null value of a map of structs is the struct's zero value (a CRD schema's "properties": {"a": null}
        # is an empty JSONSchemaProps).
        zero = "" if strings else {} if values.type == "object" and values.properties else None
        for key, item in value.items():
            if strings and type(item) is str:
                # a map of strings (labels, annotations, data): nothing to check but a []byte's base64
                out[key] = self.bytes_value(item) if as_bytes else item
                continue
            if item is None and zero is not None:
                out[key] = type(zero)()
                continue
            out[key] = self.value(item, values, struct, f"{path}[{key}]" if path else key,
                                  f"{field}.{key}" if field else key)
        return out


def decode(obj: dict, node: SchemaNode, kind: str, version: str) -> tuple[dict, list[str]]:
    """(the object as upstream decodes and encodes it again: unknown fields and omitempty fields at their zero
    values dropped, the unknown fields' paths).  400 BadRequest when a value has the wrong JSON type (a zero
    value of the wrong type included: it does not decode)."""
    decoder = _Decoder(kind, version, encode=True)
    out = decoder.object(obj, node, kind, "")
    return out, decoder.unknown


def unmarshal(value: dict, node: SchemaNode) -> tuple[dict, list[str]]:
    """Go's json.Unmarshal of an object into the struct of ``node``: (the object with unknown fields dropped,
    their paths; zero values kept, as nothing is encoded yet).  ValueError with Go's text when a value has the
    wrong JSON type."""
    decoder = _Decoder("", "")
    struct = node.name.rsplit(".", 1)[-1] if node.name else ""
    out = decoder.object(value, node, struct, "")
    return out, decoder.unknown


# -- what storage gives back -----------------------------------------------------------------------------------
# Upstream stores built-in objects as protobuf, where an empty list or map is no different from none: a slice or
# map field without omitempty that held [] or {} reads back as Go's nil, which JSON writes as null (a ClusterRole's
# `rules: []`, an EndpointSlice's `endpoints: []`, a CSINode's `drivers: []`).  A plan per definition: the fields
# to make null when empty, and where to look deeper (only where such a field can be reached).
_Plan = tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]]
_NO_PLAN: _Plan = ((), ())
_plans: dict[str, _Plan] = {}


def _collection(node: SchemaNode) -> Optional[str]:
    """"items" for a slice, "values" for a map (a []byte is a string), else None."""
    if node.preserve_unknown or node.int_or_string:
        return None
    if node.type == "array":
        return "items"
    if node.type == "object" and not node.properties and node.values() is not None:
        return "values"
    return None


def _plan(name: str) -> _Plan:
    plan = _plans.get(name)
    if plan is not None:
        return plan
    _plans[name] = _NO_PLAN       # a definition that contains itself looks no deeper the second time
    from .schema import node_named
    node = node_named(name)
    if node is None or node.preserve_unknown or node.int_or_string:
        return _NO_PLAN
    kept = omittable().get(name, _NONE)
    nulls: list[str] = []
    deeper: list[tuple[str, str, str]] = []
    for field in node.properties:
        child = node.field(field)
        if child is None or child.preserve_unknown or child.int_or_string:
            continue
        how = _collection(child)
        if how is not None and field not in kept and not (name == _OBJECT_META and field == "managedFields"):
            nulls.append(field)
        inner = child.items() if how == "items" else child.values() if how == "values" else child
        if inner is not None and inner.name and _plan(inner.name) != _NO_PLAN:
            deeper.append((field, how or "object", inner.name))
    plan = (tuple(nulls), tuple(deeper)) if nulls or deeper else _NO_PLAN
    _plans[name] = plan
    return plan


def reads_back_nulls(name: Optional[str]) -> bool:
    """Whether objects of definition ``name`` can hold an empty collection that storage gives back as null."""
    return name is not None and _plan(name) != _NO_PLAN


def reads_back_differently(obj: dict, name: str) -> bool:
    """Whether ``obj`` (of definition ``name``) holds an empty collection that as_read_back would make null."""
    nulls, deeper = _plan(name)
    for field in nulls:
        value = obj.get(field)
        if isinstance(value, (list, dict)) and not value:
            return True
    for field, how, inner in deeper:
        value = obj.get(field)
        if not value:
            continue
        if how == "object":
            members = (value,) if isinstance(value, dict) else ()
        else:
            members = value if how == "items" and isinstance(value, list) else \
                value.values() if how == "values" and isinstance(value, dict) else ()
        if any(isinstance(member, dict) and reads_back_differently(member, inner) for member in members):
            return True
    return False


def as_read_back(obj: dict, name: str) -> None:
    """``obj`` (of definition ``name``) made what upstream's storage gives back: every empty slice or map of a
    field without omitempty made null, in place."""
    nulls, deeper = _plan(name)
    for field in nulls:
        value = obj.get(field)
        if isinstance(value, (list, dict)) and not value:
            obj[field] = None
    for field, how, inner in deeper:
        value = obj.get(field)
        if not value:
            continue
        if how == "object":
            if isinstance(value, dict):
                as_read_back(value, inner)
            continue
        members = value if how == "items" and isinstance(value, list) else \
            value.values() if how == "values" and isinstance(value, dict) else ()
        for member in members:
            if isinstance(member, dict):
                as_read_back(member, inner)

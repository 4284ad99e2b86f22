"""
The upstream OpenAPI definitions of the built-in types, and a way to walk them.

The definitions come from the ``kubernetes_validate`` package (its
``v1.32.0-local/_definitions.json``, JSON-schema form: refs ``#/$defs/<name>``,
nullable types as ``["string", "null"]``).  The file is 1.3 MB, so it is read on
first use and then kept; importing this module costs nothing.

Public API:

- :func:`definitions` — every definition, name -> raw dict (as loaded; do not mutate).
- :func:`definition_name_for` — the definition that declares a group/version/kind.
- :func:`node_for` / :func:`node_named` — a :class:`SchemaNode` to walk from.
- :func:`openapi_v3_schemas` / :func:`openapi_v2_definitions` — the definitions
  converted back to the OpenAPI forms the /openapi/v3 and /openapi/v2 documents use.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import threading
from pathlib import Path
from typing import Any, Iterator, Optional

from . import codec

_DEFS_PREFIX = "#/$defs/"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
# Types that hold arbitrary JSON; upstream marks them so clients don't prune them.
_FREE_FORM = frozenset({
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray",
})
_lock = threading.Lock()


def _definitions_path() -> Path:
    # The package's directory, found without importing it: its __init__ imports jsonschema and more (a
    # tenth of the server's start), and only its data files are wanted.
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the kubernetes-validate package (its OpenAPI definitions) is not installed")
    return (Path(list(spec.submodule_search_locations)[0]) / "kubernetes-json-schema"
            / "v1.32.0-local" / "_definitions.json")


_loaded: Optional[dict[str, dict]] = None


def definitions() -> dict[str, dict]:
    """Every upstream definition by its name (``io.k8s.api.core.v1.Pod`` ...), raw as loaded.

    Read from disk on the first call only; every caller gets the same dict (do not mutate it).
    """
    global _loaded
    if _loaded is None:
        with _lock:  # several threads may ask first; read the file once
            if _loaded is None:
                _loaded = codec.loads(_definitions_path().read_bytes())["$defs"]
    return _loaded


@functools.cache
def _gvk_index() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, definition in definitions().items():
        for gvk in definition.get("x-kubernetes-group-version-kind", ()):
            # meta types (DeleteOptions, WatchEvent) list many GVKs; the first definition wins
            index.setdefault((gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", "")), name)
    return index


def definition_name_for(group: str, version: str, kind: str) -> Optional[str]:
    """The name of the definition whose ``x-kubernetes-group-version-kind`` lists this GVK, or None."""
    return _gvk_index().get((group, version, kind))


def node_named(name: str) -> Optional[SchemaNode]:
    """The node of the definition called ``name``, or None (the same node on every call)."""
    node = _named_nodes.get(name)
    if node is None:
        definition = definitions().get(name)
        if definition is None:
            return None
        node = _named_nodes[name] = SchemaNode(definition, definition, name)
    return node


_named_nodes: dict[str, SchemaNode] = {}


def node_for(group: str, version: str, kind: str) -> Optional[SchemaNode]:
    """The node of the top-level type of a group/version/kind, or None if upstream has no such kind."""
    name = definition_name_for(group, version, kind)
    return None if name is None else node_named(name)


def _resolve(site: dict) -> tuple[dict, Optional[str]]:
    """Follow ``$ref`` chains from a schema to the definition it stands for."""
    target, name = site, None
    seen = 0
    while isinstance(target.get("$ref"), str) and target["$ref"].startswith(_DEFS_PREFIX) and seen < 16:
        name = target["$ref"][len(_DEFS_PREFIX):]
        target = definitions().get(name, {})
        seen += 1
    return target, name


# Child nodes by the id of their schema dict, each kept with its dict so the id stays its own:
# a node is made once per place in a schema and its facts are worked out once (every write
# walks the same nodes).  Schemas are never changed in place, so what a node learnt stays true.
_CHILDREN: dict[int, tuple[dict, "SchemaNode"]] = {}
_CHILDREN_LIMIT = 200_000


class SchemaNode:
    """One place in a schema: the field's own schema (``site``, which carries the field's
    description and x-kubernetes-patch-* extensions) and what it refers to (``target``,
    which carries the type, properties and items)."""

    __slots__ = ("_site", "_target", "name", "_fields", "_facts", "_type", "_int_or_string", "_preserve_unknown",
                 "is_bytes")

    def __init__(self, site: dict, target: Optional[dict] = None, name: Optional[str] = None):
        if target is None:
            target, name = _resolve(site)
        self._site = site
        self._target = target
        #: the definition name this node refers to, if any ("io.k8s.api.core.v1.Container")
        self.name = name
        self._fields: dict[str, SchemaNode] = {}
        self._facts: dict[str, Any] = {}
        # What decoding asks of every value, worked out here once.
        declared = target.get("type")
        if isinstance(declared, list):
            declared = next((t for t in declared if t != "null"), None)
        self._type: Optional[str] = declared
        self._int_or_string = bool(name == _INT_OR_STRING or self._get("x-kubernetes-int-or-string")
                                   or self._get("format") == "int-or-string")
        self._preserve_unknown = bool(self._get("x-kubernetes-preserve-unknown-fields") or name in _FREE_FORM)
        #: a Go []byte: a string of base64 ("format": "byte")
        self.is_bytes = declared == "string" and self._get("format") == "byte"

    @classmethod
    def _of(cls, site: Any) -> Optional[SchemaNode]:
        if not isinstance(site, dict):
            return None
        hit = _CHILDREN.get(id(site))
        if hit is not None:
            return hit[1]
        if len(_CHILDREN) > _CHILDREN_LIMIT:
            _CHILDREN.clear()
        node = cls(site)
        _CHILDREN[id(site)] = (site, node)
        return node

    def _fact(self, name: str, compute) -> Any:
        facts = self._facts
        if name not in facts:
            facts[name] = compute()
        return facts[name]

    def _get(self, key: str, default: Any = None) -> Any:
        if key in self._site:
            return self._site[key]
        return self._target.get(key, default)

    def __repr__(self) -> str:
        return f"SchemaNode({self.name or self.type or 'untyped'})"

    # --- navigation ---------------------------------------------------------------

    def field(self, name: str) -> Optional[SchemaNode]:
        """The schema of property ``name`` of an object, or None if the object has no such field."""
        found = self._fields.get(name)
        if found is not None:
            return found
        properties = self._target.get("properties")
        if not isinstance(properties, dict):
            return None
        found = self._of(properties.get(name))
        if found is not None:
            # Only declared names are kept: the names a request makes up are not.
            self._fields[name] = found
        return found

    def values(self) -> Optional[SchemaNode]:
        """The schema of every value of a map (``additionalProperties``), or None."""
        return self._fact("values", lambda: self._of(self._target.get("additionalProperties")))

    def items(self) -> Optional[SchemaNode]:
        """The schema of the elements of an array, or None."""
        return self._fact("items", lambda: self._of(self._target.get("items")))

    def child(self, key: str) -> Optional[SchemaNode]:
        """The schema under ``key`` in an object: the named field, else the map's values."""
        node = self.field(key)
        return node if node is not None else self.values()

    def walk(self, *path: str) -> Optional[SchemaNode]:
        """Follow field names; ``"[]"`` steps into array items and ``"{}"`` into map values."""
        node: Optional[SchemaNode] = self
        for step in path:
            if node is None:
                return None
            node = node.items() if step == "[]" else node.values() if step == "{}" else node.field(step)
        return node

    # --- facts ----------------------------------------------------------------------

    @property
    def type(self) -> Optional[str]:
        """'object', 'array', 'string', 'integer', 'number', 'boolean', or None when untyped."""
        return self._type

    @property
    def properties(self) -> tuple[str, ...]:
        return self._fact("properties", self._properties)

    def _properties(self) -> tuple[str, ...]:
        props = self._target.get("properties")
        return tuple(props) if isinstance(props, dict) else ()

    @property
    def required(self) -> list[str]:
        return list(self._target.get("required", ()))

    @property
    def description(self) -> Optional[str]:
        return self._get("description")

    @property
    def format(self) -> Optional[str]:
        if self.name == _INT_OR_STRING:
            return "int-or-string"
        return self._get("format")

    @property
    def enum(self) -> Optional[list]:
        return self._get("enum")

    @property
    def patch_strategy(self) -> Optional[str]:
        """x-kubernetes-patch-strategy: "merge", "retainKeys", "merge,retainKeys", "replace" or None."""
        return self._get("x-kubernetes-patch-strategy")

    @property
    def patch_merge_key(self) -> Optional[str]:
        return self._get("x-kubernetes-patch-merge-key")

    @property
    def list_type(self) -> Optional[str]:
        return self._get("x-kubernetes-list-type")

    @property
    def list_map_keys(self) -> list[str]:
        return list(self._get("x-kubernetes-list-map-keys", ()))

    @property
    def map_type(self) -> Optional[str]:
        return self._get("x-kubernetes-map-type")

    @property
    def int_or_string(self) -> bool:
        return self._int_or_string

    @property
    def preserve_unknown(self) -> bool:
        """True where any JSON is allowed (RawExtension, apiextensions JSON, FieldsV1, ...)."""
        return self._preserve_unknown

    @property
    def group_version_kinds(self) -> list[dict]:
        return list(self._target.get("x-kubernetes-group-version-kind", ()))

    @property
    def raw(self) -> dict:
        """The resolved schema dict (shared; do not mutate)."""
        return self._target


# --- OpenAPI documents ------------------------------------------------------------------


def _plain_type(declared: Any) -> Any:
    if isinstance(declared, list):
        kept = [t for t in declared if t != "null"]
        return kept[0] if len(kept) == 1 else kept
    return declared


def _convert(schema: Any, ref_prefix: str, v3: bool) -> Any:
    """One schema in OpenAPI form: refs re-pointed, nullable types made plain."""
    if not isinstance(schema, dict):
        return schema
    out: dict = {}
    for key, value in schema.items():
        if key == "$ref" and isinstance(value, str) and value.startswith(_DEFS_PREFIX):
            out[key] = ref_prefix + value[len(_DEFS_PREFIX):]
        elif key == "type":
            out[key] = _plain_type(value)
        elif key in ("properties", "patternProperties", "definitions") and isinstance(value, dict):
            out[key] = {name: _convert(sub, ref_prefix, v3) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not", "additionalItems"):
            out[key] = _convert(value, ref_prefix, v3)
        elif key in ("oneOf", "anyOf", "allOf") and isinstance(value, list):
            out[key] = [_convert(sub, ref_prefix, v3) for sub in value]
        else:
            out[key] = copy.deepcopy(value)
    if "$ref" in out and len(out) > 1:
        if v3:
            # OpenAPI 3.0 ignores siblings of $ref; upstream wraps the ref in allOf to keep them
            ref = out.pop("$ref")
            out = {"allOf": [{"$ref": ref}], **out}
    return out


def _special(name: str, v3: bool) -> Optional[dict]:
    # The JSON-schema source lost the OpenAPI shape of these two; give them upstream's.
    if name == _INT_OR_STRING:
        base = {"description": "IntOrString is a type that can hold an int32 or a string.  When used in JSON or "
                               "YAML marshalling and unmarshalling, it produces or consumes the inner type.  "
                               "This allows you to have, for example, a JSON field that can accept a name or "
                               "number.",
                "format": "int-or-string"}
        return {**base, "oneOf": [{"type": "integer"}, {"type": "string"}]} if v3 else {**base, "type": "string"}
    if name == _QUANTITY:
        base = {"description": "Quantity is a fixed-point representation of a number. It provides convenient "
                               "marshaling/unmarshaling in JSON and YAML, in addition to String() and "
                               "AsInt64() accessors."}
        return {**base, "oneOf": [{"type": "string"}, {"type": "number"}]} if v3 else {**base, "type": "string"}
    return None


def _converted(prefix: str, v3: bool) -> dict[str, dict]:
    out = {}
    for name, definition in definitions().items():
        converted = _special(name, v3) or _convert(definition, prefix, v3)
        # The JSON-schema source pins apiVersion/kind with one-value enums; upstream's documents don't.
        for field in ("apiVersion", "kind"):
            prop = converted.get("properties", {}).get(field)
            if isinstance(prop, dict) and len(prop.get("enum", ())) == 1:
                del prop["enum"]
        out[name] = converted
    return out


@functools.cache
def openapi_v3_schemas() -> dict[str, dict]:
    """The definitions as OpenAPI v3 ``components.schemas`` (refs ``#/components/schemas/<name>``).

    Computed once and shared: callers must not mutate the result.
    """
    return _converted("#/components/schemas/", v3=True)


@functools.cache
def openapi_v2_definitions() -> dict[str, dict]:
    """The definitions as Swagger 2.0 ``definitions`` (refs ``#/definitions/<name>``). Shared; do not mutate."""
    return _converted("#/definitions/", v3=False)


def iter_refs(schema: Any) -> Iterator[str]:
    """Every ``$ref`` string inside a schema (for checking a document is closed)."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            elif key in ("properties", "patternProperties", "definitions") and isinstance(value, dict):
                for sub in value.values():
                    yield from iter_refs(sub)
            else:
                yield from iter_refs(value)
    elif isinstance(schema, list):
        for sub in schema:
            yield from iter_refs(sub)

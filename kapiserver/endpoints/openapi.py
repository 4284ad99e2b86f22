"""
The /openapi/v3 and /openapi/v2 documents, as pure builders over the catalog.

- :func:`openapi_v3_index` -> the ``GET /openapi/v3`` body: every document path with its
  ``serverRelativeURL`` (``/openapi/v3/<path>?hash=<HASH>``).
- :func:`openapi_v3_document` -> ``(bytes, hash)`` of one document: ``api``, ``apis``, ``version``,
  ``apis/<group>``, ``api/v1`` or ``apis/<group>/<version>``; None for any other path.
- :func:`openapi_v2_document` -> the Swagger 2.0 JSON of everything (``GET /openapi/v2``).

The HASH is upstream's: the upper-case hex SHA-512 of the document bytes (serve it, quoted, as
the ETag).  Schemas come from :mod:`kapiserver.machinery.schema`; each document carries exactly
the component schemas its operations reach; a built-in field whose Go type is an
enum carries its values there (``enum``, from :mod:`kapiserver.machinery.enum_fields`; the
definitions the server validates with keep none).  Custom resources (CRDs) bring their own schemas
through ``extra_schemas`` (name -> OpenAPI v3 schema with ``x-kubernetes-group-version-kind``
and refs ``#/components/schemas/<name>``); a resource whose kind has no schema at all gets a
permissive one, so every listed document is complete.  Documents are cached per content (the
resources of the group-version, its extra schemas, the version string), so a catalog change
rebuilds only the group-versions it touches.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import threading
from collections import OrderedDict
from typing import Any, Iterable, Mapping, Optional

import orjson

from kapiserver.endpoints.openapi_paths import (
    CUSTOM_PATCH_TYPES, STRING, Operation, Param, group_version_operations, group_words, gv_prefix, operation_id,
    tag_for, to_valid_operation_id)
from kapiserver.machinery import codec, enum_fields, schema
from kapiserver.registry.catalog import Catalog

DEFAULT_VERSION = "v1.32.4"
V3_REF = "#/components/schemas/"
V2_REF = "#/definitions/"
_SECURITY_SCHEME = {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication",
                                    "name": "authorization", "in": "header"}}
_METHOD_ORDER = ("get", "put", "post", "delete", "options", "head", "patch")
_BUILTIN_TYPES = ("application/json", "application/vnd.kubernetes.protobuf", "application/yaml")
_BUILTIN_STREAM_TYPES = ("application/json", "application/json;stream=watch", "application/vnd.kubernetes.protobuf",
                         "application/vnd.kubernetes.protobuf;stream=watch", "application/yaml")
_CUSTOM_TYPES = ("application/json", "application/yaml")
_CUSTOM_STREAM_TYPES = ("application/json", "application/json;stream=watch", "application/yaml")
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_VERSION_INFO = "io.k8s.apimachinery.pkg.version.Info"
_PATCH_ONLY_PARAMS = frozenset({"dryRun", "fieldManager", "fieldValidation", "force"})


def document_hash(body: bytes) -> str:
    """The hash upstream puts in serverRelativeURL and (quoted) in the ETag."""
    return hashlib.sha512(body).hexdigest().upper()


# --- schemas --------------------------------------------------------------------------------------


def _gvks(definition: Mapping) -> list[tuple[str, str, str]]:
    return [(g.get("group", ""), g.get("version", ""), g.get("kind", ""))
            for g in definition.get("x-kubernetes-group-version-kind", ()) if isinstance(g, Mapping)]


@functools.cache
def _direct_refs(name: str) -> tuple[str, ...]:
    """The built-in schema names one built-in schema references directly."""
    found = schema.iter_refs(schema.openapi_v3_schemas().get(name, {}))
    return tuple(sorted({ref[len(V3_REF):] for ref in found if ref.startswith(V3_REF)}))


@functools.cache
def _builtin_closure(name: str) -> frozenset[str]:
    """Every built-in schema name reachable from ``name`` (itself included)."""
    seen = {name}
    stack = [name]
    while stack:
        for target in _direct_refs(stack.pop()):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return frozenset(seen)


def _with_enums(definitions: Mapping[str, dict]) -> dict[str, dict]:
    """The definitions with the ``enum`` of each field whose Go type is an enum (``enum_fields``), as upstream's
    documents give them: on a string property itself, on an array's items, on a map's values.  The definitions
    changed are copies; the others are shared."""
    out = dict(definitions)
    for name, fields in enum_fields.FIELDS.items():
        definition = out.get(name)
        if not definition or not isinstance(definition.get("properties"), Mapping):
            continue
        properties = dict(definition["properties"])
        for field, values in fields.items():
            node = properties.get(field)
            if not isinstance(node, Mapping):
                continue
            node = dict(node)
            if node.get("type") == "array" and isinstance(node.get("items"), Mapping):
                node["items"] = {**node["items"], "enum": list(values)}
            elif node.get("type") == "object" and isinstance(node.get("additionalProperties"), Mapping):
                node["additionalProperties"] = {**node["additionalProperties"], "enum": list(values)}
            else:
                node["enum"] = list(values)
            properties[field] = node
        out[name] = {**definition, "properties": properties}
    return out


# The built-in definitions as the documents serve them, built once: schema's plus the enums.  Only the served
# documents carry those enums (nothing validates against these; validation walks schema.definitions()).
@functools.cache
def _served_v3_schemas() -> dict[str, dict]:
    return _with_enums(schema.openapi_v3_schemas())


@functools.cache
def _served_v2_definitions() -> dict[str, dict]:
    return _with_enums(schema.openapi_v2_definitions())


def rest_friendly_name(group: str, version: str, kind: str) -> str:
    """The component name upstream gives a CRD kind: the group reversed, then version and kind."""
    return ".".join(list(reversed(group.split("."))) + [version, kind])


class _Schemas:
    """The built-in schemas plus a caller's extra ones, indexed by group/version/kind."""

    def __init__(self, extra: Optional[Mapping[str, dict]]):
        self.builtin = _served_v3_schemas()
        self.extra: dict[str, dict] = dict(extra or {})
        self.extra_gvks: dict[tuple[str, str, str], str] = {}
        for name, definition in self.extra.items():
            for gvk in _gvks(definition):
                self.extra_gvks.setdefault(gvk, name)

    def name_for(self, gvk: tuple[str, str, str]) -> Optional[str]:
        if gvk in self.extra_gvks:
            return self.extra_gvks[gvk]
        name = schema.definition_name_for(*gvk)
        if name is None and gvk[2] in ("Status", "DeleteOptions", "WatchEvent", "Patch"):
            name = _META + gvk[2]  # meta types serve every group-version
        return name

    def is_builtin(self, gvk: tuple[str, str, str]) -> bool:
        return gvk not in self.extra_gvks and schema.definition_name_for(*gvk) is not None

    def synthesize(self, gvk: tuple[str, str, str]) -> str:
        """A schema for a kind nobody described: a list of the item kind, or any object."""
        group, version, kind = gvk
        name = rest_friendly_name(group, version, kind)
        if name in self.extra:
            return name
        gvk_ext = [{"group": group, "version": version, "kind": kind}]
        item_name = self.name_for((group, version, kind[:-4])) if kind.endswith("List") else None
        if item_name:
            definition = {
                "description": f"{kind} is a list of {kind[:-4]}",
                "type": "object",
                "required": ["items"],
                "properties": {
                    "apiVersion": {"type": "string"},
                    "items": {"type": "array", "items": {"$ref": V3_REF + item_name}},
                    "kind": {"type": "string"},
                    "metadata": {"allOf": [{"$ref": V3_REF + _META + "ListMeta"}], "default": {}},
                },
                "x-kubernetes-group-version-kind": gvk_ext,
            }
        else:
            definition = {
                "type": "object",
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "metadata": {"allOf": [{"$ref": V3_REF + _META + "ObjectMeta"}], "default": {}},
                },
                "x-kubernetes-preserve-unknown-fields": True,
                "x-kubernetes-group-version-kind": gvk_ext,
            }
        self.extra[name] = definition
        self.extra_gvks[gvk] = name
        return name

    def resolve(self, gvk: tuple[str, str, str]) -> str:
        return self.name_for(gvk) or self.synthesize(gvk)

    def closure(self, roots: Iterable[str]) -> dict[str, dict]:
        """The named schemas and everything they reference, sorted by name."""
        names: set[str] = set()
        stack = list(roots)
        while stack:
            name = stack.pop()
            if name in names:
                continue
            if name in self.extra:
                names.add(name)
                for ref in schema.iter_refs(self.extra[name]):
                    if ref.startswith(V3_REF):
                        stack.append(ref[len(V3_REF):])
            elif name in self.builtin:
                names |= _builtin_closure(name)
        return {n: self.extra[n] if n in self.extra else self.builtin[n] for n in sorted(names)}


# --- rendering ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _param_v3(p: Param) -> dict:
    # Shared between documents: the result is only ever serialised, never changed.
    out = {"name": p.name, "in": p.location, "description": p.description}
    if p.required:
        out["required"] = True
    out["schema"] = {"type": p.type, "uniqueItems": True}
    return out


@functools.lru_cache(maxsize=1024)
def _param_v2(p: Param) -> dict:
    out = {"uniqueItems": True, "type": p.type, "description": p.description, "name": p.name, "in": p.location}
    if p.required:
        out["required"] = True
    return out


def _finish_operation(out: dict, responses: dict, op) -> dict:
    """What every operation ends with, in both OpenAPI versions: its responses (401 besides the declared
    ones) and the x-kubernetes-action / -group-version-kind extensions."""
    responses["401"] = {"description": "Unauthorized"}
    out["responses"] = responses
    if op.action:
        out["x-kubernetes-action"] = op.action
    if op.gvk is not None:
        out["x-kubernetes-group-version-kind"] = _gvk_ext(op.gvk)
    return out


def _gvk_ext(gvk: tuple[str, str, str]) -> dict:
    return {"group": gvk[0], "version": gvk[1], "kind": gvk[2]}


def _split_params(ops: list[Operation]) -> tuple[list[Param], dict[int, list[Param]]]:
    """Parameters every operation of a path shares go to the path; the rest stay per operation
    (both sorted by name), as upstream's OpenAPI builder lays them out."""
    common = set(ops[0].params)
    for op in ops[1:]:
        common &= set(op.params)
    if any(op.method == "patch" for op in ops):
        # kubectl looks for fieldValidation (and friends) on the PATCH operation itself only.
        common = {p for p in common if p.name not in _PATCH_ONLY_PARAMS}
    shared = sorted(common, key=lambda p: (p.name, p.location))
    own = {id(op): sorted((p for p in op.params if p not in common), key=lambda p: (p.name, p.location))
           for op in ops}
    return shared, own


class _Renderer:
    def __init__(self, schemas: _Schemas):
        self.schemas = schemas
        self.roots: set[str] = set()

    def ref(self, kind, prefix: str) -> dict:
        """A schema for a (group, version, kind), a schema name, or STRING."""
        if kind == STRING:
            return {"type": "string"}
        name = kind if isinstance(kind, str) else self.schemas.resolve(kind)
        self.roots.add(name)
        return {"$ref": prefix + name}

    def is_custom(self, op: Operation) -> bool:
        # Decided by the owning resource: a CRD's scale subresource is still a custom endpoint.
        return op.owner is not None and not self.schemas.is_builtin(op.owner)

    def produces(self, op: Operation) -> tuple[str, ...]:
        if op.produces:
            return op.produces
        custom = self.is_custom(op)
        if op.streaming:
            return _CUSTOM_STREAM_TYPES if custom else _BUILTIN_STREAM_TYPES
        return _CUSTOM_TYPES if custom else _BUILTIN_TYPES

    def consumes(self, op: Operation) -> tuple[str, ...]:
        if op.method == "patch" and self.is_custom(op):
            return CUSTOM_PATCH_TYPES
        return op.consumes

    def operation_v3(self, op: Operation, params: list[Param]) -> dict:
        out: dict[str, Any] = {"tags": [op.tag], "description": op.description, "operationId": op.operation_id}
        if params:
            out["parameters"] = [_param_v3(p) for p in params]
        if op.body is not None:
            body_schema = self.ref(op.body, V3_REF)
            body: dict[str, Any] = {"content": {ct: {"schema": body_schema} for ct in self.consumes(op)}}
            if op.body_required:
                body["required"] = True
            out["requestBody"] = body
        responses = {}
        for code, description, kind in op.responses:
            response_schema = self.ref(kind, V3_REF)
            responses[code] = {"description": description,
                               "content": {ct: {"schema": response_schema} for ct in self.produces(op)}}
        return _finish_operation(out, responses, op)

    def operation_v2(self, op: Operation, params: list[Param]) -> dict:
        out: dict[str, Any] = {"description": op.description, "consumes": list(self.consumes(op)),
                               "produces": list(self.produces(op)), "schemes": ["https"], "tags": [op.tag],
                               "operationId": op.operation_id}
        rendered = []
        if op.body is not None:
            rendered.append({"name": "body", "in": "body", "required": op.body_required,
                             "schema": self.ref(op.body, V2_REF)})
        rendered += [_param_v2(p) for p in params]
        if rendered:
            out["parameters"] = rendered
        responses = {code: {"description": description, "schema": self.ref(kind, V2_REF)}
                     for code, description, kind in op.responses}
        return _finish_operation(out, responses, op)

    def paths(self, operations: list[tuple[str, Operation]], v3: bool) -> dict[str, dict]:
        by_path: dict[str, list[Operation]] = {}
        for path, op in operations:
            by_path.setdefault(path, []).append(op)
        out = {}
        for path in sorted(by_path):
            ops = sorted(by_path[path], key=lambda o: _METHOD_ORDER.index(o.method))
            shared, own = _split_params(ops)
            item: dict[str, Any] = {}
            for op in ops:
                item[op.method] = (self.operation_v3 if v3 else self.operation_v2)(op, own[id(op)])
            if shared:
                item["parameters"] = [(_param_v3 if v3 else _param_v2)(p) for p in shared]
            out[path] = item
        return out


# --- the non-resource documents -------------------------------------------------------------------


def _discovery_op(schema_name: str, tag: str, op_id: str, description: str,
                  produces: tuple[str, ...] = _BUILTIN_TYPES) -> Operation:
    return Operation(method="get", operation_id=op_id, description=description, action="", gvk=None, tag=tag,
                     consumes=(), responses=[("200", "OK", schema_name)], produces=produces)


def _discovery_operations(gv_path: str, catalog: Catalog) -> Optional[list[tuple[str, Operation]]]:
    """The one operation of a non-resource document (api, apis, version, apis/<group>), or None."""
    parts = gv_path.split("/")
    if gv_path == "api":
        return [("/api/", _discovery_op(_META + "APIVersions", "core", "getCoreAPIVersions",
                                        "get available API versions"))]
    if gv_path == "apis":
        return [("/apis/", _discovery_op(_META + "APIGroupList", "apis", "getAPIVersions",
                                         "get available API versions"))]
    if gv_path == "version":
        return [("/version/", _discovery_op(_VERSION_INFO, "version", "getCodeVersion",
                                            "get the version information for this server", ("application/json",)))]
    if len(parts) == 2 and parts[0] == "apis" and catalog.versions(parts[1]):
        group = parts[1]
        words = group_words(group)
        return [(f"/apis/{group}/", _discovery_op(_META + "APIGroup", to_valid_operation_id(words, False),
                                                  f"get{to_valid_operation_id(words, True)}APIGroup",
                                                  "get information of a group"))]
    return None


def _parse_gv(gv_path: str) -> Optional[tuple[str, str]]:
    parts = gv_path.split("/")
    if len(parts) == 2 and parts[0] == "api":
        return ("", parts[1])
    if len(parts) == 3 and parts[0] == "apis" and parts[1]:
        return (parts[1], parts[2])
    return None


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _resource_list_op(group: str, version: str) -> tuple[str, Operation]:
    op = _discovery_op(_META + "APIResourceList", tag_for(group, version),
                       operation_id("get", group, version, "APIResources"), "get available resources")
    return (gv_prefix(group, version) + "/", op)


# --- documents ------------------------------------------------------------------------------------


def _relevant_extras(extra: Optional[Mapping[str, dict]], group: str, version: str) -> dict[str, dict]:
    if not extra:
        return {}
    return {name: definition for name, definition in extra.items()
            if any(g == group and v == version for g, v, _ in _gvks(definition))}


def _fingerprint(value: Any) -> bytes:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=repr)).digest()


_cache: "OrderedDict[tuple, tuple[bytes, str]]" = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 256


def _cached(key: tuple, build) -> tuple[bytes, str]:
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    built = build()
    with _cache_lock:
        _cache[key] = built
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return built


def _build_v3(operations: list[tuple[str, Operation]], schemas: _Schemas, version: str) -> tuple[bytes, str]:
    renderer = _Renderer(schemas)
    paths = renderer.paths(operations, v3=True)
    document = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": paths,
        "components": {"schemas": schemas.closure(renderer.roots), "securitySchemes": _SECURITY_SCHEME},
    }
    body = codec.dumps(document)
    return body, document_hash(body)


def openapi_v3_document(catalog: Catalog, gv_path: str, *, extra_schemas: Optional[Mapping[str, dict]] = None,
                        version: str = DEFAULT_VERSION) -> Optional[tuple[bytes, str]]:
    """The OpenAPI 3.0 document at ``/openapi/v3/<gv_path>`` as (bytes, hash), or None if not served.

    ``extra_schemas`` are added component schemas (CRDs); only those whose
    x-kubernetes-group-version-kind names this group-version are considered.
    """
    gv_path = gv_path.strip("/")
    gv = _parse_gv(gv_path)
    if gv is None:
        operations = _discovery_operations(gv_path, catalog)
        if operations is None:
            return None
        key = ("v3", gv_path, version)
        return _cached(key, lambda: _build_v3(operations, _Schemas(None), version))
    group, version_name = gv
    resources = catalog.resources(group, version_name)
    if not resources:
        return None
    extras = _relevant_extras(extra_schemas, group, version_name)
    key = ("v3", gv_path, version, tuple(resources), _fingerprint(extras) if extras else b"")

    def build() -> tuple[bytes, str]:
        schemas = _Schemas(extras)
        operations = [_resource_list_op(group, version_name)]
        operations += group_version_operations(resources)
        return _build_v3(operations, schemas, version)

    return _cached(key, build)


def openapi_v3_paths(catalog: Catalog) -> list[str]:
    """Every document path the index lists, sorted as upstream's JSON map."""
    paths = ["api", "apis", "version"]
    for group, versions in catalog.groups:
        served = [v for v in versions if catalog.resources(group, v)]
        if group and served:
            paths.append(f"apis/{group}")
        paths += [_gv_path(group, v) for v in served]
    return sorted(set(paths))


def openapi_v3_index(catalog: Catalog, *, extra_schemas: Optional[Mapping[str, dict]] = None,
                     version: str = DEFAULT_VERSION) -> dict:
    """The ``GET /openapi/v3`` body: each document path and its hash-pinned URL."""
    out = {}
    for path in openapi_v3_paths(catalog):
        built = openapi_v3_document(catalog, path, extra_schemas=extra_schemas, version=version)
        if built is not None:
            out[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={built[1]}"}
    return {"paths": out}


_OBJECT_PROPERTIES = {
    "apiVersion": {"type": "string", "description": (
        "APIVersion defines the versioned schema of this representation of an object. Servers should convert "
        "recognized schemas to the latest internal value, and may reject unrecognized values.")},
    "kind": {"type": "string", "description": (
        "Kind is a string value representing the REST resource this object represents. Servers may infer "
        "this from the endpoint the client submits requests to. Cannot be updated. In CamelCase.")},
    "metadata": {"allOf": [{"$ref": V3_REF + _META + "ObjectMeta"}], "description": "Standard object's metadata."},
}


def object_properties() -> dict:
    """apiVersion, kind and metadata as a custom resource's schema lists them, at its root and in the resources
    it embeds."""
    return copy.deepcopy(_OBJECT_PROPERTIES)


def _without_object_properties(node: dict) -> dict:
    # Swagger 2.0 lists none of them in an embedded resource that keeps unknown fields, as upstream: kubectl
    # would refuse any field they do not name.
    properties = node.get("properties") or {}
    added = [key for key, value in _OBJECT_PROPERTIES.items() if properties.get(key) == value]
    if not added:
        return node
    node = dict(node, properties={k: v for k, v in properties.items() if k not in added})
    if not node["properties"]:
        del node["properties"]
    if "required" in node:
        node["required"] = [key for key in node["required"] if key not in added]
        if not node["required"]:
            del node["required"]
    return node


def _v2_definitions(names: Iterable[str], schemas: _Schemas) -> dict[str, dict]:
    """Swagger 2.0 definitions for the given v3 component names (extras converted on the fly)."""
    builtin_v2 = _served_v2_definitions()
    out = {}
    for name, definition in schemas.closure(names).items():
        if name in schemas.extra:
            out[name] = _v3_to_v2(definition)
        else:
            out[name] = builtin_v2[name]
    return out


def _v3_to_v2(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get("x-kubernetes-embedded-resource") is True and \
                value.get("x-kubernetes-preserve-unknown-fields") is True:
            value = _without_object_properties(value)
        out = {}
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str) and item.startswith(V3_REF):
                out[key] = V2_REF + item[len(V3_REF):]
            else:
                out[key] = _v3_to_v2(item)
        # Swagger 2.0 has no allOf-wrapped refs with siblings in upstream's output: unwrap them.
        if "allOf" in out and len(out["allOf"]) == 1 and "$ref" in out["allOf"][0]:
            out = {"$ref": out.pop("allOf")[0]["$ref"], **out}
        return out
    if isinstance(value, list):
        return [_v3_to_v2(item) for item in value]
    return copy.copy(value)


def openapi_v2_document(catalog: Catalog, *, extra_schemas: Optional[Mapping[str, dict]] = None,
                        version: str = DEFAULT_VERSION) -> bytes:
    """The Swagger 2.0 JSON of every path and definition (``GET /openapi/v2`` as JSON)."""
    key = ("v2", version, tuple(sorted(catalog.all(), key=lambda i: (i.group, i.version, i.resource))),
           _fingerprint(extra_schemas) if extra_schemas else b"")

    def build() -> tuple[bytes, str]:
        schemas = _Schemas(extra_schemas)
        operations: list[tuple[str, Operation]] = []
        for path in ("api", "apis", "version"):
            operations += _discovery_operations(path, catalog) or []
        for group, versions in catalog.groups:
            if group:
                operations += _discovery_operations(f"apis/{group}", catalog) or []
            for v in versions:
                resources = catalog.resources(group, v)
                if resources:
                    operations.append(_resource_list_op(group, v))
                    operations += group_version_operations(resources)
        renderer = _Renderer(schemas)
        paths = renderer.paths(operations, v3=False)
        document = {
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": version},
            "paths": paths,
            "definitions": _v2_definitions(set(renderer.roots) | set(schemas.extra), schemas),
            "securityDefinitions": _SECURITY_SCHEME,
            "security": [{"BearerToken": []}],
        }
        body = codec.dumps(document)
        return body, document_hash(body)

    return _cached(key, build)[0]


_V2_PROTOBUF: dict = {}     # the JSON document's hash -> its protobuf encoding (the latest only)


def openapi_v2_protobuf(catalog: Catalog, *, extra_schemas: Optional[Mapping[str, dict]] = None,
                        version: str = DEFAULT_VERSION, body: Optional[bytes] = None) -> bytes:
    """The same document as gnostic's protobuf ``openapi.v2.Document``, encoded once per document (``body``:
    the JSON to encode, when it is not ours alone)."""
    from .openapi_proto import encode_document
    if body is None:
        body = openapi_v2_document(catalog, extra_schemas=extra_schemas, version=version)
    digest = document_hash(body)
    encoded = _V2_PROTOBUF.get(digest)
    if encoded is None:
        encoded = encode_document(codec.loads(body))
        _V2_PROTOBUF.clear()
        _V2_PROTOBUF[digest] = encoded
    return encoded


def answer(parts: tuple, catalog: Catalog, schemas: Mapping[str, dict], remote_v2: Mapping[tuple[str, str], dict],
           remote_v3: Mapping[tuple[str, str], bytes], accept: Optional[str]) -> tuple[str, bytes, list]:
    """What ``GET /openapi/<parts...>`` answers, (content type, body, headers): ``/v2`` as JSON or gnostic's
    protobuf as ``accept`` prefers, with the remote APIServices' v2 documents (``remote_v2``) merged in; ``/v3``,
    the index, and ``/v3/<group-version>``, ours or a remote one (``remote_v3``, served as fetched).  Reads only
    what it is given (run in a thread, it is given copies)."""
    from ..machinery import errors
    from .negotiation import parse_accept
    from .openapi_proto import MEDIA_TYPE as PROTOBUF, MEDIA_TYPES as PROTOBUF_TYPES
    if parts == ("v2",):
        body = merged_v2(openapi_v2_document(catalog, extra_schemas=schemas), remote_v2)
        for media in parse_accept(accept):
            if media.type in ("application/json", "*/*", "application/*"):
                return "application/json", body, []
            if media.type in PROTOBUF_TYPES:
                return PROTOBUF, openapi_v2_protobuf(catalog, extra_schemas=schemas, body=body), []
        raise errors.not_acceptable(["application/json", PROTOBUF])
    if not parts or parts[0] != "v3":
        raise errors.path_not_found()
    if len(parts) == 1:
        index = openapi_v3_index(catalog, extra_schemas=schemas)
        for (group, version), body in sorted(remote_v3.items()):
            index["paths"][f"apis/{group}/{version}"] = {
                "serverRelativeURL": f"/openapi/v3/apis/{group}/{version}?hash={document_hash(body)}"}
        return "application/json", codec.encode(index), []
    document = openapi_v3_document(catalog, "/".join(parts[1:]), extra_schemas=schemas)
    if document is None and len(parts) == 4 and parts[1] == "apis" and (parts[2], parts[3]) in remote_v3:
        body = remote_v3[(parts[2], parts[3])]
        document = body, document_hash(body)
    if document is None:
        raise errors.path_not_found()
    body, digest = document
    return "application/json", body, [(b"Etag", f'"{digest}"'.encode())]


_MERGED: dict = {}


def merged_v2(local: bytes, remotes: Mapping[tuple[str, str], dict]) -> bytes:
    """``local`` (our /openapi/v2) with the remote APIServices' documents merged in, as upstream's aggregator
    merges them: each remote's paths under its group's prefix, and its definitions, where ours has none of
    that name (ours win).  Kept for as long as neither side changes."""
    if not remotes:
        return local
    key = (document_hash(local), tuple(sorted((k, document_hash(codec.dumps(v))) for k, v in remotes.items())))
    found = _MERGED.get(key)
    if found is None:
        document = codec.loads(local)
        paths, definitions = document.setdefault("paths", {}), document.setdefault("definitions", {})
        for (group, _version), remote in sorted(remotes.items()):
            prefix = f"/apis/{group}/"
            for path, item in (remote.get("paths") or {}).items():
                if (path.startswith(prefix) or path == f"/apis/{group}") and path not in paths:
                    paths[path] = item
            for name, definition in (remote.get("definitions") or {}).items():
                definitions.setdefault(name, definition)
        found = codec.dumps(document)
        _MERGED.clear()
        _MERGED[key] = found
    return found


__all__ = ["DEFAULT_VERSION", "answer", "merged_v2", "document_hash", "openapi_v2_document", "openapi_v2_protobuf",
           "openapi_v3_document", "openapi_v3_index", "openapi_v3_paths", "rest_friendly_name"]

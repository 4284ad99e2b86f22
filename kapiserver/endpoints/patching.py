"""
Patches, as the patch handlers of a resource and its subresources read them: a
function old object -> patched object for the request's patch type (JSON patch,
merge patch, strategic merge patch, server-side apply).
"""

from __future__ import annotations

from ..auth.context import add_warning
from ..machinery import codec, errors, fieldmanager, gojson, schema
from ..machinery.errors import StatusError
from . import negotiation
from .decoding import content_type, decode_typed
from .http import query
from .requestinfo import is_true


def patch_type(request, store, info=None) -> str:
    """The request's patch type, from its Content-Type: a 415 for one the resource does not take (strategic merge
    for a kind without a schema of its own: a custom resource), checked first, as upstream's patch handler does."""
    header = content_type(request)
    kind = negotiation.body_media_type(header).type if header else ""
    if kind not in negotiation.PATCH_TYPES:
        if store.builtin:
            # Refused by upstream's route for a built-in resource (it consumes the patch types alone), in its
            # router's words; a custom resource's handler says which types it takes.
            raise StatusError(415, "UnsupportedMediaType", "415: Unsupported Media Type", {})
        raise errors.unsupported_media_type(kind, negotiation.PATCH_TYPES)
    info = info or store.info
    if kind == negotiation.STRATEGIC_MERGE_PATCH and (
            not store.builtin or schema.node_for(info.group, info.version, info.kind) is None):
        raise errors.unsupported_media_type(kind, (negotiation.JSON_PATCH, negotiation.MERGE_PATCH,
                                                   negotiation.APPLY_PATCH_YAML))
    return kind


def patch_function(request, context, store, raw: bytes, kind: str, info=None):
    """A function old -> patched object for a patch of type ``kind`` (``patch_type``'s answer; the options
    validated before it is called, by decoding.write_options: force and an apply's fieldManager among them)."""
    from ..machinery import patch
    info = info or store.info
    if kind == negotiation.APPLY_PATCH_YAML:
        return ApplyPatcher(request, context, store, raw, info)
    node = None
    if kind == negotiation.STRATEGIC_MERGE_PATCH:
        node = schema.node_for(info.group, info.version, info.kind)
    validation = query(request, "fieldValidation")
    document = patch.decode_patch(kind, raw, validation)
    if document is None:
        document = {} if kind != negotiation.JSON_PATCH else []
    duplicates = []
    if kind != negotiation.JSON_PATCH and validation != "Ignore" and isinstance(document, dict):
        duplicates = gojson.duplicate_fields(raw, document)
    return Patcher(kind, document, node, [f'duplicate field "{path}"' for path in duplicates])


class Patcher:
    """A JSON, merge or strategic merge patch as a function old -> patched object, with what upstream's patcher
    shows of it when the patched object cannot be decoded.  ``duplicates``: the strict decoding errors of the
    patch body itself (keys it writes twice), reported under fieldValidation Strict or Warn."""

    def __init__(self, kind: str, document, node, duplicates: list[str]):
        self.kind = kind
        self.document = document
        self.node = node
        self.duplicates = duplicates

    def __call__(self, old):
        from ..machinery import patch
        if self.kind == negotiation.JSON_PATCH:
            patched = patch.json_patch(old, self.document)
        elif self.kind == negotiation.MERGE_PATCH:
            patched = patch.merge_patch(old, self.document)
        else:
            patched = patch.strategic_merge_patch(old, self.document, self.node)
        # As upstream's patcher checks the patched object's name against the URL's (a patch may replace the
        # whole document, or take the name away).
        name = ((old.get("metadata") or {}).get("name") or "") if isinstance(old, dict) else ""
        given = patched.get("metadata") if isinstance(patched, dict) else None
        given = (given.get("name") or "") if isinstance(given, dict) else ""
        if name and given != name:
            raise errors.bad_request(f"the name of the object ({given}) does not match the name on the URL "
                                     f"({name})")
        return patched

    def shown(self, old: dict, patched: dict) -> str:
        """The Invalid value of upstream's error: a strategic merge patch's map as Go's %+v prints it
        (applyPatchToObject), else the patched JSON as evanphx/json-patch writes it (jsonPatcher)."""
        if self.kind == negotiation.STRATEGIC_MERGE_PATCH:
            return gojson.go_value(self.document)
        if self.kind == negotiation.MERGE_PATCH:
            laid_out = _merge_patch_layout(patched, old, self.document)
        else:
            laid_out = _laid_out(patched, (), _json_patch_parsed(self.document))
        return codec.dumps(laid_out).decode()


def _sorted_deep(value):
    if isinstance(value, dict):
        return {key: _sorted_deep(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_deep(item) for item in value]
    return value


def _merge_patch_layout(patched: dict, old: dict, document: dict) -> dict:
    """``patched`` in the order evanphx/json-patch's MergePatch writes it: the objects it decoded (the top, each
    object the patch merges into, every value it sets where there was none or no object) with their keys
    sorted, as Go writes a map; the rest (what the patch left alone, a non-object set over an object) as it
    came."""
    out = {}
    for key in sorted(patched):
        value = patched[key]
        current = old.get(key) if isinstance(old, dict) else None
        if key not in document:
            out[key] = value
        elif isinstance(current, dict) and isinstance(document[key], dict) and isinstance(value, dict):
            out[key] = _merge_patch_layout(value, current, document[key])
        elif isinstance(current, dict):
            out[key] = value
        else:
            out[key] = _sorted_deep(value)
    return out


def _pointer_tokens(pointer: str) -> tuple:
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in pointer.split("/")[1:])


def _json_patch_parsed(operations) -> set:
    """The paths of the containers evanphx/json-patch decodes applying ``operations`` (the top, and each
    container on the way to an operation's path or from), less those an operation replaced or removed since."""
    parsed = {()}
    for operation in operations if isinstance(operations, list) else ():
        if not isinstance(operation, dict):
            continue
        pointers = [("from", operation.get("from"))] if operation.get("op") in ("move", "copy") else []
        for name, pointer in pointers + [("path", operation.get("path"))]:
            if not isinstance(pointer, str):
                continue
            tokens = _pointer_tokens(pointer)
            if operation.get("op") != "test" and (name == "path" or operation.get("op") == "move"):
                parsed = {path for path in parsed if path[:len(tokens)] != tokens}
            parsed.update(tokens[:end] for end in range(len(tokens)))
    return parsed


def _laid_out(value, path: tuple, parsed: set):
    if isinstance(value, dict):
        keys = sorted(value) if path in parsed else list(value)
        return {key: _laid_out(value[key], path + (key,), parsed) for key in keys}
    if isinstance(value, list):
        return [_laid_out(item, path + (str(index),), parsed) for index, item in enumerate(value)]
    return value


def patched_object(request, store, patcher, old, options, info=None) -> dict:
    """The object ``patcher`` makes of ``old``, decoded as an update's body is (typed, its unknown fields refused
    or warned about per fieldValidation).  As upstream's JSON, merge and strategic merge patchers, a patched
    object that does not decode is a 422 Invalid of the field "patch" (the patch body's own duplicate keys among
    its strict decoding errors); an apply's configuration was typed by the field manager."""
    patched = patcher(old)
    if not isinstance(patcher, Patcher):
        return decode_typed(request, store, patched, options, info)
    strict = options.field_validation == "Strict"
    if options.field_validation == "Warn":
        for problem in patcher.duplicates:
            add_warning(problem)
    try:
        decoded = decode_typed(request, store, patched, options, info)
    except StatusError as error:
        if error.code != 400:
            raise
        raise _undecodable(patcher, store, info or store.info, old, patched, error.message,
                           patcher.duplicates if strict else []) from None
    if strict and patcher.duplicates:
        raise _invalid_patch(_shown(patcher, store, old, patched), _STRICT + ", ".join(patcher.duplicates))
    return decoded


def _shown(patcher: Patcher, store, old: dict, patched: dict) -> str:
    """The patched object as upstream's error shows it: a custom resource's JSON is an unstructured map's, every
    object's keys sorted (the patchers keep that order), a built-in's as the patcher writes it."""
    if not store.builtin:
        return codec.dumps(_sorted_deep(patched)).decode()
    return patcher.shown(old, patched)


_STRICT = "strict decoding error: "


def _undecodable(patcher: Patcher, store, info, old: dict, patched: dict, message: str,
                 duplicates: list[str]) -> StatusError:
    prefix = f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
    detail = message[len(prefix):] if message.startswith(prefix) else message
    if detail.startswith(_STRICT):
        detail = _STRICT + ", ".join(duplicates + [detail[len(_STRICT):]])
    elif patcher.kind == negotiation.STRATEGIC_MERGE_PATCH:
        # Upstream turns the patched map into the typed object with its unstructured converter, in whose words.
        detail = _conversion_error(patched, schema.node_for(info.group, info.version, info.kind)) or detail
    return _invalid_patch(_shown(patcher, store, old, patched), detail)


def _invalid_patch(shown: str, detail: str) -> StatusError:
    """errors.NewInvalid of no kind and no name, its one cause the field "patch"."""
    cause = errors.invalid("patch", shown, detail)
    return StatusError(422, "Invalid", f' "" is invalid: {cause}', {"causes": [cause.cause()]})


# Types that decode themselves (a JSON unmarshaler of their own), which the converter does not walk.
_SELF_DECODING = ("resource.Quantity", "v1.Time", "v1.MicroTime", "runtime.RawExtension", "v1.FieldsV1",
                  "intstr.IntOrString", "v1.JSON", "v1.JSONSchemaPropsOrBool", "v1.JSONSchemaPropsOrArray",
                  "v1.JSONSchemaPropsOrStringArray")
_SOURCE_KINDS = {dict: "map", list: "slice", str: "string", bool: "bool", int: "int64", float: "float64"}
_GO_SCALARS = {("integer", "int32"): "int32", ("integer", "int64"): "int64", ("integer", None): "int",
               ("number", None): "float64", ("boolean", None): "bool", ("string", None): "string"}


def _conversion_error(value, node):
    """What runtime.DefaultUnstructuredConverter's FromUnstructured says of the first value of ``value`` the Go
    type of ``node`` cannot hold (fields in the schema's order, not the struct's); None where it finds none, or
    only in a type that decodes itself (not followed here)."""
    if value is None or node is None or node.preserve_unknown or node.int_or_string or \
            (node.name or "").endswith(_SELF_DECODING):
        return None
    source = _SOURCE_KINDS.get(type(value), "")
    if node.type == "object":
        if not isinstance(value, dict):
            return f"cannot restore struct from: {source}" if node.properties else \
                f"cannot restore map from {source}"
        if node.properties:
            found = (_conversion_error(value.get(name), node.field(name)) for name in node.properties if name in value)
        else:
            found = (_conversion_error(item, node.values()) for item in value.values())
        return next((problem for problem in found if problem), None)
    if node.type == "array":
        if not isinstance(value, list):
            return f"cannot restore slice from {source}"
        return next((problem for problem in (_conversion_error(item, node.items()) for item in value) if problem),
                    None)
    target = _GO_SCALARS.get((node.type, node.format), _GO_SCALARS.get((node.type, None)))
    if target is None:
        return None
    if target == "string":
        fits = source == "string"
        converts = source == "int64"
    elif target == "bool":
        fits, converts = source == "bool", False
    elif target == "float64":
        fits, converts = source in ("int64", "float64"), False
    else:
        fits = source == "int64" or source == "float64" and float(value).is_integer()
        converts = source == "float64"
    if fits:
        return None
    return f"cannot convert {source} to {target}" if converts else f"unrecognized type: {target}"


def _decode_apply(raw: bytes, request=None, validation: str = "Ignore") -> dict:
    try:
        config = codec.loads(raw)
        duplicated = bool(validation != "Ignore" and gojson.duplicate_fields(raw, config))
    except ValueError:
        # The codec's YAML (timestamps stay strings, large integers become floats, lone surrogates are refused),
        # as every other YAML body is read.
        try:
            config = codec.load_yaml(raw)
        except ValueError as err:
            raise errors.bad_request(f"error decoding YAML: {err}") from None
        duplicated = validation != "Ignore"
    if duplicated:
        # As upstream's strict YAML decoding of an apply body: keys set twice are an error under Strict,
        # a warning under Warn.
        problems = codec.yaml_duplicate_keys(raw)
        if problems and validation == "Strict":
            raise errors.bad_request("error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal "
                                     "errors:\n  " + "\n  ".join(problems))
        for problem in problems:
            add_warning(problem)
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise errors.bad_request("error decoding YAML: the applied configuration must be an object")
    if "metadata" in config and config["metadata"] is None:
        del config["metadata"]   # null is absent, as in Go
    if "metadata" in config and not isinstance(config["metadata"], dict):
        # The field manager records managedFields in it; upstream cannot make a typed object of it either.
        raise errors.bad_request(f"failed to create typed patch object: .metadata: expected map, got "
                                 f"{type(config['metadata']).__name__}")
    return config


# What upstream's status strategies reset of the metadata when they reset it for status (ResetObjectMetaForStatus).
_STATUS_METADATA = {"labels", "annotations", "ownerReferences"}


def status_reset_fields(store) -> tuple:
    """The fields a status write's strategy resets, which its applier does not own (the status strategies'
    GetResetFields): the spec, and of the metadata all of it where the strategy resets it for status, else the
    fields it keeps (a Deployment's labels, a Pod's ownerReferences).  A custom resource's status strategy names
    its spec alone, though it keeps the old metadata."""
    if not store.builtin:
        return (("spec",),)
    kept = tuple(getattr(store.strategy, "status_keeps_old_metadata", ()))
    if _STATUS_METADATA <= set(kept):
        return (("spec",), ("metadata",))
    return (("spec",),) + tuple(("metadata", name) for name in kept)


class ApplyPatcher:
    """A server-side apply (application/apply-patch+yaml) as a function old -> new (old None creates).  Through
    /scale the object applied to is the Scale (its managedFields the resource's that own the replicas), typed
    as a Scale, and its applier is recorded with the subresource "scale"."""

    def __init__(self, request, context, store, raw: bytes, info=None):
        self.manager = query(request, "fieldManager")
        self.force = is_true(request.args.get(b"force"))
        self.config = _decode_apply(raw, request, query(request, "fieldValidation", "Warn") or "Warn")
        self.clock = context.clock
        self.store = store
        info = info or store.info
        self.api_version = f"{info.group}/{info.version}" if info.group else info.version
        self.kind = info.kind
        path = request.path.rstrip(b"/")
        self.subresource = "status" if path.endswith(b"/status") else "scale" if path.endswith(b"/scale") else ""
        if self.subresource == "scale":
            self.types = (schema.node_for(info.group, info.version, info.kind), None)
            self.seed = fieldmanager.zero_object(info.group, info.kind)
            self.reset_fields, self.ignore_status = (), False
        else:
            self.types = fieldmanager.types_for(store)
            # Built-in types start from Go's zero value, whose struct fields exist empty.
            self.seed = fieldmanager.zero_object(store.info.group, store.info.kind) if store.builtin else None
            self.reset_fields = status_reset_fields(store) if self.subresource else ()
            self.ignore_status = bool(getattr(store.strategy, "has_status", False)) and not self.subresource

    def __call__(self, old):
        return fieldmanager.apply(old, self.config, self.manager, self.api_version, self.clock.seconds(),
                                  self.types, force=self.force, seed=self.seed, subresource=self.subresource,
                                  kind=self.kind, reset_fields=self.reset_fields, ignore_status=self.ignore_status)

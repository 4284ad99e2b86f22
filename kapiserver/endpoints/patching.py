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
from .decoding import content_type
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
    document = patch.decode_patch(kind, raw, query(request, "fieldValidation"))
    if document is None:
        document = {} if kind != negotiation.JSON_PATCH else []
    if kind == negotiation.JSON_PATCH:
        return lambda old: patch.json_patch(old, document)
    if kind == negotiation.MERGE_PATCH:
        return lambda old: patch.merge_patch(old, document)
    return lambda old: patch.strategic_merge_patch(old, document, node)


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


class ApplyPatcher:
    """A server-side apply (application/apply-patch+yaml) as a function old -> new (old None creates)."""

    def __init__(self, request, context, store, raw: bytes, info=None):
        self.manager = query(request, "fieldManager")
        self.force = is_true(request.args.get(b"force"))
        self.config = _decode_apply(raw, request, query(request, "fieldValidation", "Warn") or "Warn")
        self.clock = context.clock
        self.store = store
        self.types = fieldmanager.types_for(store)
        info = info or store.info
        self.api_version = f"{info.group}/{info.version}" if info.group else info.version
        self.subresource = "status" if request.path.rstrip(b"/").endswith(b"/status") else ""

    def __call__(self, old):
        # Built-in types start from Go's zero value, whose struct fields exist empty.
        seed = fieldmanager.zero_object(self.store.info.group, self.store.info.kind) \
            if self.store.builtin else None
        return fieldmanager.apply(old, self.config, self.manager, self.api_version, self.clock.seconds(),
                                  self.types, force=self.force, seed=seed, subresource=self.subresource,
                                  ignore_status=bool(getattr(self.store.strategy, "has_status", False))
                                  and not self.subresource)

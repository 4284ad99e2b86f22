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
from .decoding import content_type, options_invalid
from .http import query
from .requestinfo import is_true


def patch_function(request, context, store, raw: bytes, info=None):
    """A function old -> patched object for the request's patch type."""
    from ..machinery import patch
    header = content_type(request)
    patch_type = negotiation.body_media_type(header).type if header else ""
    if patch_type not in negotiation.PATCH_TYPES:
        raise errors.unsupported_media_type(patch_type, negotiation.PATCH_TYPES)
    info = info or store.info
    if patch_type == negotiation.APPLY_PATCH_YAML:
        return ApplyPatcher(request, context, store, raw, info)
    if b"force" in request.args:
        raise _patch_options_invalid(errors.forbidden("force", "may not be specified for non-apply patch"))
    node = None
    if patch_type == negotiation.STRATEGIC_MERGE_PATCH:
        node = schema.node_for(info.group, info.version, info.kind) if store.builtin else None
        if node is None:
            raise errors.unsupported_media_type(patch_type, (negotiation.JSON_PATCH, negotiation.MERGE_PATCH,
                                                             negotiation.APPLY_PATCH_YAML))
    document = patch.decode_patch(patch_type, raw, query(request, "fieldValidation"))
    if document is None:
        document = {} if patch_type != negotiation.JSON_PATCH else []
    if patch_type == negotiation.JSON_PATCH:
        return lambda old: patch.json_patch(old, document)
    if patch_type == negotiation.MERGE_PATCH:
        return lambda old: patch.merge_patch(old, document)
    return lambda old: patch.strategic_merge_patch(old, document, node)


def _patch_options_invalid(error) -> StatusError:
    return options_invalid("PatchOptions", [error])


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
        if not self.manager:
            raise _patch_options_invalid(errors.required("fieldManager", "is required for apply patch"))
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

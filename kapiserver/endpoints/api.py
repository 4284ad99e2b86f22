"""
The resource handlers: one per verb, written once for every resource.
A request arrives here with its RequestInfo resolved to a Store.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Optional

from ..machinery import codec, errors, fieldmanager, schema, typed
from ..machinery.errors import StatusError
from ..registry.options import DeleteOptions, ListOptions, WriteOptions
from . import negotiation, render, subresources
from .metrics import APIServerMetrics, storage_object_counts
from .http import query, query_int, read_body, write_bytes
from .negotiation import Representation
from .requestinfo import RequestInfo, is_true


class APIContext:
    """What the handlers need of the server: registry, clock, reactor, limits."""

    def __init__(self, registry, clock, reactor, config=None, streams=None):
        self.registry = registry
        self.clock = clock
        self.reactor = reactor
        self.config = config
        self.max_request_bytes = getattr(config, "max_request_bytes", 3 * 1024 * 1024)
        self.min_request_timeout = getattr(config, "min_request_timeout", 1800)
        self.streams = streams
        # The request metrics at /metrics: one set per context, shared by every listener serving it.
        self.metrics = APIServerMetrics(storage_objects=lambda: storage_object_counts(registry))


def list_options(request, store) -> ListOptions:
    from ..machinery import selectors
    options = ListOptions()
    text = query(request, "labelSelector")
    if text:
        options.label_selector = selectors.parse_label_selector(text)
    text = query(request, "fieldSelector")
    if text:
        options.field_selector = store.strategy.check_field_selector(selectors.parse_field_selector(text))
    options.limit = query_int(request, "limit", 0) or 0
    options.continue_token = query(request, "continue")
    options.resource_version = query(request, "resourceVersion")
    options.resource_version_match = query(request, "resourceVersionMatch")
    if options.resource_version_match and options.resource_version_match not in ("Exact", "NotOlderThan"):
        raise errors.bad_request(
            f'resourceVersionMatch: Unsupported value: "{options.resource_version_match}": supported values: '
            f'"Exact", "NotOlderThan"')
    if options.resource_version_match and not options.resource_version and \
            query(request, "sendInitialEvents") == "":
        raise errors.bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided")
    if options.continue_token and options.resource_version not in ("", "0"):
        raise errors.bad_request("specifying resource version is not allowed when using continue")
    options.allow_bookmarks = is_true(request.args.get(b"allowWatchBookmarks"))
    options.timeout_seconds = query_int(request, "timeoutSeconds")
    if b"sendInitialEvents" in request.args:
        options.send_initial_events = is_true(request.args.get(b"sendInitialEvents"))
    return options


def write_options(request) -> WriteOptions:
    dry_run = request.args.get(b"dryRun") or []
    for value in dry_run:
        if value != b"All":
            raise errors.bad_request(f'dryRun: Unsupported value: "{value.decode()}": supported values: "All"')
    # Upstream's default when a client does not say is Warn.
    validation = query(request, "fieldValidation", "Warn") or "Warn"
    if validation not in ("Ignore", "Warn", "Strict"):
        raise errors.bad_request(f"fieldValidation parameter has an invalid value: {validation}")
    agent = request.getHeader(b"user-agent")
    # A write that names no manager is recorded under its User-Agent's product, as upstream.
    given = query(request, "fieldManager")
    if given:
        _check_field_manager(request, given)
    manager = given or fieldmanager.manager_from_user_agent(agent.decode("latin-1") if agent else "")
    return (ApplyOptions if _is_apply(request) else WriteOptions)(dry_run=bool(dry_run), field_manager=manager,
                                                                  field_validation=validation)


def _check_field_manager(request, manager: str) -> None:
    """fieldManager: at most 128 bytes of printable characters, as upstream validates it."""
    problems = []
    if len(manager.encode()) > 128:
        problems.append(errors.too_long("fieldManager", manager, 128))
    for position, char in enumerate(manager):
        if not char.isprintable() and char != " ":
            problems.append(errors.invalid("fieldManager", manager,
                                           f"invalid character U+{ord(char):04X} (at position {position})"))
    if problems:
        kind = {b"POST": "CreateOptions", b"PUT": "UpdateOptions"}.get(request.method, "PatchOptions")
        raise _options_invalid(kind, problems)


def _is_apply(request) -> bool:
    header = _content_type(request)
    if request.method != b"PATCH" or not header:
        return False
    try:
        return negotiation.body_media_type(header).type == negotiation.APPLY_PATCH_YAML
    except StatusError:
        return False


@dataclass
class ApplyOptions(WriteOptions):
    """The options of a server-side apply: the Store leaves its managedFields to the apply."""
    operation: str = "Apply"


def delete_options(request, body: bytes) -> DeleteOptions:
    options = DeleteOptions()
    data: dict = {}
    if body.strip():
        data = negotiation.decode_body(request.getHeader(b"content-type") and
                                       request.getHeader(b"content-type").decode(), body)
        if not isinstance(data, dict):
            raise errors.bad_request("DeleteOptions must be an object")
        # Wrong JSON types are a 400 decoding error and nulls mean absent, as upstream's typed decoding.
        data, _ = typed.decode(data, schema.node_for("", "v1", "DeleteOptions"), "DeleteOptions", "v1")
    grace = data.get("gracePeriodSeconds")
    if grace is None:
        grace = query_int(request, "gracePeriodSeconds")
    if grace is not None:
        options.grace_period_seconds = int(grace)
    preconditions = data.get("preconditions") or {}
    options.precondition_uid = preconditions.get("uid")
    options.precondition_resource_version = preconditions.get("resourceVersion")
    options.propagation_policy = data.get("propagationPolicy") or query(request, "propagationPolicy") or None
    orphan = data.get("orphanDependents")
    if orphan is None and query(request, "orphanDependents"):
        orphan = query(request, "orphanDependents").lower() in ("true", "1", "t")
    if orphan is not None:
        options.orphan_dependents = bool(orphan)
    invalid = []
    if orphan is not None and options.propagation_policy is not None:
        invalid.append(errors.invalid("propagationPolicy", options.propagation_policy,
                                      "orphanDependents and deletionPropagation cannot be both set"))
    if options.propagation_policy not in (None, "Orphan", "Background", "Foreground"):
        invalid.append(errors.not_supported(
            "propagationPolicy", options.propagation_policy, ["Foreground", "Background", "Orphan", "nil"]))
    if invalid:
        raise errors.invalid_object("meta.k8s.io", "DeleteOptions", "", invalid)
    dry_run = data.get("dryRun") or [v.decode() for v in request.args.get(b"dryRun") or []]
    options.dry_run = bool(dry_run)
    return options


def _content_type(request) -> Optional[str]:
    value = request.getHeader(b"content-type")
    return value.decode("latin-1") if value else None


def decode_typed(request, store, obj: dict, options: WriteOptions, info=None) -> dict:
    """Check a built-in object's JSON types against its schema and drop unknown
    fields, reporting them as fieldValidation asks (Strict: 400, Warn: a Warning header)."""
    info = info or store.info
    if not store.strip_item_type and isinstance(obj, dict):
        return _decode_custom(request, store, obj, options, info)
    if not store.strip_item_type or not isinstance(obj, dict):
        return obj
    node = schema.node_for(info.group, info.version, info.kind)
    if node is None:
        return obj
    obj, unknown = typed.decode(obj, node, info.kind, info.version)
    if unknown and options.field_validation == "Strict":
        raise errors.bad_request("strict decoding error: " +
                                 ", ".join(f'unknown field "{path}"' for path in unknown))
    if unknown and options.field_validation == "Warn":
        for path in unknown:
            request.responseHeaders.addRawHeader(b"Warning", f'299 - "unknown field \\"{path}\\""'.encode())
    return obj


def _decode_custom(request, store, obj: dict, options: WriteOptions, info) -> dict:
    """Custom resources: the fields their version's schema does not declare (pruned later by the
    strategy) are a strict decoding error under Strict and warnings under Warn, as upstream."""
    unknown_fields = getattr(store.strategy, "unknown_fields", None)
    unknown = unknown_fields(obj) if unknown_fields is not None else []
    if not unknown or options.field_validation == "Ignore":
        return obj
    detail = "strict decoding error: " + ", ".join(f'unknown field "{path}"' for path in unknown)
    if options.field_validation == "Strict":
        if request.method == b"PATCH":
            raise errors.bad_request(detail)
        raise errors.bad_request(f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
                                 f"{detail}")
    for path in unknown:
        request.responseHeaders.addRawHeader(b"Warning", f'299 - "unknown field \\"{path}\\""'.encode())
    return obj


def _check_body_object(body) -> dict:
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request was not a JSON object")
    return body


class ResourceHandler:
    """Serves the verbs of one request against its Store."""

    def __init__(self, context: APIContext):
        self.context = context

    async def handle(self, request, info: RequestInfo, store) -> None:
        if info.subresource:
            await subresources.handle(self, request, info, store)
            return
        verb = info.verb
        if verb == "watch" and request.method not in (b"GET", b"HEAD"):
            # The /watch/ path prefix is routed for GET only (upstream answers any other method 405).
            raise StatusError(405, "MethodNotAllowed",
                              "the server does not allow this method on the requested resource", {})
        if verb not in store.info.verbs:
            raise errors.method_not_supported(store.qualified, verb)
        namespace = info.namespace if store.info.namespaced else None
        if not store.info.namespaced and info.namespace and store.info.resource != "namespaces":
            raise StatusError(404, "NotFound", "the server could not find the requested resource", {})
        if store.info.namespaced and not namespace and verb not in ("list", "watch"):
            raise StatusError(405, "MethodNotAllowed",
                              "the server does not allow this method on the requested resource",
                              {"kind": store.info.resource, **({"group": store.info.group}
                                                                if store.info.group else {})})
        handler = getattr(self, "do_" + verb)
        await handler(request, info, store, namespace)

    # -- reads --------------------------------------------------------------------------
    def representation(self, request) -> Representation:
        accept = request.getHeader(b"accept")
        return negotiation.negotiate_output(accept.decode("latin-1") if accept else None)

    def respond(self, request, code: int, obj: dict, store, rep: Optional[Representation] = None) -> None:
        rep = rep or self.representation(request)
        out = render.render_object(store, obj, rep, self.context.clock, query(request, "includeObject"))
        write_bytes(request, code, rep.content_type, rep.encode(out))

    async def do_get(self, request, info, store, namespace):
        rep = self.representation(request)
        obj = await store.get(namespace, info.name)
        self.respond(request, 200, obj, store, rep)

    async def do_list(self, request, info, store, namespace):
        rep = self.representation(request)
        options = list_options(request, store)
        items, list_meta = await store.list(namespace or None, options)
        # Plain JSON from the watch cache: spliced from each object's cached bytes.
        body = render.encoded_list(store, items, list_meta) \
            if rep.media == negotiation.JSON and not rep.target else None
        if body is None:
            out = render.render_list(store, items, list_meta, rep, self.context.clock, query(request, "includeObject"))
            body = rep.encode(out)
        write_bytes(request, 200, rep.content_type, body)

    async def do_watch(self, request, info, store, namespace):
        from .watch import serve_watch
        rep = self.representation(request)
        options = list_options(request, store)
        if info.name:
            from ..machinery import selectors
            by_name = selectors.parse_field_selector(f"metadata.name={info.name}")
            options.field_selector = by_name if options.field_selector is None else \
                selectors.parse_field_selector(f"metadata.name={info.name}," + query(request, "fieldSelector"))
        await serve_watch(self.context, request, store, namespace or None, options, rep)

    # -- writes -------------------------------------------------------------------------
    def body(self, request):
        raw = read_body(request, self.context.max_request_bytes)
        if not raw.strip():
            raise errors.bad_request("the body of the request was empty")
        return negotiation.decode_body(_content_type(request), raw)

    async def do_create(self, request, info, store, namespace):
        obj = _check_body_object(self.body(request))
        if info.name:
            raise errors.method_not_supported(store.qualified, "create")
        options = write_options(request)
        obj = decode_typed(request, store, obj, options)
        created = await store.create(namespace, obj, options)
        self.respond(request, 201, created, store)

    async def do_update(self, request, info, store, namespace):
        options = write_options(request)
        obj = decode_typed(request, store, _check_body_object(self.body(request)), options)
        result, created = await store.update(namespace, info.name, lambda old: copy.deepcopy(obj), options)
        self.respond(request, 201 if created else 200, result, store)

    async def do_patch(self, request, info, store, namespace):
        patcher = patch_function(request, self.context, store, read_body(request, self.context.max_request_bytes))
        options = write_options(request)
        applying = isinstance(patcher, ApplyPatcher)

        def apply(old):
            if old is None and not applying:
                raise errors.not_found(store.qualified, info.name)
            return decode_typed(request, store, patcher(old), options)

        result, created = await store.update(namespace, info.name, apply, options, allow_create=applying)
        self.respond(request, 201 if created else 200, result, store)

    async def do_delete(self, request, info, store, namespace):
        options = delete_options(request, read_body(request, self.context.max_request_bytes))
        obj, deleted = await store.delete(namespace, info.name, options)
        if not deleted or store.strategy.return_deleted_object:
            self.respond(request, 200, obj, store)
            return
        details = {"name": info.name}
        if store.info.group:
            details["group"] = store.info.group
        details["kind"] = store.info.resource
        details["uid"] = obj["metadata"].get("uid", "")
        write_bytes(request, 200, "application/json", codec.encode(errors.success_status(details)))

    async def do_deletecollection(self, request, info, store, namespace):
        options = delete_options(request, read_body(request, self.context.max_request_bytes))
        listing = list_options(request, store)
        items, list_meta = await store.delete_collection(namespace, listing, options)
        rep = self.representation(request)
        out = render.render_list(store, items, list_meta, rep, self.context.clock)
        write_bytes(request, 200, rep.content_type, rep.encode(out))


def patch_function(request, context, store, raw: bytes, info=None):
    """A function old -> patched object for the request's patch type."""
    from ..machinery import patch
    header = _content_type(request)
    content_type = negotiation.body_media_type(header).type if header else ""
    if content_type not in negotiation.PATCH_TYPES:
        raise errors.unsupported_media_type(content_type, negotiation.PATCH_TYPES)
    info = info or store.info
    if content_type == negotiation.APPLY_PATCH_YAML:
        return ApplyPatcher(request, context, store, raw, info)
    if b"force" in request.args:
        raise _patch_options_invalid(errors.forbidden("force", "may not be specified for non-apply patch"))
    node = schema.node_for(info.group, info.version, info.kind) if store.strip_item_type else None
    if content_type == negotiation.STRATEGIC_MERGE_PATCH and node is None:
        raise errors.unsupported_media_type(content_type, (negotiation.JSON_PATCH, negotiation.MERGE_PATCH))
    document = patch.decode_patch(content_type, raw, query(request, "fieldValidation"))
    if document is None:
        document = {} if content_type != negotiation.JSON_PATCH else []
    if content_type == negotiation.JSON_PATCH:
        return lambda old: patch.json_patch(old, document)
    if content_type == negotiation.MERGE_PATCH:
        return lambda old: patch.merge_patch(old, document)
    return lambda old: patch.strategic_merge_patch(old, document, node)


def _patch_options_invalid(error) -> StatusError:
    return _options_invalid("PatchOptions", [error])


def _options_invalid(kind: str, problems: list) -> StatusError:
    status = errors.invalid_object("meta.k8s.io", kind, "", problems)
    # The qualified kind, as upstream's NewInvalid writes it.
    status.message = status.message.replace(f'{kind} ""', f'{kind}.meta.k8s.io ""', 1)
    return status


def _decode_apply(raw: bytes) -> dict:
    try:
        config = codec.loads(raw)
    except ValueError:
        import yaml
        try:
            config = yaml.safe_load(raw)
        except yaml.YAMLError as err:
            raise errors.bad_request(f"error decoding YAML: {err}") from None
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
        self.config = _decode_apply(raw)
        self.clock = context.clock
        self.store = store
        self.types = fieldmanager.types_for(store)
        info = info or store.info
        self.api_version = f"{info.group}/{info.version}" if info.group else info.version
        self.subresource = "status" if request.path.rstrip(b"/").endswith(b"/status") else ""

    def __call__(self, old):
        # Built-in types start from Go's zero value, whose struct fields exist empty.
        seed = fieldmanager.zero_object(self.store.info.group, self.store.info.kind) \
            if self.store.strip_item_type else None
        return fieldmanager.apply(old, self.config, self.manager, self.api_version, self.clock.seconds(),
                                  self.types, force=self.force, seed=seed, subresource=self.subresource,
                                  ignore_status=bool(getattr(self.store.strategy, "has_status", False))
                                  and not self.subresource)

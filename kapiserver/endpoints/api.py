"""
The resource handlers: one per verb, written once for every resource.
A request arrives here with its RequestInfo resolved to a Store.
"""

from __future__ import annotations

from typing import Awaitable, Optional

from ..auth import context as request_context
from ..machinery import codec, errors
from ..machinery.errors import StatusError
from ..machinery.jsoncopy import json_copy
from ..registry import gcpolicy
from . import negotiation, render, subresources
from .decoding import (body_object, check_update_target, decode_typed, delete_options, list_options, read_decoded,
                       write_options)
from .http import query, read_body, write_bytes
from .metrics import APIServerMetrics, storage_object_counts, watch_cache_families
from .negotiation import Representation
from .patching import ApplyPatcher, patch_function, patch_type, patched_object
from .requestinfo import RequestInfo


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
        # API Priority and Fairness (kapiserver.endpoints.apf.FlowControl), or None: not classified or limited.
        self.flow_control = None
        # Set once SIGTERM starts the shutdown: /readyz's "shutdown" check fails from then on.
        self.shutting_down = False
        # The request metrics at /metrics: one set per context, shared by every listener serving it.
        self.metrics = APIServerMetrics(storage_objects=lambda: storage_object_counts(registry))
        self.metrics.add_family_source(lambda: watch_cache_families(registry))
        # The watches being served (kapiserver.endpoints.watch.WatchResponse), which a store reset ends.
        self.watches: set = set()
        # --enable-fault-injection's rules (kapiserver.endpoints.faults.FaultInjector), or None.
        self.faults = None
        # --enable-store-reset's snapshot and reset (kapiserver.endpoints.storereset.StoreReset), or None.
        self.store_reset = None


def _warn_deprecated(store) -> None:
    """A request to a deprecated version is warned so, whatever its verb or outcome."""
    text = store.info.deprecation_warning
    if text:
        request_context.add_warning(text)


def _refuse_uid_on_create(store, name: str, new) -> None:
    """An apply that would create its object may not name a uid: upstream's patcher (applyPatch) refuses the
    object it made with a 409."""
    metadata = new.get("metadata") if isinstance(new, dict) else None
    uid = metadata.get("uid") if isinstance(metadata, dict) else None
    if uid:
        raise errors.conflict(store.qualified, name, f"uid mismatch: the provided object specified uid {uid}, "
                                                     "and no existing object was found")


class ResourceHandler:
    """Serves the verbs of one request against its Store."""

    def __init__(self, context: APIContext):
        self.context = context

    def handle(self, request, info: RequestInfo, store) -> Awaitable[None]:
        """The handler of ``request``'s verb, to await (a request it cannot take is refused at once, raising its
        Status error)."""
        if info.subresource:
            _warn_deprecated(store)
            return subresources.handle(self, request, info, store)
        verb = info.verb
        if verb == "watch" and request.method not in (b"GET", b"HEAD"):
            # The /watch/ path prefix is routed for GET only (upstream answers any other method 405).
            raise StatusError(405, "MethodNotAllowed",
                              "the server does not allow this method on the requested resource", {})
        if verb not in store.info.verbs:
            raise errors.method_not_supported(store.qualified, verb)
        namespace = info.namespace if store.info.namespaced else None
        if not store.info.namespaced and info.namespace and store.info.resource != "namespaces":
            raise errors.path_not_found()
        if store.info.namespaced and not namespace and verb not in ("list", "watch"):
            raise StatusError(405, "MethodNotAllowed",
                              "the server does not allow this method on the requested resource",
                              {"kind": store.info.resource, **({"group": store.info.group}
                                                                if store.info.group else {})})
        _warn_deprecated(store)
        return getattr(self, "do_" + verb)(request, info, store, namespace)

    # -- reads --------------------------------------------------------------------------
    def representation(self, request) -> Representation:
        accept = request.getHeader(b"accept")
        return negotiation.negotiate_output(accept.decode("latin-1") if accept else None)

    def respond(self, request, code: int, obj: dict, store, rep: Optional[Representation] = None) -> None:
        rep = rep or self.representation(request)
        written_json = getattr(store, "written_json", None)     # a resource's Store (not a subresource's)
        if written_json is not None and rep.media == negotiation.JSON and not rep.target and \
                b"dryRun" not in request.args:
            # The object as a GET of this version gives it: the watch cache's bytes, not encoded again (a dry
            # run's object is not that version, though it names it).
            encoded = written_json(obj)
            if encoded is not None:
                write_bytes(request, code, rep.content_type, encoded + b"\n")
                return
        out = render.render_object(store, obj, rep, self.context.clock, query(request, "includeObject"))
        write_bytes(request, code, rep.content_type, rep.encode(out))

    async def do_get(self, request, info, store, namespace):
        rep = self.representation(request)
        # GetOptions' resourceVersion: unset a consistent read, "0" any state, N not older than N.
        resource_version = query(request, "resourceVersion")
        get_encoded = getattr(store, "get_encoded", None)     # a resource's Store (not a subresource's)
        if get_encoded is not None and rep.media == negotiation.JSON and not rep.target:
            # The object as it is, in JSON: the watch cache's bytes of it, encoded once (the very bytes
            # codec.encode gives, but for its newline).
            encoded = store.get_encoded_now(namespace, info.name, resource_version)
            if encoded is None:
                encoded = await get_encoded(namespace, info.name, resource_version)
            if encoded is not None:
                write_bytes(request, 200, rep.content_type, encoded + b"\n")
                return
        obj = await store.get(namespace, info.name, resource_version)
        self.respond(request, 200, obj, store, rep)

    async def do_list(self, request, info, store, namespace):
        rep = self.representation(request)
        options = list_options(request, store)
        plain = rep.media == negotiation.JSON and not rep.target
        metadata = rep.media == negotiation.JSON and rep.target in ("PartialObjectMetadataList",
                                                                    "PartialObjectMetadata")
        list_encoded = getattr(store, "list_encoded", None) if plain or metadata else None    # a resource's Store
        cached = await list_encoded(namespace or None, options) if list_encoded is not None else None
        if cached is not None:
            # JSON from the watch cache: plain, spliced from each object's cached bytes, nothing decoded; as
            # metadata, each object decoded in turn (never all of them at once).
            body = render.encoded_list(store, cached[0], cached[1]) if plain else \
                render.encoded_metadata_list(cached[0], cached[1], rep.target_version)
            write_bytes(request, 200, rep.content_type, body)
            return
        items, list_meta = await store.list(namespace or None, options)
        body = render.encoded_list(store, items, list_meta) if plain else None
        if body is None:
            out = render.render_list(store, items, list_meta, rep, self.context.clock, query(request, "includeObject"))
            body = rep.encode(out)
        write_bytes(request, 200, rep.content_type, body)

    async def do_watch(self, request, info, store, namespace):
        from .watch import serve_watch
        accept = request.getHeader(b"accept")
        rep = negotiation.negotiate_watch(accept.decode("latin-1") if accept else None)
        options = list_options(request, store)
        if info.name:
            # A named watch (the /watch/ path) selects its object; a fieldSelector given beside it may only name
            # the same one, as upstream's ListResource has it.
            from ..machinery import selectors
            given = options.field_selector
            if given is None or given.empty:
                options.field_selector = selectors.parse_field_selector(f"metadata.name={info.name}")
            elif given.exact_match("metadata.name") != info.name:
                raise errors.bad_request("fieldSelector metadata.name doesn't match requested name")
        await serve_watch(self.context, request, store, namespace or None, options, rep)

    # -- writes -------------------------------------------------------------------------
    def body(self, request):
        return read_decoded(request, self.context.max_request_bytes)

    async def do_create(self, request, info, store, namespace):
        refusal = store.strategy.refuse_create()
        if refusal is not None:
            error = errors.method_not_supported(store.qualified, "create")
            error.message = refusal
            raise error
        if info.name:
            raise errors.method_not_supported(store.qualified, "create")
        options = write_options(request)      # before the body is read, as upstream's create handler
        obj = decode_typed(request, store, body_object(self.body(request)), options)
        created = await store.create(namespace, obj, options)
        self.respond(request, 201, created, store)

    async def do_update(self, request, info, store, namespace):
        options = write_options(request)
        obj = decode_typed(request, store, body_object(self.body(request)), options)
        check_update_target(obj, info.name, namespace, store.info.namespaced)
        result, created = await store.update(namespace, info.name, lambda old: json_copy(obj), options,
                                             precondition_uid=(obj.get("metadata") or {}).get("uid") or None)
        self.respond(request, 201 if created else 200, result, store)

    async def do_patch(self, request, info, store, namespace):
        kind = patch_type(request, store)   # a 415 first, then the options, then the body: upstream's order
        options = write_options(request)
        patcher = patch_function(request, self.context, store, read_body(request, self.context.max_request_bytes),
                                 kind)
        applying = isinstance(patcher, ApplyPatcher)

        def apply(old):
            if old is None and not applying:
                raise errors.not_found(store.qualified, info.name)
            new = patched_object(request, store, patcher, old, options)
            if old is None:
                _refuse_uid_on_create(store, info.name, new)
            return new

        result, created = await store.update(namespace, info.name, apply, options, allow_create=applying)
        self.respond(request, 201 if created else 200, result, store)

    async def do_delete(self, request, info, store, namespace):
        options = delete_options(request, read_body(request, self.context.max_request_bytes))
        request_context.add_warning(gcpolicy.delete_warning(store.info, options))
        obj, deleted = await store.delete(namespace, info.name, options)
        if not deleted or store.strategy.return_deleted_object:
            # 202 for an object kept (finalizers, a grace period) when the deprecated orphanDependents=false asked
            # for its dependents to go, as upstream answers it (and only it, for its old clients' sake).
            self.respond(request, 202 if not deleted and options.orphan_dependents is False else 200, obj, store)
            return
        details = {"name": info.name}
        if store.info.group:
            details["group"] = store.info.group
        details["kind"] = store.info.resource
        details["uid"] = obj["metadata"].get("uid", "")
        write_bytes(request, 200, "application/json", codec.encode(errors.success_status(details)))

    async def do_deletecollection(self, request, info, store, namespace):
        # Its ListOptions first (validated, the field selector's labels checked), then its DeleteOptions, as upstream.
        listing = list_options(request, store)
        options = delete_options(request, read_body(request, self.context.max_request_bytes))
        request_context.add_warning(gcpolicy.delete_warning(store.info, options))
        items, list_meta = await store.delete_collection(namespace, listing, options)
        rep = self.representation(request)
        out = render.render_list(store, items, list_meta, rep, self.context.clock)
        write_bytes(request, 200, rep.content_type, rep.encode(out))



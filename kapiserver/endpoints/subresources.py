"""
The subresource dispatcher: one handler for every subresource.  It decodes what
the request carries, hands it to the subresource's REST object in the registry
(kapiserver.registry.subresources: status, scale, approval, ephemeralcontainers,
finalize, binding, eviction, and the connect options), and writes the answer.
The node streams (log, exec, attach, portforward, proxy) are admitted as CONNECT
here and relayed by kapiserver.endpoints.streams; serviceaccounts/token is
answered by kapiserver.auth.tokenrequest.
"""

from __future__ import annotations

from ..auth import context as request_context
from ..auth.tokenrequest import token_request
from ..machinery import codec, errors
from ..machinery.errors import StatusError
from ..machinery.jsoncopy import json_copy
from ..registry.catalog import BUILTIN, ResourceInfo
from ..registry.subresources import rest_for
from ..registry.subresources.binding import bind_pod
from ..registry.subresources.connect import connect_attributes, connect_options
from ..registry.subresources.eviction import evict
from ..machinery import podstreams
from ..registry.subresources.status import finalize
from . import render
from .streams import split_name
from .decoding import body_object, check_update_target, decode_typed, write_options
from .http import query, read_body, write_bytes
from .patching import patch_function, patch_type, patched_object

_STREAMS = ("log", "exec", "attach", "portforward", "proxy")
_CREATED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
# The kinds a created subresource's body is decoded into: (its kind, the versions it is taken in, the first the
# default, as the REST's GroupVersionAcceptor says, and the Go type it is decoded to).
_EVICTION = ("Eviction", ("policy/v1", "policy/v1beta1"), "policy.Eviction")
_BINDING = ("Binding", ("v1",), "core.Binding")
# Where upstream's built-in kinds are registered (pkg/api/legacyscheme).
_LEGACY_SCHEME = "pkg/api/legacyscheme/scheme.go:30"
# The option kinds every group-version registers (metav1.AddToGroupVersion): Go types of package v1.
_META_KINDS = ("CreateOptions", "DeleteOptions", "GetOptions", "ListOptions", "PatchOptions", "UpdateOptions",
               "WatchEvent")


async def handle(handler, request, info, store) -> None:
    sub = store.info.subresource(info.subresource)
    if sub is None:
        raise _no_such_subresource(store, info)
    verb = {"list": "get"}.get(info.verb, info.verb)
    # A proxy relays every method, OPTIONS too (upstream's proxy connecters take GET, POST, PUT, PATCH,
    # DELETE, HEAD and OPTIONS), though discovery lists only the five API verbs.
    if verb not in sub.verbs and not (sub.name == "proxy" and verb == "options"):
        raise errors.method_not_supported(
            errors.GroupResource(store.info.group, f"{store.info.resource}/{sub.name}"), verb)
    namespace = info.namespace if store.info.namespaced else None
    name = sub.name
    registry = handler.context.registry
    rest = rest_for(store, name)
    if rest is not None:
        await _get_or_update(handler, request, info, store, rest, namespace, verb)
    elif name == "finalize":
        options = write_options(request)
        # Decoded into a Namespace as an update's body is (wrong JSON types a 400), as upstream's FinalizeREST.
        body = decode_typed(request, store, body_object(handler.body(request)), options)
        check_update_target(body, info.name, namespace, store.info.namespaced)
        handler.respond(request, 200, await finalize(store, namespace, info.name, body, options), store)
    elif name == "binding":
        options = write_options(request)
        body = _created_object(handler, request, store, namespace, options, _BINDING)
        await bind_pod(registry.store("", "v1", "pods"), namespace, info.name, body, dry_run=options.dry_run)
        write_bytes(request, 201, "application/json", codec.encode(_CREATED))
    elif name == "eviction":
        options = write_options(request)
        body = _created_object(handler, request, store, namespace, options, _EVICTION)
        budgets = registry.lookup("policy", "v1", "poddisruptionbudgets")
        refused = await evict(store, namespace, info.name, body, budgets, dry_run=_requested_dry_run(request))
        write_bytes(request, 201, "application/json", codec.encode(refused or _CREATED))
    elif name in _STREAMS:
        await _stream(handler, request, info, store, namespace)
    elif name == "token":
        token = await token_request(getattr(handler.context, "security", None), registry, namespace, info.name,
                                    handler.body(request))
        write_bytes(request, 201, "application/json", codec.encode(token))
    else:
        raise StatusError(503, "ServiceUnavailable",
                          f"{store.info.resource}/{name} is not available on this server yet")


def _no_such_subresource(store, info) -> StatusError:
    """A subresource the resource does not have: nothing is routed there for a built-in resource (the generic
    404); a custom resource's (a status or scale its CRD does not define) is upstream's crdHandler's NotFound
    for the object itself."""
    if store.builtin:
        return errors.path_not_found()
    return errors.not_found(store.qualified, info.name)


def _requested_dry_run(request) -> list[str]:
    """The request's dryRun values (its CreateOptions'), as given."""
    return [value.decode("utf-8", "surrogateescape") for value in request.args.get(b"dryRun") or []]


def _created_object(handler, request, store, namespace, options, kind) -> dict:
    """A created subresource's body decoded as upstream's create handler decodes it: a missing apiVersion or
    kind is the subresource's own, another kind or version is a decoding error, the fields are typed, and a
    namespace it names must be the request's (EnsureObjectNamespaceMatchesRequestNamespace)."""
    body = body_object(handler.body(request))
    name, versions, go_type = kind
    given_version, given_kind = body.get("apiVersion") or versions[0], body.get("kind") or name
    if isinstance(given_version, str) and isinstance(given_kind, str) and \
            (given_kind != name or given_version not in versions):
        raise errors.bad_request(_undecodable(given_version, given_kind, go_type))
    group, _, version = (given_version if isinstance(given_version, str) else "").rpartition("/")
    body = decode_typed(request, store, body, options, info=ResourceInfo(group, version, "", name, True))
    given_namespace = (body.get("metadata") or {}).get("namespace")
    if given_namespace and namespace and given_namespace != namespace:
        raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the "
                                 "request")
    return body


def _undecodable(api_version: str, kind: str, go_type: str) -> str:
    """transformDecodeError's words for a body of another kind: one the scheme knows fails to convert to the
    subresource's Go type, one it does not know is not registered."""
    group, _, version = api_version.rpartition("/")
    if kind in _META_KINDS and (group, version) in _registered_versions():
        why = f"converting (v1.{kind}) to ({go_type}): unknown conversion"
    elif (group, version, kind) in _registered_kinds():
        why = f"converting ({version}.{kind}) to ({go_type}): unknown conversion"
    else:
        why = f'no kind "{kind}" is registered for version "{api_version}" in scheme "{_LEGACY_SCHEME}"'
    return f'{kind} in version "{version}" cannot be handled as a {go_type.rsplit(".", 1)[1]}: {why}'


def _registered_kinds() -> set:
    """(group, version, kind) of every built-in kind: the resources', their lists' and their subresources'."""
    kinds = set()
    for info in BUILTIN:
        kinds.update({(info.group, info.version, info.kind), (info.group, info.version, info.list_kind)})
        for sub in info.subresources:
            kinds.add((sub.group or info.group if sub.version else info.group, sub.version or info.version,
                       sub.kind))
    return kinds


def _registered_versions() -> set:
    return {(info.group, info.version) for info in BUILTIN}


async def _get_or_update(handler, request, info, store, rest, namespace, verb) -> None:
    """get, update and patch of a subresource read and written as one object (the resource itself, or
    a Scale)."""
    if verb == "get":
        _answer(handler, request, rest, 200, await rest.get(namespace, info.name, query(request, "resourceVersion")),
                store)
        return
    # A patch's type first (a 415 before the options, as upstream's patch handler).
    kind = patch_type(request, store, rest.info) if verb != "update" else ""
    options = write_options(request)
    if verb == "update":
        # Typed like a main-resource update (a Scale as a Scale): wrong JSON types are a 400, not a crash further
        # on, and unknown fields are warned about or refused as fieldValidation says.
        body = decode_typed(request, store, body_object(handler.body(request)), options, info=rest.info)
        if rest.info is None:   # the resource itself (status, ...); a Scale's names are the scale's own checks
            check_update_target(body, info.name, namespace, store.info.namespaced)
        change = lambda current: json_copy(body)
    else:
        patcher = patch_function(request, handler.context, store,
                                 read_body(request, handler.context.max_request_bytes), kind, info=rest.info)
        # The patched object is decoded as an update's body is: typed, its unknown fields warned about or
        # refused under fieldValidation (a custom resource's status patch included); one that does not decode
        # is the patch handler's 422 of the field "patch", as on the resource itself.
        change = lambda current: patched_object(request, store, patcher, current, options, info=rest.info)
    _answer(handler, request, rest, 200, await rest.update(namespace, info.name, change, options), store)


def _answer(handler, request, rest, code: int, obj: dict, store) -> None:
    if rest.info is None:
        handler.respond(request, code, obj, store)
    elif rest.subresource == "scale":
        _answer_scale(handler, request, rest, code, obj, store)
    else:
        write_bytes(request, code, "application/json", codec.encode(obj))


def _answer_scale(handler, request, rest, code: int, scale: dict, store) -> None:
    """A Scale in the representation asked for: a built-in resource's ScaleREST converts it to a Table with the
    scale printer (kubectl get deploy/d --subresource=scale: DESIRED, AVAILABLE); a custom resource's has no table
    convertor of its own, so upstream's default one (NAME, CREATED AT)."""
    from ..registry import printers
    rep = handler.representation(request)
    out = scale
    if rep.target == "Table":
        printer = printers.DEFAULT if rest.custom else printers.printer_for(store.info.group, store.info.resource,
                                                                            "scale")
        out = printers.table(printer, [scale], render.now(handler.context.clock),
                             query(request, "includeObject") or "Metadata",
                             {"resourceVersion": (scale.get("metadata") or {}).get("resourceVersion", "")},
                             group_version=f"meta.k8s.io/{rep.target_version}")
    elif rep.target:
        out = render.partial_metadata(scale, rep.target_version)
    write_bytes(request, code, rep.content_type, rep.encode(out))


async def _stream(handler, request, info, store, namespace) -> None:
    options = connect_options(store.info.resource, info.subresource, _query(request), info.rest,
                              request.path.endswith(b"/"))
    if options is not None:
        # Admitted (both phases) as upstream's connect handler does, before anything is connected.
        attributes = connect_attributes(store.info, info.subresource, namespace, info.name, options,
                                        request_context.current_user(), request_context.current_record())
        await handler.context.registry.admit(attributes)
        await handler.context.registry.validate(attributes)
    elif store.info.resource == "pods" and info.subresource == "log":
        podstreams.log_options(info.name, _query(request))   # a 400 or 422 before the pod is read, as LogREST.Get
    # A proxy names name, name:port or scheme:name:port (upstream's SplitSchemeNamePort).
    pod = await store.get(namespace, split_name(info.name)[1] if info.subresource == "proxy" else info.name)
    if store.info.resource == "pods" and not (pod.get("spec") or {}).get("nodeName"):
        if podstreams.unscheduled(pod, info.subresource, _query(request)):
            request.setResponseCode(204)   # a log with nowhere to read it from: no content, as upstream
            request.finish()
            return
    streams = handler.context.streams
    if streams is None:
        raise StatusError(503, "ServiceUnavailable",
                          f"no kubelet client is configured: {store.info.resource}/{info.subresource} "
                          f"cannot reach the node")
    await streams.handle(request, info, store, pod)


def _query(request) -> dict[str, list[str]]:
    return {key.decode("utf-8", "replace"): [v.decode("utf-8", "replace") for v in values]
            for key, values in (request.args or {}).items()}

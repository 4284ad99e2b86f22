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
from ..registry.subresources import rest_for
from ..registry.subresources.binding import bind_pod
from ..registry.subresources.connect import connect_attributes, connect_options
from ..registry.subresources.eviction import evict
from ..registry.subresources.status import finalize
from .decoding import body_object, decode_typed, write_options
from .http import query, read_body, write_bytes
from .patching import patch_function, patch_type

_STREAMS = ("log", "exec", "attach", "portforward", "proxy")
_CREATED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


async def handle(handler, request, info, store) -> None:
    sub = store.info.subresource(info.subresource)
    if sub is None:
        raise errors.path_not_found()
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
        body = body_object(handler.body(request))
        options = write_options(request)
        handler.respond(request, 200, await finalize(store, namespace, info.name, body, options), store)
    elif name == "binding":
        await bind_pod(registry.store("", "v1", "pods"), namespace, info.name, handler.body(request))
        write_bytes(request, 201, "application/json", codec.encode(_CREATED))
    elif name == "eviction":
        await evict(store, namespace, info.name, handler.body(request),
                    registry.lookup("policy", "v1", "poddisruptionbudgets"))
        write_bytes(request, 201, "application/json", codec.encode(_CREATED))
    elif name in _STREAMS:
        await _stream(handler, request, info, store, namespace)
    elif name == "token":
        token = await token_request(getattr(handler.context, "security", None), registry, namespace, info.name,
                                    handler.body(request))
        write_bytes(request, 201, "application/json", codec.encode(token))
    else:
        raise StatusError(503, "ServiceUnavailable",
                          f"{store.info.resource}/{name} is not available on this server yet")


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
        body = body_object(handler.body(request))
        if rest.info is None:
            # Typed like a main-resource update: wrong JSON types are a 400, not a crash further on.
            body = decode_typed(request, store, body, options)
        change = lambda current: json_copy(body)
    else:
        patcher = patch_function(request, handler.context, store,
                                 read_body(request, handler.context.max_request_bytes), kind, info=rest.info)
        # The patched object is decoded as an update's body is: typed, its unknown fields warned about or
        # refused under fieldValidation (a custom resource's status patch included).
        change = patcher if rest.info is not None else \
            (lambda current: decode_typed(request, store, patcher(current), options))
    _answer(handler, request, rest, 200, await rest.update(namespace, info.name, change, options), store)


def _answer(handler, request, rest, code: int, obj: dict, store) -> None:
    if rest.info is None:
        handler.respond(request, code, obj, store)
    else:
        write_bytes(request, code, "application/json", codec.encode(obj))


async def _stream(handler, request, info, store, namespace) -> None:
    options = connect_options(store.info.resource, info.subresource, _query(request), info.rest,
                              request.path.endswith(b"/"))
    if options is not None:
        # Admitted (both phases) as upstream's connect handler does, before anything is connected.
        attributes = connect_attributes(store.info, info.subresource, namespace, info.name, options,
                                        request_context.current_user(), request_context.current_record())
        await handler.context.registry.admit(attributes)
        await handler.context.registry.validate(attributes)
    pod = await store.get(namespace, info.name.split(":")[0])
    if store.info.resource == "pods" and not (pod.get("spec") or {}).get("nodeName"):
        raise errors.bad_request(f"pod {info.name} does not have a host assigned")
    streams = handler.context.streams
    if streams is None:
        raise StatusError(503, "ServiceUnavailable",
                          f"no kubelet client is configured: {store.info.resource}/{info.subresource} "
                          f"cannot reach the node")
    await streams.handle(request, info, store, pod)


def _query(request) -> dict[str, list[str]]:
    return {key.decode("utf-8", "replace"): [v.decode("utf-8", "replace") for v in values]
            for key, values in (request.args or {}).items()}

"""
Subresources: status, scale, binding, eviction, finalize, approval,
ephemeralcontainers, and the node streams (log, exec, attach, portforward,
proxy, token) that need a kubelet or a token signer.
"""

from __future__ import annotations

import copy

from ..machinery import codec, errors, meta
from ..machinery.errors import StatusError
from ..registry.options import DeleteOptions
from .http import read_body, write_bytes

_STREAMS = ("log", "exec", "attach", "portforward", "proxy")


async def handle(handler, request, info, store) -> None:
    sub = store.info.subresource(info.subresource)
    if sub is None:
        raise StatusError(404, "NotFound", "the server could not find the requested resource", {})
    verb = {"list": "get"}.get(info.verb, info.verb)
    if verb not in sub.verbs:
        raise errors.method_not_supported(
            errors.GroupResource(store.info.group, f"{store.info.resource}/{sub.name}"), verb)
    namespace = info.namespace if store.info.namespaced else None
    name = sub.name
    if name in ("status", "approval", "ephemeralcontainers"):
        await _object_subresource(handler, request, info, store, namespace, verb)
    elif name == "finalize":
        await _finalize(handler, request, info, store, namespace)
    elif name == "scale":
        await _scale(handler, request, info, store, namespace, verb)
    elif name == "binding":
        body = handler.body(request)
        await bind_pod(handler.context.registry.store("", "v1", "pods"), namespace, info.name, body)
        write_bytes(request, 201, "application/json", codec.encode(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}))
    elif name == "eviction":
        await _evict(handler, request, info, store, namespace)
    elif name in _STREAMS:
        await _stream(handler, request, info, store, namespace)
    elif name == "token":
        from ..auth.tokenrequest import token_request
        await token_request(handler, request, info, store, namespace)
    else:
        raise StatusError(503, "ServiceUnavailable",
                          f"{store.info.resource}/{name} is not available on this server yet")


async def _object_subresource(handler, request, info, store, namespace, verb):
    """status-like subresources: the whole object in and out, one part of it written."""
    from .api import decode_typed, patch_function, write_options, _check_body_object
    if verb == "get":
        handler.respond(request, 200, await store.get(namespace, info.name), store)
        return
    options = write_options(request)
    if verb == "update":
        # Typed like a main-resource update: wrong JSON types are a 400, not a crash further on.
        body = decode_typed(request, store, _check_body_object(handler.body(request)), options)
        update = lambda old: copy.deepcopy(body)
    else:
        patcher = patch_function(request, handler.context, store, read_body(request, handler.context.max_request_bytes))

        def update(old):
            if old is None:
                raise errors.not_found(store.qualified, info.name)
            return patcher(old)
    if info.subresource == "status":
        result, _ = await store.update(namespace, info.name, update, options, subresource="status",
                                       allow_create=False)
    else:

        def only(old):
            if old is None:
                raise errors.not_found(store.qualified, info.name)
            new = update(old)
            if hasattr(new, "__await__"):
                raise TypeError("update functions are synchronous here")
            merged = copy.deepcopy(old)
            if info.subresource == "approval":
                merged.setdefault("status", {})["conditions"] = (new.get("status") or {}).get("conditions")
            else:
                merged.setdefault("spec", {})["ephemeralContainers"] = \
                    (new.get("spec") or {}).get("ephemeralContainers")
            merged["metadata"]["resourceVersion"] = new.get("metadata", {}).get("resourceVersion",
                                                                                old["metadata"]["resourceVersion"])
            return merged
        result, _ = await store.update(namespace, info.name, only, options, subresource=info.subresource,
                                       allow_create=False)
    handler.respond(request, 200, result, store)


async def _finalize(handler, request, info, store, namespace):
    from .api import write_options, _check_body_object
    body = _check_body_object(handler.body(request))
    options = write_options(request)

    def update(old):
        if old is None:
            raise errors.not_found(store.qualified, info.name)
        new = copy.deepcopy(body)
        new.setdefault("metadata", {}).setdefault("resourceVersion", old["metadata"]["resourceVersion"])
        return new
    result, _ = await store.update(namespace, info.name, update, options, subresource="finalize",
                                   allow_create=False)
    handler.respond(request, 200, result, store)


def _selector_string(selector) -> str:
    from ..machinery import selectors
    if not selector:
        return ""
    if isinstance(selector, dict) and ("matchLabels" in selector or "matchExpressions" in selector):
        return str(selectors.label_selector_from_dict(selector))
    if isinstance(selector, dict):
        return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    return ""


_BUILTIN_SCALE = {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}


def _path(text: str) -> list[str]:
    return [p for p in (text or "").split(".") if p]


def _get_path(obj: dict, text: str):
    if not _path(text):
        return None
    for part in _path(text):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _set_path(obj: dict, text: str, value) -> None:
    parts = _path(text)
    for part in parts[:-1]:
        obj = obj.setdefault(part, {})
    obj[parts[-1]] = value


def scale_paths(store) -> dict:
    """Where replicas live: a CRD's scale subresource says; built-ins use spec/status.replicas."""
    return getattr(store.strategy, "scale_paths", None) or _BUILTIN_SCALE


def to_scale(obj: dict, paths: dict = _BUILTIN_SCALE) -> dict:
    meta_ = obj["metadata"]
    scale_meta = {k: meta_[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                  if k in meta_}
    out_status = {"replicas": _get_path(obj, paths["statusReplicasPath"]) or 0}
    if paths is _BUILTIN_SCALE:
        selector = _selector_string((obj.get("spec") or {}).get("selector"))
    else:
        selector = _get_path(obj, paths.get("labelSelectorPath", "")) or ""
    if selector:
        out_status["selector"] = selector
    replicas = _get_path(obj, paths["specReplicasPath"])
    return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": scale_meta,
            "spec": {"replicas": replicas} if replicas else {}, "status": out_status}


async def _scale(handler, request, info, store, namespace, verb):
    from .api import write_options, _check_body_object, patch_function
    from ..registry.catalog import ResourceInfo
    scale_info = ResourceInfo("autoscaling", "v1", "scale", "Scale", True)
    paths = scale_paths(store)
    if verb == "get":
        scale = to_scale(await store.get(namespace, info.name), paths)
        write_bytes(request, 200, "application/json", codec.encode(scale))
        return
    options = write_options(request)
    if verb == "update":
        body = _check_body_object(handler.body(request))
        change = lambda scale: body
    else:
        patcher = patch_function(request, handler.context, store,
                                 read_body(request, handler.context.max_request_bytes), info=scale_info)
        change = patcher

    def update(old):
        if old is None:
            raise errors.not_found(store.qualified, info.name)
        scale = change(to_scale(old, paths))
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid_object("autoscaling", "Scale", info.name, [
                errors.invalid("spec.replicas", replicas, "must be greater than or equal to 0")])
        new = copy.deepcopy(old)
        _set_path(new, paths["specReplicasPath"], replicas)
        rv = (scale.get("metadata") or {}).get("resourceVersion")
        if rv:
            new["metadata"]["resourceVersion"] = rv
        return new
    result, _ = await store.update(namespace, info.name, update, options, subresource="scale",
                                   allow_create=False)
    write_bytes(request, 200, "application/json", codec.encode(to_scale(result, paths)))


async def bind_pod(pods, namespace: str, name: str, binding: dict) -> dict:
    """Set a pod's node from a Binding, once (upstream's pod binding REST)."""
    if not isinstance(binding, dict):
        raise errors.bad_request("the body of the request was not a Binding")
    target = binding.get("target") or {}
    node = target.get("name")
    if (binding.get("metadata") or {}).get("name", name) != name:
        raise errors.bad_request("the name of the binding does not match the name on the URL")
    if not node:
        raise errors.invalid_object("", "Binding", name, [errors.required("target.name")])

    def update(old):
        if old is None:
            raise errors.not_found(pods.qualified, name)
        if old["metadata"].get("deletionTimestamp"):
            raise errors.conflict(pods.qualified, name, f"pod {name} is being deleted, cannot be assigned to a host")
        current = (old.get("spec") or {}).get("nodeName")
        if current:
            raise errors.conflict(pods.qualified, name, f"pod {name} is already assigned to node \"{current}\"")
        old["spec"]["nodeName"] = node
        annotations = (binding.get("metadata") or {}).get("annotations")
        if annotations:
            old["metadata"].setdefault("annotations", {}).update(annotations)
        conditions = old.setdefault("status", {}).setdefault("conditions", [])
        conditions.append({"type": "PodScheduled", "status": "True",
                           "lastProbeTime": None,
                           "lastTransitionTime": meta.rfc3339(pods.now())})
        return old
    result, _ = await pods.update(namespace, name, update, subresource="binding", allow_create=False)
    return result


async def _evict(handler, request, info, store, namespace):
    body = handler.body(request)
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request was not an Eviction")
    if (body.get("metadata") or {}).get("name", info.name) != info.name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    options = DeleteOptions()
    delete_options = body.get("deleteOptions") or {}
    if delete_options.get("gracePeriodSeconds") is not None:
        options.grace_period_seconds = int(delete_options["gracePeriodSeconds"])
    await store.delete(namespace, info.name, options)
    write_bytes(request, 201, "application/json", codec.encode(
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}))


async def _stream(handler, request, info, store, namespace):
    pod = await store.get(namespace, info.name.split(":")[0])
    if store.info.resource == "pods" and not (pod.get("spec") or {}).get("nodeName"):
        raise errors.bad_request(f"pod {info.name} does not have a host assigned")
    streams = handler.context.streams
    if streams is None:
        raise StatusError(503, "ServiceUnavailable",
                          f"no kubelet client is configured: {store.info.resource}/{info.subresource} "
                          f"cannot reach the node")
    await streams.handle(request, info, store, pod)

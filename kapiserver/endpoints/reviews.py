"""
Resources that store nothing: the access and token reviews (answered by
kapiserver.auth.reviews for the request's user), core/v1 bindings (the
registry's BindingREST), and componentstatuses.
"""

from __future__ import annotations

import copy

from ..auth import context as request_context
from ..auth.context import current_user
from ..auth.reviews import review_status
from ..machinery import errors
from ..registry.subresources.binding import bind_pod
from . import negotiation, render
from .decoding import write_options
from .http import query, write_bytes

VIRTUAL = {
    ("authentication.k8s.io", "tokenreviews"), ("authentication.k8s.io", "selfsubjectreviews"),
    ("authorization.k8s.io", "subjectaccessreviews"), ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "localsubjectaccessreviews"), ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("", "bindings"), ("", "componentstatuses"),
}



def is_virtual(info) -> bool:
    return (info.group, info.resource) in VIRTUAL


async def handle(handler, request, info, catalog_info) -> None:
    key = (catalog_info.group, catalog_info.resource)
    if catalog_info.deprecation_warning:
        request_context.add_warning(catalog_info.deprecation_warning)
    if key == ("", "componentstatuses"):
        await _component_statuses(handler, request, info)
        return
    if info.verb != "create" or info.subresource:
        raise errors.method_not_supported(errors.GroupResource(catalog_info.group, catalog_info.resource),
                                          info.verb)
    # Nothing stored, nothing to print: as upstream (no TableConvertor), a Table is not acceptable.
    accept = request.getHeader(b"accept")
    rep = negotiation.negotiate_output(accept.decode("latin-1") if accept else None, allow_targets=False)
    options = write_options(request)    # the create's options, validated before the body is read, as upstream's
    body = handler.body(request)
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request was not an object")
    # Values of the wrong JSON type are a 400 and nulls mean absent, as Go's typed decoding has it.
    from ..machinery import schema, typed
    node = schema.node_for(catalog_info.group, catalog_info.version, catalog_info.kind)
    if node is not None:
        body, _ = typed.decode(body, node, catalog_info.kind, catalog_info.version)
    if key == ("", "bindings"):
        name = (body.get("metadata") or {}).get("name", "")
        await bind_pod(handler.context.registry.store("", "v1", "pods"), info.namespace, name, body,
                       dry_run=options.dry_run)
        write_bytes(request, 201, rep.content_type, rep.encode(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}))
        return
    out = copy.deepcopy(body)
    out["apiVersion"], out["kind"] = catalog_info.api_version, catalog_info.kind
    out.setdefault("metadata", {})
    out.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    out["status"] = await review_status(getattr(handler.context, "security", None), catalog_info,
                                        out.get("spec") or {}, current_user(), info.namespace)
    write_bytes(request, 201, rep.content_type, rep.encode(out))


# What upstream's componentstatus storage probes besides etcd (kube-apiserver's serversToValidate): kube-scheduler's
# and kube-controller-manager's secure healthz at their default ports on 127.0.0.1, certificates not verified.
HEALTHZ_COMPONENTS = {"scheduler": 10259, "controller-manager": 10257}
# Upstream gives a probe 20 seconds; a component status is asked by hand, so a port that never answers is
# reported sooner.
PROBE_TIMEOUT = 5.0


async def _healthz_condition(reactor, port: int) -> dict:
    """The Healthy condition of a component whose healthz answers at ``port``, as upstream's HTTP prober words
    it: its body as the message when it answers 200-399, else "HTTP probe failed with statuscode: N" or the
    client's error (Go's: 'Get "https://127.0.0.1:10259/healthz": dial tcp 127.0.0.1:10259: connect: connection
    refused'), as the message of a False condition (the probe failed; no error)."""
    from ..httpprobe import http_get
    ok, output = await http_get(reactor, {"scheme": "HTTPS", "path": "/healthz"}, "127.0.0.1", port, PROBE_TIMEOUT)
    return {"type": "Healthy", "status": "True" if ok else "False", "message": output}


async def _etcd_condition(storage) -> dict:
    try:
        await storage.check_health()
        return {"type": "Healthy", "status": "True", "message": "ok"}
    except Exception as e:  # the health check's failure is the answer, not an error
        return {"type": "Healthy", "status": "False", "error": str(e)}


async def _component_status(handler, name: str) -> dict:
    if name == "etcd-0":
        condition = await _etcd_condition(handler.context.registry.storage)
    else:
        condition = await _healthz_condition(handler.context.reactor, HEALTHZ_COMPONENTS[name])
    return {"kind": "ComponentStatus", "apiVersion": "v1", "metadata": {"name": name}, "conditions": [condition]}


async def _component_statuses(handler, request, info) -> None:
    """componentstatuses as upstream's REST serves them: kube-scheduler, kube-controller-manager (their healthz
    probed) and etcd, each probed when asked (all at once for a list)."""
    from twisted.internet import defer
    if info.verb not in ("get", "list"):
        raise errors.method_not_supported(errors.GroupResource("", "componentstatuses"), info.verb)
    names = list(HEALTHZ_COMPONENTS) + ["etcd-0"]
    if info.verb == "get":
        if info.name not in names:
            # Upstream's Get answers a plain error: a 500 without a reason.
            raise errors.StatusError(500, "", f"Component not found: {info.name}")
        names = [info.name]
    items = await defer.gatherResults([defer.Deferred.fromCoroutine(_component_status(handler, name))
                                       for name in names], consumeErrors=True)
    accept = request.getHeader(b"accept")
    rep = negotiation.negotiate_output(accept.decode("latin-1") if accept else None)
    if rep.target == "Table":
        # Upstream's componentstatuses storage has the printers' table convertor (kubectl get cs: STATUS, MESSAGE).
        from ..registry import printers
        body = printers.table(printers.printer_for("", "componentstatuses"), items, render.now(handler.context.clock),
                              query(request, "includeObject") or "Metadata", {},
                              group_version=f"meta.k8s.io/{rep.target_version}")
    elif info.verb == "get":
        body = render.partial_metadata(items[0], rep.target_version) if rep.target else items[0]
    elif rep.target:
        body = {"kind": "PartialObjectMetadataList", "apiVersion": f"meta.k8s.io/{rep.target_version}",
                "metadata": {}, "items": [render.partial_metadata(item, rep.target_version) for item in items]}
    else:
        body = {"kind": "ComponentStatusList", "apiVersion": "v1", "metadata": {},
                "items": [{k: v for k, v in item.items() if k not in ("kind", "apiVersion")} for item in items]}
    write_bytes(request, 200, rep.content_type, rep.encode(body))

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


async def _component_statuses(handler, request, info) -> None:
    if info.verb not in ("get", "list"):
        raise errors.method_not_supported(errors.GroupResource("", "componentstatuses"), info.verb)
    storage = handler.context.registry.storage
    try:
        await storage.check_health()
        condition = {"type": "Healthy", "status": "True", "message": "ok"}
    except Exception as e:  # the health check's failure is the answer, not an error
        condition = {"type": "Healthy", "status": "False", "error": str(e)}
    item = {"kind": "ComponentStatus", "apiVersion": "v1",
            "metadata": {"name": "etcd-0"}, "conditions": [condition]}
    if info.verb == "get" and info.name != "etcd-0":
        raise errors.not_found(errors.GroupResource("", "componentstatuses"), info.name)
    accept = request.getHeader(b"accept")
    rep = negotiation.negotiate_output(accept.decode("latin-1") if accept else None)
    if rep.target == "Table":
        # Upstream's componentstatuses storage has the printers' table convertor (kubectl get cs: STATUS, MESSAGE).
        from ..registry import printers
        body = printers.table(printers.printer_for("", "componentstatuses"), [item], render.now(handler.context.clock),
                              query(request, "includeObject") or "Metadata", {},
                              group_version=f"meta.k8s.io/{rep.target_version}")
    elif info.verb == "get":
        body = render.partial_metadata(item, rep.target_version) if rep.target else item
    elif rep.target:
        body = {"kind": "PartialObjectMetadataList", "apiVersion": f"meta.k8s.io/{rep.target_version}",
                "metadata": {}, "items": [render.partial_metadata(item, rep.target_version)]}
    else:
        body = {"kind": "ComponentStatusList", "apiVersion": "v1", "metadata": {},
                "items": [{k: v for k, v in item.items() if k not in ("kind", "apiVersion")}]}
    write_bytes(request, 200, rep.content_type, rep.encode(body))

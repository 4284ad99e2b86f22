"""
Resources that store nothing: the access and token reviews (answered by the
authorizer and authenticator: AlwaysAllow and the insecure port's user until
the security work lands), core/v1 bindings, and componentstatuses.
"""

from __future__ import annotations

import copy

from ..machinery import codec, errors, meta
from .http import write_bytes

VIRTUAL = {
    ("authentication.k8s.io", "tokenreviews"), ("authentication.k8s.io", "selfsubjectreviews"),
    ("authorization.k8s.io", "subjectaccessreviews"), ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "localsubjectaccessreviews"), ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("", "bindings"), ("", "componentstatuses"),
}

# Who a request on the insecure port is, as upstream's insecure serving said.
INSECURE_USER = {"username": "system:unsecured", "groups": ["system:masters", "system:authenticated"]}


def is_virtual(info) -> bool:
    return (info.group, info.resource) in VIRTUAL


async def handle(handler, request, info, catalog_info) -> None:
    key = (catalog_info.group, catalog_info.resource)
    if key == ("", "componentstatuses"):
        await _component_statuses(handler, request, info)
        return
    if info.verb != "create" or info.subresource:
        raise errors.method_not_supported(errors.GroupResource(catalog_info.group, catalog_info.resource),
                                          info.verb)
    body = handler.body(request)
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request was not an object")
    if key == ("", "bindings"):
        from .subresources import bind_pod
        name = (body.get("metadata") or {}).get("name", "")
        await bind_pod(handler.context.registry.store("", "v1", "pods"), info.namespace, name, body)
        write_bytes(request, 201, "application/json", codec.encode(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}))
        return
    out = copy.deepcopy(body)
    out["apiVersion"], out["kind"] = catalog_info.api_version, catalog_info.kind
    out.setdefault("metadata", {})
    out.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    spec = out.get("spec") or {}
    if key == ("authentication.k8s.io", "selfsubjectreviews"):
        out["status"] = {"userInfo": copy.deepcopy(INSECURE_USER)}
    elif key == ("authentication.k8s.io", "tokenreviews"):
        if not spec.get("token"):
            raise errors.invalid_object("authentication.k8s.io", "TokenReview", "",
                                        [errors.required("spec.token")])
        # No token authenticator is configured: no token is valid.
        out["status"] = {"user": {}}
    elif key == ("authorization.k8s.io", "selfsubjectrulesreviews"):
        out["status"] = {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                         "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                         "incomplete": False}
    else:
        if not spec.get("resourceAttributes") and not spec.get("nonResourceAttributes"):
            raise errors.invalid_object(catalog_info.group, catalog_info.kind, "", [errors.invalid(
                "spec.resourceAttributes", None, "exactly one of nonResourceAttributes or resourceAttributes "
                "must be specified")])
        if key == ("authorization.k8s.io", "subjectaccessreviews") and not spec.get("user") \
                and not spec.get("groups"):
            raise errors.invalid_object(catalog_info.group, catalog_info.kind, "", [errors.invalid(
                "spec.user", "", "at least one of user or group must be specified")])
        out["status"] = {"allowed": True, "reason": "AlwaysAllow"}
    write_bytes(request, 201, "application/json", codec.encode(out))


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
    if info.verb == "get":
        if info.name != "etcd-0":
            raise errors.not_found(errors.GroupResource("", "componentstatuses"), info.name)
        write_bytes(request, 200, "application/json", codec.encode(item))
        return
    body = {"kind": "ComponentStatusList", "apiVersion": "v1", "metadata": {},
            "items": [{k: v for k, v in item.items() if k not in ("kind", "apiVersion")}]}
    write_bytes(request, 200, "application/json", codec.encode(body))

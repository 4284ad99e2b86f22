"""
Resources that store nothing: the access and token reviews (answered by the
configured authorizer and authenticator, for the request's user), core/v1
bindings, and componentstatuses.
"""

from __future__ import annotations

import copy

from ..auth.authz import ALLOW, DENY, Attributes, AlwaysAllow
from ..auth.context import current_user
from ..auth.user import UserInfo
from ..machinery import codec, errors
from ..registry.subresources.binding import bind_pod
from .http import write_bytes

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
    if key == ("", "componentstatuses"):
        await _component_statuses(handler, request, info)
        return
    if info.verb != "create" or info.subresource:
        raise errors.method_not_supported(errors.GroupResource(catalog_info.group, catalog_info.resource),
                                          info.verb)
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
        await bind_pod(handler.context.registry.store("", "v1", "pods"), info.namespace, name, body)
        write_bytes(request, 201, "application/json", codec.encode(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}))
        return
    out = copy.deepcopy(body)
    out["apiVersion"], out["kind"] = catalog_info.api_version, catalog_info.kind
    out.setdefault("metadata", {})
    out.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    spec = out.get("spec") or {}
    security = getattr(handler.context, "security", None)
    user = current_user()
    if key == ("authentication.k8s.io", "selfsubjectreviews"):
        out["status"] = {"userInfo": user.to_api()}
    elif key == ("authentication.k8s.io", "tokenreviews"):
        if not spec.get("token"):
            raise errors.invalid_object("authentication.k8s.io", "TokenReview", "",
                                        [errors.required("spec.token")])
        out["status"] = await _token_review(security, spec)
    elif key == ("authorization.k8s.io", "selfsubjectrulesreviews"):
        out["status"] = await _rules_review(security, user, spec.get("namespace") or "")
    else:
        if not spec.get("resourceAttributes") and not spec.get("nonResourceAttributes"):
            raise errors.invalid_object(catalog_info.group, catalog_info.kind, "", [errors.invalid(
                "spec.resourceAttributes", None, "exactly one of nonResourceAttributes or resourceAttributes "
                "must be specified")])
        if key == ("authorization.k8s.io", "subjectaccessreviews") and not spec.get("user") \
                and not spec.get("groups"):
            raise errors.invalid_object(catalog_info.group, catalog_info.kind, "", [errors.invalid(
                "spec.user", "", "at least one of user or group must be specified")])
        if key == ("authorization.k8s.io", "localsubjectaccessreviews"):
            namespace = (spec.get("resourceAttributes") or {}).get("namespace", "")
            if spec.get("resourceAttributes") and namespace != info.namespace:
                raise errors.invalid_object(catalog_info.group, catalog_info.kind, "", [errors.invalid(
                    "spec.resourceAttributes.namespace", namespace, "must match metadata.namespace")])
        if key == ("authorization.k8s.io", "selfsubjectaccessreviews"):
            subject = user
        else:
            subject = UserInfo(spec.get("user", "") or "", spec.get("uid", "") or "", list(spec.get("groups") or []),
                               {k: list(v) for k, v in (spec.get("extra") or {}).items()})
        out["status"] = await _access_review(security, subject, spec)
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


def _authorizer(security):
    # With no secure port there is no authorizer: everything is allowed, as on the insecure port.
    return security.authorizer if security is not None else AlwaysAllow()


async def _access_review(security, user: UserInfo, spec: dict) -> dict:
    resource = spec.get("resourceAttributes")
    if resource:
        attributes = Attributes(user, resource.get("verb", "") or "", True, resource.get("namespace", "") or "",
                                resource.get("group", "") or "", resource.get("version", "") or "",
                                resource.get("resource", "") or "", resource.get("subresource", "") or "",
                                resource.get("name", "") or "")
    else:
        other = spec.get("nonResourceAttributes") or {}
        attributes = Attributes(user, other.get("verb", "") or "", False, path=other.get("path", "") or "")
    decision = await _authorizer(security).authorize(attributes)
    status: dict = {"allowed": decision.decision == ALLOW}
    if decision.decision == DENY:
        status["denied"] = True
    if decision.reason:
        status["reason"] = decision.reason
    return status


async def _rules_review(security, user: UserInfo, namespace: str) -> dict:
    resource, non_resource, incomplete = await _authorizer(security).rules_for(user, namespace)
    return {"resourceRules": resource, "nonResourceRules": non_resource, "incomplete": incomplete}


async def _token_review(security, spec: dict) -> dict:
    if security is None:
        return {"user": {}}
    user = await security.authenticator.authenticate_token(spec["token"])
    if user is None:
        return {"user": {}, "error": "[invalid bearer token, token lookup failed]"}
    from ..auth.user import with_authenticated
    status = {"authenticated": True, "user": with_authenticated(user).to_api()}
    audiences = spec.get("audiences") or security.audiences
    if audiences:
        status["audiences"] = list(audiences)
    return status

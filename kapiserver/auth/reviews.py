"""
The reviews' answers (upstream's TokenReview, SubjectAccessReview, SelfSubjectAccessReview,
LocalSubjectAccessReview, SelfSubjectRulesReview and SelfSubjectReview REST): each review's
status, decided by the configured authenticator and authorizer for the request's user.
The endpoints decode the review and write it back with this status.
"""

from __future__ import annotations

from typing import Optional

from ..machinery import errors
from .authz import ALLOW, DENY, Attributes, AlwaysAllow, aggregate_message
from .user import UserInfo, with_authenticated

_AUTHENTICATION = "authentication.k8s.io"
_AUTHORIZATION = "authorization.k8s.io"


async def review_status(security, info, spec: dict, user: UserInfo, namespace: str) -> dict:
    """The status of one review of ``info``'s kind (a catalog ResourceInfo) asking ``spec``, made by
    ``user`` in ``namespace`` (the URL's, for LocalSubjectAccessReviews); ``security`` is the server's
    Security, None without a secure port.  Raises the Invalid error of a malformed spec."""
    key = (info.group, info.resource)
    if key == (_AUTHENTICATION, "selfsubjectreviews"):
        return {"userInfo": user.to_api()}
    if key == (_AUTHENTICATION, "tokenreviews"):
        if not spec.get("token"):
            raise errors.invalid_object(_AUTHENTICATION, "TokenReview", "", [errors.required("spec.token")])
        return await token_review(security, spec)
    if key == (_AUTHORIZATION, "selfsubjectrulesreviews"):
        return await rules_review(security, user, spec.get("namespace") or "")
    if not spec.get("resourceAttributes") and not spec.get("nonResourceAttributes"):
        raise errors.invalid_object(info.group, info.kind, "", [errors.invalid(
            "spec.resourceAttributes", None, "exactly one of nonResourceAttributes or resourceAttributes "
            "must be specified")])
    if key == (_AUTHORIZATION, "subjectaccessreviews") and not spec.get("user") and not spec.get("groups"):
        raise errors.invalid_object(info.group, info.kind, "", [errors.invalid(
            "spec.user", "", "at least one of user or group must be specified")])
    if key == (_AUTHORIZATION, "localsubjectaccessreviews"):
        resource_namespace = (spec.get("resourceAttributes") or {}).get("namespace", "")
        if spec.get("resourceAttributes") and resource_namespace != namespace:
            raise errors.invalid_object(info.group, info.kind, "", [errors.invalid(
                "spec.resourceAttributes.namespace", resource_namespace, "must match metadata.namespace")])
    if key == (_AUTHORIZATION, "selfsubjectaccessreviews"):
        subject = user
    else:
        subject = UserInfo(spec.get("user", "") or "", spec.get("uid", "") or "", list(spec.get("groups") or []),
                           {k: list(v) for k, v in (spec.get("extra") or {}).items()})
    return await access_review(security, subject, spec)


def _authorizer(security):
    # With no secure port there is no authorizer: everything is allowed, as on the insecure port.
    return security.authorizer if security is not None else AlwaysAllow()


async def access_review(security, user: UserInfo, spec: dict) -> dict:
    """A SubjectAccessReview's status: may ``user`` do what ``spec`` names?"""
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


async def rules_review(security, user: UserInfo, namespace: str) -> dict:
    """A SelfSubjectRulesReview's status: what ``user`` may do in ``namespace``."""
    resource, non_resource, incomplete, *error = await _authorizer(security).rules_for(user, namespace)
    status = {"resourceRules": resource, "nonResourceRules": non_resource, "incomplete": incomplete}
    if error and error[0]:
        # The rule resolvers' errors (roles bound but missing, modes that cannot list rules), as upstream.
        status["evaluationError"] = error[0] if isinstance(error[0], str) else aggregate_message(error[0])
    return status


async def token_review(security: Optional[object], spec: dict) -> dict:
    """A TokenReview's status: who ``spec.token`` authenticates, if anyone."""
    if security is None:
        return {"user": {}}
    user = await security.authenticator.authenticate_token(spec["token"])
    if user is None:
        return {"user": {}, "error": "[invalid bearer token, token lookup failed]"}
    status = {"authenticated": True, "user": with_authenticated(user).to_api()}
    audiences = spec.get("audiences") or security.audiences
    if audiences:
        status["audiences"] = list(audiences)
    return status

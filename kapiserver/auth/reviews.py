"""
The reviews' answers (upstream's TokenReview, SubjectAccessReview, SelfSubjectAccessReview,
LocalSubjectAccessReview, SelfSubjectRulesReview and SelfSubjectReview REST): each review's
status, decided by the configured authenticator and authorizer for the request's user.
The endpoints decode the review and write it back with this status.
"""

from __future__ import annotations

from typing import Optional

from ..machinery import errors, gojson
from .authz import ALLOW, DENY, Attributes, AlwaysAllow, aggregate
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
    problems = validate_access_review(key[1], spec, namespace)
    if problems:
        raise errors.invalid_object(info.group, info.kind, "", problems)
    if key == (_AUTHORIZATION, "selfsubjectaccessreviews"):
        subject = user
    else:
        subject = UserInfo(spec.get("user", "") or "", spec.get("uid", "") or "", list(spec.get("groups") or []),
                           {k: list(v or ()) for k, v in (spec.get("extra") or {}).items()})
    return await access_review(security, subject, spec)


def _non_resource_value(attributes: dict) -> str:
    """The internal NonResourceAttributes as Go's %#v prints it in a field error."""
    path, verb = gojson.go_quote(attributes.get("path") or ""), gojson.go_quote(attributes.get("verb") or "")
    return f"authorization.NonResourceAttributes{{Path:{path}, Verb:{verb}}}"


def _selector_problems(selector, path: str) -> list:
    if selector is None:
        return []
    raw, requirements = selector.get("rawSelector") or "", selector.get("requirements") or []
    if raw and requirements:
        return [errors.invalid(f"{path}.rawSelector", raw, "may not specified at the same time as requirements")]
    if not raw and not requirements:
        return [errors.required(f"{path}.requirements",
                                f"when {path} is specified, requirements or rawSelector is required")]
    return []


def validate_access_review(resource: str, spec: dict, namespace: str) -> list:
    """Every problem of an access review's spec, in the order of upstream's ValidateSubjectAccessReviewSpec,
    ValidateSelfSubjectAccessReviewSpec and ValidateLocalSubjectAccessReview."""
    problems = []
    resource_attributes, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if resource_attributes is not None and non_resource is not None:
        problems.append(errors.FieldError(
            "FieldValueInvalid", "spec.nonResourceAttributes",
            f"Invalid value: {_non_resource_value(non_resource)}: cannot be specified in combination with "
            "resourceAttributes"))
    if resource_attributes is None and non_resource is None:
        problems.append(errors.invalid("spec.resourceAttributes", None, "exactly one of nonResourceAttributes or "
                                                                        "resourceAttributes must be specified"))
    if resource != "selfsubjectaccessreviews" and not spec.get("user") and not spec.get("groups"):
        problems.append(errors.invalid("spec.user", spec.get("user") or "",
                                       "at least one of user or group must be specified"))
    if resource_attributes is not None:
        for key in ("fieldSelector", "labelSelector"):
            problems += _selector_problems(resource_attributes.get(key), f"spec.resourceAttributes.{key}")
    if resource == "localsubjectaccessreviews":
        if resource_attributes is not None and (resource_attributes.get("namespace") or "") != namespace:
            problems.append(errors.invalid("spec.resourceAttributes.namespace",
                                           resource_attributes.get("namespace") or "", "must match metadata.namespace"))
        if non_resource is not None:
            problems.append(errors.FieldError(
                "FieldValueInvalid", "spec.nonResourceAttributes",
                f"Invalid value: {_non_resource_value(non_resource)}: disallowed on this kind of request"))
    return problems


def _authorizer(security):
    # With no secure port there is no authorizer: everything is allowed, as on the insecure port.
    return security.authorizer if security is not None else AlwaysAllow()


async def access_review(security, user: UserInfo, spec: dict) -> dict:
    """A SubjectAccessReview's status: may ``user`` do what ``spec`` names?"""
    resource = spec.get("resourceAttributes")
    if resource is not None:
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
        status["evaluationError"] = error[0] if isinstance(error[0], str) else aggregate(error[0])
    return status


async def token_review(security: Optional[object], spec: dict) -> dict:
    """A TokenReview's status: who ``spec.token`` authenticates, if anyone."""
    if security is None:
        return {"user": {}}
    # As upstream's TokenReview: the audiences asked for, else the API server's, are the ones the token must be
    # for; the answer names those it is for (a service-account token's own, in their order, that were asked for).
    wanted = list(spec.get("audiences") or security.audiences or [])
    user, found_for = await security.authenticator.review_token(spec["token"], wanted or None)
    if user is None:
        return {"user": {}, "error": "[invalid bearer token, token lookup failed]"}
    matched = wanted
    if found_for is not None:
        matched = found_for
    elif wanted and security.audiences and not set(wanted) & set(security.audiences):
        # A token that names no audiences counts for the API server's alone.
        return {"user": {}, "error": "[invalid bearer token, token lookup failed]"}
    elif wanted and security.audiences:
        matched = [a for a in security.audiences if a in wanted]
    status = {"authenticated": True, "user": with_authenticated(user).to_api()}
    if matched:
        status["audiences"] = matched
    return status

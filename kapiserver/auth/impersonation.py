"""
Impersonation: Impersonate-User, -Group, -Uid and -Extra-* headers (kubectl
--as, --as-group, --as-uid), each checked with the impersonate verb on users,
groups, uids, serviceaccounts and userextras.
"""

from __future__ import annotations

from urllib.parse import unquote

from ..machinery.errors import StatusError
from .authz import Attributes, forbidden_message
from .user import ALL_AUTHENTICATED, ALL_UNAUTHENTICATED, ANONYMOUS, SERVICE_ACCOUNT_PREFIX, \
    SERVICE_ACCOUNTS_GROUP, UserInfo

_EXTRA_PREFIX = b"impersonate-extra-"
_NAMED = (b"impersonate-user", b"impersonate-group", b"impersonate-uid")


def _headers(request, name: bytes) -> list[str]:
    return [v.decode("utf-8", "replace") for v in request.requestHeaders.getRawHeaders(name, [])]


def requested(request) -> bool:
    return any(request.requestHeaders.hasHeader(h) for h in _NAMED) or \
        any(k.lower().startswith(_EXTRA_PREFIX) for k, _ in request.requestHeaders.getAllRawHeaders())


def take_headers(request) -> None:
    """The impersonation headers taken off the request once they are acted on (upstream's filter deletes
    them), so that nothing it is proxied to sees them."""
    headers = request.requestHeaders
    for name in [k for k, _ in headers.getAllRawHeaders()
                 if k.lower() in _NAMED or k.lower().startswith(_EXTRA_PREFIX)]:
        headers.removeHeader(name)


def _forbidden(a: Attributes, reason: str = "") -> StatusError:
    message = forbidden_message(a) + (f": {reason}" if reason else "")
    resource = a.resource
    group = a.api_group
    qualified = f"{resource}.{group}" if group else resource
    details = {"name": a.name, **({"group": group} if group else {}), "kind": resource}
    return StatusError(403, "Forbidden", f'{qualified} "{a.name}" is forbidden: {message}', details)


async def impersonate(request, user: UserInfo, authorizer) -> UserInfo:
    """The user the request acts as; 403 when ``user`` may not impersonate what it asks for."""
    names = _headers(request, b"impersonate-user")
    groups = _headers(request, b"impersonate-group")
    uids = _headers(request, b"impersonate-uid")
    extra: dict[str, list[str]] = {}
    for key, values in request.requestHeaders.getAllRawHeaders():
        if key.lower().startswith(_EXTRA_PREFIX):
            extra_key = unquote(key[len(_EXTRA_PREFIX):].decode("latin-1")).lower()
            extra.setdefault(extra_key, []).extend(v.decode("utf-8", "replace") for v in values)
    if not names:
        if groups or uids or extra:
            raise StatusError(500, "InternalError",
                              "Internal error occurred: requested impersonation of groups or extra without a user")
        return user
    name = names[0]
    checks = []
    # Groups asked for are the authority: a service account's groups come with it only when none were.
    implied_groups = []
    if name.startswith(SERVICE_ACCOUNT_PREFIX) and name.count(":") == 3:
        _, _, namespace, account = name.split(":")
        checks.append(Attributes(user, "impersonate", True, namespace, "", "", "serviceaccounts", "", account))
        if not groups:
            implied_groups = [SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{namespace}"]
    else:
        checks.append(Attributes(user, "impersonate", True, "", "", "", "users", "", name))
    for group in groups:
        checks.append(Attributes(user, "impersonate", True, "", "", "", "groups", "", group))
    # Upstream's order: the user, the groups, the extras, the uid.
    for key, values in extra.items():
        for value in values:
            checks.append(Attributes(user, "impersonate", True, "", "authentication.k8s.io", "v1", "userextras",
                                     key, value))
    for uid in uids[:1]:
        checks.append(Attributes(user, "impersonate", True, "", "authentication.k8s.io", "v1", "uids", "", uid))
    for attributes in checks:
        decision = await authorizer.authorize(attributes)
        if not decision.allowed:
            raise _forbidden(attributes, decision.reason)
    groups = implied_groups + groups
    if name == ANONYMOUS:
        if ALL_UNAUTHENTICATED not in groups:
            groups.append(ALL_UNAUTHENTICATED)
    elif ALL_AUTHENTICATED not in groups and ALL_UNAUTHENTICATED not in groups:
        # system:authenticated unless either it or system:unauthenticated was asked for, as upstream.
        groups.append(ALL_AUTHENTICATED)
    return UserInfo(name, uids[0] if uids else "", groups, extra)

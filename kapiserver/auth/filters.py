"""
The security filter in front of dispatch: authenticate, impersonate,
authorize, in upstream's order, leaving the user for admission and the
reviews and the facts for the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from . import context, impersonation
from .authz import Attributes, attributes_from_request, forbidden
from .user import INSECURE_USER, UserInfo


@dataclass
class RequestAuth:
    """What the filter learned about one request (kept on it for the audit log)."""
    user: UserInfo
    authenticated: Optional[UserInfo] = None
    decision: str = ""
    reason: str = ""


class Security:
    def __init__(self, authenticator, authorizer, service_accounts=None, audiences=()):
        self.authenticator = authenticator
        self.authorizer = authorizer
        # Service-account token issuing (TokenRequest): an authn.ServiceAccountTokens, or None.
        self.service_accounts = service_accounts
        self.audiences = list(audiences)
        # Service-account issuer discovery (an issuerdiscovery.IssuerDiscovery), or None.
        self.issuer_discovery = None

    async def filter(self, request, info, gate=None) -> UserInfo:
        """The user ``request`` acts as; raises the 401 or 403 StatusError that ends it.  ``gate(request,
        info, user)``, if given, runs between impersonation and authorization (where upstream puts API
        Priority and Fairness): what it returns, if anything, is awaited."""
        # Recording first: what authentication says to the client or the audit log (a legacy token's warning
        # and audit annotation) lands on this request's response and event.
        context.set_request(request)
        authenticated = await self.authenticator.authenticate(request)
        # The credentials stay here: taken off the request once they are read, as upstream's authentication and
        # impersonation filters take them, so that no kubelet, pod, service or extension server it is proxied to
        # sees them.
        request.requestHeaders.removeHeader(b"authorization")
        state = RequestAuth(authenticated, authenticated)
        request.kapi_auth = state
        user = authenticated
        if impersonation.requested(request):
            user = await impersonation.impersonate(request, authenticated, self.authorizer)
            impersonation.take_headers(request)
            state.user = user
        context.set_user(user)
        if gate is not None:
            waiting = gate(request, info, user)
            if waiting is not None:
                await waiting
        attributes = attributes_from_request(user, info)
        decision = await self.authorizer.authorize(attributes)
        state.decision = "allow" if decision.allowed else "forbid"
        state.reason = decision.reason
        if not decision.allowed:
            raise forbidden(attributes, decision.reason)
        return user

    async def can(self, attributes: Attributes):
        return await self.authorizer.authorize(attributes)


def insecure(request) -> UserInfo:
    """The insecure port: no authentication, everything allowed, as upstream's insecure serving did.  Credentials
    a client sent anyway are taken off the request as on the secure port: nothing it is proxied to sees them."""
    request.requestHeaders.removeHeader(b"authorization")
    impersonation.take_headers(request)
    request.kapi_auth = RequestAuth(INSECURE_USER)
    context.set_request(request)
    context.set_user(INSECURE_USER)
    return INSECURE_USER

"""Who may use the kubelet API, as upstream's kubelet decides it.

Authentication, first success wins: an x509 client certificate chaining to --client-ca-file (CN the user,
each O a group), then a bearer token checked by a TokenReview against the API server
(--authentication-token-webhook).  Credentials that were presented but did not check out are a 401 even
when anonymous requests are allowed; a request with none is system:anonymous (--anonymous-auth) or a 401.

Authorization (--authorization-mode): AlwaysAllow, or Webhook, which asks the API server with a
SubjectAccessReview for resource "nodes", name the node, subresource from the path (stats, metrics, log,
checkpoint, else proxy) and verb from the HTTP method (GET get, POST create, PUT update, PATCH patch,
DELETE delete).  Refusals are upstream's plain-text bodies.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple
from urllib.parse import unquote

from twisted.logger import Logger

from ..auth import certs
from ..auth.authn import user_from_certificate
from ..auth.tls import peer_certificate
from ..auth.user import ALL_UNAUTHENTICATED, ANONYMOUS, UserInfo, with_authenticated
from ..client.resources import SUBJECT_ACCESS_REVIEWS, TOKEN_REVIEWS

log = Logger()

AUTHORIZATION_MODES = ("AlwaysAllow", "Webhook")
_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
# Paths with a subresource of their own; everything else is nodes/proxy.
_SUBRESOURCE_PATHS = (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"),
                      ("/checkpoint", "checkpoint"))
# With the KubeletFineGrainedAuthz gate (alpha, off in 1.32) these are tried before nodes/proxy.
_FINE_GRAINED_PATHS = (("/pods", "pods"), ("/healthz", "healthz"), ("/configz", "configz"),
                       ("/runningpods", "pods"))
Refusal = Tuple[int, bytes]


def _is_subpath(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


@dataclass(frozen=True)
class NodeAttributes:
    """One authorization question about this node: may `user` `verb` nodes/`subresource` `name`?"""
    user: UserInfo
    verb: str
    subresource: str
    name: str
    path: str
    resource: str = "nodes"

    def review_spec(self) -> dict:
        """The SubjectAccessReview spec for these attributes (empty fields omitted, as Go's omitempty)."""
        resource = {"verb": self.verb, "version": "v1", "resource": self.resource,
                    "subresource": self.subresource, "name": self.name}
        spec: dict = {"resourceAttributes": {k: v for k, v in resource.items() if v}}
        spec.update({k: v for k, v in self.user.to_api().items() if k != "username"})
        if self.user.name:
            spec["user"] = self.user.name
        return spec


def request_attributes(user: UserInfo, method: str, path: str, node_name: str,
                       fine_grained: bool = False) -> List[NodeAttributes]:
    """The attributes a kubelet request is authorized by; any one allowed admits the request."""
    verb = _VERBS.get(method.upper(), "")
    subresources = []
    if fine_grained:
        subresources += [name for prefix, name in _FINE_GRAINED_PATHS if _is_subpath(path, prefix)][:1]
    specific = [name for prefix, name in _SUBRESOURCE_PATHS if _is_subpath(path, prefix)]
    subresources.append(specific[0] if specific else "proxy")
    return [NodeAttributes(user, verb, subresource, node_name, path) for subresource in subresources]


def forbidden_body(attributes: List[NodeAttributes]) -> bytes:
    """Upstream's 403 text: the first attributes' user and verb and every subresource tried."""
    first = attributes[0]
    subresources = " ".join(a.subresource for a in attributes)
    return (f"Forbidden (user={first.user.name}, verb={first.verb}, resource={first.resource}, "
            f"subresource(s)=[{subresources}])\n").encode()


class _TTLCache:
    """Answers kept for a while, per key, on the injected clock (upstream's webhook caches)."""

    LIMIT = 4096

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.entries: dict = {}

    def get(self, key):
        entry = self.entries.get(key)
        if entry is None or entry[0] <= self.clock():
            return None
        return entry

    def put(self, key, value, ttl: float) -> None:
        if ttl <= 0:
            return
        if len(self.entries) >= self.LIMIT:
            now = self.clock()
            self.entries = {k: v for k, v in self.entries.items() if v[0] > now}
            if len(self.entries) >= self.LIMIT:
                self.entries.clear()
        self.entries[key] = (self.clock() + ttl, value)


class TokenReviewAuthenticator:
    """Bearer tokens checked with a TokenReview against the API server; answers cached for `ttl` seconds."""

    def __init__(self, client, clock: Callable[[], float], ttl: float = 120.0):
        self.client = client
        self.ttl = ttl
        self.cache = _TTLCache(clock)

    async def authenticate(self, token: str) -> Optional[UserInfo]:
        """The token's user, or None when the API server says it is not authenticated; errors propagate."""
        key = hashlib.sha256(token.encode()).digest()
        cached = self.cache.get(key)
        if cached is not None:
            return cached[1]
        review = await self.client.create(TOKEN_REVIEWS, {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}})
        status = review.get("status") or {}
        user = UserInfo.from_api(status.get("user") or {}) if status.get("authenticated") else None
        self.cache.put(key, user, self.ttl)
        return user


class KubeletAuthenticator:
    """x509 client certificates, then webhook bearer tokens, then (if allowed) anonymous."""

    def __init__(self, client_ca: Optional[list] = None, tokens: Optional[TokenReviewAuthenticator] = None,
                 anonymous: bool = True):
        self.client_ca = client_ca or []
        self.tokens = tokens
        self.anonymous = anonymous

    async def authenticate(self, request) -> Optional[UserInfo]:
        """The request's user, or None for a 401; raises when a webhook could not be asked (also a 401)."""
        presented = False
        if self.client_ca:
            cert = peer_certificate(request)
            if cert is not None:
                if certs.verify_client_certificate(cert, self.client_ca) is None:
                    return with_authenticated(user_from_certificate(cert))
                presented = True
        if self.tokens is not None:
            token = _bearer_token(request)
            if token:
                user = await self.tokens.authenticate(token)
                if user is not None:
                    return with_authenticated(user)
                presented = True
        if presented or not self.anonymous:
            return None
        return UserInfo(ANONYMOUS, groups=[ALL_UNAUTHENTICATED])


def _bearer_token(request) -> str:
    header = (request.getHeader(b"authorization") or b"").decode("latin-1").strip()
    parts = header.split(" ")
    if len(parts) < 2 or parts[0].lower() != "bearer":
        return ""
    return parts[1]


class AlwaysAllow:
    async def authorize(self, attributes: NodeAttributes) -> bool:
        return True


class SubjectAccessReviewAuthorizer:
    """Asks the API server with a SubjectAccessReview; allowed answers are kept `authorized_ttl` seconds,
    denied ones `unauthorized_ttl`."""

    def __init__(self, client, clock: Callable[[], float], authorized_ttl: float = 300.0,
                 unauthorized_ttl: float = 30.0):
        self.client = client
        self.authorized_ttl = authorized_ttl
        self.unauthorized_ttl = unauthorized_ttl
        self.cache = _TTLCache(clock)

    async def authorize(self, attributes: NodeAttributes) -> bool:
        spec = attributes.review_spec()
        key = json.dumps(spec, sort_keys=True)
        cached = self.cache.get(key)
        if cached is not None:
            return cached[1]
        review = await self.client.create(SUBJECT_ACCESS_REVIEWS, {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec})
        allowed = bool((review.get("status") or {}).get("allowed"))
        self.cache.put(key, allowed, self.authorized_ttl if allowed else self.unauthorized_ttl)
        return allowed


class KubeletAuth:
    """The filter in front of every kubelet API path, /healthz included, as upstream installs it."""

    def __init__(self, node_name: str, authenticator: Optional[KubeletAuthenticator] = None,
                 authorizer=None, fine_grained: bool = False):
        self.node_name = node_name
        self.authenticator = authenticator or KubeletAuthenticator()
        self.authorizer = authorizer or AlwaysAllow()
        self.fine_grained = fine_grained

    async def check(self, request) -> Optional[Refusal]:
        """None to serve the request, else the (status code, body) to answer it with."""
        try:
            user = await self.authenticator.authenticate(request)
        except Exception as e:  # a webhook that cannot be asked fails the request closed
            log.warn("Unable to authenticate the request due to an error: {error}", error=e)
            user = None
        if user is None:
            return 401, b"Unauthorized"
        method = request.method.decode("latin-1")
        path = unquote(request.path.decode("latin-1"))
        attributes = request_attributes(user, method, path, self.node_name, self.fine_grained)
        for attribute in attributes:
            try:
                if await self.authorizer.authorize(attribute):
                    return None
            except Exception as e:
                log.warn("Authorization error: {error}", error=e)
                return 500, (f"Authorization error (user={user.name}, verb={attribute.verb}, "
                             f"resource={attribute.resource}, subresource={attribute.subresource})").encode()
        log.info("Forbidden: {body}", body=forbidden_body(attributes).decode().strip())
        return 403, forbidden_body(attributes)

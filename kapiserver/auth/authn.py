"""
Authentication in upstream's order: x509 client certificates, then bearer
tokens (the static token file, service-account JWTs), then basic auth; a
request with no credentials is system:anonymous when --anonymous-auth allows,
and credentials that no authenticator accepts are a 401.
"""

from __future__ import annotations

import base64
import csv
import datetime
import functools
import time
from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import unquote

from ..machinery import errors
from ..machinery.errors import StatusError
from ..machinery.meta import parse_time
from . import certs, jwt
from .context import add_audit_annotation, add_warning
from .tls import peer_certificate
from .user import (ALL_UNAUTHENTICATED, ANONYMOUS, SERVICE_ACCOUNTS_GROUP, UserInfo, with_authenticated)

CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
POD_NAME = "authentication.kubernetes.io/pod-name"
POD_UID = "authentication.kubernetes.io/pod-uid"
NODE_NAME = "authentication.kubernetes.io/node-name"
NODE_UID = "authentication.kubernetes.io/node-uid"
# How long after its deletion began a bound object still vouches for its tokens (upstream's one-minute leeway).
BOUND_OBJECT_LEEWAY = 60
# Legacy (Secret-based) tokens: the day a Secret's token was last used, the label that disables it, and what a
# request authenticated with an auto-generated one (listed in its account's secrets) is told.
LEGACY_LAST_USED = "kubernetes.io/legacy-token-last-used"
LEGACY_INVALID_SINCE = "kubernetes.io/legacy-token-invalid-since"
LEGACY_AUDIT = "authentication.k8s.io/legacy-token"
LEGACY_WARNING = ("Use tokens from the TokenRequest API or manually created secret-based tokens instead of "
                  "auto-generated secret-based tokens.")


class AuthenticationError(Exception):
    """Credentials were presented and none of the authenticators accepted them."""


def read_user_csv(path: str, secret_name: str) -> dict[str, UserInfo]:
    """A token or password file: secret,user,uid[,"group1,group2"] per line; blank lines skipped."""
    users: dict[str, UserInfo] = {}
    with open(path, newline="") as f:
        for number, row in enumerate(csv.reader(f), start=1):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) < 3:
                raise ValueError(f"{path}: line {number}: a {secret_name} file needs at least three columns")
            secret, name, uid = row[0].strip(), row[1].strip(), row[2].strip()
            groups = [g.strip() for g in row[3].split(",") if g.strip()] if len(row) > 3 else []
            users[secret] = UserInfo(name, uid, groups)
    return users


@dataclass
class ServiceAccountTokens:
    """What service-account token authentication and TokenRequest need."""
    public_keys: list
    signing_key: object = None
    issuers: list[str] = field(default_factory=lambda: [jwt.LEGACY_ISSUER])
    audiences: list[str] = field(default_factory=list)
    lookup: bool = True
    max_expiration: int = 0

    @property
    def issuer(self) -> str:
        return self.issuers[0]


class RequestHeaders:
    """Front proxies' authentication (--requestheader-*): a client certificate signed by ``roots`` (with a common
    name in ``allowed_names``, if any) vouches for the user named in the request's headers."""

    def __init__(self, roots: list, allowed_names=(), username_headers=(), group_headers=(), extra_prefixes=()):
        self.roots = roots
        self.allowed_names = frozenset(allowed_names)
        self.username_headers = tuple(username_headers)
        self.group_headers = tuple(group_headers)
        self.extra_prefixes = tuple(p.lower() for p in extra_prefixes)
        self._names = frozenset((h.decode("latin-1") if isinstance(h, bytes) else h).lower()
                                for h in self.username_headers + self.group_headers)

    def user(self, request, cert) -> Optional[UserInfo]:
        """The user the headers name, when the certificate is a front proxy's; else None."""
        if certs.verify_client_certificate(cert, self.roots) is not None:
            return None
        if self.allowed_names and user_from_certificate(cert).name not in self.allowed_names:
            return None
        headers = request.requestHeaders
        name = next((value for header in self.username_headers
                     for value in headers.getRawHeaders(header, []) if value), "")
        if not name:
            return None
        groups = [value for header in self.group_headers for value in headers.getRawHeaders(header, [])]
        extra: dict[str, list[str]] = {}
        for header, values in headers.getAllRawHeaders():
            lowered = header.decode("latin-1").lower()
            for prefix in self.extra_prefixes:
                if lowered.startswith(prefix) and len(lowered) > len(prefix):
                    key = unquote(lowered[len(prefix):])
                    extra.setdefault(key, []).extend(v.decode("latin-1") for v in values)
        # Read, they are taken off the request (upstream's ClearAuthenticationHeaders): nothing it is proxied to
        # sees them.
        for header in [h for h, _ in headers.getAllRawHeaders()
                       if h.decode("latin-1").lower() in self._names
                       or h.decode("latin-1").lower().startswith(self.extra_prefixes)]:
            headers.removeHeader(header)
        return UserInfo(name, "", groups, extra)


class Authenticator:
    def __init__(self, client_ca: Optional[list] = None, tokens: Optional[dict[str, UserInfo]] = None,
                 passwords: Optional[dict[str, UserInfo]] = None,
                 service_accounts: Optional[ServiceAccountTokens] = None, anonymous: bool = True,
                 registry=None, token_authenticators: Optional[list] = None, clock=time.time,
                 password_authenticators: Optional[list] = None,
                 request_headers: Optional[RequestHeaders] = None):
        self.request_headers = request_headers
        self.client_ca = client_ca or []
        self.tokens = tokens or {}
        self.passwords = passwords or {}
        self.service_accounts = service_accounts
        self.anonymous = anonymous
        self.registry = registry
        # More bearer-token authenticators (webhook, OIDC): async callables token -> UserInfo | None.
        self.token_authenticators = list(token_authenticators or [])
        # More basic-auth checkers (Keystone): async callables (name, password) -> UserInfo | None.
        self.password_authenticators = list(password_authenticators or [])
        self.clock = clock

    async def authenticate(self, request) -> UserInfo:
        """The request's user; raises the 401 StatusError when its credentials are bad or missing."""
        try:
            user = await self._authenticate(request)
        except AuthenticationError:
            raise errors.unauthorized() from None
        if user is not None:
            return with_authenticated(user)
        if self.anonymous:
            return UserInfo(ANONYMOUS, groups=[ALL_UNAUTHENTICATED])
        raise errors.unauthorized()

    async def _authenticate(self, request) -> Optional[UserInfo]:
        failed = False
        cert = peer_certificate(request)
        if cert is not None and self.request_headers is not None:
            user = self.request_headers.user(request, cert)
            if user is not None:
                return user
        if cert is not None and self.client_ca:
            if certs.verify_client_certificate(cert, self.client_ca) is None:
                return user_from_certificate(cert)
            failed = True
        header = (request.getHeader(b"authorization") or b"").decode("latin-1").strip()
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() == "bearer" and credential:
            user = await self.authenticate_token(credential)
            if user is not None:
                return user
            failed = True
        elif scheme.lower() == "basic" and credential and (self.passwords or self.password_authenticators):
            try:
                name, _, password = base64.b64decode(credential).decode().partition(":")
            except ValueError:
                raise AuthenticationError() from None
            user = self.passwords.get(password)
            if user is not None and user.name == name:
                return UserInfo(user.name, user.uid, list(user.groups))
            for check in self.password_authenticators:
                user = await check(name, password)
                if user is not None:
                    return user
            failed = True
        if failed:
            raise AuthenticationError()
        return None

    async def authenticate_token(self, token: str) -> Optional[UserInfo]:
        """The user a bearer token stands for, or None."""
        return (await self.review_token(token))[0]

    async def review_token(self, token: str, audiences: Optional[list] = None) -> tuple:
        """(the user ``token`` stands for or None, the audiences it was found for): a bound service-account token
        must share one of ``audiences`` (TokenReview's; the API server's when None), and its own among them are
        the second; other tokens name none (None)."""
        static = self.tokens.get(token)
        if static is not None:
            return UserInfo(static.name, static.uid, list(static.groups)), None
        if self.service_accounts is not None and jwt.looks_like_jwt(token):
            found = await self._service_account(token, audiences)
            if found is not None:
                return found
        for authenticate in self.token_authenticators:
            user = await authenticate(token)
            if user is not None:
                return user, None
        return None, None

    async def _service_account(self, token: str, wanted: Optional[list] = None) -> Optional[tuple]:
        """(user, the token's audiences among ``wanted``; None for a legacy token), or None."""
        sa = self.service_accounts
        wanted = sa.audiences if wanted is None else wanted
        claims = jwt.verify(token, sa.public_keys)
        if claims is None or claims.get("iss") not in sa.issuers:
            return None
        now = self.clock()
        private = claims.get("kubernetes.io")
        if isinstance(private, dict):
            # A bound token: expiry, not-before and audience are checked.
            if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] < now - 60:
                return None
            if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > now + 60:
                return None
            audiences = claims.get("aud") or []
            audiences = [audiences] if isinstance(audiences, str) else audiences
            if wanted and not set(audiences) & set(wanted):
                return None
            matched = [a for a in audiences if a in wanted] if wanted else None
            namespace = private.get("namespace", "")
            account = private.get("serviceaccount") or {}
            name, uid = account.get("name", ""), account.get("uid", "")
            pod = private.get("pod") if isinstance(private.get("pod"), dict) else {}
            node = private.get("node") if isinstance(private.get("node"), dict) else {}
            if not await self._bound_objects_valid(namespace, private, now):
                return None
            extra = {}
            if pod.get("name") and pod.get("uid"):
                extra[POD_NAME], extra[POD_UID] = [pod["name"]], [pod["uid"]]
            if claims.get("jti"):
                extra[CREDENTIAL_ID] = [f"JTI={claims['jti']}"]
            if node.get("name"):
                extra[NODE_NAME] = [node["name"]]
                if node.get("uid"):
                    extra[NODE_UID] = [node["uid"]]
        else:
            # A legacy secret-based token: valid while its Secret holds it, as upstream's legacy validator.
            namespace = claims.get("kubernetes.io/serviceaccount/namespace", "")
            name = claims.get("kubernetes.io/serviceaccount/service-account.name", "")
            uid = claims.get("kubernetes.io/serviceaccount/service-account.uid", "")
            secret_name = claims.get("kubernetes.io/serviceaccount/secret.name", "")
            extra = {}
            matched = None
            if sa.lookup and self.registry is not None:
                secret = await self._secret_holding(namespace, secret_name, token)
                account = await self._account(namespace, name, uid) if secret is not None else None
                if not namespace or not name or account is None or \
                        LEGACY_INVALID_SINCE in (secret["metadata"].get("labels") or {}):
                    return None      # upstream: the token "has been marked invalid" by the cleaner's label
                if any(ref.get("name") == secret_name for ref in account.get("secrets") or []):
                    add_warning(LEGACY_WARNING)
                add_audit_annotation(LEGACY_AUDIT, f"system:serviceaccount:{namespace}:{name}")
                await self._track_legacy_use(secret, now)
        if not namespace or not name:
            return None
        # A bound token's account is always looked up (upstream's bound-token validator has no lookup switch;
        # --service-account-lookup is the legacy validator's).
        if self.registry is not None and isinstance(private, dict) and \
                await self._account(namespace, name, uid) is None:
            return None
        return UserInfo(f"system:serviceaccount:{namespace}:{name}", uid,
                        [SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{namespace}"], extra), matched

    async def _bound_objects_valid(self, namespace: str, private: dict, now: float) -> bool:
        """Whether the pod, secret or node a bound token names still exists with the uid it names and was not
        deleted more than a minute ago, as upstream's validator has it; a pod-bound token's node is not looked up
        (it is only reported)."""
        if self.registry is None:
            return True
        bound = [("pods", namespace, private.get("pod")), ("secrets", namespace, private.get("secret"))]
        if not private.get("pod"):
            bound.append(("nodes", None, private.get("node")))
        for resource, where, ref in bound:
            if not ref:
                continue
            if not isinstance(ref, dict):
                return False
            obj = await self._lookup(resource, where, ref.get("name", ""))
            if obj is None:
                return False
            metadata = obj.get("metadata") or {}
            if metadata.get("uid") != ref.get("uid"):
                return False
            deleted = metadata.get("deletionTimestamp")
            if deleted and parse_time(deleted) < now - BOUND_OBJECT_LEEWAY:
                return False
        return True

    async def _secret_holding(self, namespace: str, name: str, token: str) -> Optional[dict]:
        """The Secret holding the legacy ``token``; None when it is gone, being deleted or holds another."""
        secret = await self._lookup("secrets", namespace, name)
        if secret is None:
            return None
        held = (secret.get("data") or {}).get("token") or ""
        try:
            held = base64.b64decode(held).decode()
        except ValueError:
            return None
        if held != token or (secret.get("metadata") or {}).get("deletionTimestamp"):
            return None
        return secret

    async def _track_legacy_use(self, secret: dict, now: float) -> None:
        """Label the Secret with the day (UTC) its token was last used, at most once a day, as upstream's
        legacy validator; a failed write does not fail the request."""
        day = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        today = day.strftime("%Y-%m-%d")
        tomorrow = (day + datetime.timedelta(days=1)).strftime("%Y-%m-%d")
        metadata = secret["metadata"]
        if (metadata.get("labels") or {}).get(LEGACY_LAST_USED) in (today, tomorrow):
            return

        def label(old):
            if old is None:
                raise errors.not_found(errors.GroupResource("", "secrets"), metadata["name"])
            old["metadata"]["labels"] = {**(old["metadata"].get("labels") or {}), LEGACY_LAST_USED: today}
            return old
        try:
            await self.registry.store("", "v1", "secrets").update(
                metadata.get("namespace"), metadata["name"], label, allow_create=False,
                precondition_uid=metadata.get("uid"))
        except StatusError:
            pass

    async def _lookup(self, resource: str, namespace: Optional[str], name: str) -> Optional[dict]:
        """An object a token names, as upstream's token getter reads it: what the watch cache holds now (its
        informers' listers), the API asked only when it holds nothing; None when there is no such object.  Read
        only: the cache's own dict."""
        store = self.registry.store("", "v1", resource)
        cached = store.peek_shared(namespace, name)
        if isinstance(cached, dict):
            return cached
        try:
            return await store.get_shared(namespace, name)
        except StatusError:
            return None

    async def _account(self, namespace: str, name: str, uid: str) -> Optional[dict]:
        """The ServiceAccount a token names, if it exists with that uid and is not being deleted."""
        account = await self._lookup("serviceaccounts", namespace, name)
        if account is None:
            return None
        metadata = account.get("metadata") or {}
        if (uid and metadata.get("uid") != uid) or metadata.get("deletionTimestamp"):
            return None
        return account


def user_from_certificate(cert) -> UserInfo:
    """CN is the user, each O a group, as upstream's CommonNameUserConversion."""
    name, groups, credential = _certificate_identity(cert)
    return UserInfo(name, groups=list(groups), extra={CREDENTIAL_ID: [credential]})


@functools.lru_cache(maxsize=1024)
def _certificate_identity(cert) -> tuple[str, tuple[str, ...], str]:
    """(CN, the O's, the credential id) of a client certificate, read once per certificate: a TLS connection
    presents the same one at every request (its subject parsed and its SHA-256 taken cost ~8 µs a request)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    organizations = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return (str(common[0].value) if common else "", tuple(str(o.value) for o in organizations),
            f"X509SHA256={cert.fingerprint(hashes.SHA256()).hex()}")

"""
OpenID Connect ID tokens (--oidc-*): signed by a key from the issuer's JWKS
(found through its discovery document), for --oidc-client-id, not expired;
the user and groups come from the configured claims and prefixes.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Optional

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from . import jwt
from .user import UserInfo


def _int(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def key_from_jwk(jwk: dict):
    """A public key from a JWK (RSA or EC P-256/384/521); None for anything else."""
    if jwk.get("kty") == "RSA":
        return rsa.RSAPublicNumbers(_int(jwk["e"]), _int(jwk["n"])).public_key()
    if jwk.get("kty") == "EC":
        curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}.get(jwk.get("crv"))
        if curve is not None:
            return ec.EllipticCurvePublicNumbers(_int(jwk["x"]), _int(jwk["y"]), curve).public_key()
    return None


def _unverified_claims(token: str) -> Optional[dict]:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


class OIDCAuthenticator:
    def __init__(self, issuer: str, client_id: str, ca_file: str = "", username_claim: str = "sub",
                 username_prefix: Optional[str] = None, groups_claim: str = "", groups_prefix: str = "",
                 required_claims: Optional[dict] = None, client=None, clock=time.time):
        from .webhook import WebhookClient
        ca = open(ca_file, "rb").read() if ca_file else None
        self.client = client or WebhookClient(issuer, ca)
        self.issuer = issuer
        self.client_id = client_id
        self.username_claim = username_claim
        if username_prefix is None:
            # Upstream: claims other than email are prefixed with the issuer URL and "#".
            username_prefix = "" if username_claim == "email" else f"{issuer}#"
        self.username_prefix = "" if username_prefix == "-" else username_prefix
        self.groups_claim = groups_claim
        self.groups_prefix = groups_prefix
        self.required_claims = required_claims or {}
        self.clock = clock
        self.keys: list = []

    async def _refresh_keys(self) -> None:
        discovery = await self.client.get(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
        jwks = await self.client.get(discovery["jwks_uri"])
        self.keys = [k for k in (key_from_jwk(j) for j in jwks.get("keys") or []) if k is not None]

    async def authenticate(self, token: str) -> Optional[UserInfo]:
        if not jwt.looks_like_jwt(token):
            return None
        unverified = _unverified_claims(token)
        if unverified is None or unverified.get("iss") != self.issuer:
            return None
        claims = jwt.verify(token, self.keys) if self.keys else None
        if claims is None:
            try:
                await self._refresh_keys()
            except Exception:  # noqa: BLE001 - an unreachable issuer authenticates nobody
                return None
            claims = jwt.verify(token, self.keys)
        if claims is None:
            return None
        audiences = claims.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else (audiences or [])
        if self.client_id not in audiences:
            return None
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] < self.clock():
            return None
        for key, value in self.required_claims.items():
            if claims.get(key) != value:
                return None
        name = claims.get(self.username_claim)
        if not isinstance(name, str) or not name:
            return None
        if self.username_claim == "email" and claims.get("email_verified") is False:
            return None
        groups = []
        if self.groups_claim:
            value = claims.get(self.groups_claim)
            values = [value] if isinstance(value, str) else (value or [])
            groups = [self.groups_prefix + g for g in values if isinstance(g, str)]
        return UserInfo(self.username_prefix + name, groups=groups)

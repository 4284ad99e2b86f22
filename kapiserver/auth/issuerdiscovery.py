"""
Service-account issuer discovery (OIDC): ``/.well-known/openid-configuration`` and ``/openid/v1/jwks``,
so that a relying party outside the cluster can verify service-account tokens, as kube-apiserver serves
them.  The configuration names the issuer (the first --service-account-issuer), where the key set is
(--service-account-jwks-uri, else this server's own ``/openid/v1/jwks`` at its advertised address), and
the signing algorithms of the keys; the key set holds every public key service-account tokens are
verified with (--service-account-key-file).  Both documents are made once, at startup.
"""

from __future__ import annotations

import json
from typing import Optional
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .jwt import _b64, key_id

CONFIGURATION_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/openid/v1/jwks"
# What both answers carry, as upstream: public, cacheable for an hour.
CACHE_CONTROL = "public, max-age=3600"
JWKS_CONTENT_TYPE = "application/jwk-set+json"

_CURVES = {"secp256r1": ("P-256", "ES256"), "secp384r1": ("P-384", "ES384"), "secp521r1": ("P-521", "ES512")}


def _int(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def _jwk(key) -> Optional[dict]:
    """One public key as a JSON Web Key (go-jose's field order), or None for a key type tokens cannot use."""
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return {"use": "sig", "kty": "RSA", "kid": key_id(key), "alg": "RS256", "n": _int(numbers.n),
                "e": _int(numbers.e)}
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in _CURVES:
        curve, alg = _CURVES[key.curve.name]
        size = (key.curve.key_size + 7) // 8
        numbers = key.public_numbers()
        return {"use": "sig", "kty": "EC", "kid": key_id(key), "crv": curve, "alg": alg,
                "x": _b64(numbers.x.to_bytes(size, "big")), "y": _b64(numbers.y.to_bytes(size, "big"))}
    return None


class IssuerDiscovery:
    """The two documents, as bytes."""

    def __init__(self, configuration: bytes, key_set: bytes):
        self.configuration = configuration
        self.key_set = key_set


def build(issuer: str, jwks_uri: str, external_address: str, public_keys: list) -> Optional[IssuerDiscovery]:
    """The documents for ``issuer``, or None when it cannot be discovered (not an https URL, as upstream
    then serves nothing).  ``external_address`` (host:port) locates the key set when ``jwks_uri`` is empty."""
    if urlsplit(issuer).scheme != "https":
        return None
    keys = [jwk for jwk in (_jwk(k) for k in public_keys) if jwk is not None]
    configuration = {
        "issuer": issuer,
        "jwks_uri": jwks_uri or f"https://{external_address}{JWKS_PATH}",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": sorted({k["alg"] for k in keys}),
    }
    return IssuerDiscovery(json.dumps(configuration, separators=(",", ":")).encode(),
                           json.dumps({"keys": keys}, separators=(",", ":")).encode())

"""
Service-account tokens: RS256/ES256 JWTs signed with the service-account
signing key and checked with the service-account public keys, carrying the
claims upstream's token generator writes (iss, sub, aud, exp, iat, nbf, jti
and the kubernetes.io private claim).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Optional

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

LEGACY_ISSUER = "kubernetes/serviceaccount"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(public_key) -> str:
    """The kid upstream derives: base64url of the SHA-256 of the DER public key."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    return _b64(digest.finalize())


def sign(claims: dict, private_key) -> str:
    if isinstance(private_key, rsa.RSAPrivateKey):
        alg = "RS256"
    elif isinstance(private_key, ec.EllipticCurvePrivateKey):
        alg = "ES256"
    else:
        raise ValueError("service account signing keys must be RSA or ECDSA")
    header = {"alg": alg, "kid": key_id(private_key.public_key())}
    signing_input = (_b64(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     _b64(json.dumps(claims, separators=(",", ":")).encode())).encode()
    if alg == "RS256":
        signature = private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    else:
        r, s = decode_dss_signature(private_key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        size = (private_key.curve.key_size + 7) // 8
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return signing_input.decode() + "." + _b64(signature)


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


def verify(token: str, public_keys: list) -> Optional[dict]:
    """The claims of a token signed by one of ``public_keys``; None when it is not."""
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(_unb64(header_b64))
        claims = json.loads(_unb64(payload_b64))
        signature = _unb64(signature_b64)
    except ValueError:
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    signing_input = f"{header_b64}.{payload_b64}".encode()
    for key in public_keys:
        try:
            if header.get("alg") == "RS256" and isinstance(key, rsa.RSAPublicKey):
                key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
                return claims
            if header.get("alg") in ("ES256", "ES384", "ES512") and isinstance(key, ec.EllipticCurvePublicKey):
                half = len(signature) // 2
                der = encode_dss_signature(int.from_bytes(signature[:half], "big"),
                                           int.from_bytes(signature[half:], "big"))
                algorithm = {"ES256": hashes.SHA256(), "ES384": hashes.SHA384(), "ES512": hashes.SHA512()}
                key.verify(der, signing_input, ec.ECDSA(algorithm[header["alg"]]))
                return claims
        except InvalidSignature:
            continue
    return None


def bound_claims(issuer: str, audiences: list[str], namespace: str, name: str, uid: str, seconds: int,
                 pod: Optional[dict] = None, now: Optional[float] = None, secret: Optional[dict] = None,
                 node: Optional[dict] = None, warn_after: int = 0) -> dict:
    """The claims of a bound (TokenRequest) service-account token, as upstream's serviceaccount.Claims makes them:
    the kubernetes.io claim names the service account and what the token is bound to (a pod, with the node it
    runs on; a secret; a node), each by name and uid; a warnafter time when the expiration was extended. Keys
    come sorted, as go-jose writes its merged claims."""
    now = int(now if now is not None else time.time())
    private = {"namespace": namespace}
    for claim, bound in (("node", node), ("pod", pod), ("secret", secret)):
        if bound:
            private[claim] = _object_ref(bound)
    private["serviceaccount"] = _object_ref({"name": name, "uid": uid})
    if warn_after:
        private["warnafter"] = now + warn_after
    return {"aud": list(audiences), "exp": now + seconds, "iat": now, "iss": issuer,
            "jti": str(uuid.uuid4()), "kubernetes.io": private, "nbf": now,
            "sub": f"system:serviceaccount:{namespace}:{name}"}


def _object_ref(obj: dict) -> dict:
    """A name and uid, each left out when empty (upstream's ref has omitempty on both)."""
    return {key: obj[key] for key in ("name", "uid") if obj.get(key)}


def load_public_keys(paths: list[str]) -> list:
    """Public keys from PEM files holding public keys, private keys or certificates."""
    from cryptography import x509
    keys = []
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        for block in _pem_blocks(data):
            if b"CERTIFICATE" in block.split(b"\n", 1)[0]:
                keys.append(x509.load_pem_x509_certificate(block).public_key())
            elif b"PRIVATE KEY" in block.split(b"\n", 1)[0]:
                keys.append(serialization.load_pem_private_key(block, None).public_key())
            elif b"PUBLIC KEY" in block.split(b"\n", 1)[0]:
                keys.append(serialization.load_pem_public_key(block))
    return keys


def _pem_blocks(data: bytes) -> list[bytes]:
    blocks, current = [], []
    for line in data.splitlines(keepends=True):
        if line.startswith(b"-----BEGIN "):
            current = [line]
        elif current:
            current.append(line)
            if line.startswith(b"-----END "):
                blocks.append(b"".join(current))
                current = []
    return blocks

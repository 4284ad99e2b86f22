"""OIDC Discovery (ServiceAccountIssuerDiscovery): a service account's token, presented by the service
account itself, reads the issuer's /.well-known/openid-configuration and /openid/v1/jwks (RBAC's
system:service-account-issuer-discovery role), and the token's issuer and signature check out against them."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.e2e.conftest import APIServerProcess, free_port
from tests.e2e.test_security import SecureServer


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    base = tmp_path_factory.mktemp("oidc")
    port = free_port()
    server = APIServerProcess(base / "data", args=(
        f"--secure-port={port}", "--bind-address=127.0.0.1", "--authorization-mode=Node,RBAC",
        "--service-account-issuer=https://issuer.example.com/cluster")).start()
    yield SecureServer(server, port, base)
    server.stop()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_oidc_discovery_of_the_service_account_issuer(secure):
    raw = secure.server.request
    status, _ = raw("POST", "/api/v1/namespaces/default/serviceaccounts",
                    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "oidc-reader"}})
    assert status == 201
    status, review = raw("POST", "/api/v1/namespaces/default/serviceaccounts/oidc-reader/token",
                         {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                          "spec": {}})
    assert status == 201, review
    token = review["status"]["token"]
    header, claims, signature = token.split(".")
    header, claims = json.loads(_unb64(header)), json.loads(_unb64(claims))

    status, configuration = secure.request("GET", "/.well-known/openid-configuration", token)
    assert status == 200, configuration
    # The key set is found at this server's advertised address, which the kubernetes Endpoints carry too.
    advertised = raw("GET", "/api/v1/namespaces/default/endpoints/kubernetes")[1]["subsets"][0]["addresses"][0]["ip"]
    assert configuration == {
        "issuer": "https://issuer.example.com/cluster", "jwks_uri": f"https://{advertised}:{secure.port}/openid/v1/jwks",
        "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [header["alg"]]}
    assert claims["iss"] == configuration["issuer"]

    status, key_set = secure.request("GET", "/openid/v1/jwks", token)
    assert status == 200
    key, = [k for k in key_set["keys"] if k["kid"] == header["kid"]]
    assert (key["use"], key["kty"], key["alg"]) == ("sig", "EC", "ES256")
    public = ec.EllipticCurvePublicNumbers(int.from_bytes(_unb64(key["x"]), "big"),
                                           int.from_bytes(_unb64(key["y"]), "big"), ec.SECP256R1()).public_key()
    raw_signature = _unb64(signature)
    half = len(raw_signature) // 2
    public.verify(encode_dss_signature(int.from_bytes(raw_signature[:half], "big"),
                                       int.from_bytes(raw_signature[half:], "big")),
                  token.rsplit(".", 1)[0].encode(), ec.ECDSA(hashes.SHA256()))


def test_discovery_is_not_served_on_the_insecure_port_without_keys(apiserver):
    """A server without a secure port has no service-account keys, so nothing to discover."""
    assert apiserver.request("GET", "/.well-known/openid-configuration")[0] == 404

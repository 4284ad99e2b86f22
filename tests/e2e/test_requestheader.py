"""Front proxies in front of kapiserver (--requestheader-*): a client certificate from the requestheader CA,
with an allowed common name, makes the request the user its X-Remote-* headers name; the headers count for
nothing without it; the extension-apiserver-authentication ConfigMap publishes the flags' values."""

from __future__ import annotations

import json
import ssl
import urllib.request

import pytest

from kapiserver.auth import certs
from tests.e2e.conftest import APIServerProcess, free_port

REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    base = tmp_path_factory.mktemp("requestheader")
    ca, ca_key = certs.new_ca("front-proxy-ca")
    (base / "front-proxy-ca.crt").write_bytes(certs.cert_pem(ca))
    for name in ("front-proxy", "someone-else"):
        cert, key = certs.sign_certificate(ca, ca_key, name, client=True)
        (base / f"{name}.crt").write_bytes(certs.cert_pem(cert))
        (base / f"{name}.key").write_bytes(certs.key_pem(key))
    port = free_port()
    server = APIServerProcess(base / "data", args=(
        f"--secure-port={port}", "--bind-address=127.0.0.1", "--authorization-mode=RBAC",
        f"--requestheader-client-ca-file={base / 'front-proxy-ca.crt'}",
        "--requestheader-allowed-names=front-proxy", "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group", "--requestheader-extra-headers-prefix=X-Remote-Extra-"
    )).start()
    yield server, port, base
    server.stop()


def _review(port, base, client: str, headers: dict):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(base / f"{client}.crt", base / f"{client}.key")
    request = urllib.request.Request(f"https://127.0.0.1:{port}/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                     data=json.dumps(REVIEW).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_the_front_proxy_speaks_for_the_user_in_its_headers(proxied):
    server, port, base = proxied
    status, review = _review(port, base, "front-proxy", {
        "X-Remote-User": "jane", "X-Remote-Group": "devs", "X-Remote-Extra-Scopes%2fA": "read"})
    assert status == 201
    user = review["status"]["userInfo"]
    assert user["username"] == "jane"
    assert user["groups"] == ["devs", "system:authenticated"]
    assert user["extra"] == {"scopes/a": ["read"]}


def test_other_names_and_missing_headers_are_not_front_proxies(proxied):
    server, port, base = proxied
    status, body = _review(port, base, "someone-else", {"X-Remote-User": "jane"})
    assert status == 401 and body["reason"] == "Unauthorized"
    status, body = _review(port, base, "front-proxy", {})
    assert status == 401


def test_the_configmap_publishes_the_flags(proxied):
    server, port, base = proxied
    status, cm = server.request("GET", "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication")
    assert status == 200
    data = cm["data"]
    assert data["requestheader-client-ca-file"] == (base / "front-proxy-ca.crt").read_text()
    assert json.loads(data["requestheader-allowed-names"]) == ["front-proxy"]
    assert json.loads(data["requestheader-username-headers"]) == ["X-Remote-User"]
    assert json.loads(data["requestheader-extra-headers-prefix"]) == ["X-Remote-Extra-"]

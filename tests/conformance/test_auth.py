"""The [sig-auth] entries an API server alone can pass: the CertificateSigningRequest API with its /approval
and /status subresources, ServiceAccounts (lifecycle, update, token automount), SubjectAccessReviews
checked against what an impersonated client may do, and OIDC discovery of the service-account issuer.

The last two run against a server of their own with TLS, RBAC, a static admin token and a service-account
signing key, as a conformance cluster has; the rest against the module's plain server."""

from __future__ import annotations

import base64
import datetime
import json
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from tests.conformance.support import MERGE, STRATEGIC, Watch, discovery_has, ok, unique, wait_for
from tests.e2e.conftest import APIServerProcess, free_port, http_request

CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
TOKEN_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def csr_and_certificate():
    """A PEM CSR and a PEM self-signed certificate, both for e2e.example.com."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "e2e.example.com")])
    san = x509.SubjectAlternativeName([x509.DNSName("e2e.example.com")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).add_extension(san, False).sign(
        key, hashes.SHA256())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).add_extension(san, False).sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM), cert.public_bytes(serialization.Encoding.PEM)


def test_certificatesigningrequest_api(apiserver):
    """CertificateSigningRequest API"""
    csr_pem, cert_pem = csr_and_certificate()
    signer = f"example.com/e2e-{unique('certificates')}"
    template = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                "metadata": {"generateName": "e2e-example-csr-"},
                "spec": {"request": b64(csr_pem), "signerName": signer, "expirationSeconds": 3600,
                         "usages": ["digital signature", "key encipherment", "server auth"]}}
    by_signer = f"fieldSelector=spec.signerName%3D{signer}"

    discovery_has(apiserver, "certificates.k8s.io/v1", "certificatesigningrequests",
                  "certificatesigningrequests/approval", "certificatesigningrequests/status")

    ok(apiserver.request("POST", CSRS, template))
    ok(apiserver.request("POST", CSRS, template))
    created = ok(apiserver.request("POST", CSRS, template))
    name = created["metadata"]["name"]
    got = ok(apiserver.request("GET", f"{CSRS}/{name}"))
    assert got["metadata"]["uid"] == created["metadata"]["uid"] and got["spec"]["expirationSeconds"] == 3600
    listed = ok(apiserver.request("GET", f"{CSRS}?{by_signer}"))
    assert len(listed["items"]) == 3

    rv = listed["metadata"]["resourceVersion"]
    with Watch(apiserver, f"{CSRS}?watch=true&resourceVersion={rv}&fieldSelector=metadata.name%3D{name}") as w:
        patched = ok(apiserver.request("PATCH", f"{CSRS}/{name}", {"metadata": {"annotations": {"patched": "true"}}},
                                       headers=MERGE))
        assert patched["metadata"]["annotations"]["patched"] == "true"
        patched["metadata"]["annotations"]["updated"] = "true"
        updated = ok(apiserver.request("PUT", f"{CSRS}/{name}", patched))
        assert updated["metadata"]["annotations"]["updated"] == "true"
        while True:
            event = w.next()
            assert event["type"] == "MODIFIED", event
            if event["object"]["metadata"].get("annotations", {}).get("patched") == "true":
                break

    approval = ok(apiserver.request("GET", f"{CSRS}/{name}/approval"))
    assert (approval["apiVersion"], approval["kind"]) == ("certificates.k8s.io/v1", "CertificateSigningRequest")
    assert approval["metadata"]["uid"] == created["metadata"]["uid"]
    patched = ok(apiserver.request("PATCH", f"{CSRS}/{name}/approval", {
        "metadata": {"annotations": {"patchedapproval": "true"}},
        "status": {"conditions": [{"type": "ApprovalPatch", "status": "True", "reason": "e2e"}]}}, headers=MERGE))
    assert [c["type"] for c in patched["status"]["conditions"]] == ["ApprovalPatch"]
    # Conditions written without times get them, as upstream's approval strategy fills them.
    first = patched["status"]["conditions"][0]
    assert first["lastUpdateTime"] and first["lastTransitionTime"]
    assert patched["metadata"]["annotations"]["patchedapproval"] == "true"
    patched["status"]["conditions"].append({"type": "Approved", "status": "True", "reason": "E2E",
                                            "message": "Set from an e2e test"})
    updated = ok(apiserver.request("PUT", f"{CSRS}/{name}/approval", patched))
    assert [c["type"] for c in updated["status"]["conditions"]] == ["ApprovalPatch", "Approved"]
    assert updated["status"]["conditions"][0]["lastTransitionTime"] == first["lastTransitionTime"]
    assert updated["status"]["conditions"][1]["lastUpdateTime"]

    status = ok(apiserver.request("GET", f"{CSRS}/{name}/status"))
    assert (status["apiVersion"], status["kind"]) == ("certificates.k8s.io/v1", "CertificateSigningRequest")
    assert status["metadata"]["uid"] == created["metadata"]["uid"]
    patched = ok(apiserver.request("PATCH", f"{CSRS}/{name}/status", {
        "metadata": {"annotations": {"patchedstatus": "true"}}, "status": {"certificate": b64(cert_pem)}},
        headers=MERGE))
    assert base64.b64decode(patched["status"]["certificate"]) == cert_pem
    assert patched["metadata"]["annotations"]["patchedstatus"] == "true"
    patched["status"]["conditions"].append({"type": "StatusUpdate", "status": "True", "reason": "E2E",
                                            "message": "Set from an e2e test"})
    updated = ok(apiserver.request("PUT", f"{CSRS}/{name}/status", patched))
    assert len(updated["status"]["conditions"]) == len(patched["status"]["conditions"])
    assert updated["status"]["conditions"][-1]["type"] == "StatusUpdate"

    ok(apiserver.request("DELETE", f"{CSRS}/{name}"))
    assert apiserver.request("GET", f"{CSRS}/{name}")[0] == 404
    assert len(ok(apiserver.request("GET", f"{CSRS}?{by_signer}"))["items"]) == 2
    ok(apiserver.request("DELETE", f"{CSRS}?{by_signer}"))
    assert ok(apiserver.request("GET", f"{CSRS}?{by_signer}"))["items"] == []


def test_serviceaccount_lifecycle_test(apiserver, namespace):
    """ServiceAccount lifecycle test"""
    ns, name = namespace, "testserviceaccount"
    accounts = f"/api/v1/namespaces/{ns}/serviceaccounts"
    selector = "labelSelector=test-serviceaccount-static%3Dtrue"
    created = ok(apiserver.request("POST", accounts, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {
        "name": name, "labels": {"test-serviceaccount-static": "true"}}}))
    assert ok(apiserver.request("GET", f"{accounts}/{name}"))["metadata"]["uid"] == created["metadata"]["uid"]
    with Watch(apiserver, f"{accounts}?watch=true&{selector}&timeoutSeconds=180") as w:
        assert w.next()["type"] == "ADDED"
        ok(apiserver.request("PATCH", f"{accounts}/{name}", {"automountServiceAccountToken": False},
                             headers=STRATEGIC))
        while w.next()["type"] != "MODIFIED":
            pass
        listed = ok(apiserver.request("GET", f"/api/v1/serviceaccounts?{selector}"))
        assert any(i["metadata"]["name"] == name and i["metadata"]["namespace"] == ns
                   and i.get("automountServiceAccountToken") is False for i in listed["items"])
        ok(apiserver.request("DELETE", accounts))
        while w.next()["type"] != "DELETED":
            pass


def test_serviceaccount_update_a_serviceaccount(apiserver, namespace):
    """ServiceAccount, update a ServiceAccount"""
    accounts = f"/api/v1/namespaces/{namespace}/serviceaccounts"
    name = unique("e2e-sa")
    created = ok(apiserver.request("POST", accounts, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                      "metadata": {"name": name},
                                                      "automountServiceAccountToken": False}))
    assert created["automountServiceAccountToken"] is False
    current = ok(apiserver.request("GET", f"{accounts}/{name}"))
    current["automountServiceAccountToken"] = True
    updated = ok(apiserver.request("PUT", f"{accounts}/{name}", current))
    assert updated["automountServiceAccountToken"] is True


def test_service_account_tokens_auto_mount_optionally(apiserver, namespace):
    """Service account tokens auto mount optionally

    The e2e framework waits for each namespace's `default` ServiceAccount, which the serviceaccount controller
    makes (here the apiserver's embedded copy)."""
    ns = namespace
    accounts = f"/api/v1/namespaces/{ns}/serviceaccounts"
    wait_for(lambda: apiserver.request("GET", f"{accounts}/default")[0] == 200, what="the default ServiceAccount")
    for name, automount in (("mount", True), ("nomount", False)):
        ok(apiserver.request("POST", accounts, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                "metadata": {"name": name}, "automountServiceAccountToken": automount}))
    cases = [  # pod name, service account, pod spec's automountServiceAccountToken, token volume expected
        ("pod-service-account-defaultsa", "default", None, True),
        ("pod-service-account-mountsa", "mount", None, True),
        ("pod-service-account-nomountsa", "nomount", None, False),
        ("pod-service-account-defaultsa-mountspec", "default", True, True),
        ("pod-service-account-mountsa-mountspec", "mount", True, True),
        ("pod-service-account-nomountsa-mountspec", "nomount", True, True),
        ("pod-service-account-defaultsa-nomountspec", "default", False, False),
        ("pod-service-account-mountsa-nomountspec", "mount", False, False),
        ("pod-service-account-nomountsa-nomountspec", "nomount", False, False),
    ]
    wrong = []
    for pod_name, account, automount, expected in cases:
        spec = {"containers": [{"name": "token-test", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53"}],
                "restartPolicy": "Never", "serviceAccountName": account}
        if automount is not None:
            spec["automountServiceAccountToken"] = automount
        pod = ok(apiserver.request("POST", f"/api/v1/namespaces/{ns}/pods", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod_name}, "spec": spec}))
        mounted = any(m["mountPath"] == TOKEN_MOUNT for c in pod["spec"]["containers"]
                      for m in c.get("volumeMounts", []))
        if mounted != expected:
            wrong.append((pod_name, mounted))
    assert not wrong, f"token volume mounted (pod, mounted) contrary to expectation: {wrong}"


# --- a server with TLS, RBAC, an admin token and a service-account signing key ---

ADMIN_TOKEN = "e2e-admin-token"
ISSUER = "https://kubernetes.default.svc.cluster.local"


class Secure:
    def __init__(self, server, port, ca_pem):
        self.server, self.url, self.context = server, f"https://127.0.0.1:{port}", ssl.create_default_context(
            cadata=ca_pem)

    def request(self, method, path, body=None, token=ADMIN_TOKEN, headers=None):
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return http_request(self.url + path, method, body, headers, context=self.context)


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    base = tmp_path_factory.mktemp("secure-auth")
    (base / "tokens.csv").write_text(f'{ADMIN_TOKEN},e2e-admin,100,"system:masters"\n')
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (base / "sa.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
    port = free_port()
    server = APIServerProcess(base / "data", args=(
        f"--secure-port={port}", "--bind-address=127.0.0.1", "--authorization-mode=Node,RBAC",
        f"--token-auth-file={base / 'tokens.csv'}", f"--service-account-issuer={ISSUER}",
        f"--service-account-key-file={base / 'sa.key'}", f"--service-account-signing-key-file={base / 'sa.key'}")
    ).start()
    admin = json.loads((server.data_dir / "admin.kubeconfig").read_text())
    ca_pem = base64.b64decode(admin["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    yield Secure(server, port, ca_pem)
    server.stop()


def secure_namespace(secure):
    name = unique("e2e")
    ok(secure.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": name}}))
    return name


def test_subjectreview_api_operations(secure):
    """SubjectReview, API Operations"""
    ns = secure_namespace(secure)
    sa = ok(secure.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts", {
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "e2e"}}))
    username = f"system:serviceaccount:{ns}:e2e"
    groups = ["system:authenticated", "system:serviceaccounts", f"system:serviceaccounts:{ns}"]
    uid = sa["metadata"]["uid"]
    attributes = {"verb": "list", "resource": "configmaps", "namespace": ns, "version": "v1"}

    review = ok(secure.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"resourceAttributes": attributes, "user": username, "groups": groups, "uid": uid}}))
    expected = review["status"]["allowed"]

    impersonate = {"Impersonate-User": username, "Impersonate-Uid": uid}
    req_headers = list(impersonate.items()) + [("Impersonate-Group", g) for g in groups]
    status, body = secure_request_multi(secure, "GET", f"/api/v1/namespaces/{ns}/configmaps", req_headers)
    assert status in (200, 403), (status, body)
    actually = status == 200
    assert actually == expected, f"SubjectAccessReview allowed {expected}, the request {status}: {body}"

    local = ok(secure.request("POST", f"/apis/authorization.k8s.io/v1/namespaces/{ns}/localsubjectaccessreviews", {
        "apiVersion": "authorization.k8s.io/v1", "kind": "LocalSubjectAccessReview",
        "metadata": {"namespace": ns},
        "spec": {"resourceAttributes": attributes, "user": "e2e", "groups": groups, "uid": uid}}))
    assert local["status"]["allowed"] == actually


def secure_request_multi(secure, method, path, header_items):
    """A request carrying repeated headers (several Impersonate-Group), as the admin."""
    import http.client
    conn = http.client.HTTPSConnection(secure.url.split("//")[1].split(":")[0], int(secure.url.rsplit(":", 1)[1]),
                                       context=secure.context, timeout=10)
    conn.putrequest(method, path)
    conn.putheader("Authorization", f"Bearer {ADMIN_TOKEN}")
    for key, value in header_items:
        conn.putheader(key, value)
    conn.endheaders()
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    return response.status, json.loads(raw)


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_oidc_discovery_serviceaccountissuerdiscovery(secure):
    """OIDC Discovery (ServiceAccountIssuerDiscovery)

    Upstream runs agnhost's test-service-account-issuer-discovery in a pod; this test does what that
    program does, from outside: take a token for the namespace's default ServiceAccount with audience
    oidc-discovery-test, read the issuer's discovery document and key set from the API server, and verify
    the token's signature and claims against them."""
    ns = secure_namespace(secure)
    # The apiserver's serviceaccount controller may have made it already.
    ok(secure.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts", {
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}), 201, 409)
    ok(secure.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": f"{ns}-system:service-account-issuer-discovery"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": ns}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "system:service-account-issuer-discovery"}}))
    issued = ok(secure.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts/default/token", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"audiences": ["oidc-discovery-test"], "expirationSeconds": 600}}))
    token = issued["status"]["token"]
    header_b64, claims_b64, signature_b64 = token.split(".")
    header, claims = json.loads(b64url_decode(header_b64)), json.loads(b64url_decode(claims_b64))

    # The validator reaches the API server with the pod's own (API-audience) token.
    api_token = ok(secure.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts/default/token", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}))["status"]["token"]
    status, discovery = secure.request("GET", "/.well-known/openid-configuration", token=api_token)
    assert status == 200, (status, discovery)
    assert discovery["issuer"] == claims["iss"] == ISSUER
    assert discovery["jwks_uri"].endswith("/openid/v1/jwks")
    assert "RS256" in discovery["id_token_signing_alg_values_supported"]
    status, jwks = secure.request("GET", "/openid/v1/jwks", token=api_token)
    assert status == 200, (status, jwks)

    key = next(k for k in jwks["keys"] if k.get("kid") == header.get("kid"))
    public = rsa.RSAPublicNumbers(int.from_bytes(b64url_decode(key["e"]), "big"),
                                  int.from_bytes(b64url_decode(key["n"]), "big")).public_key()
    public.verify(b64url_decode(signature_b64), f"{header_b64}.{claims_b64}".encode(), padding.PKCS1v15(),
                  hashes.SHA256())
    assert claims["sub"] == f"system:serviceaccount:{ns}:default"
    assert claims["aud"] == ["oidc-discovery-test"]

"""
Webhooks served by the test itself over HTTPS: an authorization webhook
(--authorization-mode=...,Webhook), and validating and mutating admission
webhooks with failurePolicy and timeouts.
"""

from __future__ import annotations

import base64
import json
import time

import pytest

from kapiserver.auth import certs

from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conformance.support import default_service_account

from .conftest import APIServerProcess, Kubectl, free_port, kubectl_binary
from .httpsjson import JSONHandler, serve_https
from .test_security import SecureServer

SEEN = []
QUERIES: dict = {}
# Identity providers sign ID tokens with RS256 most often; the test issuer does too.
OIDC_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ISSUER = {}


def _jwk(key) -> dict:
    numbers = key.public_key().public_numbers()

    def b64(number):
        return base64.urlsafe_b64encode(number.to_bytes((number.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()
    return {"kty": "RSA", "alg": "RS256", "use": "sig", "n": b64(numbers.n), "e": b64(numbers.e)}


class _Handler(JSONHandler):
    def do_GET(self):
        if self.path == "/.well-known/openid-configuration":
            answer = {"issuer": ISSUER["url"], "jwks_uri": ISSUER["url"] + "/jwks"}
        else:
            answer = {"keys": [_jwk(OIDC_KEY)]}
        self.reply_json(answer)

    def do_POST(self):
        body = self.read_json()
        path, _, query = self.path.partition("?")
        SEEN.append((path, body))
        QUERIES[path] = query
        if path == "/authorize":
            attributes = body["spec"].get("resourceAttributes") or {}
            status = {"allowed": False}
            if body["spec"]["user"] == "webhook-user":
                if attributes.get("resource") == "configmaps":
                    status = {"allowed": True}
                elif attributes.get("resource") == "secrets":
                    status = {"allowed": False, "denied": True, "reason": "secrets are off limits"}
            answer = dict(body, status=status)
        else:
            request = body["request"]
            response = {"uid": request["uid"], "allowed": True}
            labels = (request.get("object") or {}).get("metadata", {}).get("labels") or {}
            if path == "/validate" and labels.get("deny") == "yes":
                response = {"uid": request["uid"], "allowed": False,
                            "status": {"code": 403, "message": "label deny is set"}}
            elif path == "/mutate":
                patch = [{"op": "add", "path": "/metadata/labels", "value": dict(labels, mutated="true")}]
                response["patchType"] = "JSONPatch"
                response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
            elif path == "/slow":
                time.sleep(2.5)
            elif path == "/status" and (request["object"].get("status") or {}).get("message") == "deny":
                response = {"uid": request["uid"], "allowed": False,
                            "status": {"code": 403, "message": "this status is refused"}}
            elif path == "/exec":
                response = {"uid": request["uid"], "allowed": False,
                            "status": {"code": 403, "message": "no exec into " + request["name"]}}
            answer = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
        self.reply_json(answer)


@pytest.fixture(scope="module")
def webhook_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("webhook")
    server, ca_pem = serve_https(_Handler, base)
    # The slow webhook answers after the apiserver gave up: that broken pipe is expected.
    server.handle_error = lambda request, address: None
    url = f"https://127.0.0.1:{server.server_address[1]}"
    ISSUER["url"] = url
    (base / "ca.crt").write_bytes(ca_pem)
    yield url, ca_pem, base
    server.shutdown()


@pytest.fixture(scope="module")
def secure(webhook_server, tmp_path_factory):
    if not kubectl_binary():
        pytest.skip("kubectl is not installed on this machine")
    url, ca_pem, hook_dir = webhook_server
    base = tmp_path_factory.mktemp("secure-webhook")
    (base / "tokens.csv").write_text("hook-token,webhook-user,9\n")
    (base / "authz.kubeconfig").write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "w",
        "clusters": [{"name": "w", "cluster": {"server": url + "/authorize",
                                               "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "contexts": [{"name": "w", "context": {"cluster": "w", "user": "w"}}],
        "users": [{"name": "w", "user": {}}]}))
    port = free_port()
    server = APIServerProcess(base / "data", args=(
        f"--secure-port={port}", "--bind-address=127.0.0.1", "--authorization-mode=RBAC,Webhook",
        f"--authorization-webhook-config-file={base / 'authz.kubeconfig'}",
        f"--token-auth-file={base / 'tokens.csv'}", f"--oidc-issuer-url={url}", "--oidc-client-id=kapi",
        f"--oidc-ca-file={hook_dir / 'ca.crt'}", "--oidc-username-claim=email", "--oidc-groups-claim=groups",
        "--oidc-groups-prefix=oidc:")).start()
    yield SecureServer(server, port, base)
    server.stop()


def test_authorization_webhook_decides(secure):
    """What RBAC does not allow goes to the webhook: allowed, denied with its reason, or no opinion."""
    user = secure.kubeconfig("hook", {"token": "hook-token"})
    assert user("get", "configmaps", "-n", "default").returncode == 0
    denied = user("get", "secrets", "-n", "default", check=False)
    assert ('secrets is forbidden: User "webhook-user" cannot list resource "secrets" in API group "" in the '
            'namespace "default": secrets are off limits') in denied.stderr
    denied = user("get", "pods", "-n", "default", check=False)
    assert 'User "webhook-user" cannot list resource "pods"' in denied.stderr
    reviews = [body for path, body in SEEN if path == "/authorize"]
    assert reviews and reviews[-1]["kind"] == "SubjectAccessReview"
    assert reviews[-1]["spec"]["user"] == "webhook-user"


def _webhook_configuration(kind: str, name: str, url: str, ca_pem: bytes, **extra) -> dict:
    webhook = {"name": f"{name}.example.com", "clientConfig": {"url": url,
                                                              "caBundle": base64.b64encode(ca_pem).decode()},
               "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                          "resources": ["configmaps"]}],
               "sideEffects": "None", "admissionReviewVersions": ["v1"],
               "namespaceSelector": {"matchLabels": {"hooks": "on"}}, **extra}
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": {"name": name},
            "webhooks": [webhook]}


def test_admission_webhooks(secure, webhook_server):
    """A validating webhook denies with upstream's message, a mutating one patches; selectors apply."""
    url, ca_pem, _ = webhook_server
    api = secure.server
    for kind, name, path in (("ValidatingWebhookConfiguration", "validate", "/validate"),
                             ("MutatingWebhookConfiguration", "mutate", "/mutate")):
        resource = kind.lower().replace("webhookconfiguration", "webhookconfigurations")
        status, body = api.request("POST", f"/apis/admissionregistration.k8s.io/v1/{resource}",
                                   _webhook_configuration(kind, name, url + path, ca_pem))
        assert status == 201, body
    api.request("POST", "/api/v1/namespaces", {"metadata": {"name": "hooked", "labels": {"hooks": "on"}}})
    status, body = api.request("POST", "/api/v1/namespaces/hooked/configmaps",
                               {"metadata": {"name": "bad", "labels": {"deny": "yes"}}})
    assert (status, body["message"]) == (403, 'admission webhook "validate.example.com" denied the request: '
                                              'label deny is set')
    status, body = api.request("POST", "/api/v1/namespaces/hooked/configmaps", {"metadata": {"name": "good"}})
    assert status == 201 and body["metadata"]["labels"] == {"mutated": "true"}
    # Outside the selected namespaces nothing is called.
    status, body = api.request("POST", "/api/v1/namespaces/default/configmaps",
                               {"metadata": {"name": "plain", "labels": {"deny": "yes"}}})
    assert status == 201 and body["metadata"]["labels"] == {"deny": "yes"}
    review = [b for p, b in SEEN if p == "/validate"][-1]
    assert review["request"]["operation"] == "CREATE" and review["request"]["namespace"] == "hooked"
    # As client-go's request tells the server its timeout.
    assert QUERIES["/validate"] == "timeout=10s"
    assert review["request"]["userInfo"]["username"] == "system:unsecured"


def test_admission_webhook_timeout_and_failure_policy(secure, webhook_server):
    """A webhook slower than timeoutSeconds fails the request with Fail and is skipped with Ignore."""
    url, ca_pem, _ = webhook_server
    api = secure.server
    api.request("POST", "/api/v1/namespaces", {"metadata": {"name": "slow", "labels": {"hooks": "on"}}})
    for policy in ("Fail", "Ignore"):
        configuration = _webhook_configuration("ValidatingWebhookConfiguration", f"slow-{policy.lower()}",
                                               url + "/slow", ca_pem, timeoutSeconds=1, failurePolicy=policy)
        configuration["webhooks"][0]["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": "slow"}}
        status, body = api.request("POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
                                   configuration)
        assert status == 201, body
        status, body = api.request("POST", "/api/v1/namespaces/slow/configmaps",
                                   {"metadata": {"name": f"cm-{policy.lower()}"}})
        if policy == "Fail":
            assert status == 500
            assert body["message"] == ('Internal error occurred: failed calling webhook "slow-fail.example.com": '
                                       f'failed to call webhook: Post "{url}/slow?timeout=1s": context deadline '
                                       'exceeded')
            api.request("DELETE", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/slow-fail")
        else:
            assert status == 201


def _rule_hook(name: str, url: str, ca_pem: bytes, operations: list, resources: list, namespace: str) -> dict:
    """A ValidatingWebhookConfiguration of one webhook for ``resources`` of the core group in ``namespace``."""
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": name},
            "webhooks": [{"name": f"{name}.example.com",
                          "clientConfig": {"url": url, "caBundle": base64.b64encode(ca_pem).decode()},
                          "rules": [{"operations": operations, "apiGroups": [""], "apiVersions": ["v1"],
                                     "resources": resources}],
                          "sideEffects": "None", "admissionReviewVersions": ["v1"],
                          "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}]}


def _pod(name: str) -> dict:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def test_validating_webhook_for_pod_status_sees_status_updates(secure, webhook_server):
    """A webhook registered for UPDATE of pods/status is called for a status update, with the subresource,
    and can refuse it; updates of the pod itself are not sent to it."""
    url, ca_pem, _ = webhook_server
    api = secure.server
    api.request("POST", "/api/v1/namespaces", {"metadata": {"name": "status-hooked"}})
    default_service_account(api, "status-hooked")    # ServiceAccount admission refuses pods until then
    status, body = api.request("POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
                               _rule_hook("status", url + "/status", ca_pem, ["UPDATE"], ["pods/status"],
                                          "status-hooked"))
    assert status == 201, body
    status, pod = api.request("POST", "/api/v1/namespaces/status-hooked/pods", _pod("p"))
    assert status == 201, pod
    pod["metadata"]["labels"] = {"changed": "yes"}
    status, pod = api.request("PUT", "/api/v1/namespaces/status-hooked/pods/p", pod)
    assert status == 200, pod
    assert not [b for p, b in SEEN if p == "/status"]
    pod["status"] = {"message": "deny"}
    status, body = api.request("PUT", "/api/v1/namespaces/status-hooked/pods/p/status", pod)
    assert (status, body["message"]) == (403, 'admission webhook "status.example.com" denied the request: '
                                               'this status is refused')
    pod["status"] = {"message": "fine"}
    status, body = api.request("PUT", "/api/v1/namespaces/status-hooked/pods/p/status", pod)
    assert status == 200 and body["status"]["message"] == "fine"
    request = [b for p, b in SEEN if p == "/status"][-1]["request"]
    assert (request["operation"], request["subResource"], request["requestSubResource"]) == \
        ("UPDATE", "status", "status")
    assert request["kind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert request["resource"] == {"group": "", "version": "v1", "resource": "pods"}
    assert (request["name"], request["namespace"]) == ("p", "status-hooked")
    assert request["oldObject"]["status"].get("message") != "fine"


def test_validating_webhook_for_connect_denies_kubectl_exec(secure, webhook_server, tmp_path):
    """A webhook registered for CONNECT on pods/exec refuses `kubectl exec`; its AdmissionReview carries
    CONNECT, the subresource, and the PodExecOptions as the object."""
    url, ca_pem, _ = webhook_server
    api = secure.server
    api.request("POST", "/api/v1/namespaces", {"metadata": {"name": "exec-hooked"}})
    default_service_account(api, "exec-hooked")
    status, body = api.request("POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
                               _rule_hook("exec", url + "/exec", ca_pem, ["CONNECT"], ["pods/exec"],
                                          "exec-hooked"))
    assert status == 201, body
    status, body = api.request("POST", "/api/v1/namespaces/exec-hooked/pods", _pod("shell"))
    assert status == 201, body
    kubectl = Kubectl(kubectl_binary(), api, tmp_path)
    result = kubectl("exec", "-n", "exec-hooked", "shell", "--", "echo", "hello", check=False)
    assert result.returncode != 0
    assert 'admission webhook "exec.example.com" denied the request: no exec into shell' in result.stderr
    request = [b for p, b in SEEN if p == "/exec"][-1]["request"]
    assert (request["operation"], request["subResource"], request["name"], request["namespace"]) == \
        ("CONNECT", "exec", "shell", "exec-hooked")
    assert request["kind"] == {"group": "", "version": "v1", "kind": "PodExecOptions"}
    assert request["resource"] == {"group": "", "version": "v1", "resource": "pods"}
    options = request["object"]
    assert (options["kind"], options["apiVersion"], options["container"], options["command"]) == \
        ("PodExecOptions", "v1", "c", ["echo", "hello"])
    assert options["stdout"] is True and "stdin" not in options
    assert request["oldObject"] is None
    # Other pods' subresources, and other namespaces, are not sent to it.
    api.request("POST", "/api/v1/namespaces/default/pods", _pod("elsewhere"))
    seen = len([b for p, b in SEEN if p == "/exec"])
    result = kubectl("exec", "-n", "default", "elsewhere", "--", "echo", "hello", check=False)
    assert "does not have a host assigned" in result.stderr
    assert len([b for p, b in SEEN if p == "/exec"]) == seen


def test_oidc_id_tokens(secure):
    """An ID token from the issuer, for the client ID, is the user of its claims; others are 401."""
    from kapiserver.auth import jwt
    now = int(time.time())
    claims = {"iss": ISSUER["url"], "aud": "kapi", "sub": "1234", "email": "dora@example.com",
              "email_verified": True, "groups": ["admins", "devs"], "iat": now, "exp": now + 600}
    dora = secure.kubeconfig("dora", {"token": jwt.sign(claims, OIDC_KEY)})
    user = json.loads(dora("auth", "whoami", "-o", "json").stdout)["status"]["userInfo"]
    assert user == {"username": "dora@example.com", "groups": ["oidc:admins", "oidc:devs", "system:authenticated"]}
    for bad in (dict(claims, aud="other"), dict(claims, exp=now - 10)):
        result = secure.kubeconfig("bad", {"token": jwt.sign(bad, OIDC_KEY)})("get", "ns", check=False)
        assert "You must be logged in to the server" in result.stderr
    forged = secure.kubeconfig("forged", {"token": jwt.sign(claims, certs.new_key())})("get", "ns", check=False)
    assert "You must be logged in to the server" in forged.stderr

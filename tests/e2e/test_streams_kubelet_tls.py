"""
A secure kubelet API end to end: the node agent serves HTTPS with a certificate from the cluster CA,
authenticates client certificates against that CA and bearer tokens with TokenReviews, and authorizes
with SubjectAccessReviews (--authorization-mode=Webhook, --anonymous-auth=false); the apiserver dials it
with --kubelet-https=true and a client certificate bound by RBAC to nodes/proxy and friends, so kubectl's
logs, exec and port-forward go through the authenticated kubelet.
"""

from __future__ import annotations

import json
import socket
import ssl
import sys
import urllib.error
import urllib.request

import pytest

from kapiserver.auth import certs

from .conftest import APIServerProcess, Kubectl, free_port, kubectl_binary
from .test_streams import NodeProcess, _connectable, _port_forward, _running, _wait

NODE = "tls-kubelet"
KUBELET_CLIENT = "kube-apiserver-kubelet-client"
# What kubeadm's system:kubelet-api-admin grants the apiserver's kubelet client.
KUBELET_API_ADMIN = {
    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
    "metadata": {"name": "kubelet-api-admin"},
    "rules": [{"apiGroups": [""], "resources": ["nodes/proxy", "nodes/log", "nodes/stats", "nodes/metrics"],
               "verbs": ["*"]},
              {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch", "proxy"]}]}
BINDING = {
    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
    "metadata": {"name": "apiserver-kubelet-client"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubelet-api-admin"},
    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": KUBELET_CLIENT}]}


def _write_pair(directory, name, cert, key):
    (directory / f"{name}.crt").write_bytes(certs.cert_pem(cert))
    (directory / f"{name}.key").write_bytes(certs.key_pem(key))
    return directory / f"{name}.crt", directory / f"{name}.key"


@pytest.fixture(scope="module")
def secure_kubelet(tmp_path_factory):
    binary = kubectl_binary()
    if not binary:
        pytest.skip("kubectl is not installed on this machine")
    data = tmp_path_factory.mktemp("ktls-api") / "data"
    keys = tmp_path_factory.mktemp("ktls-keys")
    ca_path = data / "pki" / certs.CA_CERT
    # The client certificate's files are read when the apiserver dials, so they may be written after it starts.
    server = APIServerProcess(data, args=(
        f"--secure-port={free_port()}", "--bind-address=127.0.0.1", "--authorization-mode=RBAC",
        "--kubelet-https=true", f"--kubelet-client-certificate={keys / (KUBELET_CLIENT + '.crt')}",
        f"--kubelet-client-key={keys / (KUBELET_CLIENT + '.key')}",
        f"--kubelet-certificate-authority={ca_path}")).start()
    node = NodeProcess(server, tmp_path_factory.mktemp("ktls-node"), name=NODE)
    try:
        ca_cert, ca_key = certs.load_certificates(str(ca_path))[0], certs.load_key(str(data / "pki" / certs.CA_KEY))
        _write_pair(keys, KUBELET_CLIENT, *certs.sign_certificate(ca_cert, ca_key, KUBELET_CLIENT, client=True))
        _write_pair(keys, "viewer", *certs.sign_certificate(ca_cert, ca_key, "viewer", ["viewers"], client=True))
        serving = _write_pair(keys, "kubelet", *certs.sign_certificate(
            ca_cert, ca_key, NODE, hosts=[NODE, socket.gethostname().lower(), "127.0.0.1", "localhost"]))
        kc = Kubectl(binary, server, tmp_path_factory.mktemp("ktls-kubectl"))
        kc.kubeconfig = data / "admin.kubeconfig"
        rbac = "/apis/rbac.authorization.k8s.io/v1"
        assert server.request("POST", f"{rbac}/clusterroles", KUBELET_API_ADMIN)[0] == 201
        assert server.request("POST", f"{rbac}/clusterrolebindings", BINDING)[0] == 201
        node.kubeconfig = data / "admin.kubeconfig"
        node.extra_args = (f"--tls-cert-file={serving[0]}", f"--tls-private-key-file={serving[1]}",
                           f"--client-ca-file={ca_path}", "--authorization-mode=Webhook",
                           "--anonymous-auth=false", "--authentication-token-webhook")
        node.start()
        yield kc, node, keys, ca_path
    finally:
        node.stop()
        server.stop()


def _kubelet_get(node, keys, ca_path, path, user=None, token=None, method="GET"):
    """(status, body) of one request straight to the kubelet port, verifying its certificate."""
    context = ssl.create_default_context(cafile=str(ca_path))
    if user:
        context.load_cert_chain(str(keys / f"{user}.crt"), str(keys / f"{user}.key"))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"https://127.0.0.1:{node.port}{path}", headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, response.read().decode(), response.headers.get("Content-Type")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers.get("Content-Type")


def test_logs_exec_and_port_forward_through_the_secure_kubelet(secure_kubelet, tmp_path_factory, monkeypatch):
    """kubectl logs, exec (stdin and exit code) and port-forward (both over WebSocket and SPDY) and
    nodes/proxy work when the apiserver reaches the kubelet over verified TLS with its client certificate,
    and neither process logs a traceback."""
    kc, node, _, _ = secure_kubelet
    port = free_port()
    kc("run", "secure-web", "--image=python", "--", sys.executable, "-u", "-m", "http.server", str(port),
       "--bind", "127.0.0.1", "--directory", str(tmp_path_factory.mktemp("ktls-www")))
    _running(kc, "secure-web")
    _wait(lambda: "Serving HTTP on 127.0.0.1" in kc("logs", "secure-web").stdout, what="log through the secure kubelet")
    for websockets in ("true", "false"):
        monkeypatch.setenv("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", websockets)
        result = kc("exec", "-i", "secure-web", "--", "sh", "-c", "cat; exit 3", input="through tls\n",
                    check=False)
        assert result.returncode == 3 and result.stdout == "through tls\n", result.stderr
    assert kc("get", "--raw", f"/api/v1/nodes/{NODE}/proxy/healthz").stdout == "ok"
    _wait(lambda: _connectable(port), what="web listening")
    for websockets in ("true", "false"):
        status, body = _port_forward(kc, port, {"KUBECTL_PORT_FORWARD_WEBSOCKETS": websockets}, pod="secure-web")
        assert status == 200 and b"Directory listing" in body
    # A pod's proxy goes to the pod in plain HTTP, not through the kubelet's TLS; name:port and
    # scheme:name:port both name the pod.
    for name in (f"secure-web:{port}", f"http:secure-web:{port}"):
        assert "Directory listing" in kc("get", "--raw", f"/api/v1/namespaces/default/pods/{name}/proxy/").stdout
    assert "Traceback" not in node.log_path.read_text() + kc.server.log_path.read_text()


def test_a_request_without_credentials_is_unauthorized(secure_kubelet):
    """With --anonymous-auth=false a request with no client certificate and no token is 401 Unauthorized,
    /healthz included, in upstream's plain-text body."""
    _, node, keys, ca_path = secure_kubelet
    for path in ("/pods", "/healthz", "/containerLogs/default/secure-web/secure-web"):
        status, body, content_type = _kubelet_get(node, keys, ca_path, path)
        assert (status, body) == (401, "Unauthorized")
        assert content_type.startswith("text/plain")


def test_a_user_without_rights_on_nodes_proxy_is_forbidden(secure_kubelet):
    """A client certificate for a user RBAC grants nothing on nodes is 403 with upstream's body naming the
    user, the verb from the method and the subresource from the path; the apiserver's identity is let in."""
    _, node, keys, ca_path = secure_kubelet
    assert _kubelet_get(node, keys, ca_path, "/pods", "viewer")[:2] == \
        (403, "Forbidden (user=viewer, verb=get, resource=nodes, subresource(s)=[proxy])\n")
    assert _kubelet_get(node, keys, ca_path, "/stats/summary", "viewer")[:2] == \
        (403, "Forbidden (user=viewer, verb=get, resource=nodes, subresource(s)=[stats])\n")
    assert _kubelet_get(node, keys, ca_path, "/run/default/secure-web/secure-web", "viewer", method="POST")[:2] \
        == (403, "Forbidden (user=viewer, verb=create, resource=nodes, subresource(s)=[proxy])\n")
    status, body, _ = _kubelet_get(node, keys, ca_path, "/pods", KUBELET_CLIENT)
    assert status == 200 and json.loads(body)["kind"] == "PodList"


def test_stats_and_resource_metrics_for_the_apiservers_client_certificate(secure_kubelet):
    """/stats/summary and /metrics/resource answer the apiserver's client certificate (nodes/stats and
    nodes/metrics), straight and through the apiserver's node proxy, as metrics-server reads them."""
    kc, node, keys, ca_path = secure_kubelet
    status, body, content_type = _kubelet_get(node, keys, ca_path, "/stats/summary", KUBELET_CLIENT)
    assert status == 200 and json.loads(body)["node"]["nodeName"] == NODE
    status, body, content_type = _kubelet_get(node, keys, ca_path, "/metrics/resource", KUBELET_CLIENT)
    assert status == 200 and content_type.startswith("text/plain") and "\nnode_cpu_usage_seconds_total " in body
    raw = kc("get", "--raw", f"/api/v1/nodes/{NODE}/proxy/metrics/resource").stdout
    assert "# TYPE container_memory_working_set_bytes gauge" in raw and "resource_scrape_error 0" in raw


def test_bearer_tokens_are_checked_with_token_reviews(secure_kubelet):
    """A service account token is authenticated by a TokenReview (then refused by the SubjectAccessReview);
    a token the apiserver does not know is 401."""
    kc, node, keys, ca_path = secure_kubelet
    kc("create", "serviceaccount", "kubelet-prober")
    token = kc("create", "token", "kubelet-prober").stdout.strip()
    assert _kubelet_get(node, keys, ca_path, "/pods", token=token)[:2] == \
        (403, "Forbidden (user=system:serviceaccount:default:kubelet-prober, verb=get, resource=nodes, "
              "subresource(s)=[proxy])\n")
    assert _kubelet_get(node, keys, ca_path, "/pods", token="not-a-token")[:2] == (401, "Unauthorized")


def test_self_signed_kubelet_without_a_certificate_authority(tmp_path_factory):
    """`--serve-https` alone generates a self-signed serving certificate into <root-dir>/pki; an apiserver
    with --kubelet-https=true and no --kubelet-certificate-authority reaches it without verifying it."""
    binary = kubectl_binary()
    if not binary:
        pytest.skip("kubectl is not installed on this machine")
    data = tmp_path_factory.mktemp("ss-api") / "data"
    server = APIServerProcess(data, args=(f"--secure-port={free_port()}", "--bind-address=127.0.0.1",
                                          "--kubelet-https=true")).start()
    node = NodeProcess(server, tmp_path_factory.mktemp("ss-node"), name="self-signed")
    node.extra_args = ("--serve-https",)
    try:
        node.start()
        assert (node.home / "root" / "pki" / "kubelet.crt").exists()
        kc = Kubectl(binary, server, tmp_path_factory.mktemp("ss-kubectl"))
        kc("run", "self-signed-echo", "--image=busybox", "--", "sh", "-c", "echo self-signed; sleep 3600")
        _running(kc, "self-signed-echo")
        _wait(lambda: kc("logs", "self-signed-echo").stdout == "self-signed\n", what="log over self-signed TLS")
        assert kc("get", "--raw", "/api/v1/nodes/self-signed/proxy/healthz").stdout == "ok"
    finally:
        node.stop()
        server.stop()

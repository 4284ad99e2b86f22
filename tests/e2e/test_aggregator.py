"""
The aggregation layer on a real server: an extension apiserver served by the test over HTTPS (requiring the
front-proxy client certificate kapiserver generated), registered with an APIService, a Service and its
Endpoints; requests for its group-version are authorized by kapiserver, then proxied with the user in the
X-Remote-* headers; the APIService's Available condition follows the service.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer

import pytest

from kapiserver.auth import certs

from .conftest import APIServerProcess, free_port
from .httpsjson import JSONHandler

GROUP, VERSION = "wardle.example.com", "v1alpha1"
NAMESPACE, SERVICE = "wardle", "api"
TOKENS = 'admin-token,admin,1,"system:masters"\nnobody-token,nobody,2\n'
SEEN: list[dict] = []


class _Extension(JSONHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        peer = self.connection.getpeercert() or {}
        common_name = next((value for rdn in peer.get("subject", ()) for key, value in rdn
                            if key == "commonName"), "")
        SEEN.append({"path": self.path, "cn": common_name,
                     "user": self.headers.get("X-Remote-User"),
                     "groups": self.headers.get_all("X-Remote-Group") or [],
                     "authorization": self.headers.get("Authorization")})
        path = self.path.partition("?")[0]
        if self.headers.get("Upgrade") == "echo":
            self._echo()
        elif path == f"/apis/{GROUP}/{VERSION}":
            self.reply_json({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{GROUP}/{VERSION}",
                             "resources": [{"name": "flunders", "singularName": "flunder", "namespaced": True,
                                            "kind": "Flunder", "verbs": ["get", "list"]}]})
        elif path == "/openapi/v2":
            self.reply_json({"swagger": "2.0", "info": {"title": "wardle", "version": "v0"},
                             "paths": {f"/apis/{GROUP}/{VERSION}/namespaces/{{namespace}}/flunders": {"get": {
                                 "operationId": "listWardleV1alpha1NamespacedFlunder",
                                 "responses": {"200": {"description": "OK",
                                                       "schema": {"$ref": "#/definitions/wardle.v1alpha1.FlunderList"}}}}},
                                       "/api/v1/namespaces": {"get": {"operationId": "notMine"}}},
                             "definitions": {"wardle.v1alpha1.FlunderList": {"type": "object"},
                                             "io.k8s.api.core.v1.Pod": {"type": "string"}}})
        elif path == f"/openapi/v3/apis/{GROUP}/{VERSION}":
            self.reply_json({"openapi": "3.0.0", "info": {"title": "wardle", "version": "v0"},
                             "paths": {f"/apis/{GROUP}/{VERSION}/namespaces/{{namespace}}/flunders": {}},
                             "components": {"schemas": {"wardle.v1alpha1.Flunder": {"type": "object"}}}})
        elif path.endswith("/flunders"):
            self.reply_json({"kind": "FlunderList", "apiVersion": f"{GROUP}/{VERSION}",
                             "metadata": {"resourceVersion": "1"},
                             "items": [{"kind": "Flunder", "apiVersion": f"{GROUP}/{VERSION}",
                                        "metadata": {"name": "one", "namespace": "default",
                                                     "creationTimestamp": "2024-01-01T00:00:00Z"}}]})
        else:
            self.reply_json({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404}, 404)


    def _echo(self):
        """Switch to a line echo protocol that first names the user it was upgraded for."""
        self.wfile.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
        self.wfile.write(f"hello {self.headers.get('X-Remote-User')}\n".encode())
        self.wfile.flush()
        for line in self.rfile:
            self.wfile.write(line)
            self.wfile.flush()
        self.close_connection = True


def _serve_extension(directory, client_ca: str):
    ca, ca_key = certs.new_ca("wardle-ca")
    cert, key = certs.sign_certificate(ca, ca_key, "wardle", hosts=[f"{SERVICE}.{NAMESPACE}.svc"])
    (directory / "tls.crt").write_bytes(certs.cert_pem(cert))
    (directory / "tls.key").write_bytes(certs.key_pem(key))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Extension)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "tls.crt", directory / "tls.key")
    context.load_verify_locations(client_ca)
    context.verify_mode = ssl.CERT_REQUIRED
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, certs.cert_pem(ca)


class _Cluster:
    def __init__(self, server: APIServerProcess, port: int):
        self.server = server
        self.url = f"https://127.0.0.1:{port}"
        admin = json.loads((server.data_dir / "admin.kubeconfig").read_text())
        self.ca_pem = base64.b64decode(admin["clusters"][0]["cluster"]["certificate-authority-data"])

    def secure(self, path: str, token: str):
        """(status, content type, body) of a GET on the secure port as the token's user."""
        context = ssl.create_default_context(cadata=self.ca_pem.decode())
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as response:
                return response.status, response.headers.get("Content-Type"), response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type"), e.read()

    def create(self, path: str, body: dict) -> dict:
        status, answer = self.server.request("POST", path, body)
        assert status == 201, answer
        return answer

    def condition(self, name: str, reason: str) -> dict:
        """The APIService's Available condition once it has ``reason`` (waits for the controller)."""
        deadline = time.monotonic() + 30
        while True:
            status, apiservice = self.server.request("GET", f"/apis/apiregistration.k8s.io/v1/apiservices/{name}")
            conditions = (apiservice.get("status") or {}).get("conditions") or []
            available = next((c for c in conditions if c["type"] == "Available"), {})
            if available.get("reason") == reason or time.monotonic() > deadline:
                return available
            time.sleep(0.1)


def _apiservice(group: str, service: str, ca_pem: bytes) -> dict:
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": f"{VERSION}.{group}"},
            "spec": {"group": group, "version": VERSION, "groupPriorityMinimum": 1000, "versionPriority": 15,
                     "caBundle": base64.b64encode(ca_pem).decode(),
                     "service": {"namespace": NAMESPACE, "name": service, "port": 443}}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("aggregator")
    (base / "tokens.csv").write_text(TOKENS)
    port = free_port()
    server = APIServerProcess(base / "data", args=(
        f"--secure-port={port}", "--bind-address=127.0.0.1", "--authorization-mode=RBAC",
        f"--token-auth-file={base / 'tokens.csv'}")).start()
    extension, extension_ca = _serve_extension(base, str(base / "data" / "pki" / "front-proxy-ca.crt"))
    cluster = _Cluster(server, port)
    cluster.create("/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
    cluster.create(f"/api/v1/namespaces/{NAMESPACE}/services", {
        "metadata": {"name": SERVICE},
        "spec": {"ports": [{"name": "https", "port": 443, "targetPort": extension.server_port}]}})
    cluster.create(f"/api/v1/namespaces/{NAMESPACE}/endpoints", {
        "metadata": {"name": SERVICE},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                     "ports": [{"name": "https", "port": extension.server_port}]}]})
    cluster.create("/apis/apiregistration.k8s.io/v1/apiservices", _apiservice(GROUP, SERVICE, extension_ca))
    cluster.create("/apis/apiregistration.k8s.io/v1/apiservices",
                   _apiservice("missing.example.com", "absent", extension_ca))
    yield cluster
    extension.shutdown()
    server.stop()


def test_the_apiservice_becomes_available(cluster):
    condition = cluster.condition(f"{VERSION}.{GROUP}", "Passed")
    assert (condition["status"], condition["message"]) == ("True", "all checks passed"), cluster.server.log()


def test_a_missing_service_is_unavailable_and_answered_503(cluster):
    condition = cluster.condition(f"{VERSION}.missing.example.com", "ServiceNotFound")
    assert condition == dict(condition, status="False", reason="ServiceNotFound",
                             message=f'service/absent in "{NAMESPACE}" is not present')
    status, content_type, body = cluster.secure(f"/apis/missing.example.com/{VERSION}/flunders", "admin-token")
    assert (status, content_type, body) == (503, "text/plain; charset=utf-8", b"service unavailable\n")


def test_requests_are_proxied_with_the_user(cluster):
    cluster.condition(f"{VERSION}.{GROUP}", "Passed")
    del SEEN[:]
    status, _, body = cluster.secure(f"/apis/{GROUP}/{VERSION}/namespaces/default/flunders?limit=5", "admin-token")
    assert status == 200, body
    assert [item["metadata"]["name"] for item in json.loads(body)["items"]] == ["one"]
    # The apiserver's own controllers and its OpenAPI aggregation may discover the group meanwhile.
    assert [seen for seen in SEEN if "/flunders" in seen["path"]] == [
        {"path": f"/apis/{GROUP}/{VERSION}/namespaces/default/flunders?limit=5",
         "cn": "front-proxy-client", "user": "admin",
         "groups": ["system:masters", "system:authenticated"], "authorization": None}]


def test_unauthorized_users_are_refused_before_proxying(cluster):
    cluster.condition(f"{VERSION}.{GROUP}", "Passed")
    del SEEN[:]
    status, _, body = cluster.secure(f"/apis/{GROUP}/{VERSION}/namespaces/default/flunders", "nobody-token")
    assert status == 403, body
    assert json.loads(body)["message"] == (f'flunders.{GROUP} is forbidden: User "nobody" cannot list resource '
                                           f'"flunders" in API group "{GROUP}" in the namespace "default"')
    # Nothing reached the extension for nobody (the apiserver's own controllers discover its resources meanwhile).
    assert [seen for seen in SEEN if seen["user"] == "nobody" or seen["path"].endswith("/flunders")] == []


def test_the_extension_apiserver_authentication_configmap_is_published(cluster):
    status, configmap = cluster.server.request(
        "GET", "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication")
    assert status == 200, configmap
    data = configmap["data"]
    pki = cluster.server.data_dir / "pki"
    assert data == {"client-ca-file": (pki / "ca.crt").read_text(),
                    "requestheader-client-ca-file": (pki / "front-proxy-ca.crt").read_text(),
                    "requestheader-allowed-names": '["front-proxy-client"]',
                    "requestheader-username-headers": '["X-Remote-User"]',
                    "requestheader-group-headers": '["X-Remote-Group"]',
                    "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]'}


def test_discovery_lists_the_remote_group(cluster):
    cluster.condition(f"{VERSION}.{GROUP}", "Passed")
    status, groups = cluster.server.request("GET", "/apis")
    names = [g["name"] for g in groups["groups"]]
    assert GROUP in names and names.index(GROUP) > names.index("apiregistration.k8s.io")
    status, root = cluster.server.request("GET", "/")
    assert {f"/apis/{GROUP}", f"/apis/{GROUP}/{VERSION}"} <= set(root["paths"])
    status, group = cluster.server.request("GET", f"/apis/{GROUP}")
    assert (status, group) == (200, {"kind": "APIGroup", "apiVersion": "v1", "name": GROUP,
                                     "versions": [{"groupVersion": f"{GROUP}/{VERSION}", "version": VERSION}],
                                     "preferredVersion": {"groupVersion": f"{GROUP}/{VERSION}",
                                                          "version": VERSION}})
    status, aggregated = cluster.server.request("GET", "/apis", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"})
    entry = next(item for item in aggregated["items"] if item["metadata"]["name"] == GROUP)
    assert entry["versions"] == [{"version": VERSION, "resources": [
        {"resource": "flunders", "responseKind": {"group": "", "version": "", "kind": "Flunder"},
         "scope": "Namespaced", "singularResource": "flunder", "verbs": ["get", "list"]}], "freshness": "Current"}]


def test_openapi_merges_the_remote_documents(cluster):
    """/openapi/v2 gains the extension's paths under its group and its new definitions (ours win a clash);
    /openapi/v3 lists its group-version, served as the extension answered it."""
    cluster.condition(f"{VERSION}.{GROUP}", "Passed")
    status, v2 = cluster.server.request("GET", "/openapi/v2")
    assert status == 200
    assert f"/apis/{GROUP}/{VERSION}/namespaces/{{namespace}}/flunders" in v2["paths"]
    assert v2["paths"]["/api/v1/namespaces"]["get"]["operationId"] != "notMine"
    assert v2["definitions"]["wardle.v1alpha1.FlunderList"] == {"type": "object"}
    assert v2["definitions"]["io.k8s.api.core.v1.Pod"]["type"] == "object"
    status, index = cluster.server.request("GET", "/openapi/v3")
    url = index["paths"][f"apis/{GROUP}/{VERSION}"]["serverRelativeURL"]
    assert url.startswith(f"/openapi/v3/apis/{GROUP}/{VERSION}?hash=")
    status, v3 = cluster.server.request("GET", url)
    assert status == 200 and v3["components"]["schemas"] == {"wardle.v1alpha1.Flunder": {"type": "object"}}
    import urllib.request
    request = urllib.request.Request(cluster.server.url + "/openapi/v2",
                                     headers={"Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert f"/apis/{GROUP}/{VERSION}/namespaces/{{namespace}}/flunders".encode() in response.read()


def test_kubectl_gets_the_remote_resource(cluster, tmp_path):
    from .conftest import Kubectl, kubectl_binary
    if not kubectl_binary():
        pytest.skip("kubectl is not installed on this machine")
    cluster.condition(f"{VERSION}.{GROUP}", "Passed")
    kubectl = Kubectl(kubectl_binary(), cluster.server, tmp_path)
    out = kubectl("get", "flunders", "-n", "default", "-o", "name").stdout
    assert out.split() == [f"flunder.{GROUP}/one"]


def test_upgrades_are_relayed_with_the_user(cluster):
    cluster.condition(f"{VERSION}.{GROUP}", "Passed")
    import socket
    context = ssl.create_default_context(cadata=cluster.ca_pem.decode())
    port = int(cluster.url.rpartition(":")[2])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
            conn.sendall(f"GET /apis/{GROUP}/{VERSION}/namespaces/default/flunders/one/attach HTTP/1.1\r\n"
                         f"Host: 127.0.0.1\r\nAuthorization: Bearer admin-token\r\nX-Remote-User: forged\r\n"
                         f"Connection: Upgrade\r\nUpgrade: echo\r\n\r\n".encode())
            reader = conn.makefile("rb")
            assert reader.readline() == b"HTTP/1.1 101 Switching Protocols\r\n"
            while reader.readline() not in (b"\r\n", b""):
                pass
            assert reader.readline() == b"hello admin\n"
            conn.sendall(b"ping\n")
            assert reader.readline() == b"ping\n"

"""The [sig-network] Proxy entries that proxy requests to a running agnhost `porter` pod
(test/e2e/network/proxy.go in kubernetes/kubernetes), against one apiserver process and one kube-node process.

How these differ from upstream's e2e tests, and why: the pod shares the host's network, so porter serves a free
port rather than 80 (SERVE_PORT_<free port>), and the pod declares that port so the portless pods/NAME/proxy
reaches it as upstream's reaches port 80; the Service's port is still 80, its targetPort the free port."""

from __future__ import annotations

import http.client
import json

import pytest

from tests.conformance.support import ok, wait_for
from tests.e2e.conftest import free_port
from tests.e2e.test_streams import NodeProcess

NODE = "proxy-node"
VERBS = ("DELETE", "OPTIONS", "PATCH", "POST", "PUT")


@pytest.fixture(scope="module")
def node(apiserver, tmp_path_factory):
    process = NodeProcess(apiserver, tmp_path_factory.mktemp("node"), name=NODE)
    process.start()
    yield process
    process.stop()


def raw(apiserver, method: str, path: str):
    """(status, headers, body) of one request, redirects not followed (as the e2e test's client)."""
    conn = http.client.HTTPConnection("127.0.0.1", apiserver.port, timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response, response.read().decode()
    finally:
        conn.close()


def porter(apiserver, namespace: str, labels: dict, service: str) -> None:
    """An agnhost porter pod answering "foo" as JSON with the request's method, and a Service on port 80 for it;
    back once the pod runs and answers through the pod proxy."""
    port = free_port()
    ok(apiserver.request("POST", f"/api/v1/namespaces/{namespace}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "agnhost", "labels": labels},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": "agnhost", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
            "command": ["/agnhost", "porter", "--json-response"],
            "env": [{"name": f"SERVE_PORT_{port}", "value": "foo"}], "ports": [{"containerPort": port}]}]}}))
    ok(apiserver.request("POST", f"/api/v1/namespaces/{namespace}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": service, "labels": labels},
        "spec": {"ports": [{"port": 80, "targetPort": port, "protocol": "TCP"}], "selector": labels}}))
    wait_for(lambda: ok(apiserver.request("GET", f"/api/v1/namespaces/{namespace}/pods/agnhost"))
             .get("status", {}).get("phase") == "Running", what="porter pod Running")
    wait_for(lambda: raw(apiserver, "POST", f"/api/v1/namespaces/{namespace}/pods/agnhost/proxy/")[0] == 200,
             what="porter answering through the pod proxy")


def answered(apiserver, method: str, path: str) -> dict:
    status, response, body = raw(apiserver, method, path)
    assert status == 200, (method, path, status, body)
    if method == "HEAD":
        return {}
    assert response.getheader("Content-Type") == "application/json"
    return json.loads(body)


def test_proxy_validate_proxy_responses(apiserver, node, namespace):
    """Proxy, validate Proxy responses: pods/NAME/proxy and services/NAME/proxy relay DELETE, OPTIONS, PATCH, POST
    and PUT (the method porter reports is the one sent, the body its value), and a GET or HEAD of the bare proxy
    path is a 301."""
    porter(apiserver, namespace, {"e2e-test": "proxy-endpoints"}, "e2e-proxy-test-service")
    for base in (f"/api/v1/namespaces/{namespace}/pods/agnhost/proxy",
                 f"/api/v1/namespaces/{namespace}/services/e2e-proxy-test-service/proxy"):
        for verb in VERBS:
            assert answered(apiserver, verb, f"{base}?method={verb}") == {"Method": verb, "Body": "foo"}
        for verb in ("GET", "HEAD"):
            status, response, _ = raw(apiserver, verb, f"{base}?method={verb}")
            assert status == 301, (verb, base, status)
            assert response.getheader("Location") == f"{base}/?method={verb}"


def test_proxy_validate_proxywithpath_responses(apiserver, node, namespace):
    """Proxy, validate ProxyWithPath responses: pods/NAME/proxy/PATH and services/NAME/proxy/PATH relay every
    method, HEAD included, each answered 200 (with porter's body and the method sent but for HEAD)."""
    porter(apiserver, namespace, {"test": "response"}, "test-service")
    for base in (f"/api/v1/namespaces/{namespace}/pods/agnhost/proxy",
                 f"/api/v1/namespaces/{namespace}/services/test-service/proxy"):
        for verb in ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"):
            answer = answered(apiserver, verb, f"{base}/some/path/with/{verb}")
            assert answer == ({} if verb == "HEAD" else {"Method": verb, "Body": "foo"}), (verb, base)

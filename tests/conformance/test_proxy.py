"""The [sig-network] Proxy entries that proxy requests to a running agnhost `porter` pod
(test/e2e/network/proxy.go in kubernetes/kubernetes), against one apiserver process and one kube-node process.

How these differ from upstream's e2e tests, and why: the pod shares the host's network, so porter serves a free
port rather than 80 (SERVE_PORT_<free port>), and the pod declares that port so the portless pods/NAME/proxy
reaches it as upstream's reaches port 80; the Service's port is still 80, its targetPort the free port.  "Proxy,
logs service endpoint" likewise serves free ports in place of 80, 160, 162, 443, 460, 462 and 1080 (the Service's
own ports are upstream's), runs the Deployment with kube-controller-manager's deployment, replicaset and endpoints
controllers in this process, and tries each URL twice rather than 20 times concurrently."""

from __future__ import annotations

import http.client
import json

import pytest

from kapiserver.client.resources import DEPLOYMENTS, ENDPOINTS, PODS, SERVICES
from tests.conformance.support import ok, wait_for
from tests.controllermanager.conftest import client, controllers, eventually, run  # noqa: F401
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


def test_proxy_logs_service_endpoint(apiserver, node, namespace, client, controllers):  # noqa: F811
    """Proxy, logs service endpoint ("should proxy through a service and a pod"): a Deployment's porter pod serving
    plain HTTP and TLS ports, and a Service naming them, answer through services/[SCHEME:]NAME:PORTNAME/proxy/ and
    pods/[SCHEME:]NAME[:PORT]/proxy/ (http and https backends, named target ports through the Service), an HTML
    body's link coming back under the pod proxy's path."""
    controllers("deployment-controller", "replicaset-controller", "endpoints-controller")
    ports = {name: str(free_port()) for name in ("80", "1080", "160", "162", "443", "460", "462")}
    labels = {"proxy-service-target": "true"}
    service = run(client.create(SERVICES, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"generateName": "proxy-service-"},
        "spec": {"selector": labels, "ports": [
            {"name": "portname1", "port": 80, "targetPort": "dest1"},
            {"name": "portname2", "port": 81, "targetPort": int(ports["162"])},
            {"name": "tlsportname1", "port": 443, "targetPort": "tlsdest1"},
            {"name": "tlsportname2", "port": 444, "targetPort": int(ports["462"])}]}}, namespace))
    name = service["metadata"]["name"]
    link, tls_link = '<a href="/rewriteme">test</a>', '<a href="/tlsrewriteme">test</a>'
    env = {f"SERVE_PORT_{ports['80']}": link, f"SERVE_PORT_{ports['1080']}": link,
           f"SERVE_PORT_{ports['160']}": "foo", f"SERVE_PORT_{ports['162']}": "bar",
           f"SERVE_TLS_PORT_{ports['443']}": tls_link, f"SERVE_TLS_PORT_{ports['460']}": "tls baz",
           f"SERVE_TLS_PORT_{ports['462']}": "tls qux"}
    container = {
        "name": name, "image": "registry.k8s.io/e2e-test-images/agnhost:2.53", "command": ["/agnhost", "porter"],
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "ports": [{"containerPort": int(ports["80"])}] + [
            {"name": n, "containerPort": int(ports[p])}
            for n, p in (("dest1", "160"), ("dest2", "162"), ("tlsdest1", "460"), ("tlsdest2", "462"))],
        "readinessProbe": {"httpGet": {"port": int(ports["80"])}, "initialDelaySeconds": 1, "timeoutSeconds": 5,
                           "periodSeconds": 10}}
    run(client.create(DEPLOYMENTS, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "strategy": {"type": "Recreate"},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}}, namespace))

    def complete():
        status = run(client.get(DEPLOYMENTS, name, namespace)).get("status") or {}
        return status.get("updatedReplicas") == 1 and status.get("availableReplicas") == 1
    eventually(complete, timeout=60)
    pod = run(client.list(PODS, namespace, label_selector="proxy-service-target=true"))["items"][0]["metadata"]["name"]
    eventually(lambda: any(s.get("addresses") for s in run(client.get(ENDPOINTS, name, namespace)).get("subsets")
                           or []), timeout=30)

    def url(resource, scheme, target, port):
        # As upstream's net.JoinSchemeNamePort.
        joined = f"{scheme}:{target}:{port}" if scheme else f"{target}:{port}" if port else target
        return f"/api/v1/namespaces/{namespace}/{resource}/{joined}/proxy"
    service_url = lambda scheme, port: url("services", scheme, name, port)  # noqa: E731
    pod_url = lambda scheme, port: url("pods", scheme, pod, port)  # noqa: E731
    rewritten = lambda base, path: f'<a href="{base}/{path}">test</a>'  # noqa: E731
    expectations = {
        service_url("", "portname1") + "/": "foo",
        service_url("http", "portname1") + "/": "foo",
        service_url("", "portname2") + "/": "bar",
        service_url("http", "portname2") + "/": "bar",
        service_url("https", "tlsportname1") + "/": "tls baz",
        service_url("https", "tlsportname2") + "/": "tls qux",
        pod_url("", "") + "/": rewritten(pod_url("", ""), "rewriteme"),
        pod_url("", ports["1080"]) + "/": rewritten(pod_url("", ports["1080"]), "rewriteme"),
        pod_url("http", ports["1080"]) + "/": rewritten(pod_url("http", ports["1080"]), "rewriteme"),
        pod_url("", ports["160"]) + "/": "foo",
        pod_url("http", ports["160"]) + "/": "foo",
        pod_url("", ports["162"]) + "/": "bar",
        pod_url("http", ports["162"]) + "/": "bar",
        pod_url("https", ports["443"]) + "/": rewritten(pod_url("https", ports["443"]), "tlsrewriteme"),
        pod_url("https", ports["460"]) + "/": "tls baz",
        pod_url("https", ports["462"]) + "/": "tls qux",
    }
    failures = []
    for attempt in range(2):
        for path, wanted in expectations.items():
            status, _, body = raw(apiserver, "GET", path)
            if (status, body) != (200, wanted):
                failures.append(f"{attempt}: {path}: wanted 200 {wanted!r}, got {status} {body!r}")
    assert not failures, "\n".join(failures)

"""horizontal-pod-autoscaler-controller with a real resource metrics API: a fake metrics-server served by the
test over HTTPS, registered as the APIService v1beta1.metrics.k8s.io (as tests/e2e/test_aggregator.py serves
an extension apiserver); the controller runs on the admin kubeconfig's client, so over HTTP/2 on the
secure port, and reads PodMetrics through the aggregation layer."""

from __future__ import annotations

import base64
import json
import ssl
import threading
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from kapiserver.auth import certs
from kapiserver.client.resources import DEPLOYMENTS, ENDPOINTS, NAMESPACES, SERVICES, Resource
from kapiserver.client.rest import client_from_kubeconfig
from kapiserver.controllermanager.horizontal import HPAS
from kapiserver.machinery.meta import rfc3339
from tests.controllermanager.conftest import eventually, run
from tests.controllermanager.test_horizontal import _condition, _deployment, _events, _hpa, _ready_pods
from tests.e2e.conftest import APIServerProcess, free_port
from tests.e2e.httpsjson import JSONHandler

USAGE: dict = {}          # namespace -> {pod name: cpu usage}
SEEN: list = []


class _MetricsServer(JSONHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        parts = urlsplit(self.path)
        SEEN.append(parts.path)
        segments = parts.path.strip("/").split("/")
        if parts.path == "/apis/metrics.k8s.io/v1beta1":
            self.reply_json({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "metrics.k8s.io/v1beta1",
                             "resources": [{"name": "pods", "singularName": "", "namespaced": True,
                                            "kind": "PodMetrics", "verbs": ["get", "list"]}]})
        elif len(segments) == 6 and segments[3] == "namespaces" and segments[5] == "pods":
            selector = (parse_qs(parts.query).get("labelSelector") or [""])[0]
            wanted = dict(term.split("=", 1) for term in selector.split(",") if "=" in term)
            items = [{"metadata": {"name": name, "namespace": segments[4], "labels": labels},
                      "timestamp": rfc3339(1_800_000_000), "window": "30s",
                      "containers": [{"name": "c", "usage": {"cpu": cpu, "memory": "10Mi"}}]}
                     for name, (cpu, labels) in USAGE.get(segments[4], {}).items()
                     if all(labels.get(k) == v for k, v in wanted.items())]
            self.reply_json({"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {},
                             "items": items})
        else:
            self.reply_json({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404,
                             "reason": "NotFound", "message": "not found"}, 404)


def _serve_metrics(directory, client_ca: str):
    ca, ca_key = certs.new_ca("metrics-ca")
    cert, key = certs.sign_certificate(ca, ca_key, "metrics-server", hosts=["metrics-server.kube-system.svc"])
    (directory / "tls.crt").write_bytes(certs.cert_pem(cert))
    (directory / "tls.key").write_bytes(certs.key_pem(key))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _MetricsServer)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "tls.crt", directory / "tls.key")
    context.load_verify_locations(client_ca)
    context.verify_mode = ssl.CERT_REQUIRED
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, certs.cert_pem(ca)


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory):
    base = tmp_path_factory.mktemp("hpa-metrics")
    server = APIServerProcess(base / "data", args=(f"--secure-port={free_port()}",
                                                   "--bind-address=127.0.0.1")).start()
    metrics, metrics_ca = _serve_metrics(base, str(base / "data" / "pki" / "front-proxy-ca.crt"))
    server.metrics = metrics
    server.metrics_ca = metrics_ca
    yield server
    metrics.shutdown()
    server.stop()


@pytest.fixture
def client(apiserver):
    client = client_from_kubeconfig(str(apiserver.data_dir / "admin.kubeconfig"), user_agent="hpa-tests")
    yield client
    run(client.close())


@pytest.fixture(scope="module")
def metrics_api(apiserver):
    """The APIService v1beta1.metrics.k8s.io, Available."""
    client = client_from_kubeconfig(str(apiserver.data_dir / "admin.kubeconfig"), user_agent="hpa-tests")
    port = apiserver.metrics.server_port
    run(client.create(SERVICES, {"apiVersion": "v1", "kind": "Service",
                                 "metadata": {"name": "metrics-server", "namespace": "kube-system"},
                                 "spec": {"ports": [{"name": "https", "port": 443, "targetPort": port}]}}))
    run(client.create(ENDPOINTS, {"apiVersion": "v1", "kind": "Endpoints",
                                  "metadata": {"name": "metrics-server", "namespace": "kube-system"},
                                  "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                                               "ports": [{"name": "https", "port": port}]}]}))
    apiservices = Resource("apiregistration.k8s.io", "v1", "apiservices", "APIService", namespaced=False)
    run(client.create(apiservices, {
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v1beta1.metrics.k8s.io"},
        "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100, "versionPriority": 100,
                 "caBundle": base64.b64encode(apiserver.metrics_ca).decode(),
                 "service": {"namespace": "kube-system", "name": "metrics-server", "port": 443}}}))

    def available():
        got = run(client.get(apiservices, "v1beta1.metrics.k8s.io"))
        return any(c["type"] == "Available" and c["status"] == "True"
                   for c in (got.get("status") or {}).get("conditions") or [])
    eventually(available, timeout=30)
    run(client.close())


def test_the_controller_scales_from_the_aggregated_metrics_api(metrics_api, controllers, client):
    """Pods at 200m of a 100m request against a 50% target: the Deployment goes 2 -> 4 -> 8 from metrics read
    through the APIService; the client spoke HTTP/2."""
    namespace = "hpa-metrics"
    run(client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}))
    run(client.create(DEPLOYMENTS, _deployment("api", namespace)))
    USAGE[namespace] = {name: ("200m", {"app": "api"}) for name in _ready_pods(client, namespace, 2)}
    controllers("horizontal-pod-autoscaler-controller", horizontal_pod_autoscaler_sync_period=0.5)
    run(client.create(HPAS, _hpa("api", namespace, "api")))
    eventually(lambda: run(client.get(DEPLOYMENTS, "api", namespace))["spec"]["replicas"] == 8, timeout=30)
    reason = "cpu resource utilization (percentage of request) above target"
    eventually(lambda: {("SuccessfulRescale", f"New size: 4; reason: {reason}"),
                        ("SuccessfulRescale", f"New size: 8; reason: {reason}")} <= _events(client, namespace, "api"),
               timeout=30)
    eventually(lambda: _condition(run(client.get(HPAS, "api", namespace)), "ScalingActive")["reason"] ==
               "ValidMetricFound", timeout=30)
    assert f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods" in SEEN
    assert client.protocol == "h2"
    assert json.dumps(run(client.get(HPAS, "api", namespace))["status"]["currentMetrics"]) == json.dumps(
        [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageValue": "200m",
                                                                      "averageUtilization": 200}}}])

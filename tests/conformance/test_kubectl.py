"""kubectl against the server as the [sig-cli] entries an API server alone can pass drive it: api-versions,
cluster-info, version, diff, label, replace, run, server-side dry-run, and kubectl proxy on a port and on
a unix socket.

Upstream, the label and replace entries first wait for their pod to run (a kubelet); here the pods stay
Pending and the tests go on to what the entries check, the objects kubectl reads and writes.
"Kubectl, logs" needs a kubelet running agnhost's logs-generator and is skipped."""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess

import pytest

from tests.conformance.support import ok, wait_for

HTTPD = "registry.k8s.io/e2e-test-images/httpd:2.4.38-4"
BUSYBOX = "registry.k8s.io/e2e-test-images/busybox:1.36.1-1"
PAUSE = "registry.k8s.io/pause:3.10"

HTTPD_DEPLOYMENT = f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: httpd-deployment
spec:
  replicas: 2
  selector:
    matchLabels:
      app: httpd
  template:
    metadata:
      labels:
        app: httpd
    spec:
      containers:
      - name: httpd
        image: {HTTPD}
        ports:
        - containerPort: 80
"""


def test_kubectl_check_version_v1(kubectl):
    """Kubectl, check version v1"""
    versions = kubectl("api-versions").stdout.split()
    assert "v1" in versions, versions


def test_kubectl_cluster_info(kubectl):
    """Kubectl, cluster info"""
    out = kubectl("cluster-info").stdout
    assert "Kubernetes control plane" in out and "is running at" in out, out


def test_kubectl_version(kubectl):
    """Kubectl, version"""
    out = kubectl("version").stdout
    for item in ("Client Version:", "Server Version:"):
        assert item in out, out
    server = json.loads(kubectl("version", "-o", "json").stdout)["serverVersion"]
    for field in ("major", "minor", "gitVersion", "gitCommit", "goVersion", "platform"):
        assert server.get(field), server


def test_kubectl_diff_deployment(kubectl, namespace):
    """Kubectl, diff Deployment"""
    kubectl("-n", namespace, "create", "-f", "-", input=HTTPD_DEPLOYMENT)
    declared = HTTPD_DEPLOYMENT.replace(HTTPD, BUSYBOX, 1)
    result = kubectl("-n", namespace, "diff", "-f", "-", input=declared, check=False)
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    for image in (HTTPD, BUSYBOX):
        assert image in result.stdout, result.stdout
    kubectl("-n", namespace, "delete", "deployment", "httpd-deployment")


def test_kubectl_label_update(kubectl, namespace):
    """Kubectl, label update"""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pause", "labels": {"name": "pause"}},
           "spec": {"containers": [{"name": "pause", "image": PAUSE}]}}
    kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(pod))
    kubectl("-n", namespace, "label", "pods", "pause", "testing-label=testing-label-value")
    out = kubectl("-n", namespace, "get", "pod", "pause", "-L", "testing-label").stdout
    assert "TESTING-LABEL" in out and "testing-label-value" in out, out
    kubectl("-n", namespace, "label", "pods", "pause", "testing-label-")
    out = kubectl("-n", namespace, "get", "pod", "pause", "-L", "testing-label").stdout
    assert "testing-label-value" not in out, out
    kubectl("-n", namespace, "delete", "pod", "pause", "--grace-period=0", "--force")


def test_kubectl_replace(kubectl, apiserver, namespace):
    """Kubectl, replace"""
    name = "e2e-test-httpd-pod"
    kubectl("-n", namespace, "run", name, f"--image={HTTPD}", "--pod-running-timeout=2m0s", f"--labels=run={name}")
    pod_json = kubectl("-n", namespace, "get", "pod", name, "-o", "json").stdout
    assert name in pod_json
    kubectl("-n", namespace, "replace", "-f", "-", input=pod_json.replace(HTTPD, BUSYBOX, 1))
    pod = ok(apiserver.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}"))
    assert [c["image"] for c in pod["spec"]["containers"]] == [BUSYBOX]
    kubectl("-n", namespace, "delete", "pods", name, "--grace-period=0", "--force")


def test_kubectl_run_pod(kubectl, apiserver, namespace):
    """Kubectl, run pod"""
    name = "e2e-test-httpd-pod"
    kubectl("-n", namespace, "run", name, "--restart=Never", "--pod-running-timeout=2m0s", f"--image={HTTPD}")
    pod = ok(apiserver.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}"))
    assert [c["image"] for c in pod["spec"]["containers"]] == [HTTPD]
    assert pod["spec"]["restartPolicy"] == "Never"
    kubectl("-n", namespace, "delete", "pods", name, "--grace-period=0", "--force")


def test_kubectl_server_side_dry_run_pod(kubectl, apiserver, namespace):
    """Kubectl, server-side dry-run Pod"""
    name = "e2e-test-httpd-pod"
    kubectl("-n", namespace, "run", name, f"--image={HTTPD}", "--pod-running-timeout=2m0s", f"--labels=run={name}")
    patch = json.dumps({"spec": {"containers": [{"name": name, "image": BUSYBOX}]}})
    out = kubectl("-n", namespace, "patch", "pod", name, "-p", patch, "--dry-run=server", "-o", "json").stdout
    assert [c["image"] for c in json.loads(out)["spec"]["containers"]] == [BUSYBOX]
    pod = ok(apiserver.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}"))
    assert [c["image"] for c in pod["spec"]["containers"]] == [HTTPD]
    kubectl("-n", namespace, "delete", "pods", name, "--grace-period=0", "--force")


def api_versions(conn) -> list[str]:
    conn.request("GET", "/api/")
    response = conn.getresponse()
    body = json.loads(response.read())
    assert response.status == 200, body
    return body["versions"]


def test_kubectl_proxy_port_zero(kubectl):
    """Kubectl, proxy port zero"""
    proxy = kubectl.popen("proxy", "-p", "0", "--disable-filter")
    try:
        line = proxy.stdout.readline()
        match = re.search(r"Starting to serve on 127\.0\.0\.1:(\d+)", line)
        assert match, line
        conn = http.client.HTTPConnection("127.0.0.1", int(match.group(1)), timeout=10)
        versions = api_versions(conn)
        assert versions == ["v1"], versions
    finally:
        proxy.terminate()
        proxy.wait(10)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.unix_path)


def test_kubectl_proxy_socket(kubectl, tmp_path):
    """Kubectl, proxy socket"""
    path = tmp_path / "kubectl-proxy.sock"
    proxy = kubectl.popen("proxy", f"--unix-socket={path}")
    try:
        wait_for(path.exists, timeout=15, what="the proxy's socket")
        versions = api_versions(UnixHTTPConnection(str(path)))
        assert versions == ["v1"], versions
    finally:
        proxy.terminate()
        try:
            proxy.wait(10)
        except subprocess.TimeoutExpired:
            proxy.kill()


@pytest.mark.skip(reason="needs a kubelet running agnhost's logs-generator to produce the log lines")
def test_kubectl_logs():
    """Kubectl, logs"""

"""
The node streams on the secure port: the node agent joins with the generated admin kubeconfig
(CA + client certificate), and kubectl's exec and logs are relayed through TLS connections; logs and
proxy requests arrive over HTTP/2, exec and port-forward upgrade HTTP/1.1 connections.
"""

from __future__ import annotations

import sys

import pytest

from .conftest import APIServerProcess, Kubectl, free_port, kubectl_binary
from .test_streams import NodeProcess, _connectable, _port_forward, _running, _wait


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    data = tmp_path_factory.mktemp("tls-api") / "data"
    server = APIServerProcess(data, args=(f"--secure-port={free_port()}", "--bind-address=127.0.0.1")).start()
    node = NodeProcess(server, tmp_path_factory.mktemp("tls-node"), name="secure-node")
    node.kubeconfig = data / "admin.kubeconfig"
    try:
        node.start()
        yield server, data / "admin.kubeconfig"
    finally:
        node.stop()
        server.stop()


def test_exec_and_logs_over_tls(secure, tmp_path_factory):
    """A node registered over https runs the pod; exec (WebSocket and SPDY) and logs work over TLS."""
    binary = kubectl_binary()
    if not binary:
        pytest.skip("kubectl is not installed on this machine")
    server, kubeconfig = secure
    kc = Kubectl(binary, server, tmp_path_factory.mktemp("tls-kubectl"))
    kc.kubeconfig = kubeconfig
    kc("run", "secure", "--image=busybox", "--", "sh", "-c", "echo over-tls; sleep 3600")
    _running(kc, "secure")
    _wait(lambda: kc("logs", "secure").stdout == "over-tls\n", what="log over TLS")
    result = kc("exec", "-i", "secure", "--", "sh", "-c", "cat; exit 6", input="in\n", check=False)
    assert result.returncode == 6 and result.stdout == "in\n"


def test_logs_follow_and_proxy_over_http2(secure, tmp_path_factory, monkeypatch):
    """Over HTTP/2 (Go's http2 debug log shows it), `kubectl logs -f` streams lines as they are written and
    pods/proxy and nodes/proxy answer: forwarded requests, not taken-over connections; port-forward
    (WebSocket and SPDY) still upgrades its own HTTP/1.1 connection."""
    binary = kubectl_binary()
    if not binary:
        pytest.skip("kubectl is not installed on this machine")
    server, kubeconfig = secure
    kc = Kubectl(binary, server, tmp_path_factory.mktemp("h2-kubectl"))
    kc.kubeconfig = kubeconfig
    kc("run", "h2-ticker", "--image=busybox", "--", "sh", "-c",
       "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done")
    _running(kc, "h2-ticker")
    monkeypatch.setenv("GODEBUG", "http2debug=1")
    follow = kc.popen("logs", "-f", "h2-ticker", "--tail=1")
    try:
        lines = [follow.stdout.readline() for _ in range(4)]
    finally:
        follow.kill()
        _, debug = follow.communicate()
    numbers = [int(line.split()[1]) for line in lines]
    assert numbers == sorted(numbers) and numbers[-1] > numbers[0]
    assert "/pods/h2-ticker/log" in debug and "http2: Transport" in debug, debug[-2000:]
    port = free_port()
    monkeypatch.delenv("GODEBUG")
    kc("run", "h2-web", "--image=python", "--", sys.executable, "-m", "http.server", str(port), "--bind",
       "127.0.0.1", "--directory", str(tmp_path_factory.mktemp("h2-www")))
    _running(kc, "h2-web")
    _wait(lambda: _connectable(port), what="web listening")
    monkeypatch.setenv("GODEBUG", "http2debug=1")
    listing = kc("get", "--raw", f"/api/v1/namespaces/default/pods/h2-web:{port}/proxy/")
    assert "Directory listing" in listing.stdout and "http2: Transport" in listing.stderr
    assert kc("get", "--raw", "/api/v1/nodes/secure-node/proxy/healthz").stdout == "ok"
    monkeypatch.delenv("GODEBUG")
    for websockets in ("true", "false"):
        status, body = _port_forward(kc, port, {"KUBECTL_PORT_FORWARD_WEBSOCKETS": websockets}, pod="h2-web")
        assert status == 200 and b"Directory listing" in body
    assert "Traceback" not in server.log_path.read_text()

"""
The node streams on the secure port: the node agent joins with the generated admin kubeconfig
(CA + client certificate), and kubectl's exec and logs are relayed through TLS connections.
"""

from __future__ import annotations

import pytest

from .conftest import APIServerProcess, Kubectl, free_port, kubectl_binary
from .test_streams import NodeProcess, _running, _wait


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

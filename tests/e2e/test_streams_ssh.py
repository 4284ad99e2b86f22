"""
The node streams through an SSH tunnel: a real sshd (Debian openssh-server) on 127.0.0.2:22, an
apiserver started with --ssh-user/--ssh-keyfile, and a node agent serving on 127.0.0.2; logs and
exec reach the kubelet only through direct-tcpip channels of the tunnel.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

import pytest

from .conftest import APIServerProcess, Kubectl, kubectl_binary, stop_process
from .test_streams import NodeProcess, _running, _wait

SSHD = "/usr/sbin/sshd"
ADDRESS = "127.0.0.2"


def _port_free(host, port):
    """Nothing listens there (TIME_WAIT leftovers of an earlier run do not count)."""
    with socket.socket() as s:
        s.settimeout(1)
        try:
            s.connect((host, port))
            return False
        except OSError:
            return True


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    if not os.access(SSHD, os.X_OK) or shutil.which("ssh-keygen") is None:
        pytest.skip("openssh-server is not installed")
    if os.geteuid() != 0:
        pytest.skip("sshd needs root to log users in")
    if not _port_free(ADDRESS, 22):
        pytest.skip(f"{ADDRESS}:22 is taken")
    home = tmp_path_factory.mktemp("sshd")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / "host_key")], check=True)
    # An RSA client key: the harder case (SHA-256 signatures, as OpenSSH 8.8+ requires).
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f",
                    str(home / "client_key")], check=True)
    (home / "authorized_keys").write_text((home / "client_key.pub").read_text())
    os.makedirs("/run/sshd", exist_ok=True)
    config = home / "sshd_config"
    config.write_text(
        f"ListenAddress {ADDRESS}\nPort 22\nHostKey {home / 'host_key'}\n"
        f"AuthorizedKeysFile {home / 'authorized_keys'}\nStrictModes no\nPasswordAuthentication no\n"
        f"PermitRootLogin prohibit-password\nAllowTcpForwarding yes\nUsePAM no\nPidFile {home / 'sshd.pid'}\n")
    log = open(home / "sshd.log", "ab")
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: not _port_free(ADDRESS, 22) or process.poll() is not None, what="sshd listening")
        if process.poll() is not None:
            pytest.skip(f"sshd did not start: {(home / 'sshd.log').read_text()[-500:]}")
        yield home / "client_key", home
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def tunnelled(sshd, tmp_path_factory):
    key, home = sshd
    server = APIServerProcess(tmp_path_factory.mktemp("ssh-api") / "data", args=(
        "--secure-port=0", "--ssh-user=root", f"--ssh-keyfile={key}",
        "--kubelet-preferred-address-types=InternalIP")).start()
    node = NodeProcess(server, tmp_path_factory.mktemp("ssh-node"), name="tunnelled")
    node.extra_args = (f"--address={ADDRESS}",)
    try:
        node.start()
        yield server, node, home
    finally:
        node.stop()
        server.stop()


def test_logs_and_exec_through_the_ssh_tunnel(tunnelled, tmp_path_factory):
    """kubectl logs and exec reach a kubelet that the apiserver dials only through sshd's direct-tcpip."""
    binary = kubectl_binary()
    if not binary:
        pytest.skip("kubectl is not installed on this machine")
    server, node, home = tunnelled
    kc = Kubectl(binary, server, tmp_path_factory.mktemp("ssh-kubectl"))
    kc("run", "tunnelled", "--image=busybox", "--", "sh", "-c", "echo through-ssh; sleep 3600")
    _running(kc, "tunnelled")
    _wait(lambda: kc("logs", "tunnelled").stdout == "through-ssh\n", what="log through the tunnel")
    result = kc("exec", "tunnelled", "--", "sh", "-c", "echo exec-ok; exit 5", check=False)
    assert result.returncode == 5 and result.stdout == "exec-ok\n"
    status, text = server.request("GET", "/healthz?verbose=true")
    assert status == 200 and "[+]ssh-tunnels ok" in text
    # The connections came from sshd, not from the apiserver itself.
    assert "direct-tcpip" in (home / "sshd.log").read_text() or "Accepted publickey" in \
        (home / "sshd.log").read_text()

"""`twistd -n kube-cluster` end to end: the real daemons, kubectl with the admin kubeconfig, a clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port, kubectl_binary

from .processes import Watched, eventually, not_yet, processes_mentioning

ROOT = Path(__file__).resolve().parent.parent.parent


def kubectl(binary, kubeconfig, cache, *args, check=True) -> str:
    result = subprocess.run([binary, f"--kubeconfig={kubeconfig}", f"--cache-dir={cache}", *args],
                            capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr}")
    return result.stdout.strip()


def signed_user_kubeconfig(binary, admin: Path, cache, tmp_path, user: str) -> Path:
    """A kubeconfig for `user` whose certificate the cluster signed through a CertificateSigningRequest."""
    import base64

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    request = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user)])).sign(key, hashes.SHA256())
    csr = tmp_path / "csr.json"
    csr.write_text(json.dumps({
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": user},
        "spec": {"request": base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode(),
                 "signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth"]}}))
    kubectl(binary, admin, cache, "create", "-f", str(csr))
    kubectl(binary, admin, cache, "certificate", "approve", user)
    certificate = eventually(lambda: kubectl(binary, admin, cache, "get", "csr", user, "-o",
                                             "jsonpath={.status.certificate}", check=False) or not_yet(), timeout=30)
    config = json.loads(admin.read_text())
    config["users"][0]["user"] = {
        "client-certificate-data": certificate,
        "client-key-data": base64.b64encode(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())).decode()}
    path = tmp_path / f"{user}.kubeconfig"
    path.write_text(json.dumps(config))
    return path


def test_a_cluster_comes_up_serves_kubectl_and_stops_cleanly(tmp_path):
    """kube-cluster brings up the four daemons: with the admin kubeconfig kubectl sees node-1 Ready and is
    kubernetes-admin; the scheduler's kubeconfig is system:kube-scheduler, allowed to bind pods; a node may not
    touch another's Node; the controller manager fills a new namespace and signs an approved CSR with the cluster
    CA; a token the apiserver issues verifies; a killed node is restarted; a pod is
    scheduled onto node-1 and its log read from the kubelet over TLS; a Deployment rolls out; SIGTERM ends it
    all, leaving nothing."""
    binary = kubectl_binary()
    if not binary:
        pytest.skip("kubectl is not installed")
    data = tmp_path / "data"
    cache = tmp_path / "kubectl-cache"
    marker = f"kube-cluster-e2e-{uuid.uuid4().hex}"      # in the pods' command lines, to find them by
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cluster = Watched([sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "-n", "--pidfile=",
                       "kube-cluster", f"--data-dir={data}", f"--apiserver-port={free_port()}",
                       f"--kubelet-port={free_port()}", "--nodes=1"], cwd=ROOT, env=env)
    admin = data / "admin.kubeconfig"
    try:
        cluster.wait_for(lambda line: f"export KUBECONFIG={admin}" in line, timeout=30)
        cluster.wait_for(lambda line: "apiserver is ready" in line, timeout=30)

        def node_ready():
            status = kubectl(binary, admin, cache, "get", "node", "node-1", "-o",
                             "jsonpath={.status.conditions[?(@.type=='Ready')].status}", check=False)
            assert status == "True", status
        eventually(node_ready, timeout=30)
        assert json.loads(kubectl(binary, admin, cache, "auth", "whoami", "-o", "json"))["status"]["userInfo"][
            "username"] == "kubernetes-admin"
        scheduler = json.loads(kubectl(binary, data / "scheduler.kubeconfig", cache, "auth", "whoami", "-o", "json"))
        assert scheduler["status"]["userInfo"]["username"] == "system:kube-scheduler"
        assert kubectl(binary, admin, cache, "auth", "can-i", "create", "pods", "--subresource=binding",
                       "--as=system:kube-scheduler") == "yes"
        assert kubectl(binary, admin, cache, "auth", "can-i", "delete", "nodes", "--as=system:kube-scheduler",
                       check=False) == "no"
        assert kubectl(binary, admin, cache, "get", "--raw", "/api/v1/nodes/node-1/proxy/healthz") == "ok"
        # A node may change its own Node only (the Node authorizer and NodeRestriction).
        other = tmp_path / "node-2.json"
        other.write_text(json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-2"}}))
        refused = subprocess.run([binary, f"--kubeconfig={data / 'node-1.kubeconfig'}", f"--cache-dir={cache}",
                                  "create", "-f", str(other)], capture_output=True, text=True, timeout=30)
        assert refused.returncode != 0 and "Forbidden" in refused.stderr, refused.stderr
        # The controller manager works as system:kube-controller-manager: a new namespace gets its default
        # ServiceAccount and the kube-root-ca.crt ConfigMap holding the cluster CA.
        kubectl(binary, admin, cache, "create", "namespace", "e2e")
        eventually(lambda: kubectl(binary, admin, cache, "get", "serviceaccount", "default", "-n", "e2e", "-o",
                                   "name", check=False) == "serviceaccount/default" or not_yet(), timeout=30)
        published = kubectl(binary, admin, cache, "get", "configmap", "kube-root-ca.crt", "-n", "e2e", "-o",
                            "jsonpath={.data.ca\\.crt}")
        assert published.strip() == (data / "pki" / "ca.crt").read_text().strip()
        # A token the apiserver issues (signed with pki/sa.key) authenticates its ServiceAccount.
        token = kubectl(binary, admin, cache, "create", "token", "default", "-n", "e2e")
        config = json.loads(admin.read_text())
        config["users"][0]["user"] = {"token": token}       # the same server and CA, no client certificate
        as_token = tmp_path / "token.kubeconfig"
        as_token.write_text(json.dumps(config))
        whoami = json.loads(kubectl(binary, as_token, cache, "auth", "whoami", "-o", "json"))
        assert whoami["status"]["userInfo"]["username"] == "system:serviceaccount:e2e:default"
        # The controller manager signs an approved CSR with the cluster CA: the certificate authenticates.
        user_kubeconfig = signed_user_kubeconfig(binary, admin, cache, tmp_path, "jane")
        whoami = json.loads(kubectl(binary, user_kubeconfig, cache, "auth", "whoami", "-o", "json"))
        assert whoami["status"]["userInfo"]["username"] == "jane"
        # A node that dies is started again, a second later.
        first = cluster.wait_for(lambda line: "node-1 started (pid" in line, timeout=1)
        os.kill(int(first.split("(pid ")[1].rstrip(")")), signal.SIGKILL)
        cluster.wait_for(lambda line: "node-1 was killed by signal 9" in line and "restarting in 1 s" in line,
                         timeout=30)
        cluster.wait_for(lambda line: "node-1 started (pid" in line and line != first, timeout=30)
        eventually(lambda: kubectl(binary, admin, cache, "get", "--raw", "/api/v1/nodes/node-1/proxy/healthz",
                                   check=False) == "ok" or not_yet(), timeout=30)
        # A pod is scheduled by kube-scheduler onto node-1, runs there, and its log comes through the apiserver
        # from the kubelet.  (Created once the controller manager has made the default ServiceAccount, which
        # the ServiceAccount admission plugin wants.)
        pod = tmp_path / "pod.json"
        pod.write_text(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hello"}, "spec": {
            "containers": [{"name": "c", "image": "busybox",
                            "command": ["sh", "-c", f"echo hello from node-1; sleep 60; echo {marker}"]}]}}))
        eventually(lambda: kubectl(binary, admin, cache, "get", "serviceaccount", "default", "-o", "name",
                                   check=False) == "serviceaccount/default" or not_yet(), timeout=30)
        kubectl(binary, admin, cache, "create", "-f", str(pod))
        eventually(lambda: kubectl(binary, admin, cache, "logs", "hello", check=False) == "hello from node-1"
                   or not_yet(), timeout=30)
        assert kubectl(binary, admin, cache, "get", "pod", "hello", "-o", "jsonpath={.spec.nodeName}") == "node-1"
        events = kubectl(binary, admin, cache, "get", "events", "--field-selector", "involvedObject.name=hello",
                         "-o", "jsonpath={.items[*].reason}")
        assert "Scheduled" in events.split()
        # A Deployment rolls out: the controller manager's ReplicaSet and pods, scheduled and run on node-1.
        kubectl(binary, admin, cache, "create", "deployment", "web", "--image=busybox", "--replicas=2", "--",
                "sh", "-c", f"sleep 60; echo {marker}")
        kubectl(binary, admin, cache, "rollout", "status", "deployment/web", "--timeout=60s")
        code = cluster.stop(timeout=30)
    finally:
        cluster.kill()
    assert code in (0, -15), "\n".join(cluster.lines[-30:])
    stopped = [line.split("] ")[1].split()[0] for line in cluster.lines if " stopped (" in line]
    assert stopped[0] == "node-1" and stopped[-1] == "apiserver", stopped
    assert "Server Shut Down." in cluster.lines[-1]
    assert processes_mentioning(str(data)) == []
    assert not os.path.lexists(data / "kube-cluster.lock")
    assert processes_mentioning(marker) == []


def test_a_killed_cluster_leaves_no_daemon_behind(tmp_path):
    """kube-cluster killed with SIGKILL (no chance to stop its children): each daemon sees its stdin close and
    stops itself within seconds."""
    data = tmp_path / "data"
    cluster = Watched([sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "-n", "--pidfile=",
                       "kube-cluster", f"--data-dir={data}", f"--apiserver-port={free_port()}", "--nodes=0"],
                      cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        cluster.wait_for(lambda line: line.startswith("scheduler") and "starting up" in line, timeout=30)
        # kube-cluster, its three daemons and the apiserver's database process
        assert len(processes_mentioning(str(data))) == 5
        cluster.process.kill()
        cluster.process.wait(10)

        def gone():
            assert processes_mentioning(str(data)) == []
        eventually(gone, timeout=30)
    finally:
        cluster.kill()

"""kube-node's environment and volumes end to end: an apiserver with a secure port and RBAC, a node agent
running pods as host processes, and pods that use what a kubelet gives them — the service-account token
with the official Python client's in-cluster config, ConfigMap volumes updated in place, and
CreateContainerConfigError until a referenced ConfigMap exists."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys

import pytest

from kapiserver.auth import certs

from .conftest import APIServerProcess, Kubectl, free_port, kubectl_binary
from .test_streams import NodeProcess
from tests.conformance.support import wait_for as _wait_for

AS_ROOT = os.geteuid() == 0 and shutil.which("unshare") is not None


def _wait(check, what="condition"):
    return _wait_for(check, timeout=30.0, what=what)  # node pods take longer than the default 15 s on a busy machine


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """An apiserver with Node and RBAC authorization, and a node agent that talks to it over HTTPS as
    system:node:node-1 (as kube-cluster's do), so the Node authorizer lets it read only what its pods use."""
    secure = free_port()
    server = APIServerProcess(tmp_path_factory.mktemp("nodevol") / "data", args=(
        f"--secure-port={secure}", "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
        "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction")).start()
    node = NodeProcess(server, tmp_path_factory.mktemp("nodevol-node"))
    pki = server.data_dir / "pki"
    cert, key = certs.sign_certificate(certs.load_certificates(str(pki / "ca.crt"))[0],
                                       certs.load_key(str(pki / "ca.key")), "system:node:node-1",
                                       ["system:nodes"], client=True)
    node.kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "k",
        "clusters": [{"name": "k", "cluster": {"server": f"https://127.0.0.1:{secure}",
                                               "certificate-authority": str(pki / "ca.crt")}}],
        "contexts": [{"name": "k", "context": {"cluster": "k", "user": "u"}}],
        "users": [{"name": "u", "user": {"client-certificate-data": base64.b64encode(certs.cert_pem(cert)).decode(),
                                         "client-key-data": base64.b64encode(certs.key_pem(key)).decode()}}]}))
    node.extra_args = ("--config-sync-frequency=0.5",)
    try:
        node.start()
        yield server, node, secure
    finally:
        node.stop()
        server.stop()


@pytest.fixture(scope="module")
def kc(cluster, tmp_path_factory):
    binary = kubectl_binary()
    if not binary:
        pytest.skip("kubectl is not installed on this machine")
    return Kubectl(binary, cluster[0], tmp_path_factory.mktemp("nodevol-kubectl"))


@pytest.fixture(scope="module")
def viewer(kc):
    """default/default may read (view) the namespace default, and no more."""
    kc("create", "rolebinding", "default-view", "--clusterrole=view", "--serviceaccount=default:default")
    _wait(lambda: kc("auth", "can-i", "list", "pods", "--as=system:serviceaccount:default:default",
                     check=False).stdout.strip() == "yes", what="the role binding in effect")


def _phase(kc, name, *phases):
    def check():
        pod = kc.json("get", "pod", name)
        return pod if pod.get("status", {}).get("phase") in phases else None
    return _wait(check, what=f"pod {name} in {phases}")


INCLUSTER = """
import os
from kubernetes import client, config
config.load_incluster_config()
print("host", os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"])
names = sorted(p.metadata.name for p in client.CoreV1Api().list_namespaced_pod("default").items)
print("pods", names)
try:
    client.CoreV1Api().list_namespaced_secret("default")
except client.ApiException as e:
    print("secrets", e.status)
"""


@pytest.mark.skipif(not AS_ROOT, reason="the token is mounted at /var/run/secrets/kubernetes.io/serviceaccount in a "
                                        "private mount namespace, which needs root and unshare")
def test_in_cluster_python_client_lists_pods_with_its_service_account_token(cluster, kc, viewer):
    """A pod running the official Python client's load_incluster_config() reaches the apiserver's secure port
    through KUBERNETES_SERVICE_HOST/PORT, trusts it with the mounted ca.crt and is authenticated by the
    mounted token as its service account (RBAC lets it list pods, not secrets)."""
    _server, node, secure = cluster
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "incluster"},
                "spec": {"nodeName": "node-1", "restartPolicy": "Never", "containers": [
                    {"name": "c", "image": "python", "command": [sys.executable, "-c", INCLUSTER]}]}}
    kc("apply", "-f", "-", input=json.dumps(manifest))
    pod = _phase(kc, "incluster", "Succeeded", "Failed")
    logs = kc("logs", "incluster").stdout
    assert pod["status"]["phase"] == "Succeeded", logs
    assert logs.splitlines() == [f"host 127.0.0.1 {secure}", "pods ['incluster']", "secrets 403"]
    # The node may ask tokens only for the accounts its pods run as.
    kc("create", "serviceaccount", "unused")
    as_node = [kubectl_binary(), f"--kubeconfig={node.kubeconfig}"]
    assert subprocess.run(as_node + ["create", "token", "default"], capture_output=True).returncode == 0
    denied = subprocess.run(as_node + ["create", "token", "unused"], capture_output=True, text=True)
    assert "no relationship found between node 'node-1' and this object" in denied.stderr


BY_PATH = """
import glob, os
from kubernetes import client
from kubernetes.config.incluster_config import InClusterConfigLoader
d, = glob.glob(os.path.join(os.environ["KUBE_VOLUMES_DIR"], "kube-api-access-*"))
InClusterConfigLoader(token_filename=d + "/token", cert_filename=d + "/ca.crt").load_and_set()
print(open(d + "/namespace").read(), len(client.CoreV1Api().list_namespaced_pod("default").items) > 0)
"""


def test_without_a_mount_namespace_the_token_is_under_kube_volumes_dir(cluster, kc, viewer):
    """What README tells users of a kube-node that is not root: the token volume's files are under
    $KUBE_VOLUMES_DIR, and the Python client's loader given their paths reaches the apiserver (works as root
    too: the files are there either way)."""
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bypath"},
                "spec": {"nodeName": "node-1", "restartPolicy": "Never", "containers": [
                    {"name": "c", "image": "python", "command": [sys.executable, "-c", BY_PATH]}]}}
    kc("apply", "-f", "-", input=json.dumps(manifest))
    pod = _phase(kc, "bypath", "Succeeded", "Failed")
    logs = kc("logs", "bypath").stdout
    assert pod["status"]["phase"] == "Succeeded", logs
    assert logs == "default True\n"


def test_config_map_volume_follows_changes_and_env_waits_for_its_config_map(kc):
    """A container whose env names a missing ConfigMap waits with CreateContainerConfigError and upstream's
    message, and starts once the ConfigMap exists; its configMap volume ($KUBE_VOLUMES_DIR/<name>) shows an
    update of the ConfigMap, through the ..data symlink, while the container runs."""
    script = ('echo "$GREETING"; while true; do cat "$KUBE_VOLUMES_DIR/cfg/greeting"; echo; '
              'ls -a "$KUBE_VOLUMES_DIR/cfg" | grep -c "^..data$"; sleep 0.2; done')
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "waits"},
                "spec": {"nodeName": "node-1",
                         "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script],
                                         "env": [{"name": "GREETING", "valueFrom": {"configMapKeyRef": {
                                             "name": "later", "key": "greeting"}}}]}],
                         "volumes": [{"name": "cfg", "configMap": {"name": "later", "optional": True}}]}}
    kc("apply", "-f", "-", input=json.dumps(manifest))

    def waiting():
        statuses = kc.json("get", "pod", "waits").get("status", {}).get("containerStatuses") or []
        return statuses and statuses[0]["state"].get("waiting", {}).get("reason") == "CreateContainerConfigError" \
            and statuses[0]["state"]["waiting"]
    assert _wait(waiting, what="CreateContainerConfigError")["message"] == 'configmap "later" not found'
    assert kc.json("get", "pod", "waits")["status"]["phase"] == "Pending"
    kc("create", "configmap", "later", "--from-literal=greeting=hello")
    _phase(kc, "waits", "Running")
    _wait(lambda: kc("logs", "waits").stdout.startswith("hello\nhello\n1\n"), what="env and volume in the log")
    kc("patch", "configmap", "later", "--type=merge", "-p", '{"data": {"greeting": "changed"}}')
    _wait(lambda: "changed\n1\n" in kc("logs", "waits").stdout, what="the updated file in the log")

"""
/metrics end to end: kubectl's requests show in `kubectl get --raw /metrics` under upstream's names and
labels, stored objects are counted, an open watch is a long-running request; over TLS with RBAC only
the system:monitoring group (or better) may read them, and both ports serve the same counts.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request

import pytest
from tests.endpoints.test_metrics import samples

from .conftest import APIServerProcess, Kubectl, free_port, kubectl_binary
from .test_security import SecureServer

TOKENS = 'monitor-token,prometheus,10,"system:monitoring"\nalice-token,alice,11\n'
NAMESPACE = "metrics-e2e"


def request_total(verb, resource, scope, code) -> tuple:
    return ("apiserver_request_total", tuple(sorted(dict(
        verb=verb, dry_run="", group="", version="v1", resource=resource, subresource="", scope=scope,
        component="apiserver", code=code).items())))


WATCH_GAUGE = ("apiserver_longrunning_requests", tuple(sorted(dict(
    verb="WATCH", group="", version="v1", resource="configmaps", subresource="", scope="namespace",
    component="apiserver").items())))


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    if not kubectl_binary():
        pytest.skip("kubectl is not installed on this machine")
    base = tmp_path_factory.mktemp("metrics")
    (base / "tokens.csv").write_text(TOKENS)
    port = free_port()
    server = APIServerProcess(base / "data", args=(
        f"--secure-port={port}", "--bind-address=127.0.0.1", "--authorization-mode=RBAC",
        f"--token-auth-file={base / 'tokens.csv'}")).start()
    yield SecureServer(server, port, base)
    server.stop()


@pytest.fixture(scope="module")
def kubectl(secure, tmp_path_factory):
    """kubectl on the insecure port (no authorization there)."""
    return Kubectl(kubectl_binary(), secure.server, tmp_path_factory.mktemp("kubectl-metrics"))


def scrape(kubectl) -> dict:
    return samples(kubectl("get", "--raw", "/metrics").stdout)


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def secure_get(secure, path: str, token: str):
    """(status, Content-Type, body text) of a GET on the secure port as the token's user."""
    context = ssl.create_default_context(cadata=secure.ca_pem.decode())
    req = urllib.request.Request(secure.url + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, context=context, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode()


def wait_until(check, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_kubectl_requests_and_stored_objects_are_counted(kubectl):
    """Creates are POST 201 at scope resource, a namespaced list is LIST 200 at scope namespace, a missing
    object is GET 404, and apiserver_storage_objects counts exactly the configmaps stored (the root CA
    publisher's kube-root-ca.crt among them: one per namespace, waited for)."""
    def published(namespace):
        return kubectl("get", "configmap", "kube-root-ca.crt", "-n", namespace, check=False).returncode == 0
    for namespace in ("default", "kube-system", "kube-public", "kube-node-lease"):
        wait_until(lambda: published(namespace))
    before = scrape(kubectl)
    kubectl("create", "namespace", NAMESPACE)
    wait_until(lambda: published(NAMESPACE))
    for name in ("one", "two", "three"):
        kubectl("create", "configmap", name, "-n", NAMESPACE, "--from-literal=k=v")
    kubectl("get", "configmaps", "-n", NAMESPACE)
    assert kubectl("get", "configmap", "nope", "-n", NAMESPACE, check=False).returncode != 0
    stored = kubectl.json("get", "configmaps", "--all-namespaces")["items"]
    after = scrape(kubectl)

    def grew(key):
        return after.get(key, 0) - before.get(key, 0)
    assert grew(request_total("POST", "configmaps", "resource", "201")) == 4       # and kube-root-ca.crt
    assert grew(request_total("POST", "namespaces", "resource", "201")) == 1
    assert grew(request_total("LIST", "configmaps", "namespace", "200")) >= 1
    assert grew(request_total("LIST", "configmaps", "cluster", "200")) >= 1
    assert grew(request_total("GET", "configmaps", "resource", "404")) >= 1
    assert after[("apiserver_storage_objects", (("resource", "configmaps"),))] == len(stored)
    assert len([cm for cm in stored if cm["metadata"]["namespace"] == NAMESPACE]) == 4
    assert after[("apiserver_storage_objects", (("resource", "namespaces"),))] >= 4
    duration = ("apiserver_request_duration_seconds_count", tuple(
        (k, v) for k, v in request_total("LIST", "configmaps", "namespace", "200")[1] if k != "code"))
    assert after[duration] >= 1


def test_open_watch_is_a_long_running_request(kubectl):
    """While `kubectl get --watch` runs its watch is in apiserver_longrunning_requests; once kubectl is gone
    it is not, and it has been counted as a WATCH."""
    assert scrape(kubectl).get(WATCH_GAUGE, 0) == 0
    watcher = kubectl.popen("get", "configmaps", "-n", NAMESPACE, "--watch")
    try:
        wait_for(lambda: scrape(kubectl).get(WATCH_GAUGE, 0) == 1)
    finally:
        watcher.terminate()
        watcher.wait(10)
    wait_for(lambda: scrape(kubectl).get(WATCH_GAUGE, 0) == 0)
    assert scrape(kubectl)[request_total("WATCH", "configmaps", "namespace", "200")] >= 1


def test_only_monitoring_may_read_metrics_over_tls(secure, kubectl):
    """With RBAC, a user outside system:monitoring is 403 on /metrics with upstream's message; one in it reads
    the text format, and the secure port's counts are the insecure port's."""
    code, _, body = secure_get(secure, "/metrics", "alice-token")
    assert code == 403
    assert json.loads(body)["message"] == 'forbidden: User "alice" cannot get path "/metrics"'
    kubectl("get", "namespaces")
    code, content_type, body = secure_get(secure, "/metrics", "monitor-token")
    assert (code, content_type) == (200, "text/plain; version=0.0.4; charset=utf-8")
    key = request_total("LIST", "namespaces", "cluster", "200")
    assert samples(body)[key] == scrape(kubectl)[key] >= 1


def test_watch_over_tls_is_long_running_too(secure, kubectl):
    """A watch from kubectl over TLS (HTTP/2 where negotiated) is in apiserver_longrunning_requests while open,
    in the one set of metrics both ports serve."""
    home = secure.home / "admin"
    home.mkdir(exist_ok=True)
    admin = Kubectl(kubectl_binary(), secure.server, home)
    admin.kubeconfig.write_text((secure.server.data_dir / "admin.kubeconfig").read_text())
    assert scrape(kubectl).get(WATCH_GAUGE, 0) == 0
    watcher = admin.popen("get", "configmaps", "-n", "default", "--watch")
    try:
        wait_for(lambda: scrape(kubectl).get(WATCH_GAUGE, 0) == 1)
        code, _, body = secure_get(secure, "/metrics", "monitor-token")
        assert samples(body)[WATCH_GAUGE] == 1
    finally:
        watcher.terminate()
        watcher.wait(10)
    wait_for(lambda: scrape(kubectl).get(WATCH_GAUGE, 0) == 0)

"""A running, Ready pod is deleted: before it goes, kube-node reports its final status (containers terminated,
Ready False), so `kubectl wait --for=condition=Ready=false` and kr8s' ``pod.wait("condition=Ready=false")``
succeed rather than waiting until their timeout (issue #15).  One apiserver and one kube-node process.

Both waits are started while the pod is Ready and before it is deleted, so they can only succeed on a status
that the pod had between its deletion being asked for and its removal: had kube-node removed the pod without
writing that status, kr8s' watch would see the pod DELETED still Ready and time out, and kubectl would fail.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conformance.support import ok, wait_for
from tests.e2e.conftest import APIServerProcess, Kubectl, kubectl_binary
from tests.e2e.test_streams import NodeProcess

NAMESPACE = "default"
PODS = f"/api/v1/namespaces/{NAMESPACE}/pods"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    server = APIServerProcess(tmp_path_factory.mktemp("wait") / "data").start()
    node = NodeProcess(server, tmp_path_factory.mktemp("wait-node"), name="wait-node")
    try:
        node.start()
        yield server
    finally:
        node.stop()
        server.stop()


def ready(server, name) -> bool:
    status, pod = server.request("GET", f"{PODS}/{name}")
    return status == 200 and any(c["type"] == "Ready" and c["status"] == "True"
                                 for c in pod.get("status", {}).get("conditions", []))


def running_pod(server, name: str, command=("sleep", "600")) -> dict:
    """A pod of one host process (by default sleep, which SIGTERM ends), Ready."""
    pod = ok(server.request("POST", PODS, {
        "metadata": {"name": name},
        "spec": {"terminationGracePeriodSeconds": 5,
                 "containers": [{"name": "c", "image": "busybox", "command": list(command)}]}}), 201)
    wait_for(lambda: ready(server, name), timeout=30, what=f"pod {name} Ready")
    return pod


def gone(server, name) -> bool:
    return server.request("GET", f"{PODS}/{name}")[0] == 404


def test_kr8s_wait_for_ready_false_succeeds_on_a_deleted_pod(cluster, tmp_path):
    """kr8s' Pod.wait("condition=Ready=false"), started on the Ready pod, returns once the deleted pod's final
    status is written; the pod it returns is the terminating one (deletionTimestamp set), then it goes."""
    kr8s = pytest.importorskip("kr8s")
    from kr8s.objects import Pod
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "k",
        "clusters": [{"name": "k", "cluster": {"server": cluster.url}}],
        "contexts": [{"name": "k", "context": {"cluster": "k", "user": "u", "namespace": NAMESPACE}}],
        "users": [{"name": "u", "user": {}}]}))
    running_pod(cluster, "kr8s-wait")
    api = kr8s.api(kubeconfig=str(kubeconfig))
    pod = Pod.get("kr8s-wait", namespace=NAMESPACE, api=api)
    assert pod.status["conditions"] and any(c["type"] == "Ready" and c["status"] == "True"
                                            for c in pod.status["conditions"])
    with ThreadPoolExecutor(1) as pool:
        waited = pool.submit(pod.wait, "condition=Ready=false", timeout=30)
        ok(cluster.request("DELETE", f"{PODS}/kr8s-wait"), 200)
        waited.result(timeout=40)
    assert pod.metadata.get("deletionTimestamp"), pod.raw
    assert {c["type"]: c["status"] for c in pod.status["conditions"]}["Ready"] == "False"
    assert all("terminated" in s["state"] for s in pod.status["containerStatuses"]), pod.status
    wait_for(lambda: gone(cluster, "kr8s-wait"), timeout=30, what="pod removed")


def test_kubectl_wait_for_ready_false_succeeds_on_a_deleted_pod(cluster, tmp_path):
    """`kubectl wait --for=condition=Ready=false`, watching the Ready pod, exits 0 once it is deleted."""
    binary = kubectl_binary()
    if not binary:
        pytest.skip("kubectl is not installed on this machine")
    kubectl = Kubectl(binary, cluster, tmp_path)
    # A container that takes a second to stop: kubectl checks that the object is there only once its informer
    # has synced, polling every 100 ms, and a pod removed before that check fails the wait with NotFound (as
    # against any apiserver); what is tested is the status it sees while the pod goes.
    running_pod(cluster, "kubectl-wait", ("sh", "-c", "trap 'sleep 1; exit 0' TERM; sleep 600 & wait"))
    waiting = kubectl.popen("-v=6", "wait", "--for=condition=Ready=false", "--timeout=30s", "pod/kubectl-wait")
    try:
        # kubectl logs each request once answered (-v=6): its watch is open, so the deletion cannot come first.
        seen = []
        for line in waiting.stderr:
            seen.append(line)
            if "watch=true" in line:
                break
        else:
            raise AssertionError("kubectl wait did not watch:\n" + "".join(seen))
        ok(cluster.request("DELETE", f"{PODS}/kubectl-wait"), 200)
        out, err = waiting.communicate(timeout=40)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    assert waiting.returncode == 0, out + err
    assert "pod/kubectl-wait condition met" in out
    wait_for(lambda: gone(cluster, "kubectl-wait"), timeout=30, what="pod removed")

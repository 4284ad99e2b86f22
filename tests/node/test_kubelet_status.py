"""What kube-node reports, end to end: a kapiserver process and a kube-node process running pods as host
processes.  The Node's capacity and conditions from the host, pod status (qosClass, IPs, startTime), the images
table (pause, nginx, an unknown image failing as a pull does), one pod whose status writes a
ValidatingAdmissionPolicy refuses while the others' status keeps flowing, and the kubelet's /stats/summary and
/metrics/resource."""

from __future__ import annotations

import json
import os
import time
import urllib.request

import pytest

from kapiserver.node import hoststatus
from tests.e2e.conftest import free_port
from tests.e2e.test_streams import apiserver_and_node

NS = "default"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    yield from apiserver_and_node(tmp_path_factory, "kstatus", name="status-node")


def _wait(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (AssertionError, KeyError, IndexError, TypeError, StopIteration) as e:
            value, last = None, e
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def _create_pod(server, name, container, labels=None, node=None):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
           "spec": {"terminationGracePeriodSeconds": 1, "containers": [dict({"name": "c"}, **container)]}}
    if node:
        pod["spec"]["nodeName"] = node
    status, body = server.request("POST", f"/api/v1/namespaces/{NS}/pods", pod)
    assert status == 201, body


def _pod(server, name):
    status, body = server.request("GET", f"/api/v1/namespaces/{NS}/pods/{name}")
    assert status == 200, body
    return body


def _running(server, name):
    return _wait(lambda: (lambda p: p if p["status"].get("phase") == "Running" else None)(_pod(server, name)),
                 what=f"pod {name} Running")


def _paused(server):
    """The module's pause pod Running, created by whichever test asks first (-n 2 may run them apart)."""
    if server.request("GET", f"/api/v1/namespaces/{NS}/pods/paused")[0] == 404:
        _create_pod(server, "paused", {"image": "registry.k8s.io/pause:3.10", "resources": {
            "limits": {"cpu": "100m", "memory": "64Mi"}}})
    return _running(server, "paused")


def test_node_capacity_and_conditions_come_from_the_host(cluster):
    """cpu, memory (MemTotal), ephemeral-storage and 110 pods; allocatable less the eviction thresholds; the
    pressure conditions False with upstream's reasons on a healthy host; a Lease in kube-node-lease."""
    server, node = cluster
    status, body = server.request("GET", f"/api/v1/nodes/{node.name}")
    capacity, allocatable = body["status"]["capacity"], body["status"]["allocatable"]
    figures = hoststatus.read_host()
    assert capacity["cpu"] == str(os.cpu_count())
    assert capacity["memory"] == f"{figures.memory_total // 1024}Ki" and capacity["pods"] == "110"
    assert int(capacity["ephemeral-storage"][:-2]) > 0
    assert allocatable["memory"] == f"{(figures.memory_total - 100 * 2 ** 20) // 1024}Ki"
    conditions = {c["type"]: c for c in body["status"]["conditions"]}
    assert conditions["MemoryPressure"]["reason"] == "KubeletHasSufficientMemory"
    assert conditions["DiskPressure"]["reason"] in ("KubeletHasNoDiskPressure", "KubeletHasDiskPressure")
    assert conditions["PIDPressure"]["status"] == "False" and conditions["Ready"]["status"] == "True"
    lease = _wait(lambda: (lambda r: r[0] == 200 and r[1])(server.request(
        "GET", f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node.name}")), what="the Lease")
    assert lease["spec"]["holderIdentity"] == node.name and lease["spec"]["leaseDurationSeconds"] == 40


def test_pause_pod_reports_qos_ips_and_start_time(cluster):
    """A pause image with no command runs (sleeps); its status has qosClass as upstream computes it, the host's
    IP as hostIP and podIP, startTime and conditions with lastTransitionTime."""
    server, _ = cluster
    status = _paused(server)["status"]
    assert status["qosClass"] == "Guaranteed"
    assert status["hostIP"] == "127.0.0.1" and status["podIPs"] == [{"ip": "127.0.0.1"}]
    assert status["hostIPs"] == [{"ip": "127.0.0.1"}] and status["startTime"]
    assert all(c["lastTransitionTime"] for c in status["conditions"])


def test_nginx_serves_its_welcome_page_on_the_container_port(cluster):
    """nginx with no command is a static file server on its containerPort serving nginx's welcome page."""
    server, _ = cluster
    port = free_port()
    _create_pod(server, "web", {"image": "nginx:1.27", "ports": [{"containerPort": port}]})
    _running(server, "web")

    def page():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                return response.read().decode()
        except OSError:
            return None
    assert "Welcome to nginx!" in _wait(page, what="nginx's page")


def test_an_unknown_image_fails_as_a_pull_does_and_the_pod_stays_pending(cluster):
    """waiting ErrImagePull, then ImagePullBackOff, with Pulling, Failed and BackOff events; never Running."""
    server, _ = cluster
    _create_pod(server, "nosuch", {"image": "example.com/no-such-image:1"})

    def waiting(reason):
        pod = _pod(server, "nosuch")
        statuses = pod["status"].get("containerStatuses") or []
        if pod["status"]["phase"] != "Pending":    # at once: _wait takes an AssertionError for "not yet"
            pytest.fail(f"nosuch left Pending: {pod['status']}")
        return statuses and (statuses[0]["state"].get("waiting") or {}).get("reason") == reason and statuses[0]
    pulled = _wait(lambda: waiting("ErrImagePull"), what="ErrImagePull")
    assert 'failed to pull and unpack image "example.com/no-such-image:1"' in pulled["state"]["waiting"]["message"]
    _wait(lambda: waiting("ImagePullBackOff"), what="ImagePullBackOff")

    def events():
        status, body = server.request("GET", f"/api/v1/namespaces/{NS}/events?fieldSelector="
                                             f"involvedObject.name=nosuch")
        seen = {(e["reason"], e["message"]) for e in body["items"]}
        image = "example.com/no-such-image:1"
        assert ("Pulling", f'Pulling image "{image}"') in seen and ("Failed", "Error: ErrImagePull") in seen
        assert any(r == "Failed" and m.startswith(f'Failed to pull image "{image}": rpc error: ') for r, m in seen)
        assert ("BackOff", f'Back-off pulling image "{image}"') in seen
        assert ("Failed", "Error: ImagePullBackOff") in seen
        return all(e["source"]["component"] == "kubelet" for e in body["items"])
    _wait(events, what="the pull events")


def test_a_pod_whose_status_writes_are_refused_does_not_stop_the_others(cluster):
    """A ValidatingAdmissionPolicy refuses status writes of pods labelled refuse-status: that pod's status
    stays as created (Pending), and a pod created after it still becomes Running."""
    server, _ = cluster
    policy = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
              "metadata": {"name": "refuse-pod-status"},
              "spec": {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": [
                  {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["UPDATE"],
                   "resources": ["pods/status"]}]},
                  "validations": [{"expression": "!has(object.metadata.labels) || "
                                                 "!('refuse-status' in object.metadata.labels)",
                                   "message": "status refused"}]}}
    binding = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
               "metadata": {"name": "refuse-pod-status"},
               "spec": {"policyName": "refuse-pod-status", "validationActions": ["Deny"]}}
    for path, obj in (("validatingadmissionpolicies", policy), ("validatingadmissionpolicybindings", binding)):
        status, body = server.request("POST", f"/apis/admissionregistration.k8s.io/v1/{path}", obj)
        assert status == 201, body
    # The policy is in force once a status write of a labelled pod (one no node runs) is refused.
    _create_pod(server, "probe", {"image": "busybox", "command": ["true"]}, labels={"refuse-status": "y"},
                node="elsewhere")

    def refused():
        status, _ = server.request("PATCH", f"/api/v1/namespaces/{NS}/pods/probe/status",
                                   {"status": {"message": "x"}},
                                   headers={"Content-Type": "application/merge-patch+json"})
        return status == 422
    _wait(refused, what="the policy in force")
    _create_pod(server, "refused", {"image": "busybox", "command": ["sleep", "3600"]}, labels={"refuse-status": "y"})
    _create_pod(server, "fine", {"image": "busybox", "command": ["sleep", "3600"]})
    assert _running(server, "fine")["status"]["qosClass"] == "BestEffort"
    assert _wait(lambda: _pod(server, "refused")["spec"].get("nodeName"), what="refused bound")    # binds apart
    assert _pod(server, "refused")["status"]["phase"] == "Pending"


def _kubelet(node, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{node.port}{path}", timeout=5) as response:
        return response.read().decode()


def test_stats_summary_has_node_and_pod_cpu_and_memory(cluster):
    """/stats/summary: the node's and each running pod's containers' cpu and memory, as metrics-server reads."""
    server, node = cluster
    _create_pod(server, "busy", {"image": "busybox", "command": ["sh", "-c", "while true; do :; done"]})
    _running(server, "busy")

    def summary():
        data = json.loads(_kubelet(node, "/stats/summary"))
        pod = next(p for p in data["pods"] if p["podRef"]["name"] == "busy")
        container = pod["containers"][0]
        assert container["cpu"]["usageCoreNanoSeconds"] > 0 and container["memory"]["workingSetBytes"] > 0
        return data, pod
    data, pod = _wait(summary, what="stats of the busy pod")
    assert data["node"]["nodeName"] == node.name
    assert data["node"]["cpu"]["usageCoreNanoSeconds"] > 0 and data["node"]["memory"]["workingSetBytes"] > 0
    assert pod["podRef"]["namespace"] == NS and pod["podRef"]["uid"]
    assert pod["cpu"]["usageCoreNanoSeconds"] >= pod["containers"][0]["cpu"]["usageCoreNanoSeconds"]
    _wait(lambda: next(p for p in json.loads(_kubelet(node, "/stats/summary"))["pods"]
                       if p["podRef"]["name"] == "busy")["containers"][0]["cpu"].get("usageNanoCores"),
          what="a cpu rate")


def test_metrics_resource_in_prometheus_text(cluster):
    """/metrics/resource: node_, pod_ and container_ cpu and memory series with their labels, scrape_error 0."""
    server, node = cluster
    _paused(server)
    text = _kubelet(node, "/metrics/resource")
    assert "# TYPE node_cpu_usage_seconds_total counter" in text
    assert "\nscrape_error 0" in text
    for name in ("node_memory_working_set_bytes", "container_cpu_usage_seconds_total",
                 "container_memory_working_set_bytes", "pod_cpu_usage_seconds_total",
                 "pod_memory_working_set_bytes"):
        assert f"\n{name}" in text, name
    assert f'container_memory_working_set_bytes{{container="c",namespace="{NS}",pod="paused"}}' in text
    # The same through the apiserver's node proxy, as `kubectl get --raw` reads it.
    status, body = server.request("GET", f"/api/v1/nodes/{node.name}/proxy/stats/summary")
    assert status == 200 and body["node"]["nodeName"] == node.name

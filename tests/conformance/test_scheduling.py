"""The [sig-scheduling] entries whose assertions are about binding, events and preemption (and the two
[sig-node] RuntimeClass entries that only ask for the pod to be scheduled), against
`twistd -n kube-scheduler` (a process, as in a cluster) and two fake Nodes created through the API.

What differs from upstream's e2e run: no kubelet runs the pods, so "running" is read as "bound to a node"
(spec.nodeName), and where a kubelet would finish a graceful deletion (a preempted victim) the test
deletes the pod with gracePeriodSeconds=0 itself; extended resources are written into the Node's
allocatable as well as its capacity (a kubelet copies one into the other).  "Pod preemption verification"
is in test_preemption_path.py (with the ReplicaSet controller that recreates the victims).  Left out: the
HostPort entry that
needs two hostIPs on one node with pods really listening ("Scheduling, HostPort matching and HostIP and
Protocol not-matching" is class C).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conformance.support import MERGE, STRATEGIC, ok, unique, wait_for
from tests.e2e.conftest import stop_process

ROOT = Path(__file__).resolve().parent.parent.parent
NODES = ("conformance-node-1", "conformance-node-2")
NODE_IPS = {"conformance-node-1": "10.240.0.11", "conformance-node-2": "10.240.0.12"}
EXTENDED = "scheduling.k8s.io/foo"


def _node(name):
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
            "spec": {},
            "status": {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                       "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                       "addresses": [{"type": "InternalIP", "address": NODE_IPS[name]},
                                     {"type": "Hostname", "address": name}],
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "kubelet is posting ready status"}]}}


@pytest.fixture(scope="module")
def scheduler(apiserver, tmp_path_factory):  # noqa: F811
    """Two Ready nodes and `twistd -n kube-scheduler` pointed at the server's insecure port."""
    for name in NODES:
        ok(apiserver.request("POST", "/api/v1/nodes", _node(name)))
    home = tmp_path_factory.mktemp("kube-scheduler")
    kubeconfig = home / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "k",
        "clusters": [{"name": "k", "cluster": {"server": apiserver.url}}],
        "contexts": [{"name": "k", "context": {"cluster": "k", "user": "u"}}], "users": [{"name": "u", "user": {}}]}))
    log = open(home / "kube-scheduler.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "-n", "--pidfile=",
         "kube-scheduler", f"--kubeconfig={kubeconfig}", "--leader-elect=false"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    yield process
    stop_process(process)
    log.close()


@pytest.fixture
def ns(apiserver, namespace, scheduler):  # noqa: F811
    """The test's namespace; its pods are deleted at once afterwards (no kubelet would end them)."""
    yield namespace
    force_delete_pods(apiserver, namespace)


def force_delete_pods(apiserver, namespace, names=None):  # noqa: F811
    for pod in ok(apiserver.request("GET", f"/api/v1/namespaces/{namespace}/pods"))["items"]:
        name = pod["metadata"]["name"]
        if names is None or name in names:
            apiserver.request("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}", {"gracePeriodSeconds": 0})


def finish_terminating(apiserver, namespace):  # noqa: F811
    """What a kubelet does for a pod being deleted gracefully: confirm the deletion."""
    pods = ok(apiserver.request("GET", f"/api/v1/namespaces/{namespace}/pods"))["items"]
    force_delete_pods(apiserver, namespace, {p["metadata"]["name"] for p in pods
                                             if p["metadata"].get("deletionTimestamp")
                                             and not p["metadata"].get("finalizers")})


def pause_pod(name, requests=None, **spec):
    container = {"name": "pause", "image": "registry.k8s.io/pause:3.10"}
    if requests:
        container["resources"] = {"requests": requests, "limits": requests}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"name": name}},
            "spec": {"containers": [container], **spec}}


def create(apiserver, namespace, pod):  # noqa: F811
    return ok(apiserver.request("POST", f"/api/v1/namespaces/{namespace}/pods", pod))


def get_pod(apiserver, namespace, name):  # noqa: F811
    status, body = apiserver.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
    return body if status == 200 else None


def bound(apiserver, namespace, name):  # noqa: F811
    """The pod's node once it has one (e2e's WaitForPodNotPending / running)."""
    return wait_for(lambda: (get_pod(apiserver, namespace, name) or {}).get("spec", {}).get("nodeName"),
                    timeout=20, what=f"{name} to be bound")


def failed_scheduling(apiserver, namespace, name):  # noqa: F811
    """WaitForSchedulerAfterAction(..., false): the FailedScheduling event for the pod."""
    path = f"/api/v1/namespaces/{namespace}/events?fieldSelector=involvedObject.name%3D{name}"
    return wait_for(lambda: [e for e in ok(apiserver.request("GET", path))["items"]
                             if e["reason"] == "FailedScheduling"], timeout=20, what=f"FailedScheduling of {name}")


def verify_result(apiserver, namespace, scheduled, not_scheduled):  # noqa: F811
    pods = ok(apiserver.request("GET", f"/api/v1/namespaces/{namespace}/pods"))["items"]
    assigned = [p for p in pods if p["spec"].get("nodeName")]
    assert (len(assigned), len(pods) - len(assigned)) == (scheduled, not_scheduled)


def label_node(apiserver, name, key, value):  # noqa: F811
    ok(apiserver.request("PATCH", f"/api/v1/nodes/{name}", {"metadata": {"labels": {key: value}}}, headers=MERGE))


def set_extended_resource(apiserver, name, amount):  # noqa: F811
    """e2enode.AddExtendedResource (capacity), and the allocatable a kubelet would derive from it."""
    ok(apiserver.request("PATCH", f"/api/v1/nodes/{name}/status",
                         {"status": {"capacity": {EXTENDED: amount}, "allocatable": {EXTENDED: amount}}},
                         headers=MERGE))


def on_node(name):
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [name]}]}]}}}


@pytest.fixture
def priority_classes(apiserver):  # noqa: F811
    """The e2e test's low (1), medium (100) and high (1000) PriorityClasses."""
    base = unique("sched-preemption")
    names = {level: f"{base}-{level}-priority" for level in ("low", "medium", "high")}
    for level, value in (("low", 1), ("medium", 100), ("high", 1000)):
        ok(apiserver.request("POST", "/apis/scheduling.k8s.io/v1/priorityclasses", {
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": names[level]},
            "value": value}))
    yield names
    for name in names.values():
        apiserver.request("DELETE", f"/apis/scheduling.k8s.io/v1/priorityclasses/{name}")
    for node in NODES:
        apiserver.request("PATCH", f"/api/v1/nodes/{node}/status",
                          {"status": {"capacity": {EXTENDED: None}, "allocatable": {EXTENDED: None}}}, headers=MERGE)


def test_scheduler_resource_limits(apiserver, ns):  # noqa: F811
    """Scheduler, resource limits"""
    fillers = []
    for node in NODES:
        label_node(apiserver, node, "node", node)
        requested = 2000 * 7 // 10
        term = {"matchExpressions": [{"key": "node", "operator": "In", "values": [node]}]}
        fillers.append(create(apiserver, ns, pause_pod(
            f"filler-pod-{uuid.uuid4()}", {"cpu": f"{requested}m"},
            affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                                       {"nodeSelectorTerms": [term]}}}))["metadata"]["name"])
    for name in fillers:
        bound(apiserver, ns, name)
    create(apiserver, ns, pause_pod("additional-pod", {"cpu": f"{2000 * 5 // 10}m"}))
    failed_scheduling(apiserver, ns, "additional-pod")
    verify_result(apiserver, ns, len(fillers), 1)


def test_scheduler_node_selector_not_matching(apiserver, ns):  # noqa: F811
    """Scheduler, node selector not matching"""
    create(apiserver, ns, pause_pod("restricted-pod", nodeSelector={"label": "nonempty"}))
    [event] = failed_scheduling(apiserver, ns, "restricted-pod")
    assert event["message"] == ("0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. "
                                "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.")
    verify_result(apiserver, ns, 0, 1)


def test_scheduler_node_selector_matching(apiserver, ns):  # noqa: F811
    """Scheduler, node selector matching"""
    create(apiserver, ns, pause_pod("without-label"))
    node = bound(apiserver, ns, "without-label")
    force_delete_pods(apiserver, ns, {"without-label"})
    key = f"kubernetes.io/e2e-{uuid.uuid4()}"
    label_node(apiserver, node, key, "42")
    try:
        create(apiserver, ns, pause_pod("with-labels", nodeSelector={key: "42"}))
        assert bound(apiserver, ns, "with-labels") == node
    finally:
        label_node(apiserver, node, key, None)


def test_scheduling_hostport_and_protocol_match_one_hostip_default(apiserver, ns):  # noqa: F811
    """Scheduling, HostPort and Protocol match, HostIPs different but one is default HostIP (0.0.0.0)"""
    create(apiserver, ns, pause_pod("without-label"))
    node = bound(apiserver, ns, "without-label")
    force_delete_pods(apiserver, ns, {"without-label"})
    key = f"kubernetes.io/e2e-{uuid.uuid4()}"
    label_node(apiserver, node, key, "95")
    try:
        def host_port_pod(name, host_ip):
            pod = pause_pod(name, nodeSelector={key: "95"})
            pod["spec"]["containers"][0]["ports"] = [{"containerPort": 8080, "hostPort": 54322,
                                                      "protocol": "TCP", **({"hostIP": host_ip} if host_ip else {})}]
            return pod
        create(apiserver, ns, host_port_pod("pod4", ""))
        assert bound(apiserver, ns, "pod4") == node
        create(apiserver, ns, host_port_pod("pod5", NODE_IPS[node]))
        [event] = failed_scheduling(apiserver, ns, "pod5")
        assert "node(s) didn't have free ports for the requested pod ports" in event["message"]
        assert get_pod(apiserver, ns, "pod5")["spec"].get("nodeName") is None
    finally:
        label_node(apiserver, node, key, None)


def _fill_nodes(apiserver, namespace, classes):  # noqa: F811
    """Two pods per node each using 2 of 5 scheduling.k8s.io/foo; the very first one low priority."""
    pods = []
    for i, node in enumerate(NODES):
        set_extended_resource(apiserver, node, "5")
        for j in range(2):
            level = "low" if not pods else "medium"
            pod = pause_pod(f"pod{i}-{j}-{classes[level]}", {EXTENDED: "2"}, priorityClassName=classes[level],
                            affinity=on_node(node))
            pods.append(create(apiserver, namespace, pod)["metadata"]["name"])
    for name in pods:
        bound(apiserver, namespace, name)
    return pods


def _preempted(apiserver, namespace, name):  # noqa: F811
    pod = get_pod(apiserver, namespace, name)
    return pod is None or bool(pod["metadata"].get("deletionTimestamp"))


def test_scheduler_basic_preemption(apiserver, ns, priority_classes):  # noqa: F811
    """Scheduler, Basic Preemption"""
    pods = _fill_nodes(apiserver, ns, priority_classes)
    create(apiserver, ns, pause_pod("preemptor-pod", {EXTENDED: "2"}, priorityClassName=priority_classes["high"]))
    wait_for(lambda: _preempted(apiserver, ns, pods[0]), timeout=20, what="the low priority pod preempted")
    wait_for(lambda: finish_terminating(apiserver, ns) or
             get_pod(apiserver, ns, "preemptor-pod")["spec"].get("nodeName"), timeout=20, what="the preemptor bound")
    for name in pods[1:]:
        assert not get_pod(apiserver, ns, name)["metadata"].get("deletionTimestamp")


def test_scheduler_preemption_for_critical_pod(apiserver, ns, priority_classes):  # noqa: F811
    """Scheduler, Preemption for critical pod"""
    pods = _fill_nodes(apiserver, ns, priority_classes)
    create(apiserver, "kube-system", pause_pod("critical-pod", {EXTENDED: "2"},
                                               priorityClassName="system-cluster-critical"))
    try:
        wait_for(lambda: _preempted(apiserver, ns, pods[0]), timeout=20, what="the low priority pod preempted")
        wait_for(lambda: finish_terminating(apiserver, ns) or
                 get_pod(apiserver, "kube-system", "critical-pod")["spec"].get("nodeName"), timeout=20,
                 what="the critical pod bound")
        for name in pods[1:]:
            assert not get_pod(apiserver, ns, name)["metadata"].get("deletionTimestamp")
    finally:
        force_delete_pods(apiserver, "kube-system", {"critical-pod"})


def test_verify_the_disruptiontarget_condition_is_added_to_the_preempted_pod(apiserver, ns,  # noqa: F811
                                                                             priority_classes):
    """Verify the DisruptionTarget condition is added to the preempted pod"""
    node = NODES[0]
    set_extended_resource(apiserver, node, "1")
    victim = pause_pod("victim-pod", {EXTENDED: "1"}, priorityClassName=priority_classes["low"], affinity=on_node(node))
    victim["metadata"]["finalizers"] = ["example.com/test-finalizer"]
    create(apiserver, ns, victim)
    bound(apiserver, ns, "victim-pod")
    try:
        create(apiserver, ns, pause_pod("preemptor-pod", {EXTENDED: "1"}, priorityClassName=priority_classes["high"],
                                        affinity=on_node(node)))
        terminating = wait_for(lambda: (lambda p: p if p["metadata"].get("deletionTimestamp") else None)(
            get_pod(apiserver, ns, "victim-pod")), timeout=20, what="the victim terminating")
        assert "DisruptionTarget" in [c["type"] for c in terminating["status"].get("conditions") or []]
    finally:
        ok(apiserver.request("PATCH", f"/api/v1/namespaces/{ns}/pods/victim-pod",
                             {"metadata": {"finalizers": None}}, headers=STRATEGIC), 200, 404)


def _runtime_class(apiserver, overhead=None):  # noqa: F811
    name = unique("preconfigured-handler")
    body = {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": name},
            "handler": "test-handler"}
    if overhead:
        body["overhead"] = {"podFixed": overhead}
    ok(apiserver.request("POST", "/apis/node.k8s.io/v1/runtimeclasses", body))
    return name


def test_can_schedule_a_pod_requesting_existing_runtimeclass(apiserver, ns):  # noqa: F811
    """Can schedule a pod requesting existing RuntimeClass."""
    name = _runtime_class(apiserver)
    try:
        create(apiserver, ns, pause_pod("test-runtimeclass", runtimeClassName=name))
        bound(apiserver, ns, "test-runtimeclass")
        assert not get_pod(apiserver, ns, "test-runtimeclass")["spec"].get("overhead")
    finally:
        apiserver.request("DELETE", f"/apis/node.k8s.io/v1/runtimeclasses/{name}")


def test_runtimeclass_overhead_field_must_be_respected(apiserver, ns):  # noqa: F811
    """RuntimeClass Overhead field must be respected."""
    name = _runtime_class(apiserver, {"cpu": "10m", "memory": "1Mi"})
    try:
        create(apiserver, ns, pause_pod("test-runtimeclass", runtimeClassName=name))
        bound(apiserver, ns, "test-runtimeclass")
        assert get_pod(apiserver, ns, "test-runtimeclass")["spec"]["overhead"] == {"cpu": "10m", "memory": "1Mi"}
    finally:
        apiserver.request("DELETE", f"/apis/node.k8s.io/v1/runtimeclasses/{name}")

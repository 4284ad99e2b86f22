"""The [sig-cli] entries that drive a ReplicationController with kubectl (test/e2e/kubectl/kubectl.go):
describe, expose, patch, and the Update Demo's create, scale and stop. replicationcontroller-controller (and,
for expose, endpointslice-controller) run in this process against the server, and a simulated node
(kapiserver.node.simulated) binds the pods and reports them Running and Ready with a pod IP.

What differs: no container runs, so where upstream reads a pod (agnhost's "Paused" log line before expose, the
Update Demo's data.json through the pod proxy) nothing is read; everything kubectl and the API show is checked
as upstream checks it. kubectl commands that wait on the controllers (scale, delete) run in a thread while the
reactor turns (in_background)."""

from __future__ import annotations

import json

import pytest

from tests.conformance.support import unique
from tests.controllermanager.conftest import (client, controllers, eventually, in_background,  # noqa: F401
                                              namespace, simulated_nodes)
from tests.e2e.conftest import apiserver, kubectl  # noqa: F401

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
NAUTILUS = "registry.k8s.io/e2e-test-images/nautilus:1.7"
AGNHOST_PORT = 6379

# test/e2e/testing-manifests/kubectl/agnhost-primary-controller.json.in and agnhost-primary-service.json
AGNHOST_LABELS = {"app": "agnhost", "role": "primary"}
AGNHOST_CONTROLLER = json.dumps({
    "kind": "ReplicationController", "apiVersion": "v1",
    "metadata": {"name": "agnhost-primary", "labels": AGNHOST_LABELS},
    "spec": {"replicas": 1, "selector": AGNHOST_LABELS, "template": {
        "metadata": {"labels": AGNHOST_LABELS},
        "spec": {"containers": [{"name": "agnhost-primary", "image": AGNHOST,
                                 "ports": [{"name": "agnhost-server", "containerPort": AGNHOST_PORT}]}]}}}})
AGNHOST_SERVICE = json.dumps({
    "kind": "Service", "apiVersion": "v1", "metadata": {"name": "agnhost-primary", "labels": AGNHOST_LABELS},
    "spec": {"ports": [{"port": AGNHOST_PORT, "targetPort": "agnhost-server"}], "selector": AGNHOST_LABELS}})

# test/fixtures/doc-yaml/user-guide/update-demo/nautilus-rc.yaml.in
NAUTILUS_RC = f"""apiVersion: v1
kind: ReplicationController
metadata:
  name: update-demo-nautilus
spec:
  replicas: 2
  selector:
    name: update-demo
    version: nautilus
  template:
    metadata:
      labels:
        name: update-demo
        version: nautilus
    spec:
      containers:
      - image: {NAUTILUS}
        name: update-demo
        ports:
        - containerPort: 80
          protocol: TCP
"""
UPDATE_DEMO_SELECTOR = "name=update-demo"


@pytest.fixture
def cluster(controllers, simulated_nodes):  # noqa: F811
    controllers("replicationcontroller-controller", "endpointslice-controller")
    simulated_nodes(unique("kubectl-node"), schedule=True)


def running_pods(kubectl, namespace, selector, count):  # noqa: F811
    """upstream's waitForOrFailWithDebug / forEachPod: the pods the selector picks, once ``count`` run."""
    def check():
        pods = kubectl.json("-n", namespace, "get", "pods", "-l", selector)["items"]
        running = [p for p in pods if p["status"].get("phase") == "Running"]
        return len(running) >= count and running
    return eventually(check, timeout=30)


def check_output(output, required):
    """upstream's checkOutput: each group of strings appears, in order, in the output."""
    for group in required:
        at = 0
        for text in group:
            found = output.find(text, at)
            assert found >= 0, f"{text!r} (of {group}) is not in:\n{output}"
            at = found + len(text)


def test_kubectl_describe_pod_or_rc(cluster, kubectl, namespace):  # noqa: F811
    """Kubectl, describe pod or rc"""
    kubectl("-n", namespace, "create", "-f", "-", input=AGNHOST_CONTROLLER)
    kubectl("-n", namespace, "create", "-f", "-", input=AGNHOST_SERVICE)
    pods = running_pods(kubectl, namespace, "app=agnhost", 1)

    for pod in pods:
        output = kubectl("-n", namespace, "describe", "pod", pod["metadata"]["name"]).stdout
        check_output(output, [
            ["Name:", "agnhost-primary-"], ["Namespace:", namespace], ["Node:"], ["Labels:", "app=agnhost"],
            ["role=primary"], ["Annotations:"], ["Status:", "Running"], ["IP:"],
            ["Controlled By:", "ReplicationController/agnhost-primary"], ["Image:", AGNHOST],
            ["State:", "Running"], ["QoS Class:", "BestEffort"]])

    # upstream retries describe rc until the counts settle (checkKubectlOutputWithRetry)
    required = [
        ["Name:", "agnhost-primary"], ["Namespace:", namespace], ["Selector:", "app=agnhost,role=primary"],
        ["Labels:", "app=agnhost"], ["role=primary"], ["Annotations:"], ["Replicas:", "1 current", "1 desired"],
        ["Pods Status:", "1 Running", "0 Waiting", "0 Succeeded", "0 Failed"], ["Pod Template:"],
        ["Image:", AGNHOST], ["Events:"]]

    def rc_described():
        check_output(kubectl("-n", namespace, "describe", "rc", "agnhost-primary").stdout, required)
        return True
    eventually(rc_described, timeout=30)

    output = kubectl("-n", namespace, "describe", "service", "agnhost-primary").stdout
    check_output(output, [
        ["Name:", "agnhost-primary"], ["Namespace:", namespace], ["Labels:", "app=agnhost"], ["role=primary"],
        ["Annotations:"], ["Selector:", "app=agnhost", "role=primary"], ["Type:", "ClusterIP"], ["IP:"],
        ["Port:", "<unset>", "6379/TCP"], ["Endpoints:"], ["Session Affinity:", "None"]])

    node = kubectl.json("get", "nodes")["items"][0]["metadata"]["name"]
    output = kubectl("describe", "node", node).stdout
    check_output(output, [
        ["Name:", node], ["Labels:"], ["Annotations:"], ["CreationTimestamp:"], ["Conditions:"],
        ["Type", "Status", "LastHeartbeatTime", "LastTransitionTime", "Reason", "Message"], ["Addresses:"],
        ["Capacity:"], ["Version:"], ["Kernel Version:"], ["OS Image:"], ["Container Runtime Version:"],
        ["Kubelet Version:"], ["Kube-Proxy Version:"], ["Pods:"]])

    output = kubectl("describe", "namespace", namespace).stdout
    check_output(output, [["Name:", namespace], ["Labels:"], ["Annotations:"], ["Status:", "Active"]])


def test_kubectl_create_service_replication_controller(cluster, kubectl, namespace):  # noqa: F811
    """Kubectl, create service, replication controller"""
    kubectl("-n", namespace, "create", "-f", "-", input=AGNHOST_CONTROLLER)
    running_pods(kubectl, namespace, "app=agnhost", 1)

    def validate_service(name, service_port):
        def endpoint_ports():
            slices = kubectl.json("-n", namespace, "get", "endpointslices",
                                  "-l", f"kubernetes.io/service-name={name}")["items"]
            # upstream's GetContainerPortsByPodUID: each pod's ports, across the slices
            by_pod = {}
            for s in slices:
                for endpoint in s.get("endpoints") or []:
                    uid = (endpoint.get("targetRef") or {}).get("uid")
                    by_pod.setdefault(uid, []).extend(p["port"] for p in s.get("ports") or [])
            return by_pod
        by_pod = eventually(endpoint_ports, timeout=30)
        assert len(by_pod) == 1, by_pod
        assert [ports[0] for ports in by_pod.values()] == [AGNHOST_PORT]
        service = kubectl.json("-n", namespace, "get", "service", name)
        assert len(service["spec"]["ports"]) == 1
        assert service["spec"]["ports"][0]["port"] == service_port
        assert service["spec"]["ports"][0]["targetPort"] == AGNHOST_PORT

    kubectl("-n", namespace, "expose", "rc", "agnhost-primary", "--name=rm2", "--port=1234",
            f"--target-port={AGNHOST_PORT}")
    validate_service("rm2", 1234)
    kubectl("-n", namespace, "expose", "service", "rm2", "--name=rm3", "--port=2345",
            f"--target-port={AGNHOST_PORT}")
    validate_service("rm3", 2345)


def test_kubectl_patch_to_annotate(cluster, kubectl, namespace):  # noqa: F811
    """Kubectl, patch to annotate"""
    kubectl("-n", namespace, "create", "-f", "-", input=AGNHOST_CONTROLLER)
    pods = running_pods(kubectl, namespace, "app=agnhost", 1)
    for pod in pods:
        kubectl("-n", namespace, "patch", "pod", pod["metadata"]["name"], "-p",
                '{"metadata":{"annotations":{"x":"y"}}}')
    for pod in kubectl.json("-n", namespace, "get", "pods", "-l", "app=agnhost")["items"]:
        assert (pod["metadata"].get("annotations") or {}).get("x") == "y", pod["metadata"]


def validate_controller(kubectl, namespace, image, replicas):  # noqa: F811
    """upstream's validateController with the templates it uses: exactly ``replicas`` pods named by the
    selector, each with its update-demo container running the image (upstream then reads each pod's
    data.json through the pod proxy: no container runs here)."""
    def pod_names():
        names = kubectl("-n", namespace, "get", "pods", "-o", "template",
                        "--template={{range.items}}{{.metadata.name}} {{end}}", "-l", UPDATE_DEMO_SELECTOR).stdout
        return names.split()

    def valid():
        names = pod_names()
        if len(names) != replicas:
            return False
        for name in names:
            running = kubectl("-n", namespace, "get", "pods", name, "-o", "template", "--template="
                              '{{if (exists . "status" "containerStatuses")}}{{range .status.containerStatuses}}'
                              '{{if (and (eq .name "update-demo") (exists . "state" "running"))}}true{{end}}'
                              "{{end}}{{end}}").stdout
            if running != "true":
                return False
            found = kubectl("-n", namespace, "get", "pods", name, "-o", "template", "--template="
                            '{{if (exists . "spec" "containers")}}{{range .spec.containers}}'
                            '{{if eq .name "update-demo"}}{{.image}}{{end}}{{end}}{{end}}').stdout
            assert found == image, (name, found)
        return True
    eventually(valid, timeout=30)


def cleanup_kubectl_inputs(kubectl, namespace, manifest):  # noqa: F811
    """upstream's cleanupKubectlInputs: a forced delete of what the manifest made; then no rc or service and no
    pod (but deleting ones) left with the selector."""
    kubectl("-n", namespace, "delete", "--grace-period=0", "--force", "-f", "-", input=manifest)

    def gone():
        left = kubectl("-n", namespace, "get", "rc,svc", "-l", UPDATE_DEMO_SELECTOR, "--no-headers").stdout
        pods = kubectl("-n", namespace, "get", "pods", "-l", UPDATE_DEMO_SELECTOR, "-o", "go-template="
                       '{{ range .items }}{{ if not .metadata.deletionTimestamp }}{{ .metadata.name }}{{ "\\n" }}'
                       "{{ end }}{{ end }}").stdout
        return left.strip() == "" and pods.strip() == ""
    eventually(gone, timeout=30)


def test_kubectl_replication_controller(cluster, kubectl, namespace):  # noqa: F811
    """Kubectl, replication controller"""
    try:
        kubectl("-n", namespace, "create", "-f", "-", input=NAUTILUS_RC)
        validate_controller(kubectl, namespace, NAUTILUS, 2)
    finally:
        cleanup_kubectl_inputs(kubectl, namespace, NAUTILUS_RC)


def test_kubectl_scale_replication_controller(cluster, kubectl, namespace):  # noqa: F811
    """Kubectl, scale replication controller"""
    try:
        kubectl("-n", namespace, "create", "-f", "-", input=NAUTILUS_RC)
        validate_controller(kubectl, namespace, NAUTILUS, 2)
        for replicas in (1, 2):
            # kubectl scale with a timeout waits for the controller: run it while the reactor turns
            scaled = in_background(kubectl, "-n", namespace, "scale", "rc", "update-demo-nautilus",
                                   f"--replicas={replicas}", "--timeout=5m")
            assert scaled.returncode == 0, scaled.stderr
            validate_controller(kubectl, namespace, NAUTILUS, replicas)
    finally:
        cleanup_kubectl_inputs(kubectl, namespace, NAUTILUS_RC)

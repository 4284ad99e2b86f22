"""The simulated node the controller tests run pods on: it registers, binds (with schedule=True), reports pods
Running and Ready, finishes them after run_seconds for restartPolicy Never, and completes deletions."""

from kapiserver.client.resources import NODES, PODS
from kapiserver.node.simulated import EXIT_CODE_ANNOTATION, RUN_SECONDS_ANNOTATION
from tests.controllermanager.conftest import eventually, run


def _pod(name, namespace, **annotations):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}


def test_pods_run_finish_and_go(simulated_nodes, client, namespace):
    simulated_nodes("sim-a", schedule=True)
    node = run(client.get(NODES, "sim-a"))
    assert [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"] == ["True"]
    run(client.create(PODS, _pod("runs", namespace)))
    run(client.create(PODS, _pod("fails", namespace, **{RUN_SECONDS_ANNOTATION: "0.1", EXIT_CODE_ANNOTATION: "3"})))
    running = eventually(lambda: (p := run(client.get(PODS, "runs", namespace)))["status"].get("phase") == "Running"
                         and p)
    assert running["spec"]["nodeName"] == "sim-a" and running["status"]["podIP"]
    ready = {c["type"]: c["status"] for c in running["status"]["conditions"]}
    assert ready["Ready"] == "True" and ready["PodScheduled"] == "True"
    failed = eventually(lambda: (p := run(client.get(PODS, "fails", namespace)))["status"].get("phase") == "Failed"
                        and p)
    assert failed["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3
    run(client.delete(PODS, "runs", namespace))
    eventually(lambda: "runs" not in [p["metadata"]["name"] for p in run(client.list(PODS, namespace))["items"]])


def test_a_pods_readiness_gates_hold_its_ready(simulated_nodes, client, namespace):
    """A pod with a readiness gate runs but is not Ready (ReadinessGatesNotReady, upstream's message) until another
    writer sets the gate's condition True; Ready follows the condition back to False, as the kubelet's does."""
    simulated_nodes("sim-gates", schedule=True)
    pod = _pod("gated", namespace)
    pod["spec"]["readinessGates"] = [{"conditionType": "example.com/lb-ready"}]
    run(client.create(PODS, pod))

    def ready():
        found = run(client.get(PODS, "gated", namespace))
        if found["status"].get("phase") != "Running":
            return None
        return next((c for c in found["status"]["conditions"] if c["type"] == "Ready"), None)
    condition = eventually(ready)
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "False", "ReadinessGatesNotReady",
        'corresponding condition of pod readiness gate "example.com/lb-ready" does not exist.')

    def gate(status):
        run(client.patch(PODS, "gated", {"status": {"conditions": [{"type": "example.com/lb-ready",
                                                                     "status": status}]}},
                         namespace, patch_type="strategic", subresource="status"))
    gate("True")
    eventually(lambda: (c := ready()) and c["status"] == "True")
    gate("False")
    condition = eventually(lambda: (c := ready()) and c["status"] == "False" and c)
    assert condition["message"] == 'the status of pod readiness gate "example.com/lb-ready" is not "True", but False'

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

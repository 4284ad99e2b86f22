"""The kapiserver_control_plane fixture: controllers, scheduler and a simulated node beside the server, and the
reset between tests still leaving a clean cluster (the node kept)."""

from __future__ import annotations

from tests.conformance import support

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
PODS = "/api/v1/namespaces/default/pods"


def wait_for(predicate, timeout=60.0, what="condition", control_plane=None):
    """support.wait_for; on a timeout with ``control_plane`` given, the cluster's state and the daemons' logs
    are in the failure's message."""
    try:
        return support.wait_for(predicate, timeout=timeout, interval=0.1, what=what)
    except AssertionError as e:
        if control_plane is None:
            raise
        api = control_plane.server.api
        state = {path: [(i["metadata"]["name"], i.get("spec", {}).get("nodeName") or i.get("spec", {}).get("taints"),
                         i.get("status", {}).get("phase") or i.get("status", {}).get("replicas"))
                        for i in api.get(path)["items"]]
                 for path in (PODS, "/apis/apps/v1/namespaces/default/replicasets", "/api/v1/nodes")}
        logs = "\n".join(f"--- {tag}:\n{control_plane.log(tag, 3000)}" for tag in list(control_plane.processes))
        raise AssertionError(f"{e}\nstate: {state}\n{logs}") from None


def running_pods(kapiserver) -> list:
    pods = kapiserver.api.get(PODS)["items"]
    return [p for p in pods if p.get("status", {}).get("phase") == "Running" and p["spec"].get("nodeName")]


def deployment(name: str, replicas: int) -> dict:
    labels = {"app": name}
    return {"metadata": {"name": name}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels},
                     "spec": {"containers": [{"name": "main", "image": "busybox"}]}}}}


def test_a_deployment_gets_running_pods(kapiserver, kapiserver_control_plane):
    """A Deployment of 2 gets a ReplicaSet and 2 pods, scheduled to the simulated node and Running."""
    kapiserver.api.post(DEPLOYMENTS, deployment("web", 2))
    pods = wait_for(lambda: len(running_pods(kapiserver)) == 2 and running_pods(kapiserver), what="2 running pods",
                    control_plane=kapiserver_control_plane)
    assert {p["spec"]["nodeName"] for p in pods} == {"node-1"}
    wait_for(lambda: kapiserver.api.get(f"{DEPLOYMENTS}/web").get("status", {}).get("readyReplicas") == 2,
             what="readyReplicas 2")


def test_the_next_test_starts_from_a_clean_cluster(kapiserver, kapiserver_control_plane):
    """After the reset the Deployment and its pods are gone, the node is still there and Ready, and a new
    Deployment under the same name runs again."""
    assert kapiserver.api.request("GET", f"{DEPLOYMENTS}/web")[0] == 404
    assert kapiserver.api.get("/apis/apps/v1/namespaces/default/replicasets")["items"] == []
    # A pod the ReplicaSet controller made for a ReplicaSet the reset had deleted is undone by the settling
    # resets, and at worst collected as an orphan by the garbage collector.
    wait_for(lambda: kapiserver.api.get(PODS)["items"] == [], what="no pods")
    assert kapiserver.api.get("/api/v1/nodes/node-1")["metadata"]["name"] == "node-1"
    kapiserver.api.post(DEPLOYMENTS, deployment("web", 1))
    wait_for(lambda: len(running_pods(kapiserver)) == 1, what="1 running pod", control_plane=kapiserver_control_plane)


def test_a_reset_leaves_the_daemons_watches_open(kapiserver, kapiserver_control_plane):
    """The daemons' informers watch through a reset (they see it as events) instead of re-opening some 90
    watches, each after a stale gap; the reset ends none of them."""
    kapiserver.api.post(DEPLOYMENTS, deployment("web", 1))
    wait_for(lambda: len(running_pods(kapiserver)) == 1, what="1 running pod", control_plane=kapiserver_control_plane)
    result = kapiserver.reset()
    assert result["writes"] > 0 and result["watchesEnded"] == 0, result
    wait_for(lambda: kapiserver.api.get(PODS)["items"] == [], what="no pods")

"""taint-eviction-controller: NoExecute taints evict the pods that do not tolerate them, at once or after the
shortest tolerationSeconds; removing the taint cancels a planned eviction."""

import time

from kapiserver.client.resources import EVENTS, NODES, PODS
from kapiserver.client.rest import APIError
from kapiserver.controllermanager.taints import matching_tolerations, min_toleration_seconds, tolerates
from tests.controllermanager.conftest import eventually, run

TAINT = {"key": "example.com/evict", "value": "yes", "effect": "NoExecute"}


def _pod(name, namespace, toleration_seconds="absent", tolerate=True, finalizers=None):
    spec = {"containers": [{"name": "c", "image": "busybox"}]}
    if tolerate:
        toleration = {"key": TAINT["key"], "operator": "Equal", "value": "yes", "effect": "NoExecute"}
        if toleration_seconds != "absent":
            toleration["tolerationSeconds"] = toleration_seconds
        spec["tolerations"] = [toleration]
    metadata = {"name": name, "namespace": namespace}
    if finalizers:
        metadata["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def taint_node(client, name, taint, add=True):
    """Read, change, write; again on a conflict (the simulated node writes its status meanwhile)."""
    while True:
        node = run(client.get(NODES, name))
        taints = [t for t in node["spec"].get("taints") or [] if t["key"] != taint["key"]]
        node["spec"]["taints"] = taints + ([taint] if add else [])
        try:
            run(client.update(NODES, node))
            return
        except APIError as e:
            if e.code != 409:
                raise


def running(client, name, namespace):
    return run(client.get(PODS, name, namespace))["status"].get("phase") == "Running"


def gone(client, name, namespace):
    return name not in [p["metadata"]["name"] for p in run(client.list(PODS, namespace))["items"]]


def wait(seconds):
    """Turn the reactor for ``seconds``."""
    stop = time.monotonic() + seconds
    eventually(lambda: time.monotonic() > stop, timeout=seconds + 2)


def events(client, namespace, reason="TaintManagerEviction"):
    return [e["message"] for e in run(client.list(EVENTS, namespace))["items"] if e["reason"] == reason]


def test_tolerations_match_as_upstream():
    """An empty key with Exists tolerates everything; Equal compares values; the shortest seconds wins."""
    assert tolerates({"operator": "Exists"}, TAINT)
    assert not tolerates({"key": TAINT["key"], "value": "no"}, TAINT)
    assert not tolerates({"key": TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}, TAINT)
    other = {"key": "b", "effect": "NoExecute"}
    assert matching_tolerations([TAINT, other], [{"key": TAINT["key"], "operator": "Exists"}]) == (False, [])
    assert min_toleration_seconds([{"tolerationSeconds": 30}, {"tolerationSeconds": 5}, {}]) == 5
    assert min_toleration_seconds([{}, {}]) == -1
    assert min_toleration_seconds([{"tolerationSeconds": -3}]) == 0


def test_untolerated_pods_go_at_once_and_tolerating_ones_after_their_seconds(controllers, simulated_nodes, client,
                                                                              namespace):
    """A pod without a toleration is evicted at once (DisruptionTarget DeletionByTaintManager, an event); one
    tolerating for 5 s goes after that (5 s: seeing the first eviction may take seconds on a loaded machine);
    one tolerating forever stays."""
    simulated_nodes("taint-a", schedule=True)
    controllers("taint-eviction-controller")
    run(client.create(PODS, _pod("plain", namespace, tolerate=False, finalizers=["example.com/hold"])))
    run(client.create(PODS, _pod("short", namespace, toleration_seconds=5)))
    run(client.create(PODS, _pod("forever", namespace)))
    for name in ("plain", "short", "forever"):
        eventually(lambda: running(client, name, namespace))
    try:
        taint_node(client, "taint-a", TAINT)
        tainted = time.monotonic()
        plain = eventually(lambda: (p := run(client.get(PODS, "plain", namespace)))["metadata"].get(
            "deletionTimestamp") and p)
        target = [c for c in plain["status"]["conditions"] if c["type"] == "DisruptionTarget"]
        assert target and target[0]["reason"] == "DeletionByTaintManager"
        assert target[0]["message"] == "Taint manager: deleting due to NoExecute taint"
        assert not gone(client, "short", namespace)
        eventually(lambda: gone(client, "short", namespace))
        assert time.monotonic() - tainted >= 4.5
        assert not gone(client, "forever", namespace)
        assert f"Marking for deletion Pod {namespace}/plain" in eventually(lambda: events(client, namespace))
        # A patch, not an update of the copy read above: the node has written the pod's status since.
        run(client.patch(PODS, "plain", {"metadata": {"finalizers": None}}, namespace))
    finally:
        taint_node(client, "taint-a", TAINT, add=False)


def test_removing_the_taint_cancels_the_eviction(controllers, simulated_nodes, client, namespace):
    """A pod tolerating the taint for 5 s stays when the taint goes within that time (half a second later:
    5 s leaves room for a loaded machine); a cancelling event says so, and the pod is still there after the 5 s."""
    simulated_nodes("taint-b", schedule=True)
    controllers("taint-eviction-controller")
    run(client.create(PODS, _pod("stays", namespace, toleration_seconds=5)))
    eventually(lambda: running(client, "stays", namespace))
    taint_node(client, "taint-b", TAINT)
    wait(0.5)
    taint_node(client, "taint-b", TAINT, add=False)
    assert f"Cancelling deletion of Pod {namespace}/stays" in eventually(lambda: events(client, namespace))
    wait(6)
    assert not gone(client, "stays", namespace)

"""disruption-controller against a real apiserver: PodDisruptionBudget status, and the eviction subresource
honouring it."""

import pytest

from kapiserver.client.resources import EVENTS, POD_DISRUPTION_BUDGETS, PODS, STATEFUL_SETS
from kapiserver.client.rest import APIError
from kapiserver.controllermanager.disruption import budget_numbers, go_selector, healthy_count
from kapiserver.machinery import meta
from tests.controllermanager.conftest import eventually, run
from tests.controllermanager.test_statefulset import stateful_set


def pdb(name, selector, **spec):
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": selector}, **spec}}


def evict(client, namespace, name):
    return run(client.create(PODS, {"apiVersion": "policy/v1", "kind": "Eviction",
                                    "metadata": {"name": name, "namespace": namespace}},
                             namespace=namespace, name=name, subresource="eviction"))


def budget_status(client, namespace, name):
    return run(client.get(POD_DISRUPTION_BUDGETS, name, namespace)).get("status") or {}


def ready_pod(name, ready=True, **metadata):
    return {"metadata": {"name": name, **metadata},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def test_budget_numbers():
    """minAvailable as an int counts the selected pods; percentages and maxUnavailable use the controllers'
    scale, rounding up."""
    pods = [ready_pod("a"), ready_pod("b")]
    assert budget_numbers({"minAvailable": 1}, pods, None) == (2, 1, [])
    assert budget_numbers({"minAvailable": "50%"}, pods, lambda p: (5, [])) == (5, 3, [])
    assert budget_numbers({"maxUnavailable": "30%"}, pods, lambda p: (7, [])) == (7, 4, [])
    assert budget_numbers({"maxUnavailable": 9}, pods, lambda p: (7, ["x"])) == (7, 0, ["x"])


def test_healthy_count_leaves_out_deleting_unready_and_recently_evicted_pods():
    """A pod listed in disruptedPods stops counting for two minutes; deleting and unready pods never count."""
    now = 1_000_000.0
    pods = [ready_pod("a"), ready_pod("b"), ready_pod("c", ready=False),
            ready_pod("d", deletionTimestamp=meta.rfc3339(now))]
    assert healthy_count(pods, {}, now) == 2
    assert healthy_count(pods, {"a": meta.rfc3339(now - 10)}, now) == 1
    assert healthy_count(pods, {"a": meta.rfc3339(now - 200)}, now) == 2


def test_go_selector_printing():
    """The UnmanagedPods event prints the selector as Go's %v does."""
    assert go_selector({"matchLabels": {"app": "x"}}) == \
        "&LabelSelector{MatchLabels:map[string]string{app: x,},MatchExpressions:[]LabelSelectorRequirement{},}"


@pytest.fixture
def web(controllers, simulated_nodes, client, namespace):
    """A StatefulSet of three Running and Ready pods, with the disruption controller running."""
    controllers("statefulset-controller", "disruption-controller")
    simulated_nodes("sim-pdb", schedule=True)
    run(client.create(STATEFUL_SETS, stateful_set("web", podManagementPolicy="Parallel"), namespace))
    eventually(lambda: (run(client.get(STATEFUL_SETS, "web", namespace)).get("status") or {})
               .get("readyReplicas") == 3)
    return "web"


def test_eviction_blocked_until_the_budget_allows_it(web, client, namespace):
    """With minAvailable equal to the healthy pods an eviction is a 429 naming the budget; once the budget is
    lowered it goes through, the pod is recorded as disrupted, and the budget is spent."""
    run(client.create(POD_DISRUPTION_BUDGETS, pdb("budget", {"app": "web"}, minAvailable=3), namespace))
    eventually(lambda: budget_status(client, namespace, "budget").get("observedGeneration") == 1)
    status = budget_status(client, namespace, "budget")
    assert (status["currentHealthy"], status["desiredHealthy"], status["expectedPods"],
            status["disruptionsAllowed"]) == (3, 3, 3, 0)
    condition = status["conditions"][0]
    assert (condition["type"], condition["status"], condition["reason"]) == \
        ("DisruptionAllowed", "False", "InsufficientPods")
    with pytest.raises(APIError) as refused:
        evict(client, namespace, "web-1")
    assert refused.value.code == 429
    assert refused.value.message == "Cannot evict pod as it would violate the pod's disruption budget."
    assert refused.value.status["details"]["causes"] == [
        {"reason": "DisruptionBudget", "message": "The disruption budget budget needs 3 healthy pods and has 3 "
                                                  "currently"}]
    assert run(client.get(PODS, "web-1", namespace))["metadata"].get("deletionTimestamp") is None

    run(client.patch(POD_DISRUPTION_BUDGETS, "budget", {"spec": {"minAvailable": 2}}, namespace))
    eventually(lambda: budget_status(client, namespace, "budget").get("disruptionsAllowed") == 1)
    assert budget_status(client, namespace, "budget")["conditions"][0]["reason"] == "SufficientPods"
    uid = run(client.get(PODS, "web-1", namespace))["metadata"]["uid"]
    evict(client, namespace, "web-1")
    # The eviction spent the budget: a second one is refused until the pod is back and Ready.
    with pytest.raises(APIError) as again:
        evict(client, namespace, "web-2")
    assert again.value.code == 429
    eventually(lambda: run(client.get(PODS, "web-1", namespace))["metadata"]["uid"] != uid)
    eventually(lambda: budget_status(client, namespace, "budget").get("disruptionsAllowed") == 1 and
               not budget_status(client, namespace, "budget").get("disruptedPods"))


def test_max_unavailable_percentage_uses_the_statefulset_scale(web, client, namespace):
    """maxUnavailable 50% of a 3-replica StatefulSet leaves 1 pod desired healthy (rounding up the unavailable);
    scaling the set changes expectedPods."""
    run(client.create(POD_DISRUPTION_BUDGETS, pdb("half", {"app": "web"}, maxUnavailable="50%"), namespace))
    eventually(lambda: budget_status(client, namespace, "half").get("expectedPods") == 3)
    status = budget_status(client, namespace, "half")
    assert (status["desiredHealthy"], status["disruptionsAllowed"]) == (1, 2)
    run(client.patch(STATEFUL_SETS, "web", {"spec": {"replicas": 4}}, namespace))
    eventually(lambda: budget_status(client, namespace, "half").get("expectedPods") == 4 and
               budget_status(client, namespace, "half").get("currentHealthy") == 4)
    assert budget_status(client, namespace, "half")["desiredHealthy"] == 2


def test_unmanaged_pods_and_empty_budgets(controllers, client, namespace):
    """A budget selecting no pods allows nothing (NoPods event); with maxUnavailable, pods without a controller
    are reported as unmanaged and expectedPods stays 0."""
    controllers("disruption-controller")
    run(client.create(POD_DISRUPTION_BUDGETS, pdb("none", {"app": "naked"}, maxUnavailable=1), namespace))
    eventually(lambda: budget_status(client, namespace, "none").get("observedGeneration") == 1)
    run(client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "naked",
                                                                              "labels": {"app": "naked"}},
                             "spec": {"containers": [{"name": "c", "image": "busybox"}]}}, namespace))

    def reasons():
        return {e["reason"] for e in run(client.list(EVENTS, namespace))["items"]}
    eventually(lambda: {"NoPods", "UnmanagedPods"} <= reasons())
    status = budget_status(client, namespace, "none")
    assert (status["expectedPods"], status["disruptionsAllowed"]) == (0, 0)
    # A pending pod is evicted without asking the budget.
    evict(client, namespace, "naked")
    eventually(lambda: "naked" not in [p["metadata"]["name"] for p in run(client.list(PODS, namespace))["items"]])


def _kubectl(kubectl, *args):
    """Run kubectl while the reactor turns (the controllers and the simulated node live in this process)."""
    process = kubectl.popen(*args)
    eventually(lambda: process.poll() is not None, timeout=120)
    out, err = process.communicate()
    return process.returncode, out + err


def test_kubectl_drain_waits_for_the_budget(web, client, namespace, kubectl):
    """kubectl drain evicts through the budget: with none to spare it retries until its timeout, and drains
    once the budget is relaxed."""
    run(client.create(POD_DISRUPTION_BUDGETS, pdb("all", {"app": "web"}, minAvailable=3), namespace))
    eventually(lambda: budget_status(client, namespace, "all").get("observedGeneration") == 1)
    code, output = _kubectl(kubectl, "drain", "sim-pdb", "-n", namespace, "--pod-selector=app=web",
                            "--timeout=3s")
    assert code != 0 and "Cannot evict pod as it would violate the pod's disruption budget" in output
    run(client.patch(POD_DISRUPTION_BUDGETS, "all", {"spec": {"minAvailable": 0}}, namespace))
    eventually(lambda: budget_status(client, namespace, "all").get("disruptionsAllowed") == 3)
    uids = {p["metadata"]["uid"] for p in run(client.list(PODS, namespace))["items"]}
    code, output = _kubectl(kubectl, "drain", "sim-pdb", "--pod-selector=app=web", "--timeout=30s")
    assert code == 0, output
    assert "evicted" in output
    assert not uids & {p["metadata"]["uid"] for p in run(client.list(PODS, namespace))["items"]}


def test_stale_disruption_target_condition_is_reset(controllers, client, namespace):
    """A DisruptionTarget condition on a pod that was not deleted within two minutes is set back to False."""
    controllers("disruption-controller")
    run(client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kept"},
                             "spec": {"containers": [{"name": "c", "image": "busybox"}]}}, namespace))
    run(client.patch(PODS, "kept", {"status": {"conditions": [
        {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
         "message": "Eviction API: evicting", "lastTransitionTime": "2020-01-01T00:00:00Z"}]}}, namespace,
        patch_type="strategic", subresource="status"))

    def target():
        return next(c for c in run(client.get(PODS, "kept", namespace))["status"]["conditions"]
                    if c["type"] == "DisruptionTarget")
    eventually(lambda: target()["status"] == "False")
    assert target()["lastTransitionTime"] != "2020-01-01T00:00:00Z"


def _running_pod(client, namespace, name, ready=True):
    run(client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "e"}},
                             # Bound (to a node no kubelet serves): a deletion stays graceful, to be seen.
                             "spec": {"nodeName": "nowhere", "containers": [{"name": "c", "image": "busybox"}]}},
                      namespace))
    stamp = "2024-01-01T00:00:00Z"
    run(client.patch(PODS, name, {"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": stamp}]}}, namespace,
        subresource="status"))


def _budget_with_status(client, namespace, name, status, **spec):
    created = run(client.create(POD_DISRUPTION_BUDGETS, pdb(name, {"app": "e"}, **spec), namespace))
    created["status"] = {"observedGeneration": created["metadata"]["generation"], "currentHealthy": 0,
                         "desiredHealthy": 0, "expectedPods": 0, "disruptionsAllowed": 0, **status}
    return run(client.update(POD_DISRUPTION_BUDGETS, created, subresource="status"))


def test_eviction_refusals_without_a_controller(client, namespace):
    """The eviction subresource alone: a budget the controller has not processed refuses ("still being
    processed"); two budgets for one pod are a 500; an allowed eviction spends the budget and marks the pod."""
    _running_pod(client, namespace, "p")
    run(client.create(POD_DISRUPTION_BUDGETS, pdb("fresh", {"app": "e"}, minAvailable=0), namespace))
    with pytest.raises(APIError) as pending:
        evict(client, namespace, "p")
    assert pending.value.code == 429
    assert pending.value.status["details"]["causes"][0]["message"] == \
        "The disruption budget fresh is still being processed by the server."
    _budget_with_status(client, namespace, "second", {"disruptionsAllowed": 1}, minAvailable=0)
    with pytest.raises(APIError) as two:
        evict(client, namespace, "p")
    assert two.value.code == 500
    assert "more than one PodDisruptionBudget" in two.value.message
    run(client.delete(POD_DISRUPTION_BUDGETS, "fresh", namespace))
    evict(client, namespace, "p")
    spent = budget_status(client, namespace, "second")
    assert spent["disruptionsAllowed"] == 0 and list(spent["disruptedPods"]) == ["p"]
    assert [(c["reason"], c["status"]) for c in spent["conditions"]] == [("InsufficientPods", "False")]
    pod = run(client.get(PODS, "p", namespace))
    assert pod["metadata"].get("deletionTimestamp")
    target = [c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert target[0]["reason"] == "EvictionByEvictionAPI" and target[0]["message"] == "Eviction API: evicting"


def test_unready_pods_are_evicted_without_spending_the_budget(client, namespace):
    """An unready pod is evicted though no disruption is allowed, when the budget is met (IfHealthyBudget) or
    the policy is AlwaysAllow; a dry run deletes nothing."""
    _running_pod(client, namespace, "sick", ready=False)
    _budget_with_status(client, namespace, "met", {"currentHealthy": 2, "desiredHealthy": 2}, minAvailable=2)
    run(client.create(PODS, {"apiVersion": "policy/v1", "kind": "Eviction",
                             "metadata": {"name": "sick", "namespace": namespace},
                             "deleteOptions": {"dryRun": ["All"]}}, namespace=namespace, name="sick",
                      subresource="eviction"))
    assert not run(client.get(PODS, "sick", namespace))["metadata"].get("deletionTimestamp")
    evict(client, namespace, "sick")
    assert run(client.get(PODS, "sick", namespace))["metadata"].get("deletionTimestamp")
    assert budget_status(client, namespace, "met")["disruptionsAllowed"] == 0
    assert not budget_status(client, namespace, "met").get("disruptedPods")
    run(client.delete(POD_DISRUPTION_BUDGETS, "met", namespace))
    _running_pod(client, namespace, "sick2", ready=False)
    _budget_with_status(client, namespace, "short", {"currentHealthy": 0, "desiredHealthy": 2}, minAvailable=2,
                        unhealthyPodEvictionPolicy="AlwaysAllow")
    evict(client, namespace, "sick2")
    _running_pod(client, namespace, "well")
    with pytest.raises(APIError) as refused:
        evict(client, namespace, "well")
    assert refused.value.status["details"]["causes"][0]["message"] == \
        "The disruption budget short needs 2 healthy pods and has 0 currently"

"""disruption-controller in process against upstream 1.32's pkg/controller/disruption/disruption.go: which
budgets a pod's changes wake, the scale subresource as the last finder, the fail-safe."""

from twisted.internet import task

from kapiserver.client.rest import APIError
from kapiserver.controllermanager.disruption import DisruptionController
from tests.controllermanager.conftest import run


class FakeClient:
    def __init__(self, responses=None):
        self.responses = responses or {}
        self.status_updates = []

    async def update(self, resource, obj, subresource=None):
        self.status_updates.append(obj)
        return obj

    async def request(self, method, path, *args, **kwargs):
        if path not in self.responses:
            raise APIError(404, {"reason": "NotFound", "message": "the server could not find the requested resource"})
        return self.responses[path]

    async def create(self, resource, obj, namespace=None, **kwargs):
        return obj


def controller(responses=None):
    from kapiserver.client.informer import SharedInformerFactory
    from kapiserver.controllermanager.context import ControllerContext
    clock = task.Clock()
    clock.advance(1_700_000_000)
    client = FakeClient(responses)
    c = DisruptionController(ControllerContext(client, SharedInformerFactory(client, clock), clock, {}))
    return c, client


def budget(name, selector, **spec):
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "namespace": "ns", "uid": "uid-" + name, "generation": 1,
                         "resourceVersion": "1"},
            "spec": {"selector": selector, **spec}}


def pod(name, labels=None, owner=None):
    metadata = {"name": name, "namespace": "ns", "uid": "uid-" + name, "labels": labels or {},
                "resourceVersion": "1"}
    if owner:
        metadata["ownerReferences"] = [{"controller": True, **owner}]
    return {"metadata": metadata, "spec": {},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}


def test_a_budget_with_an_empty_selector_is_woken_by_every_pod_of_its_namespace():
    """policy/v1: an empty selector selects everything, for the pods' events as for the counting."""
    c, _ = controller()
    c.budgets.indexer.add(budget("all", {}, minAvailable=1))
    c.budgets.indexer.add(budget("none", None, minAvailable=1))
    c._pod_changed(pod("p", {"app": "x"}))
    assert len(c.queue) == 1 and run(c.queue.get()) == "ns/all"


APPS_V1 = {"kind": "APIResourceList", "groupVersion": "apps/v1", "resources": [
    {"name": "replicasets", "kind": "ReplicaSet", "namespaced": True},
    {"name": "replicasets/scale", "kind": "Scale", "group": "autoscaling", "version": "v1", "namespaced": True}]}


def test_the_scale_subresource_is_the_last_finder_for_built_in_kinds_too():
    """A pod whose ReplicaSet's Deployment is gone (or not yet in the cache) is counted by the ReplicaSet's
    scale subresource, as upstream's getScaleController follows the built-in finders for any owner."""
    scale = {"kind": "Scale", "metadata": {"name": "rs", "namespace": "ns", "uid": "uid-rs"},
             "spec": {"replicas": 4}}
    c, client = controller({"/apis/apps/v1": APPS_V1,
                            "/apis/apps/v1/namespaces/ns/replicasets/rs/scale": scale})
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "uid-rs"}
    c.pods.indexer.add(pod("p", {"app": "x"}, owner))
    c.budgets.indexer.add(budget("b", {"matchLabels": {"app": "x"}}, maxUnavailable=1))
    run(c.sync("ns/b"))
    status = client.status_updates[-1]["status"]
    assert (status["expectedPods"], status["desiredHealthy"]) == (4, 3)
    assert status["conditions"][0]["reason"] == "InsufficientPods"


def test_a_failed_sync_ends_with_the_fail_safe_and_is_not_retried():
    """A controller without a scale subresource fails the count: the budget is written with disruptionsAllowed 0
    and DisruptionAllowed False/SyncFailed, and the sync itself succeeds (upstream's sync returns failSafe's
    result), so the key is not retried with backoff."""
    foos = {"kind": "APIResourceList", "groupVersion": "example.com/v1",
            "resources": [{"name": "foos", "kind": "Foo", "namespaced": True}]}
    c, client = controller({"/apis/example.com/v1": foos})
    owner = {"apiVersion": "example.com/v1", "kind": "Foo", "name": "f", "uid": "uid-f"}
    c.pods.indexer.add(pod("p", {"app": "x"}, owner))
    c.budgets.indexer.add(budget("b", {"matchLabels": {"app": "x"}}, maxUnavailable="50%"))
    run(c.sync("ns/b"))
    status = client.status_updates[-1]["status"]
    assert status["disruptionsAllowed"] == 0
    condition = status["conditions"][0]
    assert (condition["status"], condition["reason"]) == ("False", "SyncFailed")
    assert condition["message"] == "foos.example.com does not implement the scale subresource"


def test_a_budget_whose_selector_does_not_parse_selects_no_pod_and_raises_nothing():
    """A pod event meets budgets whose selectors may not parse (the apiserver refuses them, but an old object
    may hold one): such a budget selects nothing; its own sync is the fail-safe's SyncError."""
    import pytest

    from kapiserver.controllermanager.disruption import DisruptionController, SyncError
    bogus = {"metadata": {"name": "bad", "namespace": "ns"},
             "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Bogus", "values": ["x"]}]}}}

    class Indexer:
        @staticmethod
        def by_index(name, value):
            return [bogus]

    class Stub:
        budgets = pods = type("Informer", (), {"indexer": Indexer})()
    pod = {"metadata": {"name": "p", "namespace": "ns", "labels": {"a": "x"}}}
    assert DisruptionController._budgets_for(Stub(), pod) == []
    with pytest.raises(SyncError):
        DisruptionController._pods_of(Stub(), bogus)

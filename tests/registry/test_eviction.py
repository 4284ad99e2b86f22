"""EvictionREST through the registry: an unhealthy pod evicted without spending its budget is deleted only as it
was judged, as upstream deletes it at the resourceVersion it read."""

from __future__ import annotations

import pytest

from kapiserver.machinery.errors import StatusError
from kapiserver.registry.subresources.eviction import evict

from tests.controllers.conftest import run


class ChangedAfterReading:
    """The pods' store, the pod changed (by its kubelet, say) right after the eviction read it."""

    def __init__(self, pods):
        self.pods = pods

    def __getattr__(self, name):
        return getattr(self.pods, name)

    async def get(self, namespace, name, resource_version=""):
        pod = await self.pods.get(namespace, name, resource_version)

        def ready(old):
            old["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
            return old
        await self.pods.update(namespace, name, ready, subresource="status")
        return pod


@pytest.fixture
def stores(store_registry):
    return store_registry.store("", "v1", "pods"), store_registry.store("policy", "v1", "poddisruptionbudgets")


def _unready_running_pod(pods):
    run(pods.create("default", {"apiVersion": "v1", "kind": "Pod",
                                "metadata": {"name": "sick", "labels": {"app": "e"}},
                                "spec": {"containers": [{"name": "c", "image": "nginx"}], "nodeName": "n1"}}))

    def running(old):
        old["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}
        return old
    run(pods.update("default", "sick", running, subresource="status"))


def _met_budget(budgets):
    created = run(budgets.create("default", {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                                             "metadata": {"name": "met"},
                                             "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "e"}}}}))

    def status(old):
        old["status"] = {"observedGeneration": created["metadata"]["generation"], "currentHealthy": 2,
                         "desiredHealthy": 2, "expectedPods": 3, "disruptionsAllowed": 0}
        return old
    run(budgets.update("default", "met", status, subresource="status"))


def test_unhealthy_pod_changed_meanwhile_is_asked_again(stores):
    """The pod changed between the eviction's read and its delete: upstream's conflict there is answered with
    createTooManyRequestsError (retry after 10 s), and the pod stays unmarked."""
    pods, budgets = stores
    _unready_running_pod(pods)
    _met_budget(budgets)
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "sick"}}
    with pytest.raises(StatusError) as refused:
        run(evict(ChangedAfterReading(pods), "default", "sick", eviction, budgets))
    assert (refused.value.code, refused.value.reason) == (429, "TooManyRequests")
    assert refused.value.details == {
        "causes": [{"reason": "DisruptionBudget",
                    "message": "The disruption budget met is still being processed by the server."}],
        "retryAfterSeconds": 10}
    pod = run(pods.get("default", "sick"))
    assert not pod["metadata"].get("deletionTimestamp")
    assert [c["type"] for c in pod["status"]["conditions"]] == ["Ready"]

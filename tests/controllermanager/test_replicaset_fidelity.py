"""replicaset-controller in process against upstream 1.32's pkg/controller/replicaset (replica_set.go,
replica_set_utils.go) and controller_utils.go's RealPodControl: a fake client records the writes."""

import pytest
from twisted.internet import task

from kapiserver.client.rest import APIError
from kapiserver.controllermanager.replicaset import ReplicaSetController, calculate_status
from kapiserver.machinery import meta
from tests.controllermanager.conftest import run

NOW = 1_700_000_000


class FakeClient:
    """Writes recorded; ``fail`` maps a verb to the APIErrors its next calls raise."""

    def __init__(self, stored=None):
        self.calls = []
        self.fail = {}
        self.stored = stored

    def _maybe_fail(self, verb):
        errors = self.fail.get(verb) or []
        if errors:
            raise errors.pop(0)

    async def update(self, resource, obj, subresource=None):
        self.calls.append(("update", subresource, obj))
        self._maybe_fail("update")
        return obj

    async def get(self, resource, name, namespace=None):
        self.calls.append(("get", None, name))
        return self.stored

    async def delete(self, resource, name, namespace=None, **kwargs):
        self.calls.append(("delete", None, name))
        self._maybe_fail("delete")
        return {}

    async def create(self, resource, obj, namespace=None, **kwargs):
        return obj


def controller(client):
    from kapiserver.client.informer import SharedInformerFactory
    from kapiserver.controllermanager.context import ControllerContext
    clock = task.Clock()
    clock.advance(NOW)
    return ReplicaSetController(ControllerContext(client, SharedInformerFactory(client, clock), clock))


def replica_set(replicas=1, generation=1, **status):
    labels = {"app": "x"}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "x", "namespace": "ns", "uid": "rs-uid", "generation": generation,
                         "resourceVersion": "3"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c"}]}}},
            "status": {"replicas": 0, "observedGeneration": generation - 1, **status}}


def pod(name):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "ns", "uid": name, "labels": {"app": "x"},
                         "creationTimestamp": meta.rfc3339(NOW - 10)},
            "spec": {"nodeName": "n"}, "status": {"phase": "Running"}}


def conflict():
    return APIError(409, {"reason": "Conflict", "message": "the object has been modified"})


def test_status_retry_keeps_the_generation_acted_on():
    """A status write that conflicts is retried on a fresh GET, still with the generation the sync acted on
    (replica_set.go updateReplicaSetStatus): a spec changed meanwhile is not reported observed."""
    newer = replica_set(generation=3)
    client = FakeClient(stored=newer)
    client.fail["update"] = [conflict()]
    c = controller(client)
    rs = replica_set(generation=2)
    run(c.update_status(rs, calculate_status(rs, [pod("a")], None, NOW)))
    writes = [obj for verb, sub, obj in client.calls if verb == "update"]
    assert len(writes) == 2
    assert [w["status"]["observedGeneration"] for w in writes] == [2, 2]
    assert writes[1]["metadata"]["generation"] == 3 and writes[1]["status"]["replicas"] == 1


def test_failed_deletion_reads_as_pod_control_reports_it():
    """A pod deletion refused: the error, and so the ReplicaFailure condition, read "unable to delete pods: ..."
    (RealPodControl.DeletePod), with reason FailedDelete."""
    client = FakeClient()
    client.fail["delete"] = [APIError(403, {"reason": "Forbidden", "message": 'pods "b" is forbidden: no'})]
    c = controller(client)
    rs = replica_set(replicas=1)
    pods = [pod("a"), pod("b")]
    with pytest.raises(Exception) as raised:
        run(c.manage_replicas(pods, rs))
    status = calculate_status(rs, pods, raised.value, NOW)
    failure = [cond for cond in status["conditions"] if cond["type"] == "ReplicaFailure"]
    assert failure[0]["reason"] == "FailedDelete"
    assert failure[0]["message"] == 'unable to delete pods: pods "b" is forbidden: no'


def test_sidecar_restarts_break_a_tie_of_regular_restarts():
    """ActivePodsWithRanks (controller_utils.go, since 1.31): pods equal so far and in their regular containers'
    restarts go by their sidecars' (restartable init containers') restarts, more first; a plain init
    container's restarts do not count, and regular restarts still come first."""
    from kapiserver.controllermanager.controllerutils import rank_pods_for_deletion

    def ranked_pod(name, regular, sidecar, plain_init=0):
        p = pod(name)
        p["spec"]["initContainers"] = [{"name": "proxy", "restartPolicy": "Always"}, {"name": "setup"}]
        p["status"]["containerStatuses"] = [{"name": "c", "restartCount": regular}]
        p["status"]["initContainerStatuses"] = [{"name": "proxy", "restartCount": sidecar},
                                                {"name": "setup", "restartCount": plain_init}]
        return p
    pods = [ranked_pod("calm", 1, 0, plain_init=9), ranked_pod("flaky-sidecar", 1, 4),
            ranked_pod("flaky-main", 2, 0)]
    order = [p["metadata"]["name"] for p in rank_pods_for_deletion(pods, [], NOW)]
    assert order == ["flaky-main", "flaky-sidecar", "calm"]


def test_deletion_cost_parses_as_upstream():
    """controller.kubernetes.io/pod-deletion-cost is read as GetDeletionCostFromPodAnnotations reads it: a leading
    '+' or zero, spaces, underscores or a value out of int32 make it 0; a minus sign may lead."""
    from kapiserver.controllermanager.controllerutils import _deletion_cost

    def cost(value):
        p = pod("a")
        p["metadata"]["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": value}
        return _deletion_cost(p)
    assert [cost(v) for v in ("10", "-5", "-05", "0", "2147483647")] == [10, -5, -5, 0, 2147483647]
    assert [cost(v) for v in ("+10", "008", " 5", "1_0", "2147483648", "", "-", "٣")] == [0] * 8


def test_a_set_without_controller_has_no_related_pods_to_rank_by():
    """Scaling down a ReplicaSet no Deployment controls: with no sets of the same controller there are no
    related pods, every pod ranks 0 and co-location does not count (replica_set.go getIndirectlyRelatedPods,
    getReplicaSetsWithSameController); the newest pod goes, not one of the two sharing a node."""
    client = FakeClient()
    c = controller(client)
    rs = replica_set(replicas=2)
    pods = [pod("a"), pod("b"), pod("c")]
    pods[0]["spec"]["nodeName"] = pods[1]["spec"]["nodeName"] = "n1"
    pods[2]["spec"]["nodeName"] = "n2"
    pods[0]["metadata"]["creationTimestamp"] = pods[1]["metadata"]["creationTimestamp"] = meta.rfc3339(NOW - 10000)
    for p in pods:
        p["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x",
                                             "uid": "rs-uid", "controller": True}]
        c.pods.indexer.add(p)
    c.sets.indexer.add(rs)
    run(c.manage_replicas(pods, rs))
    assert [name for verb, sub, name in client.calls if verb == "delete"] == ["c"]

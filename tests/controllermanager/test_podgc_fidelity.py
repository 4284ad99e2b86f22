"""pod-garbage-collector-controller in process against upstream 1.32's pkg/controller/podgc/gc_controller.go:
how an orphaned pod is marked before its forced deletion."""

from twisted.internet import task

from kapiserver.client.informer import SharedInformerFactory
from kapiserver.client.rest import APIError
from kapiserver.controllermanager.context import ControllerContext
from kapiserver.controllermanager.podgc import PodGCController
from tests.controllermanager.conftest import run


class FakeClient:
    def __init__(self):
        self.calls = []

    async def get(self, resource, name, namespace=None):
        raise APIError(404, {"reason": "NotFound", "message": f'{resource.plural} "{name}" not found'})

    async def patch(self, resource, name, body, namespace=None, **kwargs):
        self.calls.append(("patch", name, body))
        return {}

    async def delete(self, resource, name, namespace=None, **kwargs):
        self.calls.append(("delete", name, kwargs.get("grace_period_seconds")))
        return {}


def pod(name, phase):
    return {"metadata": {"name": name, "namespace": "ns", "uid": "uid-" + name, "resourceVersion": "1",
                         "creationTimestamp": "2023-11-14T22:00:00Z"},
            "spec": {"nodeName": "gone"}, "status": {"phase": phase}}


def test_orphans_of_a_deleted_node_are_marked_only_when_not_terminated():
    """After the quarantine, a Running orphan is patched Failed with DisruptionTarget (DeletionByPodGC), the patch
    carrying its uid; a Succeeded orphan is deleted as it is, without the condition; both with grace period 0."""
    clock = task.Clock()
    clock.advance(1_700_000_000)
    client = FakeClient()
    gc = PodGCController(ControllerContext(client, SharedInformerFactory(client, clock), clock, {}))
    pods = [pod("running", "Running"), pod("done", "Succeeded")]
    run(gc.gc_orphaned(pods, {}))
    assert client.calls == []
    clock.advance(40)
    run(gc.gc_orphaned(pods, {}))
    patches = [(name, body) for kind, name, body in client.calls if kind == "patch"]
    assert [name for name, _ in patches] == ["running"]
    body = patches[0][1]
    assert body["metadata"] == {"uid": "uid-running"} and body["status"]["phase"] == "Failed"
    assert [(c["type"], c["reason"], c["message"]) for c in body["status"]["conditions"]] == [
        ("DisruptionTarget", "DeletionByPodGC", "PodGC: node no longer exists")]
    assert sorted((name, grace) for kind, name, grace in client.calls if kind == "delete") == [
        ("done", 0), ("running", 0)]

"""taint-eviction-controller in process, on a fake clock, against upstream 1.32's
pkg/controller/tainteviction/taint_eviction.go: when a planned deletion is cancelled (with its event) and when
it keeps its time."""

from twisted.internet import task

from kapiserver.controllermanager.tainteviction import TaintEvictionController
from tests.controllermanager.conftest import run

A = {"key": "example.com/a", "effect": "NoExecute"}
B = {"key": "example.com/b", "effect": "NoExecute"}


class FakeClient:
    def __init__(self):
        self.deleted = []

    async def get(self, resource, name, namespace=None):
        return {"metadata": {"name": name, "namespace": namespace, "uid": "u"}, "status": {}}

    async def patch(self, *args, **kwargs):
        return {}

    async def delete(self, resource, name, namespace=None, **kwargs):
        self.deleted.append(f"{namespace}/{name}")
        return {}


class Recorder:
    def __init__(self):
        self.messages = []

    def eventf(self, obj, type_, reason, fmt, *args):
        self.messages.append((reason, fmt % args))


def controller():
    from kapiserver.client.informer import SharedInformerFactory
    from kapiserver.controllermanager.context import ControllerContext
    clock = task.Clock()
    clock.advance(1_700_000_000)
    client = FakeClient()
    c = TaintEvictionController(ControllerContext(client, SharedInformerFactory(client, clock), clock, {}))
    c.recorder = Recorder()
    return c, client, clock


def node(*taints):
    return {"metadata": {"name": "n", "resourceVersion": "1"}, "spec": {"taints": list(taints)}}


def pod(*tolerations):
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u", "resourceVersion": "1"},
            "spec": {"nodeName": "n", "tolerations": list(tolerations)}}


def tolerate(taint, seconds):
    return {"key": taint["key"], "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}


def test_a_planned_deletion_keeps_its_time_when_the_tolerations_used_change():
    """Planned at 300 s for taint a; at 10 s the node also gets taint b, tolerated for 30 s: upstream's
    processPodOnNode keeps the deletion planned earlier, so the pod is still there at 40 s and goes at 300 s."""
    c, client, clock = controller()
    c.nodes.indexer.add(node(A))
    c.pods.indexer.add(pod(tolerate(A, 300), tolerate(B, 30)))
    run(c.sync("ns/p"))
    clock.advance(10)
    c.nodes.indexer.add(node(A, B))
    run(c.sync("ns/p"))
    clock.advance(30)
    run(c.sync("ns/p"))
    assert client.deleted == []
    clock.advance(260)
    run(c.sync("ns/p"))
    assert client.deleted == ["ns/p"]
    assert ("TaintManagerEviction", "Cancelling deletion of Pod ns/p") not in c.recorder.messages


def test_deleting_a_pod_with_a_planned_deletion_cancels_it_with_an_event():
    """handlePodUpdate on a pod gone from the cache: cancelWorkWithEvent, so 'Cancelling deletion of Pod' is
    recorded when a deletion was still planned (and not when it had already been carried out)."""
    c, client, clock = controller()
    c.nodes.indexer.add(node(A))
    c.pods.indexer.add(pod(tolerate(A, 300)))
    run(c.sync("ns/p"))
    c.pods.indexer.delete(pod())
    run(c.sync("ns/p"))
    assert c.recorder.messages == [("TaintManagerEviction", "Cancelling deletion of Pod ns/p")]

    c, client, clock = controller()
    c.nodes.indexer.add(node(A))
    c.pods.indexer.add(pod())
    run(c.sync("ns/p"))
    assert client.deleted == ["ns/p"]
    c.pods.indexer.delete(pod())
    run(c.sync("ns/p"))
    assert c.recorder.messages == [("TaintManagerEviction", "Marking for deletion Pod ns/p")]

"""deployment-controller in process against upstream 1.32's pkg/controller/deployment (rolling.go, recreate.go,
sync.go, progress.go): a fake client records the writes, the informers' caches are filled by hand."""

from twisted.internet import task

from kapiserver.controllermanager import deploymentutil as du
from kapiserver.controllermanager.deployment import DeploymentController
from kapiserver.machinery import meta
from tests.controllermanager.conftest import run

NOW = 1_700_000_000


class FakeClient:
    """Writes recorded and echoed back with a newer resourceVersion."""

    def __init__(self):
        self.updates = []
        self.creates = []

    async def update(self, resource, obj, subresource=None):
        self.updates.append((resource.plural, subresource, obj))
        rv = str(int(obj["metadata"].get("resourceVersion", "1")) + 1)
        return {**obj, "metadata": {**obj["metadata"], "resourceVersion": rv}}

    async def create(self, resource, obj, namespace=None, **kwargs):
        self.creates.append((resource.plural, obj))
        return {**obj, "metadata": {**obj["metadata"], "uid": f"uid-{obj['metadata'].get('name')}",
                                    "creationTimestamp": meta.rfc3339(NOW), "resourceVersion": "1"}}


class Recorder:
    def __init__(self):
        self.events = []

    def event(self, obj, type_, reason, message):
        self.events.append((type_, reason, message))

    def eventf(self, obj, type_, reason, fmt, *args):
        self.events.append((type_, reason, fmt % args))


def controller():
    from kapiserver.client.informer import SharedInformerFactory
    from kapiserver.controllermanager.context import ControllerContext
    clock = task.Clock()
    clock.advance(NOW)
    client = FakeClient()
    c = DeploymentController(ControllerContext(client, SharedInformerFactory(client, clock), clock))
    c.recorder = Recorder()
    return c, client


def deployment(replicas=4, generation=2, **spec):
    labels = {"app": "x"}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "x", "namespace": "ns", "uid": "d-uid", "generation": generation,
                         "resourceVersion": "10", "annotations": {du.REVISION_ANNOTATION: "2"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}, **spec},
            "status": {"observedGeneration": generation}}


def replica_set(name, revision, replicas, available, age, image="busybox:1", **status):
    labels = {"app": "x", du.POD_TEMPLATE_HASH_LABEL: name}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "resourceVersion": "5",
                         "creationTimestamp": meta.rfc3339(NOW - age), "generation": 1,
                         "labels": labels,
                         "annotations": {du.REVISION_ANNOTATION: str(revision),
                                         du.DESIRED_REPLICAS_ANNOTATION: "4", du.MAX_REPLICAS_ANNOTATION: "5"},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "x",
                                              "uid": "d-uid", "controller": True}]},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}},
            "status": {"replicas": max(replicas, available), "availableReplicas": available,
                       "readyReplicas": available, "observedGeneration": 1, **status}}


def scaled(client):
    return [(obj["metadata"]["name"], obj["spec"]["replicas"]) for plural, sub, obj in client.updates
            if plural == "replicasets"]


def test_unhealthy_cleanup_never_scales_an_old_set_up():
    """An old set just scaled down from 3 to 2 whose status still counts 3 available: rolling.go's
    cleanupUnhealthyReplicas refuses the 'scale down' to 3 and the sync scales nothing down; it used to scale
    the old set back up to 3."""
    c, client = controller()
    d = deployment()
    old = replica_set("old", 1, 2, 3, age=100, image="busybox:0")
    new = replica_set("new", 2, 3, 2, age=10)
    run(c.reconcile_old_replica_sets([old, new], [old], new, d))
    assert scaled(client) == []
    assert not [e for e in c.recorder.events if e[1] == "ScalingReplicaSet"]

"""node-lifecycle-controller in process against upstream 1.32's pkg/controller/nodelifecycle: defaults, when pods
are marked not Ready, nodes left out of the zone states, labels reconciled."""

from twisted.internet import task

from kapiserver.controllermanager.nodelifecycle import NodeLifecycleController
from kapiserver.controllermanager.tap import Options


class FakeClient:
    """Writes recorded and echoed back with a newer resourceVersion; events dropped."""

    def __init__(self):
        self.updates = []
        self.patches = []

    async def update(self, resource, obj, subresource=None):
        self.updates.append((resource.plural, subresource, obj))
        meta = {**obj["metadata"], "resourceVersion": str(int(obj["metadata"].get("resourceVersion", "1")) + 1000)}
        return {**obj, "metadata": meta}

    async def patch(self, resource, name, body, namespace=None, **kwargs):
        self.patches.append((resource.plural, name, namespace, body, kwargs))
        return {}

    async def create(self, resource, obj, namespace=None, **kwargs):
        return obj


def controller(nodes=(), pods=(), options=None, clock=None):
    from kapiserver.client.informer import SharedInformerFactory
    from kapiserver.controllermanager.context import ControllerContext
    clock = clock or task.Clock()
    if clock.seconds() == 0:
        clock.advance(1_700_000_000)
    client = FakeClient()
    ctx = ControllerContext(client, SharedInformerFactory(client, clock), clock, options)
    c = NodeLifecycleController(ctx)
    for node in nodes:
        c.nodes.indexer.add(node)
    for pod in pods:
        c.pods.indexer.add(pod)
    return c, client, clock


def test_node_monitor_grace_period_defaults_to_50s():
    """1.32 raised --node-monitor-grace-period's default from 40 s to 50 s (kubernetes/kubernetes#126287)."""
    c, _, _ = controller()
    assert c.grace_period == 50.0
    options = Options()
    options.parseOptions(["--kubeconfig=k"])
    assert options["node-monitor-grace-period"] == 50.0

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


def node(name, ready, zone="z1", labels=None, rv="1"):
    conditions = [] if ready is None else [{"type": "Ready", "status": ready,
                                            "lastHeartbeatTime": "2023-11-14T22:13:20Z"}]
    return {"metadata": {"name": name, "uid": "uid-" + name, "resourceVersion": rv,
                         "creationTimestamp": "2023-11-14T22:00:00Z",
                         "labels": {"topology.kubernetes.io/zone": zone, **(labels or {})}},
            "spec": {}, "status": {"conditions": conditions}}


def pod(name, node_name, ready="True"):
    return {"metadata": {"name": name, "namespace": "ns", "uid": "uid-" + name, "resourceVersion": "1"},
            "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": ready}]}}


def pod_patches(client):
    return [(name, body) for plural, name, _, body, _ in client.patches if plural == "pods"]


def test_pods_are_marked_not_ready_only_when_the_controller_sees_the_node_go():
    """MarkPodsNotReady runs when the Ready condition this controller observed True is no longer True (its own
    Unknown after the grace period), and for a pod newly bound to such a node; a node the kubelet reports
    NotReady itself, and later updates of its pods (a kubelet writing Ready=True), are left alone."""
    from tests.controllermanager.conftest import run
    c, client, clock = controller([node("kubelet-says-no", "False")], [pod("p", "kubelet-says-no")])
    run(c.sync("pod:ns/p"))   # an informer's add before the node's health is known: nothing
    run(c.sync("node:kubelet-says-no"))
    c._pod_updated(pod("p", "kubelet-says-no", "False"), pod("p", "kubelet-says-no"))
    assert not len(c.queue)
    assert pod_patches(client) == []

    c._pod_changed(pod("q", "kubelet-says-no"))      # a pod added (bound) there now is marked
    c.pods.indexer.add(pod("q", "kubelet-says-no"))
    run(c.sync("pod:ns/q"))
    assert [name for name, _ in pod_patches(client)] == ["q"]

    c, client, clock = controller([node("silent", "True")], [pod("r", "silent")], {"node-monitor-grace-period": 40})
    run(c.sync("node:silent"))
    clock.advance(41)
    run(c.sync("node:silent"))
    keys = []
    while len(c.queue):
        keys.append(run(c.queue.get()))
    assert "pod:ns/r" in keys
    run(c.sync("pod:ns/r"))
    assert [name for name, _ in pod_patches(client)] == ["r"]
    assert pod_patches(client)[0][1]["status"]["conditions"][0]["status"] == "False"


def no_execute_written(client, name):
    writes = [obj for plural, sub, obj in client.updates if plural == "nodes" and sub is None
              and obj["metadata"]["name"] == name]
    return [t["key"] for t in (writes[-1]["spec"].get("taints") or []) if t["effect"] == "NoExecute"] if writes else []


def test_nodes_excluded_from_disruption_checks_do_not_count_in_their_zone():
    """A Ready node labelled node.kubernetes.io/exclude-disruption does not keep its zone out of full
    disruption: with every other node down, no NoExecute taint is added (isNodeExcludedFromDisruptionChecks)."""
    from tests.controllermanager.conftest import run
    excluded = node("control-plane", "True", labels={"node.kubernetes.io/exclude-disruption": ""})
    c, client, _ = controller([excluded, node("down", "Unknown")])
    run(c._update_taints(c.node("down"), "Unknown"))
    assert no_execute_written(client, "down") == []
    c, client, _ = controller([node("control-plane", "True"), node("down", "Unknown")])
    run(c._update_taints(c.node("down"), "Unknown"))
    assert no_execute_written(client, "down") == ["node.kubernetes.io/unreachable"]


def test_beta_os_and_arch_labels_follow_the_stable_ones():
    """reconcileNodeLabels: beta.kubernetes.io/os and arch are added when missing and corrected when they
    differ from kubernetes.io/os and arch; a node without the stable labels is left alone."""
    from tests.controllermanager.conftest import run
    labels = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "beta.kubernetes.io/arch": "arm64"}
    c, client, _ = controller([node("labelled", "True", labels=labels), node("bare", "True")])
    run(c.sync("node:labelled"))
    run(c.sync("node:bare"))
    node_patches = [(name, body) for plural, name, _, body, _ in client.patches if plural == "nodes"]
    assert node_patches == [("labelled", {"metadata": {"labels": {"beta.kubernetes.io/os": "linux",
                                                                  "beta.kubernetes.io/arch": "amd64"}}})]


def test_the_pods_are_queued_even_when_the_taint_write_after_the_health_write_fails():
    """The transition is seen once: the pods are queued right after Ready is made Unknown, so a taint write that
    fails (a conflict with the kubelet) and its retry, which sees Unknown already, still leave them marked."""
    import pytest

    from kapiserver.client.rest import APIError
    from tests.controllermanager.conftest import run
    c, client, clock = controller([node("silent", "True")], [pod("r", "silent")], {"node-monitor-grace-period": 40})
    run(c.sync("node:silent"))
    clock.advance(41)

    async def conflict(*args, **kwargs):
        raise APIError(409, {"reason": "Conflict", "message": "the object has been modified"})
    c._update_taints = conflict
    with pytest.raises(APIError):
        run(c.sync("node:silent"))
    keys = []
    while len(c.queue):
        keys.append(run(c.queue.get()))
    assert "pod:ns/r" in keys

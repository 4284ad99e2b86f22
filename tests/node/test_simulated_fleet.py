"""`kube-node --simulate N`: N simulated nodes sharing one pod watch (kapiserver.node.simulated.SimulatedNodes)
against a real apiserver process, driven by turning the global reactor."""

from __future__ import annotations

import json

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from kapiserver.client.resources import LEASES, NODES, PODS
from kapiserver.node import hoststatus
from kapiserver.node.simulated import LEASE_RENEW_SECONDS, RUN_SECONDS_ANNOTATION, SimulatedNodes
from tests.controllermanager.conftest import client, eventually, namespace, run  # noqa: F401
from tests.e2e.conftest import apiserver  # noqa: F401


def test_simulate_flag_names_n_nodes(tmp_path):
    """--simulate 3 gives one service with three nodes named after --node-name; --simulate 1 is --simulated."""
    from kapiserver.node.simulated import SimulatedNode
    from kapiserver.node.tap import Options, makeService
    (tmp_path / "kc").write_text(json.dumps({
        "current-context": "c", "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}], "users": [{"name": "u", "user": {}}]}))

    def build(*flags):
        options = Options()
        options.parseOptions([f"--kubeconfig={tmp_path / 'kc'}", "--node-name=sim", f"--root-dir={tmp_path}",
                              *flags])
        return list(makeService(options))[0].node
    fleet = build("--simulate=3", "--simulated-capacity=cpu=4,memory=8Gi,pods=50", "--node-labels=a=b",
                  "--simulated-start-delay=0.5")
    assert fleet.names == ["sim-0", "sim-1", "sim-2"] and fleet.capacity == {"cpu": "4", "memory": "8Gi",
                                                                              "pods": "50"}
    assert fleet.labels == {"a": "b"} and fleet.start_delay == 0.5
    assert fleet.pods.reflector is not None and len(fleet.informers._informers) == 2     # pods, nodes
    # A fleet's heartbeats (registration, Leases, node status) go on a connection of their own.
    assert fleet.heartbeat_client is not fleet.client
    one = build("--simulate=1")
    assert isinstance(one, SimulatedNode) and one.name == "sim" and one.heartbeat_client is one.client


def test_a_fleet_registers_binds_runs_completes_and_deletes(client, namespace):  # noqa: F811
    """Five nodes with one pod informer: each has a Node (capacity and labels as asked) and a Lease; pods are
    bound over them in turn and reported Running and Ready after the start delay; a Job-like pod completes;
    a deleted pod goes at once."""
    names = [f"fleet-{i}" for i in range(5)]
    fleet = SimulatedNodes(client, names, reactor, schedule=True, start_delay=0.2, labels={"pool": "sim"},
                           capacity={"cpu": "8", "memory": "32Gi", "pods": "110"}, pod_cidr="10.77.0.0/16")
    run(fleet.start())
    try:
        assert [i.reflector.field_selector for i in fleet.informers._informers.values()] == \
            ["spec.nodeName!=", None, "spec.nodeName="]
        for name in names:
            node = run(client.get(NODES, name))
            assert node["metadata"]["labels"]["pool"] == "sim" and node["status"]["capacity"]["cpu"] == "8"
            assert run(client.get(LEASES, name, "kube-node-lease"))["spec"]["holderIdentity"] == name
        for i in range(10):
            run(client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}"},
                                     "spec": {"containers": [{"name": "c", "image": "busybox"}]}}, namespace))

        def running():
            pods = run(client.list(PODS, namespace=namespace))["items"]
            ready = [p for p in pods if p["status"].get("phase") == "Running" and
                     {c["type"]: c["status"] for c in p["status"]["conditions"]}.get("Ready") == "True"]
            return len(ready) == 10 and pods
        pods = eventually(running)
        per_node = {}
        for pod in pods:
            per_node[pod["spec"]["nodeName"]] = per_node.get(pod["spec"]["nodeName"], 0) + 1
            assert pod["status"]["podIP"].startswith("10.77.")
        assert per_node == {name: 2 for name in names}
        run(client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": "job", "annotations": {RUN_SECONDS_ANNOTATION: "0.1"}}, "spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}, namespace))
        eventually(lambda: run(client.get(PODS, "job", namespace))["status"].get("phase") == "Succeeded")
        run(client.delete(PODS, "p0", namespace))
        # The node lifecycle controller's verdict on a late Lease: Ready Unknown.  The node reports Ready again.
        run(client.patch(NODES, names[1], {"status": {"conditions": [
            {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
             "lastHeartbeatTime": "2026-01-01T00:00:00Z", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}},
            patch_type="strategic", subresource="status"))

        def ready_again():
            conditions = {c["type"]: c for c in run(client.get(NODES, names[1]))["status"]["conditions"]}
            return conditions["Ready"]["status"] == "True" and conditions["Ready"]["lastTransitionTime"] != \
                "2026-01-01T00:00:00Z"
        eventually(ready_again)
        eventually(lambda: "p0" not in [p["metadata"]["name"] for p in
                                        run(client.list(PODS, namespace=namespace))["items"]])
    finally:
        fleet.stop()
        for name in names:
            run(client.delete(NODES, name))


def test_pods_go_running_then_ready_after_the_delays():
    """With a start delay and a ready delay: nothing at first, then Running with Ready False
    (ContainersNotReady), then Ready True with the same startTime; a Never pod exits after its run time."""
    from twisted.internet.defer import Deferred
    from twisted.internet.task import Clock

    patches = []

    class Client:
        async def patch(self, resource, name, patch, ns=None, **options):
            patches.append((name, patch["status"]))
            return {}
    clock = Clock()
    clock.advance(1_700_000_000)
    fleet = SimulatedNodes(Client(), ["a", "b"], clock, start_delay=1.0, ready_delay=2.0, run_seconds=5.0)
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
           "spec": {"nodeName": "b", "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]},
           "status": {"phase": "Pending", "qosClass": "BestEffort"}}
    fleet.pods.indexer.add(pod)

    def sync():
        d = Deferred.fromCoroutine(fleet.sync(("ns", "p")))
        assert d.called
    sync()
    assert patches == []
    clock.advance(1.0)
    sync()                                        # the update event of the write: nothing more to do
    (name, running), = patches
    conditions = {c["type"]: c for c in running["conditions"]}
    assert running["phase"] == "Running" and conditions["Ready"]["status"] == "False"
    assert conditions["ContainersReady"]["reason"] == "ContainersNotReady"
    assert running["containerStatuses"][0]["ready"] is False and running["containerStatuses"][0]["started"]
    clock.advance(2.0)
    ready = patches[1][1]
    assert {c["type"]: c["status"] for c in ready["conditions"]}["Ready"] == "True"
    assert ready["startTime"] == running["startTime"] and ready["containerStatuses"][0]["ready"] is True
    clock.advance(5.0)
    assert patches[2][1]["phase"] == "Succeeded" and len(patches) == 3


class _SlowClient:
    """Lease updates and status patches that answer only when the test says so."""

    def __init__(self):
        self.updates, self.patches = [], []

    def update(self, resource, obj, **kwargs):
        d = Deferred()
        self.updates.append((json.loads(json.dumps(obj)), d))
        return d

    def patch(self, resource, name, body, **kwargs):
        d = Deferred()
        self.patches.append((name, d))
        return d


def test_a_renewal_waits_for_the_one_before():
    """On a server slower than the renewal interval, a node's next Lease renewal (and status write) is not
    sent while its previous one is unanswered, as a kubelet's loop does: overlapping, it would carry the
    previous resourceVersion and conflict.  Once answered, the next renewal carries the new resourceVersion."""
    clock = Clock()
    slow = _SlowClient()
    fleet = SimulatedNodes(slow, ["slow"], clock)
    fleet._figures = hoststatus.read_host()     # as register() reads them
    fleet.nodes["slow"] = {"metadata": {"name": "slow"}, "status": {}}      # registered
    fleet._leases["slow"] = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                             "metadata": {"name": "slow", "namespace": "kube-node-lease", "resourceVersion": "1"},
                             "spec": {"holderIdentity": "slow"}}
    fleet._tick = clock.callLater(fleet._tick_seconds(), fleet._beat)
    clock.advance(LEASE_RENEW_SECONDS)
    assert len(slow.updates) == 1 and len(slow.patches) == 1
    for _ in range(3):
        clock.advance(LEASE_RENEW_SECONDS)
    assert len(slow.updates) == 1 and len(slow.patches) == 1
    assert fleet.skipped_heartbeats == 3
    sent, answer = slow.updates[0]
    answer.callback(dict(sent, metadata=dict(sent["metadata"], resourceVersion="7")))
    slow.patches[0][1].callback({"metadata": {"name": "slow"}, "status": {}})
    clock.advance(LEASE_RENEW_SECONDS)
    assert len(slow.updates) == 2
    assert slow.updates[1][0]["metadata"]["resourceVersion"] == "7"
    # A failed renewal frees the node's turn too.
    slow.updates[1][1].errback(RuntimeError("server away"))
    clock.advance(LEASE_RENEW_SECONDS)
    assert len(slow.updates) == 3
    fleet.stop()

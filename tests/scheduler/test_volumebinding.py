"""VolumeBinding for claims of WaitForFirstConsumer classes: the Filter's static matches and provisioning
checks, the Reserve's assumptions, and the PreBind's writes and bounded wait on an injected clock, alone and
through the scheduler's binding cycle against a client stand-in."""

from __future__ import annotations

import copy
import random

import pytest
from twisted.internet import task
from twisted.internet.defer import Deferred

from kapiserver.client.resources import PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES, PODS
from kapiserver.client.rest import APIError
from kapiserver.scheduler.framework import CycleState, FitError
from kapiserver.scheduler.plugins.volumebinding import VolumeBinding
from kapiserver.scheduler.scheduler import Scheduler
from tests.scheduler.objects import cluster, framework, node, pod

SELECTED_NODE = "volume.kubernetes.io/selected-node"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
WFFC = {"metadata": {"name": "local"}, "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer"}
ZONED = {"metadata": {"name": "zoned"}, "provisioner": "csi.example.com", "volumeBindingMode": "WaitForFirstConsumer",
         "allowedTopologies": [{"matchLabelExpressions": [{"key": "zone", "values": ["z1"]}]}]}


def claim(name, storage="1Gi", cls="local", annotations=None, rv="10"):
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": rv,
                         "annotations": annotations or {}},
            "spec": {"storageClassName": cls, "accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": storage}}},
            "status": {"phase": "Pending"}}


def volume(name, host=None, storage="5Gi", cls="local", rv="20"):
    spec = {"storageClassName": cls, "accessModes": ["ReadWriteOnce"], "capacity": {"storage": storage},
            "local": {"path": "/mnt"}}
    if host:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [host]}]}]}}
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name, "resourceVersion": rv},
            "spec": spec, "status": {"phase": "Available"}}


def using(name, *claims):
    return pod(name, volumes=[{"name": f"v{i}", "persistentVolumeClaim": {"claimName": c}}
                              for i, c in enumerate(claims)])


class World:
    """The listers VolumeBinding reads, over plain dicts a test edits as the informers would."""

    def __init__(self, claims=(), volumes=(), classes=(WFFC, ZONED)):
        self.claims = {c["metadata"]["name"]: c for c in claims}
        self.volumes = {v["metadata"]["name"]: v for v in volumes}
        self.classes = {c["metadata"]["name"]: c for c in classes}

    def listers(self):
        return {"get_claim": lambda ns, name: self.claims.get(name), "get_volume": self.volumes.get,
                "get_storage_class": self.classes.get, "list_volumes": lambda: list(self.volumes.values())}


NODES = [node("a", labels={"zone": "z1"}), node("b", labels={"zone": "z2"})]


def schedule(world, p, nodes=NODES):
    fw = framework(**world.listers())
    return fw, fw.schedule(p, cluster(nodes).snapshot())


def test_filter_needs_a_matching_volume_or_a_provisioner():
    """An unbound WaitForFirstConsumer claim fits only where an Available volume of its class, size and access
    modes is allowed; with none, and a class that cannot provision, every node is "didn't find available
    persistent volumes to bind"."""
    world = World([claim("data")], [volume("pv-b", host="b")])
    assert schedule(world, using("p", "data"))[1].suggested_host == "b"
    world.volumes = {"small": volume("small", host="b", storage="500Mi"),
                     "other": volume("other", host="b", cls="fast")}
    with pytest.raises(FitError) as raised:
        schedule(world, using("p", "data"))
    assert str(raised.value) == \
        "0/2 nodes are available: 2 node(s) didn't find available persistent volumes to bind."
    assert raised.value.diagnosis.unschedulable_plugins == {"VolumeBinding"}


def test_provisioning_follows_allowed_topologies_and_selected_node():
    """A claim the class can provision fits the nodes its allowedTopologies allow; one already carrying
    volume.kubernetes.io/selected-node fits that node alone."""
    world = World([claim("dyn", cls="zoned")])
    assert schedule(world, using("p", "dyn"))[1].suggested_host == "a"
    world.claims["dyn"] = claim("dyn", cls="zoned", annotations={SELECTED_NODE: "b"})
    world.classes["zoned"] = {**ZONED, "allowedTopologies": []}
    for seed in range(4):
        fw = framework(seed, **world.listers())
        assert fw.schedule(using("p", "dyn"), cluster(NODES).snapshot()).suggested_host == "b"


def test_bound_and_unbound_conflicts_are_both_reported():
    """A node failing both a bound volume's affinity and the unbound claims reports the node conflict before
    the bind conflict, as upstream's FindPodVolumes."""
    bound = claim("old", annotations={BIND_COMPLETED: "yes"})
    bound["spec"]["volumeName"] = "pv-old"
    taken = volume("pv-old")
    taken["spec"]["claimRef"] = {"namespace": "default", "name": "old", "uid": "uid-old"}
    taken["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "zone", "operator": "In", "values": ["z2"]}]}]}}
    world = World([bound, claim("data")], [taken])
    with pytest.raises(FitError) as raised:
        schedule(world, using("p", "old", "data"))
    assert str(raised.value) == ("0/2 nodes are available: 1 node(s) had volume node affinity conflict, "
                                 "2 node(s) didn't find available persistent volumes to bind.")


def test_reserve_assumes_and_unreserve_reverts():
    """Reserve's assumed claimRef keeps a second pod's claim off the volume chosen for the first; Unreserve
    gives it back."""
    world = World([claim("one"), claim("two")], [volume("pv-a", host="a")])
    fw, result = schedule(world, using("p1", "one"))
    assert result.suggested_host == "a"
    assert fw.run_reserve(result.state, using("p1", "one"), "a").is_success()
    plugin: VolumeBinding = fw.plugin("VolumeBinding")
    assumed = plugin.volume("pv-a")
    assert assumed["spec"]["claimRef"]["name"] == "one"
    assert assumed["metadata"]["annotations"][BOUND_BY_CONTROLLER] == "yes"
    assert world.volumes["pv-a"]["spec"].get("claimRef") is None    # the informer's object is untouched
    with pytest.raises(FitError):
        fw.schedule(using("p2", "two"), cluster(NODES).snapshot())
    fw.run_unreserve(result.state, using("p1", "one"), "a")
    assert fw.schedule(using("p2", "two"), cluster(NODES).snapshot()).suggested_host == "a"


class FakeClient:
    """Answers PUTs with the object at the next resourceVersion, and records them (and bindings, events)."""

    def __init__(self, refuse_updates=False):
        self.updates, self.bindings, self.patches, self.events = [], [], [], []
        self.rv = 100
        self.refuse_updates = refuse_updates

    async def update(self, resource, obj, subresource=None):
        if self.refuse_updates:
            raise APIError(409, {"kind": "Status", "reason": "Conflict", "message":
                                 f'Operation cannot be fulfilled on {resource.plural} "{obj["metadata"]["name"]}": '
                                 'the object has been modified; please apply your changes to the latest version '
                                 'and try again'})
        self.rv += 1
        written = copy.deepcopy(obj)
        written["metadata"]["resourceVersion"] = str(self.rv)
        self.updates.append((resource, written))
        return written

    async def create(self, resource, body, namespace=None, name=None, subresource=None):
        if body.get("kind") == "Event":
            self.events.append(body)
        elif subresource == "binding":
            self.bindings.append(body)
        return body

    async def patch(self, resource, name, body, namespace=None, patch_type=None, subresource=None):
        self.patches.append((resource, name, body))
        return body


def start(d: Deferred) -> list:
    results = []
    d.addBoth(results.append)
    return results


def reserved(world, p):
    fw, result = schedule(world, p)
    assert fw.run_reserve(result.state, p, result.suggested_host).is_success()
    return fw, result


def test_pre_bind_writes_the_claim_ref_and_waits_for_the_pv_controller():
    """PreBind PUTs the volume with its claimRef (uid and all) and returns only once the informer shows the
    claim bound with bind-completed, polling each second of the injected clock."""
    world = World([claim("data")], [volume("pv-a", host="a")])
    p = using("p", "data")
    fw, result = reserved(world, p)
    client, clock = FakeClient(), task.Clock()
    results = start(Deferred.fromCoroutine(fw.run_pre_bind(result.state, p, "a", client, clock)))
    [(resource, written)] = client.updates
    assert resource == PERSISTENT_VOLUMES
    assert written["spec"]["claimRef"] == {"kind": "PersistentVolumeClaim", "namespace": "default", "name": "data",
                                           "uid": "uid-data", "apiVersion": "v1", "resourceVersion": "10"}
    clock.advance(5)
    assert results == []    # the informer has not seen the write: still waiting
    world.volumes["pv-a"] = written
    bound = claim("data", annotations={BIND_COMPLETED: "yes"}, rv="102")
    bound["spec"]["volumeName"] = "pv-a"
    world.claims["data"] = bound
    clock.advance(1)
    assert [r.is_success() for r in results] == [True]


def test_pre_bind_sets_selected_node_and_fails_when_a_provisioner_gives_up():
    """A claim to provision is PUT with volume.kubernetes.io/selected-node naming the node; a provisioner
    taking the annotation away fails the PreBind, as upstream's checkBindings."""
    world = World([claim("dyn", cls="zoned")])
    p = using("p", "dyn")
    fw, result = reserved(world, p)
    client, clock = FakeClient(), task.Clock()
    results = start(Deferred.fromCoroutine(fw.run_pre_bind(result.state, p, "a", client, clock)))
    [(resource, written)] = client.updates
    assert resource == PERSISTENT_VOLUME_CLAIMS
    assert written["metadata"]["annotations"] == {SELECTED_NODE: "a"}
    world.claims["dyn"] = {**written, "metadata": {**written["metadata"], "resourceVersion": "200",
                                                   "annotations": {"other": "x"}}}
    clock.advance(1)
    [status] = results
    assert (status.code, status.plugin, status.message) == (
        "Error", "VolumeBinding", 'binding volumes: provisioning failed for PVC "dyn"')


def test_pre_bind_gives_up_at_the_bind_timeout():
    """Nothing binding the claim, PreBind fails with upstream's "context deadline exceeded" once the bind timeout
    (600s by default) has passed on the injected clock, not before."""
    world = World([claim("data")], [volume("pv-a", host="a")])
    p = using("p", "data")
    fw, result = reserved(world, p)
    client, clock = FakeClient(), task.Clock()
    results = start(Deferred.fromCoroutine(fw.run_pre_bind(result.state, p, "a", client, clock)))
    world.volumes["pv-a"] = client.updates[0][1]
    clock.pump([1] * 599)
    assert results == []
    clock.advance(1)
    [status] = results
    assert status.message == "binding volumes: context deadline exceeded"


def scheduler_with(client, clock, world, *pods):
    s = Scheduler(client, clock, rand=random.Random(0))
    s.nodes._event("ADDED", node("a"))
    for cls in world.classes.values():
        s.storage_classes._event("ADDED", cls)
    for c in world.claims.values():
        s.claims._event("ADDED", c)
    for v in world.volumes.values():
        s.volumes._event("ADDED", v)
    for p in pods:
        s.pods._event("ADDED", p)
    return s


def test_scheduler_binds_the_pod_after_its_volumes():
    """Through the scheduler: the volume's claimRef is written, the pod's Binding waits until the PV
    controller's binding reaches the informers, then is posted."""
    world = World([claim("data")], [volume("pv-a", host="a")])
    client, clock = FakeClient(), task.Clock()
    p = using("p", "data")
    s = scheduler_with(client, clock, world, p)
    start(Deferred.fromCoroutine(s.schedule_one(s.queue._pop())))
    [(_, written)] = client.updates
    assert client.bindings == []
    s.volumes._event("MODIFIED", written)
    bound = claim("data", annotations={BIND_COMPLETED: "yes"}, rv="150")
    bound["spec"]["volumeName"] = "pv-a"
    s.claims._event("MODIFIED", bound)
    clock.advance(1)
    [binding] = client.bindings
    assert binding["target"]["name"] == "a"


def test_scheduler_reports_a_refused_volume_write_and_unreserves():
    """A PreBind failure is the binding cycle's: the pod is forgotten, the assumed claimRef dropped, and the
    condition says "running PreBind plugin "VolumeBinding": ..." with reason SchedulerError; no Binding."""
    world = World([claim("data")], [volume("pv-a", host="a")])
    client, clock = FakeClient(refuse_updates=True), task.Clock()
    p = using("p", "data")
    s = scheduler_with(client, clock, world, p)
    start(Deferred.fromCoroutine(s.schedule_one(s.queue._pop())))
    assert client.bindings == [] and not s.cache.is_assumed(p)
    plugin = s.profiles["default-scheduler"].plugin("VolumeBinding")
    assert plugin.assumed_volumes == {}
    [(resource, name, body)] = client.patches
    assert resource == PODS and name == "p"
    [condition] = body["status"]["conditions"]
    assert (condition["reason"], condition["message"]) == (
        "SchedulerError", 'running PreBind plugin "VolumeBinding": Operation cannot be fulfilled on '
                          'persistentvolumes "pv-a": the object has been modified; please apply your changes to '
                          'the latest version and try again')


def test_scheduler_stops_waiting_for_a_deleted_pod():
    """A pod deleted while PreBind waits for its volumes ends the wait at the next poll ("pod does not exist any
    more", as upstream's checkBindings); it is forgotten and no Binding is posted."""
    world = World([claim("data")], [volume("pv-a", host="a")])
    client, clock = FakeClient(), task.Clock()
    p = using("p", "data")
    s = scheduler_with(client, clock, world, p)
    start(Deferred.fromCoroutine(s.schedule_one(s.queue._pop())))
    assert s.cache.is_assumed(p) and len(s.bindings) == 1
    s.pods._event("DELETED", p)
    clock.advance(1)
    assert not s.bindings and not s.cache.is_assumed(p) and client.bindings == []
    assert s.profiles["default-scheduler"].plugin("VolumeBinding").assumed_volumes == {}


def test_bind_timeout_seconds_from_plugin_config():
    """VolumeBindingArgs' bindTimeoutSeconds sets the PreBind's bound (a negative one refused in upstream's
    words); the default is 600 seconds."""
    from kapiserver.scheduler.plugins import profile_plugins

    def timeout(args):
        plugins, _ = profile_plugins({"pluginConfig": [{"name": "VolumeBinding", "args": args}]})
        return next(p for p in plugins if p.name == "VolumeBinding").bind_timeout
    assert (timeout({"bindTimeoutSeconds": 30}), timeout({"other": 1})) == (30, 600)
    with pytest.raises(ValueError) as refused:
        timeout({"bindTimeoutSeconds": -1})
    assert str(refused.value) == \
        "bindTimeoutSeconds: Invalid value: -1: invalid BindTimeoutSeconds, should not be a negative value"


def test_stop_ends_the_pre_bind_wait_without_writes():
    """stop() cancels the bindings under way: VolumeBinding's wait ends at once (no poll left on the clock),
    the pod is forgotten and its assumed claimRef dropped, and nothing is written afterwards, not even when the
    bind timeout would have passed."""
    world = World([claim("data")], [volume("pv-a", host="a")])
    client, clock = FakeClient(), task.Clock()
    p = using("p", "data")
    s = scheduler_with(client, clock, world, p)
    info = s.queue._pop()
    start(Deferred.fromCoroutine(s.schedule_one(info)))
    assert s.cache.is_assumed(p) and len(s.bindings) == 1 and len(client.updates) == 1
    s.stop()
    assert not s.bindings and not s.cache.is_assumed(p) and info.uid not in s.queue.in_flight
    assert s.profiles["default-scheduler"].plugin("VolumeBinding").assumed_volumes == {}
    assert clock.getDelayedCalls() == []
    clock.advance(700)
    assert (client.bindings, client.patches, client.events, len(client.updates)) == ([], [], [], 1)


def test_assumed_objects_deleted_are_forgotten():
    """A claim or volume deleted after Reserve assumed it is gone for PreFilter and Filter too ("not found"),
    and the assumption is dropped, as upstream's AssumeCache forgets an object on its delete."""
    world = World([claim("dyn", cls="zoned"), claim("data")], [volume("pv-a", host="a")])
    fw, result = reserved(world, using("p", "dyn", "data"))
    plugin: VolumeBinding = fw.plugin("VolumeBinding")
    assert set(plugin.assumed_claims) == {"default/dyn"} and set(plugin.assumed_volumes) == {"pv-a"}
    del world.claims["dyn"]
    status = plugin.pre_filter(CycleState(), using("q", "dyn"), cluster(NODES).snapshot())
    assert (status.code, status.message) == ("UnschedulableAndUnresolvable", 'persistentvolumeclaim "dyn" not found')
    assert plugin.assumed_claims == {}
    del world.volumes["pv-a"]
    assert plugin.volumes() == [] and plugin.assumed_volumes == {}

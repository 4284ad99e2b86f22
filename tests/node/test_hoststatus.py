"""The node agent's host figures, node heartbeat, per-pod status retries and the images table, with a fake
API client and a Clock (kapiserver.node.hoststatus, agent, images)."""

from __future__ import annotations

import sys

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from kapiserver.client.rest import APIError
from kapiserver.node import hoststatus, images
from kapiserver.node.agent import NodeAgent

GiB = 2 ** 30


def _figures(**changes):
    base = dict(cpus=2, memory_total=8 * GiB, memory_available=4 * GiB, disk_total=100 * GiB,
                disk_available=50 * GiB, inodes_total=1000, inodes_free=500, pid_max=1000, pids=100)
    base.update(changes)
    return hoststatus.HostFigures(**base)


def test_pressure_follows_upstreams_eviction_thresholds():
    """memory.available<100Mi, nodefs.available<10%, nodefs.inodesFree<5%, pids available < 5%."""
    assert hoststatus.pressures(_figures()) == {"MemoryPressure": False, "DiskPressure": False,
                                                "PIDPressure": False}
    assert hoststatus.pressures(_figures(memory_available=99 * 2 ** 20))["MemoryPressure"]
    assert hoststatus.pressures(_figures(disk_available=9 * GiB))["DiskPressure"]
    assert hoststatus.pressures(_figures(inodes_free=49))["DiskPressure"]
    assert hoststatus.pressures(_figures(pids=960))["PIDPressure"]
    assert hoststatus.allocatable(_figures())["memory"] == f"{(8 * GiB - 100 * 2 ** 20) // 1024}Ki"


def test_conditions_keep_their_transition_time_until_they_change():
    first = hoststatus.conditions({}, "T1")
    second = hoststatus.conditions({}, "T2", first)
    assert all(c["lastTransitionTime"] == "T1" and c["lastHeartbeatTime"] == "T2" for c in second)
    third = hoststatus.conditions({"MemoryPressure": True}, "T3", second)
    memory = next(c for c in third if c["type"] == "MemoryPressure")
    assert memory == {"type": "MemoryPressure", "status": "True", "lastHeartbeatTime": "T3",
                      "lastTransitionTime": "T3", "reason": "KubeletHasInsufficientMemory",
                      "message": "kubelet has insufficient memory available"}
    assert next(c for c in third if c["type"] == "DiskPressure")["lastTransitionTime"] == "T1"


def test_qos_class_as_upstream_computes_it():
    def pod(*resources, init=()):
        return {"spec": {"containers": [{"resources": r} for r in resources],
                         "initContainers": [{"resources": r} for r in init]}}
    both = {"cpu": "1", "memory": "1Gi"}
    assert hoststatus.qos_class(pod({})) == "BestEffort"
    assert hoststatus.qos_class(pod({"requests": {"ephemeral-storage": "1Gi"}})) == "BestEffort"
    assert hoststatus.qos_class(pod({"limits": both, "requests": both})) == "Guaranteed"
    assert hoststatus.qos_class(pod({"limits": both, "requests": both}, {})) == "Burstable"
    assert hoststatus.qos_class(pod({"limits": both, "requests": {"cpu": "500m", "memory": "1Gi"}})) == "Burstable"
    assert hoststatus.qos_class(pod({"limits": both, "requests": both}, init=[{"requests": {"cpu": "1m"}}])) \
        == "Burstable"


class _Client:
    """Node, Lease and pod status calls answered in memory; a pod status write refused for `refused`."""

    def __init__(self, refused=()):
        self.refused = set(refused)
        self.node = None
        self.lease = None
        self.node_writes = 0
        self.pod_writes = []
        self.pods = []
        self.node_reads = []        # the resourceVersion of each Node GET

    async def get(self, resource, name, namespace=None, resource_version=None):
        if resource.plural == "nodes":
            self.node_reads.append(resource_version)
        obj = self.node if resource.plural == "nodes" else self.lease
        if obj is None:
            raise APIError(404, {"reason": "NotFound"})
        return obj

    async def create(self, resource, obj, namespace=None, **options):
        obj = dict(obj, metadata=dict(obj["metadata"], uid="u", resourceVersion="1"))
        if resource.plural == "nodes":
            self.node = obj
            self.node_writes += 1
        elif resource.plural == "events":
            return obj
        else:
            self.lease = obj
        return obj

    async def update(self, resource, obj, subresource=None):
        self.lease = obj
        return obj

    async def patch(self, resource, name, patch, namespace=None, **options):
        if resource.plural == "nodes":
            self.node = dict(self.node, status=patch["status"])
            self.node_writes += 1
            return self.node
        self.pod_writes.append(name)
        if name in self.refused:
            raise APIError(422, {"reason": "Invalid", "message": "refused"})
        return {"metadata": {"name": name}, "status": patch["status"]}

    async def list(self, resource, field_selector=None):
        return {"items": self.pods}


def _step(agent, work):
    d = Deferred.fromCoroutine(work())
    assert d.called, "the fake client answers at once"
    if hasattr(d.result, "raiseException"):
        d.result.raiseException()


def test_node_status_is_written_on_change_or_every_five_minutes(tmp_path, monkeypatch):
    """The heartbeat (every 10 s) renews the Lease each time but writes the Node's status only when it changed
    (heartbeat times aside; compared with the Node the server has) or when 5 minutes passed since the last
    write."""
    clock = Clock()
    clock.advance(1_700_000_000)
    figures = [_figures()]
    monkeypatch.setattr(hoststatus, "read_host", lambda root="/": figures[0])
    client = _Client()
    agent = NodeAgent(clock, client, "n1", "127.0.0.1", 10250, str(tmp_path))
    _step(agent, agent._register_and_lease)
    assert client.node_writes == 1 and client.lease["spec"]["holderIdentity"] == "n1"
    renewed = client.lease["spec"]["renewTime"]
    clock.advance(10)
    _step(agent, agent._register_and_lease)
    assert client.node_writes == 1 and client.lease["spec"]["renewTime"] != renewed
    # Read as upstream's kubelet reads its Node for a status update: from the apiserver's cache.
    assert client.node_reads == ["0", "0"]
    figures[0] = _figures(memory_available=10 * 2 ** 20)
    clock.advance(10)
    _step(agent, agent._register_and_lease)
    assert client.node_writes == 2
    memory = next(c for c in client.node["status"]["conditions"] if c["type"] == "MemoryPressure")
    ready = next(c for c in client.node["status"]["conditions"] if c["type"] == "Ready")
    assert memory["status"] == "True" and memory["lastTransitionTime"] != ready["lastTransitionTime"]
    for _ in range(29):
        clock.advance(10)
        _step(agent, agent._register_and_lease)
    assert client.node_writes == 2
    clock.advance(10)
    _step(agent, agent._register_and_lease)
    assert client.node_writes == 3
    # The node lifecycle controller marked the node Unknown: the next heartbeat sets Ready True again.
    client.node["status"]["conditions"] = [dict(c, status="Unknown") if c["type"] == "Ready" else c
                                           for c in client.node["status"]["conditions"]]
    clock.advance(10)
    _step(agent, agent._register_and_lease)
    assert client.node_writes == 4
    assert next(c for c in client.node["status"]["conditions"] if c["type"] == "Ready")["status"] == "True"


class _Worker:
    terminating = False

    def __init__(self, name):
        self.uid = self.name = name
        self.namespace = "ns"
        self.pod = {"metadata": {"name": name}, "spec": {}}

    def status(self):
        return {"phase": "Running"}


def test_a_refused_status_write_is_retried_later_and_never_stops_the_others(tmp_path):
    """A 422 on one pod's status write: the other pods' statuses are written in the same sync; the refused
    pod is tried again only after its back-off (1 s, doubling), not on every sync."""
    clock = Clock()
    client = _Client(refused={"bad"})
    agent = NodeAgent(clock, client, "n1", "127.0.0.1", 10250, str(tmp_path))
    agent.registered.callback(None)
    for name in ("bad", "good-1", "good-2"):
        agent.workers[name] = _Worker(name)
        agent._dirty.add(name)
        client.pods.append({"metadata": {"name": name, "namespace": "ns", "uid": name},
                            "spec": {"nodeName": "n1"}})
    _step(agent, agent._sync)
    assert sorted(client.pod_writes) == ["bad", "good-1", "good-2"]
    client.pod_writes.clear()
    agent._dirty.add("good-1")
    _step(agent, agent._sync)
    assert client.pod_writes == ["good-1"]
    clock.advance(1)
    _step(agent, agent._sync)
    assert client.pod_writes == ["good-1", "bad"]
    clock.advance(1)
    _step(agent, agent._sync)                   # the second failure waits 2 s
    assert client.pod_writes == ["good-1", "bad"]
    client.refused.clear()
    clock.advance(1)
    _step(agent, agent._sync)
    assert client.pod_writes == ["good-1", "bad", "bad"] and agent._retry_at == {} and "bad" not in agent._dirty


class _Pod:
    def __init__(self, tmp_path, reactor=None):
        self.directory = str(tmp_path)
        self.host_ip = "127.0.0.1"
        self.reactor = reactor or Clock()
        self.changes = 0
        self.events = []

    def changed(self):
        self.changes += 1


class _Container:
    def __init__(self, pod, spec):
        self.pod, self.spec, self.name = pod, dict({"name": "c"}, **spec), "c"
        self.state = {}
        self.stopping = False
        self.starts = 0

    def event(self, *event):
        """The kubelet's event about this container (Container.event), kept on the pod as the test reads them."""
        self.pod.events.append(event)

    def start(self):
        self.starts += 1


def test_the_images_table(tmp_path):
    """A container with no command: its image's stand-in on the host, or args run as the command."""
    pod = _Pod(tmp_path)

    def argv(image, args=(), **spec):
        return images.command_for(_Container(pod, dict(spec, image=image)), list(args))
    assert argv("busybox") == ["sh"] and argv("docker.io/library/alpine:3.20", ["echo", "x"]) == ["echo", "x"]
    assert argv("registry.k8s.io/e2e-test-images/busybox:1.36.1-1", ["sleep", "1"]) == ["sleep", "1"]
    assert argv("registry.k8s.io/pause:3.10") == ["sleep", "infinity"]
    assert argv("python:3.12-slim") == [sys.executable]
    assert argv("python", ["python3", "-c", "pass"]) == [sys.executable, "-c", "pass"]
    served = argv("nginx", ports=[{"containerPort": 8080}])
    assert served[1:4] == ["-m", "http.server", "8080"] and served[-2] == "--directory"
    assert "Welcome to nginx!" in (tmp_path / "images" / "c" / "html" / "index.html").read_text()
    assert argv("httpd")[3] == "80"
    assert argv("registry.k8s.io/e2e-test-images/agnhost:2.53", ["pause"])[-1] == "pause"
    assert argv("mycompany/tool:1", ["run", "--fast"]) == ["run", "--fast"]
    assert images.reference("busybox") == "docker.io/library/busybox:latest"
    assert images.reference("me/app:2") == "docker.io/me/app:2"
    assert images.reference("localhost:5000/app") == "localhost:5000/app:latest"


def test_an_unknown_image_backs_off_as_a_failed_pull():
    """ErrImagePull with the runtime's error and Pulling/Failed events, ImagePullBackOff a second later with
    BackOff, a new attempt after the 10 s back-off, then 20 s; a stopped container is not tried again."""
    clock = Clock()
    pod = _Pod("/nonexistent", clock)
    container = _Container(pod, {"image": "nosuch"})
    assert images.command_for(container, []) is None
    assert container.state["waiting"]["reason"] == "ErrImagePull"
    assert [e[1:] for e in pod.events] == [
        ("Pulling", 'Pulling image "nosuch"'),
        ("Failed", 'Failed to pull image "nosuch": rpc error: code = NotFound desc = failed to pull and unpack '
                   'image "docker.io/library/nosuch:latest": failed to resolve reference '
                   '"docker.io/library/nosuch:latest": docker.io/library/nosuch:latest: not found'),
        ("Failed", "Error: ErrImagePull")]
    clock.advance(1)
    assert container.state == {"waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "nosuch"'}}
    assert [e[1:] for e in pod.events[3:]] == [("BackOff", 'Back-off pulling image "nosuch"'),
                                               ("Failed", "Error: ImagePullBackOff")]
    clock.advance(8.9)
    assert container.starts == 0
    clock.advance(0.1)
    assert container.starts == 1
    assert images.command_for(container, []) is None
    clock.advance(1 + 18.9)
    assert container.starts == 1
    container.stopping = True
    clock.advance(0.1)
    assert container.starts == 1

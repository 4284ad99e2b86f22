"""Pod volumes as files (kapiserver.node.volumes): payloads, the ..data atomic writer, projected tokens."""

import base64
import os
import stat

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from kapiserver.node.environment import Sources
from kapiserver.node.volumes import (TokenManager, VolumeError, token_key, volume_payload, write_atomically)

POD = {"metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "labels": {"app": "x"}},
       "spec": {"serviceAccountName": "robot",
                "containers": [{"name": "c", "resources": {"limits": {"memory": "1Mi"}}}]}}


def _payload(volume, sources, tokens=None):
    return volume_payload(volume, POD, sources, tokens or {}, ["10.0.0.1"], ["10.0.0.1"])


def test_config_map_and_secret_items_modes_and_optional():
    """All keys (data and binaryData) at defaultMode, or the chosen items at their own mode; a missing key or
    object is upstream's FailedMount message unless the source is optional."""
    sources = Sources(config_maps={"cm": {"data": {"a": "A", "b": "B"}, "binaryData": {"bin": "AAE="}}},
                      secrets={"s": {"data": {"pw": base64.b64encode(b"secret").decode()}}})
    assert _payload({"name": "v", "configMap": {"name": "cm"}}, sources) == {
        "a": (b"A", 0o644), "b": (b"B", 0o644), "bin": (b"\0\1", 0o644)}
    assert _payload({"name": "v", "secret": {"secretName": "s", "defaultMode": 0o400,
                                             "items": [{"key": "pw", "path": "dir/password", "mode": 0o600}]}},
                    sources) == {"dir/password": (b"secret", 0o600)}
    with pytest.raises(VolumeError, match='^MountVolume.SetUp failed for volume "v" : configmap "gone" not found$'):
        _payload({"name": "v", "configMap": {"name": "gone"}}, sources)
    with pytest.raises(VolumeError, match=": configmap references non-existent config key: zzz$"):
        _payload({"name": "v", "configMap": {"name": "cm", "items": [{"key": "zzz", "path": "z"}]}}, sources)
    with pytest.raises(VolumeError, match='^MountVolume.SetUp failed for volume "v" : references non-existent '
                                          'secret key: zzz$'):
        _payload({"name": "v", "secret": {"secretName": "s", "items": [{"key": "zzz", "path": "z"}]}}, sources)
    assert _payload({"name": "v", "secret": {"secretName": "gone", "optional": True}}, sources) == {}
    assert _payload({"name": "v", "emptyDir": {}}, sources) is None


def test_the_service_account_projection_gives_token_ca_and_namespace():
    """The kube-api-access volume ServiceAccount admission adds yields token, ca.crt and namespace."""
    volume = {"name": "kube-api-access-abcde", "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}},
                                   {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                                   {"path": "mem", "resourceFieldRef": {"containerName": "c",
                                                                        "resource": "limits.memory"}}]}}]}}
    sources = Sources(config_maps={"kube-root-ca.crt": {"data": {"ca.crt": "PEM"}}})
    key = token_key(POD, {"expirationSeconds": 3607, "path": "token"})
    assert key[:2] == ("ns", "robot")
    assert _payload(volume, sources, {key: "jwt"}) == {
        "token": (b"jwt", 0o644), "ca.crt": (b"PEM", 0o644), "namespace": (b"ns", 0o644),
        "labels": (b'app="x"', 0o644), "mem": (b"1048576", 0o644)}
    with pytest.raises(VolumeError, match="token"):
        _payload(volume, sources, {})
    assert "token" not in _payload(volume, sources, {key: None})       # an apiserver that issues no tokens


def test_atomic_writer_layout_updates_and_no_op(tmp_path):
    """Files live in a timestamped directory that ..data points at; visible names are symlinks into ..data;
    an update swaps ..data, drops removed names and the old directory; the same payload writes nothing."""
    target = str(tmp_path / "vol")
    assert write_atomically(target, {"a": (b"1", 0o644), "sub/b": (b"2", 0o600)})
    first = os.readlink(os.path.join(target, "..data"))
    assert first.startswith("..") and os.path.isdir(os.path.join(target, first))
    assert os.readlink(os.path.join(target, "a")) == "..data/a"
    assert os.readlink(os.path.join(target, "sub")) == "..data/sub"
    assert open(os.path.join(target, "sub/b")).read() == "2"
    assert stat.S_IMODE(os.stat(os.path.join(target, "sub/b")).st_mode) == 0o600
    assert not write_atomically(target, {"a": (b"1", 0o644), "sub/b": (b"2", 0o600)})
    assert write_atomically(target, {"a": (b"changed", 0o644)})
    second = os.readlink(os.path.join(target, "..data"))
    assert second != first and set(os.listdir(target)) == {"..data", second, "a"}
    assert open(os.path.join(target, "a")).read() == "changed"
    assert write_atomically(target, {"a": (b"changed", 0o400)})     # a mode change alone is a change
    assert stat.S_IMODE(os.stat(os.path.join(target, "a")).st_mode) == 0o400


def test_token_manager_renews_after_eighty_percent_of_the_life():
    """A token is requested bound to the pod, kept until 80 % of its life has passed, then requested again;
    a forgotten pod's tokens are dropped."""
    clock = Clock()
    clock.advance(1_800_000_000)
    asked = []

    async def request(namespace, account, body):
        asked.append((namespace, account, body["spec"]))
        expires = clock.seconds() + body["spec"]["expirationSeconds"]
        import datetime
        stamp = datetime.datetime.fromtimestamp(expires, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"spec": body["spec"], "status": {"token": f"t{len(asked)}", "expirationTimestamp": stamp}}
    manager = TokenManager(request, clock.seconds)
    key = token_key(POD, {"audience": "vault", "expirationSeconds": 1000})

    def token():
        d = Deferred.fromCoroutine(manager.token(key))
        assert d.called
        return d.result
    assert token() == "t1"
    assert asked == [("ns", "robot", {"expirationSeconds": 1000, "audiences": ["vault"], "boundObjectRef": {
        "apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u-1"}})]
    clock.advance(799)
    assert token() == "t1"
    clock.advance(2)
    assert token() == "t2" and len(asked) == 2
    manager.forget("u-1")
    assert manager.cache == {}


class _Reactor(Clock):
    """A clock that records the processes it is asked to spawn."""

    def __init__(self):
        super().__init__()
        self.spawned = []

    def spawnProcess(self, protocol, executable, args, env=None, path=None, childFDs=None):
        self.spawned.append((args, env))

        class Transport:
            pid = None

            def closeStdin(self):
                pass
        return Transport()


class _Client:
    """The reads the node agent makes for a pod's sources, answered from a dict of objects."""

    server = "https://10.1.2.3:6443"

    def __init__(self, objects):
        self.objects = objects

    async def get(self, resource, name, namespace=None):
        from kapiserver.client.rest import APIError
        try:
            return self.objects[(resource.plural, namespace, name)]
        except KeyError:
            raise APIError(404, {"message": f'{resource.plural} "{name}" not found'}) from None

    async def list(self, resource, namespace=None, **options):
        return {"items": [o for (plural, ns, _), o in self.objects.items()
                          if plural == resource.plural and ns == namespace]}


def test_agent_starts_containers_once_every_volume_could_be_set_up(tmp_path):
    """A pod whose configMap volume's ConfigMap is missing stays Pending with nothing started; once the
    ConfigMap exists a resync writes the volume and starts the container, whose environment has the master
    service leading to the apiserver the agent talks to."""
    from kapiserver.node.agent import NodeAgent
    reactor = _Reactor()
    client = _Client({("services", "default", "kubernetes"): {
        "metadata": {"name": "kubernetes", "namespace": "default"},
        "spec": {"clusterIP": "10.0.0.1", "ports": [{"name": "https", "port": 443}]}}})
    agent = NodeAgent(reactor, client, "n1", "127.0.0.1", 10250, str(tmp_path))
    agent.registered.callback({"status": {"allocatable": {"cpu": "2"}}})
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
           "spec": {"nodeName": "n1", "containers": [{"name": "c", "command": ["true"], "env": [
               {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}]}],
                    "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}]}}

    def run(coroutine):
        d = Deferred.fromCoroutine(coroutine)
        assert d.called
        return d.result
    run(agent._start(pod))
    worker = agent.workers["u1"]
    assert worker.volume_errors == ['MountVolume.SetUp failed for volume "cfg" : configmap "cfg" not found']
    assert reactor.spawned == [] and worker.status()["phase"] == "Pending"
    client.objects[("configmaps", "ns", "cfg")] = {"data": {"key": "value"}}
    run(agent._resync())
    assert (tmp_path / "pods" / "u1" / "volumes" / "cfg" / "key").read_text() == "value"
    (_args, env), = reactor.spawned
    assert env["KUBERNETES_SERVICE_HOST"] == "10.1.2.3" and env["KUBERNETES_SERVICE_PORT"] == "6443"
    assert env["CPU"] == "2" and env["KUBE_VOLUMES_DIR"] == str(tmp_path / "pods" / "u1" / "volumes")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_memory_empty_dir_is_a_tmpfs_of_its_size_limit_until_the_pod_goes(tmp_path):
    """As root, an emptyDir of medium Memory is a tmpfs sized by its sizeLimit, unmounted with the pod."""
    from kapiserver.node.agent import NodeAgent
    agent = NodeAgent(_Reactor(), _Client({}), "n1", "127.0.0.1", 10250, str(tmp_path))
    agent.registered.callback({})
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
           "spec": {"nodeName": "n1", "enableServiceLinks": False,
                    "containers": [{"name": "c", "command": ["true"]}],
                    "volumes": [{"name": "fast", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
                                {"name": "slow", "emptyDir": {}}]}}
    assert Deferred.fromCoroutine(agent._start(pod)).called
    target = tmp_path / "pods" / "u1" / "volumes" / "fast"
    try:
        assert os.path.ismount(target) and not os.path.ismount(target.parent / "slow")
        stats = os.statvfs(target)
        assert stats.f_blocks * stats.f_frsize == 1 << 20
    finally:
        agent._release(agent.workers["u1"])
    assert not os.path.ismount(target)


class _EventsClient(_Client):
    """Also takes the Events the agent's recorder writes: creates and count patches, as the apiserver would."""

    def __init__(self, objects):
        super().__init__(objects)
        self.events = {}
        self.writes = []

    async def create(self, resource, obj, namespace=None):
        assert resource.plural == "events"
        self.events[obj["metadata"]["name"]] = dict(obj)
        self.writes.append("create")
        return obj

    async def patch(self, resource, name, patch, namespace=None, patch_type=None):
        self.events[name].update(patch)
        self.writes.append("patch")
        return self.events[name]


def test_failed_mount_events_are_one_event_counted_over_the_retries(tmp_path):
    """A missing ConfigMap volume posts FailedMount (Warning, upstream's "MountVolume.SetUp failed ..."
    message, about the pod) on each try; the retries on later resyncs raise that one Event's count rather
    than add Events, and none is posted once the volume could be set up."""
    from kapiserver.client.events import EventRecorder
    from kapiserver.node.agent import NodeAgent
    reactor = _Reactor()
    client = _EventsClient({})
    agent = NodeAgent(reactor, client, "n1", "127.0.0.1", 10250, str(tmp_path),
                      recorder=EventRecorder(client, "kubelet", host="n1", clock=reactor))
    agent.registered.callback({})
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
           "spec": {"nodeName": "n1", "enableServiceLinks": False,
                    "containers": [{"name": "c", "command": ["true"]}],
                    "volumes": [{"name": "cfg", "configMap": {"name": "cm"}}]}}
    assert Deferred.fromCoroutine(agent._start(pod)).called
    for _ in range(2):
        reactor.advance(10)
        assert Deferred.fromCoroutine(agent._resync()).called
    (event,) = client.events.values()
    assert (event["type"], event["reason"], event["message"]) == (
        "Warning", "FailedMount", 'MountVolume.SetUp failed for volume "cfg" : configmap "cm" not found')
    assert event["involvedObject"] == {"kind": "Pod", "apiVersion": "v1", "name": "p", "namespace": "ns",
                                       "uid": "u1"}
    assert event["source"] == {"component": "kubelet", "host": "n1"} and event["count"] == 3
    assert client.writes == ["create", "patch", "patch"] and reactor.spawned == []
    client.objects[("configmaps", "ns", "cm")] = {"data": {"k": "v"}}
    assert Deferred.fromCoroutine(agent._resync()).called
    assert len(reactor.spawned) == 1
    assert [e["reason"] for e in client.events.values()] == ["FailedMount", "Pulled", "Created", "Started"]
    assert event["count"] == 3

"""The node agent's Node object and the pod status it reports."""

from kapiserver.node.agent import node_object
from kapiserver.node.runner import expand


def test_node_object_is_complete():
    """Every field the Python client requires of NodeStatus is present and Ready is True."""
    node = node_object("n1", "127.0.0.1", 10250, 1_700_000_000)
    status = node["status"]
    for key in ("machineID", "systemUUID", "bootID", "kernelVersion", "osImage", "containerRuntimeVersion",
                "kubeletVersion", "kubeProxyVersion", "operatingSystem", "architecture"):
        assert isinstance(status["nodeInfo"][key], str)
    assert status["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10250
    assert {"cpu", "memory", "pods"} <= set(status["allocatable"])
    for condition in status["conditions"]:
        assert condition["lastHeartbeatTime"] and condition["lastTransitionTime"] and condition["reason"]
    assert [c["status"] for c in status["conditions"] if c["type"] == "Ready"] == ["True"]


def test_variable_references_expand_as_the_kubelet_does():
    """$(VAR) expands from the container's env, $$ escapes, unknown references stay as written."""
    assert expand("$(A)-$(B)-$$(A)", {"A": "x"}) == "x-$(B)-$(A)"


def test_kubeconfig_gives_server_token_and_tls_material(tmp_path):
    """The agent reads its kubeconfig's current context: server, bearer token, inline and file PEMs."""
    import base64
    import json
    from kapiserver.client.kubeconfig import load_kubeconfig
    (tmp_path / "ca.pem").write_bytes(b"CA")
    (tmp_path / "config").write_text(json.dumps({
        "current-context": "b",
        "contexts": [{"name": "a", "context": {"cluster": "x", "user": "x"}},
                     {"name": "b", "context": {"cluster": "c", "user": "u"}}],
        "clusters": [{"name": "x", "cluster": {"server": "http://wrong"}},
                     {"name": "c", "cluster": {"server": "https://api:6443/", "certificate-authority": "ca.pem"}}],
        "users": [{"name": "x", "user": {}},
                  {"name": "u", "user": {"token": "t", "client-key-data": base64.b64encode(b"KEY").decode()}}]}))
    config = load_kubeconfig(str(tmp_path / "config"))
    assert config["server"] == "https://api:6443"
    assert config["headers"] == {"Authorization": "Bearer t"}
    assert config["ca"] == b"CA" and config["key"] == b"KEY" and config["cert"] is None


def test_simulated_flag_builds_a_simulated_node_and_no_kubelet_api(tmp_path):
    """`kube-node --simulated` runs a SimulatedNode (no processes, no kubelet listener)."""
    import json
    from kapiserver.node.simulated import SimulatedNodeService
    from kapiserver.node.tap import Options, makeService
    (tmp_path / "kc").write_text(json.dumps({
        "current-context": "c", "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}], "users": [{"name": "u", "user": {}}]}))
    options = Options()
    options.parseOptions([f"--kubeconfig={tmp_path / 'kc'}", "--simulated", "--node-name=sim-x",
                          f"--root-dir={tmp_path / 'root'}", "--pod-cidr=10.9.0.0/24"])
    top = makeService(options)
    children = list(top)
    assert len(children) == 1 and isinstance(children[0], SimulatedNodeService)
    assert children[0].node.name == "sim-x" and next(children[0].node._ips) == "10.9.0.2"


class _PodsClient:
    """The calls NodeAgent._sync makes, answered from a list of pods; deletions recorded."""

    def __init__(self, pods):
        self.pods = pods
        self.deleted = []

    async def list(self, resource, field_selector=None):
        return {"items": self.pods}

    async def delete(self, resource, name, namespace, grace_period_seconds=None, preconditions=None):
        self.deleted.append((name, namespace, grace_period_seconds, preconditions))


def test_a_pod_deleted_while_the_agent_was_away_is_removed_once(tmp_path):
    """A pod bound here and marked for deletion, of which no container runs here (it was deleted while the
    agent was down), has its deletion finished at once (grace 0, its uid as precondition), and only once;
    nothing of it is started."""
    from twisted.internet.defer import Deferred
    from twisted.internet.task import Clock

    from kapiserver.node.agent import NodeAgent
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1", "deletionTimestamp": "2026-01-01T00:00:00Z",
                        "deletionGracePeriodSeconds": 30},
           "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]},
           "status": {"phase": "Running"}}
    client = _PodsClient([pod])
    agent = NodeAgent(Clock(), client, "n1", "127.0.0.1", 10250, str(tmp_path))
    agent.registered.callback(None)
    for _ in range(2):
        d = Deferred.fromCoroutine(agent._sync())
        assert d.called and d.result is None
    assert client.deleted == [("p", "ns", 0, {"uid": "u1"})]
    assert agent.workers == {}


def _wait_for_environ(pid):
    """Popen returns once the child has begun its exec, which may be before the kernel has set up the new
    program's environment: /proc/<pid>/environ reads empty until then."""
    import time
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/environ", "rb") as f:
            if f.read():
                return
        time.sleep(0.005)
    raise AssertionError(f"process {pid} never showed an environment")


def test_a_restarted_agent_stops_the_containers_its_predecessor_left(tmp_path):
    """Processes whose environment names a pod volumes directory under the agent's root (containers an agent
    killed with SIGKILL left running) are stopped when an agent on that root starts; others are left alone."""
    import os
    import subprocess

    from twisted.internet.task import Clock

    from kapiserver.node.agent import NodeAgent
    from kapiserver.node.runner import leftover_processes
    root, other = tmp_path / "root", tmp_path / "other"
    mine = subprocess.Popen(["sleep", "60"], env=dict(os.environ, KUBE_VOLUMES_DIR=f"{root}/pods/u1/volumes"))
    theirs = subprocess.Popen(["sleep", "60"], env=dict(os.environ, KUBE_VOLUMES_DIR=f"{other}/pods/u2/volumes"))
    try:
        _wait_for_environ(mine.pid)
        _wait_for_environ(theirs.pid)
        assert leftover_processes(str(root / "pods")) == [mine.pid]
        agent = NodeAgent(Clock(), _PodsClient([]), "n1", "127.0.0.1", 10250, str(root))
        agent.startService()
        assert mine.wait(timeout=5) == -9
        assert theirs.poll() is None
        agent.stopService()
    finally:
        for process in (mine, theirs):
            process.kill()
            process.wait()


def test_a_terminated_pod_reports_its_stopped_containers_before_its_final_delete(tmp_path):
    """Once a deleted pod's containers have stopped, the agent writes that status (Ready False) and only then
    deletes the pod, so a watcher waiting for Ready=False sees it as against upstream's kubelet."""
    from twisted.internet.defer import succeed
    from twisted.internet.task import Clock
    from kapiserver.node.agent import NodeAgent

    calls = []

    class Client(_PodsClient):
        async def patch(self, resource, name, patch, namespace=None, **options):
            calls.append(("patch", name, patch["status"]["conditions"][0]["status"]))
            return {"metadata": {"name": name}}

        async def delete(self, resource, name, namespace, grace_period_seconds=None, preconditions=None):
            calls.append(("delete", name, grace_period_seconds))

    class Worker:
        uid, name, namespace, terminating = "u1", "p", "ns", False

        def kill(self, grace):
            self.terminating = True
            return succeed(None)

        def status(self):
            return {"phase": "Failed", "conditions": [{"type": "Ready", "status": "False"}]}

    agent = NodeAgent(Clock(), Client([]), "n1", "127.0.0.1", 10250, str(tmp_path))
    worker = agent.workers["u1"] = Worker()
    agent._terminate(worker, 10)
    assert calls == [("patch", "p", "False"), ("delete", "p", 0)] and agent.workers == {}


def test_host_mount_paths_go_with_the_last_pod_that_mounts_them(tmp_path):
    """A mountPath directory made on the host for one pod stays while another pod mounts the same path (removing it
    would detach that pod's mount) and goes with the last of them; a directory that was there before stays."""
    from kapiserver.node.runner import HostDirs
    dirs = HostDirs()
    target = tmp_path / "run" / "secrets" / "sa"
    (tmp_path / "kept").mkdir()
    dirs.use("a", str(target))
    target.mkdir(parents=True)          # as the mount script does
    dirs.use("b", str(target))
    dirs.use("b", str(tmp_path / "kept"))
    dirs.release("a")
    assert target.is_dir()
    dirs.release("b")
    assert not (tmp_path / "run").exists() and (tmp_path / "kept").is_dir() and dirs.created == set()

"""
Node streams end to end: a kapiserver process, a kube-node agent process running pods as host
processes, and kubectl 1.32 / the official Python client doing run, logs, exec, cp, port-forward
and proxy through the apiserver.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conformance.support import wait_for

from .conftest import APIServerProcess, Kubectl, free_port, kubectl_binary, stop_process


class NodeProcess:
    """``python -m kapiserver.node`` registered against a server, scheduling pods onto itself."""

    def __init__(self, server: APIServerProcess, home, name="node-1"):
        self.server = server
        self.home = home
        self.name = name
        self.port = free_port()
        self.log_path = home / "node.log"
        self.kubeconfig = home / "node.kubeconfig"
        self.kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "k",
            "clusters": [{"name": "k", "cluster": {"server": server.url}}],
            "contexts": [{"name": "k", "context": {"cluster": "k", "user": "u"}}],
            "users": [{"name": "u", "user": {}}]}))
        self.process = None
        self.extra_args = ()

    def start(self, timeout=60.0):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kapiserver.node", f"--kubeconfig={self.kubeconfig}",
             f"--node-name={self.name}", f"--kubelet-port={self.port}", f"--root-dir={self.home / 'root'}",
             "--schedule", "--sync-frequency=0.2", *self.extra_args],
            stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, node = self.server.request("GET", f"/api/v1/nodes/{self.name}")
            if status == 200:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"node did not register: {self.log_path.read_text()[-3000:]}")

    def stop(self):
        stop_process(self.process)


def apiserver_and_node(tmp_path_factory, prefix: str, **node_options):
    """An apiserver (no secure port) and a kube-node on it, yielded as (server, node) and stopped after."""
    server = APIServerProcess(tmp_path_factory.mktemp(prefix) / "data", args=("--secure-port=0",)).start()
    node = NodeProcess(server, tmp_path_factory.mktemp("node"), **node_options)
    try:
        node.start()
        yield server, node
    finally:
        node.stop()
        server.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    yield from apiserver_and_node(tmp_path_factory, "streams")


@pytest.fixture(scope="module")
def kc(cluster, tmp_path_factory):
    binary = kubectl_binary()
    if not binary:
        pytest.skip("kubectl is not installed on this machine")
    return Kubectl(binary, cluster[0], tmp_path_factory.mktemp("kubectl"))


def _wait(predicate, timeout=30.0, what="condition"):
    return wait_for(predicate, timeout=timeout, interval=0.1, what=what)


def _running(kc, name):
    def check():
        pod = kc.json("get", "pod", name)
        return pod if pod.get("status", {}).get("phase") == "Running" else None
    return _wait(check, what=f"pod {name} running")


@pytest.fixture(scope="module")
def ticker(kc):
    kc("run", "ticker", "--image=busybox", "--", "sh", "-c",
       "echo started; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done")
    return _running(kc, "ticker")


@pytest.fixture(scope="module")
def web(kc, tmp_path_factory):
    port = free_port()
    kc("run", "web", "--image=python", f"--port={port}", "--labels=app=web", "--",
       sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
       "--directory", str(tmp_path_factory.mktemp("www")))
    kc("expose", "pod", "web", "--port=80", f"--target-port={port}")
    _running(kc, "web")
    _wait(lambda: _connectable(port), what="web listening")
    return port


def _connectable(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_node_registers_complete_status_and_lease(cluster, kc):
    """The agent's Node has addresses, capacity, nodeInfo and a Ready condition; its Lease is renewed."""
    # The agent registers its Node, then reports its status and makes its Lease: wait for the last of those.
    lease = _wait(lambda: kc.json("get", "lease", "-n", "kube-node-lease", "node-1"), what="the node's Lease")
    assert lease["spec"]["holderIdentity"] == "node-1"
    node = _wait(lambda: (n := kc.json("get", "node", "node-1")) and
                 [c["status"] for c in n["status"]["conditions"] if c["type"] == "Ready"] == ["True"] and n,
                 what="node-1 Ready")
    status = node["status"]
    assert {"InternalIP", "Hostname"} <= {a["type"] for a in status["addresses"]}
    assert status["daemonEndpoints"]["kubeletEndpoint"]["Port"] == cluster[1].port
    assert status["nodeInfo"]["kubeletVersion"] == "v1.32.0"
    kubernetes = pytest.importorskip("kubernetes")
    configuration = kubernetes.client.Configuration()
    configuration.host = cluster[0].url
    with kubernetes.client.ApiClient(configuration) as client:
        typed = kubernetes.client.CoreV1Api(client).read_node("node-1")
    assert typed.status.node_info.operating_system == "linux"


def test_run_is_scheduled_and_running(kc, ticker):
    """`kubectl run` leads to a bound pod whose process runs, with container status and conditions."""
    assert ticker["spec"]["nodeName"] == "node-1"
    status = ticker["status"]
    assert status["containerStatuses"][0]["state"]["running"]["startedAt"]
    assert status["containerStatuses"][0]["ready"] is True
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    assert status["podIP"] == "127.0.0.1"


def test_logs_and_tail(kc, ticker):
    """`kubectl logs` returns the container's output; --tail and --timestamps are applied."""
    _wait(lambda: "tick 2" in kc("logs", "ticker").stdout, what="ticks")
    out = kc("logs", "ticker").stdout.splitlines()
    assert out[0] == "started" and out[1] == "tick 0"
    assert len(kc("logs", "ticker", "--tail=2").stdout.splitlines()) == 2
    stamped = kc("logs", "ticker", "--tail=1", "--timestamps").stdout
    assert stamped[:4].isdigit() and "Z tick " in stamped


def test_logs_follow_streams_new_lines(kc, ticker):
    """`kubectl logs -f` keeps streaming lines as the process writes them."""
    process = kc.popen("logs", "-f", "ticker", "--tail=1")
    try:
        lines = [process.stdout.readline() for _ in range(4)]
    finally:
        process.kill()
        process.wait()
    numbers = [int(line.split()[1]) for line in lines]
    assert numbers == sorted(numbers) and numbers[-1] > numbers[0]


def test_log_of_unknown_container_is_400(kc, ticker):
    """A container the pod does not have is upstream's 400."""
    result = kc("logs", "ticker", "-c", "nope", check=False)
    assert result.returncode != 0
    assert "container nope is not valid for pod ticker" in result.stderr


def test_exec_exit_code_and_streams(kc, ticker):
    """`kubectl exec` separates stdout and stderr and exits with the command's exit code."""
    result = kc("exec", "ticker", "--", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert "err" in result.stderr and "command terminated with exit code 3" in result.stderr
    assert kc("exec", "ticker", "--", "sh", "-c", "echo $HOSTNAME").stdout == "ticker\n"


def test_exec_stdin(kc, ticker):
    """stdin reaches the command and its end closes it (v5 close frame)."""
    assert kc("exec", "-i", "ticker", "--", "sh", "-c", "cat; echo done", input="piped\n").stdout == \
        "piped\ndone\n"


def test_exec_over_spdy_fallback(kc, ticker):
    """With WebSockets off, kubectl speaks SPDY/3.1: output, stdin and exit codes still work."""
    env = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        result = kc("exec", "-i", "ticker", "--", "sh", "-c", "cat; exit 4", input="spdy\n", check=False)
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    assert result.returncode == 4 and result.stdout == "spdy\n"


def test_cp_both_ways(kc, ticker, tmp_path):
    """`kubectl cp` copies a file into the pod and back (tar over exec)."""
    source = tmp_path / "in.txt"
    source.write_text("payload\n")
    inside = tmp_path / "inside.txt"
    kc("cp", str(source), f"ticker:{inside}")
    assert inside.read_text() == "payload\n"
    back = tmp_path / "back.txt"
    kc("cp", f"ticker:{inside}", str(back))
    assert back.read_text() == "payload\n"


def _port_forward(kc, target_port, env=None, pod="web"):
    """(status, body) of a GET / through `kubectl port-forward` to the pod's target_port."""
    local = free_port()
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        process = kc.popen("port-forward", f"pod/{pod}", f"{local}:{target_port}")
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    try:
        _wait(lambda: _connectable(local), what="port-forward listening")
        with urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=10) as response:
            return response.status, response.read()
    finally:
        process.kill()
        process.wait()


def test_port_forward_websocket_tunnel(kc, web):
    """kubectl's default port-forward (SPDY tunnelled in a WebSocket) reaches the pod's port."""
    status, body = _port_forward(kc, web)
    assert status == 200 and b"Directory listing" in body


def test_port_forward_spdy(kc, web):
    """kubectl's plain SPDY/3.1 port-forward reaches the pod's port."""
    status, body = _port_forward(kc, web, {"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"})
    assert status == 200 and b"Directory listing" in body


@pytest.mark.parametrize("protocol", ["base64.binary.k8s.io", "binary.k8s.io"])
def test_pod_log_over_websocket(cluster, ticker, protocol):
    """pods/log asked for over WebSocket is upgraded and the log arrives as messages (base64 text frames or
    binary frames by the subprotocol), the socket closing at the log's end, as upstream."""
    import base64
    websocket = pytest.importorskip("websocket")
    server = cluster[0]
    ws = websocket.create_connection(server.url.replace("http", "ws") + "/api/v1/namespaces/default/pods/ticker/log",
                                     subprotocols=[protocol], timeout=10)
    try:
        assert ws.getsubprotocol() == protocol
        chunks = []
        while True:
            opcode, data = ws.recv_data()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                break
            assert opcode == (websocket.ABNF.OPCODE_TEXT if protocol.startswith("base64") else
                              websocket.ABNF.OPCODE_BINARY)
            chunks.append(base64.b64decode(data) if protocol.startswith("base64") else data)
    finally:
        ws.close()
    text = b"".join(chunks).decode()
    assert text.startswith("started\ntick 0\n")


def test_pod_proxy_without_a_port_uses_the_first_container_port(kc, web):
    """pods/NAME/proxy/ with no port dials the first port a container declares, as upstream."""
    assert "Directory listing" in kc("get", "--raw", "/api/v1/namespaces/default/pods/web/proxy/").stdout


@pytest.mark.parametrize("path", ["/api/v1/namespaces/default/pods/web/proxy/",
                                  "/api/v1/namespaces/default/services/web:80/proxy/"])
def test_proxy_relays_options(cluster, web, path):
    """OPTIONS reaches the backend like any method (this one, Python's http.server, answers 501 to it)."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", cluster[0].port, timeout=10)
    conn.request("OPTIONS", path)
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    assert response.status == 501 and "Unsupported method ('OPTIONS')" in body


@pytest.mark.parametrize("path", ["/api/v1/namespaces/default/pods/web/proxy",
                                  "/api/v1/namespaces/default/services/web:80/proxy", "/api/v1/nodes/node-1/proxy"])
def test_proxy_without_a_trailing_slash_redirects(cluster, web, path):
    """A GET of .../proxy with nothing after it is 301 to .../proxy/, its query kept, as upstream."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", cluster[0].port, timeout=10)
    conn.request("GET", path + "?method=GET")
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.status == 301 and response.getheader("Location") == path + "/?method=GET"


def test_proxy_to_pod_service_and_node(kc, web):
    """pods/proxy, services/proxy and nodes/proxy relay HTTP to the pod and the kubelet."""
    assert "Directory listing" in kc("get", "--raw", f"/api/v1/namespaces/default/pods/web:{web}/proxy/").stdout
    assert "Directory listing" in kc("get", "--raw", "/api/v1/namespaces/default/services/web:80/proxy/").stdout
    assert kc("get", "--raw", "/api/v1/nodes/node-1/proxy/healthz").stdout == "ok"


def test_python_client_exec_and_port_forward(cluster, ticker, web):
    """The Python client's stream (v5/v4 channels) runs commands with return codes, and its port-forward
    (v4, a channel pair per port) reaches the pod."""
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.stream import portforward, stream
    configuration = kubernetes.client.Configuration()
    configuration.host = cluster[0].url
    with kubernetes.client.ApiClient(configuration) as client:
        api = kubernetes.client.CoreV1Api(client)
        resp = stream(api.connect_get_namespaced_pod_exec, "ticker", "default",
                      command=["sh", "-c", "read x; echo got $x; exit 2"], stdin=True, stdout=True,
                      stderr=True, tty=False, _preload_content=False)
        resp.write_stdin("it\n")
        resp.run_forever(timeout=10)
        assert resp.read_stdout() == "got it\n"
        assert resp.returncode == 2
        assert stream(api.connect_get_namespaced_pod_exec, "ticker", "default", command=["tty"],
                      stdin=False, stdout=True, stderr=True, tty=True).startswith("/dev/pts/")
        forward = portforward(api.connect_get_namespaced_pod_portforward, "web", "default", ports=str(web))
        sock = forward.socket(web)
        sock.setblocking(True)
        sock.sendall(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        sock.close()
        forward.close()
    assert data.startswith(b"HTTP/1.0 200")


def test_completed_pod_and_restart_policy(kc):
    """A pod whose command exits 0 with restartPolicy Never becomes Succeeded with exit code 0; a failing
    one Failed with its exit code."""
    kc("run", "once", "--image=busybox", "--restart=Never", "--", "sh", "-c", "echo bye")
    kc("run", "fails", "--image=busybox", "--restart=Never", "--", "sh", "-c", "exit 7")
    once = _wait(lambda: (lambda p: p if p["status"].get("phase") == "Succeeded" else None)(
        kc.json("get", "pod", "once")), what="once Succeeded")
    assert once["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    assert kc("logs", "once").stdout == "bye\n"
    fails = _wait(lambda: (lambda p: p if p["status"].get("phase") == "Failed" else None)(
        kc.json("get", "pod", "fails")), what="fails Failed")
    assert fails["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 7


def test_delete_stops_the_process(kc, tmp_path):
    """Deleting a pod sends SIGTERM to its process, and the pod is gone once it has exited."""
    marker = tmp_path / "terminated"
    kc("run", "trap", "--image=busybox", "--", "sh", "-c",
       f"trap 'echo term > {marker}; exit 0' TERM; while true; do sleep 0.1; done")
    _running(kc, "trap")
    kc("delete", "pod", "trap", "--wait=true", timeout=30)
    assert marker.read_text() == "term\n"


def test_configmap_downward_api_volumes_and_env(kc):
    """configMap and downwardAPI volumes are materialized for the pod, and configMapKeyRef env is resolved."""
    kc("create", "configmap", "greetings", "--from-literal=greeting=hello")
    manifest = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "vols", "labels": {"a": "b"}},
        "spec": {"containers": [{
            "name": "c", "image": "busybox",
            "command": ["sh", "-c", "cat $KUBE_VOLUMES_DIR/cfg/greeting; echo; cat $KUBE_VOLUMES_DIR/info/name;"
                        " echo; echo $GREETING; sleep 3600"],
            "env": [{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "greetings", "key": "greeting"}}}]}],
            "volumes": [{"name": "cfg", "configMap": {"name": "greetings"}},
                        {"name": "info", "downwardAPI": {"items": [
                            {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}}]}}
    kc("apply", "-f", "-", input=json.dumps(manifest))
    _running(kc, "vols")
    _wait(lambda: kc("logs", "vols").stdout == "hello\nvols\nhello\n", what="volume contents in the log")


def test_crashing_container_restarts_and_keeps_previous_logs(kc):
    """restartPolicy Always restarts a failing container at once the first time, then waits in CrashLoopBackOff
    (upstream's message, a BackOff event); `logs --previous` shows the last run."""
    kc("run", "crash", "--image=busybox", "--", "sh", "-c", "echo run $(date +%N); exit 1")

    def backing_off():
        pod = kc.json("get", "pod", "crash")
        status = (pod["status"].get("containerStatuses") or [{}])[0]
        return pod if (status.get("state") or {}).get("waiting", {}).get("reason") == "CrashLoopBackOff" else None
    pod = _wait(backing_off, what="CrashLoopBackOff")
    status = pod["status"]["containerStatuses"][0]
    assert status["restartCount"] >= 1 and status["lastState"]["terminated"]["exitCode"] == 1
    assert status["state"]["waiting"]["message"].startswith("back-off 10s restarting failed container=crash pod=crash_")
    assert pod["status"]["phase"] == "Running"
    previous = kc("logs", "crash", "--previous").stdout
    assert previous.startswith("run ")
    events = _wait(lambda: [e for e in kc.json("get", "events", "--field-selector",
                                               "involvedObject.name=crash")["items"] if e["reason"] == "BackOff"],
                   what="BackOff event")
    assert events[0]["message"].startswith("Back-off restarting failed container crash in pod crash_")
    assert events[0]["source"] == {"component": "kubelet", "host": "node-1"}
    assert events[0]["involvedObject"]["fieldPath"] == "spec.containers{crash}"


def test_init_sidecar_probes_hooks_and_events_as_a_kubelet(kc, tmp_path):
    """An init container runs first, then a sidecar, then the app with its postStart hook; the app's readiness
    httpGet probe makes the pod Ready; `kubectl describe`'s events are the kubelet's; deleting the pod runs the
    preStop hook before the app stops."""
    trace, port = tmp_path / "trace", free_port()

    def step(word, then=""):
        return ["sh", "-c", f"echo {word} >> {trace}{'; ' + then if then else ''}"]
    manifest = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "lifecycle"},
        "spec": {"terminationGracePeriodSeconds": 10,
                 "initContainers": [
                     {"name": "setup", "image": "busybox", "command": step("setup")},
                     {"name": "side", "image": "busybox", "restartPolicy": "Always",
                      "command": step("side", "exec sleep 3600")}],
                 "containers": [{
                     "name": "app", "image": "python",
                     "command": step("app", f"exec {sys.executable} -m http.server {port} --bind 127.0.0.1"),
                     "readinessProbe": {"httpGet": {"path": "/", "port": port}, "periodSeconds": 1},
                     "lifecycle": {"postStart": {"exec": {"command": step("postStart")}},
                                   "preStop": {"exec": {"command": step("preStop")}}}}]}}
    kc("apply", "-f", "-", input=json.dumps(manifest))

    def ready():
        pod = kc.json("get", "pod", "lifecycle")
        conditions = {c["type"]: c["status"] for c in pod["status"].get("conditions") or []}
        return pod if conditions.get("Ready") == "True" else None
    pod = _wait(ready, timeout=30, what="pod Ready")
    assert [s["name"] for s in pod["status"]["initContainerStatuses"]] == ["setup", "side"]
    assert pod["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert pod["status"]["initContainerStatuses"][1]["started"] is True
    lines = trace.read_text().split()
    # The sidecar counts as started once its process runs (no startupProbe), so its output may follow the app's.
    assert lines[0] == "setup" and sorted(lines[1:]) == ["app", "postStart", "side"]

    def events():
        items = kc.json("get", "events", "--field-selector", "involvedObject.name=lifecycle")["items"]
        seen = {(e["reason"], e["message"]) for e in items if e["source"].get("component") == "kubelet"}
        return seen if ("Started", "Started container app") in seen else None
    seen = _wait(events, what="kubelet events")
    assert {("Pulled", 'Container image "busybox" already present on machine'),
            ("Created", "Created container setup"), ("Started", "Started container side")} <= seen
    kc("delete", "pod", "lifecycle", "--wait=true", timeout=60)
    assert trace.read_text().split()[-1] == "preStop"


def test_debug_adds_an_ephemeral_container_and_attaches(kc, ticker):
    """`kubectl debug -i` adds an ephemeral container to a running pod; it runs, kubectl attaches to it, and its
    status is reported in ephemeralContainerStatuses."""
    result = kc("debug", "ticker", "-i", "--image=busybox", "--container=dbg", "--", "sh", "-c",
                "read x; echo debugged $x", input="hello\n", timeout=60)
    assert "debugged hello" in result.stdout
    statuses = _wait(lambda: [s for s in kc.json("get", "pod", "ticker")["status"].get("ephemeralContainerStatuses")
                              or [] if "terminated" in s["state"]], what="ephemeral container status")
    assert statuses[0]["name"] == "dbg" and statuses[0]["state"]["terminated"]["exitCode"] == 0


def test_run_interactive_attaches_stdin_and_output(kc):
    """`kubectl run -i --rm` attaches to the container: its stdin gets our input, its output comes back."""
    result = kc("run", "-i", "--rm", "--restart=Never", "interactive", "--image=busybox", "--",
                "sh", "-c", "read x; echo got $x", input="hello\n", timeout=60)
    assert "got hello" in result.stdout


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare")
def test_volumes_at_their_mount_paths_in_a_private_mount_namespace(kc, tmp_path):
    """As root, volumes are bind-mounted at their mountPath for the container and for exec, readOnly
    is enforced, and the host does not see them (paths the agent created are removed with the pod)."""
    target = f"/tmp/kap-mount-{os.getpid()}/config"
    kc("create", "configmap", "mounted", "--from-literal=key=value")
    manifest = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "mounted"},
        "spec": {"containers": [{"name": "c", "image": "busybox",
                                 "command": ["sh", "-c", f"cat {target}/key; echo; sleep 3600"],
                                 "volumeMounts": [{"name": "cfg", "mountPath": target, "readOnly": True}]}],
                 "volumes": [{"name": "cfg", "configMap": {"name": "mounted"}}]}}
    kc("apply", "-f", "-", input=json.dumps(manifest))
    _running(kc, "mounted")
    _wait(lambda: kc("logs", "mounted").stdout == "value\n", what="mounted volume in the log")
    assert kc("exec", "mounted", "--", "cat", f"{target}/key").stdout == "value"
    assert kc("exec", "mounted", "--", "touch", f"{target}/x", check=False).returncode != 0
    assert os.listdir(target) == []
    kc("delete", "pod", "mounted", "--wait=true", timeout=30)
    assert not os.path.exists(os.path.dirname(target))

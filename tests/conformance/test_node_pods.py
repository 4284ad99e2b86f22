"""The [sig-node] conformance entries that a node of host processes can satisfy, each test named after its
entry (test/e2e/common/node/*.go in kubernetes/kubernetes), against one apiserver process and one kube-node
process (`python -m kapiserver.node --schedule`) for the module.

How these differ from upstream's e2e tests, and why:
- An image cannot be pulled here: a container's command runs on the host, so every container is given one
  (busybox's `sh -c ...` runs the host's sh; agnhost's web servers are small Python servers run by the host's
  python, answering as agnhost's `liveness`/`test-webserver` do).
- Every pod shares the host's network: ports are free ports rather than 8080/80, and pod IPs are the node's.
- Files a pod writes for itself (upstream's /tmp/health, the restart-count emptyDir) are in its working
  directory, which is its own, rather than in /tmp, which host processes share.
- Upstream's waits are shortened: probes run every second after a 1-3 s initial delay (upstream: 15 s and
  10 s periods), "is never restarted / never ready" is watched for a few seconds (upstream: 1-4 minutes).
  The crash-loop back-off is upstream's (10 s doubling), so the entries that need several restarts run in
  pods created when the module starts (`background`), and are checked by the last tests of the module.

The entries left out, and why, are listed in docs/node.md ("Conformance").
"""

from __future__ import annotations

import re
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

import pytest

from tests.conformance.support import MERGE, STRATEGIC, Watch, ok, unique, wait_for
from tests.e2e.conftest import free_port
from tests.e2e.test_streams import NodeProcess

NODE = "conformance-node"

# agnhost's `liveness` server (/healthz answers 200 for its first seconds, then 500) and its test web server
# (200 everywhere): argv port, seconds healthy.
WEB_SERVER = r"""
import http.server, sys, time
start, port, healthy = time.monotonic(), int(sys.argv[1]), float(sys.argv[2])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        good = self.path != "/healthz" or time.monotonic() - start < healthy
        self.send_response(200 if good else 500)
        self.end_headers()
        self.wfile.write(b"ok" if good else b"failing")
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


def web_server(port: int, healthy: float = 1e9) -> list:
    return [sys.executable, "-c", WEB_SERVER, str(port), str(healthy)]


def closed_port() -> int:
    """A port nothing listens on."""
    return free_port()


@pytest.fixture(scope="module")
def node(apiserver, tmp_path_factory):
    process = NodeProcess(apiserver, tmp_path_factory.mktemp("node"), name=NODE)
    process.start()
    wait_for(lambda: any(c["type"] == "Ready" and c["status"] == "True" for c in
                         ok(apiserver.request("GET", f"/api/v1/nodes/{NODE}"))["status"].get("conditions", [])),
             what="node Ready")
    yield process
    process.stop()


class Pods:
    """A namespace's pods through the apiserver's REST API."""

    def __init__(self, server, namespace: str):
        self.server, self.namespace = server, namespace
        self.path = f"/api/v1/namespaces/{namespace}/pods"

    def create(self, name, containers, labels=None, **spec) -> dict:
        spec.setdefault("terminationGracePeriodSeconds", 2)
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
                "spec": {"containers": containers, **spec}}
        return ok(self.server.request("POST", self.path, body))

    def get(self, name) -> dict:
        return ok(self.server.request("GET", f"{self.path}/{name}"))

    def wait(self, name, check, timeout=30.0, what=None) -> dict:
        """The pod once ``check(pod)`` holds."""
        def current():
            pod = self.get(name)
            return pod if check(pod) else None
        return wait_for(current, timeout=timeout, interval=0.1, what=what or f"pod {name}")

    def phase(self, name, phase, timeout=30.0) -> dict:
        return self.wait(name, lambda p: (p.get("status") or {}).get("phase") == phase, timeout,
                         f"pod {name} {phase}")

    def ready(self, name, timeout=30.0) -> dict:
        return self.wait(name, is_ready, timeout, f"pod {name} Ready")

    def log(self, name, container=None) -> str:
        """The container's log; "" while there is none yet (400 before the container ran, 404 while the node
        has yet to take the pod on, as upstream's e2e framework retries both)."""
        query = f"?container={container}" if container else ""
        try:
            with urllib.request.urlopen(f"{self.server.url}{self.path}/{name}/log{query}", timeout=10) as response:
                return response.read().decode()
        except urllib.error.HTTPError as e:
            if e.code in (400, 404):
                return ""
            raise

    def output(self, name, container=None, phase="Succeeded") -> str:
        """The log of a run-once pod, once it reached ``phase``."""
        self.phase(name, phase)
        return self.log(name, container)

    def delete(self, name, grace=None):
        body = None if grace is None else {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": grace}
        return ok(self.server.request("DELETE", f"{self.path}/{name}", body), 200, 202)

    def gone(self, name, timeout=30.0):
        wait_for(lambda: self.server.request("GET", f"{self.path}/{name}")[0] == 404, timeout=timeout,
                 what=f"pod {name} deleted")


def condition(pod, kind) -> dict:
    return next((c for c in (pod.get("status") or {}).get("conditions") or [] if c["type"] == kind), {})


def is_ready(pod) -> bool:
    return condition(pod, "Ready").get("status") == "True"


def container_status(pod, name=None, kind="containerStatuses") -> dict:
    statuses = (pod.get("status") or {}).get(kind) or []
    return next((s for s in statuses if name is None or s["name"] == name), {})


def restarts(pod, name=None) -> int:
    return container_status(pod, name).get("restartCount", 0)


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def sh(script: str, name="c", **extra) -> dict:
    return {"name": name, "image": "busybox", "command": ["sh", "-c", script], **extra}


@pytest.fixture
def pods(apiserver, node, namespace):
    return Pods(apiserver, namespace)


# -- Pods started when the module starts: the entries that wait for restarts or watch for a while -------------
RESTART_SCRIPT = """f=restartCount
count=$(echo 'hello' >> $f ; wc -l < $f)
if [ $count -eq 1 ]; then
    exit 1
fi
if [ $count -eq 2 ]; then
    exit 0
fi
while true; do sleep 1; done
"""


@pytest.fixture(scope="module")
def background(apiserver, node):
    """A namespace of pods created before the first test, so that their back-offs and observation windows
    overlap the other tests. Each entry is checked by its test at the end of the module."""
    namespace = unique("node-bg")
    ok(apiserver.request("POST", "/api/v1/namespaces",
                         {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}))
    wait_for(lambda: apiserver.request("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/default")[0] == 200)
    p = Pods(apiserver, namespace)
    watch = Watch(apiserver, f"{p.path}?watch=true&fieldSelector=metadata.name%3Dinit-fails-always", timeout=60)
    ports = {}

    def probe(handler, delay=1, **more):
        return {**handler, "initialDelaySeconds": delay, "periodSeconds": 1, **more}

    # Container Runtime, Restart Policy, Pod Phases: fails once, succeeds once, then runs.
    for name, policy in (("terminate-cmd-rpa", "Always"), ("terminate-cmd-rpof", "OnFailure"),
                         ("terminate-cmd-rpn", "Never")):
        p.create(name, [sh(RESTART_SCRIPT, name=name)], restartPolicy=policy)
    # init-container-fails-stops-app-restartalways-pod
    p.create("init-fails-always", [{"name": "run1", "image": "registry.k8s.io/pause:3.10", "command": ["sleep", "600"],
                                    "resources": {"limits": {"cpu": "100m"}}}],
             initContainers=[{"name": "init1", "image": "busybox", "command": ["/bin/false"]},
                             {"name": "init2", "image": "busybox", "command": ["/bin/true"]}])
    # Probes. Upstream: initialDelaySeconds 15 (60 for gRPC), periodSeconds 10; here 1-3 s and 1 s.
    p.create("liveness-exec-restart", [sh("echo ok > health; sleep 2; rm -f health; sleep 600", livenessProbe=probe(
        {"exec": {"command": ["cat", "health"]}}, timeoutSeconds=5, failureThreshold=1))])
    # The no-restart cases allow a few failed probes: all these containers start at once, and on a loaded
    # machine a shell or a Python web server may take more than the initial delay to be up.
    p.create("liveness-exec-ok", [sh("echo ok > health; sleep 600", livenessProbe=probe(
        {"exec": {"command": ["cat", "health"]}}, timeoutSeconds=5, failureThreshold=3))])
    ports["http-restart"] = free_port()
    p.create("liveness-http-restart", [{"name": "agnhost-container", "image": "agnhost", "command": web_server(
        ports["http-restart"], healthy=3), "livenessProbe": probe(
        {"httpGet": {"path": "/healthz", "port": ports["http-restart"]}}, delay=2, failureThreshold=1)}])
    ports["tcp-ok"] = free_port()
    p.create("liveness-tcp-ok", [{"name": "agnhost-container", "image": "agnhost", "command": web_server(
        ports["tcp-ok"], healthy=3), "livenessProbe": probe({"tcpSocket": {"port": ports["tcp-ok"]}}, delay=2,
                                                            timeoutSeconds=5, failureThreshold=3)}])
    ports["http-ok"] = free_port()
    p.create("liveness-http-ok", [{"name": "test-webserver", "image": "httpd", "command": web_server(ports["http-ok"]),
                                   "livenessProbe": probe({"httpGet": {"path": "/", "port": ports["http-ok"]}},
                                                          delay=2, timeoutSeconds=5, failureThreshold=5)}])
    p.create("liveness-grpc-restart", [{"name": "agnhost-container", "image": "agnhost", "command": ["sleep", "600"],
                                        "livenessProbe": probe({"grpc": {"port": closed_port()}}, delay=2,
                                                               timeoutSeconds=5, failureThreshold=1)}])
    ports["ready-delay"] = free_port()
    p.create("readiness-delay", [{"name": "test-webserver", "image": "httpd", "command": web_server(
        ports["ready-delay"]), "readinessProbe": probe({"httpGet": {"path": "/", "port": ports["ready-delay"]}},
                                                       delay=3)}])
    p.create("readiness-fails", [{"name": "test-webserver", "image": "httpd", "command": web_server(free_port()),
                                  "readinessProbe": probe({"httpGet": {"path": "/", "port": closed_port()}})}])
    yield p, watch
    watch.close()
    apiserver.request("DELETE", f"/api/v1/namespaces/{namespace}")


@pytest.fixture(scope="module", autouse=True)
def _start_background(background):
    """Starts the background pods with the module's first test."""


# -- Pod Lifecycle: hooks (lifecycle_hook.go) --------------------------------------------------------------
@pytest.fixture
def hook_handler(pods):
    """Upstream's pod-handle-http-request: a server whose log shows each request it gets (Python's
    http.server logs "GET /echo?msg=... HTTP/1.1")."""
    port = free_port()
    pods.create("pod-handle-http-request", [{"name": "container-handle-http-request", "image": "agnhost",
                                             "command": [sys.executable, "-m", "http.server", str(port),
                                                         "--bind", "127.0.0.1"]}])
    pods.phase("pod-handle-http-request", "Running")
    wait_for(lambda: _connectable(port), what="hook handler listening")
    return port


def _connectable(port) -> bool:
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def run_pod_with_hook(pods, name, lifecycle, message):
    """Upstream's testPodWithHook: the pod runs (its postStart hook reached the handler), is deleted with a
    15 s grace period, and its preStop hook reached the handler. (Upstream's http hooks go through a sidecar
    relaying to the handler pod; pods here share the host's network, so the hook asks the handler itself.)"""
    pods.create(name, [{"name": name, "image": "registry.k8s.io/pause:3.10", "command": ["sleep", "600"],
                        "lifecycle": lifecycle}])
    pods.phase(name, "Running")
    if "postStart" in lifecycle:
        wait_for(lambda: f"GET /echo?msg={message}" in pods.log("pod-handle-http-request"), what="postStart hook")
    pods.delete(name, grace=15)
    pods.gone(name)
    if "preStop" in lifecycle:
        wait_for(lambda: f"GET /echo?msg={message}" in pods.log("pod-handle-http-request"), what="preStop hook")


def test_pod_lifecycle_post_start_exec_hook(pods, hook_handler):
    """Pod Lifecycle, post start exec hook."""
    run_pod_with_hook(pods, "pod-with-poststart-exec-hook", {"postStart": {"exec": {"command": [
        "sh", "-c", f"curl http://127.0.0.1:{hook_handler}/echo?msg=poststart"]}}}, "poststart")


def test_pod_lifecycle_prestop_exec_hook(pods, hook_handler):
    """Pod Lifecycle, prestop exec hook."""
    run_pod_with_hook(pods, "pod-with-prestop-exec-hook", {"preStop": {"exec": {"command": [
        "sh", "-c", f"curl http://127.0.0.1:{hook_handler}/echo?msg=prestop"]}}}, "prestop")


def test_pod_lifecycle_post_start_http_hook(pods, hook_handler):
    """Pod Lifecycle, post start http hook."""
    run_pod_with_hook(pods, "pod-with-poststart-http-hook", {"postStart": {"httpGet": {
        "path": "/echo?msg=poststart", "port": hook_handler}}}, "poststart")


def test_pod_lifecycle_prestop_http_hook(pods, hook_handler):
    """Pod Lifecycle, prestop http hook."""
    run_pod_with_hook(pods, "pod-with-prestop-http-hook", {"preStop": {"httpGet": {
        "path": "/echo?msg=prestop", "port": hook_handler}}}, "prestop")


# -- Container Runtime: termination messages (runtime.go) --------------------------------------------------
def termination_message(pods, args, policy, phase):
    """Upstream's matchTerminationMessage: a restartPolicy Never pod reaches ``phase``, its container is
    terminated, and the message of that state is returned."""
    pods.create("termination-message", [{"name": "termination-message-container", "image": "busybox",
                                         "command": ["/bin/sh", "-c"], "args": [args],
                                         "terminationMessagePath": "/dev/termination-log",
                                         "terminationMessagePolicy": policy}], restartPolicy="Never")
    pod = pods.phase("termination-message", phase)
    state = container_status(pod)["state"]
    assert "terminated" in state, state
    pods.delete("termination-message")
    return state["terminated"].get("message", "")


def test_container_runtime_termination_message_from_log_output_of_succeeding_container(pods):
    """Container Runtime, TerminationMessage, from log output of succeeding container: empty, as the
    container succeeded."""
    assert termination_message(pods, "/bin/echo -n DONE; /bin/true", "FallbackToLogsOnError", "Succeeded") == ""


def test_container_runtime_termination_message_from_file_of_succeeding_container(pods):
    """Container Runtime, TerminationMessage, from file of succeeding container."""
    assert termination_message(pods, "/bin/echo -n OK > /dev/termination-log; /bin/echo DONE; /bin/true",
                               "FallbackToLogsOnError", "Succeeded") == "OK"


def test_container_runtime_termination_message_from_log_output_of_failing_container(pods):
    """Container Runtime, TerminationMessage, from container's log output of failing container."""
    assert termination_message(pods, "/bin/echo -n DONE; /bin/false", "FallbackToLogsOnError", "Failed") == "DONE"


# -- Environment (downwardapi.go, expansion.go, configmap.go, secrets.go) -----------------------------------
def env_output(pods, env=None, env_from=None, command=None, args=None, name="dapi-test-pod") -> str:
    container = {"name": "dapi-container", "image": "busybox", "command": command or ["sh", "-c", "env"]}
    if args:
        container["args"] = args
    if env:
        container["env"] = env
    if env_from:
        container["envFrom"] = env_from
    pods.create(name, [container], restartPolicy="Never")
    return pods.output(name)


def field(name, path):
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


IP = r"(?:\d+)\.(?:\d+)\.(?:\d+)\.(?:\d+)"


def test_downward_api_environment_for_name_namespace_and_ip(pods):
    """DownwardAPI, environment for name, namespace and ip."""
    out = env_output(pods, [field("POD_NAME", "metadata.name"), field("POD_NAMESPACE", "metadata.namespace"),
                            field("POD_IP", "status.podIP")])
    assert "POD_NAME=dapi-test-pod\n" in out and f"POD_NAMESPACE={pods.namespace}\n" in out
    assert re.search(f"^POD_IP={IP}$", out, re.M), out


def test_downward_api_environment_for_host_ip(pods):
    """DownwardAPI, environment for host ip."""
    assert re.search(f"^HOST_IP={IP}$", env_output(pods, [field("HOST_IP", "status.hostIP")]), re.M)


def test_downward_api_environment_for_pod_uid(pods):
    """DownwardAPI, environment for Pod UID."""
    out = env_output(pods, [field("POD_UID", "metadata.uid")])
    uid = pods.get("dapi-test-pod")["metadata"]["uid"]
    assert re.search("^POD_UID=[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}$", out, re.M), out
    assert f"POD_UID={uid}\n" in out


def test_environment_variables_expansion(pods):
    """Environment variables, expansion: $(FOO) and $(BAR) compose FOOBAR."""
    out = env_output(pods, [{"name": "FOO", "value": "foo-value"}, {"name": "BAR", "value": "bar-value"},
                            {"name": "FOOBAR", "value": "$(FOO);;$(BAR)"}])
    assert "FOO=foo-value\n" in out and "BAR=bar-value\n" in out and "FOOBAR=foo-value;;bar-value\n" in out


def test_environment_variables_command_expansion(pods):
    """Environment variables, command expansion: $(TEST_VAR) in the command is the variable's value."""
    out = env_output(pods, [{"name": "TEST_VAR", "value": "test-value"}],
                     command=["sh", "-c", 'TEST_VAR=wrong echo "$(TEST_VAR)"'])
    assert out == "test-value\n"


def test_environment_variables_command_argument_expansion(pods):
    """Environment variables, command argument expansion: $(TEST_VAR) in args is the variable's value."""
    out = env_output(pods, [{"name": "TEST_VAR", "value": "test-value"}], command=["sh", "-c"],
                     args=['TEST_VAR=wrong echo "$(TEST_VAR)"'])
    assert out == "test-value\n"


def make(pods, kind, name, data):
    import base64
    body = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "data": data}
    if kind == "Secret":
        body["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    resource = "secrets" if kind == "Secret" else "configmaps"
    ok(pods.server.request("POST", f"/api/v1/namespaces/{pods.namespace}/{resource}", body))


# Upstream runs `sh -c env` in busybox, whose sh passes on variables named like data-1; the host's sh may be
# dash, which drops them, so these run `env` itself.
ENV_DIRECT = ["env"]


def test_configmap_from_environment_field(pods):
    """ConfigMap, from environment field."""
    make(pods, "ConfigMap", "configmap-test", {"data-1": "value-1", "data-2": "value-2", "data-3": "value-3"})
    out = env_output(pods, [{"name": "CONFIG_DATA_1", "valueFrom": {
        "configMapKeyRef": {"name": "configmap-test", "key": "data-1"}}}])
    assert "CONFIG_DATA_1=value-1\n" in out


def test_configmap_from_environment_variables(pods):
    """ConfigMap, from environment variables: envFrom, as is and with a prefix."""
    make(pods, "ConfigMap", "configmap-test", {"data-1": "value-1", "data-2": "value-2", "data-3": "value-3"})
    out = env_output(pods, env_from=[{"configMapRef": {"name": "configmap-test"}},
                                     {"prefix": "p-", "configMapRef": {"name": "configmap-test"}}],
                     command=ENV_DIRECT)
    for line in ("data-1=value-1", "data-2=value-2", "data-3=value-3",
                 "p-data-1=value-1", "p-data-2=value-2", "p-data-3=value-3"):
        assert line + "\n" in out, out


def test_secrets_pod_environment_field(pods):
    """Secrets, pod environment field."""
    make(pods, "Secret", "secret-test", {"data-1": "value-1", "data-2": "value-2", "data-3": "value-3"})
    out = env_output(pods, [{"name": "SECRET_DATA", "valueFrom": {
        "secretKeyRef": {"name": "secret-test", "key": "data-1"}}}])
    assert "SECRET_DATA=value-1\n" in out


def test_secrets_pod_environment_from_source(pods):
    """Secrets, pod environment from source: envFrom, as is and with a prefix."""
    make(pods, "Secret", "secret-test", {"data-1": "value-1", "data-2": "value-2", "data-3": "value-3"})
    out = env_output(pods, env_from=[{"secretRef": {"name": "secret-test"}},
                                     {"prefix": "p-", "secretRef": {"name": "secret-test"}}],
                     command=ENV_DIRECT)
    for line in ("data-1=value-1", "data-2=value-2", "data-3=value-3",
                 "p-data-1=value-1", "p-data-2=value-2", "p-data-3=value-3"):
        assert line + "\n" in out, out


# -- Kubelet (kubelet.go) ----------------------------------------------------------------------------------
def test_kubelet_log_output_default(pods):
    """Kubelet, log output, default: what the command prints is the container's log."""
    name = unique("busybox-scheduling")
    pods.create(name, [sh("echo 'Hello World' ; sleep 240", name=name)])
    wait_for(lambda: pods.log(name) == "Hello World\n", what="Hello World in the log")


def test_kubelet_failed_pod_terminated_reason(pods):
    """Kubelet, failed pod, terminated reason: /bin/false's container is terminated with a reason."""
    name = unique("bin-false")
    pods.create(name, [{"name": name, "image": "busybox", "command": ["/bin/false"]}], restartPolicy="Never")
    pod = pods.wait(name, lambda p: "terminated" in (container_status(p).get("state") or {}))
    terminated = container_status(pod)["state"]["terminated"]
    assert terminated["reason"] == "Error" and terminated["exitCode"] == 1


def test_kubelet_failed_pod_delete(pods):
    """Kubelet, failed pod, delete: a pod whose command always fails can be deleted."""
    name = unique("bin-false")
    pods.create(name, [{"name": name, "image": "busybox", "command": ["/bin/false"]}], restartPolicy="Never")
    pods.phase(name, "Failed")
    pods.delete(name)
    pods.gone(name)


# -- init containers (init_container.go) -------------------------------------------------------------------
def init_invariants(pod):
    """Upstream's initContainersInvariants: until every init container succeeded, the app containers wait
    with reason PodInitializing and no restart; Initialized is never Unknown and agrees with the init
    containers; an init container after one not yet done is waiting."""
    statuses = (pod.get("status") or {}).get("initContainerStatuses") or []
    all_done, failed = True, False
    for s in statuses:
        state = s.get("state") or {}
        if (failed or not all_done) and "waiting" not in state:
            raise AssertionError(f"{s['name']} runs after an init container not done: {s}")
        if "terminated" not in state:
            all_done = False
        elif state["terminated"]["exitCode"] != 0:
            all_done, failed = False, True
        else:
            assert s["ready"], s
    if statuses and (not all_done or failed):
        for s in (pod.get("status") or {}).get("containerStatuses") or []:
            assert s["restartCount"] == 0 and (s["state"].get("waiting") or {}).get("reason") == "PodInitializing", s
    initialized = condition(pod, "Initialized")
    if statuses:
        assert initialized and initialized.get("lastTransitionTime"), pod["status"]
        assert initialized["status"] == ("True" if all_done and not failed else "False"), pod["status"]


def watch_pod_until(watch, check):
    """Each event's pod passes the invariants; the pod once ``check`` holds."""
    while True:
        event = watch.next()
        assert event["type"] in ("ADDED", "MODIFIED"), event
        pod = event["object"]
        init_invariants(pod)
        if check(pod):
            return pod


def init_pod(pods, name, init_commands, policy, main=None):
    watch = Watch(pods.server, f"{pods.path}?watch=true&fieldSelector=metadata.name%3D{name}", timeout=30)
    pods.create(name, [main or {"name": "run1", "image": "busybox", "command": ["/bin/true"]}],
                labels={"name": "foo", "time": str(time.time_ns())}, restartPolicy=policy,
                initContainers=[{"name": f"init{i + 1}", "image": "busybox", "command": command}
                                for i, command in enumerate(init_commands)])
    return watch


def test_init_container_starts_app_restartnever_pod(pods):
    """init-container-starts-app-restartnever-pod: both init containers succeed (ready, exit 0), then the
    app container runs; the pod Succeeds, Initialized."""
    with init_pod(pods, "pod-init-never", [["/bin/true"], ["/bin/true"]], "Never") as watch:
        pod = watch_pod_until(watch, lambda p: p["status"].get("phase") in ("Succeeded", "Failed"))
    assert pod["status"]["phase"] == "Succeeded" and condition(pod, "Initialized")["status"] == "True"
    statuses = pod["status"]["initContainerStatuses"]
    assert len(statuses) == 2 and all(s["ready"] and s["state"]["terminated"]["exitCode"] == 0 for s in statuses)


def test_init_container_starts_app_restartalways_pod(pods):
    """init-container-starts-app-restartalways-pod: both init containers succeed, then the app container
    runs; the pod is Running, Initialized."""
    run1 = {"name": "run1", "image": "registry.k8s.io/pause:3.10", "command": ["sleep", "600"],
            "resources": {"limits": {"cpu": "100m"}}}
    with init_pod(pods, "pod-init-always", [["/bin/true"], ["/bin/true"]], "Always", run1) as watch:
        pod = watch_pod_until(watch, lambda p: p["status"].get("phase") == "Running")
    assert condition(pod, "Initialized")["status"] == "True"
    statuses = pod["status"]["initContainerStatuses"]
    assert len(statuses) == 2 and all(s["ready"] and s["state"]["terminated"]["exitCode"] == 0 for s in statuses)


def test_init_container_fails_stops_app_restartnever_pod(pods):
    """init-container-fails-stops-app-restartnever-pod: init1 succeeds, init2 fails; init3 and the app
    container never start, the pod Fails with Initialized False (ContainersNotInitialized)."""
    run1 = {"name": "run1", "image": "busybox", "command": ["/bin/true"]}
    with init_pod(pods, "pod-init-fails-never", [["/bin/true"], ["/bin/false"], ["/bin/true"]], "Never",
                  run1) as watch:
        pod = watch_pod_until(watch, lambda p: p["status"].get("phase") in ("Succeeded", "Failed"))
    assert pod["status"]["phase"] == "Failed"
    initialized = condition(pod, "Initialized")
    assert initialized["status"] == "False" and initialized["reason"] == "ContainersNotInitialized"
    assert initialized["message"] == "containers with incomplete status: [init2 init3]"
    init1, init2, init3 = pod["status"]["initContainerStatuses"]
    assert init1["state"]["terminated"]["exitCode"] == 0
    assert init2["state"]["terminated"]["exitCode"] != 0
    assert "waiting" in init3["state"]
    assert container_status(pod, "run1")["state"]["waiting"]["reason"] == "PodInitializing"


# -- Pods (pods.go) ----------------------------------------------------------------------------------------
def test_pods_assigned_hostip(pods):
    """Pods, assigned hostip: a running pod has its node's address as hostIP."""
    pods.create("pod-hostip", [sh("sleep 600", name="test")])
    pod = pods.wait("pod-hostip", lambda p: (p.get("status") or {}).get("hostIP"))
    assert re.fullmatch(IP, pod["status"]["hostIP"])


def test_pods_lifecycle(pods):
    """Pods, lifecycle: a created pod is seen by a watch, runs, is deleted gracefully (30 s), and the watch
    sees it DELETED with its deletionTimestamp and a non-zero grace period; no pod is left."""
    value = str(time.time_ns())
    with Watch(pods.server, f"{pods.path}?watch=true&labelSelector=time%3D{value}") as watch:
        pods.create("pod-submit-remove", [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                                           "command": ["sleep", "600"]}], labels={"name": "foo", "time": value},
                    terminationGracePeriodSeconds=30)
        assert len(ok(pods.server.request("GET", f"{pods.path}?labelSelector=time%3D{value}"))["items"]) == 1
        assert watch.next()["type"] == "ADDED"
        pods.phase("pod-submit-remove", "Running")
        pods.delete("pod-submit-remove", grace=30)
        while (event := watch.next())["type"] != "DELETED":
            pass
    last = event["object"]
    assert last["metadata"]["deletionTimestamp"] and last["spec"]["terminationGracePeriodSeconds"] > 0
    assert ok(pods.server.request("GET", f"{pods.path}?labelSelector=time%3D{value}"))["items"] == []


def test_pods_update(pods):
    """Pods, update: a running pod's label is changed by an update; the new label selects it."""
    pods.create("pod-update", [{"name": "nginx", "image": "nginx", "command": ["sleep", "600"]}],
                labels={"name": "foo", "time": "1"})
    pod = pods.phase("pod-update", "Running")
    pod["metadata"]["labels"]["time"] = "2"
    ok(pods.server.request("PUT", f"{pods.path}/pod-update", pod))
    pods.phase("pod-update", "Running")
    assert len(ok(pods.server.request("GET", f"{pods.path}?labelSelector=time%3D2"))["items"]) == 1


def test_pods_activedeadlineseconds(pods):
    """Pods, ActiveDeadlineSeconds: activeDeadlineSeconds set on a running pod (5 s, as upstream) ends it:
    Failed with reason DeadlineExceeded."""
    pods.create("pod-update-activedeadlineseconds", [{"name": "nginx", "image": "nginx",
                                                      "command": ["sleep", "600"]}])
    pods.phase("pod-update-activedeadlineseconds", "Running")
    ok(pods.server.request("PATCH", f"{pods.path}/pod-update-activedeadlineseconds",
                           {"spec": {"activeDeadlineSeconds": 5}}, headers=STRATEGIC))
    pod = pods.phase("pod-update-activedeadlineseconds", "Failed", timeout=30)
    assert pod["status"]["reason"] == "DeadlineExceeded"


def test_pods_delete_a_collection(pods):
    """Pods, delete a collection: three running pods labelled type=Testing go with one deletecollection."""
    for i in range(3):
        pods.create(f"test-pod-{i}", [{"name": "token-test", "image": "registry.k8s.io/pause:3.10",
                                       "command": ["sleep", "600"]}], labels={"type": "Testing"})
    for i in range(3):
        pods.phase(f"test-pod-{i}", "Running")
    ok(pods.server.request("DELETE", f"{pods.path}?labelSelector=type%3DTesting",
                           {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 1}))
    wait_for(lambda: ok(pods.server.request("GET", f"{pods.path}?labelSelector=type%3DTesting"))["items"] == [],
             timeout=30, what="the pods deleted")


def test_pods_remote_command_execution_over_websocket(pods):
    """Pods, remote command execution over websocket: `echo "remote execution test"` by pods/exec over a
    channel.k8s.io WebSocket; stdout (channel 1) carries its output."""
    websocket = pytest.importorskip("websocket")
    pods.create("pod-exec-websocket", [sh("echo container is alive; sleep 600", name="main")])
    pods.phase("pod-exec-websocket", "Running")
    url = (pods.server.url.replace("http", "ws") + f"{pods.path}/pod-exec-websocket/exec?stderr=1&stdout=1"
           "&container=main&command=echo&command=remote+execution+test")
    ws = websocket.create_connection(url, subprotocols=["channel.k8s.io"], timeout=10)
    out = b""
    try:
        while True:
            opcode, data = ws.recv_data()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                break
            if not data:
                continue
            assert data[0] == 1 or len(data) == 1, f"a message not on stdout: {data!r}"
            out += data[1:]
    finally:
        ws.close()
    assert "remote execution test" in out.decode()


def test_pods_logs_from_websockets(pods):
    """Pods, logs from websockets: pods/log over a binary.k8s.io WebSocket is exactly the container's
    output."""
    websocket = pytest.importorskip("websocket")
    pods.create("pod-logs-websocket", [sh("echo container is alive; sleep 10000", name="main")])
    pods.phase("pod-logs-websocket", "Running")
    wait_for(lambda: pods.log("pod-logs-websocket"), what="the log")
    ws = websocket.create_connection(pods.server.url.replace("http", "ws") +
                                     f"{pods.path}/pod-logs-websocket/log?container=main",
                                     subprotocols=["binary.k8s.io"], timeout=10)
    out = b""
    try:
        while True:
            opcode, data = ws.recv_data()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                break
            if data.strip():
                out += data
    finally:
        ws.close()
    assert out.decode() == "container is alive\n"


def test_pods_patching_status(pods):
    """Pods, patching status: a merge patch of a running pod's /status sets its message and reason (and the
    annotation the patch carries)."""
    pods.create("pod-status-patch", [{"name": "agnhost", "image": "agnhost", "command": ["sleep", "600"]}],
                terminationGracePeriodSeconds=1)
    pods.phase("pod-status-patch", "Running")
    patched = ok(pods.server.request("PATCH", f"{pods.path}/pod-status-patch/status", {
        "metadata": {"annotations": {"patchedstatus": "true"}},
        "status": {"message": "Patched by e2e test", "reason": "E2E"}}, headers=MERGE))
    assert patched["status"]["message"] == "Patched by e2e test" and patched["status"]["reason"] == "E2E"
    assert patched["metadata"]["annotations"]["patchedstatus"] == "true"


def test_pods_completes_the_lifecycle_of_a_pod_and_the_podstatus(pods):
    """Pods, completes the lifecycle of a Pod and the PodStatus: a labelled pod runs; a strategic patch adds a
    label and changes its image; its status is replaced with Ready and ContainersReady False; it is deleted
    by a deletecollection, which a watch sees, and is then gone."""
    selector = "labelSelector=test-pod-static%3Dtrue"
    with Watch(pods.server, f"{pods.path}?watch=true&{selector}", timeout=30) as watch:
        pods.create("pod-test", [{"name": "pod-test", "image": "agnhost", "command": ["sleep", "600"]}],
                    labels={"test-pod-static": "true"}, terminationGracePeriodSeconds=1)
        while (watch.next()["object"].get("status") or {}).get("phase") != "Running":
            pass
        ok(pods.server.request("PATCH", f"{pods.path}/pod-test", {
            "metadata": {"labels": {"test-pod": "patched"}},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "pod-test", "image": "httpd"}]}},
            headers=STRATEGIC))
        pod = pods.get("pod-test")
        assert pod["metadata"]["labels"]["test-pod"] == "patched" and pod["spec"]["containers"][0]["image"] == "httpd"

        def replace_status():
            current = ok(pods.server.request("GET", f"{pods.path}/pod-test/status"))
            flipped = 0
            for c in current["status"]["conditions"]:
                if c["type"] in ("Ready", "ContainersReady") and c["status"] == "True":
                    c["status"] = "False"
                    flipped += 1
            assert flipped == 2, current["status"]["conditions"]
            status, body = pods.server.request("PUT", f"{pods.path}/pod-test/status", current)
            assert status in (200, 409), body
            return body if status == 200 else None
        updated = wait_for(replace_status, what="the status replaced")   # retried on a conflict, as upstream
        assert {c["type"]: c["status"] for c in updated["status"]["conditions"]
                if c["type"] in ("Ready", "ContainersReady")} == {"Ready": "False", "ContainersReady": "False"}
        ok(pods.server.request("DELETE", f"{pods.path}?{selector}",
                               {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 1}))
        while watch.next()["type"] != "DELETED":
            pass
    assert pods.server.request("GET", f"{pods.path}/pod-test")[0] == 404


# agnhost's `nettest` as the prestop test uses it: POST /write records {"Source": ...}, GET /read tells what
# was received.
NETTEST = r"""
import http.server, json, sys
received = {}
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        received[body["Source"]] = received.get(body["Source"], 0) + 1
        self.send_response(200)
        self.end_headers()
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"Received": received, "Errors": []}).encode())
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def test_pods_prestop_hook(pods):
    """Pods, prestop hook (test/e2e/node/pre_stop.go): deleting a pod runs its preStop hook, which posts to a
    server pod; the server, read through the apiserver's pod proxy, received it."""
    port = free_port()
    pods.create("server", [{"name": "agnhost-container", "image": "agnhost", "command": [
        sys.executable, "-c", NETTEST, str(port)], "ports": [{"containerPort": port}]}])
    pods.phase("server", "Running")
    wait_for(lambda: _connectable(port), what="the server listening")
    pods.create("tester", [{"name": "tester", "image": "busybox", "command": ["sleep", "600"], "lifecycle": {
        "preStop": {"exec": {"command": ["wget", "-O-", '--post-data={"Source": "prestop"}',
                                         f"http://127.0.0.1:{port}/write"]}}}}])
    pods.phase("tester", "Running")
    pods.delete("tester")

    def received():
        status, body = pods.server.request("GET", f"{pods.path}/server:{port}/proxy/read")
        return status == 200 and body["Received"].get("prestop", 0) >= 1 and not body["Errors"] and body
    wait_for(received, timeout=30, what="the server received the preStop call")


# -- Ephemeral containers (ephemeral_containers.go) --------------------------------------------------------
def exec_in(pods, pod, container, *command) -> str:
    websocket = pytest.importorskip("websocket")
    query = "&".join(f"command={urllib.request.quote(c)}" for c in command)
    ws = websocket.create_connection(pods.server.url.replace("http", "ws") + f"{pods.path}/{pod}/exec?stdout=1"
                                     f"&stderr=1&container={container}&{query}", subprotocols=["v4.channel.k8s.io"],
                                     timeout=10)
    out = b""
    try:
        while True:
            opcode, data = ws.recv_data()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                break
            if data[:1] == b"\x01":
                out += data[1:]
    finally:
        ws.close()
    return out.decode()


EPHEMERAL = {"name": "debugger", "image": "busybox", "stdin": True, "tty": True,
             "command": ["/bin/sh", "-c", "while true; do echo polo; sleep 2; done"]}


def ephemeral_running(pods, name):
    return pods.wait(name, lambda p: "running" in (container_status(
        p, "debugger", "ephemeralContainerStatuses").get("state") or {}), what="the ephemeral container running")


def test_ephemeral_container_creation(pods):
    """Ephemeral Container Creation: an ephemeral container added to a running pod runs; a command execs in
    it (`echo marco`) and its log is its output (polo)."""
    pods.create("ephemeral-containers-target-pod", [sh("sleep 600", name="test-container-1")])
    pods.phase("ephemeral-containers-target-pod", "Running")
    ok(pods.server.request("PATCH", f"{pods.path}/ephemeral-containers-target-pod/ephemeralcontainers",
                           {"spec": {"ephemeralContainers": [EPHEMERAL]}}, headers=STRATEGIC))
    ephemeral_running(pods, "ephemeral-containers-target-pod")
    assert "marco" in exec_in(pods, "ephemeral-containers-target-pod", "debugger", "/bin/echo", "marco")
    wait_for(lambda: "polo" in pods.log("ephemeral-containers-target-pod", "debugger"), what="polo in the log")


def test_ephemeral_container_update_ephemeral_containers(pods):
    """Ephemeral Container, update ephemeral containers: the pods/ephemeralcontainers subresource is read and
    replaced with one more container, which the pod then lists and runs."""
    name = "ephemeral-containers-target-pod"
    pods.create(name, [sh("sleep 600", name="test-container-1")])
    pods.phase(name, "Running")
    current = ok(pods.server.request("GET", f"{pods.path}/{name}/ephemeralcontainers"))
    assert current["kind"] == "Pod" and not current["spec"].get("ephemeralContainers")
    current["spec"]["ephemeralContainers"] = [EPHEMERAL]
    updated = ok(pods.server.request("PUT", f"{pods.path}/{name}/ephemeralcontainers", current))
    assert [c["name"] for c in updated["spec"]["ephemeralContainers"]] == ["debugger"]
    pod = ephemeral_running(pods, name)
    assert [c["name"] for c in pod["spec"]["ephemeralContainers"]] == ["debugger"]
    assert "marco" in exec_in(pods, name, "debugger", "/bin/echo", "marco")


# -- The background pods: restarts, probes, init container back-off ----------------------------------------
def liveness(background, name, expected, observe=4.0):
    """Upstream's RunLivenessTest: once the pod is not Pending its restart count starts at 0, never goes
    down, and reaches ``expected`` (or, with 0 expected, stays 0 while the container has been running
    ``observe`` seconds with its probe running every second; upstream watches 4 minutes)."""
    p, _ = background
    pod = p.wait(name, lambda x: (x.get("status") or {}).get("phase") not in (None, "Pending"))
    last = restarts(pod)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pod = p.get(name)
        count = restarts(pod)
        assert count >= last, f"restart count went down: {last} -> {count}"
        last = count
        if expected and count >= expected:
            return pod
        started = (container_status(pod).get("state") or {}).get("running", {}).get("startedAt")
        if not expected and started and (now() - stamp(started)).total_seconds() >= observe + 1:
            assert count == 0, pod["status"]
            return pod
        time.sleep(0.2)
    raise AssertionError(f"{name}: restart count {last}, expected {expected}")


def test_pod_liveness_probe_using_local_file_restart(background):
    """Pod liveness probe, using local file, restart: `cat health` fails once the file is removed; the
    container is restarted."""
    liveness(background, "liveness-exec-restart", 1)


def test_pod_liveness_probe_using_local_file_no_restart(background):
    """Pod liveness probe, using local file, no restart."""
    liveness(background, "liveness-exec-ok", 0, observe=6)


def test_pod_liveness_probe_using_http_endpoint_restart(background):
    """Pod liveness probe, using http endpoint, restart: /healthz answers 500 after 3 s (upstream: 10 s)."""
    liveness(background, "liveness-http-restart", 1)


def test_pod_liveness_probe_using_tcp_socket_no_restart(background):
    """Pod liveness probe, using tcp socket, no restart: the port stays open though /healthz fails."""
    liveness(background, "liveness-tcp-ok", 0, observe=9)


def test_pod_liveness_probe_using_http_endpoint_failure(background):
    """Pod liveness probe, using http endpoint, failure: a probe of / that never fails; no restart (watched
    long enough for more than failureThreshold probes)."""
    liveness(background, "liveness-http-ok", 0, observe=9)


def test_pod_liveness_probe_using_grpc_call_failure(background):
    """Pod liveness probe, using grpc call, failure: the probe's port is wrong; the container is restarted."""
    liveness(background, "liveness-grpc-restart", 1)


def test_pod_readiness_probe_with_initial_delay(background):
    """Pod readiness probe, with initial delay: Ready no sooner than initialDelaySeconds (3 s; upstream 15 s)
    after the container started, and never restarted."""
    p, _ = background
    pod = p.ready("readiness-delay")
    started = stamp(container_status(pod)["state"]["running"]["startedAt"])
    ready_at = stamp(condition(pod, "Ready")["lastTransitionTime"])
    assert (ready_at - started).total_seconds() >= 3, (started, ready_at)
    assert pod["status"]["phase"] == "Running" and restarts(pod) == 0


def test_pod_readiness_probe_failure(background):
    """Pod readiness probe, failure: a readiness probe that always fails keeps the pod not Ready, and it is
    never restarted (watched while its probe ran at least 4 times; upstream watches a minute)."""
    p, _ = background

    def probed(pod):
        started = (container_status(pod).get("state") or {}).get("running", {}).get("startedAt")
        if is_ready(pod):    # at once (an AssertionError would only be "not yet" to the wait)
            pytest.fail(f"readiness-fails became Ready: {pod['status']}")
        return started and (now() - stamp(started)).total_seconds() >= 6
    pod = p.wait("readiness-fails", probed)
    assert not is_ready(pod) and restarts(pod) == 0


def test_container_runtime_restart_policy_pod_phases(background):
    """Container Runtime, Restart Policy, Pod Phases: a command that fails, then succeeds, then runs:
    Always restarts it twice and keeps it Running and Ready; OnFailure restarts it once, then the pod
    Succeeded; Never does not restart it and the pod Failed. Each pod can then be deleted."""
    p, _ = background
    for name, count, phase, state, ready in (("terminate-cmd-rpa", 2, "Running", "running", True),
                                             ("terminate-cmd-rpof", 1, "Succeeded", "terminated", False),
                                             ("terminate-cmd-rpn", 0, "Failed", "terminated", False)):
        pod = p.wait(name, lambda x, c=count: restarts(x) == c and x["status"].get("phase") == phase, timeout=40,
                     what=f"{name}: {count} restarts, {phase}")
        pod = p.wait(name, lambda x, r=ready: container_status(x).get("ready") == r)
        assert state in container_status(pod)["state"], pod["status"]
        p.delete(name)
        p.gone(name)


def test_init_container_fails_stops_app_restartalways_pod(background):
    """init-container-fails-stops-app-restartalways-pod: init1 fails and is restarted (3 times, with the
    back-off) while init2 and the app container wait (PodInitializing); the pod stays Pending with
    Initialized False: "containers with incomplete status: [init1 init2]"."""
    _, watch = background

    def failing(pod):
        status = pod.get("status") or {}
        for s in status.get("containerStatuses") or []:
            assert (s["state"].get("waiting") or {}).get("reason") == "PodInitializing", s
        inits = status.get("initContainerStatuses") or []
        if len(inits) != 2:
            return False
        assert (inits[1]["state"].get("waiting") or {}).get("reason") == "PodInitializing", inits[1]
        assert (inits[0]["state"].get("terminated") or {}).get("exitCode") != 0, inits[0]
        return inits[0]["restartCount"] >= 3
    watch.timeout = 45
    pod = watch_pod_until(watch, failing)
    assert pod["status"]["phase"] == "Pending"
    initialized = condition(pod, "Initialized")
    assert initialized["status"] == "False" and initialized["reason"] == "ContainersNotInitialized"
    assert initialized["message"] == "containers with incomplete status: [init1 init2]"
    assert len(pod["status"]["initContainerStatuses"]) == 2


"""The control plane as a new user meets it: one `twistd -n kube-cluster --nodes 2` for the module, real kube-nodes
running pods as host processes (busybox's `sleep 3600` runs the host's sleep), and kubectl typed as the user would.

Each test is one "done means" of the control-plane issue.  They share the cluster and run in file order: the test
that kills node-2 (and the one that brings it back) comes after every test that needs both nodes, and the CronJob
test, which waits for the next minute to begin (up to ~70 s), is the last but one; the last reads what the
daemons printed.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port, kubectl_binary

from .processes import Watched, eventually, not_yet

ROOT = Path(__file__).resolve().parent.parent.parent
# The controller manager's --node-monitor-grace-period here (upstream's default is 40 s), so a dead node shows
# soon; twice kube-node's 10 s Lease renewal, so a live one never looks dead.
NODE_MONITOR_GRACE = 20
LEASE_RENEWAL = 10


def free_port_pair() -> int:
    """A port p such that p and p+1 are both free (node-1's and node-2's kubelet ports)."""
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no two consecutive free ports")


def stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


class Cluster:
    """The running kube-cluster, and kubectl with its admin kubeconfig."""

    def __init__(self, binary: str, data: Path, home: Path, process: Watched):
        self.binary, self.data, self.home, self.process = binary, data, home, process
        self.admin = data / "admin.kubeconfig"
        self.cache = home / "kubectl-cache"

    def run(self, *args, kubeconfig=None, timeout=30) -> subprocess.CompletedProcess:
        return subprocess.run([self.binary, f"--kubeconfig={kubeconfig or self.admin}", f"--cache-dir={self.cache}",
                               *args], capture_output=True, text=True, timeout=timeout)

    def kubectl(self, *args, kubeconfig=None, timeout=30) -> str:
        """kubectl's stdout; AssertionError with its stderr when it fails."""
        result = self.run(*args, kubeconfig=kubeconfig, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr}")
        return result.stdout.strip()

    def get(self, *args, namespace=None) -> dict:
        return json.loads(self.kubectl("get", *args, *(["-n", namespace] if namespace else []), "-o", "json"))

    def namespace(self, name: str) -> str:
        """A new namespace, once the controller manager has given it its default ServiceAccount."""
        self.kubectl("create", "namespace", name)
        eventually(lambda: self.run("get", "serviceaccount", "default", "-n", name).returncode == 0 or not_yet(),
                   timeout=30)
        return name

    def running_pods(self, namespace: str, selector: str, count: int, timeout: float = 30) -> list[dict]:
        """The `count` Running and Ready pods `selector` picks, once there are exactly that many."""
        def check():
            pods = [p for p in self.get("pods", "-l", selector, namespace=namespace)["items"]
                    if not p["metadata"].get("deletionTimestamp")]
            running = [p for p in pods if p["status"].get("phase") == "Running" and any(
                c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))]
            assert len(pods) == len(running) == count, [(p["metadata"]["name"], p["status"].get("phase"))
                                                        for p in pods]
            return running
        return eventually(check, timeout)

    def events(self, namespace: str, name: str) -> list[dict]:
        items = self.get("events", "--field-selector", f"involvedObject.name={name}", namespace=namespace)["items"]
        return sorted(items, key=lambda e: e.get("firstTimestamp") or e.get("eventTime") or "")

    def admin_request(self, method: str, path: str, body: dict) -> tuple[int, dict]:
        """A request to the apiserver with the admin's client certificate: the status code and the JSON answer."""
        config = json.loads(self.admin.read_text())
        user = config["users"][0]["user"]
        cert, key = self.home / "admin.crt", self.home / "admin.key"
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        context = ssl.create_default_context(cafile=str(self.data / "pki" / "ca.crt"))
        context.load_cert_chain(str(cert), str(key))
        server = config["clusters"][0]["cluster"]["server"].removeprefix("https://")
        connection = http.client.HTTPSConnection(server, context=context, timeout=30)
        try:
            connection.request(method, path, json.dumps(body), {"Content-Type": "application/json"})
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()


def processes_in(directory: Path) -> list[int]:
    """The pids of this machine's processes whose working directory is under `directory` (pods' processes
    run in their pod's directory under the node's --root-dir)."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.readlink(f"/proc/{pid}/cwd").startswith(str(directory) + os.sep):
                    found.append(int(pid))
            except OSError:
                pass
    return found


def parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    binary = kubectl_binary()
    if not binary:
        pytest.skip("kubectl is not installed")
    home = tmp_path_factory.mktemp("new-user")
    data = home / "data"
    process = Watched([sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "-n", "--pidfile=",
                       "kube-cluster", f"--data-dir={data}", f"--apiserver-port={free_port()}",
                       f"--kubelet-port={free_port_pair()}", "--nodes=2",
                       f"--kube-controller-manager-arg=--node-monitor-grace-period={NODE_MONITOR_GRACE}s"],
                      cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        process.wait_for(lambda line: "apiserver is ready" in line, timeout=60)
        running = Cluster(binary, data, home, process)

        def nodes_ready():
            nodes = running.get("nodes")["items"]
            ready = sorted(n["metadata"]["name"] for n in nodes if any(
                c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))
                and not n["spec"].get("taints"))
            assert ready == ["node-1", "node-2"], ready
        eventually(nodes_ready, timeout=60)
        yield running
        code = process.stop(timeout=60)
        assert code in (0, -15) and "Server Shut Down." in process.lines[-1], "\n".join(process.lines[-30:])
    finally:
        process.kill()
        # The pods of a node that was killed outlive it (as a kubelet's containers do): end them too.
        for pid in processes_in(data / "nodes"):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_new_namespace_gets_its_default_serviceaccount_and_root_ca(cluster):
    """`kubectl create namespace` is followed by the `default` ServiceAccount and the `kube-root-ca.crt`
    ConfigMap holding the cluster CA, made by the controller manager."""
    cluster.kubectl("create", "namespace", "newcomer")

    def filled():
        assert cluster.run("get", "serviceaccount", "default", "-n", "newcomer").returncode == 0
        return cluster.kubectl("get", "configmap", "kube-root-ca.crt", "-n", "newcomer", "-o",
                               "jsonpath={.data.ca\\.crt}")
    published = eventually(filled, timeout=30)
    assert published.strip() == (cluster.data / "pki" / "ca.crt").read_text().strip()


def user_kubeconfig(cluster: Cluster, user: str, namespace: str) -> Path:
    """A kubeconfig for `user`, whose client certificate is signed with the cluster CA in the data directory
    by openssl, and put together by `kubectl config` (as the Kubernetes docs show)."""
    pki, home = cluster.data / "pki", cluster.home
    key, csr, crt = home / f"{user}.key", home / f"{user}.csr", home / f"{user}.crt"
    for argv in (["openssl", "genrsa", "-out", str(key), "2048"],
                 ["openssl", "req", "-new", "-key", str(key), "-out", str(csr), "-subj", f"/CN={user}/O=developers"],
                 ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key"),
                  "-CAcreateserial", "-out", str(crt), "-days", "1"]):
        subprocess.run(argv, check=True, capture_output=True, timeout=30)
    config = home / f"{user}.kubeconfig"
    server = json.loads(cluster.admin.read_text())["clusters"][0]["cluster"]["server"]
    for args in (["set-cluster", "kc", f"--server={server}", f"--certificate-authority={pki / 'ca.crt'}",
                  "--embed-certs"],
                 ["set-credentials", user, f"--client-certificate={crt}", f"--client-key={key}", "--embed-certs"],
                 ["set-context", user, "--cluster=kc", f"--user={user}", f"--namespace={namespace}"],
                 ["use-context", user]):
        cluster.kubectl("config", *args, kubeconfig=config)
    return config


def test_edit_and_view_users_get_what_the_clusterroles_give(cluster):
    """Users bound to `edit` and `view` in a namespace by RoleBindings, with client certificates signed by the
    cluster CA: the editor can create deployments and not roles, the viewer can read pods and create nothing;
    `kubectl auth can-i --as` from the admin agrees with what each is really allowed."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    ns = cluster.namespace("team")
    cluster.kubectl("create", "rolebinding", "alice-edit", "--clusterrole=edit", "--user=alice", "-n", ns)
    cluster.kubectl("create", "rolebinding", "bob-view", "--clusterrole=view", "--user=bob", "-n", ns)
    alice, bob = user_kubeconfig(cluster, "alice", ns), user_kubeconfig(cluster, "bob", ns)

    def can(user, *what):
        answer = cluster.run("auth", "can-i", *what, "-n", ns, f"--as={user}")
        return answer.stdout.strip()
    expected = {("alice", "create", "deployments"): "yes", ("alice", "create", "roles"): "no",
                ("alice", "delete", "pods"): "yes", ("bob", "get", "pods"): "yes",
                ("bob", "create", "deployments"): "no", ("bob", "create", "roles"): "no"}
    assert {key: can(*key) for key in expected} == expected
    assert cluster.run("auth", "can-i", "create", "deployments", kubeconfig=alice).stdout.strip() == "yes"
    assert cluster.run("auth", "can-i", "create", "deployments", kubeconfig=bob).stdout.strip() == "no"
    # What they are really allowed.
    assert json.loads(cluster.kubectl("auth", "whoami", "-o", "json", kubeconfig=alice))["status"]["userInfo"][
        "username"] == "alice"
    cluster.kubectl("create", "deployment", "alices", "--image=busybox", "--replicas=0", "--", "sleep", "3600",
                    kubeconfig=alice)
    refused = cluster.run("create", "role", "reader", "--verb=get", "--resource=pods", kubeconfig=alice)
    assert refused.returncode != 0 and "forbidden" in refused.stderr.lower(), refused.stderr
    assert "alices" in cluster.kubectl("get", "deployments", "-o", "name", kubeconfig=bob)
    refused = cluster.run("create", "deployment", "bobs", "--image=busybox", kubeconfig=bob)
    assert refused.returncode != 0 and "forbidden" in refused.stderr.lower(), refused.stderr


def test_a_deployment_runs_over_both_nodes_rolls_out_and_back(cluster):
    """`kubectl create deployment web --replicas=3 -- sleep 3600` gives 3 Running pods on both nodes;
    `kubectl set image` makes a new ReplicaSet whose rollout `kubectl rollout status` sees finish; `kubectl
    rollout undo` brings the first template back."""
    ns = cluster.namespace("web")
    cluster.kubectl("create", "deployment", "web", "--image=busybox", "--replicas=3", "-n", ns, "--", "sleep", "3600")
    cluster.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s", timeout=70)
    pods = cluster.running_pods(ns, "app=web", 3)
    assert {p["spec"]["nodeName"] for p in pods} == {"node-1", "node-2"}
    first = {p["metadata"]["labels"]["pod-template-hash"] for p in pods}
    assert len(first) == 1

    cluster.kubectl("set", "image", "deployment/web", "busybox=busybox:1.36", "-n", ns)
    cluster.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s", timeout=70)
    replicasets = {rs["metadata"]["labels"]["pod-template-hash"]: rs
                   for rs in cluster.get("replicasets", "-l", "app=web", namespace=ns)["items"]}
    assert len(replicasets) == 2 and first <= set(replicasets)
    (second,) = set(replicasets) - first
    assert replicasets[second]["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.36"
    assert replicasets[second]["status"].get("readyReplicas") == 3
    assert {p["metadata"]["labels"]["pod-template-hash"]
            for p in cluster.running_pods(ns, "app=web", 3)} == {second}

    cluster.kubectl("rollout", "undo", "deployment/web", "-n", ns)
    cluster.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s", timeout=70)
    assert cluster.kubectl("get", "deployment", "web", "-n", ns, "-o",
                           "jsonpath={.spec.template.spec.containers[0].image}") == "busybox"
    assert {p["metadata"]["labels"]["pod-template-hash"] for p in cluster.running_pods(ns, "app=web", 3)} == first
    assert cluster.kubectl("get", "deployment", "web", "-n", ns, "-o",
                           "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}") == "3"


def test_an_exposed_deployment_gets_endpoints_and_an_endpointslice(cluster):
    """`kubectl expose deployment web --port 80`: the Service's Endpoints and its EndpointSlice list every ready
    pod (by targetRef) with the pod's IP and port 80."""
    ns = cluster.namespace("exposed")
    cluster.kubectl("create", "deployment", "web", "--image=busybox", "--replicas=2", "-n", ns, "--", "sleep", "3600")
    cluster.kubectl("expose", "deployment", "web", "--port", "80", "-n", ns)
    pods = {p["metadata"]["name"]: p["status"]["podIP"] for p in cluster.running_pods(ns, "app=web", 2)}

    def endpoints():
        subsets = cluster.get("endpoints", "web", namespace=ns).get("subsets") or []
        listed = {a["targetRef"]["name"]: a["ip"] for s in subsets for a in s.get("addresses", [])}
        assert listed == pods, (listed, pods)
        assert [p["port"] for s in subsets for p in s["ports"]] == [80] * len(subsets)
    eventually(endpoints, timeout=30)

    def slices():
        items = cluster.get("endpointslices", "-l", "kubernetes.io/service-name=web", namespace=ns)["items"]
        listed = {e["targetRef"]["name"]: e["addresses"][0] for s in items for e in s.get("endpoints") or []
                  if e["conditions"].get("ready")}
        assert listed == pods, (listed, pods)
        assert [s["ports"][0]["port"] for s in items] == [80] and items[0]["addressType"] == "IPv4"
    eventually(slices, timeout=30)


FAILING_JOB = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "fails"}, "spec": {
    "backoffLimit": 1, "template": {"spec": {"restartPolicy": "Never", "containers": [
        {"name": "c", "image": "busybox", "command": ["sh", "-c", "exit 1"]}]}}}}


def test_jobs_complete_andnot_yet(cluster):
    """A Job whose pod exits 0 is Complete (`kubectl wait --for=condition=complete`); one whose pods exit 1 is
    Failed (BackoffLimitExceeded) once backoffLimit 1 is spent: two pods."""
    ns = cluster.namespace("batch")
    cluster.kubectl("create", "job", "succeeds", "--image=busybox", "-n", ns, "--", "sh", "-c", "exit 0")
    manifest = cluster.home / "failing-job.json"
    manifest.write_text(json.dumps(FAILING_JOB))
    cluster.kubectl("create", "-f", str(manifest), "-n", ns)
    cluster.kubectl("wait", "--for=condition=complete", "job/succeeds", "-n", ns, "--timeout=60s", timeout=70)
    # The second pod starts after the pod failure backoff (10 s).
    cluster.kubectl("wait", "--for=condition=failed", "job/fails", "-n", ns, "--timeout=60s", timeout=70)
    failed = cluster.get("job", "fails", namespace=ns)
    assert {c["type"]: c.get("reason") for c in failed["status"]["conditions"] if c["status"] == "True"}.get(
        "Failed") == "BackoffLimitExceeded"
    assert failed["status"].get("failed") == 2
    assert cluster.get("job", "succeeds", namespace=ns)["status"].get("succeeded") == 1


DAEMONSET = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"}, "spec": {
    "selector": {"matchLabels": {"app": "agent"}},
    "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [
        {"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}}}}


def test_a_daemonset_has_one_pod_per_node(cluster):
    """A DaemonSet runs exactly one pod on each of the two nodes, and `kubectl rollout status` says so."""
    ns = cluster.namespace("daemons")
    manifest = cluster.home / "daemonset.json"
    manifest.write_text(json.dumps(DAEMONSET))
    cluster.kubectl("create", "-f", str(manifest), "-n", ns)
    cluster.kubectl("rollout", "status", "daemonset/agent", "-n", ns, "--timeout=60s", timeout=70)
    pods = cluster.running_pods(ns, "app=agent", 2)
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["node-1", "node-2"]
    status = cluster.get("daemonset", "agent", namespace=ns)["status"]
    assert (status["desiredNumberScheduled"], status["currentNumberScheduled"], status["numberReady"]) == (2, 2, 2)


STATEFULSET = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"}, "spec": {
    "serviceName": "db", "replicas": 3, "selector": {"matchLabels": {"app": "db"}},
    "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [
        {"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}}}}


def test_a_statefulset_starts_its_pods_in_order(cluster):
    """A StatefulSet of 3 (OrderedReady): as `kubectl get pods -w` sees it, db-1 appears only after db-0 is
    Ready and db-2 only after db-1; the creation timestamps and SuccessfulCreate events agree."""
    ns = cluster.namespace("stateful")
    watch = Watched([cluster.binary, f"--kubeconfig={cluster.admin}", f"--cache-dir={cluster.cache}", "get", "pods",
                     "-n", ns, "--watch", "--output-watch-events", "-o", 'jsonpath={.type} {.object.metadata.name} '
                     '{.object.status.conditions[?(@.type=="Ready")].status}{"\\n"}'])
    try:
        # A pod of no set first: once the watch shows it, the watch is there before the set's pods are.
        cluster.kubectl("run", "sentinel", "--image=busybox", "-n", ns, "--", "sleep", "3600")
        watch.wait_for(lambda line: line.startswith("ADDED sentinel"), timeout=30)
        manifest = cluster.home / "statefulset.json"
        manifest.write_text(json.dumps(STATEFULSET))
        cluster.kubectl("create", "-f", str(manifest), "-n", ns)
        cluster.kubectl("rollout", "status", "statefulset/db", "-n", ns, "--timeout=60s", timeout=70)
        pods = {p["metadata"]["name"]: p for p in cluster.running_pods(ns, "app=db", 3)}
        watch.wait_for(lambda line: line.split()[1:] == ["db-2", "True"], timeout=30)
    finally:
        watch.kill()
    seen = [line for line in watch.lines if line.split()[1:2] in (["db-0"], ["db-1"], ["db-2"])]
    lines = [line.split() for line in seen]
    added = [i for i, line in enumerate(lines) if line[0] == "ADDED"]
    assert [lines[i][1] for i in added] == ["db-0", "db-1", "db-2"], seen
    for before, after in (("db-0", 1), ("db-1", 2)):
        ready_at = next((i for i, line in enumerate(lines) if line[1:] == [before, "True"]), None)
        assert ready_at is not None and ready_at < added[after], seen
    for before, after in (("db-0", "db-1"), ("db-1", "db-2")):
        ready = next(c for c in pods[before]["status"]["conditions"] if c["type"] == "Ready")
        assert stamp(pods[after]["metadata"]["creationTimestamp"]) >= stamp(ready["lastTransitionTime"])
    created = [e["message"] for e in cluster.events(ns, "db") if e["reason"] == "SuccessfulCreate"]
    assert created == [f"create Pod db-{i} in StatefulSet db successful" for i in range(3)], created


def test_a_pod_too_big_for_any_node_is_unschedulable(cluster):
    """A pod requesting more cpu than any node has stays Pending with a FailedScheduling event carrying
    upstream's message, and PodScheduled=False (Unschedulable)."""
    ns = cluster.namespace("greedy")
    cluster.kubectl("run", "huge", "--image=busybox", "--overrides",
                    json.dumps({"apiVersion": "v1", "spec": {"containers": [
                        {"name": "huge", "image": "busybox", "command": ["sleep", "3600"],
                         "resources": {"requests": {"cpu": "1000"}}}]}}), "-n", ns)

    def failed_scheduling():
        events = [e for e in cluster.events(ns, "huge") if e["reason"] == "FailedScheduling"]
        assert events, "no FailedScheduling event yet"
        return events[0]
    event = eventually(failed_scheduling, timeout=30)
    assert event["type"] == "Warning"
    assert event["message"] == ("0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: "
                                "2 Preemption is not helpful for scheduling."), event["message"]
    pod = cluster.get("pod", "huge", namespace=ns)
    assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName")
    condition = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (condition["status"], condition["reason"]) == ("False", "Unschedulable")


def test_a_disruption_budget_blocks_drain_and_eviction(cluster):
    """With a PodDisruptionBudget of minAvailable equal to the replicas, `kubectl drain` cannot evict the pod
    (it retries until its timeout and fails) and a direct eviction is refused with 429 and upstream's message;
    the pod is still there."""
    ns = cluster.namespace("guarded")
    cluster.kubectl("create", "deployment", "guarded", "--image=busybox", "--replicas=2", "-n", ns, "--",
                    "sleep", "3600")
    cluster.kubectl("create", "poddisruptionbudget", "guarded", "--selector=app=guarded", "--min-available=2",
                    "-n", ns)
    pods = cluster.running_pods(ns, "app=guarded", 2)
    eventually(lambda: cluster.get("pdb", "guarded", namespace=ns)["status"].get("currentHealthy") == 2 or not_yet(),
               timeout=30)
    assert cluster.get("pdb", "guarded", namespace=ns)["status"]["disruptionsAllowed"] == 0
    victim = pods[0]
    node = victim["spec"]["nodeName"]
    try:
        drain = cluster.run("drain", node, "--pod-selector=app=guarded", "--timeout=3s", timeout=30)
    finally:
        cluster.kubectl("uncordon", node)
    assert drain.returncode != 0
    assert "Cannot evict pod as it would violate the pod's disruption budget." in drain.stderr, drain.stderr
    name = victim["metadata"]["name"]
    code, status = cluster.admin_request("POST", f"/api/v1/namespaces/{ns}/pods/{name}/eviction", {
        "apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": ns}})
    assert code == 429, status
    assert (status["reason"], status["message"]) == (
        "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget."), status
    assert status["details"]["causes"][0]["reason"] == "DisruptionBudget", status
    assert cluster.get("pod", name, namespace=ns)["metadata"].get("deletionTimestamp") is None


def node_process(data: Path, name: str) -> int:
    """The pid of the kube-node serving `name` in the cluster of `data`, found by its command line."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"kube-node" in argv and f"--node-name={name}".encode() in argv and \
                    f"--kubeconfig={data / (name + '.kubeconfig')}".encode() in argv:
                found.append(int(pid))
    assert len(found) == 1, found
    return found[0]


def test_a_killed_node_goes_notready_and_unreachable(cluster):
    """node-2's kube-node killed with SIGKILL (and kept from coming back: kube-cluster restarts it, but without
    its kubeconfig the new one exits at once): within --node-monitor-grace-period and a monitor period the
    node-lifecycle controller marks it Ready=Unknown (NodeStatusUnknown) and taints it
    node.kubernetes.io/unreachable, NoSchedule and NoExecute; its pod is marked not Ready (a NodeNotReady
    event) and its Service's Endpoints list it as not ready."""
    ns = cluster.namespace("doomed")
    cluster.kubectl("run", "stranded", "--image=busybox", "--labels=app=stranded", "-n", ns, "--overrides",
                    json.dumps({"apiVersion": "v1", "spec": {"nodeName": "node-2"}}), "--", "sleep", "3600")
    cluster.kubectl("expose", "pod", "stranded", "--port=80", "-n", ns)
    cluster.running_pods(ns, "app=stranded", 1)

    def endpoints(ready: str):
        subsets = cluster.get("endpoints", "stranded", namespace=ns).get("subsets") or []
        assert [a["targetRef"]["name"] for s in subsets for a in s.get(ready) or []] == ["stranded"], subsets
    eventually(lambda: endpoints("addresses"), timeout=30)
    kubeconfig = cluster.data / "node-2.kubeconfig"
    pid = node_process(cluster.data, "node-2")
    assert next(c for c in cluster.get("node", "node-2")["status"]["conditions"] if c["type"] == "Ready")[
        "status"] == "True"
    # kube-cluster has no way to stop one node: a restarted kube-node with no kubeconfig exits (backing off).
    kubeconfig.rename(kubeconfig.with_suffix(".away"))
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    cluster.process.wait_for(lambda line: "node-2 was killed by signal 9" in line, timeout=30)

    def unreachable():
        node = cluster.get("node", "node-2")
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready.get("reason")) == ("Unknown", "NodeStatusUnknown"), ready
        taints = {(t["key"], t["effect"]) for t in node["spec"].get("taints") or []}
        assert {("node.kubernetes.io/unreachable", "NoSchedule"),
                ("node.kubernetes.io/unreachable", "NoExecute")} <= taints, taints
        return node
    # The grace period counts from the last heartbeat (at most LEASE_RENEWAL s before the kill); the controller
    # looks every --node-monitor-period (5 s).
    eventually(unreachable, timeout=NODE_MONITOR_GRACE + 5 + 10)
    elapsed = time.monotonic() - killed
    assert NODE_MONITOR_GRACE - LEASE_RENEWAL - 2 <= elapsed <= NODE_MONITOR_GRACE + 5 + 10, elapsed
    assert "NotReady" in cluster.kubectl("get", "node", "node-2", "--no-headers")
    node_1 = cluster.get("node", "node-1")
    assert next(c for c in node_1["status"]["conditions"] if c["type"] == "Ready")["status"] == "True"

    def stranded():
        pod = cluster.get("pod", "stranded", namespace=ns)
        assert next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")["status"] == "False"
        assert [(e["type"], e["message"]) for e in cluster.events(ns, "stranded") if e["reason"] == "NodeNotReady"
                ] == [("Warning", "Node is not ready")]
    eventually(stranded, timeout=30)
    eventually(lambda: endpoints("notReadyAddresses"), timeout=30)
    # Deleted while its node is away, the pod waits for the node (a kubelet) to finish its deletion.
    cluster.kubectl("delete", "pod", "stranded", "-n", ns, "--wait=false")
    assert cluster.get("pod", "stranded", namespace=ns)["metadata"]["deletionTimestamp"]


def test_a_killed_node_that_comes_back_is_ready_and_cleans_up(cluster):
    """node-2 given its kubeconfig back: kube-cluster's next restart brings it up, the node-lifecycle controller
    finds it Ready and removes the unreachable taints, the pod deleted while it was away is gone, and none of
    the processes the killed kube-node left behind is still running beside the new ones."""
    kubeconfig = cluster.data / "node-2.kubeconfig"
    kubeconfig.with_suffix(".away").rename(kubeconfig)

    def back():
        node = cluster.get("node", "node-2")
        assert next(c for c in node["status"]["conditions"] if c["type"] == "Ready")["status"] == "True"
        assert not node["spec"].get("taints"), node["spec"]["taints"]
    eventually(back, timeout=60, interval=1)     # kube-cluster's restart delay has reached 30 s by now
    eventually(lambda: cluster.run("get", "pod", "stranded", "-n", "doomed").returncode != 0 or not_yet(),
               timeout=30)
    node_2 = cluster.data / "nodes" / "node-2"
    orphans = [pid for pid in processes_in(node_2) if parent(pid) == 1]
    assert orphans == [], orphans


def test_a_cronjob_fires_within_a_minute(cluster):
    """A CronJob scheduled `* * * * *` makes its first Job within ~70 s (by the next minute's start), which
    runs to Complete; the CronJob's lastScheduleTime and lastSuccessfulTime say so.  (Slow by nature: it waits
    for a minute to begin, so it runs last.)"""
    ns = cluster.namespace("cron")
    cluster.kubectl("create", "cronjob", "tick", "--image=busybox", "--schedule=* * * * *", "-n", ns, "--",
                    "sh", "-c", "exit 0")
    created = time.monotonic()

    def fired():
        jobs = cluster.get("jobs", namespace=ns)["items"]
        assert jobs, "no Job yet"
        return jobs[0]
    job = eventually(fired, timeout=75, interval=1)
    assert time.monotonic() - created <= 75
    assert job["metadata"]["ownerReferences"][0]["name"] == "tick"
    name = job["metadata"]["name"]
    cluster.kubectl("wait", "--for=condition=complete", f"job/{name}", "-n", ns, "--timeout=30s", timeout=40)
    eventually(lambda: cluster.get("cronjob", "tick", namespace=ns)["status"].get("lastSuccessfulTime") or not_yet(),
               timeout=30)
    status = cluster.get("cronjob", "tick", namespace=ns)["status"]
    assert stamp(status["lastScheduleTime"]).second == 0 and not status.get("active")


def test_the_control_plane_logs_no_unhandled_errors(cluster):
    """What kube-cluster printed for the apiserver, the controller manager, the scheduler and node-1 holds no
    traceback, even after clients end watches (node-2 is left out: its restarts fail by design above)."""
    for _ in range(3):
        cluster.run("get", "namespaces", "--watch", "--request-timeout=1s", timeout=30)
    tags = ("apiserver ", "controller-manager ", "scheduler ", "node-1 ")

    def traceback(line: str) -> bool:
        return line.startswith(tags) and ("Unhandled error" in line or "Traceback" in line)
    try:      # the apiserver logs it a few seconds after the watch ends, if it does
        cluster.process.wait_for(traceback, timeout=15)
    except AssertionError:
        pass
    bad = [line for line in cluster.process.lines if traceback(line)]
    assert bad == [], "\n".join(bad[:10])

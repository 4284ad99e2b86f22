"""[sig-node] and [sig-storage] conformance entries about what a pod's containers see — environment variables
and ConfigMap, Secret, downward API and projected volumes — run on a kube-node agent (pods as host processes).
Each test is named by its entry and checks what upstream's test checks, through the container's output.
Volumes are read at $KUBE_VOLUMES_DIR/<volume> (where they are whatever the user running the tests is);
the entries that need a volume at its mountPath are in tests/e2e/test_node_volumes.py (root only)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest

from tests.conformance.support import wait_for
from tests.e2e.conftest import APIServerProcess, free_port
from tests.e2e.test_streams import NodeProcess


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory):
    """A server with a secure port (so service-account tokens are issued) and a node agent scheduling onto
    itself, re-reading its pods' sources every half second."""
    server = APIServerProcess(tmp_path_factory.mktemp("envvol") / "data", args=(
        f"--secure-port={free_port()}", "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1")).start()
    node = NodeProcess(server, tmp_path_factory.mktemp("envvol-node"))
    node.extra_args = ("--config-sync-frequency=0.5",)
    try:
        node.start()
        yield server
    finally:
        node.stop()
        server.stop()


def _api(server, method, path, body=None, *statuses):
    headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else None
    status, answer = server.request(method, path, body, headers)
    assert status in (statuses or (200, 201)), (method, path, status, answer)
    return answer


def _create(server, namespace, plural, obj):
    return _api(server, "POST", f"/api/v1/namespaces/{namespace}/{plural}", obj)


def _pod(server, namespace, name):
    return _api(server, "GET", f"/api/v1/namespaces/{namespace}/pods/{name}")


def _log(server, namespace, name, tail=None, started=True) -> str:
    """The container's log; with started=False, "" while there is none yet (a 400 before it starts, a 404
    before the node has the pod)."""
    query = f"?tailLines={tail}" if tail else ""
    try:
        with urllib.request.urlopen(f"{server.url}/api/v1/namespaces/{namespace}/pods/{name}/log{query}",
                                    timeout=10) as response:
            return response.read().decode()
    except urllib.error.HTTPError as e:
        if started or e.code not in (400, 404):
            raise
        return ""


def _output(server, namespace, name, spec, env=None, **container):
    """Run a pod of one busybox container with `spec`'s extras to completion; its log."""
    _create(server, namespace, "pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": dict({"restartPolicy": "Never", "containers": [dict(
            {"name": "c", "image": "busybox", "env": env or []}, **container)]}, **spec)})

    def done():
        phase = _pod(server, namespace, name).get("status", {}).get("phase")
        return phase if phase in ("Succeeded", "Failed") else None
    phase = wait_for(done, timeout=30, what=f"pod {name} finished")
    log = _log(server, namespace, name)
    assert phase == "Succeeded", log
    return log


def _config_map(server, namespace, name, **data):
    _create(server, namespace, "configmaps", {"metadata": {"name": name}, "data": data})


def test_configmap_should_be_consumable_via_the_environment(apiserver, namespace):
    """ConfigMap should be consumable via the environment (envFrom, with and without a prefix)."""
    _config_map(apiserver, namespace, "cm-env", **{"data-1": "value-1", "data-2": "value-2", "1badkey": "x"})
    # `env` itself: the host's sh (dash) drops variables whose names are no shell names, as '-' makes them.
    out = _output(apiserver, namespace, "cm-env", {}, command=["env"], envFrom=[
        {"configMapRef": {"name": "cm-env"}}, {"prefix": "p-", "configMapRef": {"name": "cm-env"}}])
    lines = set(out.splitlines())
    assert {"data-1=value-1", "data-2=value-2", "p-data-1=value-1", "p-data-2=value-2"} <= lines
    # A key that is no variable name is skipped; with a prefix that makes it one, it is kept.
    assert "p-1badkey=x" in lines and not any(line.startswith("1badkey") for line in lines)


def test_downward_api_should_provide_pod_name_namespace_ip_and_limits_as_env_vars(apiserver, namespace):
    """Downward API should provide pod name, namespace and IP address, host IP, pod UID, and the container's
    limits and requests (default limits from the node allocatable) as env vars."""
    def field(name, path):
        return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}

    def resource(name, what, divisor=None):
        ref = {"resource": what}
        if divisor:
            ref["divisor"] = divisor
        return {"name": name, "valueFrom": {"resourceFieldRef": ref}}
    out = _output(apiserver, namespace, "downward-env", {}, command=["sh", "-c", "env"], env=[
        field("POD_NAME", "metadata.name"), field("POD_NAMESPACE", "metadata.namespace"),
        field("POD_IP", "status.podIP"), field("HOST_IP", "status.hostIP"), field("POD_UID", "metadata.uid"),
        resource("CPU_LIMIT", "limits.cpu", "1m"), resource("MEMORY_REQUEST", "requests.memory", "1Mi"),
        resource("DEFAULT_MEMORY_LIMIT", "limits.memory")],
        resources={"limits": {"cpu": "1250m"}, "requests": {"memory": "32Mi"}})
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    pod = _pod(apiserver, namespace, "downward-env")
    node = _api(apiserver, "GET", f"/api/v1/nodes/{pod['spec']['nodeName']}")
    assert (env["POD_NAME"], env["POD_NAMESPACE"], env["POD_UID"]) == ("downward-env", namespace,
                                                                     pod["metadata"]["uid"])
    assert env["POD_IP"] == pod["status"]["podIP"] and env["HOST_IP"] == pod["status"]["hostIP"]
    assert (env["CPU_LIMIT"], env["MEMORY_REQUEST"]) == ("1250", "32")
    allocatable = node["status"]["allocatable"]["memory"]
    assert allocatable.endswith("Ki") and env["DEFAULT_MEMORY_LIMIT"] == str(int(allocatable[:-2]) * 1024)


def test_pods_should_contain_environment_variables_for_services(apiserver, namespace):
    """Pods should contain environment variables for services (and none with enableServiceLinks false, but the
    master service's)."""
    service = _create(apiserver, namespace, "services", {"metadata": {"name": "fooservice"}, "spec": {
        "ports": [{"port": 8765, "targetPort": 8080, "protocol": "TCP"}], "selector": {"name": "srv"}}})
    ip = service["spec"]["clusterIP"]
    out = set(_output(apiserver, namespace, "svc-env", {}, command=["sh", "-c", "env"]).splitlines())
    assert {f"FOOSERVICE_SERVICE_HOST={ip}", "FOOSERVICE_SERVICE_PORT=8765", f"FOOSERVICE_PORT=tcp://{ip}:8765",
            f"FOOSERVICE_PORT_8765_TCP=tcp://{ip}:8765", "FOOSERVICE_PORT_8765_TCP_PROTO=tcp",
            "FOOSERVICE_PORT_8765_TCP_PORT=8765", f"FOOSERVICE_PORT_8765_TCP_ADDR={ip}"} <= out
    assert any(line.startswith("KUBERNETES_SERVICE_HOST=") for line in out)
    unlinked = _output(apiserver, namespace, "svc-nolinks", {"enableServiceLinks": False}, command=["sh", "-c", "env"])
    assert "FOOSERVICE" not in unlinked and "KUBERNETES_SERVICE_HOST=" in unlinked


def test_configmap_should_be_consumable_from_pods_in_volume_with_mappings_and_item_mode_set(apiserver, namespace):
    """ConfigMap should be consumable from pods in volume with mappings and Item mode set (and defaultMode)."""
    _config_map(apiserver, namespace, "cm-vol", **{"data-1": "value-1", "data-2": "value-2"})
    script = ('cd "$KUBE_VOLUMES_DIR"; cat mapped/path/to/data-2; echo; stat -L -c %a mapped/path/to/data-2; '
              'stat -L -c %a all/data-1; ls mapped')
    out = _output(apiserver, namespace, "cm-vol", {"volumes": [
        {"name": "mapped", "configMap": {"name": "cm-vol", "items": [
            {"key": "data-2", "path": "path/to/data-2", "mode": 0o400}]}},
        {"name": "all", "configMap": {"name": "cm-vol", "defaultMode": 0o440}}]},
        command=["sh", "-c", script])
    assert out.splitlines() == ["value-2", "400", "440", "path"]


def test_downward_api_volume_should_update_labels_on_modification(apiserver, namespace):
    """Downward API volume should update labels on modification (and a projected configMap its content)."""
    _config_map(apiserver, namespace, "cm-live", **{"data-1": "value-1"})
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "labels", "labels": {"key1": "value1"}},
           "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", (
               'while true; do cat "$KUBE_VOLUMES_DIR/info/labels"; echo; '
               'cat "$KUBE_VOLUMES_DIR/info/data-1"; echo; sleep 0.2; done')]}],
                    "volumes": [{"name": "info", "projected": {"sources": [
                        {"downwardAPI": {"items": [{"path": "labels",
                                                    "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                        {"configMap": {"name": "cm-live"}}]}}]}}
    _create(apiserver, namespace, "pods", pod)

    def logged(text):
        return lambda: text in _log(apiserver, namespace, "labels", tail=10, started=False)
    wait_for(logged('key1="value1"\nvalue-1\n'), timeout=30, what="the first labels")
    _api(apiserver, "PATCH", f"/api/v1/namespaces/{namespace}/pods/labels",
         {"metadata": {"labels": {"key3": "value3"}}})
    _api(apiserver, "PATCH", f"/api/v1/namespaces/{namespace}/configmaps/cm-live", {"data": {"data-1": "value-2"}})
    wait_for(logged('key1="value1"\nkey3="value3"\nvalue-2\n'), timeout=30, what="the updated labels")


def test_a_missing_configmap_volume_keeps_the_pod_pending_until_it_exists(apiserver, namespace):
    """ConfigMap optional updates: a non-optional missing ConfigMap keeps the container in ContainerCreating
    (as upstream's FailedMount does) until it is created; an optional one gives an empty volume."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "late"},
           "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "command": [
               "sh", "-c", 'cat "$KUBE_VOLUMES_DIR/cfg/data-1"; echo; ls "$KUBE_VOLUMES_DIR/opt" | wc -l']}],
                    "volumes": [{"name": "cfg", "configMap": {"name": "cm-late"}},
                                {"name": "opt", "configMap": {"name": "cm-never", "optional": True}}]}}
    _create(apiserver, namespace, "pods", pod)
    started = time.monotonic()
    wait_for(lambda: (_pod(apiserver, namespace, "late")["status"].get("containerStatuses") or [{}])[0]
             .get("state", {}).get("waiting", {}).get("reason") == "ContainerCreating", what="ContainerCreating")
    # Several resyncs (every 0.5 s) find it missing meanwhile, and nothing starts.
    while time.monotonic() - started < 1.5:
        assert _pod(apiserver, namespace, "late")["status"]["phase"] == "Pending"
        time.sleep(0.1)
    # The kubelet's FailedMount event says why: one Event, its count raised by the later tries.
    mounts = wait_for(lambda: [e for e in _api(apiserver, "GET", f"/api/v1/namespaces/{namespace}/events")["items"]
                               if e["reason"] == "FailedMount" and e["involvedObject"].get("name") == "late"],
                      what="the FailedMount event")
    assert {(e["type"], e["message"], e["source"].get("component")) for e in mounts} == {
        ("Warning", 'MountVolume.SetUp failed for volume "cfg" : configmap "cm-late" not found', "kubelet")}
    _config_map(apiserver, namespace, "cm-late", **{"data-1": "value-1"})
    wait_for(lambda: _pod(apiserver, namespace, "late")["status"]["phase"] == "Succeeded",
             timeout=30, what="the pod finished")
    assert _log(apiserver, namespace, "late").split() == ["value-1", "0"]

"""
Garbage collection and event TTL against a running server, through kubectl
(delete --cascade=background|foreground|orphan), the Python client's
DynamicClient and create_from_yaml, and a small kopf operator.
"""

from __future__ import annotations

import json
import textwrap
import time

import pytest

from tests.conformance.support import wait_for

from .conftest import APIServerProcess


def deployment(name):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def replica_set(name, owner, finalizers=()):
    """A ReplicaSet owned as the deployment controller would own it (controller, blockOwnerDeletion)."""
    app = owner["metadata"]["name"]
    meta = {"name": name, "namespace": "default", "labels": {"app": app},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": app,
                                 "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]}
    if finalizers:
        meta["finalizers"] = list(finalizers)
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta,
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": app}},
                     "template": {"metadata": {"labels": {"app": app}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def create_owned(kubectl, name, count=2, finalizers=()):
    kubectl("create", "-f", "-", input=json.dumps(deployment(name)))
    owner = kubectl.json("get", "deployment", name)
    for i in range(count):
        kubectl("create", "-f", "-", input=json.dumps(replica_set(f"{name}-rs{i}", owner, finalizers)))
    return owner


def replica_sets(kubectl, app):
    return kubectl.json("get", "rs", "-l", f"app={app}")["items"]


def test_kubectl_cascade_background(kubectl):
    """--cascade=background: the Deployment goes at once, its ReplicaSets right after."""
    create_owned(kubectl, "bg")
    kubectl("delete", "deployment", "bg", "--cascade=background")
    assert kubectl("get", "deployment", "bg", check=False).returncode == 1
    wait_for(lambda: not replica_sets(kubectl, "bg"), what="ReplicaSets collected")


def test_kubectl_cascade_foreground(kubectl):
    """--cascade=foreground: the Deployment waits with foregroundDeletion until its ReplicaSets are gone."""
    create_owned(kubectl, "fg", finalizers=["example.com/hold"])
    kubectl("delete", "deployment", "fg", "--cascade=foreground", "--wait=false")
    owner = kubectl.json("get", "deployment", "fg")
    assert owner["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert owner["metadata"]["deletionTimestamp"]
    wait_for(lambda: all(rs["metadata"].get("deletionTimestamp") for rs in replica_sets(kubectl, "fg")),
             what="ReplicaSets marked for deletion")
    time.sleep(0.5)
    assert kubectl("get", "deployment", "fg", check=False).returncode == 0, "owner went before its dependents"
    for rs in replica_sets(kubectl, "fg"):
        kubectl("patch", "rs", rs["metadata"]["name"], "--type=json",
                "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
    kubectl("wait", "--for=delete", "deployment/fg", "--timeout=60s")
    assert not replica_sets(kubectl, "fg")


def test_kubectl_cascade_foreground_waits_by_default(kubectl):
    """kubectl delete --cascade=foreground returns once the owner (and so its dependents) are gone."""
    create_owned(kubectl, "fgw")
    kubectl("delete", "deployment", "fgw", "--cascade=foreground", "--timeout=60s")
    assert not replica_sets(kubectl, "fgw")


def test_kubectl_cascade_orphan(kubectl):
    """--cascade=orphan: the Deployment goes, its ReplicaSets stay without the reference to it."""
    create_owned(kubectl, "or")
    kubectl("delete", "deployment", "or", "--cascade=orphan", "--timeout=60s")
    assert kubectl("get", "deployment", "or", check=False).returncode == 1
    items = replica_sets(kubectl, "or")
    assert len(items) == 2
    wait_for(lambda: all(not rs["metadata"].get("ownerReferences") for rs in replica_sets(kubectl, "or")),
             what="owner references removed")
    time.sleep(0.5)
    assert len(replica_sets(kubectl, "or")) == 2


def test_deprecated_orphan_dependents_and_both_set(apiserver):
    """orphanDependents=true orphans; with propagationPolicy as well it is a 422 naming both."""
    status, owner = apiserver.request("POST", "/api/v1/namespaces/default/configmaps",
                                      {"metadata": {"name": "dep-owner"}})
    assert status == 201
    status, _ = apiserver.request("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {
        "name": "dep-child", "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "dep-owner",
                                                  "uid": owner["metadata"]["uid"]}]}})
    assert status == 201
    status, body = apiserver.request("DELETE", "/api/v1/namespaces/default/configmaps/dep-owner",
                                     {"orphanDependents": True, "propagationPolicy": "Background"})
    assert status == 422
    assert body["message"] == ('DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: '
                               '"Background": orphanDependents and deletionPropagation cannot be both set')
    status, body = apiserver.request("DELETE", "/api/v1/namespaces/default/configmaps/dep-owner",
                                     {"orphanDependents": True})
    assert status == 200 and body["metadata"]["finalizers"] == ["orphan"]
    wait_for(lambda: apiserver.request("GET", "/api/v1/namespaces/default/configmaps/dep-owner")[0] == 404)
    wait_for(lambda: not apiserver.request(
        "GET", "/api/v1/namespaces/default/configmaps/dep-child")[1]["metadata"].get("ownerReferences"))


def test_dependent_of_missing_owner_is_collected(apiserver):
    """An object naming an owner that does not exist is deleted by the collector."""
    status, _ = apiserver.request("POST", "/api/v1/namespaces/default/secrets", {"metadata": {
        "name": "stray", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "nothere",
                                              "uid": "6d7f9a1e-0000-4000-8000-000000000000"}]}})
    assert status == 201
    wait_for(lambda: apiserver.request("GET", "/api/v1/namespaces/default/secrets/stray")[0] == 404,
             what="stray secret collected")


def test_dynamic_client_foreground_delete(k8s):
    """DynamicClient: delete with propagationPolicy=Foreground marks the owner, then both go."""
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import NotFoundError
    dyn = DynamicClient(k8s)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    replicasets = dyn.resources.get(api_version="apps/v1", kind="ReplicaSet")
    owner = deployments.create(body=deployment("dyn"), namespace="default").to_dict()
    replicasets.create(body=replica_set("dyn-rs", owner), namespace="default")
    deleted = deployments.delete(name="dyn", namespace="default", body={"propagationPolicy": "Foreground"})
    assert "foregroundDeletion" in deleted.metadata.finalizers

    def gone(resource, name):
        try:
            resource.get(name=name, namespace="default")
            return False
        except NotFoundError:
            return True
    wait_for(lambda: gone(deployments, "dyn") and gone(replicasets, "dyn-rs"), what="both deleted")


def test_create_from_yaml_then_cascade(k8s, tmp_path):
    """kubernetes.utils.create_from_yaml creates a multi-document file; deleting the owner collects the rest."""
    from kubernetes import client, utils
    path = tmp_path / "app.yaml"
    path.write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: yaml-owner
        data:
          a: "1"
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: yaml-app
          labels: {app: yaml-app}
        spec:
          selector: {matchLabels: {app: yaml-app}}
          template:
            metadata: {labels: {app: yaml-app}}
            spec:
              containers: [{name: c, image: nginx}]
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: yaml-svc
        spec:
          selector: {app: yaml-app}
          ports: [{port: 80}]
        """))
    created = utils.create_from_yaml(k8s, str(path), namespace="default")
    assert [type(o[0]).__name__ for o in created] == ["V1ConfigMap", "V1Deployment", "V1Service"]
    core, apps = client.CoreV1Api(k8s), client.AppsV1Api(k8s)
    owner = core.read_namespaced_config_map("yaml-owner", "default")
    apps.patch_namespaced_deployment("yaml-app", "default", {"metadata": {"ownerReferences": [{
        "apiVersion": "v1", "kind": "ConfigMap", "name": "yaml-owner", "uid": owner.metadata.uid}]}})
    core.delete_namespaced_config_map("yaml-owner", "default", propagation_policy="Background")

    def deployment_gone():
        try:
            apps.read_namespaced_deployment("yaml-app", "default")
            return False
        except client.ApiException as e:
            return e.status == 404
    wait_for(deployment_gone, what="Deployment collected")
    assert core.read_namespaced_service("yaml-svc", "default").metadata.name == "yaml-svc"


@pytest.fixture(scope="module")
def short_ttl_server(tmp_path_factory):
    server = APIServerProcess(tmp_path_factory.mktemp("ttl") / "data", args=("--event-ttl=6s",)).start()
    yield server
    server.stop()


def test_events_expire_after_event_ttl(short_ttl_server):
    """With --event-ttl=6s an event is served (core and events.k8s.io), still a second later, and then expires.
    (6 s: the reads before it expires must not lose a race with it on a loaded machine.)"""
    server = short_ttl_server
    status, _ = server.request("POST", "/api/v1/namespaces/default/events", {
        "metadata": {"name": "ev1"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
        "reason": "Tested", "message": "hello", "type": "Normal"})
    assert status == 201
    assert server.request("GET", "/apis/events.k8s.io/v1/namespaces/default/events/ev1")[0] == 200
    time.sleep(1.0)
    assert server.request("GET", "/api/v1/namespaces/default/events/ev1")[0] == 200
    wait_for(lambda: server.request("GET", "/api/v1/namespaces/default/events/ev1")[0] == 404, timeout=30,
             what="event expired")


def _job(name):
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "default"},
            "spec": {"suspend": True, "template": {"spec": {"restartPolicy": "Never",
                                                            "containers": [{"name": "c", "image": "busybox"}]}}}}


def _pod_of(job):
    name = job["metadata"]["name"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": f"{name}-pod", "namespace": "default",
        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": job["metadata"]["uid"],
                             "controller": True, "blockOwnerDeletion": True}]},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def test_a_job_deleted_without_a_policy_orphans_its_pods_and_says_so(kubectl):
    """batch/v1 Jobs orphan their pods by default, as upstream keeps them: a delete naming no propagation
    (a client's plain DELETE) is warned so, marks the Job with the orphan finalizer, and the collector takes
    the pod's reference off before the Job goes; kubectl's delete (propagation Background) is not warned and
    the pod goes with the Job. A deletecollection naming no policy is warned too."""
    pods = {}
    for name in ("jorphan", "jkubectl"):
        kubectl("create", "-f", "-", input=json.dumps(_job(name)))
        kubectl("create", "-f", "-", input=json.dumps(_pod_of(kubectl.json("get", "job", name))))
        pods[name] = kubectl.json("get", "pod", f"{name}-pod")
    plain = kubectl("delete", "--raw", "/apis/batch/v1/namespaces/default/jobs/jorphan")
    assert "Warning: child pods are preserved by default when jobs are deleted; set propagationPolicy=" \
           "Background to remove them or set propagationPolicy=Orphan to suppress this warning" in plain.stderr
    marked = json.loads(plain.stdout)
    assert marked["kind"] == "Job" and marked["metadata"]["finalizers"] == ["orphan"]
    assert marked["metadata"]["deletionTimestamp"]
    kubectl("wait", "--for=delete", "job/jorphan", "--timeout=60s")
    kept = kubectl.json("get", "pod", "jorphan-pod")
    assert kept["metadata"]["uid"] == pods["jorphan"]["metadata"]["uid"]
    assert not kept["metadata"].get("ownerReferences")
    collection = kubectl("delete", "--raw", "/apis/batch/v1/namespaces/default/jobs?labelSelector=none%3Dhere")
    assert "Warning: child pods are preserved by default" in collection.stderr      # deletecollection too
    cascaded = kubectl("delete", "job", "jkubectl", "--timeout=60s")
    assert "Warning" not in cascaded.stderr
    wait_for(lambda: kubectl("get", "pod", "jkubectl-pod", check=False).returncode == 1, what="the Job's pod collected")


def test_orphan_dependents_false_on_an_object_kept_is_accepted(apiserver):
    """The deprecated orphanDependents=false on an object its finalizer keeps: 202 Accepted with the object (as
    upstream answers that case alone); the same delete of one that goes at once: 200."""
    for name, finalizers in (("od-kept", ["example.com/hold"]), ("od-gone", [])):
        status, _ = apiserver.request("POST", "/api/v1/namespaces/default/configmaps",
                                      {"metadata": {"name": name, "finalizers": finalizers}})
        assert status == 201
    status, body = apiserver.request("DELETE", "/api/v1/namespaces/default/configmaps/od-kept?orphanDependents=false")
    assert status == 202 and body["kind"] == "ConfigMap" and body["metadata"]["deletionTimestamp"]
    status, body = apiserver.request("DELETE", "/api/v1/namespaces/default/configmaps/od-gone?orphanDependents=false")
    assert status == 200 and body["status"] == "Success"
    status, body = apiserver.request("DELETE", "/api/v1/namespaces/default/configmaps/od-kept")
    assert status == 200
    apiserver.request("PATCH", "/api/v1/namespaces/default/configmaps/od-kept", {"metadata": {"finalizers": None}},
                      headers={"Content-Type": "application/merge-patch+json"})

"""resourcequota-controller against a real apiserver without its ResourceQuota admission plugin (so only the
controller writes quota status): status.hard mirrors spec.hard, status.used counts what the namespace holds, by
scope, and usage is given back when pods finish or objects go."""

from __future__ import annotations

import pytest

from kapiserver.client.resources import (CONFIG_MAPS, DEPLOYMENTS, PERSISTENT_VOLUME_CLAIMS, PODS, RESOURCE_QUOTAS,
                                         SERVICES)
from kapiserver.controllermanager.resourcequota import calculate_status, resources_for
from kapiserver.node.simulated import RUN_SECONDS_ANNOTATION
from tests.controllermanager.conftest import eventually, run
from tests.e2e.conftest import APIServerProcess


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory):
    server = APIServerProcess(tmp_path_factory.mktemp("apiserver") / "data",
                              args=("--disable-admission-plugins=ResourceQuota",))
    server.start()
    yield server
    server.stop()


def pod(name, namespace, requests=None, limits=None, node=None, deadline=None, priority_class=None, **annotations):
    resources = {k: v for k, v in (("requests", requests), ("limits", limits)) if v}
    spec = {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "resources": resources}]}
    if node:
        spec["nodeName"] = node
    if deadline:
        spec["activeDeadlineSeconds"] = deadline
    if priority_class:
        spec["priorityClassName"] = priority_class
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace,
                                                            "annotations": annotations}, "spec": spec}


def quota(name, namespace, hard, scopes=None, scope_selector=None):
    spec = {"hard": hard}
    if scopes:
        spec["scopes"] = scopes
    if scope_selector:
        spec["scopeSelector"] = {"matchExpressions": scope_selector}
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name, "namespace": namespace},
            "spec": spec}


def used(client, namespace, name):
    return (run(client.get(RESOURCE_QUOTAS, name, namespace)).get("status") or {}).get("used")


def root_ca_published(client, namespace):
    """Wait for the apiserver's embedded root-ca publisher to write kube-root-ca.crt in ``namespace`` (as upstream's
    e2e framework waits for it), so that quotas count it from the start: one configmap more in every count."""
    eventually(lambda: run(client.get(CONFIG_MAPS, "kube-root-ca.crt", namespace)))


def test_hard_keys_map_to_the_resources_they_count():
    """Legacy names, count/<resource>.<group>, compute, services.* and requests.storage name their resource."""
    assert resources_for("pods") == ("", "pods") and resources_for("requests.cpu") == ("", "pods")
    assert resources_for("count/deployments.apps") == ("apps", "deployments")
    assert resources_for("services.nodeports") == ("", "services")
    assert resources_for("requests.storage") == ("", "persistentvolumeclaims")
    assert resources_for("gold.storageclass.storage.k8s.io/requests.storage") == ("", "persistentvolumeclaims")
    assert resources_for("requests.example.com/dongle") == ("", "pods")
    assert resources_for("nothing-known") is None


def test_calculate_status_counts_only_what_the_scopes_select():
    """A BestEffort quota counts the pods without requests or limits; a terminal pod counts in count/pods only."""
    pods = [pod("a", "ns"), pod("b", "ns", requests={"cpu": "100m"}),
            {**pod("c", "ns"), "status": {"phase": "Succeeded"}}]
    best_effort = quota("q", "ns", {"pods": "10", "count/pods": "10"}, scopes=["BestEffort"])
    status = calculate_status(best_effort, lambda target: pods if target == ("", "pods") else [])
    assert status == {"hard": {"pods": "10", "count/pods": "10"}, "used": {"pods": "1", "count/pods": "2"}}


def test_status_mirrors_hard_and_counts_usage(client, namespace, controllers):
    """Pods with their requests and limits, configmaps, a NodePort service, a claim's storage and deployments (a
    generic count) are counted; a changed spec.hard is mirrored."""
    controllers("resourcequota-controller")
    root_ca_published(client, namespace)
    run(client.create(PODS, pod("p1", namespace, requests={"cpu": "100m", "memory": "64Mi"},
                                limits={"cpu": "200m", "memory": "128Mi"})))
    run(client.create(PODS, pod("p2", namespace, requests={"cpu": "250m"})))
    run(client.create(CONFIG_MAPS, {"metadata": {"name": "cm", "namespace": namespace}}))
    run(client.create(SERVICES, {"metadata": {"name": "svc", "namespace": namespace}, "spec": {
        "type": "NodePort", "ports": [{"port": 80, "name": "a"}, {"port": 81, "name": "b"}]}}))
    run(client.create(PERSISTENT_VOLUME_CLAIMS, {"metadata": {"name": "claim", "namespace": namespace}, "spec": {
        "accessModes": ["ReadWriteOnce"], "storageClassName": "gold",
        "resources": {"requests": {"storage": "1Gi"}}}}))
    run(client.create(DEPLOYMENTS, {"metadata": {"name": "d", "namespace": namespace}, "spec": {
        "replicas": 0, "selector": {"matchLabels": {"a": "b"}},
        "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}))
    hard = {"pods": "10", "requests.cpu": "2", "requests.memory": "1Gi", "limits.cpu": "4", "limits.memory": "2Gi",
            "configmaps": "5", "services": "3", "services.nodeports": "4", "services.loadbalancers": "1",
            "persistentvolumeclaims": "2", "requests.storage": "10Gi", "count/deployments.apps": "2",
            "resourcequotas": "1", "gold.storageclass.storage.k8s.io/requests.storage": "5Gi",
            "gold.storageclass.storage.k8s.io/persistentvolumeclaims": "2",
            "bronze.storageclass.storage.k8s.io/requests.storage": "5Gi"}
    run(client.create(RESOURCE_QUOTAS, quota("compute", namespace, hard)))
    expected = {"pods": "2", "requests.cpu": "350m", "requests.memory": "64Mi", "limits.cpu": "200m",
                "limits.memory": "128Mi", "configmaps": "2", "services": "1", "services.nodeports": "2",
                "services.loadbalancers": "0", "persistentvolumeclaims": "1", "requests.storage": "1Gi",
                "count/deployments.apps": "1", "resourcequotas": "1",
                "gold.storageclass.storage.k8s.io/requests.storage": "1Gi",
                "gold.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
                "bronze.storageclass.storage.k8s.io/requests.storage": "0"}
    eventually(lambda: used(client, namespace, "compute") == expected)
    assert run(client.get(RESOURCE_QUOTAS, "compute", namespace))["status"]["hard"] == hard
    run(client.patch(RESOURCE_QUOTAS, "compute", {"spec": {"hard": {"pods": "3"}}}, namespace))
    eventually(lambda: run(client.get(RESOURCE_QUOTAS, "compute", namespace))["status"]["hard"]["pods"] == "3")


def test_usage_is_given_back_when_pods_finish_or_objects_go(client, namespace, controllers, simulated_nodes):
    """A pod that finishes stops counting in pods and compute (count/pods keeps it until it is deleted); a deleted
    configmap and a deleted deployment are given back."""
    controllers("resourcequota-controller")
    simulated_nodes("quota-node")
    root_ca_published(client, namespace)
    run(client.create(RESOURCE_QUOTAS, quota("q", namespace, {"pods": "5", "count/pods": "5", "requests.cpu": "1",
                                                              "configmaps": "5", "count/deployments.apps": "3"})))
    run(client.create(PODS, pod("short", namespace, requests={"cpu": "300m"}, node="quota-node",
                                **{RUN_SECONDS_ANNOTATION: "0.5"})))
    run(client.create(PODS, pod("long", namespace, requests={"cpu": "100m"}, node="quota-node")))
    run(client.create(CONFIG_MAPS, {"metadata": {"name": "cm", "namespace": namespace}}))
    run(client.create(DEPLOYMENTS, {"metadata": {"name": "d", "namespace": namespace}, "spec": {
        "replicas": 0, "selector": {"matchLabels": {"a": "b"}},
        "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}))
    eventually(lambda: used(client, namespace, "q") == {"pods": "1", "count/pods": "2", "requests.cpu": "100m",
                                                        "configmaps": "2", "count/deployments.apps": "1"}, timeout=20)
    run(client.delete(CONFIG_MAPS, "cm", namespace))
    run(client.delete(DEPLOYMENTS, "d", namespace))
    run(client.delete(PODS, "short", namespace))
    eventually(lambda: used(client, namespace, "q") == {"pods": "1", "count/pods": "1", "requests.cpu": "100m",
                                                        "configmaps": "1", "count/deployments.apps": "0"})


def test_scopes(client, namespace, controllers):
    """Terminating/NotTerminating, BestEffort/NotBestEffort and PriorityClass scopes count only their pods."""
    controllers("resourcequota-controller")
    run(client.create(PODS, pod("plain", namespace)))
    run(client.create(PODS, pod("deadline", namespace, requests={"cpu": "1"}, limits={"cpu": "1"}, deadline=60)))
    run(client.create(PODS, pod("high", namespace, priority_class="system-cluster-critical")))
    for name, scopes, selector in (("terminating", ["Terminating"], None), ("not-terminating", ["NotTerminating"], None),
                                   ("best-effort", ["BestEffort"], None), ("not-best-effort", ["NotBestEffort"], None),
                                   ("critical", None, [{"scopeName": "PriorityClass", "operator": "In",
                                                        "values": ["system-cluster-critical"]}])):
        run(client.create(RESOURCE_QUOTAS, quota(name, namespace, {"pods": "10"}, scopes, selector)))
    expected = {"terminating": "1", "not-terminating": "2", "best-effort": "2", "not-best-effort": "1",
                "critical": "1"}
    eventually(lambda: {n: (used(client, namespace, n) or {}).get("pods") for n in expected} == expected)


def test_kubectl_describe_quota_shows_used_and_hard(client, namespace, controllers, kubectl):
    """kubectl describe resourcequota reads the controller's status: used against hard per resource."""
    controllers("resourcequota-controller")
    root_ca_published(client, namespace)
    run(client.create(CONFIG_MAPS, {"metadata": {"name": "cm", "namespace": namespace}}))
    run(client.create(RESOURCE_QUOTAS, quota("objects", namespace, {"configmaps": "4"})))
    eventually(lambda: used(client, namespace, "objects") == {"configmaps": "2"})
    out = kubectl("describe", "resourcequota", "objects", "-n", namespace).stdout
    assert [line.split() for line in out.splitlines() if line.startswith("configmaps")] == [["configmaps", "2", "4"]]

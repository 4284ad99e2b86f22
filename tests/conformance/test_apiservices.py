"""The local APIServices, as kube-aggregator registers them: one per served group-version, Available (Local),
custom resource group-versions included while they are served; APIServices validated as upstream's; a
remote APIService (naming a service) is stored and left alone by the registration (its Available condition is
the availability controller's: tests/e2e/test_aggregator.py)."""

from __future__ import annotations

import time

from tests.conformance.support import CRDS, wait_for

APISERVICES = "/apis/apiregistration.k8s.io/v1/apiservices"


def local(apiserver, name):
    status, body = apiserver.request("GET", f"{APISERVICES}/{name}")
    return body if status == 200 and (body.get("status") or {}).get("conditions") else None


def test_every_served_group_version_has_a_local_available_apiservice(apiserver):
    core = wait_for(lambda: local(apiserver, "v1."))
    assert core["spec"] == {"group": "", "version": "v1", "groupPriorityMinimum": 18000, "versionPriority": 1}
    assert core["metadata"]["labels"] == {"kube-aggregator.kubernetes.io/automanaged": "onstart"}
    condition, = core["status"]["conditions"]
    assert (condition["type"], condition["status"], condition["reason"], condition["message"]) == (
        "Available", "True", "Local", "Local APIServices are always available")
    apps = wait_for(lambda: local(apiserver, "v1.apps"))
    assert (apps["spec"]["groupPriorityMinimum"], apps["spec"]["versionPriority"]) == (17800, 15)
    wanted = {"v1.", "v1.apps", "v2.autoscaling", "v1.autoscaling", "v1.apiregistration.k8s.io",
              "v1.scheduling.k8s.io", "v1.storage.k8s.io"}

    def names():
        return {item["metadata"]["name"] for item in apiserver.request("GET", APISERVICES)[1]["items"]}
    assert wanted <= wait_for(lambda: names() if wanted <= names() else None)


def test_kubectl_get_apiservices(kubectl):
    wait_for(lambda: local(kubectl.server, "v1.batch"))
    lines = kubectl("get", "apiservices").stdout.splitlines()
    assert lines[0].split() == ["NAME", "SERVICE", "AVAILABLE", "AGE"]
    assert any(line.split()[:3] == ["v1.batch", "Local", "True"] for line in lines[1:])


def test_custom_resource_group_versions_come_and_go(apiserver):
    group = "apiservice.example.com"
    status, body = apiserver.request("POST", CRDS, {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gizmos.{group}"},
        "spec": {"group": group, "scope": "Namespaced", "names": {"plural": "gizmos", "kind": "Gizmo"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                     "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}})
    assert status == 201, body
    registered = wait_for(lambda: local(apiserver, f"v1.{group}"))
    assert registered["spec"] == {"group": group, "version": "v1", "groupPriorityMinimum": 1000,
                                  "versionPriority": 100}
    assert registered["metadata"]["labels"] == {"kube-aggregator.kubernetes.io/automanaged": "true"}
    apiserver.request("DELETE", f"{CRDS}/gizmos.{group}")
    assert wait_for(lambda: apiserver.request("GET", f"{APISERVICES}/v1.{group}")[0] == 404)


def test_apiservices_are_validated_and_remote_ones_stored(apiserver):
    status, body = apiserver.request("POST", APISERVICES, {
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "wrong"},
        "spec": {"group": "metrics.example.com", "version": "v1beta1", "groupPriorityMinimum": 100,
                 "versionPriority": 100, "caBundle": "YWJj"}})
    assert status == 422
    assert [(c["field"], c["message"]) for c in body["details"]["causes"]] == [
        ("metadata.name", 'Invalid value: "wrong": must be `spec.version+"."+spec.group`: '
                          '"v1beta1.metrics.example.com"'),
        ("spec.caBundle", 'Invalid value: "3 bytes": local APIServices may not have a caBundle')]
    status, created = apiserver.request("POST", APISERVICES, {
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
        "metadata": {"name": "v1beta1.metrics.example.com"},
        "spec": {"group": "metrics.example.com", "version": "v1beta1", "groupPriorityMinimum": 100,
                 "versionPriority": 100, "insecureSkipTLSVerify": True,
                 "service": {"namespace": "kube-system", "name": "metrics-server"}}})
    assert status == 201, created
    time.sleep(1.5)     # the registration's next look: a remote APIService is not its to change or remove
    status, kept = apiserver.request("GET", f"{APISERVICES}/v1beta1.metrics.example.com")
    assert status == 200 and kept["spec"]["service"] == {"namespace": "kube-system", "name": "metrics-server"}
    apiserver.request("DELETE", f"{APISERVICES}/v1beta1.metrics.example.com")

"""The [sig-node] entries an API server alone passes for ConfigMaps, Secrets, Leases, Nodes, PodTemplates,
QoS classes and RuntimeClass admission (test/e2e/common/node/{configmap,secrets,lease,node_lifecycle,
podtemplates,runtimeclass}.go and test/e2e/node/pods.go). Upstream's client-go calls are raw requests here;
where it retries on conflict, a single GET and PUT does (nothing else writes these objects)."""

from __future__ import annotations

import base64

from tests.conformance.support import STRATEGIC, ok, unique, wait_for

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
LEASES = "/apis/coordination.k8s.io/v1"
RUNTIME_CLASSES = "/apis/node.k8s.io/v1/runtimeclasses"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_configmap_with_empty_key(apiserver, namespace):
    """ConfigMap, with empty-key"""
    status, body = apiserver.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": unique("configmap-test-emptykey")},
        "data": {"": "value-1\n"}})
    assert status == 422 and body["reason"] == "Invalid", body


def test_configmap_lifecycle(apiserver, namespace):
    """ConfigMap lifecycle"""
    configmaps = f"/api/v1/namespaces/{namespace}/configmaps"
    name = unique("e2e-configmap")
    ok(apiserver.request("POST", configmaps, {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"test-configmap-static": "true"}}, "data": {"valueName": "value"}}))
    got = ok(apiserver.request("GET", f"{configmaps}/{name}"))
    assert got["data"] == {"valueName": "value"}

    patch = {"metadata": {"labels": {"test-configmap": "patched"}}, "data": {"valueName": "value1"}}
    ok(apiserver.request("PATCH", f"{configmaps}/{name}", patch, headers=STRATEGIC))

    listed = ok(apiserver.request("GET", "/api/v1/configmaps?labelSelector=test-configmap%3Dpatched"))
    found = [cm for cm in listed["items"] if (cm["metadata"]["name"], cm["metadata"]["namespace"]) == (name, namespace)]
    assert len(found) == 1, listed
    assert found[0]["metadata"]["labels"] == {"test-configmap-static": "true", "test-configmap": "patched"}
    assert found[0]["data"]["valueName"] == "value1"

    ok(apiserver.request("DELETE", f"{configmaps}?labelSelector=test-configmap-static%3Dtrue"))
    listed = ok(apiserver.request("GET", f"{configmaps}?labelSelector=test-configmap-static%3Dtrue"))
    assert listed["items"] == []


def test_secrets_with_empty_key(apiserver, namespace):
    """Secrets, with empty-key"""
    status, body = apiserver.request("POST", f"/api/v1/namespaces/{namespace}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": unique("secret-emptykey-test")},
        "data": {"": b64("value-1\n")}})
    assert status == 422 and body["reason"] == "Invalid", body


def test_secret_patching(apiserver, namespace):
    """Secret patching"""
    secrets = f"/api/v1/namespaces/{namespace}/secrets"
    name = unique("test-secret")
    created = ok(apiserver.request("POST", secrets, {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": name, "labels": {"testsecret-constant": "true"}}, "data": {"key": b64("value")}}))
    assert created["metadata"]["resourceVersion"]

    def listed_here():
        listed = ok(apiserver.request("GET", "/api/v1/secrets?labelSelector=testsecret-constant%3Dtrue"))
        return [s for s in listed["items"] if (s["metadata"]["name"], s["metadata"]["namespace"]) == (name, namespace)]
    assert listed_here()

    # upstream marshals []byte(base64("value1")) into the patch, so the secret's bytes are base64("value1")
    patch = {"metadata": {"labels": {"testsecret": "true"}}, "data": {"key": b64(b64("value1"))}}
    ok(apiserver.request("PATCH", f"{secrets}/{name}", patch, headers=STRATEGIC))
    got = ok(apiserver.request("GET", f"{secrets}/{name}"))
    assert int(got["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    assert base64.b64decode(base64.b64decode(got["data"]["key"])) == b"value1"

    ok(apiserver.request("DELETE", f"{secrets}?labelSelector=testsecret%3Dtrue"))
    assert listed_here() == []


def lease_spec(holder, duration, acquired, renewed, transitions):
    """A LeaseSpec whose times are seconds after Go's zero time (0001-01-01), as upstream's are."""
    def micro_time(seconds):
        return f"0001-01-01T00:{seconds // 60:02d}:{seconds % 60:02d}.000000Z"
    return {"holderIdentity": holder, "leaseDurationSeconds": duration, "acquireTime": micro_time(acquired),
            "renewTime": micro_time(renewed), "leaseTransitions": transitions}


def test_lease_api_should_be_available(apiserver, namespace):
    """lease API should be available"""
    leases = f"{LEASES}/namespaces/{namespace}/leases"
    spec = lease_spec("holder", 30, 2, 5, 0)
    created = ok(apiserver.request("POST", leases, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                                    "metadata": {"name": "lease"}, "spec": spec}))
    assert created["metadata"]["resourceVersion"]
    assert ok(apiserver.request("GET", f"{leases}/lease"))["spec"] == spec

    created["spec"] = lease_spec("holder2", 30, 20, 50, 1)
    ok(apiserver.request("PUT", f"{leases}/lease", created))
    read = ok(apiserver.request("GET", f"{leases}/lease"))
    assert read["spec"] == created["spec"]

    # upstream's two-way strategic merge patch from the read lease to the patched one
    patched_spec = lease_spec("holder3", 60, 50, 70, 2)
    ok(apiserver.request("PATCH", f"{leases}/lease", {"spec": patched_spec}, headers=STRATEGIC))
    read = ok(apiserver.request("GET", f"{leases}/lease"))
    assert read["spec"] == patched_spec
    assert int(read["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])

    ok(apiserver.request("POST", leases, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                          "metadata": {"name": "lease2", "labels": {"deletecollection": "true"}},
                                          "spec": spec}))
    assert len(ok(apiserver.request("GET", leases))["items"]) == 2
    ok(apiserver.request("DELETE", f"{leases}?labelSelector=deletecollection%3Dtrue"))
    assert [i["metadata"]["name"] for i in ok(apiserver.request("GET", leases))["items"]] == ["lease"]

    ok(apiserver.request("DELETE", f"{leases}/lease"))
    status, body = apiserver.request("GET", f"{leases}/lease")
    assert status == 404 and body["reason"] == "NotFound", body
    ok(apiserver.request("GET", f"{LEASES}/leases"))


def test_node_resource_lifecycle(apiserver):
    """Node, resource lifecycle"""
    name = unique("e2e-fake-node")
    created = ok(apiserver.request("POST", "/api/v1/nodes", {
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {"unschedulable": True},
        "status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "reason": "E2E", "message": "Set from e2e test"}]}}))
    assert created["metadata"]["name"] == name
    assert ok(apiserver.request("GET", f"/api/v1/nodes/{name}"))["metadata"]["name"] == name

    patched = ok(apiserver.request("PATCH", f"/api/v1/nodes/{name}",
                                   {"metadata": {"labels": {name: "patched"}}}, headers=STRATEGIC))
    assert patched["metadata"]["labels"][name] == "patched"
    listed = ok(apiserver.request("GET", f"/api/v1/nodes?labelSelector={name}%3Dpatched"))
    assert len(listed["items"]) == 1

    node = ok(apiserver.request("GET", f"/api/v1/nodes/{name}"))
    node["metadata"]["labels"][name] = "updated"
    updated = ok(apiserver.request("PUT", f"/api/v1/nodes/{name}", node))
    assert updated["metadata"]["labels"][name] == "updated"

    ok(apiserver.request("DELETE", f"/api/v1/nodes/{name}"))
    wait_for(lambda: apiserver.request("GET", f"/api/v1/nodes/{name}")[0] == 404, what="the node's deletion")


def pod_template(name, labels=None, container="e2e-test"):
    return {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": name, "labels": labels or {}},
            "template": {"spec": {"containers": [{"name": container, "image": AGNHOST}]}}}


def test_podtemplate_lifecycle(apiserver, namespace):
    """PodTemplate lifecycle"""
    templates = f"/api/v1/namespaces/{namespace}/podtemplates"
    everywhere = "/api/v1/podtemplates?labelSelector=podtemplate-static%3Dtrue"
    assert ok(apiserver.request("GET", everywhere))["items"] == []
    name = unique("nginx-pod-template")
    ok(apiserver.request("POST", templates, pod_template(name, {"podtemplate-static": "true"}, "nginx")))
    assert ok(apiserver.request("GET", f"{templates}/{name}"))["metadata"]["name"] == name

    ok(apiserver.request("PATCH", f"{templates}/{name}", {"metadata": {"labels": {"podtemplate": "patched"}}},
                         headers=STRATEGIC))
    assert ok(apiserver.request("GET", f"{templates}/{name}"))["metadata"]["labels"]["podtemplate"] == "patched"

    ok(apiserver.request("DELETE", f"{templates}/{name}"))
    assert ok(apiserver.request("GET", everywhere))["items"] == []


def test_podtemplate_delete_a_collection(apiserver, namespace):
    """PodTemplate, delete a collection"""
    templates = f"/api/v1/namespaces/{namespace}/podtemplates"
    selector = "labelSelector=podtemplate-set%3Dtrue"
    for i in (1, 2, 3):
        ok(apiserver.request("POST", templates, pod_template(f"test-podtemplate-{i}", {"podtemplate-set": "true"},
                                                             "token-test")))
    assert len(ok(apiserver.request("GET", f"{templates}?{selector}"))["items"]) == 3
    ok(apiserver.request("DELETE", f"{templates}?{selector}"))
    wait_for(lambda: ok(apiserver.request("GET", f"{templates}?{selector}"))["items"] == [],
             what="the pod templates' deletion")


def test_podtemplate_replace(apiserver, namespace):
    """PodTemplate, replace"""
    templates = f"/api/v1/namespaces/{namespace}/podtemplates"
    name = unique("podtemplate")
    ok(apiserver.request("POST", templates, pod_template(name)))
    current = ok(apiserver.request("GET", f"{templates}/{name}"))
    current["metadata"]["annotations"] = {"updated": "true"}
    updated = ok(apiserver.request("PUT", f"{templates}/{name}", current))
    assert updated["metadata"]["annotations"]["updated"] == "true"
    assert ok(apiserver.request("GET", f"{templates}/{name}"))["metadata"]["annotations"]["updated"] == "true"


def test_pods_qos(apiserver, namespace):
    """Pods, QOS: a pod whose containers' cpu and memory requests equal their limits MUST have
    status.qosClass Guaranteed (the API server sets it at creation)."""
    resources = {"cpu": "100m", "memory": "100Mi"}
    name = unique("pod-qos-class")
    ok(apiserver.request("POST", f"/api/v1/namespaces/{namespace}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"name": name}},
        "spec": {"containers": [{"name": "agnhost", "image": AGNHOST, "args": ["pause"],
                                 "resources": {"limits": resources, "requests": resources}}]}}))
    assert ok(apiserver.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}"))["status"]["qosClass"] \
        == "Guaranteed"


def runtime_class_pod(name, runtime_class):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"runtimeClassName": runtime_class,
                     "containers": [{"name": "test", "image": "registry.k8s.io/pause:3.10"}]}}


def test_pod_with_the_non_existing_runtimeclass_is_rejected(apiserver, namespace):
    """Pod with the non-existing RuntimeClass is rejected.: RuntimeClass admission MUST refuse (403) a pod
    naming a RuntimeClass that does not exist."""
    status, body = apiserver.request("POST", f"/api/v1/namespaces/{namespace}/pods",
                                     runtime_class_pod(unique("test-runtimeclass"), unique("nonexistent")))
    assert status == 403 and body["reason"] == "Forbidden", body


def test_pod_with_the_deleted_runtimeclass_is_rejected(apiserver, namespace):
    """Pod with the deleted RuntimeClass is rejected.: once a RuntimeClass is deleted (and confirmed gone),
    RuntimeClass admission MUST refuse (403) a pod naming it."""
    name = unique("e2e-runtimeclass")
    ok(apiserver.request("POST", RUNTIME_CLASSES, {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                                                   "metadata": {"name": name}, "handler": "runc"}))
    ok(apiserver.request("DELETE", f"{RUNTIME_CLASSES}/{name}"))
    wait_for(lambda: apiserver.request("GET", f"{RUNTIME_CLASSES}/{name}")[0] == 404, what="the RuntimeClass gone")
    status, body = apiserver.request("POST", f"/api/v1/namespaces/{namespace}/pods",
                                     runtime_class_pod(unique("test-runtimeclass"), name))
    assert status == 403 and body["reason"] == "Forbidden", body

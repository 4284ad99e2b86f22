"""Namespaces as the [sig-api-machinery] Namespaces conformance entries use them: deletion takes the
namespace's content with it, patch and update of the namespace, its /status and its /finalize
subresources.

The deletion entries, upstream, first wait for the namespace's default ServiceAccount (made by
kube-controller-manager, here by the apiserver's embedded controllers: without it ServiceAccount admission
refuses the pod) and for the pod to run (a kubelet, which an API server alone does not have), then go to
what the entries are about: what the deletion removes."""

from __future__ import annotations

from tests.conformance.support import MERGE, STRATEGIC, default_service_account, ok, unique, wait_for

NAMESPACES = "/api/v1/namespaces"


def create_namespace(server, name, labels=None):
    """The namespace, once it has its default ServiceAccount (the e2e framework's CreateNamespace waits for it:
    a pod created before the serviceaccount controller has made it may be refused)."""
    metadata = {"name": name, **({"labels": labels} if labels else {})}
    created = ok(server.request("POST", NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}))
    wait_for(lambda: server.request("GET", f"{NAMESPACES}/{name}/serviceaccounts/default")[0] == 200, timeout=60,
             what=f"the default ServiceAccount of {name}")
    return created


def delete_and_wait_gone(server, name, timeout=60):
    ok(server.request("DELETE", f"{NAMESPACES}/{name}"))
    wait_for(lambda: server.request("GET", f"{NAMESPACES}/{name}")[0] == 404, timeout=timeout,
             what=f"namespace {name} to be removed")


def test_namespace_deletion_removes_pods(apiserver):
    """namespace-deletion-removes-pods"""
    name = unique("nsdeletetest")
    create_namespace(apiserver, name)
    default_service_account(apiserver, name)
    pods = f"{NAMESPACES}/{name}/pods"
    ok(apiserver.request("POST", pods, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "test-pod"},
                                        "spec": {"containers": [{"name": "nginx",
                                                                 "image": "registry.k8s.io/pause:3.10"}]}}))
    delete_and_wait_gone(apiserver, name)
    create_namespace(apiserver, name)
    status, _ = apiserver.request("GET", f"{pods}/test-pod")
    assert status == 404
    delete_and_wait_gone(apiserver, name)


def test_namespace_deletion_removes_services(apiserver):
    """namespace-deletion-removes-services"""
    name = unique("nsdeletetest")
    create_namespace(apiserver, name)
    services = f"{NAMESPACES}/{name}/services"
    ok(apiserver.request("POST", services, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "test-service"},
        "spec": {"selector": {"foo": "bar", "baz": "blah"}, "ports": [{"port": 80, "targetPort": 80}]}}))
    delete_and_wait_gone(apiserver, name)
    create_namespace(apiserver, name)
    status, _ = apiserver.request("GET", f"{services}/test-service")
    assert status == 404
    delete_and_wait_gone(apiserver, name)


def test_namespace_patching(apiserver):
    """Namespace patching"""
    name = unique("nspatchtest")
    created = create_namespace(apiserver, name)
    patched = ok(apiserver.request("PATCH", f"{NAMESPACES}/{name}", {"metadata": {"labels": {"testLabel": "testValue"}}},
                         headers=STRATEGIC))
    assert int(patched["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    got = ok(apiserver.request("GET", f"{NAMESPACES}/{name}"))
    assert got["metadata"]["labels"]["testLabel"] == "testValue"
    apiserver.request("DELETE", f"{NAMESPACES}/{name}")


def test_namespace_apply_changes_to_a_namespace_status(apiserver, namespace):
    """Namespace, apply changes to a namespace status"""
    path = f"{NAMESPACES}/{namespace}/status"
    current = ok(apiserver.request("GET", path))
    assert current["status"]["phase"] == "Active"

    patched = ok(apiserver.request("PATCH", path, {
        "metadata": {"annotations": {"e2e-patched-ns-status": namespace}},
        "status": {"conditions": [{"type": "StatusPatch", "status": "True", "reason": "E2E",
                                   "message": "Patched by an e2e test"}]}}, headers=MERGE))
    assert patched["metadata"]["annotations"]["e2e-patched-ns-status"] == namespace
    conditions = patched["status"]["conditions"]
    assert [(c["type"], c["reason"], c["message"]) for c in conditions] == [
        ("StatusPatch", "E2E", "Patched by an e2e test")]

    current = ok(apiserver.request("GET", path))
    current["status"]["conditions"].append({"type": "StatusUpdate", "status": "True", "reason": "E2E",
                                            "message": "Updated by an e2e test"})
    updated = ok(apiserver.request("PUT", path, current))
    assert [(c["type"], c["message"]) for c in updated["status"]["conditions"]] == [
        ("StatusPatch", "Patched by an e2e test"), ("StatusUpdate", "Updated by an e2e test")]
    assert ok(apiserver.request("GET", f"{NAMESPACES}/{namespace}"))["status"] == updated["status"]


def test_namespace_apply_update_to_a_namespace(apiserver, namespace):
    """Namespace, apply update to a namespace"""
    path = f"{NAMESPACES}/{namespace}"
    current = ok(apiserver.request("GET", path))
    current["metadata"].setdefault("labels", {})[namespace] = "updated"
    updated = ok(apiserver.request("PUT", path, current))
    assert updated["metadata"]["labels"][namespace] == "updated"
    assert ok(apiserver.request("GET", path))["metadata"]["labels"][namespace] == "updated"


def test_namespace_apply_finalizer_to_a_namespace(apiserver):
    """Namespace, apply finalizer to a namespace"""
    name = unique("e2e-ns")
    created = create_namespace(apiserver, name)
    assert created["spec"]["finalizers"] == ["kubernetes"]
    fake = "e2e.example.com/fakeFinalizer"

    current = ok(apiserver.request("GET", f"{NAMESPACES}/{name}"))
    current["spec"]["finalizers"].append(fake)
    updated = ok(apiserver.request("PUT", f"{NAMESPACES}/{name}/finalize", current))
    assert fake in updated["spec"]["finalizers"]
    assert fake in ok(apiserver.request("GET", f"{NAMESPACES}/{name}"))["spec"]["finalizers"]

    current = ok(apiserver.request("GET", f"{NAMESPACES}/{name}"))
    current["spec"]["finalizers"] = [f for f in current["spec"]["finalizers"] if f != fake]
    updated = ok(apiserver.request("PUT", f"{NAMESPACES}/{name}/finalize", current))
    assert fake not in updated["spec"]["finalizers"]
    assert ok(apiserver.request("GET", f"{NAMESPACES}/{name}"))["spec"]["finalizers"] == ["kubernetes"]
    apiserver.request("DELETE", f"{NAMESPACES}/{name}")

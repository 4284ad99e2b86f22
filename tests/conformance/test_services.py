"""Services and Endpoints as the [sig-network] Services entries an API server alone can pass drive them:
the `kubernetes` Service, listing across namespaces, the /status lifecycle (watched), deletecollection by
label, and an Endpoints object's lifecycle.

The Proxy entries ("Proxy, validate Proxy responses", "Proxy, validate ProxyWithPath responses", "Proxy, logs
service endpoint") proxy requests to a running agnhost porter pod: they are in test_proxy.py, with a kube-node."""

from __future__ import annotations


from tests.conformance.support import STRATEGIC, Watch, ok, unique


def services(ns, name=""):
    return f"/api/v1/namespaces/{ns}/services" + (f"/{name}" if name else "")


def wait_event(watch, kind, check=lambda obj: True):
    """The next event of type ``kind`` whose object passes ``check`` (others are skipped, as watchtools.Until)."""
    while True:
        event = watch.next()
        if event["type"] == kind and check(event["object"]):
            return event["object"]


def test_kubernetes_service(apiserver):
    """Kubernetes Service"""
    service = ok(apiserver.request("GET", "/api/v1/namespaces/default/services/kubernetes"))
    assert service["metadata"]["name"] == "kubernetes"
    assert service["spec"]["ports"][0]["port"] == 443


def test_find_kubernetes_service_in_default_namespace(apiserver):
    """Find Kubernetes Service in default Namespace"""
    listed = ok(apiserver.request("GET", "/api/v1/services"))
    assert ("default", "kubernetes") in [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in listed["items"]]


def test_service_complete_servicestatus_lifecycle(apiserver, namespace):
    """Service, complete ServiceStatus lifecycle"""
    ns, name = namespace, unique("test-service")
    selector = "labelSelector=test-service-static%3Dtrue"
    rv = ok(apiserver.request("GET", f"/api/v1/services?{selector}"))["metadata"]["resourceVersion"]
    with Watch(apiserver, f"/api/v1/namespaces/{ns}/services?watch=true&{selector}&resourceVersion={rv}") as w:
        ok(apiserver.request("POST", services(ns), {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "labels": {"test-service-static": "true"}},
            "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "protocol": "TCP", "port": 80,
                                                        "targetPort": 80}]}}))
        wait_event(w, "ADDED", lambda s: s["metadata"]["name"] == name)

        got = ok(apiserver.request("GET", services(ns, name) + "/status"))
        assert got["metadata"]["name"] == name

        ok(apiserver.request("PATCH", services(ns, name) + "/status", {
            "metadata": {"annotations": {"patchedstatus": "true"}},
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.1"}]}}}, headers=STRATEGIC))
        wait_event(w, "MODIFIED", lambda s: s["metadata"].get("annotations", {}).get("patchedstatus") == "true"
                   and s["status"].get("loadBalancer", {}).get("ingress", [{}])[0].get("ip") == "203.0.113.1")

        current = ok(apiserver.request("GET", services(ns, name) + "/status"))
        current["status"]["conditions"] = [{"type": "StatusUpdate", "status": "True", "reason": "E2E",
                                            "message": "Set from e2e test",
                                            "lastTransitionTime": "2024-01-01T00:00:00Z"}]
        updated = ok(apiserver.request("PUT", services(ns, name) + "/status", current))
        assert updated["status"]["conditions"][0]["message"] == "Set from e2e test"
        wait_event(w, "MODIFIED", lambda s: any(c["type"] == "StatusUpdate" and c["reason"] == "E2E"
                                                for c in s["status"].get("conditions", [])))

        ok(apiserver.request("PATCH", services(ns, name), {"metadata": {"labels": {"test-service": "patched"}}},
                             headers=STRATEGIC))
        wait_event(w, "MODIFIED", lambda s: s["metadata"].get("labels", {}).get("test-service") == "patched")

        ok(apiserver.request("DELETE", services(ns, name)))
        wait_event(w, "DELETED", lambda s: s["metadata"]["name"] == name)


def test_service_deletes_a_collection_of_services(apiserver, namespace):
    """Service, deletes a collection of services"""
    ns = namespace
    selector = "labelSelector=e2e-test-service%3Ddelete"
    names = [unique(f"e2e-svc-{c}") for c in "abc"]
    for name in names:
        ok(apiserver.request("POST", services(ns), {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "labels": {"e2e-test-service": "delete"}},
            "spec": {"type": "ClusterIP", "ports": [{"name": "http", "protocol": "TCP", "port": 80,
                                                     "targetPort": 80}]}}))
    listed = ok(apiserver.request("GET", f"/api/v1/services?{selector}"))
    assert sorted(i["metadata"]["name"] for i in listed["items"] if i["metadata"]["namespace"] == ns) == sorted(names)
    ok(apiserver.request("DELETE", f"{services(ns)}?{selector}"))
    listed = ok(apiserver.request("GET", f"/api/v1/services?{selector}"))
    assert [i for i in listed["items"] if i["metadata"]["namespace"] == ns] == []


def test_endpoint_resource_lifecycle(apiserver, namespace):
    """Endpoint resource lifecycle"""
    ns, name = namespace, "testservice"
    endpoints = f"/api/v1/namespaces/{ns}/endpoints"
    selector = "labelSelector=test-endpoint-static%3Dtrue"
    rv = ok(apiserver.request("GET", f"/api/v1/endpoints?{selector}"))["metadata"]["resourceVersion"]
    with Watch(apiserver, f"{endpoints}?watch=true&{selector}&resourceVersion={rv}") as w:
        ok(apiserver.request("POST", endpoints, {
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": name, "labels": {"test-endpoint-static": "true"}},
            "subsets": [{"addresses": [{"ip": "10.0.0.24"}],
                         "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}]}))
        wait_event(w, "ADDED", lambda e: e["metadata"]["name"] == name)

        listed = ok(apiserver.request("GET", f"/api/v1/endpoints?{selector}"))
        assert name in [i["metadata"]["name"] for i in listed["items"] if i["metadata"]["namespace"] == ns]

        current = ok(apiserver.request("GET", f"{endpoints}/{name}"))
        current["metadata"]["labels"]["test-service"] = "updated"
        ok(apiserver.request("PUT", f"{endpoints}/{name}", current))
        wait_event(w, "MODIFIED", lambda e: e["metadata"]["labels"].get("test-service") == "updated")
        assert ok(apiserver.request("GET", f"{endpoints}/{name}"))["metadata"]["labels"]["test-service"] == "updated"

        ok(apiserver.request("PATCH", f"{endpoints}/{name}", {
            "metadata": {"labels": {"test-service": "patched"}},
            "subsets": [{"addresses": [{"ip": "10.0.0.25"}],
                         "ports": [{"name": "http-test", "port": 8080, "protocol": "TCP"}]}]}, headers=STRATEGIC))
        wait_event(w, "MODIFIED", lambda e: e["metadata"]["labels"].get("test-service") == "patched")
        got = ok(apiserver.request("GET", f"{endpoints}/{name}"))
        assert got["metadata"]["labels"]["test-service"] == "patched"
        assert got["subsets"][0]["addresses"][0]["ip"] == "10.0.0.25"
        assert got["subsets"][0]["ports"][0] == {"name": "http-test", "port": 8080, "protocol": "TCP"}

        ok(apiserver.request("DELETE", f"{endpoints}?{selector}"))
        wait_event(w, "DELETED", lambda e: e["metadata"]["name"] == name)
    assert apiserver.request("GET", f"{endpoints}/{name}")[0] == 404

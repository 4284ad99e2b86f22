"""The networking APIs as the [sig-network] entries an API server alone can pass drive them: EndpointSlices
(the `kubernetes` Service's own, and the full API), Ingress (with /status) and IngressClass: discovery,
create, get, list, watch, update, patch, delete and deletecollection."""

from __future__ import annotations

from tests.conformance.support import MERGE, discovery_has, exercise, ok, unique


def test_endpointslice_api_pointing_to_api_server(apiserver):
    """EndpointSlice API ("should have Endpoints and EndpointSlices pointing to API Server")"""
    discovery_has(apiserver, "discovery.k8s.io/v1", "endpointslices")
    service = ok(apiserver.request("GET", "/api/v1/namespaces/default/services/kubernetes"))
    endpoints = ok(apiserver.request("GET", "/api/v1/namespaces/default/endpoints/kubernetes"))
    assert len(endpoints["subsets"]) == 1
    subset = endpoints["subsets"][0]
    slices = ok(apiserver.request("GET", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
                                         "?labelSelector=kubernetes.io%2Fservice-name%3Dkubernetes"))["items"]
    assert len(slices) == 1, slices
    endpoint_slice = slices[0]
    assert endpoint_slice["metadata"]["name"] == "kubernetes"
    assert len(endpoint_slice["endpoints"]) == len(subset["addresses"])
    assert sorted(e["addresses"][0] for e in endpoint_slice["endpoints"]) == sorted(
        a["ip"] for a in subset["addresses"])
    assert endpoint_slice["ports"][0]["port"] == subset["ports"][0]["port"]
    assert service["spec"]["ports"][0]["targetPort"] == subset["ports"][0]["port"]


def test_endpointslice_api(apiserver, namespace):
    """EndpointSlice API ("should support creating EndpointSlice API operations")"""
    discovery_has(apiserver, "discovery.k8s.io/v1", "endpointslices")
    label = unique("label")

    def endpoint_slice(i):
        return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"generateName": "e2e-example-ing", "labels": {"special-label": label}},
                "addressType": "IPv4", "endpoints": [{"addresses": ["1.2.3.4", "5.6.7.8"]},
                                                     {"addresses": ["2.2.3.4", "6.6.7.8"]}]}
    exercise(apiserver, f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
             "/apis/discovery.k8s.io/v1/endpointslices", [endpoint_slice(i) for i in range(3)], label)


def test_ingress_api(apiserver, namespace):
    """Ingress API"""
    discovery_has(apiserver, "networking.k8s.io/v1", "ingresses", "ingresses/status")
    label = unique("label")

    def ingress(i):
        return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": f"e2e-example-ing-{i}", "labels": {"special-label": label}},
                "spec": {"defaultBackend": {"service": {"name": "default-backend", "port": {"number": 8080}}},
                         "rules": [{"host": "foo.bar.com", "http": {"paths": [{
                             "path": "/", "pathType": "Prefix",
                             "backend": {"service": {"name": "test-backend", "port": {"number": 8080}}}}]}}]}}

    def status_changes(path):
        patched = ok(apiserver.request("PATCH", f"{path}/status", {
            "status": {"loadBalancer": {"ingress": [{"ip": "169.1.1.1"}]}}}, headers=MERGE))
        assert patched["status"]["loadBalancer"]["ingress"] == [{"ip": "169.1.1.1"}]
        current = ok(apiserver.request("GET", f"{path}/status"))
        current["status"]["loadBalancer"]["ingress"] = [{"ip": "169.1.1.2"}]
        updated = ok(apiserver.request("PUT", f"{path}/status", current))
        assert updated["status"]["loadBalancer"]["ingress"] == [{"ip": "169.1.1.2"}]
        assert ok(apiserver.request("GET", path))["status"]["loadBalancer"]["ingress"] == [{"ip": "169.1.1.2"}]

    exercise(apiserver, f"/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses",
             "/apis/networking.k8s.io/v1/ingresses", [ingress(i) for i in range(3)], label, status_changes)


def test_ingressclass_api(apiserver):
    """IngressClass API"""
    discovery_has(apiserver, "networking.k8s.io/v1", "ingressclasses")
    label = unique("label")

    def ingress_class(i):
        return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                "metadata": {"name": f"{label}-{i}", "labels": {"special-label": label}},
                "spec": {"controller": "example.com/controller"}}
    exercise(apiserver, "/apis/networking.k8s.io/v1/ingressclasses", None,
             [ingress_class(i) for i in range(3)], label)

"""The networking APIs as the [sig-network] entries an API server alone can pass drive them: EndpointSlices
(the `kubernetes` Service's own, and the full API), Ingress (with /status) and IngressClass: discovery,
create, get, list, watch, update, patch, delete and deletecollection."""

from __future__ import annotations

from tests.conformance.support import (MERGE, Watch, discovery_has, ok,
                                       unique)


def exercise(server, collection, all_namespaces, objects, label_value, status_changes=None):
    """The generic API walk of the e2e tests: create the objects (each labelled special-label=label_value),
    get, list (here and everywhere), watch, patch and update (annotations), optionally patch and update
    /status, delete one, and deletecollection the rest."""
    selector = f"labelSelector=special-label%3D{label_value}"
    created = [ok(server.request("POST", collection, obj)) for obj in objects]
    names = [c["metadata"]["name"] for c in created]

    got = ok(server.request("GET", f"{collection}/{names[0]}"))
    assert got["metadata"]["uid"] == created[0]["metadata"]["uid"]

    listed = ok(server.request("GET", f"{collection}?{selector}"))
    assert sorted(i["metadata"]["name"] for i in listed["items"]) == sorted(names)
    if all_namespaces:
        listed = ok(server.request("GET", f"{all_namespaces}?{selector}"))
        assert set(names) <= {i["metadata"]["name"] for i in listed["items"]}

    rv = listed["metadata"]["resourceVersion"]
    with Watch(server, f"{collection}?watch=true&{selector}&resourceVersion={rv}") as w:
        patched = ok(server.request("PATCH", f"{collection}/{names[0]}",
                                    {"metadata": {"annotations": {"patched": "true"}}}, headers=MERGE))
        assert patched["metadata"]["annotations"]["patched"] == "true"
        current = ok(server.request("GET", f"{collection}/{names[0]}"))
        current["metadata"]["annotations"]["updated"] = "true"
        updated = ok(server.request("PUT", f"{collection}/{names[0]}", current))
        assert updated["metadata"]["annotations"]["updated"] == "true"
        seen = {}
        while not ({"patched", "updated"} <= set(seen)):
            event = w.next()
            assert event["type"] == "MODIFIED", event
            seen.update(event["object"]["metadata"].get("annotations", {}))

    if status_changes:
        status_changes(f"{collection}/{names[0]}")

    ok(server.request("DELETE", f"{collection}/{names[-1]}"))
    assert server.request("GET", f"{collection}/{names[-1]}")[0] == 404
    listed = ok(server.request("GET", f"{collection}?{selector}"))
    assert sorted(i["metadata"]["name"] for i in listed["items"]) == sorted(names[:-1])

    ok(server.request("DELETE", f"{collection}?{selector}"))
    assert ok(server.request("GET", f"{collection}?{selector}"))["items"] == []


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

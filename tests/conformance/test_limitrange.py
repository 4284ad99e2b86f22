"""The [sig-scheduling] LimitRange entries (test/e2e/scheduling/limit_range.go): LimitRanger admission fills
in a container's defaults and refuses what falls outside min and max, and the LimitRange API lists across
namespaces, patches and deletes by collection."""

from __future__ import annotations

from tests.conformance.support import STRATEGIC, Watch, ok, unique, wait_for

PAUSE = "registry.k8s.io/pause:3.10"


def resource_list(cpu, memory, ephemeral_storage):
    """upstream's getResourceList: the named quantities, leaving out the empty ones."""
    pairs = (("cpu", cpu), ("memory", memory), ("ephemeral-storage", ephemeral_storage))
    return {name: value for name, value in pairs if value}


MIN = resource_list("50m", "100Mi", "100Gi")
MAX = resource_list("500m", "500Mi", "500Gi")
DEFAULT_LIMIT = resource_list("500m", "500Mi", "500Gi")
DEFAULT_REQUEST = resource_list("100m", "200Mi", "200Gi")


def limit_range(name, labels):
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": name, "labels": labels},
            "spec": {"limits": [{"type": "Container", "min": MIN, "max": MAX, "default": DEFAULT_LIMIT,
                                 "defaultRequest": DEFAULT_REQUEST, "maxLimitRequestRatio": {}}]}}


def new_test_pod(name, requests, limits):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "pause", "image": PAUSE,
                                     "resources": {"requests": requests, "limits": limits}}]}}




def test_limitrange_resources(apiserver, namespace):
    """LimitRange, resources"""
    limit_ranges = f"/api/v1/namespaces/{namespace}/limitranges"
    pods = f"/api/v1/namespaces/{namespace}/pods"
    value = unique("time")
    listed = ok(apiserver.request("GET", f"{limit_ranges}?labelSelector=time%3D{value}"))
    assert listed["items"] == []
    rv = listed["metadata"]["resourceVersion"]
    with Watch(apiserver, f"{limit_ranges}?watch=true&labelSelector=time%3D{value}&resourceVersion={rv}") as w:
        ok(apiserver.request("POST", limit_ranges, limit_range("limit-range", {"time": value})))
        assert w.next()["type"] == "ADDED"

    lr = ok(apiserver.request("GET", f"{limit_ranges}/limit-range"))
    expected = {"requests": DEFAULT_REQUEST, "limits": DEFAULT_LIMIT}
    item = lr["spec"]["limits"][0]
    assert {"requests": item["defaultRequest"], "limits": item["default"]} == expected

    ok(apiserver.request("POST", pods, new_test_pod("pod-no-resources", {}, {})))
    pod = ok(apiserver.request("GET", f"{pods}/pod-no-resources"))
    assert [c["resources"] for c in pod["spec"]["containers"]] == [expected]

    ok(apiserver.request("POST", pods, new_test_pod("pod-partial-resources", resource_list("", "150Mi", "150Gi"),
                                                resource_list("300m", "", ""))))
    pod = ok(apiserver.request("GET", f"{pods}/pod-partial-resources"))
    # a limit given without a request becomes the request; defaultRequest only fills what has no limit
    assert [c["resources"] for c in pod["spec"]["containers"]] == [{
        "requests": resource_list("300m", "150Mi", "150Gi"), "limits": resource_list("300m", "500Mi", "500Gi")}]

    status, body = apiserver.request("POST", pods, new_test_pod("pfpod", resource_list("10m", "50Mi", "50Gi"), {}))
    assert status == 403, (status, body)
    # upstream asks only for an error: the default limit (500m) under the request makes the pod invalid
    # before the validating half of LimitRanger (which would refuse it, 403) runs
    status, body = apiserver.request("POST", pods, new_test_pod("pfpod", resource_list("600m", "600Mi", "600Gi"), {}))
    assert status == 422, (status, body)

    new_min = resource_list("9m", "49Mi", "49Gi")
    lr["spec"]["limits"][0]["min"] = new_min
    ok(apiserver.request("PUT", f"{limit_ranges}/limit-range", lr))
    assert ok(apiserver.request("GET", f"{limit_ranges}/limit-range"))["spec"]["limits"][0]["min"] == new_min

    ok(apiserver.request("POST", pods, new_test_pod("pfpod", resource_list("10m", "50Mi", "50Gi"), {})))
    status, body = apiserver.request("POST", pods, new_test_pod("pfpod", resource_list("600m", "600Mi", "600Gi"), {}))
    assert status == 422, (status, body)

    ok(apiserver.request("DELETE", f"{limit_ranges}/limit-range", {
        "apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 30}))
    wait_for(lambda: ok(apiserver.request("GET", limit_ranges))["items"] == [], what="the LimitRange's deletion")
    wait_for(lambda: apiserver.request("POST", pods, new_test_pod("pfpod2", resource_list("600m", "600Mi", "600Gi"),
                                                              {}))[0] == 201,
             timeout=30, interval=1, what="a pod above the former max admitted")


def test_limitrange_list_patch_and_delete_a_limitrange_by_collection(apiserver, namespace):
    """LimitRange, list, patch and delete a LimitRange by collection"""
    name = unique("e2e-limitrange")
    labels = {"e2e-test": name, name: "created"}
    created = ok(apiserver.request("POST", f"/api/v1/namespaces/{namespace}/limitranges",
                                   limit_range(name, labels)))
    assert created["metadata"]["resourceVersion"]

    other = unique(name)
    ok(apiserver.request("POST", "/api/v1/namespaces",
                         {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other}}))
    try:
        ok(apiserver.request("POST", f"/api/v1/namespaces/{other}/limitranges", limit_range(name, labels)))
        listed = ok(apiserver.request("GET", f"/api/v1/limitranges?labelSelector=e2e-test%3D{name}"))
        assert len(listed["items"]) == 2, listed

        new_min = resource_list("9m", "49Mi", "49Gi")
        limits = created["spec"]["limits"]
        limits[0]["min"] = new_min
        patch = {"metadata": {"creationTimestamp": created["metadata"]["creationTimestamp"],
                              "labels": {name: "patched"}},
                 "spec": {"limits": limits}}
        patched = ok(apiserver.request("PATCH", f"/api/v1/namespaces/{namespace}/limitranges/{name}", patch,
                                       headers=STRATEGIC))
        assert patched["metadata"]["labels"][name] == "patched"
        assert patched["spec"]["limits"][0]["min"] == new_min
        assert int(patched["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])

        ok(apiserver.request("DELETE", f"/api/v1/namespaces/{namespace}/limitranges?labelSelector={name}%3Dpatched"))
        listed = ok(apiserver.request("GET", f"/api/v1/limitranges?labelSelector=e2e-test%3D{name}"))
        assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in listed["items"]] == [(other, name)]
    finally:
        apiserver.request("DELETE", f"/api/v1/namespaces/{other}")

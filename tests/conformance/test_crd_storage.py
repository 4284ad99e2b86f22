"""Custom resources read from storage as upstream reads them: "Custom Resource Definition, defaulting"
(defaults apply to requests and, from the current schema, to objects read from storage), and an object
written under an earlier storage version served in the new one after the CRD's storage version changed."""

from __future__ import annotations

import time

import pytest

from tests.conformance.support import CRDS, MERGE, wait_for

GROUP = "defaulting.example.com"


def version(name, storage, properties):
    return {"name": name, "served": True, "storage": storage, "schema": {"openAPIV3Schema": {
        "type": "object", "properties": {"spec": {"type": "object", "properties": properties}}}}}


def served(server, path, timeout=10.0):
    def body():
        status, got = server.request("GET", path)
        return status == 200 and got
    return wait_for(body, timeout=timeout, what=f"{path} to be served")


@pytest.fixture
def widgets(apiserver):
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"widgets.{GROUP}"},
           "spec": {"group": GROUP, "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
                    "versions": [version("v1", True, {"a": {"type": "string", "default": "A"},
                                                      "b": {"type": "string"}})]}}
    status, body = apiserver.request("POST", CRDS, crd)
    assert status == 201, body
    served(apiserver, f"/apis/{GROUP}/v1/namespaces/default/widgets")
    yield apiserver
    apiserver.request("DELETE", f"{CRDS}/widgets.{GROUP}")
    deadline = time.monotonic() + 30
    while apiserver.request("GET", f"{CRDS}/widgets.{GROUP}")[0] != 404 and time.monotonic() < deadline:
        time.sleep(0.05)     # its custom resources go first


def patch_versions(server, versions):
    status, body = server.request("PATCH", f"{CRDS}/widgets.{GROUP}", {"spec": {"versions": versions}},
                                  headers=MERGE)
    assert status == 200, body


def test_defaults_apply_to_requests_and_from_storage(widgets):
    path = f"/apis/{GROUP}/v1/namespaces/default/widgets"
    status, created = widgets.request("POST", path, {"apiVersion": f"{GROUP}/v1", "kind": "Widget",
                                                     "metadata": {"name": "w1"}, "spec": {}})
    assert status == 201 and created["spec"] == {"a": "A"}
    patch_versions(widgets, [version("v1", True, {"a": {"type": "string", "default": "A"},
                                                  "b": {"type": "string", "default": "B"}})])
    deadline = time.monotonic() + 30
    while True:
        status, read = widgets.request("GET", path + "/w1")
        if read["spec"].get("b") == "B" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status == 200 and read["spec"] == {"a": "A", "b": "B"}
    status, listed = widgets.request("GET", path)
    assert [i["spec"] for i in listed["items"]] == [{"a": "A", "b": "B"}]


def test_object_written_under_an_old_storage_version_is_served_in_the_new_one(widgets):
    v1 = f"/apis/{GROUP}/v1/namespaces/default/widgets"
    status, _ = widgets.request("POST", v1, {"apiVersion": f"{GROUP}/v1", "kind": "Widget",
                                             "metadata": {"name": "w2"}, "spec": {"b": "x"}})
    assert status == 201
    properties = {"a": {"type": "string", "default": "A"}, "b": {"type": "string"}}
    patch_versions(widgets, [version("v1", False, properties), version("v2", True, properties)])
    v2 = f"/apis/{GROUP}/v2/namespaces/default/widgets"
    read = served(widgets, v2 + "/w2")
    assert read["apiVersion"] == f"{GROUP}/v2" and read["spec"] == {"a": "A", "b": "x"}
    status, patched = widgets.request("PATCH", v2 + "/w2", {"spec": {"b": "y"}}, headers=MERGE)
    assert status == 200, patched
    assert patched["apiVersion"] == f"{GROUP}/v2" and patched["spec"]["b"] == "y"
    status, listed = widgets.request("GET", v2)
    assert [i["apiVersion"] for i in listed["items"]] == [f"{GROUP}/v2"]


def test_custom_resource_takes_an_unqualified_finalizer(widgets):
    """A custom resource may carry `test-finalizer` (upstream only warns; core's standard-name rule is for
    built-in kinds), which holds its deletion until removed; a ConfigMap may not."""
    path = f"/apis/{GROUP}/v1/namespaces/default/widgets"
    status, created = widgets.request("POST", path, {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {
        "name": "w3", "finalizers": ["test-finalizer"]}, "spec": {}})
    assert status == 201, created
    status, deleting = widgets.request("DELETE", path + "/w3")
    assert status == 200 and deleting["metadata"]["deletionTimestamp"]
    status, done = widgets.request("PATCH", path + "/w3", {"metadata": {"finalizers": None}}, headers=MERGE)
    assert status == 200, done
    status, _ = widgets.request("GET", path + "/w3")
    assert status == 404
    status, refused = widgets.request("POST", "/api/v1/namespaces/default/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fin", "finalizers": ["test-finalizer"]}})
    assert status == 422 and refused["details"]["causes"][0]["message"] == (
        'Invalid value: "test-finalizer": name is neither a standard finalizer name nor is it fully qualified')

"""CustomResourceDefinitions as the [sig-api-machinery] CustomResourceDefinition entries drive them:
create and delete, list and deletecollection by label, the /status subresource, discovery, defaulting
on requests and from storage, and watches of custom resources."""

from __future__ import annotations

import uuid

import pytest

from tests.conformance.support import CRDS, JSON_PATCH, Watch, discovery_has, ok, wait_for

GROUP = "mygroup.example.com"


def random_crd(scope="Cluster", labels=None, schema=None):
    """A CRD of a random name in mygroup.example.com, one version v1beta1 (as the e2e fixtures make)."""
    stem = f"e2e-test-{uuid.uuid4().hex[:8]}"
    plural, kind = f"{stem}-crds", f"E2e-test-{stem[9:]}-crd"
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{GROUP}", **({"labels": labels} if labels else {})},
            "spec": {"group": GROUP, "scope": scope,
                     "names": {"plural": plural, "singular": f"{stem}-crd", "kind": kind, "listKind": kind + "List"},
                     "versions": [{"name": "v1beta1", "served": True, "storage": True, "schema": {
                         "openAPIV3Schema": schema or {"type": "object",
                                                       "x-kubernetes-preserve-unknown-fields": True}}}]}}


def create_crd(server, crd):
    created = ok(server.request("POST", CRDS, crd))
    plural = crd["spec"]["names"]["plural"]
    version = crd["spec"]["versions"][0]["name"]
    path = f"/apis/{GROUP}/{version}/{plural}"
    wait_for(lambda: server.request("GET", path)[0] == 200, what=f"{path} to be served")

    def established():
        conditions = ok(server.request("GET", f"{CRDS}/{crd['metadata']['name']}")).get("status", {}).get(
            "conditions", [])
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)
    wait_for(established, what="the CRD to be Established")
    return created


def delete_crd(server, name):
    ok(server.request("DELETE", f"{CRDS}/{name}"))
    wait_for(lambda: server.request("GET", f"{CRDS}/{name}")[0] == 404, timeout=30, what=f"{name} to go")


def test_custom_resource_definition_create(apiserver):
    """Custom Resource Definition, create"""
    crd = random_crd()
    created = create_crd(apiserver, crd)
    assert created["metadata"]["name"] == crd["metadata"]["name"]
    delete_crd(apiserver, crd["metadata"]["name"])


def test_custom_resource_definition_list(apiserver):
    """Custom Resource Definition, list"""
    test_uid = uuid.uuid4().hex
    selector = f"labelSelector=e2e-list-test-uuid%3D{test_uid}"
    unlabeled = random_crd()
    create_crd(apiserver, unlabeled)
    labeled = [random_crd(labels={"e2e-list-test-uuid": test_uid}) for _ in range(10)]
    for crd in labeled:
        ok(apiserver.request("POST", CRDS, crd))
    listed = ok(apiserver.request("GET", f"{CRDS}?{selector}"))
    assert sorted(i["metadata"]["name"] for i in listed["items"]) == sorted(c["metadata"]["name"] for c in labeled)
    for item in listed["items"]:
        expected = next(c for c in labeled if c["metadata"]["name"] == item["metadata"]["name"])
        assert item["spec"]["names"]["plural"] == expected["spec"]["names"]["plural"]
        assert item["spec"]["group"] == GROUP and item["spec"]["scope"] == "Cluster"
    ok(apiserver.request("DELETE", f"{CRDS}?{selector}"))
    wait_for(lambda: ok(apiserver.request("GET", f"{CRDS}?{selector}"))["items"] == [], timeout=30,
             what="the labeled CRDs to go")
    ok(apiserver.request("GET", f"{CRDS}/{unlabeled['metadata']['name']}"))
    delete_crd(apiserver, unlabeled["metadata"]["name"])


def test_custom_resource_definition_status_sub_resource(apiserver):
    """Custom Resource Definition, status sub-resource"""
    crd = random_crd()
    created = create_crd(apiserver, crd)
    name = crd["metadata"]["name"]
    status = ok(apiserver.request("GET", f"{CRDS}/{name}/status"))
    assert status["spec"] == created["spec"]
    status["status"].setdefault("conditions", []).append({"message": "updated"})
    updated = ok(apiserver.request("PUT", f"{CRDS}/{name}/status", status))
    assert {"message": "updated"} in updated["status"]["conditions"], updated["status"]
    patched = ok(apiserver.request("PATCH", f"{CRDS}/{name}/status", [
        {"op": "add", "path": "/status/conditions", "value": [{"message": "patched"}]}], headers=JSON_PATCH))
    assert {"message": "patched"} in patched["status"]["conditions"], patched["status"]
    delete_crd(apiserver, name)


def test_custom_resource_definition_discovery(apiserver):
    """Custom Resource Definition, discovery"""
    listing = discovery_has(apiserver, "apiextensions.k8s.io/v1", "customresourcedefinitions")
    assert listing["groupVersion"] == "apiextensions.k8s.io/v1"
    group = ok(apiserver.request("GET", "/apis/apiextensions.k8s.io"))
    assert group["name"] == "apiextensions.k8s.io"
    assert "v1" in [v["version"] for v in group["versions"]]


def test_custom_resource_definition_defaulting(apiserver):
    """Custom Resource Definition, defaulting"""
    crd = random_crd(schema={"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                             "properties": {"a": {"type": "string"}, "b": {"type": "string"}}})
    create_crd(apiserver, crd)
    name, plural, kind = crd["metadata"]["name"], crd["spec"]["names"]["plural"], crd["spec"]["names"]["kind"]
    crs = f"/apis/{GROUP}/v1beta1/{plural}"

    def cr(cr_name):
        return {"apiVersion": f"{GROUP}/v1beta1", "kind": kind, "metadata": {"name": cr_name}}

    ok(apiserver.request("POST", crs, cr("cr-1")))
    ok(apiserver.request("PATCH", f"{CRDS}/{name}", [
        {"op": "add", "path": "/spec/versions/0/schema/openAPIV3Schema/properties/a/default", "value": "A"}],
        headers=JSON_PATCH))

    # (pytest.fail, not assert, in the checks: wait_for takes an AssertionError for "not yet", and these must
    # fail at once.)
    def defaulted_a():
        got = ok(apiserver.request("GET", f"{crs}/cr-1"))
        if got.get("a", "A") != "A":
            pytest.fail(f"a defaulted to something else: {got}")
        return "a" in got
    wait_for(defaulted_a, timeout=30, what="cr-1 to be defaulted on read")

    second = ok(apiserver.request("POST", crs, cr("cr-2")))
    assert second.get("a") == "A", second

    ok(apiserver.request("PATCH", f"{CRDS}/{name}", [
        {"op": "remove", "path": "/spec/versions/0/schema/openAPIV3Schema/properties/a/default"},
        {"op": "add", "path": "/spec/versions/0/schema/openAPIV3Schema/properties/b/default", "value": "B"}],
        headers=JSON_PATCH))

    def defaulted_b():
        got = ok(apiserver.request("GET", f"{crs}/cr-2"))
        if got.get("b", "B") != "B":
            pytest.fail(f"b defaulted to something else: {got}")
        if "b" not in got:
            return False
        if got.get("a") != "A":
            pytest.fail(f"a changed or went: {got}")
        return True
    wait_for(defaulted_b, timeout=30, what="cr-2 to be defaulted on read for b, a staying")
    delete_crd(apiserver, name)


def test_custom_resource_definition_watch(apiserver):
    """Custom Resource Definition, watch"""
    crd = random_crd(schema={"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    create_crd(apiserver, crd)
    plural, kind = crd["spec"]["names"]["plural"], crd["spec"]["names"]["kind"]
    crs = f"/apis/{GROUP}/v1beta1/{plural}"

    def cr(name):
        return {"apiVersion": f"{GROUP}/v1beta1", "kind": kind, "metadata": {"name": name},
                "content": {"key": "value"}, "num": {"num1": 9223372036854775807, "num2": 1000000}}

    with Watch(apiserver, f"{crs}?watch=true") as watch:
        created1 = ok(apiserver.request("POST", crs, cr("name1")))
        event = watch.next()
        assert event["type"] == "ADDED" and event["object"] == created1
        created2 = ok(apiserver.request("POST", crs, cr("name2")))
        event = watch.next()
        assert event["type"] == "ADDED" and event["object"] == created2

        for name, created in (("name1", created1), ("name2", created2)):
            created["dummy"] = "test"
            modified = ok(apiserver.request("PUT", f"{crs}/{name}", created))
            event = watch.next()
            assert event["type"] == "MODIFIED" and event["object"] == modified
            assert event["object"]["num"]["num1"] == 9223372036854775807

        for name in ("name1", "name2"):
            ok(apiserver.request("DELETE", f"{crs}/{name}"))
            event = watch.next()
            assert event["type"] == "DELETED" and event["object"]["metadata"]["name"] == name
    delete_crd(apiserver, crd["metadata"]["name"])

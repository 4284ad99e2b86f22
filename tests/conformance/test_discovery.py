"""Discovery, /version and content negotiation as the [sig-api-machinery] entries "Discovery, ...",
"Confirm a server version" and "API metadata HTTP return" check them."""

from __future__ import annotations

import re


from tests.conformance.support import GROUP_RESOURCES, ok


def test_discovery_confirm_the_groupversion_and_a_resource_from_each_apigroup(apiserver):
    """Discovery, confirm the groupVersion and a resource from each apiGroup"""
    missing = []
    for group, version, resource in GROUP_RESOURCES:
        path = f"/api/{version}" if not group else f"/apis/{group}/{version}"
        status, listing = apiserver.request("GET", path)
        if status != 200:
            missing.append((path, status))
            continue
        assert listing["kind"] == "APIResourceList"
        assert listing["groupVersion"] == (f"{group}/{version}" if group else version), path
        assert resource in [r["name"] for r in listing["resources"]], (path, resource)
    assert not missing, f"not served: {missing}"


def test_discovery_confirm_the_preferredversion_for_each_api_group(apiserver):
    """Discovery, confirm the PreferredVersion for each api group"""
    groups = ok(apiserver.request("GET", "/apis/"))["groups"]
    assert groups
    for group in groups:
        if group["name"].endswith(".example.com"):
            continue
        checked = ok(apiserver.request("GET", f"/apis/{group['name']}/"))
        assert checked["kind"] == "APIGroup" and checked["versions"], group["name"]
        assert checked["preferredVersion"]["groupVersion"] in [v["groupVersion"] for v in checked["versions"]]


def test_confirm_a_server_version(apiserver):
    """Confirm a server version"""
    version = ok(apiserver.request("GET", "/version"))
    assert version["gitVersion"]
    assert re.fullmatch(r"\d+", version["major"]), version
    assert re.fullmatch(r"\d+", version["minor"].rstrip("+")), version


def test_api_metadata_http_return(apiserver):
    """API metadata HTTP return"""
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
              "spec": {"nonResourceAttributes": {"path": "/", "verb": "get"}}}
    status, body = apiserver.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review,
                                     headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    assert status == 406, (status, body)
    assert body["kind"] == "Status" and body["code"] == 406 and body["reason"] == "NotAcceptable", body

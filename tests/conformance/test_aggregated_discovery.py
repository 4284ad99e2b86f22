"""Aggregated discovery (apidiscovery.k8s.io/v2): upstream's four "Aggregated Discovery ..." conformance
entries.  The "Interface" entries are about the client side of it (client-go's GroupsAndMaybeResources), which
we drive through kubectl, a client-go program: it must learn every group, version and resource from the two
aggregated documents alone, /api and /apis, without asking any group-version for its resource list."""

from __future__ import annotations

import re

from tests.conformance.support import CRDS, GROUP_RESOURCES, wait_for


AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
# What client-go's discovery client asks for, most preferred first (as kubectl 1.32 sends it).
CLIENT_GO_ACCEPT = (AGGREGATED + ",application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
                    ",application/json")

LEGACY, BUILT_IN = GROUP_RESOURCES[:1], GROUP_RESOURCES[1:]


def aggregated(apiserver, path, accept=AGGREGATED):
    status, body = apiserver.request("GET", path, headers={"Accept": accept})
    assert status == 200, body
    assert body["kind"] == "APIGroupDiscoveryList" and body["apiVersion"] == "apidiscovery.k8s.io/v2", body
    return body


def resources_by_group_version(document) -> dict:
    """{(group, version): {resource names}} of an APIGroupDiscoveryList (the legacy group has no name)."""
    found = {}
    for group in document["items"]:
        name = group["metadata"].get("name", "")
        for version in group["versions"]:
            found[(name, version["version"])] = {r["resource"] for r in version.get("resources") or []}
    return found


def missing(document, expected):
    found = resources_by_group_version(document)
    return [gvr for gvr in expected if gvr[2] not in found.get(gvr[:2], ())]


def create_crd(apiserver, group, plural="testcrds"):
    status, body = apiserver.request("POST", CRDS, {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"plural": plural, "singular": plural[:-1], "kind": "testcrd", "listKind": "testcrdList"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                     "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}})
    assert status == 201, body
    return f"{plural}.{group}"


def discovery_requests(log: str) -> list:
    """The paths a kubectl -v=6 run requested."""
    return re.findall(r'"GET" url="https?://[^/"]+(/[^"?]*)', log) + \
        re.findall(r"GET https?://[^/ ]+(/[^ ?]*)", log)


def test_aggregated_discovery_endpoint_accept_headers(apiserver):
    """Aggregated Discovery Endpoint Accept Headers: the apiserver MUST serve the aggregated discovery
    documents for their Accept header, with every built-in resource present."""
    assert missing(aggregated(apiserver, "/api"), LEGACY) == []
    assert missing(aggregated(apiserver, "/apis"), BUILT_IN) == []


def test_aggregated_discovery_endpoint_accept_headers_crds(apiserver):
    """Aggregated Discovery Endpoint Accept Headers CRDs: a CRD added to the apiserver MUST appear in the
    aggregated discovery document."""
    name = create_crd(apiserver, "group-accept.example.com")
    try:
        wait_for(lambda: missing(aggregated(apiserver, "/apis"), [("group-accept.example.com", "v1", "testcrds")]) == [],
                 timeout=30, interval=0.5, what="the CRD in /apis")
    finally:
        apiserver.request("DELETE", f"{CRDS}/{name}")


def test_aggregated_discovery_interface(apiserver, kubectl):
    """Aggregated Discovery Interface: the apiserver MUST support the aggregated discovery client interface,
    with every built-in resource present."""
    # What client-go's GroupsAndMaybeResources gets: aggregated documents for its Accept header ...
    legacy = aggregated(apiserver, "/api", CLIENT_GO_ACCEPT)
    groups = aggregated(apiserver, "/apis", CLIENT_GO_ACCEPT)
    assert missing(legacy, LEGACY) + missing(groups, BUILT_IN) == []
    # ... and a client-go program learns every group-version from them, with no further request.
    result = kubectl("api-versions", "-v=6", f"--cache-dir={kubectl.cache_dir}-interface")
    versions = set(result.stdout.split())
    expected = {f"{g}/{v}" if g else v for g, v, _ in LEGACY + BUILT_IN}
    assert expected - versions == set()
    assert set(discovery_requests(result.stderr)) == {"/api", "/apis"}, result.stderr
    result = kubectl("api-resources", "-o", "name", "-v=6", f"--cache-dir={kubectl.cache_dir}-interface")
    names = set(result.stdout.split())
    assert {f"{r}.{g}" if g else r for g, _, r in LEGACY + BUILT_IN} - names == set()
    assert set(discovery_requests(result.stderr)) == {"/api", "/apis"}, result.stderr


def test_aggregated_discovery_interface_crds(apiserver, kubectl):
    """Aggregated Discovery Interface CRDs: a CRD added to the apiserver MUST be present in what the
    aggregated discovery client interface returns."""
    name = create_crd(apiserver, "group-interface.example.com")
    try:
        def listed():
            result = kubectl("api-resources", "-o", "name", "-v=6", f"--cache-dir={kubectl.cache_dir}-crds")
            assert set(discovery_requests(result.stderr)) == {"/api", "/apis"}, result.stderr
            return "testcrds.group-interface.example.com" in result.stdout.split()
        wait_for(listed, timeout=30, interval=0.5, what="kubectl api-resources to list the CRD")
        groups = aggregated(apiserver, "/apis", CLIENT_GO_ACCEPT)
        assert missing(groups, [("group-interface.example.com", "v1", "testcrds")]) == []
    finally:
        apiserver.request("DELETE", f"{CRDS}/{name}")


def test_aggregated_discovery_etag(apiserver):
    """As upstream's ServeHTTPWithETag: a quoted ETag of the document, Vary: Accept, Cache-Control: public, and
    304 to a client that names the ETag it holds (kubectl's HTTP cache revalidates so); a stale one gets the
    document again."""
    import urllib.error
    import urllib.request
    url = apiserver.url + "/apis"

    def revalidated() -> bool:
        # An earlier test's CRDs may still be changing the document: then its ETag moves, and we ask again.
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": AGGREGATED}), timeout=10) as first:
            etag = first.headers["ETag"]
            assert re.fullmatch(r'"[0-9A-F]{128}"', etag)
            assert first.headers["Vary"] == "Accept" and first.headers["Cache-Control"] == "public"
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": AGGREGATED, "If-None-Match": etag}),
                                   timeout=10).close()
            return False
        except urllib.error.HTTPError as e:
            assert e.code == 304
            return True
    wait_for(revalidated, what="a 304 to the ETag just served")
    stale = urllib.request.Request(url, headers={"Accept": AGGREGATED, "If-None-Match": '"0"'})
    with urllib.request.urlopen(stale, timeout=10) as again:
        assert again.status == 200 and re.fullmatch(r'"[0-9A-F]{128}"', again.headers["ETag"])

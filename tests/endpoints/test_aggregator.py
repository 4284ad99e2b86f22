"""The aggregation layer's pure parts: the front-proxy headers, what a proxied request keeps of the client's
headers, version ordering, and the remote groups' place in discovery."""

from __future__ import annotations

from twisted.web.http_headers import Headers

from kapiserver.auth.user import UserInfo
from kapiserver.controllers.extensionauth import authentication_data, merge_bundle, merged
from kapiserver.endpoints import aggregator, discovery
from kapiserver.registry.catalog import Catalog


class _Request:
    def __init__(self, headers: dict):
        self.requestHeaders = Headers({k.encode(): [v.encode()] for k, v in headers.items()})


def test_extra_keys_are_escaped_in_header_names():
    assert aggregator.escape_extra_key("authentication.kubernetes.io/pod-name") == \
        "authentication.kubernetes.io%2Fpod-name"
    assert aggregator.escape_extra_key("100%") == "100%25"
    assert aggregator.escape_extra_key("scopes") == "scopes"


def test_front_proxy_headers_carry_the_user():
    user = UserInfo(name="alice", uid="7", groups=["dev", "system:authenticated"],
                    extra={"scopes": ["a", "b"], "empty": []})
    assert aggregator.front_proxy_headers(user) == [
        (b"X-Remote-User", [b"alice"]), (b"X-Remote-Group", [b"dev", b"system:authenticated"]),
        (b"X-Remote-Extra-scopes", [b"a", b"b"])]


def test_proxied_requests_drop_forged_front_proxy_headers():
    """A client's own X-Remote-* headers go; the user's are set anew (its credentials are already off the
    request: auth/filters.py)."""
    request = _Request({"X-Remote-User": "mallory", "X-Remote-Extra-Forged": "1", "Connection": "close",
                        "Accept": "application/json", "User-Agent": "kubectl"})
    headers = aggregator.proxied_headers(request, UserInfo(name="alice"))
    assert sorted((name.lower(), values) for name, values in headers.getAllRawHeaders()) == [
        (b"accept", [b"application/json"]), (b"user-agent", [b"kubectl"]), (b"x-remote-user", [b"alice"])]


def test_remote_groups_follow_builtin_groups_by_priority():
    catalog = Catalog()
    remote = [("metrics.k8s.io", 100, [("v1beta1", None)]), ("wardle.example.com", 2000, [("v1", None)])]
    names = [g["name"] for g in discovery.api_group_list(catalog, remote)["groups"]]
    builtin = [g["name"] for g in discovery.api_group_list(catalog)["groups"]]
    assert names == builtin + ["wardle.example.com", "metrics.k8s.io"]
    assert discovery.remote_api_group("metrics.k8s.io", remote)["preferredVersion"] == \
        {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}
    assert discovery.remote_api_group("nope", remote) is None
    stale = discovery.aggregated_discovery(catalog, False, remote=remote)["items"][-1]
    assert stale == {"metadata": {"name": "metrics.k8s.io", "creationTimestamp": None},
                     "versions": [{"version": "v1beta1", "freshness": "Stale"}]}


def test_remote_resources_and_subresources_in_aggregated_discovery():
    resource_list = {"kind": "APIResourceList", "groupVersion": "metrics.k8s.io/v1beta1", "resources": [
        {"name": "pods", "singularName": "", "namespaced": True, "kind": "PodMetrics", "verbs": ["get", "list"]},
        {"name": "pods/status", "singularName": "", "namespaced": True, "kind": "PodMetrics", "verbs": ["get"]}]}
    item = discovery.aggregated_discovery(Catalog(), False,
                                          remote=[("metrics.k8s.io", 100, [("v1beta1", resource_list)])])["items"][-1]
    assert item["versions"] == [{"version": "v1beta1", "freshness": "Current", "resources": [
        {"resource": "pods", "responseKind": {"group": "", "version": "", "kind": "PodMetrics"},
         "scope": "Namespaced", "singularResource": "", "verbs": ["get", "list"],
         "subresources": [{"subresource": "status",
                           "responseKind": {"group": "", "version": "", "kind": "PodMetrics"},
                           "verbs": ["get"]}]}]}]


def test_extension_authentication_data_and_merging():
    data = authentication_data("CA\n", "FP\n", ["front-proxy-client"])
    assert data["requestheader-allowed-names"] == '["front-proxy-client"]'
    assert data["requestheader-username-headers"] == '["X-Remote-User"]'
    assert authentication_data(None, None, []) == {}
    a = "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n"
    b = "-----BEGIN CERTIFICATE-----\nBBB\n-----END CERTIFICATE-----\n"
    assert merge_bundle(a + b, a) == a + b
    assert merged({"client-ca-file": b, "other": "kept"}, {"client-ca-file": a}) == \
        {"client-ca-file": a + b, "other": "kept"}

"""RequestInfo read off a request's method, path and query, as upstream's RequestInfoFactory reads it."""

from __future__ import annotations

import dataclasses

import pytest

from kapiserver.endpoints.requestinfo import request_info


@pytest.mark.parametrize("method, path, args, expected", [
    ("GET", "/api/v1/namespaces/ns/pods/p/log", {},
     dict(verb="get", api_prefix="api", api_version="v1", namespace="ns", resource="pods", name="p",
          subresource="log")),
    ("GET", "/api/v1/namespaces/ns/pods/p/proxy/a/b", {},
     dict(verb="get", namespace="ns", resource="pods", name="p", subresource="proxy", rest=("a", "b"))),
    ("GET", "/apis/apps/v1/watch/namespaces/ns/deployments", {},
     dict(verb="watch", api_group="apps", namespace="ns", resource="deployments")),
    ("GET", "/api/v1/namespaces/ns/configmaps", {b"watch": [b"1"]}, dict(verb="watch", resource="configmaps")),
    ("DELETE", "/api/v1/namespaces/ns/configmaps", {}, dict(verb="deletecollection", resource="configmaps")),
    ("PUT", "/api/v1/namespaces/ns/finalize", {},
     dict(verb="update", namespace="ns", resource="namespaces", name="ns", subresource="finalize")),
])
def test_resource_requests(method, path, args, expected):
    """Verb, group, version, namespace, resource, name, subresource and the rest of the path are read off it."""
    info = request_info(method, path, args)
    assert info.is_resource_request
    assert {k: getattr(info, k) for k in expected} == expected
    assert info.parts == tuple(path.strip("/").split("/"))


@pytest.mark.parametrize("path", ["/", "/healthz", "/apis/apps", "/api/v1", "/apis/apps/v1/watch"])
def test_non_resource_requests(path):
    """Discovery roots and other paths are non-resource requests with the lower-cased method as their verb."""
    info = request_info("GET", path, {})
    assert (info.is_resource_request, info.verb, info.resource) == (False, "get", "")
    assert info.parts == (tuple(path.strip("/").split("/")) if path.strip("/") else ())


def test_a_request_info_cannot_be_changed():
    """A RequestInfo is shared by the requests of one method and path, so its fields cannot be assigned."""
    info = request_info("GET", "/api/v1/namespaces/ns/pods/p/proxy/a", {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.verb = "watch"
    assert isinstance(info.rest, tuple) and isinstance(info.parts, tuple)


def test_a_percent_encoded_name_is_read_decoded():
    """The path is percent-decoded before it is read, as Go's url.URL.Path: the official Python client quotes every
    path parameter (system:node goes as system%3Anode), and an answer names the object as it is named."""
    from tests.endpoints.inprocess import served
    call = served()
    path = "/apis/rbac.authorization.k8s.io/v1/clusterroles"
    created = call("POST", path, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                                  "metadata": {"name": "system:reader"}, "rules": []})
    assert created.code == 201, created.body
    read = call("GET", path + "/system%3Areader")
    assert read.code == 200, read.body
    assert read.body["metadata"]["name"] == "system:reader"
    missing = call("GET", "/api/v1/namespaces/default/pods/a%20b")
    assert missing.code == 404
    assert missing.body["message"] == 'pods "a b" not found'

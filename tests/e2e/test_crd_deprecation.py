"""A CRD's deprecated versions warn every request made to them, and a CRD update may not drop a version that
status.storedVersions still names."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from tests.conformance.support import ok, wait_for

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
GROUP = "deprecation.example.com"
SCHEMA = {"openAPIV3Schema": {"type": "object", "properties": {
    "spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
    "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}}
SUBRESOURCES = {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                        "statusReplicasPath": ".status.replicas"}}


def crd(plural: str, kind: str, versions: list[dict]) -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{GROUP}"},
            "spec": {"group": GROUP, "scope": "Namespaced", "names": {"plural": plural, "kind": kind},
                     "versions": versions}}


def version(name: str, storage: bool = False, **fields) -> dict:
    return {"name": name, "served": True, "storage": storage, "schema": SCHEMA, "subresources": SUBRESOURCES,
            **fields}


def warnings_of(server, method: str, path: str, body=None, content_type="application/json") -> tuple[int, list]:
    """(status, the Warning headers) of one request; a watch is closed once its headers are read."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.url + path, data=data, method=method,
                                 headers={"Content-Type": content_type} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.headers.get_all("Warning") or []
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get_all("Warning") or []


def test_every_request_to_a_deprecated_version_is_warned_once(apiserver):
    """get, list, watch, create, update, patch, status, scale and delete in a deprecated version each carry its
    one Warning (the default text names the best newer version; deprecationWarning replaces it); the served,
    non-deprecated version carries none."""
    ok(apiserver.request("POST", CRDS, crd("gizmos", "Gizmo", [
        version("v1alpha1", deprecated=True), version("v1beta1", deprecated=True, deprecationWarning="beta ends"),
        version("v1", storage=True)])), 201)
    base = f"/apis/{GROUP}/%s/namespaces/default/gizmos"
    wait_for(lambda: apiserver.request("GET", base % "v1alpha1")[0] == 200, what="gizmos to be served")
    default = f'299 - "{GROUP}/v1alpha1 Gizmo is deprecated; use {GROUP}/v1 Gizmo"'
    item = base % "v1alpha1" + "/one"
    obj = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "Gizmo", "metadata": {"name": "one"}, "spec": {"replicas": 1}}
    status, warned = warnings_of(apiserver, "POST", base % "v1alpha1", obj)
    assert (status, warned) == (201, [default])
    current = ok(apiserver.request("GET", item))
    merge = "application/merge-patch+json"
    for method, path, body, content_type, code in (
            ("GET", item, None, None, 200),
            ("GET", base % "v1alpha1", None, None, 200),
            ("GET", base % "v1alpha1" + "?watch=true&timeoutSeconds=1", None, None, 200),
            ("PUT", item, current, "application/json", 200),
            ("PATCH", item, {"spec": {"replicas": 2}}, merge, 200),
            ("GET", item + "/status", None, None, 200),
            ("PATCH", item + "/status", {"status": {"replicas": 2}}, merge, 200),
            ("GET", item + "/scale", None, None, 200),
            ("PATCH", item + "/scale", {"spec": {"replicas": 3}}, merge, 200),
            ("GET", base % "v1alpha1" + "/missing", None, None, 404),
            ("DELETE", item, None, None, 200)):
        assert warnings_of(apiserver, method, path, body, content_type) == (code, [default]), (method, path)
    assert warnings_of(apiserver, "GET", base % "v1beta1") == (200, ['299 - "beta ends"'])
    assert warnings_of(apiserver, "GET", base % "v1") == (200, [])


def test_an_update_may_not_drop_a_stored_version(apiserver):
    """Dropping v1 from spec.versions while status.storedVersions names it is a 422 at its index; once a status
    write takes it out of storedVersions, the same update is accepted."""
    name = f"sprockets.{GROUP}"
    ok(apiserver.request("POST", CRDS, crd("sprockets", "Sprocket", [version("v1", storage=True)])), 201)
    current = ok(apiserver.request("GET", f"{CRDS}/{name}"))
    current["spec"]["versions"] = [version("v1", storage=False), version("v2", storage=True)]
    current = ok(apiserver.request("PUT", f"{CRDS}/{name}", current))
    assert current["status"]["storedVersions"] == ["v1", "v2"]
    current["spec"]["versions"] = [version("v2", storage=True)]
    status, body = apiserver.request("PUT", f"{CRDS}/{name}", current)
    assert status == 422, body
    assert [(c["field"], c["message"]) for c in body["details"]["causes"]] == [
        ("status.storedVersions[0]", 'Invalid value: "v1": must appear in spec.versions')]
    fresh = ok(apiserver.request("GET", f"{CRDS}/{name}"))
    fresh["status"]["storedVersions"] = ["v2"]
    ok(apiserver.request("PUT", f"{CRDS}/{name}/status", fresh))
    fresh = ok(apiserver.request("GET", f"{CRDS}/{name}"))
    fresh["spec"]["versions"] = [version("v2", storage=True)]
    assert ok(apiserver.request("PUT", f"{CRDS}/{name}", fresh))["status"]["storedVersions"] == ["v2"]

"""Duplicate JSON fields under server-side field validation: parts of "Server side field validation, typed
object" (unknown and duplicate fields of a Deployment), "Server side field validation, CR duplicates", and a
ConfigMap whose data names a key twice.  Strict refuses them (400) naming each; Warn answers with a Warning
per field; Ignore takes the last value, as Go's decoder does."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

DEPLOYMENT = b"""{
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "dupes", "labels": {"app": "nginx"}},
  "spec": {
    "selector": {"matchLabels": {"app": "nginx"}},
    "template": {"metadata": {"labels": {"app": "nginx"}},
      "spec": {"containers": [{"name": "nginx", "image": "nginx:latest", "unknownNested": "val1",
                               "imagePullPolicy": "Always", "imagePullPolicy": "Never",
                               "ports": [{"containerPort": 80, "unknownNested": "val1", "protocol": "TCP"}]}]}},
    "replicas": 2, "unknown1": "val1", "unknownDupe": "valDupe", "unknownDupe": "valDupe2"}}"""


def post(server, path, body: bytes, validation: str):
    request = urllib.request.Request(f"{server.url}{path}?fieldValidation={validation}", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), response.headers.get_all("Warning") or []
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), e.headers.get_all("Warning") or []


def test_typed_object_unknown_and_duplicate_fields_are_strict_errors(apiserver):
    status, body, _ = post(apiserver, "/apis/apps/v1/namespaces/default/deployments", DEPLOYMENT, "Strict")
    assert status == 400 and body["reason"] == "BadRequest"
    for expected in ('unknown field "spec.template.spec.containers[0].ports[0].unknownNested"',
                     'unknown field "spec.template.spec.containers[0].unknownNested"',
                     'unknown field "spec.unknown1"', 'unknown field "spec.unknownDupe"',
                     'duplicate field "spec.template.spec.containers[0].imagePullPolicy"',
                     'duplicate field "spec.unknownDupe"'):
        assert expected in body["message"], expected


def test_typed_object_duplicates_are_warnings_under_warn(apiserver):
    status, body, warnings = post(apiserver, "/apis/apps/v1/namespaces/default/deployments",
                                  DEPLOYMENT.replace(b'"dupes"', b'"dupes-warned"'), "Warn")
    assert status == 201
    assert '299 - "duplicate field \\"spec.template.spec.containers[0].imagePullPolicy\\""' in warnings
    assert '299 - "unknown field \\"spec.unknown1\\""' in warnings
    assert body["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Never"


def test_configmap_with_a_duplicate_data_key(apiserver):
    body = b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dup-key"}, "data": {"a": "1", "a": "2"}}'
    status, refused, _ = post(apiserver, "/api/v1/namespaces/default/configmaps", body, "Strict")
    assert status == 400 and 'duplicate field "data.a"' in refused["message"]
    status, created, warnings = post(apiserver, "/api/v1/namespaces/default/configmaps", body, "Ignore")
    assert status == 201 and created["data"] == {"a": "2"} and warnings == []


def test_custom_resource_duplicates(apiserver):
    group = "dupes.example.com"
    status, body = apiserver.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"noxus.{group}"},
        "spec": {"group": group, "scope": "Namespaced", "names": {"plural": "noxus", "kind": "Noxu"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                     "type": "object", "properties": {"spec": {"type": "object", "properties": {
                         "foo": {"type": "string"}, "bar": {"type": "string"}}}}}}}]}})
    assert status == 201, body
    path = f"/apis/{group}/v1/namespaces/default/noxus"
    deadline = time.monotonic() + 30
    while apiserver.request("GET", path)[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    cr = b'{"apiVersion": "dupes.example.com/v1", "kind": "Noxu", "metadata": {"name": "n"}, ' \
         b'"spec": {"foo": "a", "foo": "b", "bar": "c"}}'
    status, refused, _ = post(apiserver, path, cr, "Strict")
    assert status == 400
    assert refused["message"] == ('Noxu in version "v1" cannot be handled as a Noxu: strict decoding error: '
                                  'duplicate field "spec.foo"')

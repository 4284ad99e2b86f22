"""Server-side field validation (fieldValidation=Strict) as the [sig-api-machinery] FieldValidation entries
check it: unknown and duplicate fields of typed objects and their metadata refused with a strict decoding
error, and custom resources applied against CRDs with and without a schema, with unknown fields, unknown
metadata (at the root and in an embedded resource) and duplicate keys."""

from __future__ import annotations

import uuid


from tests.conformance.support import APPLY, CRDS, ok, wait_for

GROUP = "mygroup.example.com"
STRICT = "fieldManager=field_validation_mgr&fieldValidation=Strict"

PORTS = {"type": "array", "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
         "x-kubernetes-list-type": "map",
         "items": {"type": "object", "required": ["containerPort", "protocol"], "properties": {
             "containerPort": {"format": "int32", "type": "integer"}, "hostIP": {"type": "string"},
             "hostPort": {"format": "int32", "type": "integer"}, "name": {"type": "string"},
             "protocol": {"type": "string"}}}}
CRON = {"type": "string", "pattern": r"^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$"}


def spec_schema(**extra):
    return {"type": "object", "properties": {"spec": {
        "type": "object", **extra, "properties": {"foo": {"type": "string"}, "cronSpec": CRON, "ports": PORTS,
                                                  **extra.pop("properties", {})}}}}


def noxu_crd(server, schema=None):
    """A cluster-scoped CRD of a random name with versions v1beta1 (stored) and v1, as the e2e fixture makes;
    without a schema of its own it preserves unknown fields.  Created and served; its (group, version, plural, kind)."""
    plural = f"noxu{uuid.uuid4().hex[:8]}s"
    schema = schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    versions = [{"name": name, "served": True, "storage": name == "v1beta1", "schema": {"openAPIV3Schema": schema}}
                for name in ("v1beta1", "v1")]
    ok(server.request("POST", CRDS, {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {"group": GROUP, "scope": "Cluster", "versions": versions, "names": {
            "plural": plural, "singular": plural[:-1], "kind": noxu_kind(plural),
            "listKind": noxu_kind(plural) + "List"}}}))
    path = f"/apis/{GROUP}/v1beta1/{plural}"
    wait_for(lambda: server.request("GET", path)[0] == 200, what=f"{path} to be served")
    return path


def noxu_kind(plural: str) -> str:
    # A kind of its own per CRD, as upstream's random-name fixtures give: the CRDs of one group must not claim
    # one kind (the later would not be accepted, nor served).
    return f"WishIHadChosenNoxu{plural[4:-1]}"


def apply_cr(server, path, body: str):
    """Apply ``body`` (cr_yaml's, its kind the placeholder NOXU_KIND) as the object mytest of ``path``'s CRD."""
    body = body.replace("kind: NOXU_KIND\n", f"kind: {noxu_kind(path.rsplit('/', 1)[1])}\n", 1)
    return server.request("PATCH", f"{path}/mytest?{STRICT}", body.encode(), headers=APPLY)


def cr_yaml(rest: str, metadata_extra: str = "", top: str = "") -> str:
    return (f"\napiVersion: {GROUP}/v1beta1\nkind: NOXU_KIND\nmetadata:\n  name: mytest\n{metadata_extra}"
            f"  finalizers:\n  - test-finalizer\n{top}spec:\n{rest}")


PORTS_YAML = '  cronSpec: "* * * * */5"\n  ports:\n  - name: x\n    containerPort: 80\n    protocol: TCP'


def deployment_json(ns, spec_head: str, meta_extra: str = "") -> bytes:
    """A Deployment written as raw JSON text, so that it can carry duplicate keys."""
    return ('{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "my-dep", ' + meta_extra +
            '"labels": {"app": "nginx"}}, "spec": {' + spec_head +
            '"selector": {"matchLabels": {"app": "nginx"}}, "template": {"metadata": {"labels": {"app": "nginx"}}, '
            '"spec": {"containers": [{"name": "nginx", "image": "nginx:latest"}]}}}}').encode()


def test_server_side_field_validation_typed_object(apiserver, namespace):
    """Server side field validation, typed object"""
    body = deployment_json(namespace, '"unknownField": "foo", "replicas": 2, "replicas": 3, ')
    status, result = apiserver.request("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments?{STRICT}", body)
    assert status == 400, (status, result)
    assert 'strict decoding error: unknown field "spec.unknownField", duplicate field "spec.replicas"' in \
        result["message"], result


def test_server_side_field_validation_typed_unknown_metadata(apiserver, namespace):
    """Server side field validation, typed unknown metadata"""
    body = deployment_json(namespace, "", '"unknownMeta": "foo", ')
    status, result = apiserver.request("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments?{STRICT}", body)
    assert status == 400, (status, result)
    assert 'strict decoding error: unknown field "metadata.unknownMeta"' in result["message"], result


def test_server_side_field_validation_valid_cr_with_validation_schema(apiserver):
    """Server side field validation, valid CR with validation schema"""
    path = noxu_crd(apiserver, spec_schema())
    status, result = apply_cr(apiserver, path, cr_yaml("  foo: foo1\n" + PORTS_YAML))
    assert status in (200, 201), (status, result)


def test_server_side_field_validation_unknown_fields_cr_no_validation_schema(apiserver):
    """Server side field validation, unknown fields CR no validation schema"""
    path = noxu_crd(apiserver)
    status, result = apply_cr(apiserver, path, cr_yaml("  unknown: uk1\n" + PORTS_YAML))
    assert status in (200, 201), (status, result)


def test_server_side_field_validation_unknown_fields_cr_fails_validation(apiserver):
    """Server side field validation, unknown fields CR fails validation"""
    path = noxu_crd(apiserver, spec_schema())
    status, result = apply_cr(apiserver, path, cr_yaml("  foo: foo1\n" + PORTS_YAML, top="unknownField: unknown\n"))
    assert status >= 400, (status, result)   # upstream: 500, the typed-patch error is not a Status error
    assert ".unknownField: field not declared in schema" in str(result), result


def test_server_side_field_validation_unknown_metadata(apiserver, namespace):
    """Server side field validation, unknown metadata"""
    schema = spec_schema(**{"x-kubernetes-preserve-unknown-fields": True, "properties": {"template": {
        "type": "object", "x-kubernetes-embedded-resource": True, "properties": {
            "metadata": {"type": "object", "properties": {"name": {"type": "string"}}},
            "spec": {"type": "object"}}}}})
    path = noxu_crd(apiserver, schema)
    template = ("  template:\n    apiversion: foo/v1\n    kind: Sub\n    metadata:\n"
                f"        unknownSubMeta: unknown\n        name: subobject\n        namespace: {namespace}\n")
    status, result = apply_cr(apiserver, path, cr_yaml(template + "  foo: foo1\n" + PORTS_YAML,
                                                       metadata_extra="  unknownMeta: unknown\n"))
    assert status >= 400, (status, result)
    text = str(result)
    assert (".spec.template.metadata.unknownSubMeta: field not declared in schema" in text
            or ".metadata.unknownMeta: field not declared in schema" in text), result


def test_server_side_field_validation_cr_duplicates(apiserver):
    """Server side field validation, CR duplicates"""
    path = noxu_crd(apiserver, spec_schema(**{"x-kubernetes-preserve-unknown-fields": True}))
    status, result = apply_cr(apiserver, path, cr_yaml("  unknown: uk1\n  foo: foo1\n  foo: foo2\n" + PORTS_YAML))
    assert status >= 400, (status, result)
    assert 'line 11: key "foo" already set in map' in str(result), result

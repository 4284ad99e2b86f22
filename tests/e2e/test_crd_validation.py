"""Custom resources validated as apiextensions does: which schema errors keep the CEL rules from running, a
multi-version CRD's objects validated in the request's version before storage's version reshapes them, the
CRD's own defaults, and the patch types a custom resource takes."""

from __future__ import annotations

import json

from tests.conformance.support import ok, wait_for

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
GROUP = "validation.example.com"
NOT_CHECKED = ('Invalid value: "null": some validation rules were not checked because the object was invalid; '
               "correct the existing errors to complete validation")


def crd(plural: str, kind: str, versions: list[dict]) -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{GROUP}"},
            "spec": {"group": GROUP, "scope": "Namespaced", "names": {"plural": plural, "kind": kind},
                     "versions": versions}}


def version(name: str, spec_schema: dict, storage: bool = False) -> dict:
    return {"name": name, "served": True, "storage": storage, "schema": {"openAPIV3Schema": {
        "type": "object", "properties": {"spec": spec_schema}}}}


def served(server, body: dict) -> None:
    ok(server.request("POST", CRDS, body), 201)
    plural = body["spec"]["names"]["plural"]
    for v in body["spec"]["versions"]:
        path = f"/apis/{GROUP}/{v['name']}/namespaces/default/{plural}"
        wait_for(lambda: server.request("GET", path)[0] == 200, what=f"{path} to be served")


def create(server, plural: str, api_version: str, kind: str, name: str, spec: dict):
    return server.request("POST", f"/apis/{GROUP}/{api_version}/namespaces/default/{plural}",
                          {"apiVersion": f"{GROUP}/{api_version}", "kind": kind, "metadata": {"name": name},
                           "spec": spec})


def causes(body: dict) -> list[tuple[str, str]]:
    return [(c.get("field"), c["message"]) for c in body["details"]["causes"]]


def test_schema_errors_that_keep_the_rules_from_running(apiserver):
    """An enum, required, too-long or too-many error (as a wrong type) stops the CEL rules and says so; an error
    that leaves the object's shape (a pattern) lets them run."""
    served(apiserver, crd("gates", "Gate", [version("v1", {
        "type": "object",
        "x-kubernetes-validations": [{"rule": "self.mode != 'Open' || has(self.key)", "message": "Open needs a key"}],
        "properties": {"mode": {"type": "string", "enum": ["Open", "Shut"]},
                       "key": {"type": "string", "maxLength": 4, "pattern": "^[a-z]+$"},
                       "tags": {"type": "array", "maxItems": 1, "items": {"type": "string"}},
                       "lock": {"type": "object", "required": ["code"],
                                "properties": {"code": {"type": "string"}}}}}, storage=True)]))
    plural, rule = "gates", ("spec", 'Invalid value: "object": Open needs a key')
    status, body = create(apiserver, plural, "v1", "Gate", "enum", {"mode": "Ajar"})
    assert status == 422
    assert causes(body) == [("spec.mode", 'Unsupported value: "Ajar": supported values: "Open", "Shut"'),
                            ("<nil>", NOT_CHECKED)]
    for name, spec, first in (
            ("required", {"mode": "Open", "lock": {}}, ("spec.lock.code", "Required value")),
            ("long", {"mode": "Open", "key": "abcdef"},
             ("spec.key", "Too long: may not be more than 4 bytes")),
            ("many", {"mode": "Open", "tags": ["a", "b"]},
             ("spec.tags", "Too many: 2: must have at most 1 items"))):
        status, body = create(apiserver, plural, "v1", "Gate", name, spec)
        assert status == 422, (name, body)
        assert causes(body)[0] == first and causes(body)[-1] == ("<nil>", NOT_CHECKED) and rule not in causes(body)
    status, body = create(apiserver, plural, "v1", "Gate", "pattern", {"mode": "Open", "tags": ["X"]})
    assert status == 422 and causes(body) == [rule]
    status, body = create(apiserver, plural, "v1", "Gate", "pattern2", {"mode": "Shut", "key": "AB"})
    assert status == 422 and causes(body) == [
        ("spec.key", "Invalid value: \"AB\": spec.key in body should match '^[a-z]+$'")]


def test_a_version_is_validated_before_storage_reshapes_it(apiserver):
    """Conversion None, storage v1, a request in v2: v2's schema judges the object as sent (a field v1 lacks is
    checked, a default only v1 has is not seen), and the answer shows what storage keeps."""
    served(apiserver, crd("dials", "Dial", [
        version("v1", {"type": "object", "properties": {
            "tier": {"type": "string", "default": ""}}}, storage=True),
        version("v2", {"type": "object", "properties": {
            "tier": {"type": "string", "minLength": 1},
            "label": {"type": "string", "pattern": "^[a-z]+$"}}})]))
    status, body = create(apiserver, "dials", "v2", "Dial", "bad", {"label": "UPPER"})
    assert status == 422, body
    assert causes(body) == [("spec.label", "Invalid value: \"UPPER\": spec.label in body should match '^[a-z]+$'")]
    status, body = create(apiserver, "dials", "v2", "Dial", "good", {"label": "lower"})
    assert status == 201, body
    # v1 cannot hold the label, and gives its default tier: what reading it back gives, in v2.
    assert body["apiVersion"] == f"{GROUP}/v2" and body["spec"] == {"tier": ""}
    assert ok(apiserver.request("GET", f"/apis/{GROUP}/v2/namespaces/default/dials/good"))["spec"] == {"tier": ""}


def test_crd_defaults_and_custom_resource_patch_types(apiserver):
    """A CRD gets upstream's defaults (singular, listKind, conversion None); a custom resource takes JSON patch,
    merge patch and apply, and a strategic merge patch's 415 names those three."""
    served(apiserver, crd("knobs", "Knob", [version("v1", {"type": "object", "properties": {
        "turns": {"type": "integer"}}}, storage=True)]))
    spec = ok(apiserver.request("GET", f"{CRDS}/knobs.{GROUP}"))["spec"]
    assert spec["names"] == {"plural": "knobs", "singular": "knob", "kind": "Knob", "listKind": "KnobList"}
    assert spec["conversion"] == {"strategy": "None"}
    ok(create(apiserver, "knobs", "v1", "Knob", "k", {"turns": 1}), 201)
    status, body = apiserver.request("PATCH", f"/apis/{GROUP}/v1/namespaces/default/knobs/k", {"spec": {"turns": 2}},
                                     headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert status == 415
    assert body["message"].endswith("accepted media types include: application/json-patch+json, "
                                    "application/merge-patch+json, application/apply-patch+yaml")


def test_a_tightened_schema_lets_old_objects_change_elsewhere(apiserver):
    """Ratcheting (CRDValidationRatcheting, on by default since 1.30): an object stored before its CRD gained an
    enum and a maximum can still be labelled and have its other fields changed; changing the offending field
    to another invalid value is refused."""
    body = crd("levers", "Lever", [version("v1", {"type": "object", "properties": {
        "mode": {"type": "string"}, "size": {"type": "integer"}}}, storage=True)])
    served(apiserver, body)
    ok(create(apiserver, "levers", "v1", "Lever", "old", {"mode": "Legacy", "size": 50}), 201)
    stored = ok(apiserver.request("GET", f"{CRDS}/levers.{GROUP}"))
    stored["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"] = {
        "mode": {"type": "string", "enum": ["Fast", "Slow"]}, "size": {"type": "integer", "maximum": 10}}
    ok(apiserver.request("PUT", f"{CRDS}/levers.{GROUP}", stored))
    path = f"/apis/{GROUP}/v1/namespaces/default/levers"
    wait_for(lambda: create(apiserver, "levers", "v1", "Lever", "probe", {"size": 11})[0] == 422,
             what="the tightened schema to be served")
    merge = {"Content-Type": "application/merge-patch+json"}
    labelled = ok(apiserver.request("PATCH", f"{path}/old", {"metadata": {"labels": {"a": "b"}}}, headers=merge))
    assert labelled["metadata"]["labels"] == {"a": "b"} and labelled["spec"] == {"mode": "Legacy", "size": 50}
    status, body = apiserver.request("PATCH", f"{path}/old", {"spec": {"size": 60}}, headers=merge)
    assert status == 422 and causes(body) == [
        ("spec.size", "Invalid value: 60: spec.size in body should be less than or equal to 10")]
    ok(apiserver.request("PATCH", f"{path}/old", {"spec": {"size": 5}}, headers=merge))


def test_compound_bad_values_print_as_go_does(apiserver):
    """A map or list in a field error prints with Go's %#v, as field.ErrorBody does for values decoded from JSON:
    a list-map duplicate as the map of its keys (those it has)."""
    served(apiserver, crd("pipelines", "Pipeline", [version("v1", {
        "type": "object",
        "properties": {
            "steps": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["step"],
                      "items": {"type": "object", "required": ["step"], "properties": {"step": {"type": "string"}}}},
            "env": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name", "value"],
                    "items": {"type": "object", "required": ["name", "value"],
                              "properties": {"name": {"type": "string"}, "value": {"type": "string"}}}},
            "tags": {"type": "array", "minItems": 2, "items": {"type": "string"}}}}, storage=True)]))
    status, body = create(apiserver, "pipelines", "v1", "Pipeline", "p", {
        "steps": [{"step": "one"}, {"step": "one"}],
        "env": [{"name": "x", "value": "1"}, {"value": "1", "name": "x"}],
        "tags": ["a"]})
    assert status == 422
    found = causes(body)
    assert ("spec.steps[1]", 'Duplicate value: map[string]interface {}{"step":"one"}') in found
    assert ("spec.env[1]", 'Duplicate value: map[string]interface {}{"name":"x", "value":"1"}') in found
    status, body = create(apiserver, "pipelines", "v1", "Pipeline", "q", {"steps": [{}, {}]})
    assert status == 422 and ("spec.steps[1]", "Duplicate value: map[string]interface {}{}") in causes(body)
    assert ("spec.tags", "Invalid value: 1: spec.tags in body should have at least 2 items") in found


def test_a_warning_is_written_once(apiserver):
    """An unknown field in a patch is warned about once (upstream's recorder writes each text once), though both
    the patch and the patched object carry it."""
    import urllib.request
    served(apiserver, crd("dials2", "Dial2", [version("v1", {"type": "object", "properties": {
        "turns": {"type": "integer"}}}, storage=True)]))
    ok(create(apiserver, "dials2", "v1", "Dial2", "d", {"turns": 1}), 201)
    request = urllib.request.Request(f"{apiserver.url}/apis/{GROUP}/v1/namespaces/default/dials2/d",
                                     data=b'{"spec": {"extra": 1}}', method="PATCH",
                                     headers={"Content-Type": "application/merge-patch+json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert response.headers.get_all("Warning") == ['299 - "unknown field \\"spec.extra\\""']


def test_a_status_patch_is_decoded_as_an_update(apiserver):
    """A patch of a custom resource's status meets fieldValidation as an update does: an unknown field is a
    warning by default and under Strict the patch handler's 422 of the field "patch" (upstream's jsonPatcher), and
    is not recorded in managedFields."""
    import urllib.request
    body = crd("meters", "Meter", [version("v1", {"type": "object", "properties": {
        "turns": {"type": "integer"}}}, storage=True)])
    body["spec"]["versions"][0]["subresources"] = {"status": {}}
    body["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"] = {
        "type": "object", "properties": {"reading": {"type": "integer"}}}
    served(apiserver, body)
    ok(create(apiserver, "meters", "v1", "Meter", "m", {"turns": 1}), 201)
    path = f"/apis/{GROUP}/v1/namespaces/default/meters/m/status"
    merge = {"Content-Type": "application/merge-patch+json"}
    status, answer = apiserver.request("PATCH", path + "?fieldValidation=Strict",
                                       {"status": {"reading": 1, "extra": 2}}, headers=merge)
    assert status == 422 and answer["details"]["causes"][0]["field"] == "patch"
    assert answer["message"].endswith('strict decoding error: unknown field "status.extra"')
    request = urllib.request.Request(apiserver.url + path, data=b'{"status": {"reading": 2, "extra": 3}}',
                                     method="PATCH", headers=merge)
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers.get_all("Warning") == ['299 - "unknown field \\"status.extra\\""']
        patched = json.loads(response.read())
    assert patched["status"] == {"reading": 2}
    status_fields = [m["fieldsV1"] for m in patched["metadata"]["managedFields"] if m.get("subresource") == "status"]
    assert status_fields == [{"f:status": {".": {}, "f:reading": {}}}]


def _embedding_crd(plural: str, kind: str) -> dict:
    template = {"type": "object", "x-kubernetes-embedded-resource": True, "x-kubernetes-preserve-unknown-fields": True}
    return crd(plural, kind, [version("v1", {"type": "object", "properties": {
        "template": template,
        "typed": {"type": "object", "x-kubernetes-embedded-resource": True,
                  "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}},
        storage=True)])


def test_embedded_resources_metadata_is_coerced_and_validated(apiserver):
    """An embedded resource's metadata is an ObjectMeta: unknown fields are pruned (a strict decoding error
    under Strict), a field of the wrong type refuses the request with a 400, and its apiVersion, kind and
    names are validated with their paths."""
    served(apiserver, _embedding_crd("widgets", "Widget"))
    path = f"/apis/{GROUP}/v1/namespaces/default/widgets"
    template = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}, "bogus": 1}}
    status, body = apiserver.request("POST", path + "?fieldValidation=Strict", {
        "apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "strict"}, "spec": {"template": template}})
    assert status == 400
    assert body["message"] == ('Widget in version "v1" cannot be handled as a Widget: strict decoding error: '
                               'unknown field "spec.template.metadata.bogus"')
    status, body = create(apiserver, "widgets", "v1", "Widget", "pruned", {"template": template})
    assert status == 201, body
    assert body["spec"]["template"] == {"apiVersion": "v1", "kind": "Pod",
                                        "metadata": {"name": "p", "labels": {"a": "b"}}}
    status, body = create(apiserver, "widgets", "v1", "Widget", "malformed", {"template": {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"annotations": "str"}}})
    assert status == 400
    assert body["message"] == (
        'Widget in version "v1" cannot be handled as a Widget: spec.template.metadata: Invalid value: '
        'map[string]interface {}{"annotations":"str"}: json: cannot unmarshal string into Go struct field '
        "ObjectMeta.annotations of type map[string]string")
    status, body = create(apiserver, "widgets", "v1", "Widget", "invalid", {
        "template": {"kind": "Pod", "metadata": {"name": ".."}}, "typed": {"apiVersion": "v1", "kind": "%"}})
    assert status == 422
    assert [field for field, _ in causes(body)] == [
        "spec.template.apiVersion", "spec.template.metadata.name", "spec.typed.kind"]
    assert causes(body)[1] == ("spec.template.metadata.name", "Invalid value: \"..\": may not be '..'")


def test_embedded_resources_in_the_published_openapi(apiserver):
    """Every embedded resource lists apiVersion and kind (required) and metadata (an ObjectMeta) in OpenAPI v3;
    Swagger 2.0 leaves them out of one that keeps unknown fields."""
    served(apiserver, _embedding_crd("gadgets", "Gadget"))
    status, doc = apiserver.request("GET", f"/openapi/v3/apis/{GROUP}/v1")
    assert status == 200
    name = next(n for n in doc["components"]["schemas"] if n.endswith(".Gadget"))
    spec = doc["components"]["schemas"][name]["properties"]["spec"]["properties"]
    for node in (spec["template"], spec["typed"]):
        assert node["required"] == ["kind", "apiVersion"]
        assert node["properties"]["metadata"]["allOf"] == [
            {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]
        assert node["properties"]["kind"]["type"] == "string"
    status, doc = apiserver.request("GET", "/openapi/v2")
    assert status == 200
    spec = doc["definitions"][name]["properties"]["spec"]["properties"]
    assert "properties" not in spec["template"] and "required" not in spec["template"]
    assert spec["typed"]["properties"]["metadata"]["$ref"] == \
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    assert spec["typed"]["required"] == ["kind", "apiVersion"]


def test_a_yaml_apply_configuration_is_read_as_other_yaml(apiserver):
    """A server-side apply configuration in YAML is read as every other YAML body, as sigs.k8s.io/yaml reads it:
    a timestamp-looking value stays the string it was, and a key YAML 1.1 reads as a bool ('on') is the string
    'true' (it was a 500: a bool key reached the field manager)."""
    body = crd("notes", "Note", [version("v1", {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                                          storage=True)])
    served(apiserver, body)
    config = (f"apiVersion: {GROUP}/v1\nkind: Note\nmetadata:\n  name: n\n"
              "spec:\n  at: 2024-01-01T10:00:00Z\n  on: 2024-01-01\n").encode()
    status, answer = apiserver.request("PATCH", f"/apis/{GROUP}/v1/namespaces/default/notes/n?fieldManager=t",
                                       config, headers={"Content-Type": "application/apply-patch+yaml"})
    assert status == 201, answer
    assert answer["spec"] == {"at": "2024-01-01T10:00:00Z", "true": "2024-01-01"}


def test_the_root_metadata_is_an_object_meta(apiserver):
    """A custom resource's metadata is decoded as an ObjectMeta and encoded again, as apiextensions' decoder does
    (whatever the schema preserves): a field ObjectMeta lacks is warned about (Strict: refused) and dropped, empty
    labels, annotations and lists are dropped before managedFields is worked out, and a field of the wrong type is
    a 400 rather than stored."""
    import urllib.request
    body = crd("cogs", "Cog", [version("v1", {"type": "object", "properties": {"teeth": {"type": "integer"}}},
                                       storage=True)])
    body["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["x-kubernetes-preserve-unknown-fields"] = True
    served(apiserver, body)
    path = f"/apis/{GROUP}/v1/namespaces/default/cogs"

    def cog(name, **metadata):
        return {"apiVersion": f"{GROUP}/v1", "kind": "Cog", "metadata": {"name": name, **metadata},
                "spec": {"teeth": 3}}
    status, answer = apiserver.request("POST", path, cog("c1", labels="x"))
    assert status == 400, answer
    assert answer["message"] == ('Cog in version "v1" cannot be handled as a Cog: json: cannot unmarshal string '
                                 "into Go struct field ObjectMeta.labels of type map[string]string")
    status, answer = apiserver.request("POST", path + "?fieldValidation=Strict", cog("c2", bogus=1))
    assert status == 400, answer
    assert answer["message"] == 'Cog in version "v1" cannot be handled as a Cog: strict decoding error: ' \
                                'unknown field "metadata.bogus"'
    request = urllib.request.Request(apiserver.url + path, method="POST", headers={
        "Content-Type": "application/json"}, data=json.dumps(cog("c3", bogus=1, labels={}, annotations={},
                                                                 finalizers=[], ownerReferences=[])).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        assert response.headers.get_all("Warning") == ['299 - "unknown field \\"metadata.bogus\\""']
        created = json.loads(response.read())
    metadata = created["metadata"]
    assert not {"bogus", "labels", "annotations", "finalizers", "ownerReferences"} & set(metadata), metadata
    assert "f:metadata" not in json.dumps(metadata["managedFields"])
    status, read = apiserver.request("GET", path + "/c3")
    assert status == 200 and read["metadata"] == metadata

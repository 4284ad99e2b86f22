"""Built-in objects are what upstream's Go structs encode to: omitempty fields of a map, slice, string, number or
bool type are left out at their zero values ({}, [], "", 0, false); pointers, structs and fields without omitempty
keep theirs.  The table of those fields is generated from the Go struct tags (omitempty_fields.py)."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest

from kapiserver.endpoints.decoding import decode_typed
from kapiserver.machinery import omitempty_fields, schema, typed
from kapiserver.machinery.errors import StatusError
from kapiserver.registry.options import WriteOptions
from tests.endpoints.inprocess import served

DEPLOYMENT = schema.node_for("apps", "v1", "Deployment")
CONFIGMAP = schema.node_for("", "v1", "ConfigMap")
MIRRORS = "/work/.mirror"


def _table() -> dict[str, dict[str, str]]:
    return {name: dict(field.split(" ") for field in fields.split("; "))
            for name, fields in omitempty_fields.FIELDS.items()}


@pytest.mark.skipif(not all(os.path.isdir(f"{MIRRORS}/kubernetes+{repo}/repo") for repo in
                            ("api", "apimachinery", "apiextensions-apiserver", "kube-aggregator")),
                    reason="needs the mirrored Go sources the table is read from")
def test_table_is_what_the_generator_reads_from_the_go_sources():
    """The committed table is exactly what _generate_omitempty.py reads (no hand edits), and every OpenAPI
    property of every definition is a JSON field of its Go struct (no field missed or misread)."""
    from kapiserver.machinery import _generate_omitempty as generator
    table, warnings = generator.omittable(schema.definitions(), generator.Packages(MIRRORS, omitempty_fields.TAG))
    assert warnings == []
    assert table == _table()
    assert generator.render(table, omitempty_fields.TAG) == open(omitempty_fields.__file__).read()


_SCHEMA_TYPES = {"map": {"object"}, "slice": {"array", "string"}, "string": {"string"},
                 "number": {"integer", "number"}, "bool": {"boolean"}}


def test_table_agrees_with_the_openapi_types():
    """Each field listed is a property of its definition whose OpenAPI type fits its Go kind (a []byte is a
    base64 string); structs (Time, Quantity, IntOrString, LabelSelector...) are never listed."""
    for name, fields in _table().items():
        for field, kind in fields.items():
            node = schema.node_named(name).field(field)
            assert node is not None, (name, field)
            assert node.type in _SCHEMA_TYPES[kind], (name, field, kind, node.type)
            assert not (kind == "slice" and node.type == "string") or node.format == "byte", (name, field)
            assert not (kind == "map" and node.properties), (name, field)


def test_zero_values_of_omitempty_fields_are_dropped():
    """A Deployment as Helm charts render it: the empty selector map, lists and false booleans go, as upstream's
    encoding leaves them out."""
    obj, unknown = typed.decode({
        "metadata": {"name": "d", "labels": {}, "annotations": {}, "finalizers": [], "generation": 0,
                     "namespace": ""},
        "spec": {"replicas": 0, "paused": False, "minReadySeconds": 0,
                 "template": {"metadata": {"labels": {"a": "b"}, "annotations": {}},
                              "spec": {"nodeSelector": {}, "tolerations": [], "hostNetwork": False,
                                       "serviceAccountName": "", "imagePullSecrets": [],
                                       "containers": [{"name": "c", "image": "i", "args": [], "stdin": False,
                                                       "env": [{"name": "E", "value": ""}]}]}}},
        "status": {"replicas": 0, "conditions": []}}, DEPLOYMENT, "Deployment", "v1")
    assert unknown == []
    assert obj == {"metadata": {"name": "d"},
                   "spec": {"replicas": 0,        # *int32: a pointer keeps its zero
                            "template": {"metadata": {"labels": {"a": "b"}},
                                         "spec": {"containers": [{"name": "c", "image": "i",
                                                                  "env": [{"name": "E"}]}]}}},
                   "status": {}}


def test_pointers_structs_and_fields_without_omitempty_keep_their_zero_values():
    """*bool, *int64 and pointer structs, non-pointer structs and fields tagged without omitempty are kept."""
    pod = schema.node_for("", "v1", "Pod")
    body = {"spec": {"automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0,
                     "securityContext": {}, "containers": [],
                     "volumes": [{"name": "v", "emptyDir": {}}]},
            "status": {}}
    assert typed.decode(body, pod, "Pod", "v1")[0] == body
    service = schema.node_for("", "v1", "Service")
    body = {"spec": {"ports": [{"port": 0, "targetPort": 0, "name": "", "nodePort": 0}]}}
    assert typed.decode(body, service, "Service", "v1")[0] == {"spec": {"ports": [{"port": 0, "targetPort": 0}]}}
    # A list's null items are still their Go zero values (a struct, a string), whatever their fields.
    crd = schema.node_for("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
    obj, _ = typed.decode({"spec": {"versions": [None], "names": {"shortNames": [None, ""]}}}, crd,
                          "CustomResourceDefinition", "v1")
    assert obj == {"spec": {"versions": [{}], "names": {"shortNames": ["", ""]}}}


def test_a_crd_schema_is_encoded_as_upstream_encodes_its_structs():
    """JSONSchemaProps: nullable: false and an empty properties map go, the *bool preserve-unknown-fields stays."""
    crd = schema.node_for("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
    version = {"name": "v1", "served": False, "storage": True,
               "schema": {"openAPIV3Schema": {"type": "object", "nullable": False, "properties": {},
                                              "required": [], "x-kubernetes-preserve-unknown-fields": False}}}
    obj, _ = typed.decode({"spec": {"versions": [version]}}, crd, "CustomResourceDefinition", "v1")
    assert obj["spec"]["versions"][0] == {"name": "v1", "served": False, "storage": True, "schema": {
        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": False}}}


def test_managed_fields_given_empty_are_kept_for_the_field_manager():
    """``managedFields: []`` resets the managed fields upstream (its handler sees an empty list, not none): the
    decoding keeps it for the field manager, which leaves it out of what it stores."""
    obj, _ = typed.decode({"metadata": {"name": "c", "managedFields": []}}, CONFIGMAP, "ConfigMap", "v1")
    assert obj == {"metadata": {"name": "c", "managedFields": []}}


def test_zero_values_of_the_wrong_type_are_still_refused_and_unknown_fields_reported():
    """Only a value that decodes is dropped: a zero of the wrong JSON type is the 400 it was; unknown fields
    are reported whatever their value."""
    for spec, go_type in (({"nodeSelector": []}, "map[string]string"), ({"hostNetwork": 0}, "bool"),
                          ({"tolerations": {}}, "[]v1.Toleration"), ({"hostname": False}, "string")):
        with pytest.raises(StatusError) as raised:
            typed.decode({"spec": {"template": {"spec": spec}}}, DEPLOYMENT, "Deployment", "v1")
        assert raised.value.code == 400
        assert raised.value.message.endswith(f"spec.template.spec.{next(iter(spec))} of type {go_type}")
    obj, unknown = typed.decode({"metadata": {"name": "c", "bogus": {}}, "data": {}, "extra": []},
                                CONFIGMAP, "ConfigMap", "v1")
    assert obj == {"metadata": {"name": "c"}} and unknown == ["metadata.bogus", "extra"]


def test_unmarshal_keeps_zero_values():
    """unmarshal is Go's json.Unmarshal alone: nothing is encoded, so nothing is left out."""
    meta = schema.node_named("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    assert typed.unmarshal({"name": "", "labels": {}}, meta) == ({"name": "", "labels": {}}, [])


def test_a_built_in_body_loses_its_zero_values_and_a_custom_resource_keeps_them():
    """decode_typed: a built-in kind's body is what its Go struct encodes to; a custom resource, unstructured
    upstream, keeps its empty maps, lists and falsy values but in its metadata."""
    request = SimpleNamespace(method=b"PATCH")
    body = {"metadata": {"name": "x", "labels": {}}, "spec": {"template": {"spec": {"nodeSelector": {}}}}}
    deployments = SimpleNamespace(builtin=True, info=SimpleNamespace(group="apps", version="v1", kind="Deployment"))
    assert decode_typed(request, deployments, json.loads(json.dumps(body)), WriteOptions()) == \
        {"metadata": {"name": "x"}, "spec": {"template": {"spec": {}}}}
    widgets = SimpleNamespace(builtin=False, strategy=SimpleNamespace(),
                              info=SimpleNamespace(group="ex.com", version="v1", kind="Widget"))
    # Its metadata excepted: upstream decodes that as an ObjectMeta and encodes it again.
    assert decode_typed(request, widgets, json.loads(json.dumps(body)), WriteOptions()) == \
        {**body, "metadata": {"name": "x"}}


# --- through the API ------------------------------------------------------------------------------------------

def _call(call, method: str, url: str, body, content_type: str = "application/json"):
    answer = call(method, url, body, content_type)
    return answer.code, answer.body


def test_a_configmap_created_with_empty_maps_answers_without_them():
    """labels: {}, annotations: {} and data: {} are not stored or answered."""
    call = served()
    code, created = _call(call, "POST", "/api/v1/namespaces/default/configmaps?fieldManager=t",
                          {"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "c", "labels": {"k": "v"}, "annotations": {}}, "data": {}})
    assert code == 201
    assert "data" not in created and "annotations" not in created["metadata"]
    fields = json.dumps(created["metadata"]["managedFields"])
    assert "f:labels" in fields and "f:annotations" not in fields and "f:data" not in fields


def test_a_merge_patch_of_an_empty_node_selector_changes_nothing():
    """As upstream: the patched Deployment encodes as it did, so nothing is written (same resourceVersion and
    generation) and the patching manager owns nothing new."""
    call = served()
    path = "/apis/apps/v1/namespaces/default/deployments"
    code, created = _call(call, "POST", path, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c",
                                                                                         "image": "i"}]}}}})
    assert code == 201
    code, patched = _call(call, "PATCH", path + "/d?fieldManager=helm",
                          {"spec": {"template": {"spec": {"nodeSelector": {}, "tolerations": [],
                                                          "hostNetwork": False}}}},
                          "application/merge-patch+json")
    assert code == 200
    assert patched["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert patched["metadata"]["generation"] == created["metadata"]["generation"] == 1
    assert "nodeSelector" not in patched["spec"]["template"]["spec"]
    assert [entry["manager"] for entry in patched["metadata"]["managedFields"]] == \
        [entry["manager"] for entry in created["metadata"]["managedFields"]]

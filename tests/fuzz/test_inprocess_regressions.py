"""Answers the in-process fuzzer (tests/fuzz/inprocess.py) once found to be 500s, each pinned to upstream's."""

from __future__ import annotations

import pytest

from kapiserver.registry.catalog import BUILTIN

from tests.endpoints.inprocess import served

from .seeds import NAMESPACE, seed_body

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def info_of(resource: str, group: str):
    return next(info for info in BUILTIN if info.resource == resource and info.group == group)


@pytest.fixture(scope="module")
def call():
    return served(namespace=NAMESPACE)


def crd_with(change) -> dict:
    crd = seed_body(info_of("customresourcedefinitions", "apiextensions.k8s.io"))
    change(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"])
    return crd


def test_a_crd_schema_of_the_wrong_type_under_items_is_bad_request(call):
    """A JSONSchemaProps inside items (a JSONSchemaPropsOrArray, which decodes itself) whose properties is a list
    is Go's decoding error, named at the items field as Go's decoder names a custom unmarshaler's error: 400."""
    crd = crd_with(lambda props: props["ports"]["items"].__setitem__("properties", [[[]]]))
    answer = call("POST", CRDS, crd)
    assert answer.code == 400, answer.body
    assert answer.body["message"] == (
        'CustomResourceDefinition in version "v1" cannot be handled as a CustomResourceDefinition: json: cannot '
        'unmarshal array into Go struct field JSONSchemaProps.spec.versions.schema.openAPIV3Schema.properties[spec]'
        '.properties[ports].items of type map[string]v1.JSONSchemaProps')


def test_a_crd_schema_patched_to_the_wrong_type_under_items_is_invalid(call):
    """The same schema reached by a merge or strategic merge patch: the patched object does not decode, 422."""
    crd = crd_with(lambda props: None)
    assert call("POST", CRDS, crd).code == 201
    bad = crd_with(lambda props: props["ports"]["items"].__setitem__("properties", [[[]]]))
    for content_type in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
        answer = call("PATCH", f"{CRDS}/{crd['metadata']['name']}", {"spec": {"versions": bad["spec"]["versions"]}},
                      content_type)
        assert answer.code == 422 and answer.body["reason"] == "Invalid", answer.body


def test_additional_properties_neither_a_bool_nor_a_schema_is_bad_request(call):
    """JSONSchemaPropsOrBool's own unmarshaler refuses a string: "boolean or JSON schema expected", 400."""
    crd = crd_with(lambda props: props["labels"].__setitem__("additionalProperties", "x"))
    answer = call("POST", CRDS, crd)
    assert answer.code == 400, answer.body
    assert answer.body["message"].endswith("cannot be handled as a CustomResourceDefinition: boolean or JSON schema "
                                           "expected")


def test_items_neither_a_schema_nor_a_list_is_dropped(call):
    """JSONSchemaPropsOrArray's unmarshaler leaves a number or string as no items at all: an array without items
    is then validation's 422, never a 500."""
    crd = crd_with(lambda props: props["tags"].__setitem__("items", "x"))
    answer = call("POST", CRDS, crd)
    assert answer.code == 422, answer.body
    assert "items: Required value: must be specified" in answer.body["message"]


def test_items_as_a_list_of_schemas_is_decoded_and_refused(call):
    """items as a list of schemas decodes (each as a JSONSchemaProps, wrong types inside them a 400) and is
    validation's 422 in a structural schema."""
    crd = crd_with(lambda props: props["tags"].__setitem__("items", [{"type": "string"}]))
    answer = call("POST", CRDS, crd)
    assert answer.code == 422, answer.body
    crd = crd_with(lambda props: props["tags"].__setitem__("items", [{"type": "string", "maxLength": "x"}]))
    answer = call("POST", CRDS, crd)
    assert answer.code == 400 and "into Go struct field JSONSchemaProps.spec.versions.schema.openAPIV3Schema" \
        ".properties[spec].properties[tags].items of type int64" in answer.body["message"], answer.body


@pytest.mark.parametrize("resource", ["subjectaccessreviews", "localsubjectaccessreviews"])
def test_an_access_review_with_a_null_extra_value_is_answered(call, resource):
    """spec.extra {"k": null} decodes (a nil ExtraValue upstream) and the review is answered: 201, not a 500."""
    review = seed_body(info_of(resource, "authorization.k8s.io"))
    review["spec"]["extra"] = {"k": None, "j": ["v"]}
    path = "/apis/authorization.k8s.io/v1" + (f"/namespaces/{NAMESPACE}" if resource.startswith("local") else "")
    answer = call("POST", f"{path}/{resource}", review)
    assert answer.code == 201 and answer.body["status"]["allowed"] is True, answer.body


def test_a_null_schema_in_a_crd_properties_map_is_an_empty_schema(call):
    """"properties": {"port": null} decodes as Go's map[string]JSONSchemaProps does, to an empty schema, which
    validation refuses (422); it was kept as null, stored, and its custom resources' writes were 500s."""
    crd = crd_with(lambda props: props["ports"]["items"]["properties"].__setitem__("port", None))
    crd["metadata"]["name"] = "ws.x.example.com"
    answer = call("POST", CRDS, crd)
    assert answer.code == 422, answer.body
    assert ("spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[ports].items.properties[port].type: "
            "Required value: must not be empty for specified object fields") in answer.body["message"]


def test_a_finalize_body_of_the_wrong_type_is_bad_request(call):
    """PUT namespaces/{name}/finalize decodes its body as a Namespace: spec.finalizers a number is Go's 400 (was a
    500 from the finalize strategy)."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fin"}}
    assert call("POST", "/api/v1/namespaces", namespace).code == 201
    namespace["spec"] = {"finalizers": -2147483649}
    answer = call("PUT", "/api/v1/namespaces/fin/finalize", namespace)
    assert answer.code == 400, answer.body
    # Upstream's type is []v1.FinalizerName, a name the schema the decoder reads does not keep.
    assert answer.body["message"].startswith('Namespace in version "v1" cannot be handled as a Namespace: json: '
                                             'cannot unmarshal number into Go struct field '
                                             'NamespaceSpec.spec.finalizers of type ')
    namespace["spec"] = {"finalizers": []}
    assert call("PUT", "/api/v1/namespaces/fin/finalize", namespace).code == 200


def test_a_list_map_key_of_the_wrong_type_is_invalid_on_update():
    """A list-type map item whose key is a list, written over a stored object (whose items the update's are paired
    with for ratcheting): the key's type error, 422 (the pairing hashed the list: a 500)."""
    from kapiserver.controllers.crd import CRDController

    from .seeds import CUSTOM
    call = served(lambda registry, clock: CRDController(registry, clock), namespace=NAMESPACE)
    crd = crd_with(lambda props: None)
    crd["metadata"]["name"] = "ws.x.example.com"
    assert call("POST", CRDS, crd).code == 201
    collection = f"/apis/x.example.com/v1/namespaces/{NAMESPACE}/ws"
    created = call("POST", collection, {"apiVersion": "x.example.com/v1", "kind": "W",
                                        "metadata": {"name": "w"}, **CUSTOM})
    assert created.code == 201, created.body
    for ports in ([{"port": 1}, {"port": [2]}], [{"port": {"a": 1}}]):
        answer = call("PATCH", f"{collection}/w", {"spec": {"ports": ports}}, "application/merge-patch+json")
        assert answer.code == 422, answer.body
        assert "in body must be of type integer" in answer.body["message"], answer.body


def test_a_limit_range_max_past_any_float_is_answered(call):
    """A LimitRange whose max is 1e999 beside a min and a ratio: the max/min check divides numbers past any float;
    the object is answered, not a 500 from the division."""
    limit_range = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "huge"},
                   "spec": {"limits": [{"type": "Container", "max": {"cpu": "1e999"}, "min": {"cpu": "10m"},
                                        "maxLimitRequestRatio": {"cpu": "10"}}]}}
    answer = call("POST", f"/api/v1/namespaces/{NAMESPACE}/limitranges", limit_range)
    assert answer.code == 201, answer.body


def test_a_crd_condition_is_set_where_the_status_holds_null_conditions():
    """set_condition on a CRD whose status.conditions is null (what a server-side apply of the status subresource
    left in a fuzzed sequence): the list is made, as for none (it was a TypeError, a 500 of the status write)."""
    from kapiserver.registry.crd import set_condition
    crd = {"metadata": {"name": "ws.x.example.com"}, "status": {"conditions": None, "storedVersions": ["v1"]}}
    set_condition(crd, "NamesAccepted", "True", "NoConflicts", "no conflicts found", 0.0)
    assert [c["type"] for c in crd["status"]["conditions"]] == ["NamesAccepted"]
    assert crd["status"]["storedVersions"] == ["v1"]

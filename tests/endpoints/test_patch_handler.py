"""The patch handler's answers as upstream 1.32's (k8s.io/apiserver's patch.go): a patched object that does not decode
is a 422 Invalid of the field "patch", showing the patch map (strategic merge) or the patched JSON (JSON and merge
patches)."""

from __future__ import annotations

import json

import pytest

from tests.endpoints.inprocess import served

NS = "/api/v1/namespaces/default"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


@pytest.fixture
def api():
    call = served()

    def ask(method, path, body=None, content_type="application/json"):
        """(code, decoded body, Warning headers)."""
        answer = call(method, path, body, content_type)
        return answer.code, answer.body, answer.warnings

    return ask


def configmap(api, name="c"):
    code, created, _ = api("POST", f"{NS}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                        "metadata": {"name": name}, "data": {"a": "b"}})
    assert code == 201, created
    return created


def invalid_patch(answer, shown, detail):
    cause = {"reason": "FieldValueInvalid", "message": f"Invalid value: {json.dumps(shown)}: {detail}",
             "field": "patch"}
    assert answer["reason"] == "Invalid" and answer["code"] == 422
    assert answer["details"] == {"causes": [cause]}
    assert answer["message"] == f' "" is invalid: patch: {cause["message"]}'


def test_strategic_merge_patch_with_an_unknown_field_shows_the_patch_map(api):
    """kubectl's client-side apply of an unknown field under Strict: upstream's applyPatchToObject shows the patch
    map as Go's %+v prints it."""
    configmap(api)
    patch = {"foo": "bar", "metadata": {"annotations": {"x": "<1>"}}, "data": {"n": None}}
    code, answer, _ = api("PATCH", f"{NS}/configmaps/c?fieldValidation=Strict", patch, STRATEGIC)
    assert code == 422
    invalid_patch(answer, "map[data:map[n:<nil>] foo:bar metadata:map[annotations:map[x:<1>]]]",
                  'strict decoding error: unknown field "foo"')


def podtemplate(api):
    code, created, _ = api("POST", f"{NS}/podtemplates", {
        "apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "pt"},
        "template": {"spec": {"containers": [{"name": "x", "image": "busybox"}]}}})
    assert code == 201, created
    return created


def test_merge_patch_of_a_wrong_type_shows_the_patched_json(api):
    """A merge patch whose result does not decode: the patched JSON as evanphx/json-patch writes it (the objects
    it merged into with their keys sorted, the rest as encoded), and the decoder's error."""
    created = podtemplate(api)
    code, answer, _ = api("PATCH", f"{NS}/podtemplates/pt", {"template": {"spec": {"containers": {"name": "x"}}}},
                          MERGE)
    assert code == 422
    spec = dict(sorted(dict(created["template"]["spec"], containers={"name": "x"}).items()))
    shown = json.dumps({"apiVersion": "v1", "kind": "PodTemplate", "metadata": created["metadata"],
                        "template": {"metadata": created["template"]["metadata"], "spec": spec}},
                       separators=(",", ":"))
    invalid_patch(answer, shown, "json: cannot unmarshal object into Go struct field "
                                 "PodSpec.template.spec.containers of type []v1.Container")


def test_json_patch_of_an_unknown_field_shows_the_patched_json(api):
    """A JSON patch adding an unknown field under Strict: the top of the patched JSON sorted, the added value as the
    patch wrote it (HTML characters escaped, as Go's encoder does)."""
    created = configmap(api)
    code, answer, _ = api("PATCH", f"{NS}/configmaps/c?fieldValidation=Strict",
                          b'[{"op":"add","path":"/foo","value":{"z":1,"a":"<"}}]', JSON_PATCH)
    assert code == 422
    shown = json.dumps({"apiVersion": "v1", "data": {"a": "b"}, "foo": {"z": 1, "a": "<"}, "kind": "ConfigMap",
                        "metadata": created["metadata"]}, separators=(",", ":")).replace("<", "\\u003c")
    invalid_patch(answer, shown, 'strict decoding error: unknown field "foo"')


def test_strategic_merge_patch_of_a_wrong_type_is_the_converters_error(api):
    """A strategic merge patch's result is made typed by the unstructured converter, whose words the error has."""
    podtemplate(api)
    patch = {"template": {"spec": {"containers": {"name": "x"}}}}
    code, answer, _ = api("PATCH", f"{NS}/podtemplates/pt", patch, STRATEGIC)
    assert code == 422
    invalid_patch(answer, "map[template:map[spec:map[containers:map[name:x]]]]", "cannot restore slice from map")
    code, answer, _ = api("PATCH", f"{NS}/podtemplates/pt", {"template": {"spec": {"priority": 1.5}}}, STRATEGIC)
    invalid_patch(answer, "map[template:map[spec:map[priority:1.5]]]", "cannot convert float64 to int32")


def test_a_patch_writing_a_key_twice_is_a_strict_decoding_error(api):
    """The patch body's own duplicate keys: a 422 under Strict (before the object's unknown fields), warnings under
    Warn."""
    configmap(api)
    body = b'{"data":{"a":"1","a":"2"},"bar":1}'
    code, answer, _ = api("PATCH", f"{NS}/configmaps/c?fieldValidation=Strict", body, MERGE)
    assert code == 422
    assert answer["message"].endswith('strict decoding error: duplicate field "data.a", unknown field "bar"')
    code, patched, warnings = api("PATCH", f"{NS}/configmaps/c?fieldValidation=Warn", body, MERGE)
    assert code == 200 and patched["data"] == {"a": "2"}
    assert warnings == ['299 - "duplicate field \\"data.a\\""', '299 - "unknown field \\"bar\\""']


def test_an_apply_creating_its_object_may_not_name_a_uid(api):
    """upstream's patcher refuses a created object that carries a uid (409), and creates nothing."""
    body = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u","uid":"abc"}}'
    code, answer, _ = api("PATCH", f"{NS}/configmaps/u?fieldManager=m", body, APPLY)
    assert (code, answer["reason"]) == (409, "Conflict")
    assert answer["message"] == ('Operation cannot be fulfilled on configmaps "u": uid mismatch: the provided object '
                                 "specified uid abc, and no existing object was found")
    assert answer["details"] == {"name": "u", "kind": "configmaps"}
    assert api("GET", f"{NS}/configmaps/u")[0] == 404


def test_an_apply_creating_its_object_ignores_the_resource_version_it_names(api):
    """Store.Update's create branch does not look at the new object's resourceVersion (storage drops it)."""
    body = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"r","resourceVersion":"5"},"data":{"a":"b"}}'
    code, created, _ = api("PATCH", f"{NS}/configmaps/r?fieldManager=m", body, APPLY)
    assert code == 201, created
    assert created["data"] == {"a": "b"} and created["metadata"]["resourceVersion"] != "5"
    assert [e["manager"] for e in created["metadata"]["managedFields"]] == ["m"]


def test_an_apply_of_another_kind_is_an_invalid_object_type(api):
    """The field manager's version check answers first, naming the group, version and kind the body named."""
    configmap(api, "k")
    for body, named in ((b'{"apiVersion":"v1","kind":"Secret","metadata":{"name":"k"}}', "/v1, Kind=Secret"),
                        (b'{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"k"}}',
                         "apps/v1, Kind=ConfigMap"),
                        (b"", "/, Kind=")):
        code, answer, _ = api("PATCH", f"{NS}/configmaps/k?fieldManager=m", body, APPLY)
        assert (code, answer["reason"], answer["message"]) == (400, "BadRequest", f"invalid object type: {named}")


def test_an_apply_through_status_owns_the_metadata_its_strategy_keeps(api):
    """deploymentStatusStrategy.GetResetFields names the spec and metadata.labels: an apply through /status owns
    the annotations it sets (and writes them), not the labels (which stay as they were, and do not conflict)."""
    deployments = "/apis/apps/v1/namespaces/default/deployments"
    code, created, _ = api("POST", f"{deployments}?fieldManager=creator", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d5", "labels": {"app": "d5"}},
        "spec": {"selector": {"matchLabels": {"app": "d5"}}, "template": {
            "metadata": {"labels": {"app": "d5"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
    assert code == 201, created
    body = {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d5", "annotations": {"an": "x"}, "labels": {"app": "other"}},
            "status": {"observedGeneration": 1}}
    code, applied, _ = api("PATCH", f"{deployments}/d5/status?fieldManager=st", body, APPLY)
    assert code == 200, applied
    assert applied["metadata"]["annotations"] == {"an": "x"} and applied["metadata"]["labels"] == {"app": "d5"}
    (entry,) = [e for e in applied["metadata"]["managedFields"] if e["manager"] == "st"]
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:metadata": {"f:annotations": {"f:an": {}}},
                                 "f:status": {"f:observedGeneration": {}}}


def test_a_status_patch_that_does_not_decode_is_the_same_422(api):
    """A subresource's patch goes through the same patcher as the resource's: a patched status that does not
    decode is the 422 of the field "patch", not the decoder's 400."""
    code, created, _ = api("POST", f"{NS}/pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                                   "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    assert code == 201, created
    code, answer, _ = api("PATCH", f"{NS}/pods/p/status?fieldValidation=Strict", {"status": {"bogus": 1}},
                          STRATEGIC)
    assert code == 422 and answer["details"]["causes"][0]["field"] == "patch"
    assert answer["message"].endswith('strict decoding error: unknown field "status.bogus"'), answer["message"]


def test_a_put_naming_another_uid_fails_its_storage_precondition(api):
    """A PUT's object with a uid makes it a storage precondition (upstream's DefaultUpdatedObjectInfo): another
    object's uid is the storage's invalid-object error, a 409; the object's own is an ordinary update."""
    created = configmap(api)
    changed = dict(created, data={"a": "c"}, metadata=dict(created["metadata"], uid="bogus"))
    code, answer, _ = api("PUT", f"{NS}/configmaps/c", changed)
    assert code == 409 and answer["reason"] == "Conflict"
    assert answer["message"] == (
        'Operation cannot be fulfilled on configmaps "c": StorageError: invalid object, Code: 4, '
        "Key: /registry/configmaps/default/c, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: "
        f"UID in precondition: bogus, UID in object meta: {created['metadata']['uid']}")
    code, updated, _ = api("PUT", f"{NS}/configmaps/c", dict(created, data={"a": "c"}))
    assert code == 200 and updated["data"] == {"a": "c"}


def test_a_put_creating_its_object_ignores_the_resource_version_it_names(api):
    """A kind created on update (a Lease) is created by a PUT naming a resourceVersion too: upstream's Store.Update
    does not look at the version when it creates, and storage drops it (a leader whose Lease was deleted takes it
    again); a kind that is not is a 404."""
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "l", "resourceVersion": "42"}, "spec": {"holderIdentity": "me"}}
    code, created, _ = api("PUT", "/apis/coordination.k8s.io/v1/namespaces/default/leases/l", lease)
    assert code == 201 and created["metadata"]["resourceVersion"] != "42"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gone", "resourceVersion": "42"}}
    assert api("PUT", f"{NS}/configmaps/gone", cm)[0] == 404

"""JSON patch, merge patch, and decoding patch bodies with upstream's errors."""

from __future__ import annotations

import pytest

from kapiserver.machinery import codec, patch
from kapiserver.machinery.errors import StatusError
from kapiserver.machinery.patch import JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH

UNPROCESSABLE = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                 "message": "the server rejected our request due to an error in our request",
                 "reason": "Invalid", "details": {}, "code": 422}


def _status(call, *args) -> dict:
    with pytest.raises(StatusError) as caught:
        call(*args)
    return caught.value.to_status()


# --- JSON patch ---------------------------------------------------------------------------

OBJ = {"metadata": {"name": "x", "resourceVersion": "7", "finalizers": ["a"]}, "data": {"k": "v"}}


def test_json_patch_add_replace_remove():
    """add, replace and remove change the object; the original is left alone."""
    ops = [{"op": "add", "path": "/data/n", "value": "1"},
           {"op": "replace", "path": "/data/k", "value": "w"},
           {"op": "remove", "path": "/metadata/finalizers"}]
    result = patch.json_patch(OBJ, ops)
    assert result == {"metadata": {"name": "x", "resourceVersion": "7"}, "data": {"k": "w", "n": "1"}}
    assert OBJ["data"] == {"k": "v"} and OBJ["metadata"]["finalizers"] == ["a"]


def test_json_patch_move_copy_and_array_append():
    """move, copy and the "-" index work as RFC 6902 says."""
    ops = [{"op": "copy", "from": "/data/k", "path": "/data/c"},
           {"op": "move", "from": "/data/k", "path": "/data/m"},
           {"op": "add", "path": "/metadata/finalizers/-", "value": "b"}]
    result = patch.json_patch(OBJ, ops)
    assert result["data"] == {"c": "v", "m": "v"}
    assert result["metadata"]["finalizers"] == ["a", "b"]


def test_json_patch_kopf_finalizer_pattern():
    """kopf's test-then-add of finalizers passes when the resourceVersion matches."""
    ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
           {"op": "add", "path": "/metadata/finalizers", "value": ["kopf.zalando.org/KopfFinalizerMarker"]}]
    assert patch.json_patch(OBJ, ops)["metadata"]["finalizers"] == ["kopf.zalando.org/KopfFinalizerMarker"]


def test_json_patch_failed_test_is_422_with_fixed_message():
    """A failed test op is 422 Invalid with upstream's generic message and empty details."""
    ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": "6"}]
    assert _status(patch.json_patch, OBJ, ops) == UNPROCESSABLE


@pytest.mark.parametrize("ops", [
    [{"op": "remove", "path": "/data/missing"}],
    [{"op": "replace", "path": "/nope/deeper", "value": 1}],
    [{"op": "add", "path": "/nope/deeper", "value": 1}],
    [{"op": "bogus", "path": "/data"}],
    [{"path": "/data"}],
    [{"op": "move", "path": "/data/x"}],
    [{"op": "remove", "path": "/metadata/finalizers/5"}],
])
def test_json_patch_failed_operations_are_422(ops):
    """Any operation that cannot be applied is a 422 with the generic message."""
    assert _status(patch.json_patch, OBJ, ops) == UNPROCESSABLE


def test_json_patch_test_of_absent_null_passes():
    """As in evanphx/json-patch, testing an absent path for null succeeds."""
    ops = [{"op": "test", "path": "/metadata/labels", "value": None}]
    assert patch.json_patch(OBJ, ops) == OBJ


def test_json_patch_missing_value_reads_as_null():
    """As in evanphx/json-patch, add without a value adds null."""
    assert patch.json_patch({"a": 1}, [{"op": "add", "path": "/b"}]) == {"a": 1, "b": None}


def test_json_patch_paths_read_as_evanphx_does():
    """Negative indices count from the end, the first segment is ignored; the root path is the whole document
    (evanphx/json-patch v4.12, upstream's): a replace of it takes an object or an array, a test of it
    compares the whole document."""
    doc = {"a": [1, 2, 3], "b": {"c": 1}}
    assert patch.json_patch(doc, [{"op": "remove", "path": "/a/-1"}])["a"] == [1, 2]
    assert patch.json_patch(doc, [{"op": "add", "path": "/a/-1", "value": 9}])["a"] == [1, 2, 3, 9]
    assert patch.json_patch(doc, [{"op": "add", "path": "/a/-2", "value": 9}])["a"] == [1, 2, 9, 3]
    assert patch.json_patch(doc, [{"op": "replace", "path": "x/b", "value": 5}])["b"] == 5
    assert patch.json_patch(doc, [{"op": "add", "path": "/b/c~1d", "value": 4}])["b"] == {"c": 1, "c/d": 4}
    assert patch.json_patch(doc, [{"op": "replace", "path": "", "value": {"z": 1}}]) == {"z": 1}
    assert patch.json_patch(doc, [{"op": "test", "path": "", "value": doc}]) == doc
    for ops in ([{"op": "remove", "path": "/a/-4"}], [{"op": "test", "path": "", "value": {}}]):
        assert _status(patch.json_patch, doc, ops) == UNPROCESSABLE
    # A replace of an absent key adds it (v4 reads a missing object key as null, not as missing).
    assert patch.json_patch(doc, [{"op": "replace", "path": "/b/new", "value": 1}])["b"] == {"c": 1, "new": 1}


def test_json_patch_too_many_operations():
    """More than 10000 operations is 413 with upstream's message."""
    ops = [{"op": "test", "path": "/metadata/name", "value": "x"}] * 10001
    status = _status(patch.json_patch, OBJ, ops)
    assert status["code"] == 413
    assert status["reason"] == "RequestEntityTooLarge"
    assert status["message"] == ("Request entity too large: The allowed maximum operations in a JSON patch "
                                 "is 10000, got 10001")


def test_json_patch_cannot_make_the_root_an_array():
    """The document replaced by an array does not decode into the kind: upstream's 422 of the field "patch"."""
    status = _status(patch.json_patch, OBJ, [{"op": "replace", "path": "", "value": [1]}])
    assert status["code"] == 422 and status["details"]["causes"][0]["field"] == "patch"


# --- merge patch --------------------------------------------------------------------------


def test_merge_patch_label_removal_like_kubectl_label():
    """{"metadata":{"labels":{"foo":null}}} removes one label and keeps the rest."""
    original = {"metadata": {"name": "x", "labels": {"foo": "1", "bar": "2"}}}
    result = patch.merge_patch(original, {"metadata": {"labels": {"foo": None}}})
    assert result == {"metadata": {"name": "x", "labels": {"bar": "2"}}}
    assert original["metadata"]["labels"] == {"foo": "1", "bar": "2"}


def test_merge_patch_rfc7386_rules():
    """Objects merge recursively, lists and scalars replace, null deletes."""
    original = {"a": {"b": 1, "c": [1, 2]}, "d": "x", "e": 5}
    result = patch.merge_patch(original, {"a": {"c": [3], "n": {"m": None, "k": 1}}, "d": None, "e": {"f": 1}})
    assert result == {"a": {"b": 1, "c": [3], "n": {"k": 1}}, "e": {"f": 1}}


def test_merge_patch_scale_and_status_keepalive():
    """The shapes kubectl scale and kopf peering send apply as expected."""
    dep = {"spec": {"replicas": 1, "template": {}}, "status": {"peer-a": {"lastseen": "t0"}}}
    assert patch.merge_patch(dep, {"spec": {"replicas": 3}})["spec"] == {"replicas": 3, "template": {}}
    assert patch.merge_patch(dep, {"status": {"peer-a": None}})["status"] == {}


def test_merge_patch_prunes_nulls_in_new_values_but_keeps_array_nulls():
    """New objects lose their null members; null array items stay (evanphx behaviour)."""
    result = patch.merge_patch({"a": 1}, {"b": {"c": None, "d": [None, {"e": None, "f": 1}]}})
    assert result == {"a": 1, "b": {"d": [None, {"f": 1}]}}


def test_merge_patch_over_null_value():
    """A key holding null in the original counts as absent."""
    assert patch.merge_patch({"a": None}, {"a": {"b": None, "c": 1}}) == {"a": {"c": 1}}


def test_merge_patch_non_object_patches():
    """null or a scalar patch is 400 "Invalid JSON Patch"; an array replaces the object (422)."""
    for bad in (None, "x", 3):
        status = _status(patch.merge_patch, {"a": 1}, bad)
        assert (status["code"], status["reason"], status["message"]) == (400, "BadRequest", "Invalid JSON Patch")
    assert _status(patch.merge_patch, {"a": 1}, [1])["code"] == 422


# --- request bodies -----------------------------------------------------------------------


@pytest.mark.parametrize("patch_type,body,message", [
    (JSON_PATCH, b"[{", "error decoding patch: unexpected end of JSON input"),
    (MERGE_PATCH, b"{\"a\":}", "error decoding patch: invalid character '}' looking for beginning of value"),
    (STRATEGIC_MERGE_PATCH, b"{a:1}", "invalid character 'a' looking for beginning of object key string"),
    (STRATEGIC_MERGE_PATCH, b"", "unexpected end of JSON input"),
    (MERGE_PATCH, b"{} x", "error decoding patch: invalid character 'x' after top-level value"),
    (JSON_PATCH, b"{\"op\":\"add\"}",
     "error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp"),
    (JSON_PATCH, b"[{\"op\":1}]",
     "error decoding patch: json: cannot unmarshal number into Go struct field jsonPatchOp.op of type string"),
    (MERGE_PATCH, b"[1]",
     "error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}"),
    (STRATEGIC_MERGE_PATCH, b"[{\"op\":\"add\"}]",
     "json: cannot unmarshal array into Go value of type map[string]interface {}"),
])
def test_malformed_bodies_are_400(patch_type, body, message):
    """A body that does not decode is 400 BadRequest with Go's wording, per patch type."""
    status = _status(patch.apply_patch, patch_type, {"a": 1}, body)
    assert (status["code"], status["reason"], status["message"]) == (400, "BadRequest", message)


def test_ignore_validation_reads_bodies_leniently():
    """With fieldValidation=Ignore the messages lose their prefix, as upstream's second decoder words them."""
    status = _status(patch.decode_patch, JSON_PATCH, b"{}", "Ignore")
    assert status["message"] == "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
    status = _status(patch.decode_patch, MERGE_PATCH, b"{", "Ignore")
    assert status["message"] == "Invalid JSON Patch"


def test_null_bodies():
    """A null JSON patch or strategic patch changes nothing; a null merge patch is 400."""
    assert patch.apply_patch(JSON_PATCH, {"a": 1}, b"null") == {"a": 1}
    assert patch.apply_patch(STRATEGIC_MERGE_PATCH, {"a": 1}, b"null") == {"a": 1}
    assert _status(patch.apply_patch, MERGE_PATCH, {"a": 1}, b"null")["message"] == "Invalid JSON Patch"


def test_bodies_nested_too_deep_are_400():
    """Bodies nested deeper than the codec can write back are refused in Go's words, not crashed on."""
    body = b'{"a":' * 300 + b"1" + b"}" * 300
    for patch_type in patch.PATCH_TYPES:
        status = _status(patch.apply_patch, patch_type, {}, body)
        assert status["code"] == 400
        assert status["message"].endswith("invalid character '{' exceeded max depth")


def test_objects_nested_too_deep_are_422():
    """Deep objects handed to the pure functions give a Status too, never a TypeError."""
    deep: dict = {}
    for _ in range(300):
        deep = {"a": deep}
    assert _status(patch.merge_patch, deep, {"b": 1})["code"] == 422
    assert _status(patch.json_patch, deep, [])["code"] == 422
    assert _status(patch.strategic_merge_patch, deep, {"b": 1}, None)["code"] == 422


def test_invalid_utf8_is_replaced_not_refused():
    """Like Go's decoder, bytes that are not UTF-8 become U+FFFD instead of failing the request."""
    assert patch.apply_patch(MERGE_PATCH, {}, b'{"a":"\xff"}') == {"a": "\ufffd"}


def test_apply_patch_dispatches_by_type():
    """apply_patch decodes and applies each of the three patch types."""
    obj = {"metadata": {"labels": {"a": "1"}}}
    assert patch.apply_patch(MERGE_PATCH, obj, b'{"metadata":{"labels":{"a":null}}}') == {"metadata": {"labels": {}}}
    assert patch.apply_patch(JSON_PATCH, obj, b'[{"op":"add","path":"/metadata/labels/b","value":"2"}]') == \
        {"metadata": {"labels": {"a": "1", "b": "2"}}}
    assert patch.apply_patch(STRATEGIC_MERGE_PATCH, obj, b'{"metadata":{"labels":{"c":"3"}}}') == \
        {"metadata": {"labels": {"a": "1", "c": "3"}}}


def test_unknown_patch_type_is_415():
    """A content type that is no patch type is 415 listing the accepted ones."""
    status = _status(patch.apply_patch, "application/json", {}, b"{}")
    assert status["code"] == 415
    assert status["reason"] == "UnsupportedMediaType"
    assert "application/strategic-merge-patch+json" in status["message"]


def test_status_bytes_of_a_failed_test():
    """The encoded Status of a failed test op carries "details":{} as upstream's does."""
    with pytest.raises(StatusError) as caught:
        patch.json_patch(OBJ, [{"op": "test", "path": "/metadata/name", "value": "y"}])
    assert codec.dumps(caught.value.to_status()) == (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        b'"message":"the server rejected our request due to an error in our request",'
        b'"reason":"Invalid","details":{},"code":422}')

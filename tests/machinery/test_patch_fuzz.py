"""Properties of the patch functions on arbitrary JSON, and Go's wording helpers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kapiserver.machinery import gojson, schema
from kapiserver.machinery.errors import StatusError
from kapiserver.machinery.patch import PATCH_TYPES, apply_patch, merge_patch, strategic_merge_patch

POD = schema.node_for("", "v1", "Pod")
KEYS = st.sampled_from(["metadata", "spec", "containers", "name", "image", "finalizers", "labels", "a", "b",
                        "$patch", "$retainKeys", "$setElementOrder/containers", "$deleteFromPrimitiveList/finalizers",
                        "env", "ports", "port", "containerPort", "volumes", "replace", "delete"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["a", "b", "replace", "delete",
                                                                                   "merge", "name"]))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(KEYS, inner, max_size=4)), max_leaves=25)
OBJECTS = st.dictionaries(KEYS, JSON, max_size=4)
PLAIN = st.recursive(st.one_of(st.booleans(), st.integers(-3, 3), st.text(max_size=3)),
                     lambda inner: st.dictionaries(st.sampled_from(["x", "y", "z"]), inner, max_size=3),
                     max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(original=OBJECTS, patch=JSON)
def test_strategic_merge_only_raises_status_errors(original, patch):
    """Whatever the input, a strategic merge patch returns an object or raises a StatusError."""
    try:
        result = strategic_merge_patch(original, patch if isinstance(patch, dict) else {"spec": patch}, POD)
    except StatusError as err:
        assert err.code in (400, 422, 500)
    else:
        assert isinstance(result, dict)


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=40) | st.text(max_size=40).map(str.encode),
       patch_type=st.sampled_from(PATCH_TYPES))
def test_any_body_only_raises_status_errors(body, patch_type):
    """Arbitrary request bodies never escape as anything but a StatusError."""
    try:
        apply_patch(patch_type, {"metadata": {"name": "x"}}, body, POD)
    except StatusError:
        pass


@settings(max_examples=200, deadline=None)
@given(original=st.dictionaries(st.sampled_from(["x", "y", "z"]), PLAIN, max_size=3),
       patch=st.dictionaries(st.sampled_from(["x", "y", "z"]), st.one_of(st.none(), PLAIN), max_size=3))
def test_strategic_on_unknown_fields_equals_merge_patch(original, patch):
    """Where the schema says nothing and there are no lists, strategic merge is a merge patch."""
    wrapped_original = {"spec": {"unknownField": original}}
    wrapped_patch = {"spec": {"unknownField": patch}}
    assert strategic_merge_patch(wrapped_original, wrapped_patch, POD) == merge_patch(wrapped_original,
                                                                                      wrapped_patch)


@pytest.mark.parametrize("value,text", [
    ({"b": 1, "a": "x"}, "map[a:x b:1]"),
    ([1, "a", None, True], "[1 a <nil> true]"),
    (1.0, "1"), (1e6, "1e+06"), (0.5, "0.5"), (1e-5, "1e-05"), (123456.0, "123456"),
])
def test_go_value(value, text):
    """go_value renders like Go's %v of a decoded JSON value."""
    assert gojson.go_value(value) == text


def test_go_type_and_string_names():
    """type_name and go_string follow reflect and fmt's wording."""
    assert gojson.type_name([]) == "[]interface {}"
    assert gojson.type_name({}) == "map[string]interface {}"
    assert gojson.type_name(1) == "int64" and gojson.type_name(1.5) == "float64"
    assert gojson.go_string("x") == "x"
    assert gojson.go_string(1) == "%!s(int64=1)"
    assert gojson.go_string(None) == "%!s(<nil>)"


@pytest.mark.parametrize("body,message", [
    ("", "unexpected end of JSON input"),
    ("[1,]", "invalid character ']' looking for beginning of value"),
    ("{\"a\" 1}", "invalid character '1' after object key"),
    ("{\"a\":1 \"b\"}", "invalid character '\"' after object key:value pair"),
    ("[1 2]", "invalid character '2' after array element"),
    ("nul", "unexpected end of JSON input"),
    ("nulx", "invalid character 'x' in literal null (expecting 'l')"),
    ("\"a\tb\"", "invalid character '\\t' in string literal"),
    ("\"\\q\"", "invalid character 'q' in string escape code"),
    ("-x", "invalid character 'x' in numeric literal"),
    ("1.x", "invalid character 'x' after decimal point in numeric literal"),
    ("1ex", "invalid character 'x' in exponent of numeric literal"),
    ("{} {}", "invalid character '{' after top-level value"),
    ("'a'", "invalid character '\\'' looking for beginning of value"),
])
def test_syntax_error_wording(body, message):
    """syntax_error names the first bad character the way Go's decoder does."""
    assert gojson.syntax_error(body) == message


def test_syntax_error_accepts_valid_json():
    """Well-formed documents report no error."""
    for body in ("{}", "[]", "null", " {\"a\": [1, -2.5e+3, true, false, null, \"\\u00e9\"]} "):
        assert gojson.syntax_error(body) is None

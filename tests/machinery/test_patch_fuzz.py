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


# Text made of JSON's tokens and the characters near them (other whitespace, a BOM, control characters,
# surrogate escapes), so that most draws are almost-JSON.
_NEAR_JSON = st.lists(st.sampled_from(
    ["{", "}", "[", "]", ",", ":", '"', '"a"', '"\\u00e9"', '"\\ud800"', '"\\x"', "\\", " ", "\t", "\n", "\r",
     "\x0b", "\x0c", "\xa0", "\ufeff", "\x00", "\x1f", "0", "1", "01", "-", "+", ".", "e", "E", "1.5", "-0", "1e400",
     "18446744073709551616", "true", "false", "null", "nul", "NaN", "Infinity", "é", "/", "//", "/*"]),
    max_size=12).map("".join)


@settings(max_examples=3000, deadline=None)
@given(text=_NEAR_JSON)
def test_what_the_codec_reads_has_no_go_syntax_error(text):
    """decode_patch scans a body with fewer brackets than gojson.MAX_DEPTH for Go's syntax error only when the
    codec refuses it: whatever the codec reads must be what Go's scanner finds well-formed."""
    from kapiserver.machinery import codec
    for body in (text, text.encode("utf-8", "surrogatepass")):
        assert text.count("{") + text.count("[") <= gojson.MAX_DEPTH
        try:
            codec.loads(body)
        except ValueError:
            continue
        assert gojson.syntax_error(body) is None, body


@pytest.mark.parametrize("body", [b'{"a":1}', b'{"data":{"p":"\xff"}}', b'{"a":1e400}', b"", b"{,}", b"{} {}",
                                  b'{"a":"\\ud800"}', b'{"a":18446744073709551616}',
                                  b'{"a":' * 200 + b"1" + b"}" * 200, b'{"a":' * 300 + b"1" + b"}" * 300,
                                  b'{"a":"' + b"[" * 300 + b'"}'])
def test_decode_patch_answers_as_before_the_codec_went_first(body):
    """decode_patch's outcome (document or 400 message) for object bodies the codec reads, refuses for their
    syntax, refuses for their UTF-8 or number range (Go reads those), under each fieldValidation."""
    from kapiserver.machinery import codec, patch as patch_module

    def before(patch_type, raw, validation):
        # decode_patch as it was: Go's scan first, then the codec.
        strict = validation != "Ignore"
        problem = gojson.syntax_error(raw)
        if problem is not None:
            if patch_type == patch_module.STRATEGIC_MERGE_PATCH:
                return problem
            if patch_type == patch_module.MERGE_PATCH and not strict:
                return "Invalid JSON Patch"
            return f"error decoding patch: {problem}" if strict else problem
        try:
            return codec.loads(raw)
        except ValueError:
            try:
                return codec.loads(raw.decode("utf-8", "replace"))
            except ValueError as err:
                return str(err)

    for patch_type in (patch_module.MERGE_PATCH, patch_module.STRATEGIC_MERGE_PATCH):
        for validation in ("", "Strict", "Ignore"):
            try:
                got = patch_module.decode_patch(patch_type, body, validation)
            except StatusError as e:
                got = e.message
            assert got == before(patch_type, body, validation)

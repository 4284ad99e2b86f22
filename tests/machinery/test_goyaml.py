"""YAML as upstream's apiserver writes it (sigs.k8s.io/yaml over go-yaml v2): key order, when a string is
quoted and how, numbers. The expected bytes are kubectl 1.32's -o yaml of the same objects (the same library);
tests/e2e/test_yaml_output.py compares the two on a live server."""

from __future__ import annotations

import pytest

from kapiserver.machinery import codec, goyaml


def test_keys_sort_as_go_yaml_sorts_them():
    """Letters by code point (capitals first), any other character before a letter, runs of digits by value."""
    keys = ["key.with.dots", "b", "a", "Z", "010-extra.conf", "10", "9", "00-base.conf", "_u", ".e", "-d"]
    out = goyaml.dumps({k: "v" for k in keys}).decode()
    assert [line.split(":")[0].strip('"') for line in out.splitlines()] == [
        "-d", ".e", "_u", "00-base.conf", "9", "10", "010-extra.conf", "Z", "a", "b", "key.with.dots"]
    labels = goyaml.dumps({"app": 1, "ab": 1, "a10": 1, "a2": 1, "a-b": 1, "B": 1}).decode()
    assert [line.split(":")[0] for line in labels.splitlines()] == ["B", "a-b", "a2", "a10", "ab", "app"]


@pytest.mark.parametrize("text", ["", "~", "null", "y", "n", "Yes", "ON", "true", "3", "-1", "+1", "010", "0x1F",
                                  "1_000", "1e3", "1.5", ".5", ".inf", ".NaN", "1:20", "2024-01-02",
                                  "2024-01-01T00:00:00Z", "0b101", "-0b101", "2024-1-2"])
def test_a_string_another_type_would_be_read_from_is_double_quoted(text):
    assert goyaml.dumps({"k": text}) == f'k: "{text}"\n'.encode()


@pytest.mark.parametrize("text", ["=", "<<", "a, b", "v1", "2024-13-01", "1.2.3", "héllo ✓", "0xZZ", "~x", "e5",
                                  "0o", "-0o", "0b", "0x"])
def test_a_string_read_back_as_itself_is_plain(text):
    assert goyaml.dumps({"k": text}) == f"k: {text}\n".encode()


def test_strings_plain_cannot_hold_are_single_quoted_and_line_breaks_are_literal_blocks():
    assert goyaml.dumps({"k": "a: b"}) == b"k: 'a: b'\n"
    assert goyaml.dumps({"k": "'quoted'"}) == b"k: '''quoted'''\n"
    assert goyaml.dumps({"k": "  lead"}) == b"k: '  lead'\n"
    assert goyaml.dumps({"k": "line one\nline two\n"}) == b"k: |\n  line one\n  line two\n"
    assert goyaml.dumps({"k": "no newline\nend"}) == b"k: |-\n  no newline\n  end\n"
    assert goyaml.dumps({"k": "ends with space \nx"}) == b'k: "ends with space \\nx"\n'
    assert goyaml.dumps({"k": "a\tb"}) == b'k: "a\\tb"\n'


def test_numbers_as_go_writes_them_through_json():
    """An integral float below 1e21 is an integer (encoding/json writes it without a fraction); other floats in
    shortest %g form; ints within 64 bits as they are."""
    out = goyaml.dumps({"f": [1.0, 0.5, 1e6, 1234567.5, 1e-5, 2.5e-7, 1e21, 1e20, 100.0], "i": [0, -1, 2 ** 63],
                        "b": [True, False], "z": None, "m": {}, "l": []})
    assert out == (b"b:\n- true\n- false\nf:\n- 1\n- 0.5\n- 1000000\n- 1.2345675e+06\n- 1e-05\n- 2.5e-07\n"
                   b"- 1e+21\n- 1e+20\n- 100\ni:\n- 0\n- -1\n- 9223372036854775808\nl: []\nm: {}\nz: null\n")


def test_an_object_in_yaml_as_kubectl_prints_it():
    obj = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {
        "name": "one", "namespace": "default", "uid": "u", "resourceVersion": "3",
        "creationTimestamp": "2026-12-06T11:43:18Z", "managedFields": [{
            "manager": "curl", "operation": "Update", "apiVersion": "v1", "time": "2026-12-06T11:43:18Z",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {".": {}, "f:k": {}}}}]}, "data": {"k": "v"}}
    assert codec.dump_yaml(obj) == (
        b'apiVersion: v1\ndata:\n  k: v\nkind: ConfigMap\nmetadata:\n  creationTimestamp: "2026-12-06T11:43:18Z"\n'
        b'  managedFields:\n  - apiVersion: v1\n    fieldsType: FieldsV1\n    fieldsV1:\n      f:data:\n'
        b'        .: {}\n        f:k: {}\n    manager: curl\n    operation: Update\n'
        b'    time: "2026-12-06T11:43:18Z"\n  name: one\n  namespace: default\n  resourceVersion: "3"\n  uid: u\n')

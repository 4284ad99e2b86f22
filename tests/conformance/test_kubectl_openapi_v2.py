"""kubectl validates what it creates against /openapi/v2 in protobuf: with that document served, `kubectl
create -f` of an unknown kind says what upstream's says, and unknown fields of a known kind are still
refused server-side."""

from __future__ import annotations

import json


def test_create_of_an_unknown_kind_says_no_matches(kubectl):
    result = kubectl("create", "-f", "-", check=False, input=json.dumps({
        "apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "x"}}))
    assert result.returncode != 0
    assert 'no matches for kind "Foo" in version "example.com/v1"' in result.stderr
    assert "ensure CRDs are installed first" in result.stderr
    assert "content type" not in result.stderr


def test_create_of_a_known_kind_with_an_unknown_field_is_a_strict_decoding_error(kubectl):
    result = kubectl("create", "-f", "-", check=False, input=json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "strict-cm", "bogus": 1}}))
    assert result.returncode != 0
    assert 'strict decoding error: unknown field "metadata.bogus"' in result.stderr

"""allOf, anyOf, oneOf and not in CRD schemas, reported as kube-openapi reports them through apiextensions."""

from __future__ import annotations

from kapiserver.machinery import structural

URI = {"type": "object", "properties": {"exact": {"type": "string"}, "prefix": {"type": "string"}},
       "oneOf": [{"required": ["exact"]}, {"required": ["prefix"]}]}


def errors(value, schema, path="spec.uri"):
    return [str(e) for e in structural.validate(value, schema, path)]


def test_one_of():
    """Two alternatives passing, or none (then the closest one's errors follow), are errors at the nil path with
    the schema's path quoted."""
    assert errors({"exact": "/a"}, URI) == []
    assert errors({"exact": "/a", "prefix": "/b"}, URI) == [
        '<nil>: Invalid value: "": "spec.uri" must validate one and only one schema (oneOf). '
        "Found 2 valid alternatives"]
    assert errors({}, URI) == [
        '<nil>: Invalid value: "": "spec.uri" must validate one and only one schema (oneOf). Found none valid',
        "spec.uri.exact: Required value"]


def test_any_of_all_of_and_not():
    schema = {"type": "object", "anyOf": [{"required": ["a"]}, {"required": ["b"]}]}
    assert errors({"a": 1}, schema) == []
    assert errors({}, schema) == ['<nil>: Invalid value: "": "spec.uri" must validate at least one schema (anyOf)',
                                  "spec.uri.a: Required value"]
    schema = {"type": "object", "allOf": [{"required": ["a"]}, {"required": ["b"]}]}
    assert errors({"a": 1}, schema) == [
        "spec.uri.b: Required value", '<nil>: Invalid value: "": "spec.uri" must validate all the schemas (allOf)']
    assert errors({}, schema)[-1] == (
        '<nil>: Invalid value: "": "spec.uri" must validate all the schemas (allOf). None validated')
    schema = {"type": "object", "not": {"required": ["any", "all"]}}
    assert errors({"any": 1}, schema) == []
    assert errors({"any": 1, "all": 2}, schema, "spec.exclude") == [
        '<nil>: Invalid value: "": "spec.exclude" must not validate the schema (not)']

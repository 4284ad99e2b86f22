"""A CRD's versions: upstream's kube-aware priority and the schema coercion between versions."""

from __future__ import annotations

from kapiserver.machinery import structural
from kapiserver.registry.crd import schema_coercer, validate_crd, version_priority


def test_kube_aware_version_priority():
    """GA before beta before alpha, higher numbers first, other names last and alphabetical."""
    names = ["foo1", "v1alpha1", "v1", "v11beta2", "v2", "v1beta1", "v1beta2", "v12alpha1", "bar", "v10"]
    assert sorted(names, key=version_priority) == [
        "v10", "v2", "v1", "v11beta2", "v1beta2", "v1beta1", "v12alpha1", "v1alpha1", "bar", "foo1"]


def test_schema_coercer_prunes_and_defaults():
    """Coercing into a version drops what its schema lacks and fills its defaults, keeping metadata."""
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "a": {"type": "string"}, "n": {"type": "integer", "default": 3}}}}}
    obj = {"apiVersion": "g/v1", "kind": "K", "metadata": {"name": "x"}, "spec": {"a": "1", "b": "2"}}
    assert schema_coercer(schema)(obj) == {"apiVersion": "g/v1", "kind": "K", "metadata": {"name": "x"},
                                           "spec": {"a": "1", "n": 3}}
    assert obj["spec"] == {"a": "1", "b": "2"}


def test_unknown_fields_are_what_pruning_drops():
    """unknown_fields names each undeclared field by its path, except below preserve-unknown-fields; the root's
    metadata is left to the request decoder (endpoints.decoding), which decodes it as an ObjectMeta once."""
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "list": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}}},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}
    obj = {"apiVersion": "g/v1", "kind": "K", "metadata": {"name": "x", "odd": 1}, "top": 1,
           "spec": {"list": [{"k": "a", "z": 1}], "free": {"any": 1}, "y": 2}}
    assert structural.unknown_fields(obj, schema, root=True) == ["spec.list[0].z", "spec.y", "top"]


MONTHS = ("^((?i)january|february|march|april|may|june|july|august|september|october|november|december|"
          "1[0-2]|[1-9])(?:((:((?i)january|february|march|april|may|june|july|august|september|october|"
          "november|december|1[0-2]|[1-9]))))?$")


def test_schema_patterns_are_go_regular_expressions():
    """A pattern is Go's: a (?i) mid-group applies (AlertmanagerConfig's months), $ refuses a trailing newline."""
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "month": {"type": "string", "pattern": MONTHS}, "interval": {"type": "string", "pattern": "^[0-9]+s$"}}}}}

    def errors(**spec):
        return [str(e) for e in structural.validate({"spec": spec}, schema, root=True)]
    assert errors(month="March", interval="30s") == [] and errors(month="1:3") == []
    assert errors(month="foo", interval="30s\n") == [
        f"spec.month: Invalid value: \"foo\": spec.month in body should match '{MONTHS}'",
        "spec.interval: Invalid value: \"30s\\n\": spec.interval in body should match '^[0-9]+s$'"]


def test_a_crd_whose_pattern_go_refuses_is_invalid():
    """validate_crd refuses a schema pattern Go's regexp cannot compile, wherever it is, with Go's error, among
    the structural errors (sorted, as upstream's are)."""
    schema = {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {"a": {"type": "string", "pattern": "^(?!x)"}}},
        "list": {"type": "array", "items": {"type": "string", "pattern": "+"}},
        "ok": {"type": "string", "pattern": MONTHS, "allOf": [{"pattern": "(a)\\1"}]}}}
    crd = {"metadata": {"name": "ks.g.io"}, "spec": {
        "group": "g.io", "scope": "Namespaced", "names": {"plural": "ks", "kind": "K"},
        "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}]}}
    at = "spec.versions[0].schema.openAPIV3Schema.properties"
    assert [str(e) for e in validate_crd(crd)] == sorted([
        f'{at}[spec].properties[a].pattern: Invalid value: "^(?!x)": must be a valid regular expression, but '
        "isn't: error parsing regexp: invalid or unsupported Perl syntax: `(?!`",
        f'{at}[list].items.pattern: Invalid value: "+": must be a valid regular expression, but '
        "isn't: error parsing regexp: missing argument to repetition operator: `+`",
        f'{at}[ok].allOf[0].pattern: Invalid value: "(a)\\\\1": must be a valid regular expression, but '
        "isn't: error parsing regexp: invalid escape sequence: `\\1`"])


def test_a_bad_pattern_keeps_the_rules_from_compiling():
    """A pattern Go cannot compile is a structural error, as upstream's: the schema's rules are then not
    compiled, so a broken rule beside it is not reported."""
    schema = {"type": "object", "x-kubernetes-validations": [{"rule": "self.nope == 1"}],
              "properties": {"a": {"type": "string", "pattern": "("}}}
    crd = {"metadata": {"name": "ks.g.io"}, "spec": {
        "group": "g.io", "scope": "Namespaced", "names": {"plural": "ks", "kind": "K"},
        "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}]}}
    found = [str(e) for e in validate_crd(crd)]
    assert len(found) == 1 and "properties[a].pattern" in found[0], found

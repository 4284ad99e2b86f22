"""Embedded resources (x-kubernetes-embedded-resource) in a custom resource, as apiextensions' objectmeta
package treats them: metadata coerced to an ObjectMeta, wrong types refused on request and dropped from
storage, and apiVersion, kind and metadata validated."""

from __future__ import annotations

from kapiserver.machinery import embedded, structural
from kapiserver.registry.validation.embedded import embedded_resources

TEMPLATE = {"type": "object", "x-kubernetes-embedded-resource": True, "x-kubernetes-preserve-unknown-fields": True}
SCHEMA = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
    "template": TEMPLATE,
    "byName": {"type": "object", "additionalProperties": TEMPLATE},
    "list": {"type": "array", "items": TEMPLATE}}}}}


def obj(**spec):
    return {"apiVersion": "x.io/v1", "kind": "X", "metadata": {"name": "o", "bogus": 1}, "spec": spec}


def pod(**metadata):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata}


def test_unknown_metadata_fields_are_pruned_and_reported():
    """Fields ObjectMeta lacks are pruned from embedded metadata (nested ones too) and named for fieldValidation
    with their paths; empty fields go as Go marshals them.  The root's metadata is pruned to an ObjectMeta too
    (its unknown fields are the request decoder's to report)."""
    value = obj(template=pod(name="a", bogus=1, labels={}, creationTimestamp=None,
                             ownerReferences=[{"name": "n", "x": 1}]),
                byName={"k": pod(extra="e")}, list=[pod(more=2)])
    assert structural.unknown_fields(value, SCHEMA, root=True) == [
        "spec.byName[k].metadata.extra", "spec.list[0].metadata.more", "spec.template.metadata.bogus",
        "spec.template.metadata.ownerReferences[0].x"]
    pruned = structural.prune(value, SCHEMA, root=True)
    assert pruned["spec"] == {"template": pod(name="a", ownerReferences=[{"name": "n"}]),
                              "byName": {"k": pod()}, "list": [pod()]}
    assert pruned["metadata"] == {"name": "o"}


def test_malformed_metadata_refuses_a_request():
    """A metadata field of the wrong type (or metadata that is no object, or a non-string kind) is the
    decoding error of a request, with Go's text; well-typed metadata is none."""
    error = embedded.request_error(obj(template=pod(name="a", labels={"a": 1})), SCHEMA)
    assert str(error) == ('spec.template.metadata: Invalid value: map[string]interface {}{"labels":map[string]'
                          'interface {}{"a":1}, "name":"a"}: json: cannot unmarshal number into Go struct field '
                          'ObjectMeta.labels[a] of type string')
    assert str(embedded.request_error(obj(template={"metadata": "notamap"}), SCHEMA)) == (
        'spec.template.metadata: Invalid value: "notamap": json: cannot unmarshal string into Go value of type '
        "v1.ObjectMeta")
    assert str(embedded.request_error(obj(list=[{"kind": 5}]), SCHEMA)) == \
        "spec.list[0].kind: Invalid value: 5: must be a string"
    assert embedded.request_error(obj(template=pod(name="a", unknown=1)), SCHEMA) is None


def test_malformed_metadata_is_dropped_from_a_stored_object():
    """Read from storage, each malformed metadata field is dropped and the rest kept; a non-string apiVersion
    or kind goes; metadata that is no object stays for validation to name."""
    stored = obj(template={"apiVersion": 1, "kind": "Pod", "metadata": {
        "name": "a", "labels": {"a": 1}, "annotations": "str", "generateName": 7, "namespace": "ns"}})
    assert structural.prune(stored, SCHEMA, root=True)["spec"]["template"] == {
        "kind": "Pod", "metadata": {"name": "a", "namespace": "ns"}}
    assert structural.prune(obj(template={"metadata": "notamap"}), SCHEMA, root=True)["spec"]["template"] == {
        "metadata": "notamap"}


def test_embedded_resources_are_validated():
    """apiVersion and kind are required, kind a DNS-1035 label in any case, apiVersion a group/version, and the
    metadata an ObjectMeta whose names are path segments (a nameless one passes)."""
    errs = [str(e) for e in embedded_resources(obj(
        template={"kind": "%", "metadata": {"name": "..", "labels": {"a b": "c"}}},
        byName={"k": {"apiVersion": "a/b/c", "kind": "Pod", "metadata": "x"}},
        list=[pod(generateName="g"), {"apiVersion": "", "kind": "MyKind"}]), SCHEMA)]
    assert errs == [
        "spec.template.apiVersion: Required value",
        'spec.template.kind: Invalid value: "%": may have mixed case, but should otherwise match: a DNS-1035 '
        "label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, "
        "and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
        "'[a-z]([-a-z0-9]*[a-z0-9])?')",
        "spec.template.metadata.name: Invalid value: \"..\": may not be '..'",
        "spec.template.metadata.labels: Invalid value: \"a b\": name part must consist of alphanumeric "
        "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
        "'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        'spec.byName[k].apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c',
        'spec.byName[k].metadata: Invalid value: "x": json: cannot unmarshal string into Go value of type '
        "v1.ObjectMeta",
        'spec.list[1].apiVersion: Invalid value: "": must not be empty']
    assert embedded_resources(obj(template=pod()), SCHEMA) == []

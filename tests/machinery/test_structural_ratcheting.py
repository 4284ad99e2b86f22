"""Schema validation of an update, ratcheted as upstream's CRDValidationRatcheting: what did not change is not
judged again."""

from __future__ import annotations

from kapiserver.machinery import structural

SCHEMA = {"type": "object", "properties": {"spec": {"type": "object", "required": ["size"], "properties": {
    "size": {"type": "integer", "maximum": 5},
    "mode": {"type": "string", "enum": ["a", "b"]},
    "name": {"type": "string", "minLength": 1},
    "tags": {"type": "array", "minItems": 2, "items": {"type": "string", "maxLength": 2}},
    "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
              "items": {"type": "object", "properties": {"name": {"type": "string"},
                                                         "port": {"type": "integer", "minimum": 1}}}},
    "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}}}}}}


def obj(**spec):
    return {"apiVersion": "x.io/v1", "kind": "X", "metadata": {"name": "o"}, "spec": spec}


def errors(new, old=structural.UNCORRELATED):
    return [str(e) for e in structural.validate(new, SCHEMA, root=True, old=old)]


def test_unchanged_invalid_values_are_not_judged_again():
    """A value the old object had as it is passes; a changed one is judged; without an old object, all are."""
    old = obj(size=9, mode="c", name="", labels={"k": "long"})
    new = obj(size=9, mode="c", name="", labels={"k": "long", "j": "ok"})
    assert len(errors(new)) == 4
    assert errors(new, old) == []
    assert errors(obj(size=10, mode="c", name="", labels={"k": "long"}), old) == [
        "spec.size: Invalid value: 10: spec.size in body should be less than or equal to 5"]


def test_an_added_field_and_a_missing_required_one_are_judged():
    """A field the old object lacked pairs with nothing; a required field missing from a changed object is
    that object's own error."""
    old = obj(size=1)
    assert errors(obj(size=1, mode="c"), old) == [
        'spec.mode: Unsupported value: "c": supported values: "a", "b"']
    assert errors(obj(mode="a"), obj(mode="b")) == ["spec.size: Required value"]
    assert errors(obj(mode="b"), obj(mode="b")) == []


def test_list_items_pair_by_map_keys_only():
    """A list-type map's items pair with the old items of the same keys, wherever they moved; an atomic list's
    items do not pair, so a changed atomic list is judged whole."""
    old = obj(size=1, ports=[{"name": "a", "port": 0}, {"name": "b", "port": 2}])
    moved = obj(size=1, ports=[{"name": "b", "port": 3}, {"name": "a", "port": 0}])
    assert errors(moved, old) == []
    assert errors(obj(size=1, ports=[{"name": "c", "port": 0}]), old) == [
        "spec.ports[0].port: Invalid value: 0: spec.ports[0].port in body should be greater than or equal to 1"]
    old = obj(size=1, tags=["long", "x"])
    assert errors(obj(size=1, tags=["long", "x"]), old) == []
    assert errors(obj(size=1, tags=["long", "y"]), old) == ["spec.tags[0]: Too long: may not be more than 2 bytes"]


def test_duplicates_only_where_the_old_object_had_none():
    old_clean = obj(size=1, ports=[{"name": "a"}])
    doubled = obj(size=1, ports=[{"name": "a"}, {"name": "a", "port": 1}])
    assert errors(doubled, old_clean) == ['spec.ports[1]: Duplicate value: map[string]interface {}{"name":"a"}']
    old_doubled = obj(size=1, ports=[{"name": "a"}, {"name": "a"}])
    assert errors(doubled, old_doubled) == []


def test_sizes_are_shown_as_counts():
    """minItems and minProperties errors show the count, as kube-openapi's TooFewItems/TooFewProperties."""
    schema = {"type": "object", "properties": {"m": {"type": "object", "minProperties": 2},
                                               "l": {"type": "array", "minItems": 1}}}
    assert [str(e) for e in structural.validate({"m": {"a": 1}, "l": []}, schema, root=True)] == [
        "m: Invalid value: 1: m in body should have at least 2 properties",
        "l: Invalid value: 0: l in body should have at least 1 items"]

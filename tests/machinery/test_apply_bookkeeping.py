"""managedFields as upstream writes them: path elements in structured-merge-diff's order, conflicts listed in
its order, entries decoded as DecodeManagedFields reads them, and an applier's time."""

from __future__ import annotations

import copy

import pytest

from kapiserver.machinery import fieldmanager as fm
from kapiserver.machinery import fieldpath as fp
from kapiserver.machinery import schema
from kapiserver.machinery.errors import StatusError

SERVICE = (schema.node_for("", "v1", "Service"), None)
CONFIGMAP = (schema.node_for("", "v1", "ConfigMap"), None)


def service(*ports):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"ports": [{"port": port, "name": f"p{port}"} for port in ports]}}


def configmap(**data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data}


def test_keyed_items_are_encoded_in_the_order_of_their_key_values():
    """A Service's ports 443, 80 and 9 are written 9, 80, 443: keys compare by value, numbers as numbers."""
    created = fm.apply(None, service(443, 80, 9), "m", "v1", 0, SERVICE)
    ports = created["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:ports"]
    assert list(ports) == ['k:{"port":9,"protocol":"TCP"}', 'k:{"port":80,"protocol":"TCP"}',
                           'k:{"port":443,"protocol":"TCP"}']


def test_set_values_are_encoded_numbers_first_then_strings():
    """Set items sort as upstream's values: numbers by value, before strings, before booleans."""
    tree: fp.Set = {}
    for item in ("b", 10, True, 9, "a"):
        fp.insert(tree, (fp.value(item),))
    assert list(fp.to_fields_v1(tree)) == ["v:9", "v:10", 'v:"a"', 'v:"b"', "v:true"]


def test_members_are_iterated_before_the_children_of_their_level():
    """Upstream's Set.Iterate: a level's own members first, then what is under each child."""
    tree: fp.Set = {}
    for path in (("f:a", "f:b", "f:c"), ("f:a", "f:z"), ("f:a",)):
        fp.insert(tree, path)
    assert list(fp.members(tree)) == [("f:a",), ("f:a", "f:z"), ("f:a", "f:b", "f:c")]


def test_conflicts_are_listed_in_the_order_of_the_manager_identifiers():
    """Managers are listed sorted by upstream's identifier (its JSON), so one with a subresource comes before the
    same manager without one."""
    live = configmap(x="1", y="2")
    live["metadata"]["managedFields"] = [
        {"manager": "a", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:data": {"f:x": {}}}},
        {"manager": "a", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:data": {"f:y": {}}}, "subresource": "status"}]
    with pytest.raises(StatusError) as caught:
        fm.apply(live, configmap(x="3", y="4"), "b", "v1", 0, CONFIGMAP)
    assert caught.value.message == ('Apply failed with 2 conflicts: conflicts with "a" with subresource "status" '
                                    'using v1:\n- .data.y\nconflicts with "a" using v1:\n- .data.x')


def test_conflicts_name_a_manager_as_go_quotes_it():
    """A manager's name is shown with Go's %q: printable Unicode stays as it is."""
    live = fm.apply(None, configmap(x="1"), "gestionnaire-é", "v1", 0, CONFIGMAP)
    with pytest.raises(StatusError) as caught:
        fm.apply(live, configmap(x="2"), "b", "v1", 0, CONFIGMAP)
    assert caught.value.message == 'Apply failed with 1 conflict: conflict with "gestionnaire-é": .data.x'


def test_a_new_applier_of_values_already_there_gets_no_time():
    """An apply that leaves the object as it was records its applier without a time, as upstream does."""
    live = fm.apply(None, configmap(x="1"), "a", "v1", 0, CONFIGMAP)
    again = fm.apply(copy.deepcopy(live), configmap(x="1"), "b", "v1", 3600, CONFIGMAP)
    by_manager = {e["manager"]: e for e in again["metadata"]["managedFields"]}
    assert "time" not in by_manager["b"] and by_manager["a"]["time"] == "1970-01-01T00:00:00Z"
    changed = fm.apply(again, configmap(x="1", y="2"), "b", "v1", 3600, CONFIGMAP)
    assert {e["manager"]: e for e in changed["metadata"]["managedFields"]}["b"]["time"] == "1970-01-01T01:00:00Z"


def _entry(manager, fields, api_version="v1"):
    raw = {"manager": manager, "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": fields}
    if api_version:
        raw["apiVersion"] = api_version
    return raw


def test_an_entry_without_api_version_makes_given_managed_fields_invalid():
    """Given managedFields with an entry of no apiVersion are not valid: the live object's are kept."""
    live = configmap(x="1")
    live["metadata"]["managedFields"] = [_entry("old", {"f:data": {"f:x": {}}})]
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = [_entry("forged", {"f:data": {"f:x": {}}}, api_version="")]
    fm.record_update(live, new, "u", "v1", 0, CONFIGMAP)
    assert [e["manager"] for e in new["metadata"]["managedFields"]] == ["old"]


def test_a_later_entry_of_the_same_manager_replaces_an_earlier_one():
    """Two given entries of one manager are valid, the later one kept (upstream decodes them into a map)."""
    live = configmap(x="1", y="2")
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = [_entry("m", {"f:data": {"f:x": {}}}), _entry("m", {"f:data": {"f:y": {}}})]
    fm.record_update(live, new, "u", "v1", 0, CONFIGMAP)
    assert new["metadata"]["managedFields"] == [
        {"manager": "m", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:data": {"f:y": {}}}}]


@pytest.mark.parametrize("given", [[{"manager": ""}], [None], [{"time": None, "fieldsV1": None}]])
def test_one_entry_of_zero_values_resets_managed_fields(given):
    """An entry Go decodes to the zero entry clears managedFields as ``[{}]`` does: the object is untracked."""
    live = configmap(x="1")
    live["metadata"]["managedFields"] = [_entry("old", {"f:data": {"f:x": {}}})]
    new = copy.deepcopy(live)
    new["data"]["x"] = "2"
    new["metadata"]["managedFields"] = given
    fm.record_update(live, new, "u", "v1", 0, CONFIGMAP)
    assert "managedFields" not in new["metadata"]


_WIDGET = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"ports": {
    "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name", "proto"],
    "items": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, "proto": {"type": "string", "default": "UDP"}, "port": {"type": "integer"}}}}}}}}


def test_a_key_left_out_of_a_keyed_item_takes_its_schema_default():
    """A custom resource's list-map key with a schema default keys an item that leaves it out (upstream's
    converted schema carries the default), so the apply is not refused and the item is keyed by it."""
    node = schema.SchemaNode(_WIDGET, _WIDGET, None)
    config = {"apiVersion": "x.example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
              "spec": {"ports": [{"name": "p", "port": 80}]}}
    created = fm.apply(None, config, "m", "x.example.com/v1", 0, (node, schema.node_named(fm._OBJECT_META)))
    ports = created["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:ports"]
    assert list(ports) == ['k:{"name":"p","proto":"UDP"}']

"""Field sets, typed merge/compare/prune, and the field manager's Apply and Update operations."""

from __future__ import annotations

import copy
import json

import pytest

from kapiserver.machinery import fieldmanager as fm
from kapiserver.machinery import fieldpath as fp
from kapiserver.machinery import fieldtyped as ft
from kapiserver.machinery import schema
from kapiserver.machinery.errors import StatusError

DEPLOY = (schema.node_for("apps", "v1", "Deployment"), None)
POD = schema.node_for("", "v1", "Pod")


def deployment(replicas=2, image="nginx", labels=None):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "labels": labels if labels is not None else {"app": "d"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "d"}},
                     "template": {"metadata": {"labels": {"app": "d"}},
                                  "spec": {"containers": [{"name": "nginx", "image": image}]}}}}


def entries(obj):
    return {(e.get("manager"), e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


# -- fieldpath ---------------------------------------------------------------------------

def test_fields_v1_round_trip_marks_members_with_dot():
    """A member with children carries ".": {} in fieldsV1 and a leaf member is {}; decoding inverts it."""
    tree = {}
    fp.insert(tree, ["f:metadata", "f:labels"])
    fp.insert(tree, ["f:metadata", "f:labels", "f:app"])
    fp.insert(tree, ["f:spec", "f:replicas"])
    encoded = fp.to_fields_v1(tree)
    assert encoded == {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {"f:replicas": {}}}
    assert fp.from_fields_v1(encoded) == tree


def test_fields_v1_rejects_unknown_path_elements():
    """Path elements other than f:, k:, v:, i: (or k:/v: that are not JSON) are invalid."""
    with pytest.raises(fp.FieldsError):
        fp.from_fields_v1({"x:y": {}})
    with pytest.raises(fp.FieldsError):
        fp.from_fields_v1({"k:{bad": {}})


def test_set_algebra():
    """Union, difference and intersection act on members; children of a removed member stay."""
    a, b = {}, {}
    fp.insert(a, ["f:spec", "f:replicas"])
    fp.insert(a, ["f:spec", "f:paused"])
    fp.insert(b, ["f:spec", "f:replicas"])
    fp.insert(b, ["f:metadata"])
    assert list(fp.members(fp.union(a, b))) == [("f:metadata",), ("f:spec", "f:paused"), ("f:spec", "f:replicas")]
    assert list(fp.members(fp.difference(a, b))) == [("f:spec", "f:paused")]
    assert list(fp.members(fp.intersection(a, b))) == [("f:spec", "f:replicas")]
    parent = {}
    fp.insert(parent, ["f:labels"])
    fp.insert(parent, ["f:labels", "f:app"])
    only = {}
    fp.insert(only, ["f:labels"])
    assert list(fp.members(fp.difference(parent, only))) == [("f:labels", "f:app")]


def test_path_strings_as_upstream_prints_them():
    """Paths print as .field, [key="value"], [="set value"] and [index]."""
    assert fp.path_string(["f:spec", "f:containers", fp.key({"name": "nginx"}), "f:image"]) == \
        '.spec.containers[name="nginx"].image'
    assert fp.path_string(["f:metadata", "f:finalizers", fp.value("a/b")]) == '.metadata.finalizers[="a/b"]'
    assert fp.path_string(["f:x", fp.index(3)]) == ".x[3]"
    assert fp.key({"protocol": "TCP", "containerPort": 80}) == 'k:{"containerPort":80,"protocol":"TCP"}'


# -- typed -------------------------------------------------------------------------------

def test_field_set_of_a_configuration():
    """Leaves, list items (keyed, with "."), atomic maps and map entries are members; structs are not."""
    tree = ft.field_set({"metadata": {"labels": {"disk": "ssd"}},
                         "spec": {"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80}]}],
                                  "nodeSelector": {"disk": "ssd"}}}, POD)
    encoded = fp.to_fields_v1(tree)
    container = encoded["f:spec"]["f:containers"]['k:{"name":"a"}']
    assert container == {".": {}, "f:image": {}, "f:name": {},
                         "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}}
    assert encoded["f:spec"]["f:nodeSelector"] == {}  # x-kubernetes-map-type: atomic
    assert encoded["f:metadata"] == {"f:labels": {"f:disk": {}}}


def test_compare_reports_added_modified_removed():
    """A new map is added with its leaves, a changed scalar is modified, a dropped list item removed."""
    old = {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}
    new = {"metadata": {"labels": {"k": "v"}}, "spec": {"containers": [{"name": "a", "image": "z"}]}}
    result = ft.compare(old, new, POD)
    assert fp.to_fields_v1(result.added) == {"f:metadata": {".": {}, "f:labels": {".": {}, "f:k": {}}}}
    assert fp.to_fields_v1(result.modified) == {"f:spec": {"f:containers": {'k:{"name":"a"}': {"f:image": {}}}}}
    assert list(fp.members(result.removed))[0] == ("f:spec", "f:containers", 'k:{"name":"b"}')


def test_merge_follows_list_types():
    """Keyed lists merge by key, sets by value, atomic lists and scalars are replaced."""
    live = {"spec": {"containers": [{"name": "a", "image": "x", "args": ["1", "2"]}],
                     "tolerations": [{"key": "t"}]}}
    config = {"spec": {"containers": [{"name": "b", "image": "y"}, {"name": "a", "args": ["3"]}]}}
    merged = ft.merge(live, config, POD)
    assert merged["spec"]["containers"] == [{"name": "b", "image": "y"}, {"name": "a", "image": "x", "args": ["3"]}]
    assert merged["spec"]["tolerations"] == [{"key": "t"}]
    meta = schema.node_for("", "v1", "Pod")
    merged = ft.merge({"metadata": {"finalizers": ["a", "b"]}}, {"metadata": {"finalizers": ["c", "a"]}}, meta)
    assert merged["metadata"]["finalizers"] == ["b", "c", "a"] or merged["metadata"]["finalizers"] == ["c", "a", "b"]


def test_deduced_types_without_schema():
    """Without a schema objects merge granularly and arrays are replaced whole."""
    merged = ft.merge({"a": {"x": 1}, "l": [1, 2]}, {"a": {"y": 2}, "l": [3]}, None)
    assert merged == {"a": {"x": 1, "y": 2}, "l": [3]}


# -- apply and update --------------------------------------------------------------------

def test_apply_creates_with_an_apply_entry():
    """Applying onto nothing gives the configuration with one Apply entry for the manager."""
    obj = fm.apply(None, deployment(), "kubectl", "apps/v1", 0, DEPLOY)
    (entry,) = obj["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl" and entry["operation"] == "Apply"
    assert entry["time"] == "1970-01-01T00:00:00Z" and entry["fieldsType"] == "FieldsV1"
    assert entry["fieldsV1"]["f:metadata"] == {"f:labels": {"f:app": {}}}
    assert entry["fieldsV1"]["f:spec"]["f:selector"] == {}


def test_update_takes_changed_fields_from_others():
    """An update owns what it changed, and the applier stops owning it."""
    live = fm.apply(None, deployment(), "kubectl", "apps/v1", 0, DEPLOY)
    new = copy.deepcopy(live)
    new["spec"]["replicas"] = 5
    fm.record_update(live, new, "hpa", "apps/v1", 60, DEPLOY)
    owners = entries(new)
    assert owners[("hpa", "Update")]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert owners[("hpa", "Update")]["time"] == "1970-01-01T00:01:00Z"
    assert "f:replicas" not in owners[("kubectl", "Apply")]["fieldsV1"]["f:spec"]


def test_update_that_changes_nothing_keeps_managed_fields():
    """A no-op update leaves managedFields exactly as they were (no new entry, no new time)."""
    live = fm.apply(None, deployment(), "kubectl", "apps/v1", 0, DEPLOY)
    new = copy.deepcopy(live)
    fm.record_update(live, new, "someone", "apps/v1", 99, DEPLOY)
    assert new["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_apply_conflict_and_force():
    """Changing a field an updater owns is a 409 with causes; force moves the field to the applier."""
    live = fm.apply(None, deployment(), "kubectl", "apps/v1", 0, DEPLOY)
    new = copy.deepcopy(live)
    new["spec"]["replicas"] = 5
    fm.record_update(live, new, "hpa", "apps/v1", 60, DEPLOY)
    with pytest.raises(StatusError) as caught:
        fm.apply(new, deployment(replicas=3, image="nginx:2"), "kubectl", "apps/v1", 120, DEPLOY)
    error = caught.value
    assert error.code == 409 and error.reason == "Conflict"
    assert error.message == 'Apply failed with 1 conflict: conflict with "hpa" using apps/v1: .spec.replicas'
    assert error.details == {"causes": [{"type": "FieldManagerConflict", "message": 'conflict with "hpa" using apps/v1',
                                         "field": ".spec.replicas"}]}
    forced = fm.apply(new, deployment(replicas=3), "kubectl", "apps/v1", 120, DEPLOY, force=True)
    assert forced["spec"]["replicas"] == 3 and ("hpa", "Update") not in entries(forced)


def test_several_conflicts_are_listed_per_manager():
    """Conflicts with several fields list each under its manager."""
    live = fm.apply(None, deployment(), "a", "apps/v1", 0, DEPLOY)
    with pytest.raises(StatusError) as caught:
        fm.apply(live, deployment(replicas=9, image="other"), "b", "apps/v1", 0, DEPLOY)
    assert caught.value.message == (
        'Apply failed with 2 conflicts: conflicts with "a":\n- .spec.replicas\n'
        '- .spec.template.spec.containers[name="nginx"].image')


def test_apply_same_value_shares_ownership():
    """A second applier of an equal value does not conflict and co-owns the field."""
    live = fm.apply(None, deployment(), "a", "apps/v1", 0, DEPLOY)
    both = fm.apply(live, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                           "spec": {"replicas": 2}}, "b", "apps/v1", 0, DEPLOY)
    assert entries(both)[("b", "Apply")]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert entries(both)[("a", "Apply")]["fieldsV1"]["f:spec"]["f:replicas"] == {}


def test_apply_removes_fields_dropped_from_the_config_unless_shared():
    """Fields dropped from the applier's config go, except those another manager also owns."""
    live = fm.apply(None, deployment(labels={"app": "d", "tier": "web", "team": "a"}), "kubectl", "apps/v1", 0,
                    DEPLOY)
    new = copy.deepcopy(live)
    new["metadata"]["labels"]["team"] = "b"
    fm.record_update(live, new, "kubectl-label", "apps/v1", 1, DEPLOY)
    after = fm.apply(new, deployment(), "kubectl", "apps/v1", 2, DEPLOY)
    assert after["metadata"]["labels"] == {"app": "d", "team": "b"}


def test_apply_removes_a_dropped_list_item():
    """A keyed list item the applier stops applying is removed."""
    config = deployment()
    config["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
    live = fm.apply(None, config, "kubectl", "apps/v1", 0, DEPLOY)
    after = fm.apply(live, deployment(), "kubectl", "apps/v1", 1, DEPLOY)
    assert [c["name"] for c in after["spec"]["template"]["spec"]["containers"]] == ["nginx"]


def test_apply_checks_version_and_managed_fields():
    """An apply must name the resource's apiVersion and may not carry managedFields."""
    with pytest.raises(StatusError) as caught:
        fm.apply(None, {"apiVersion": "apps/v1beta1", "kind": "Deployment"}, "m", "apps/v1", 0, DEPLOY)
    assert caught.value.message == ("Incorrect version specified in apply patch. Specified patch version: "
                                    "apps/v1beta1, expected: apps/v1")
    config = deployment()
    config["metadata"]["managedFields"] = []
    with pytest.raises(StatusError) as caught:
        fm.apply(None, config, "m", "apps/v1", 0, DEPLOY)
    assert caught.value.message == "metadata.managedFields must be nil"


@pytest.mark.parametrize("api_version, kind, named", [
    ("apps/v1", "ConfigMap", "apps/v1, Kind=ConfigMap"),
    ("v1", "Deployment", "/v1, Kind=Deployment"),
    ("apps/v1beta1", "Deployment", "apps/v1beta1, Kind=Deployment"),
    (None, None, "/, Kind="),
    (7, "Deployment", "/, Kind=Deployment"),
    ("a/b/c", "Deployment", "/, Kind="),
])
def test_apply_of_another_type_is_refused_first(api_version, kind, named):
    """versionCheckManager, the outermost: the configuration must name the resource's group, version and kind,
    before its apiVersion or managedFields are looked at."""
    config = {"metadata": {"name": "d", "managedFields": []}}
    config.update({k: v for k, v in (("apiVersion", api_version), ("kind", kind)) if v is not None})
    with pytest.raises(StatusError) as caught:
        fm.apply(None, config, "m", "apps/v1", 0, DEPLOY, kind="Deployment")
    assert (caught.value.code, caught.value.reason) == (400, "BadRequest")
    assert caught.value.message == f"invalid object type: {named}"


def test_managed_fields_given_in_an_update():
    """An update's own managedFields replace the live ones; [] clears them; invalid ones keep the live ones."""
    live = fm.apply(None, deployment(), "kubectl", "apps/v1", 0, DEPLOY)
    cleared = copy.deepcopy(live)
    cleared["metadata"]["managedFields"] = []
    fm.record_update(live, cleared, "x", "apps/v1", 1, DEPLOY)
    assert "managedFields" not in cleared["metadata"]
    bogus = copy.deepcopy(live)
    bogus["metadata"]["managedFields"] = [{"manager": "q", "operation": "Nope", "fieldsType": "FieldsV1"}]
    fm.record_update(live, bogus, "x", "apps/v1", 1, DEPLOY)
    assert bogus["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_create_records_an_update_entry_without_server_fields():
    """A create's entry owns what the client set, not name, uid or other server-set metadata."""
    obj = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "c", "namespace": "n", "uid": "u", "creationTimestamp": "t", "labels": {"a": "b"}},
           "data": {"k": "v"}}
    fm.record_update(None, obj, "kubectl-create", "v1", 0, (schema.node_for("", "v1", "ConfigMap"), None),
                     seed={"metadata": {}})
    (entry,) = obj["metadata"]["managedFields"]
    assert entry["fieldsV1"] == {"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:labels": {".": {}, "f:a": {}}}}


def test_manager_from_user_agent():
    """The manager of an unnamed write is the User-Agent up to its first slash."""
    assert fm.manager_from_user_agent("kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07") == "kubectl"
    assert fm.manager_from_user_agent("OpenAPI-Generator/37.0.2/python") == "OpenAPI-Generator"
    assert fm.manager_from_user_agent("a\x00b/1") == "ab"
    assert fm.manager_from_user_agent("") == ""


def test_first_apply_to_an_untracked_object_meets_before_first_apply():
    """An object without managedFields has its fields owned by before-first-apply when first applied."""
    live = deployment()
    live["metadata"]["uid"] = "u"
    with pytest.raises(StatusError) as caught:
        fm.apply(live, deployment(replicas=3), "tool", "apps/v1", 0, DEPLOY,
                 seed={"metadata": {}, "spec": {}, "status": {}})
    assert caught.value.message == \
        'Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas'
    same = fm.apply(live, deployment(), "tool", "apps/v1", 0, DEPLOY, seed={"metadata": {}, "spec": {}})
    assert set(entries(same)) == {("tool", "Apply"), ("before-first-apply", "Update")}


def test_update_of_an_untracked_object_stays_untracked():
    """An update to an object with no managedFields records none, as upstream skips tracking it."""
    live = deployment()
    new = deployment(replicas=4)
    fm.record_update(live, new, "x", "apps/v1", 0, DEPLOY)
    assert "managedFields" not in new["metadata"]


def test_kubectl_takes_over_fields_from_its_last_applied_annotation():
    """kubectl may apply over client-side-applied fields that still match its last-applied annotation,
    and the annotation follows the applied configuration."""
    config = deployment()
    live = copy.deepcopy(config)
    live["metadata"]["annotations"] = {fm.LAST_APPLIED: json.dumps(config)}
    fm.record_update(None, live, "kubectl-client-side-apply", "apps/v1", 0, DEPLOY, seed={"metadata": {}})
    applied = fm.apply(live, deployment(replicas=3), "kubectl", "apps/v1", 1, DEPLOY)
    assert applied["spec"]["replicas"] == 3
    assert json.loads(applied["metadata"]["annotations"][fm.LAST_APPLIED])["spec"]["replicas"] == 3
    with pytest.raises(StatusError):
        fm.apply(live, deployment(replicas=3), "someone-else", "apps/v1", 1, DEPLOY)


def test_kubectl_rewrites_the_last_applied_annotation_as_go_encodes_it():
    """buildLastApplied: the configuration without the annotation (its annotations kept, empty), keys sorted,
    <, > and & escaped as Go's encoder escapes them, whole numbers without a fraction."""
    cm = (schema.node_for("", "v1", "ConfigMap"), None)
    live = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "annotations": {fm.LAST_APPLIED: '{"data":{"a":"b"}}'}}, "data": {"a": "b"}}
    fm.record_update(None, live, "kubectl-client-side-apply", "v1", 0, cm, seed={"metadata": {}})
    config = {"kind": "ConfigMap", "apiVersion": "v1", "data": {"z": "<a & b>", "a": "b"},
              "metadata": {"name": "c", "annotations": {fm.LAST_APPLIED: '{"data":{"a":"b"}}'}}, "binaryData": None,
              "immutable": False}
    applied = fm.apply(live, config, "kubectl", "v1", 1, cm)
    assert applied["metadata"]["annotations"][fm.LAST_APPLIED] == (
        '{"apiVersion":"v1","binaryData":null,"data":{"a":"b","z":"\\u003ca \\u0026 b\\u003e"},"immutable":false,'
        '"kind":"ConfigMap","metadata":{"annotations":{},"name":"c"}}\n')
    assert fm._build_last_applied({"spec": {"replicas": 3.0, "ratio": 0.5}}) == \
        '{"spec":{"ratio":0.5,"replicas":3}}\n'


def test_update_managers_are_capped_at_ten():
    """Past ten Update entries the oldest are merged into one ancient-changes entry."""
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
    types = (schema.node_for("", "v1", "ConfigMap"), None)
    fm.record_update(None, obj, "m0", "v1", 0, types)
    for i in range(12):
        new = copy.deepcopy(obj)
        new["data"][f"k{i}"] = "v"
        fm.record_update(obj, new, f"m{i}", "v1", 100 + i, types)
        obj = new
    owners = entries(obj)
    assert len(owners) == 10 and ("ancient-changes", "Update") in owners
    assert set(owners[("ancient-changes", "Update")]["fieldsV1"]["f:data"]) >= {"f:k0", "f:k1", "f:k2"}


def test_dropped_list_item_another_manager_touched_goes_with_its_fields():
    """A list item the applier drops goes even though an updater owns a field inside it (the updater does not own
    the item itself), and the updater's entry goes with it, as structured-merge-diff's prune does."""
    config = deployment()
    config["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox", "args": ["a"]})
    live = fm.apply(None, config, "kubectl", "apps/v1", 0, DEPLOY)
    new = copy.deepcopy(live)
    new["spec"]["template"]["spec"]["containers"][1]["image"] = "busybox:2"
    fm.record_update(live, new, "kubectl-set", "apps/v1", 1, DEPLOY)
    after = fm.apply(new, deployment(), "kubectl", "apps/v1", 2, DEPLOY)
    assert [c["name"] for c in after["spec"]["template"]["spec"]["containers"]] == ["nginx"]
    assert set(entries(after)) == {("kubectl", "Apply")}


def test_dropped_list_item_another_applier_owns_stays_with_its_fields():
    """A list item the applier drops stays while another applier owns the item itself, with the fields that
    manager owns in it."""
    config = deployment()
    config["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox", "args": ["a"]})
    live = fm.apply(None, config, "kubectl", "apps/v1", 0, DEPLOY)
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
             "spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}}}
    live = fm.apply(live, other, "other", "apps/v1", 1, DEPLOY)
    after = fm.apply(live, deployment(), "kubectl", "apps/v1", 2, DEPLOY)
    assert after["spec"]["template"]["spec"]["containers"][1] == {"name": "side", "image": "busybox"}


def test_apply_of_undeclared_fields_fails_as_upstream():
    """A configuration with fields its schema does not declare fails with upstream's typed-patch error."""
    config = deployment()
    config["metadata"]["namespace"] = "ns"
    config["spec"]["bogus"] = 1
    config["spec"]["template"]["spec"]["containers"][0]["nope"] = True
    with pytest.raises(StatusError) as caught:
        fm.apply(None, config, "m", "apps/v1", 0, DEPLOY)
    assert caught.value.code == 500 and caught.value.reason == ""
    assert caught.value.message == (
        "failed to create typed patch object (ns/d; apps/v1, Kind=Deployment): errors:\n"
        '  .spec.template.spec.containers[name="nginx"].nope: field not declared in schema\n'
        "  .spec.bogus: field not declared in schema")


def typed_patch_error(config, types):
    with pytest.raises(StatusError) as caught:
        fm.apply(None, config, "m", config["apiVersion"], 0, types)
    assert caught.value.code == 500 and caught.value.reason == ""
    return caught.value.message


def test_apply_of_keyed_items_without_their_key_or_twice_fails_as_upstream():
    """A keyed list's item that omits its key, or repeats another's, is structured-merge-diff's validation error,
    not an item silently left out or merged into the first."""
    config = deployment()
    config["spec"]["template"]["spec"]["containers"].append({"image": "busybox"})
    assert typed_patch_error(config, DEPLOY) == (
        "failed to create typed patch object (/d; apps/v1, Kind=Deployment): .spec.template.spec.containers: "
        'element 1: associative list with keys has an element that omits key field "name" '
        "(and doesn't have default value)")
    config = deployment()
    config["spec"]["template"]["spec"]["containers"].append({"name": "nginx", "image": "busybox"})
    assert typed_patch_error(config, DEPLOY) == (
        "failed to create typed patch object (/d; apps/v1, Kind=Deployment): .spec.template.spec.containers: "
        'duplicate entries for key [name="nginx"]')


def test_apply_of_values_of_the_wrong_type_fails_as_upstream():
    """Scalars, maps and lists of the wrong JSON type, in structured-merge-diff's words (numbers as the
    float64s Go decodes YAML numbers into)."""
    cm = (schema.node_for("", "v1", "ConfigMap"), None)
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"},
              "data": {"k": 1}}
    assert typed_patch_error(config, cm) == (
        "failed to create typed patch object (n/c; /v1, Kind=ConfigMap): .data.k: expected string, "
        "got &value.valueUnstructured{Value:1}")
    config = deployment()
    config["spec"].update(replicas="two", paused=10000000, selector=["x"])
    assert typed_patch_error(config, DEPLOY) == (
        "failed to create typed patch object (/d; apps/v1, Kind=Deployment): errors:\n"
        "  .spec.replicas: expected numeric (int or float), got string\n"
        "  .spec.selector: expected map, got &{[x]}\n"
        "  .spec.paused: expected boolean, got &{1e+07}")
    crd = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "tags": {"type": "array", "items": {"type": "string"}}}}}}
    widget = (schema.SchemaNode(crd, crd, None), schema.node_named("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"))
    config = {"apiVersion": "ex.com/v1", "kind": "W", "metadata": {"name": "w"}, "spec": {"tags": "notalist"}}
    assert typed_patch_error(config, widget) == (
        "failed to create typed patch object (/w; ex.com/v1, Kind=W): .spec.tags: expected list, got &{notalist}")


def test_create_of_a_deployment_owns_fields_as_upstream_records_them():
    """A created Deployment's entry marks with "." only what the Go zero value lacks (labels, rollingUpdate,
    list items), not spec, strategy or the pod template."""
    obj = deployment()
    obj["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    fm.record_update(None, obj, "kubectl-create", "apps/v1", 0, DEPLOY, seed=fm.zero_object("apps", "Deployment"))
    fields = obj["metadata"]["managedFields"][0]["fieldsV1"]
    assert fields["f:metadata"] == {"f:labels": {".": {}, "f:app": {}}}
    spec = fields["f:spec"]
    assert "." not in spec and "." not in spec["f:strategy"] and "." not in spec["f:template"]
    assert spec["f:strategy"]["f:rollingUpdate"] == {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}}
    assert spec["f:template"]["f:metadata"] == {"f:labels": {".": {}, "f:app": {}}}
    assert spec["f:template"]["f:spec"]["f:containers"] == {'k:{"name":"nginx"}': {".": {}, "f:image": {},
                                                                                  "f:name": {}}}


# -- a create's managedFields, remembered per shape ----------------------------------------

def _fresh_create(obj, manager="m", now=5, **kw):
    """record_update of a create as the walk computes it (the remembered shapes cleared first)."""
    fm._CREATES.clear()
    fm.record_update(None, obj, manager, "apps/v1", now, DEPLOY, seed=fm.zero_object("apps", "Deployment"), **kw)
    return obj


@pytest.mark.parametrize("second", [
    deployment(),                                                   # the same shape and values
    deployment(replicas=7, image="other"),                          # the same shape, other values
    deployment(labels={"tier": "web"}),                             # another label key: another shape
    deployment(labels={}),                                          # an empty map
    {**deployment(), "status": {"replicas": 1}},                    # status (not owned on create here)
    {**deployment(), "spec": {**deployment()["spec"], "selector": "x"}},    # a scalar where a map was
    {**deployment(), "spec": {**deployment()["spec"], "replicas": {}}},     # a map where a scalar was
])
def test_create_managed_fields_remembered_per_shape_equal_the_walk(second):
    """A create whose shape was seen before gets the very managedFields (but its own time) that walking it
    gives; objects that differ in shape (a map's keys, list items' keys) get their own."""
    expected = _fresh_create(copy.deepcopy(second), now=9, ignore_status=True)
    fm._CREATES.clear()
    first = deployment()
    fm.record_update(None, first, "m", "apps/v1", 5, DEPLOY, seed=fm.zero_object("apps", "Deployment"),
                     ignore_status=True)
    again = copy.deepcopy(second)
    fm.record_update(None, again, "m", "apps/v1", 9, DEPLOY, seed=fm.zero_object("apps", "Deployment"),
                     ignore_status=True)
    assert again["metadata"]["managedFields"] == expected["metadata"]["managedFields"]
    assert again["metadata"]["managedFields"][0]["time"] == "1970-01-01T00:00:09Z"


def test_create_managed_fields_list_items_are_part_of_the_shape():
    """Containers by another name are other path elements: a remembered shape with other list items is
    not reused."""
    fm._CREATES.clear()
    fm.record_update(None, deployment(), "m", "apps/v1", 1, DEPLOY, seed=fm.zero_object("apps", "Deployment"))
    other = deployment()
    other["spec"]["template"]["spec"]["containers"][0]["name"] = "sidecar"
    fm.record_update(None, other, "m", "apps/v1", 1, DEPLOY, seed=fm.zero_object("apps", "Deployment"))
    fields = json.dumps(other["metadata"]["managedFields"][0]["fieldsV1"])
    assert 'k:{\\"name\\":\\"sidecar\\"}' in fields and "nginx" not in fields


def test_create_managed_fields_remembered_ones_are_not_shared():
    """Each create gets its own fieldsV1: changing one object's leaves the next create's alone."""
    fm._CREATES.clear()
    seed = fm.zero_object("apps", "Deployment")
    one, two = deployment(), deployment()
    fm.record_update(None, one, "m", "apps/v1", 1, DEPLOY, seed=seed)
    fm.record_update(None, two, "m", "apps/v1", 1, DEPLOY, seed=seed)
    two["metadata"]["managedFields"][0]["fieldsV1"].clear()
    three = deployment()
    fm.record_update(None, three, "m", "apps/v1", 1, DEPLOY, seed=seed)
    assert three["metadata"]["managedFields"] == one["metadata"]["managedFields"]
    assert seed == {"metadata": {}, "spec": {"strategy": {}, "template": {"metadata": {}, "spec": {}}},
                    "status": {}}


def test_decoding_the_same_managed_fields_again_gives_new_entries_with_equal_sets():
    """decode keeps the field sets it decoded (by their fieldsV1), never the Entries, which callers change."""
    raw = [{"manager": "m", "operation": "Update", "apiVersion": "v1", "time": "2024-01-01T00:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:labels": {"f:x": {}}}}}]
    first = fm.decode(raw)
    entry = next(iter(first.values()))
    expected = {"f:data": {".": {}, "f:a": {".": {}}}, "f:metadata": {"f:labels": {"f:x": {".": {}}}}}
    assert entry.fields == expected
    entry.fields = {}
    entry.time = "later"
    again = next(iter(fm.decode(raw).values()))
    assert again is not entry and again.fields == expected and again.time == "2024-01-01T00:00:00Z"
    assert fm.encode(fm.decode(raw)) == raw


def test_decoding_refuses_bad_field_sets_every_time():
    for fields in ({"x:bad": {}}, {"f:a": []}, {1: {}}):
        raw = [{"manager": "m", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": fields}]
        for _ in range(2):
            with pytest.raises(ValueError):
                fm.decode(raw)

"""Strategic merge patch on built-in kinds, driven by the upstream schema."""

from __future__ import annotations

import copy

import pytest

from kapiserver.machinery import schema
from kapiserver.machinery.errors import StatusError
from kapiserver.machinery.patch import STRATEGIC_MERGE_PATCH, apply_patch, strategic_merge_patch

POD = schema.node_for("", "v1", "Pod")
DEPLOYMENT = schema.node_for("apps", "v1", "Deployment")
SERVICE = schema.node_for("", "v1", "Service")
PDB = schema.node_for("policy", "v1", "PodDisruptionBudget")


def smp(original: dict, patch: dict, node=POD) -> dict:
    before = copy.deepcopy((original, patch))
    result = strategic_merge_patch(original, patch, node)
    assert (original, patch) == before, "inputs must not be modified"
    return result


def failure(original: dict, patch: dict, node=POD) -> StatusError:
    with pytest.raises(StatusError) as caught:
        strategic_merge_patch(original, patch, node)
    return caught.value


def pod(*containers: dict, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": list(containers), **spec}}


def names(items: list) -> list:
    return [item["name"] for item in items]


# --- what real clients send ---------------------------------------------------------------


def test_kubectl_set_image_on_deployment():
    """kubectl's patch with $setElementOrder changes one image and keeps everything else in place."""
    deployment = {"spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "w"}}, "spec": {
        "containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]},
                       {"name": "side", "image": "busybox"}]}}}}
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "nginx"}, {"name": "side"}],
                                            "containers": [{"image": "nginx:1.28", "name": "nginx"}]}}}}
    result = smp(deployment, patch, DEPLOYMENT)
    containers = result["spec"]["template"]["spec"]["containers"]
    assert containers == [{"name": "nginx", "image": "nginx:1.28", "ports": [{"containerPort": 80}]},
                          {"name": "side", "image": "busybox"}]
    assert result["spec"]["replicas"] == 2
    assert result["spec"]["template"]["metadata"] == {"labels": {"app": "w"}}


def test_service_ports_merge_by_port():
    """A new service port is merged in by its "port" key, so the service ends up with two."""
    service = {"spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}}
    result = smp(service, {"spec": {"ports": [{"name": "https", "port": 443, "targetPort": 8443}]}}, SERVICE)
    assert sorted(p["port"] for p in result["spec"]["ports"]) == [80, 443]
    # an existing port is merged, not duplicated
    result = smp(service, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}, SERVICE)
    assert result["spec"]["ports"] == [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 9090}]


def test_label_null_removes_label():
    """{"metadata":{"labels":{"foo":null}}} removes that label only."""
    original = {"metadata": {"labels": {"foo": "1", "bar": "2"}}}
    assert smp(original, {"metadata": {"labels": {"foo": None}}}) == {"metadata": {"labels": {"bar": "2"}}}


def test_cordon_and_scalar_replace():
    """Scalars replace; new keys are added (kubectl cordon)."""
    node = {"spec": {"podCIDR": "10.0.0.0/24"}}
    result = smp(node, {"spec": {"unschedulable": True}}, schema.node_for("", "v1", "Node"))
    assert result == {"spec": {"podCIDR": "10.0.0.0/24", "unschedulable": True}}


def test_through_apply_patch_bytes():
    """apply_patch decodes the body and runs the strategic merge."""
    original = pod({"name": "a", "image": "x"})
    result = apply_patch(STRATEGIC_MERGE_PATCH, original,
                         b'{"spec":{"containers":[{"name":"a","image":"y"}]}}', POD)
    assert result["spec"]["containers"] == [{"name": "a", "image": "y"}]


# --- merge keys of the common lists ---------------------------------------------------------


def test_container_env_merges_by_name():
    """env items merge by name: changed values update, new names are added."""
    original = pod({"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]})
    patch = {"spec": {"containers": [{"name": "a", "env": [{"name": "Y", "value": "3"}, {"name": "Z", "value": "4"}]}]}}
    env = smp(original, patch)["spec"]["containers"][0]["env"]
    assert {e["name"]: e["value"] for e in env} == {"X": "1", "Y": "3", "Z": "4"}


def test_container_ports_merge_by_container_port():
    """Container ports merge by containerPort."""
    original = pod({"name": "a", "ports": [{"containerPort": 80, "name": "http"}]})
    patch = {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "protocol": "TCP"},
                                                             {"containerPort": 9090}]}]}}
    ports = smp(original, patch)["spec"]["containers"][0]["ports"]
    assert sorted(ports, key=lambda p: p["containerPort"]) == [
        {"containerPort": 80, "name": "http", "protocol": "TCP"}, {"containerPort": 9090}]


def test_volumes_merge_by_name():
    """Volumes merge by name."""
    original = pod({"name": "a"}, volumes=[{"name": "v1", "emptyDir": {}}])
    patch = {"spec": {"volumes": [{"name": "v2", "configMap": {"name": "cm"}}]}}
    assert sorted(names(smp(original, patch)["spec"]["volumes"])) == ["v1", "v2"]


def test_non_merge_list_is_replaced():
    """Lists without a merge strategy (container args) are replaced whole."""
    original = pod({"name": "a", "args": ["1", "2"]})
    patch = {"spec": {"containers": [{"name": "a", "args": ["3"]}]}}
    assert smp(original, patch)["spec"]["containers"][0]["args"] == ["3"]


def test_replace_strategy_map():
    """A field with patch strategy "replace" (PDB selector) is replaced, not merged."""
    original = {"spec": {"selector": {"matchLabels": {"a": "1"}}, "minAvailable": 1}}
    result = smp(original, {"spec": {"selector": {"matchLabels": {"b": "2"}}}}, PDB)
    assert result["spec"] == {"selector": {"matchLabels": {"b": "2"}}, "minAvailable": 1}


# --- order of merged lists ------------------------------------------------------------------


def test_new_item_goes_before_unordered_live_items():
    """Without $setElementOrder a new item comes first, as upstream orders it."""
    original = pod({"name": "a"}, {"name": "b"})
    result = smp(original, {"spec": {"containers": [{"name": "c", "image": "x"}]}})
    assert names(result["spec"]["containers"]) == ["c", "a", "b"]


def test_patch_order_wins_over_live_order():
    """Items named in the patch follow the patch's order (upstream test data)."""
    original = {"spec": {"containers": [{"name": "1"}, {"name": "2", "image": "b"}, {"name": "3"}]}}
    patch = {"spec": {"containers": [{"name": "3", "image": "c"}, {"name": "1", "image": "a"},
                                     {"name": "2", "tty": True}]}}
    assert smp(original, patch)["spec"]["containers"] == [
        {"name": "3", "image": "c"}, {"name": "1", "image": "a"}, {"name": "2", "image": "b", "tty": True}]
    patch = {"spec": {"containers": [{"name": "3", "image": "c"}, {"name": "1", "image": "a"}]}}
    assert smp(original, patch)["spec"]["containers"] == [
        {"name": "2", "image": "b"}, {"name": "3", "image": "c"}, {"name": "1", "image": "a"}]


def test_set_element_order_places_new_items():
    """$setElementOrder puts added items where the client wants them."""
    original = {"spec": {"containers": [{"name": "1", "tty": True}, {"name": "2", "image": "2"}]}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "4"}, {"name": "1"}, {"name": "2"}, {"name": "3"}],
                      "containers": [{"name": "4", "image": "4"}, {"name": "3", "image": "3"}]}}
    assert smp(original, patch)["spec"]["containers"] == [
        {"name": "4", "image": "4"}, {"name": "1", "tty": True}, {"name": "2", "image": "2"},
        {"name": "3", "image": "3"}]


def test_set_element_order_alone_reorders():
    """A $setElementOrder list without content changes only reorders."""
    original = pod({"name": "a"}, {"name": "b"})
    patch = {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}
    assert names(smp(original, patch)["spec"]["containers"]) == ["b", "a"]


def test_set_element_order_for_primitives():
    """Scalar lists follow $setElementOrder too; names absent from the list are ignored."""
    original = {"metadata": {"finalizers": ["1", "3"]}}
    patch = {"metadata": {"$setElementOrder/finalizers": ["3", "2", "1"]}}
    assert smp(original, patch) == {"metadata": {"finalizers": ["3", "1"]}}


def test_set_element_order_mismatch_is_rejected():
    """A patch list out of the $setElementOrder order is an error (500, as upstream)."""
    original = {"spec": {"containers": [{"name": "1"}, {"name": "3"}, {"name": "2"}]}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "1"}, {"name": "2"}, {"name": "3"}],
                      "containers": [{"name": "3", "image": "3"}, {"name": "1", "image": "1"}]}}
    err = failure(original, patch)
    assert err.code == 500 and err.reason == ""
    assert "doesn't match $setElementOrder list" in err.message


def test_set_element_order_must_be_a_list():
    """A $setElementOrder value that is not a list is rejected with Go's type wording."""
    err = failure(pod({"name": "a"}), {"spec": {"$setElementOrder/containers": "a"}})
    assert err.message == "expected a []interface {}, but received a string"


# --- scalar merge lists ---------------------------------------------------------------------


def test_finalizers_union():
    """A merge list of scalars (finalizers) is a union without duplicates."""
    original = {"metadata": {"finalizers": ["a", "b"]}}
    result = smp(original, {"metadata": {"finalizers": ["b", "c"]}})
    assert sorted(result["metadata"]["finalizers"]) == ["a", "b", "c"]
    assert result["metadata"]["finalizers"] == ["a", "b", "c"]


def test_delete_from_primitive_list():
    """$deleteFromPrimitiveList/<field> removes every copy of the listed values."""
    original = {"metadata": {"finalizers": ["a", "b", "b", "c"]}}
    patch = {"metadata": {"$setElementOrder/finalizers": ["a", "c"], "$deleteFromPrimitiveList/finalizers": ["b"]}}
    assert smp(original, patch) == {"metadata": {"finalizers": ["a", "c"]}}
    # an absent list stays absent
    assert smp({"metadata": {}}, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}}) == {"metadata": {}}


def test_bad_delete_from_primitive_list_key():
    """A deletion-list key without "/<field>" is 400 "invalid patch format of primitive list"."""
    err = failure({"metadata": {}}, {"metadata": {"$deleteFromPrimitiveList": ["b"]}})
    assert (err.code, err.reason, err.message) == (400, "BadRequest", "invalid patch format of primitive list")


def test_list_of_lists_is_422():
    """Lists of lists cannot merge: upstream answers 422 with the generic message."""
    err = failure({"metadata": {"finalizers": [["a"]]}}, {"metadata": {"finalizers": [["b"]]}})
    assert (err.code, err.reason) == (422, "Invalid")
    assert err.to_status()["details"] == {}


# --- $patch directives ----------------------------------------------------------------------


def test_patch_delete_item_from_merge_list():
    """{"name": x, "$patch": "delete"} removes the item with that key."""
    original = pod({"name": "a"}, {"name": "b"})
    patch = {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}
    assert names(smp(original, patch)["spec"]["containers"]) == ["b"]


def test_patch_delete_removes_duplicates():
    """Deleting by key removes every item with that key."""
    original = {"spec": {"containers": [{"name": "1"}, {"name": "1"}, {"name": "2", "image": "a"}]}}
    patch = {"spec": {"containers": [{"name": "1", "$patch": "delete"}]}}
    assert smp(original, patch)["spec"]["containers"] == [{"name": "2", "image": "a"}]


def test_patch_replace_in_merge_list():
    """A {"$patch": "replace"} item makes the patch list replace the live list."""
    original = pod({"name": "a"}, {"name": "b"})
    patch = {"spec": {"containers": [{"name": "c", "image": "x"}, {"$patch": "replace"}]}}
    assert smp(original, patch)["spec"]["containers"] == [{"name": "c", "image": "x"}]
    patch = {"spec": {"containers": [{"$patch": "replace"}]}}
    assert smp(original, patch)["spec"]["containers"] == []


def test_patch_replace_map():
    """{"$patch": "replace"} in a map replaces the map with the rest of the patch."""
    original = {"metadata": {"labels": {"a": "1", "b": "2"}}}
    assert smp(original, {"metadata": {"labels": {"c": "3", "$patch": "replace"}}}) == \
        {"metadata": {"labels": {"c": "3"}}}


def test_patch_delete_map():
    """{"$patch": "delete"} in a map empties it."""
    original = {"metadata": {"labels": {"a": "1"}}}
    assert smp(original, {"metadata": {"labels": {"$patch": "delete"}}}) == {"metadata": {"labels": {}}}


def test_unknown_directive_in_map():
    """An unknown $patch value is upstream's 500 with Go's rendering of the map."""
    err = failure({"metadata": {"labels": {"a": "1"}}}, {"metadata": {"labels": {"$patch": "foo"}}})
    assert err.code == 500
    assert err.message == "unknown patch type: foo in map: map[$patch:foo]"


def test_merge_directive_in_list_is_rejected():
    """{"$patch": "merge"} in a list is not supported."""
    err = failure(pod({"name": "a"}), {"spec": {"containers": [{"$patch": "merge"}]}})
    assert err.message == "merging lists cannot yet be specified in the patch"


def test_missing_merge_key():
    """A merge-list item without its merge key is rejected with upstream's message."""
    err = failure(pod({"name": "a"}), {"spec": {"containers": [{"image": "b"}]}})
    assert err.code == 500
    assert err.message == "map: map[image:b] does not contain declared merge key: name"


def test_new_map_with_directive_is_dropped():
    """A map the patch introduces that carries $patch is dropped, as upstream does."""
    result = smp({"metadata": {}}, {"metadata": {"labels": {"$patch": "replace", "a": "1"}}})
    assert result == {"metadata": {}}


# --- retainKeys -----------------------------------------------------------------------------


def test_retain_keys_clears_other_fields():
    """$retainKeys drops live fields it does not list (Deployment strategy switch)."""
    original = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert smp(original, patch, DEPLOYMENT) == {"spec": {"strategy": {"type": "Recreate"}}}


def test_retain_keys_in_volume_item():
    """$retainKeys inside a merge-list item (volumes) swaps the volume source."""
    original = pod({"name": "a"}, volumes=[{"name": "v", "emptyDir": {}}])
    patch = {"spec": {"volumes": [{"name": "v", "$retainKeys": ["configMap", "name"],
                                   "configMap": {"name": "cm"}}]}}
    assert smp(original, patch)["spec"]["volumes"] == [{"name": "v", "configMap": {"name": "cm"}}]


def test_retain_keys_must_cover_the_patch():
    """A patch field missing from $retainKeys is 400 "invalid patch format of retainKeys"."""
    original = {"spec": {"strategy": {"type": "RollingUpdate"}}}
    err = failure(original, {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}, DEPLOYMENT)
    assert (err.code, err.reason, err.message) == (400, "BadRequest", "invalid patch format of retainKeys")
    err = failure(original, {"spec": {"strategy": {"$retainKeys": "type"}}}, DEPLOYMENT)
    assert err.message == "invalid patch format of retainKeys"


def test_retain_keys_without_directive_merges():
    """A retainKeys field without the directive merges normally."""
    original = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    result = smp(original, {"spec": {"strategy": {"rollingUpdate": {"maxUnavailable": 0}}}}, DEPLOYMENT)
    assert result["spec"]["strategy"] == {"type": "RollingUpdate",
                                          "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


# --- what the schema does not know ----------------------------------------------------------


def test_unknown_fields_merge_like_merge_patch():
    """Fields the schema lacks merge maps recursively and replace lists."""
    original = {"spec": {"x-extra": {"a": 1, "l": [1, 2]}}}
    result = smp(original, {"spec": {"x-extra": {"b": 2, "l": [3], "a": None}}})
    assert result == {"spec": {"x-extra": {"l": [3], "b": 2}}}


def test_without_schema_lists_replace():
    """With no schema node every list is replaced and maps still merge."""
    original = pod({"name": "a"}, {"name": "b"})
    result = smp(original, {"spec": {"containers": [{"name": "c"}]}}, None)
    assert result["spec"]["containers"] == [{"name": "c"}]
    assert result["metadata"] == {"name": "p"}


def test_new_values_lose_nulls_and_directives():
    """Values the patch adds are stored without nulls or directive keys."""
    original = pod({"name": "a"})
    patch = {"spec": {"affinity": {"nodeAffinity": None, "podAffinity": {"x": None}},
                      "containers": [{"name": "b", "image": None, "env": [{"name": "E", "value": None}]}]}}
    result = smp(original, patch)
    assert result["spec"]["affinity"] == {"podAffinity": {}}
    assert result["spec"]["containers"][0] == {"name": "b", "env": [{"name": "E"}]}


def test_type_change_replaces():
    """When the patch value has another JSON type the patch value wins."""
    original = {"metadata": {"annotations": {"a": "1"}}, "spec": {"x": [1]}}
    assert smp(original, {"spec": {"x": {"y": 1}}})["spec"]["x"] == {"y": 1}


def test_null_patch_changes_nothing():
    """A null patch returns a copy of the original."""
    original = pod({"name": "a"})
    result = strategic_merge_patch(original, None, POD)
    assert result == original and result is not original

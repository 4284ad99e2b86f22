"""Built-in objects read back as upstream's protobuf storage gives them: an empty slice or map of a field without
omitempty is Go's nil, which JSON writes as null (machinery/typed.as_read_back, Store.read_back)."""

from __future__ import annotations

from tests.controllers.conftest import run


def test_an_empty_collection_without_omitempty_reads_back_null(store_registry):
    roles = store_registry.store("rbac.authorization.k8s.io", "v1", "clusterroles")
    created = run(roles.create(None, {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "aggregated"},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]}, "rules": []}))
    assert "rules" in created and created["rules"] is None
    assert run(roles.get(None, "aggregated"))["rules"] is None
    slices = store_registry.store("discovery.k8s.io", "v1", "endpointslices")
    placeholder = run(slices.create("default", {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "web-abcde"},
        "addressType": "IPv4", "endpoints": [], "ports": []}))
    assert (placeholder["endpoints"], placeholder["ports"]) == (None, None)
    limits = store_registry.store("", "v1", "limitranges")
    assert run(limits.create("default", {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "none"},
                                         "spec": {"limits": []}}))["spec"] == {"limits": None}
    # Nested: a rule's empty list of a field with omitempty is dropped by decoding, not made null here; a
    # ConfigMap, whose collections all have omitempty, is left as it is.
    maps = store_registry.store("", "v1", "configmaps")
    assert run(maps.create("default", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                                       "data": {"a": ""}}))["data"] == {"a": ""}


def test_writing_the_empty_collection_again_changes_nothing(store_registry):
    """An update that sends ``rules: []`` to a role stored with ``rules: null`` is no change (upstream compares
    the encoded bytes, which are the same): no new resourceVersion."""
    roles = store_registry.store("rbac.authorization.k8s.io", "v1", "clusterroles")
    body = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "empty"},
            "rules": []}
    created = run(roles.create(None, dict(body)))

    def again(old):
        return dict(body, metadata=dict(old["metadata"]), rules=[])
    updated, _ = run(roles.update(None, "empty", again))
    assert updated["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert updated["rules"] is None


def test_an_object_stored_with_an_empty_collection_before_is_not_written_again_for_nothing(store_registry):
    """A LimitRange stored with ``limits: []`` (by an earlier server): an update that changes nothing is no
    write, though the new object reads back null."""
    from kapiserver.machinery import codec
    limits = store_registry.store("", "v1", "limitranges")
    key = limits.key("default", "old")
    body = {"kind": "LimitRange", "apiVersion": "v1", "metadata": {"name": "old", "namespace": "default",
            "uid": "u", "resourceVersion": "", "creationTimestamp": "2026-01-01T00:00:00Z"}, "spec": {"limits": []}}
    run(limits.storage.create(key, codec.dumps(body)))
    stored = run(limits.get("default", "old"))
    assert stored["spec"] == {"limits": []}
    updated, _ = run(limits.update("default", "old", lambda old: dict(old)))
    assert updated["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]


def test_a_dry_run_create_of_a_name_taken_is_a_conflict(store_registry):
    """As upstream's dry-run storage: the create's 409, not the object."""
    import pytest

    from kapiserver.machinery.errors import StatusError
    from kapiserver.registry.options import ListOptions, WriteOptions
    maps = store_registry.store("", "v1", "configmaps")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "taken"}}
    run(maps.create("default", dict(body)))
    with pytest.raises(StatusError) as caught:
        run(maps.create("default", {**body, "metadata": {"name": "taken"}}, WriteOptions(dry_run=True)))
    assert caught.value.code == 409 and caught.value.reason == "AlreadyExists"
    assert run(maps.create("default", {**body, "metadata": {"name": "free"}}, WriteOptions(dry_run=True)))
    assert [m["metadata"]["name"] for m in run(maps.list("default", ListOptions()))[0]] == ["taken"]

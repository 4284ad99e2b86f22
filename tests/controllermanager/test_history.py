"""The ControllerRevision and pod helpers the StatefulSet and DaemonSet controllers share (no server)."""

import pytest

from kapiserver.controllermanager import history
from kapiserver.controllermanager.controllerutils import scaled_value


def owner():
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": "ns", "uid": "u1"},
            "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}}}


def test_revision_names_hashes_and_labels():
    """A revision is named <owner>-<hash> with a vowel-free hash that changes with the data and the
    collisionCount; it carries the template's labels, the hash label and a controller reference."""
    data = history.template_patch(owner())
    assert data["spec"]["template"]["$patch"] == "replace"
    revision = history.new_revision(owner(), data, 3, {"app": "web"}, None)
    hash_ = revision["metadata"]["labels"]["controller.kubernetes.io/hash"]
    assert "controller-revision-hash" not in revision["metadata"]["labels"]
    assert revision["metadata"]["name"] == f"web-{hash_}" and revision["revision"] == 3
    assert set(hash_) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert revision["metadata"]["labels"]["app"] == "web"
    assert revision["metadata"]["ownerReferences"][0]["controller"] is True
    assert history.hash_controller_revision(data, 1) != hash_ == history.hash_controller_revision(data, None)
    assert history.hash_controller_revision({"other": 1}, None) != hash_
    assert history.hash_revision_data(data, 1) != history.hash_revision_data(data, None)
    assert history.template_from_revision(revision) == owner()["spec"]["template"]
    assert len(history.revision_name("x" * 300, "abc")) == 223 + 4


def test_revision_hash_is_fnv1_of_the_raw_data_then_the_decimal_probe():
    """HashControllerRevision: FNV-1 (not 1a) over the data as Go's json.Marshal writes it, then the
    collisionCount in decimal."""
    assert history.fnv32(b"a") == 0x050C5D7E and history.fnv32(b"") == 0x811C9DC5
    assert history.go_json({"b": "<&>", "a": [1, {"d": None, "c": True}]}) == \
        b'{"a":[1,{"c":true,"d":null}],"b":"\\u003c\\u0026\\u003e"}'
    data = {"spec": {"template": {"$patch": "replace"}}}
    raw = b'{"spec":{"template":{"$patch":"replace"}}}'
    assert history.hash_controller_revision(data, None) == \
        history.safe_encode_string(str(history.fnv32(raw)))
    assert history.hash_controller_revision(data, 12) == \
        history.safe_encode_string(str(history.fnv32(b"12", history.fnv32(raw))))


def test_revision_order():
    """Revisions sort by number; the next number is one past the highest."""
    revisions = [{"revision": 2, "metadata": {"name": "b"}}, {"revision": 1, "metadata": {"name": "a"}}]
    assert [r["metadata"]["name"] for r in history.sort_revisions(revisions)] == ["a", "b"]
    assert history.next_revision(revisions) == 3 and history.next_revision([]) == 1


def test_int_or_percent_scaling():
    """intstr scaling: ints as they are, percentages rounded up or down."""
    assert scaled_value(3, 10, True) == 3
    assert scaled_value("25%", 10, True) == 3
    assert scaled_value("25%", 10, False) == 2
    with pytest.raises(ValueError):
        scaled_value("three", 10, True)


def test_availability_waits_for_min_ready_seconds():
    """A Ready pod is available once it has been Ready for minReadySeconds."""
    pod = {"metadata": {}, "status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}}
    since = history.ready_since(pod)
    assert history.is_running_and_ready(pod)
    assert history.is_available(pod, 0, since)
    assert not history.is_available(pod, 10, since + 5) and history.is_available(pod, 10, since + 10)

"""A DELETE of a pod whose graceful deletion is under way, as upstream's BeforeDelete takes it: only a shorter
gracePeriodSeconds changes anything; without one, or with a propagationPolicy, the pod is answered as it is."""

from __future__ import annotations

from kapiserver.registry.options import DeleteOptions

from tests.controllers.conftest import run


def _pod(name, grace=None):
    spec = {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def test_a_second_delete_without_a_period_keeps_a_longer_one(store_registry):
    """A pod deleted with 60 s (longer than its own 30 s), deleted again without gracePeriodSeconds: still 60 s,
    the deadline unmoved, nothing written."""
    pods = store_registry.store("", "v1", "pods")
    run(pods.create("default", _pod("long", grace=30)))
    first, _ = run(pods.delete("default", "long", DeleteOptions(grace_period_seconds=60)))
    again, deleted = run(pods.delete("default", "long"))
    assert not deleted
    assert again["metadata"]["deletionGracePeriodSeconds"] == 60
    assert again["metadata"]["deletionTimestamp"] == first["metadata"]["deletionTimestamp"]
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


def test_a_propagation_policy_does_not_change_a_pending_graceful_deletion(store_registry):
    """A pod waiting out its grace period, deleted again with propagationPolicy Orphan or Foreground: no
    garbage-collection finalizer is added (upstream: finalizers cannot change once graceful deletion is
    pending)."""
    pods = store_registry.store("", "v1", "pods")
    run(pods.create("default", _pod("waiting")))
    first, _ = run(pods.delete("default", "waiting"))
    for policy in ("Orphan", "Foreground"):
        again, deleted = run(pods.delete("default", "waiting", DeleteOptions(propagation_policy=policy)))
        assert not deleted and "finalizers" not in again["metadata"]
        assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    stored = run(pods.get("default", "waiting"))
    assert "finalizers" not in stored["metadata"]


def test_a_shorter_period_given_to_a_finished_pod_is_taken_as_given(store_registry):
    """A pod that finished while waiting out 30 s, deleted again with 10 s: 10 s, as asked (upstream does not
    ask the pod strategy again once deletion is under way), not deleted at once."""
    pods = store_registry.store("", "v1", "pods")
    run(pods.create("default", _pod("done")))
    run(pods.delete("default", "done"))

    def finish(obj):
        obj["status"] = {"phase": "Succeeded"}
        return obj
    run(pods.update("default", "done", finish, subresource="status"))
    shorter, deleted = run(pods.delete("default", "done", DeleteOptions(grace_period_seconds=10)))
    assert not deleted and shorter["metadata"]["deletionGracePeriodSeconds"] == 10

"""The finalizers a delete puts on an object for the garbage collector (registry.gcpolicy)."""

from kapiserver.registry.catalog import Catalog
from kapiserver.registry.gcpolicy import JOB_PODS_KEPT, delete_warning, deletion_finalizers
from kapiserver.registry.options import DeleteOptions

CATALOG = Catalog()


def info(group, version, resource):
    return next(i for i in CATALOG.all() if (i.group, i.version, i.resource) == (group, version, resource))


DEPLOYMENTS = info("apps", "v1", "deployments")


def test_background_by_default_adds_nothing():
    """A delete with no policy on a resource that deletes dependents by default adds no finalizer."""
    assert deletion_finalizers(DEPLOYMENTS, {}, DeleteOptions()) == (False, [])


def test_foreground_adds_foreground_deletion():
    """propagationPolicy=Foreground adds foregroundDeletion after the object's own finalizers."""
    assert deletion_finalizers(DEPLOYMENTS, {"finalizers": ["a/b"]}, DeleteOptions(propagation_policy="Foreground")) \
        == (True, ["a/b", "foregroundDeletion"])


def test_orphan_replaces_foreground():
    """propagationPolicy=Orphan swaps a foregroundDeletion finalizer for orphan."""
    assert deletion_finalizers(DEPLOYMENTS, {"finalizers": ["foregroundDeletion"]},
                               DeleteOptions(propagation_policy="Orphan")) == (True, ["orphan"])


def test_background_removes_gc_finalizers():
    """propagationPolicy=Background takes orphan off an object being deleted."""
    assert deletion_finalizers(DEPLOYMENTS, {"finalizers": ["orphan", "x/y"]},
                               DeleteOptions(propagation_policy="Background")) == (True, ["x/y"])


def test_deprecated_orphan_dependents():
    """orphanDependents=true asks for orphan; false for neither finalizer."""
    assert deletion_finalizers(DEPLOYMENTS, {}, DeleteOptions(orphan_dependents=True)) == (True, ["orphan"])
    assert deletion_finalizers(DEPLOYMENTS, {"finalizers": ["foregroundDeletion"]},
                               DeleteOptions(orphan_dependents=False)) == (True, [])


def test_a_namespace_reads_orphan_dependents_false_as_foreground():
    """The namespace storage's own reading of the deprecated field: false asks for foregroundDeletion."""
    namespaces = info("", "v1", "namespaces")
    assert deletion_finalizers(namespaces, {}, DeleteOptions(orphan_dependents=False)) == \
        (True, ["foregroundDeletion"])
    assert deletion_finalizers(namespaces, {}, DeleteOptions(orphan_dependents=True)) == (True, ["orphan"])


def test_existing_finalizer_decides_without_a_policy():
    """Without a policy, an orphan finalizer already present is kept (no change)."""
    assert deletion_finalizers(DEPLOYMENTS, {"finalizers": ["orphan"]}, DeleteOptions()) == (False, ["orphan"])


def test_replication_controllers_orphan_by_default():
    """core/v1 ReplicationControllers orphan their pods when the delete names no policy."""
    rc = info("", "v1", "replicationcontrollers")
    assert deletion_finalizers(rc, {}, DeleteOptions()) == (True, ["orphan"])
    assert deletion_finalizers(rc, {}, DeleteOptions(propagation_policy="Background")) == (False, [])


def test_batch_v1_jobs_orphan_by_default_and_say_so():
    """batch/v1 Jobs orphan their pods when the delete names no policy (upstream's default, kept for
    compatibility), and such a delete is warned so; one naming a policy (or the deprecated orphanDependents) is
    not. ReplicationControllers, which orphan too, and CronJobs, which do not, are never warned."""
    jobs = info("batch", "v1", "jobs")
    assert deletion_finalizers(jobs, {}, DeleteOptions()) == (True, ["orphan"])
    assert deletion_finalizers(jobs, {}, DeleteOptions(propagation_policy="Background")) == (False, [])
    assert deletion_finalizers(jobs, {}, DeleteOptions(propagation_policy="Foreground")) == \
        (True, ["foregroundDeletion"])
    assert delete_warning(jobs, DeleteOptions()) == JOB_PODS_KEPT
    assert JOB_PODS_KEPT.startswith("child pods are preserved by default when jobs are deleted; ")
    for options in (DeleteOptions(propagation_policy="Orphan"), DeleteOptions(propagation_policy="Background"),
                    DeleteOptions(orphan_dependents=True), DeleteOptions(orphan_dependents=False)):
        assert delete_warning(jobs, options) == ""
    for other in (info("", "v1", "replicationcontrollers"), info("batch", "v1", "cronjobs"), DEPLOYMENTS):
        assert delete_warning(other, DeleteOptions()) == ""
    assert deletion_finalizers(info("batch", "v1", "cronjobs"), {}, DeleteOptions()) == (False, [])


def test_events_take_no_part():
    """Events never get garbage-collection finalizers, whatever the policy."""
    for group in ("", "events.k8s.io"):
        events = info(group, "v1", "events")
        assert deletion_finalizers(events, {}, DeleteOptions(propagation_policy="Foreground")) == (False, [])


# What a delete does to the finalizers of a stored object (the registry's side of garbage collection; the
# collector itself is kube-controller-manager's, tested in tests/controllermanager/test_garbagecollector.py).

def _configmaps(registry):
    return registry.store("", "v1", "configmaps")


def _make(registry, name, finalizers=()):
    from .conftest import run
    meta = {"name": name, **({"finalizers": list(finalizers)} if finalizers else {})}
    return run(_configmaps(registry).create("default", {"metadata": meta}))


def _exists(registry, name):
    from kapiserver.machinery.errors import StatusError

    from .conftest import run
    try:
        return run(_configmaps(registry).get("default", name))
    except StatusError as e:
        assert e.code == 404
        return None


def test_second_delete_swaps_the_gc_finalizer(registry):
    """Deleting again with another policy swaps orphan for foregroundDeletion, keeping the deletionTimestamp."""
    from .conftest import run
    run(registry.store("", "v1", "namespaces").create(None, {"metadata": {"name": "default"}}))
    _make(registry, "twice", finalizers=["example.com/hold"])
    first, _ = run(_configmaps(registry).delete("default", "twice", DeleteOptions(propagation_policy="Orphan")))
    assert first["metadata"]["finalizers"] == ["example.com/hold", "orphan"]
    second, now = run(_configmaps(registry).delete("default", "twice",
                                                   DeleteOptions(propagation_policy="Foreground")))
    assert not now
    assert second["metadata"]["finalizers"] == ["example.com/hold", "foregroundDeletion"]
    assert second["metadata"]["deletionTimestamp"] == first["metadata"]["deletionTimestamp"]
    assert _exists(registry, "twice")["metadata"]["finalizers"] == ["example.com/hold", "foregroundDeletion"]


def test_orphan_only_finalizer_removed_by_background_delete_deletes_at_once(registry):
    """An object held only by orphan goes at once when deleted again with Background."""
    from .conftest import run
    run(registry.store("", "v1", "namespaces").create(None, {"metadata": {"name": "default"}}))
    _make(registry, "held")
    run(_configmaps(registry).delete("default", "held", DeleteOptions(propagation_policy="Orphan")))
    _, now = run(_configmaps(registry).delete("default", "held", DeleteOptions(propagation_policy="Background")))
    assert now and _exists(registry, "held") is None

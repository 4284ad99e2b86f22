"""The finalizers a delete puts on an object for the garbage collector (registry.gcpolicy)."""

from kapiserver.registry.catalog import Catalog
from kapiserver.registry.gcpolicy import deletion_finalizers
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


def test_existing_finalizer_decides_without_a_policy():
    """Without a policy, an orphan finalizer already present is kept (no change)."""
    assert deletion_finalizers(DEPLOYMENTS, {"finalizers": ["orphan"]}, DeleteOptions()) == (False, ["orphan"])


def test_replication_controllers_orphan_by_default():
    """core/v1 ReplicationControllers orphan their pods when the delete names no policy."""
    rc = info("", "v1", "replicationcontrollers")
    assert deletion_finalizers(rc, {}, DeleteOptions()) == (True, ["orphan"])
    assert deletion_finalizers(rc, {}, DeleteOptions(propagation_policy="Background")) == (False, [])


def test_events_take_no_part():
    """Events never get garbage-collection finalizers, whatever the policy."""
    for group in ("", "events.k8s.io"):
        events = info(group, "v1", "events")
        assert deletion_finalizers(events, {}, DeleteOptions(propagation_policy="Foreground")) == (False, [])

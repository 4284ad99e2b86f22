"""The default StorageClass as upstream's GetDefaultClass picks it, for the binder's retroactive assignment and
the DefaultStorageClass admission plugin: GA or beta annotation, newest first, then the first by name."""

from kapiserver.admission.simple import DefaultStorageClass
from kapiserver.machinery.storageclass import default_class
from tests.admission.conftest import FakeRegistry, call, drive, store

CLAIMS = store("persistentvolumeclaims", "PersistentVolumeClaim")


def sc(name, created, beta=False, default=True):
    key = "storageclass.beta.kubernetes.io/is-default-class" if beta else "storageclass.kubernetes.io/is-default-class"
    return {"metadata": {"name": name, "creationTimestamp": created,
                         "annotations": {key: "true" if default else "false"}}, "provisioner": "p"}


CLASSES = [sc("zeta", "2024-01-01T00:00:02Z"), sc("alpha", "2024-01-01T00:00:02Z"),
           sc("old", "2024-01-01T00:00:01Z"), sc("newest-not-default", "2024-01-01T00:00:09Z", default=False)]


def test_binder_default_class_newest_then_first_by_name():
    """Two defaults created the same second: the first by name wins; a beta-annotated default counts."""
    assert default_class(CLASSES)["metadata"]["name"] == "alpha"
    assert default_class([sc("beta", "2024-01-01T00:00:00Z", beta=True)])["metadata"]["name"] == "beta"
    assert default_class([sc("off", "2024-01-01T00:00:00Z", default=False)]) is None


def admit(claim, classes=CLASSES):
    drive(call(DefaultStorageClass(FakeRegistry(storageclasses=classes)), "create", CLAIMS, claim, None))
    return claim


def test_admission_default_class_matches_upstream():
    """The admission plugin picks the same class, honours the beta default annotation, and leaves a claim naming
    its class through the beta annotation alone."""
    claim = admit({"metadata": {"name": "c", "namespace": "default"}, "spec": {}})
    assert claim["spec"]["storageClassName"] == "alpha"
    claim = admit({"metadata": {"name": "c", "namespace": "default"}, "spec": {}},
                  [sc("beta", "2024-01-01T00:00:00Z", beta=True)])
    assert claim["spec"]["storageClassName"] == "beta"
    annotated = {"metadata": {"name": "c", "namespace": "default",
                              "annotations": {"volume.beta.kubernetes.io/storage-class": "gold"}}, "spec": {}}
    assert "storageClassName" not in admit(annotated)["spec"]

"""StorageObjectInUseProtection and PersistentVolumeClaimResize."""

from __future__ import annotations

import pytest

from kapiserver.admission.storage import PersistentVolumeClaimResize, StorageObjectInUseProtection
from kapiserver.machinery.errors import StatusError

from .conftest import FakeRegistry, call, drive, store

CLAIMS = store("persistentvolumeclaims", "PersistentVolumeClaim")
VOLUMES = store("persistentvolumes", "PersistentVolume", namespaced=False)


def claim(size="1Gi", storage_class="fast", phase="Bound") -> dict:
    return {"metadata": {"name": "c", "namespace": "default"},
            "spec": {"storageClassName": storage_class, "resources": {"requests": {"storage": size}}},
            "status": {"phase": phase}}


def test_new_claims_and_volumes_get_their_protection_finalizer():
    """pvc-protection on claims, pv-protection on volumes, after the object's own finalizers, once."""
    obj = claim()
    obj["metadata"]["finalizers"] = ["example.com/mine"]
    drive(call(StorageObjectInUseProtection(), "create", CLAIMS, obj, None))
    assert obj["metadata"]["finalizers"] == ["example.com/mine", "kubernetes.io/pvc-protection"]
    volume = {"metadata": {"name": "v", "finalizers": ["kubernetes.io/pv-protection"]}, "spec": {}}
    drive(call(StorageObjectInUseProtection(), "create", VOLUMES, volume, None))
    assert volume["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]


def test_updates_do_not_add_the_finalizer():
    """A claim whose finalizer was removed is not given it again."""
    obj = claim()
    drive(call(StorageObjectInUseProtection(), "update", CLAIMS, obj, claim()))
    assert "finalizers" not in obj["metadata"]


def resize(expansion=None) -> PersistentVolumeClaimResize:
    storage_class = {"metadata": {"name": "fast"}, "provisioner": "p"}
    if expansion is not None:
        storage_class["allowVolumeExpansion"] = expansion
    return PersistentVolumeClaimResize(FakeRegistry(storageclasses=[storage_class]))


def test_claim_grows_when_its_class_allows_expansion():
    """A bound claim of a class with allowVolumeExpansion may ask for more; shrinking is not this plugin's."""
    drive(call(resize(True), "update", CLAIMS, claim("2Gi"), claim("1Gi")))
    drive(call(resize(False), "update", CLAIMS, claim("512Mi"), claim("1Gi")))


def test_growth_refused_without_expansion():
    """A class without allowVolumeExpansion, a class changed, or a class missing refuses growth with a 403."""
    for plugin, new, old in ((resize(), claim("2Gi"), claim()), (resize(False), claim("2Gi"), claim()),
                             (resize(True), claim("2Gi", "other"), claim()),
                             (resize(True), claim("2Gi", "missing"), claim("1Gi", "missing"))):
        with pytest.raises(StatusError) as info:
            drive(call(plugin, "update", CLAIMS, new, old))
        e = info.value
        assert (e.code, e.details) == (403, {"name": "c", "kind": "persistentvolumeclaims"})
        assert e.message == 'persistentvolumeclaims "c" is forbidden: only dynamically provisioned pvc can be ' \
                            'resized and the storageclass that provisions the pvc must support resize'


def test_only_bound_claims_grow():
    """An unbound claim may not grow."""
    with pytest.raises(StatusError) as info:
        drive(call(resize(True), "update", CLAIMS, claim("2Gi", phase="Pending"), claim("1Gi", phase="Pending")))
    assert info.value.message == 'persistentvolumeclaims "c" is forbidden: Only bound persistent volume claims ' \
                                 'can be expanded'

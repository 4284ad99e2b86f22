"""persistentvolume-binder-controller reclaiming a Released volume with policy Delete as kube-controller-manager's
in-tree deleters do: a hostPath under /tmp/ removed and the volume deleted, any other source Failed with the
deleter's error as event and status message."""

import os

import pytest

from kapiserver.client.resources import EVENTS
from kapiserver.client.resources import PERSISTENT_VOLUME_CLAIMS as PVCS
from kapiserver.client.resources import PERSISTENT_VOLUMES as PVS
from kapiserver.client.rest import APIError
from tests.conformance.support import unique
from tests.controllermanager.conftest import eventually, run
from tests.controllermanager.test_pvbinder import phase, pv, pvc


def gone(client, name):
    try:
        run(client.get(PVS, name))
    except APIError as e:
        return e.code == 404
    return False


def test_delete_policy_host_path_under_tmp_is_removed_with_its_volume(controllers, client, namespace, tmp_path):
    """A Released hostPath volume under /tmp/ with policy Delete: its directory is removed and the volume deleted."""
    if not str(tmp_path).startswith("/tmp/"):
        pytest.skip("the hostPath deleter only takes paths under /tmp/")
    directory = tmp_path / "volume"
    directory.mkdir()
    (directory / "data").write_text("x")
    cls, name = unique("cls"), unique("pv-tmp")
    volume = pv(name, "1Gi", cls, policy="Delete")
    volume["spec"]["hostPath"]["path"] = str(directory)
    run(client.create(PVS, volume))
    controllers("persistentvolume-binder-controller")
    run(client.create(PVCS, pvc("data", namespace, "1Gi", cls)))
    eventually(lambda: phase(client, PVS, name) == "Bound")
    run(client.delete(PVCS, "data", namespace))
    eventually(lambda: gone(client, name))
    assert not os.path.exists(directory)


def test_delete_policy_without_deleter_fails_with_message(controllers, client, namespace):
    """A Released NFS volume with policy Delete has no deleter: Failed, status.message and the event say why."""
    cls, name = unique("cls"), unique("pv-nfs")
    volume = pv(name, "1Gi", cls, policy="Delete")
    del volume["spec"]["hostPath"]
    volume["spec"]["nfs"] = {"server": "nfs.example.com", "path": "/exports/a"}
    run(client.create(PVS, volume))
    controllers("persistentvolume-binder-controller")
    run(client.create(PVCS, pvc("data", namespace, "1Gi", cls)))
    eventually(lambda: phase(client, PVS, name) == "Bound")
    run(client.delete(PVCS, "data", namespace))
    failed = eventually(lambda: phase(client, PVS, name) == "Failed" and run(client.get(PVS, name)))
    message = f'error getting deleter volume plugin for volume "{name}": no deletable volume plugin matched'
    assert failed["status"]["message"] == message
    events = eventually(lambda: [(e["reason"], e["message"]) for e in run(client.list(EVENTS, "default"))["items"]
                                 if e["involvedObject"]["name"] == name])
    assert events == [("VolumeFailedDelete", message)]


def test_the_host_path_deleter_removes_only_what_is_under_tmp_once_links_are_resolved(tmp_path):
    """Upstream's deleter runs in the controller manager's container; here it runs on the host, so a link under
    /tmp/ leading elsewhere, or a path with /tmp/ further in, is refused in the deleter's words and left alone; a
    file is removed as a directory is; a path already gone is no error."""
    from kapiserver.controllermanager.pvbinder import remove_host_path
    if not str(tmp_path).startswith("/tmp/"):
        pytest.skip("the hostPath deleter only takes paths under /tmp/")
    link = tmp_path / "link"
    link.symlink_to("/proc/self")       # outside /tmp/, and nothing a removal could harm
    for path in (f"{link}/environ", f"/home/someone{tmp_path}/x"):
        with pytest.raises(OSError) as refused:
            remove_host_path(path)
        assert str(refused.value) == f"host_path deleter only supports /tmp/.+ but received provided {path}"
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "data").write_text("x")
    (tmp_path / "inner").symlink_to(tmp_path / "kept")
    remove_host_path(str(tmp_path / "inner"))      # the link goes, not what it leads to
    assert not os.path.lexists(tmp_path / "inner") and (tmp_path / "kept" / "data").exists()
    (tmp_path / "file").write_text("x")
    remove_host_path(str(tmp_path / "file"))
    remove_host_path(str(tmp_path / "missing"))
    assert not (tmp_path / "file").exists() and os.path.exists(f"{link}/environ")



def test_a_failed_delete_is_tried_again(controllers, client, namespace):
    """As upstream's delete operation is retried with back-off: a deleter that failed once (the volume Failed, its
    one VolumeFailedDelete event) is run again, and the volume is deleted once it succeeds."""
    cls, name = unique("cls"), unique("pv-tmp")
    run(client.create(PVS, pv(name, "1Gi", cls, policy="Delete")))
    manager = controllers("persistentvolume-binder-controller")
    attempts = []

    def remove(path):
        attempts.append(path)
        if len(attempts) == 1:
            raise OSError("device or resource busy")
    manager.controllers["persistentvolume-binder-controller"].remove_host_path = remove
    run(client.create(PVCS, pvc("data", namespace, "1Gi", cls)))
    eventually(lambda: phase(client, PVS, name) == "Bound")
    run(client.delete(PVCS, "data", namespace))
    eventually(lambda: gone(client, name))
    assert len(attempts) >= 2
    events = [(e["reason"], e["message"]) for e in run(client.list(EVENTS, "default"))["items"]
              if e["involvedObject"]["name"] == name]
    assert events == [("VolumeFailedDelete", "device or resource busy")]


def test_delete_policy_leaves_csi_and_migrated_volumes_to_their_driver(controllers, client, namespace):
    """As upstream's HonorPVReclaimPolicy (on in 1.32): a Released CSI volume, or one annotated
    pv.kubernetes.io/migrated-to, with policy Delete is left Released for its driver's external provisioner, not
    Failed for want of an in-tree deleter."""
    cls, csi, migrated = unique("cls"), unique("pv-csi"), unique("pv-migrated")
    volume = pv(csi, "1Gi", cls, policy="Delete")
    del volume["spec"]["hostPath"]
    volume["spec"]["csi"] = {"driver": "hostpath.csi.k8s.io", "volumeHandle": "handle-1"}
    run(client.create(PVS, volume))
    volume = pv(migrated, "2Gi", cls, policy="Delete")
    del volume["spec"]["hostPath"]
    volume["spec"]["nfs"] = {"server": "nfs.example.com", "path": "/exports/a"}
    volume["metadata"]["annotations"] = {"pv.kubernetes.io/migrated-to": "nfs.csi.k8s.io"}
    run(client.create(PVS, volume))
    manager = controllers("persistentvolume-binder-controller")
    run(client.create(PVCS, pvc("one", namespace, "1Gi", cls)))
    run(client.create(PVCS, pvc("two", namespace, "2Gi", cls)))
    eventually(lambda: phase(client, PVS, csi) == phase(client, PVS, migrated) == "Bound")
    run(client.delete(PVCS, "one", namespace))
    run(client.delete(PVCS, "two", namespace))
    eventually(lambda: phase(client, PVS, csi) == phase(client, PVS, migrated) == "Released")
    binder = manager.controllers["persistentvolume-binder-controller"]
    for name in (csi, migrated):
        run(binder.sync("volume:" + name))      # a whole sync of the Released volume, reclaim included
        assert phase(client, PVS, name) == "Released"

"""persistentvolume-binder-controller: claims bound to the smallest fitting volume of their class (or the one
they name), phases and annotations as upstream, volumes released and reclaimed by policy, WaitForFirstConsumer
claims waiting for a selected node."""

from fractions import Fraction

from kapiserver.client.resources import EVENTS, NODES, PODS, STORAGE_CLASSES
from kapiserver.client.resources import PERSISTENT_VOLUME_CLAIMS as PVCS
from kapiserver.client.resources import PERSISTENT_VOLUMES as PVS
from kapiserver.machinery.pvhelpers import best_match, quantity
from tests.conformance.support import unique
from tests.controllermanager.conftest import eventually, run


def pv(name, size, cls, modes=("ReadWriteOnce",), policy="Retain", labels=None, claim_ref=None):
    spec = {"capacity": {"storage": size}, "accessModes": list(modes), "storageClassName": cls,
            "persistentVolumeReclaimPolicy": policy, "hostPath": {"path": f"/srv/{name}"}}
    if claim_ref:
        spec["claimRef"] = claim_ref
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name, "labels": labels or {}},
            "spec": spec}


def pvc(name, namespace, size, cls, volume_name=None, selector=None, modes=("ReadWriteOnce",)):
    spec = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}, "storageClassName": cls}
    if volume_name:
        spec["volumeName"] = volume_name
    if selector:
        spec["selector"] = selector
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": namespace},
            "spec": spec}


def phase(client, resource, name, namespace=None):
    return run(client.get(resource, name, namespace)).get("status", {}).get("phase")


def claim_events(client, namespace, name):
    return [(e["reason"], e["message"]) for e in run(client.list(EVENTS, namespace))["items"]
            if e["involvedObject"]["name"] == name]


def test_quantities_and_matching():
    """Quantities parse with binary and decimal suffixes; the smallest fitting Available volume wins, a selector
    and access modes filter, a volume pre-bound to the claim comes first."""
    assert quantity("1Gi") == 2 ** 30 and quantity("500M") == 500 * 10 ** 6 and quantity("1.5k") == 1500
    assert quantity("100m") == Fraction(1, 10)
    claim = {"metadata": {"name": "c", "namespace": "ns", "uid": "u"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                      "storageClassName": "x", "selector": {"matchLabels": {"tier": "gold"}}}}

    def volume(name, size, labels=None, modes=("ReadWriteOnce",), ref=None):
        v = pv(name, size, "x", modes, labels=labels or {"tier": "gold"}, claim_ref=ref)
        v["status"] = {"phase": "Available"}
        return v
    volumes = [volume("big", "10Gi"), volume("small", "2Gi"), volume("tiny", "512Mi"),
               volume("silver", "1Gi", {"tier": "silver"}), volume("rwx", "1Gi", modes=("ReadWriteMany",))]
    assert best_match(claim, volumes, False)["metadata"]["name"] == "small"
    assert best_match(claim, volumes, True) is None
    volumes.append(volume("mine", "20Gi", ref={"name": "c", "namespace": "ns"}))
    assert best_match(claim, volumes, True)["metadata"]["name"] == "mine"


def test_claim_binds_to_smallest_fitting_volume_and_is_released(controllers, client, namespace):
    """Both go Bound with upstream's annotations and the claim's status capacity; deleting the claim Releases a
    Retain volume and fails a Delete one with VolumeFailedDelete."""
    cls = unique("cls")
    small, big, other = unique("pv-small"), unique("pv-big"), unique("pv-other")
    run(client.create(PVS, pv(small, "1Gi", cls, policy="Delete")))
    run(client.create(PVS, pv(big, "5Gi", cls)))
    run(client.create(PVS, pv(other, "1Gi", unique("cls"))))
    controllers("persistentvolume-binder-controller")
    eventually(lambda: phase(client, PVS, big) == "Available")
    run(client.create(PVCS, pvc("data", namespace, "512Mi", cls)))
    run(client.create(PVCS, pvc("named", namespace, "2Gi", cls, volume_name=big)))
    claim = eventually(lambda: phase(client, PVCS, "data", namespace) == "Bound" and
                       run(client.get(PVCS, "data", namespace)))
    assert claim["spec"]["volumeName"] == small
    assert claim["metadata"]["annotations"] == {"pv.kubernetes.io/bind-completed": "yes",
                                                "pv.kubernetes.io/bound-by-controller": "yes"}
    assert claim["status"]["capacity"] == {"storage": "1Gi"} and claim["status"]["accessModes"] == ["ReadWriteOnce"]
    volume = eventually(lambda: phase(client, PVS, small) == "Bound" and run(client.get(PVS, small)))
    assert volume["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]
    assert volume["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"
    named = eventually(lambda: phase(client, PVCS, "named", namespace) == "Bound" and
                       run(client.get(PVCS, "named", namespace)))
    assert named["metadata"]["annotations"] == {"pv.kubernetes.io/bind-completed": "yes"}
    assert phase(client, PVS, other) == "Available"

    run(client.delete(PVCS, "named", namespace))
    eventually(lambda: phase(client, PVS, big) == "Released")
    run(client.delete(PVCS, "data", namespace))
    eventually(lambda: phase(client, PVS, small) == "Failed")
    events = eventually(lambda: [e for e in run(client.list(EVENTS, "default"))["items"]
                                 if e["involvedObject"]["name"] == small])
    assert (events[0]["reason"], events[0]["message"]) == (
        "VolumeFailedDelete", f"host_path deleter only supports /tmp/.+ but received provided /srv/{small}")


def test_unmatched_claims_stay_pending_with_upstreams_events(controllers, client, namespace):
    """No class and no volume: FailedBinding; a class with an external provisioner: the claim is annotated with
    it and ExternalProvisioning; a pre-bound volume too small: VolumeMismatch."""
    provisioned = unique("ext")
    run(client.create(STORAGE_CLASSES, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                                        "metadata": {"name": provisioned}, "provisioner": "example.com/disks"}))
    tiny = unique("pv-tiny")
    run(client.create(PVS, pv(tiny, "1Mi", "")))
    controllers("persistentvolume-binder-controller")
    run(client.create(PVCS, pvc("none", namespace, "100Ti", "")))
    run(client.create(PVCS, pvc("external", namespace, "1Gi", provisioned)))
    run(client.create(PVCS, pvc("mismatch", namespace, "1Gi", "", volume_name=tiny)))
    assert eventually(lambda: claim_events(client, namespace, "none")) == [
        ("FailedBinding", "no persistent volumes available for this claim and no storage class is set")]
    reason, message = eventually(lambda: claim_events(client, namespace, "external"))[0]
    assert reason == "ExternalProvisioning" and message.startswith(
        "Waiting for a volume to be created either by the external provisioner 'example.com/disks' or manually")
    annotations = run(client.get(PVCS, "external", namespace))["metadata"]["annotations"]
    assert annotations["volume.kubernetes.io/storage-provisioner"] == "example.com/disks"
    assert eventually(lambda: claim_events(client, namespace, "mismatch")) == [
        ("VolumeMismatch", f'Cannot bind to requested volume "{tiny}": requested PV is too small')]
    for name in ("none", "external", "mismatch"):
        assert phase(client, PVCS, name, namespace) == "Pending"


def test_wait_for_first_consumer_binds_once_a_node_is_selected(controllers, client, namespace):
    """A WaitForFirstConsumer claim waits (event WaitForFirstConsumer) until volume.kubernetes.io/selected-node,
    then binds to the volume whose node affinity allows that node (not the smaller one of another node)."""
    cls = unique("wffc")
    run(client.create(STORAGE_CLASSES, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                                        "metadata": {"name": cls}, "provisioner": "kubernetes.io/no-provisioner",
                                        "volumeBindingMode": "WaitForFirstConsumer"}))
    node_a, node_b = unique("node-a"), unique("node-b")
    run(client.create(NODES, {"apiVersion": "v1", "kind": "Node",
                              "metadata": {"name": node_a, "labels": {"kubernetes.io/hostname": node_a}}}))
    local, elsewhere = unique("pv-local"), unique("pv-elsewhere")
    for name, size, host in ((local, "2Gi", node_a), (elsewhere, "1Gi", node_b)):
        volume = pv(name, size, cls)
        volume["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [host]}]}]}}
        run(client.create(PVS, volume))
    controllers("persistentvolume-binder-controller")
    run(client.create(PVCS, pvc("later", namespace, "1Gi", cls)))
    assert eventually(lambda: claim_events(client, namespace, "later")) == [
        ("WaitForFirstConsumer", "waiting for first consumer to be created before binding")]
    assert phase(client, PVCS, "later", namespace) == "Pending"
    run(client.patch(PVCS, "later", {"metadata": {"annotations": {"volume.kubernetes.io/selected-node": node_a}}},
                     namespace))
    eventually(lambda: phase(client, PVCS, "later", namespace) == "Bound")
    assert run(client.get(PVCS, "later", namespace))["spec"]["volumeName"] == local


def test_wait_for_first_consumer_names_the_unscheduled_pods_at_the_next_resync(controllers, client, namespace):
    """A WaitForFirstConsumer claim first says it waits for a consumer; once unscheduled pods use it, the next
    resync (--pvclaimbinder-sync-period) says WaitForPodScheduled, naming them (a scheduled or finished pod not)."""
    cls = unique("wffc")
    run(client.create(STORAGE_CLASSES, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                                        "metadata": {"name": cls}, "provisioner": "kubernetes.io/no-provisioner",
                                        "volumeBindingMode": "WaitForFirstConsumer"}))
    controllers("persistentvolume-binder-controller", pvclaimbinder_sync_period=0.2)
    run(client.create(PVCS, pvc("data", namespace, "1Gi", cls)))
    assert eventually(lambda: claim_events(client, namespace, "data")) == [
        ("WaitForFirstConsumer", "waiting for first consumer to be created before binding")]

    def pod(name, node=None, phase=None):
        spec = {"containers": [{"name": "c", "image": "busybox"}],
                "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]}
        if node:
            spec["nodeName"] = node
        created = run(client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                           "metadata": {"name": name, "namespace": namespace}, "spec": spec}))
        if phase:
            run(client.update(PODS, {**created, "status": {"phase": phase}}, subresource="status"))

    pod("web-1")
    expected = ("WaitForPodScheduled", "waiting for pod web-1 to be scheduled")
    eventually(lambda: expected in claim_events(client, namespace, "data"))
    pod("web-0")
    pod("placed", node="node-a")
    pod("done", phase="Succeeded")
    expected = ("WaitForPodScheduled", "waiting for pods web-0,web-1 to be scheduled")
    eventually(lambda: expected in claim_events(client, namespace, "data"))
    assert phase(client, PVCS, "data", namespace) == "Pending"


def test_a_class_of_a_csi_migrated_in_tree_provisioner_waits_for_the_csi_driver(controllers, client, namespace):
    """A class naming an in-tree provisioner migrated to CSI (kubernetes.io/aws-ebs) is provisioned by that CSI
    driver's external provisioner, as upstream's provisionClaimOperationExternal: the claim is annotated with the
    driver's name and the event names it, where it was ProvisioningFailed "no volume plugin matched"."""
    cls = unique("gp2")
    run(client.create(STORAGE_CLASSES, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                                        "metadata": {"name": cls}, "provisioner": "kubernetes.io/aws-ebs"}))
    controllers("persistentvolume-binder-controller")
    run(client.create(PVCS, pvc("data", namespace, "1Gi", cls)))
    reason, message = eventually(lambda: claim_events(client, namespace, "data"))[0]
    assert reason == "ExternalProvisioning" and message.startswith(
        "Waiting for a volume to be created either by the external provisioner 'ebs.csi.aws.com' or manually")
    annotations = run(client.get(PVCS, "data", namespace))["metadata"]["annotations"]
    assert annotations["volume.kubernetes.io/storage-provisioner"] == "ebs.csi.aws.com"
    assert annotations["volume.beta.kubernetes.io/storage-provisioner"] == "ebs.csi.aws.com"


def test_the_volumes_of_fewest_access_modes_are_searched_first():
    """As upstream's access-mode index: a ReadWriteOnce claim gets the smallest volume of exactly ReadWriteOnce
    before a smaller one that also offers ReadWriteMany; with no such volume, the smallest of the next set."""
    claim = {"metadata": {"name": "c", "namespace": "ns", "uid": "u"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                      "storageClassName": "x"}}

    def volume(name, size, modes):
        v = pv(name, size, "x", modes)
        v["status"] = {"phase": "Available"}
        return v
    volumes = [volume("shared", "2Gi", ("ReadWriteMany", "ReadWriteOnce")),
               volume("own-big", "10Gi", ("ReadWriteOnce",)), volume("own", "5Gi", ("ReadWriteOnce",)),
               volume("three", "1Gi", ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany"))]
    assert best_match(claim, volumes, False)["metadata"]["name"] == "own"
    assert best_match(claim, volumes[:1] + volumes[3:], False)["metadata"]["name"] == "shared"


def test_a_claim_naming_a_volume_being_deleted_is_not_bound_to_it(controllers, client, namespace):
    """A volume held by a finalizer after its deletion is no volume to bind: the claim naming it stays Pending with
    VolumeMismatch "the volume is marked for deletion", as upstream's checkVolumeSatisfyClaim."""
    name = unique("pv-going")
    volume = pv(name, "1Gi", "")
    volume["metadata"]["finalizers"] = ["example.com/hold"]
    run(client.create(PVS, volume))
    run(client.delete(PVS, name))
    assert run(client.get(PVS, name))["metadata"].get("deletionTimestamp")
    controllers("persistentvolume-binder-controller")
    run(client.create(PVCS, pvc("late", namespace, "1Gi", "", volume_name=name)))
    assert eventually(lambda: claim_events(client, namespace, "late")) == [
        ("VolumeMismatch", f'Cannot bind to requested volume "{name}": the volume is marked for deletion "{name}"')]
    assert phase(client, PVCS, "late", namespace) == "Pending"
    assert not run(client.get(PVS, name))["spec"].get("claimRef")
    run(client.patch(PVS, name, {"metadata": {"finalizers": None}}))


def test_a_volume_claimed_for_a_claim_of_another_volume_mode_says_so_on_both(controllers, client, namespace):
    """A Filesystem volume whose claimRef names a Block claim that is not bound yet: VolumeMismatch on the volume
    and on the claim, in upstream's syncVolume words, and neither is bound."""
    name = unique("pv-fs")
    claim = pvc("raw", namespace, "1Gi", "")
    claim["spec"]["volumeMode"] = "Block"
    claim = run(client.create(PVCS, claim))
    controllers("persistentvolume-binder-controller")
    eventually(lambda: claim_events(client, namespace, "raw"))
    run(client.create(PVS, pv(name, "1Gi", "", claim_ref={
        "kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": namespace, "name": "raw",
        "uid": claim["metadata"]["uid"]})))
    on_volume = ("VolumeMismatch", 'Cannot bind PersistentVolume to requested PersistentVolumeClaim "raw" due to '
                                   'incompatible volumeMode.')
    on_claim = ("VolumeMismatch", f'Cannot bind PersistentVolume "{name}" to requested PersistentVolumeClaim due to '
                                  'incompatible volumeMode.')
    eventually(lambda: on_volume in claim_events(client, "default", name))
    eventually(lambda: on_claim in claim_events(client, namespace, "raw"))
    assert phase(client, PVCS, "raw", namespace) == "Pending"
    assert not run(client.get(PVCS, "raw", namespace))["spec"].get("volumeName")


def test_a_host_path_class_fails_as_the_disabled_in_tree_provisioner(controllers, client, namespace):
    """A class of kubernetes.io/host-path is kube-controller-manager's hostPath plugin, which provisions only with
    --enable-hostpath-provisioner: the claim is annotated with it and ProvisioningFailed says provisioning is
    disabled (mount options refused before that); kubernetes.io/nfs provisions nothing."""
    host, mounted, nfs = unique("hostpath"), unique("hostpath-opts"), unique("nfs")
    for name, provisioner, extra in ((host, "kubernetes.io/host-path", {}),
                                     (mounted, "kubernetes.io/host-path", {"mountOptions": ["ro", "noatime"]}),
                                     (nfs, "kubernetes.io/nfs", {})):
        run(client.create(STORAGE_CLASSES, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                                            "metadata": {"name": name}, "provisioner": provisioner, **extra}))
    controllers("persistentvolume-binder-controller")
    for claim_name, cls in (("plain", host), ("opts", mounted), ("shared", nfs)):
        run(client.create(PVCS, pvc(claim_name, namespace, "1Gi", cls)))
    assert eventually(lambda: claim_events(client, namespace, "plain"))[0] == (
        "ProvisioningFailed", 'Failed to create provisioner: provisioning in volume plugin "kubernetes.io/host-path" '
                              'is disabled')
    annotations = run(client.get(PVCS, "plain", namespace))["metadata"]["annotations"]
    assert annotations["volume.kubernetes.io/storage-provisioner"] == "kubernetes.io/host-path"
    assert eventually(lambda: claim_events(client, namespace, "opts"))[0] == (
        "ProvisioningFailed", f'Mount options are not supported by the provisioner but StorageClass "{mounted}" has '
                              f'mount options [ro noatime]')
    assert eventually(lambda: claim_events(client, namespace, "shared"))[0] == (
        "ProvisioningFailed", "no provisionable volume plugin matched")


def test_a_binder_stopped_before_its_caches_synced_arms_no_resync(monkeypatch):
    """stop() while run() waits for the informers: run() then returns without queueing everything and without
    the resync timer, which would have re-armed itself forever."""
    from twisted.internet import task

    from kapiserver.client.informer import SharedInformerFactory
    from kapiserver.controllermanager.context import ControllerContext, QueueController
    from kapiserver.controllermanager.pvbinder import PersistentVolumeBinder

    async def synced(self):
        return None
    monkeypatch.setattr(QueueController, "run", synced)
    clock = task.Clock()
    binder = PersistentVolumeBinder(ControllerContext(None, SharedInformerFactory(None, clock), clock, {}))
    binder.stop()
    run(binder.run())
    assert binder._resync_call is None and clock.getDelayedCalls() == []

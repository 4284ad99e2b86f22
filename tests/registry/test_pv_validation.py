"""PersistentVolume and PersistentVolumeClaim validation as upstream's ValidatePersistentVolume* and
ValidatePersistentVolumeClaim*, and the PersistentVolume status strategy's lastPhaseTransitionTime."""

from __future__ import annotations

from twisted.internet import task

from kapiserver.registry.registry import Registry
from kapiserver.storage.memory import MemoryStorage
from tests.registry.conftest import defaulted_errors


def pv(**spec):
    body = {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp/pv"}}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": "pv1", "resourceVersion": "1"},
            "spec": {k: v for k, v in body.items() if v is not None}}


def pvc(phase=None, annotations=None, **spec):
    body = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    body.update(spec)
    obj = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
           "metadata": {"name": "c1", "namespace": "default", "resourceVersion": "1"},
           "spec": {k: v for k, v in body.items() if v is not None}}
    if annotations:
        obj["metadata"]["annotations"] = annotations
    if phase:
        obj["status"] = {"phase": phase}
    return obj


def errors(kind, obj, old=None):
    return defaulted_errors(kind, obj, old, kind == "PersistentVolumeClaim")


def test_pv_access_modes_read_write_once_pod_alone():
    """ReadWriteOncePod may not be combined with another access mode, on a volume or a claim."""
    assert errors("PersistentVolume", pv(accessModes=["ReadWriteOncePod", "ReadWriteOnce"])) == [
        "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes"]
    assert errors("PersistentVolumeClaim", pvc(accessModes=["ReadWriteOncePod", "ReadOnlyMany"])) == [
        "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes"]


def test_pv_capacity_and_claim_request_must_be_positive():
    """A zero capacity or storage request is refused as upstream's ValidatePositiveQuantityValue words it."""
    assert errors("PersistentVolume", pv(capacity={"storage": "0"})) == [
        'spec.capacity[storage]: Invalid value: "0": must be greater than zero']
    assert errors("PersistentVolumeClaim", pvc(resources={"requests": {"storage": "0"}})) == [
        'spec.resources[storage]: Invalid value: "0": must be greater than zero']


def test_pv_sources_checked_in_upstream_order():
    """The second volume source is the one refused, in upstream's order (hostPath before gcePersistentDisk);
    a hostPath needs a path, a local volume node affinity, and a class name is a DNS subdomain."""
    assert errors("PersistentVolume", pv(gcePersistentDisk={"pdName": "x"})) == [
        "spec.gcePersistentDisk: Forbidden: may not specify more than 1 volume type"]
    assert errors("PersistentVolume", pv(hostPath={"path": ""})) == ["spec.hostPath.path: Required value"]
    assert errors("PersistentVolume", pv(hostPath=None, local={"path": "/mnt/disk"})) == [
        "spec.nodeAffinity: Required value: Local volume requires node affinity"]
    assert errors("PersistentVolume", pv(storageClassName="Fast_SSD"))[0].startswith(
        'spec.storageClassName: Invalid value: "Fast_SSD": a lowercase RFC 1123 subdomain')
    assert errors("PersistentVolume", pv(hostPath={"path": "/"}, persistentVolumeReclaimPolicy="Recycle")) == [
        "spec.persistentVolumeReclaimPolicy: Forbidden: may not be 'recycle' for a hostPath mount of '/'"]


def test_pv_node_affinity_validated():
    """Node affinity needs required terms, each requirement with a valid operator and values."""
    assert errors("PersistentVolume", pv(nodeAffinity={})) == [
        "spec.nodeAffinity.required: Required value: must specify required node constraints"]
    assert errors("PersistentVolume", pv(nodeAffinity={"required": {"nodeSelectorTerms": []}})) == [
        "spec.nodeAffinity.required.nodeSelectorTerms: Required value: must have at least one node selector term"]
    bad = {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In"}]}]}}
    assert errors("PersistentVolume", pv(nodeAffinity=bad)) == [
        "spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be "
        "specified when `operator` is 'In' or 'NotIn'"]


def test_pv_update_source_and_volume_mode_are_immutable():
    """A volume's source and volumeMode cannot change after creation; its capacity and policy can."""
    errs = errors("PersistentVolume", pv(hostPath={"path": "/tmp/other"}), pv())
    assert len(errs) == 1
    assert errs[0].startswith("spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable "
                              "after creation\n  core.PersistentVolumeSource{")
    assert errors("PersistentVolume", pv(volumeMode="Block"), pv()) == [
        'volumeMode: Invalid value: "Block": field is immutable']
    assert errors("PersistentVolume", pv(capacity={"storage": "2Gi"}, persistentVolumeReclaimPolicy="Delete"),
                  pv()) == []


def test_pv_update_node_affinity_set_once_then_beta_to_ga_only():
    """Node affinity may be added, and then only move from beta topology labels to GA ones."""
    def affinity(key, value="a"):
        return {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": key, "operator": "In", "values": [value]}]}]}}
    beta, ga = affinity("failure-domain.beta.kubernetes.io/zone"), affinity("topology.kubernetes.io/zone")
    assert errors("PersistentVolume", pv(nodeAffinity=beta), pv()) == []
    assert errors("PersistentVolume", pv(nodeAffinity=ga), pv(nodeAffinity=beta)) == []
    errs = errors("PersistentVolume", pv(nodeAffinity=affinity("topology.kubernetes.io/zone", "b")),
                  pv(nodeAffinity=ga))
    assert len(errs) == 1 and errs[0].startswith("nodeAffinity: Invalid value: ")
    assert errs[0].endswith("field is immutable, except for updating from beta label to GA")


def test_pvc_data_source_rules():
    """dataSource and dataSourceRef name a kind (PersistentVolumeClaim in the core group) and agree."""
    assert errors("PersistentVolumeClaim", pvc(dataSource={"kind": "Snapshot", "name": "s"})) == [
        'spec.dataSource: Invalid value: "Snapshot": must be \'PersistentVolumeClaim\' when referencing the '
        "default apiGroup"]
    snap = {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "s"}
    assert errors("PersistentVolumeClaim", pvc(dataSource=snap, dataSourceRef=snap)) == []
    assert errors("PersistentVolumeClaim", pvc(dataSource=snap, dataSourceRef={**snap, "name": "t"})) == [
        'spec: Invalid value: "spec.dataSource": must match dataSourceRef']
    assert errors("PersistentVolumeClaim", pvc(dataSourceRef={"kind": "", "name": ""})) == [
        "spec.dataSourceRef.name: Required value", "spec.dataSourceRef.kind: Required value",
        'spec.dataSourceRef: Invalid value: "": must be \'PersistentVolumeClaim\' when referencing the default '
        "apiGroup"]


def test_pvc_update_storage_request_only_for_bound_claims():
    """An unbound claim's request is as immutable as the rest of its spec (upstream's message, with a diff);
    a bound claim's may grow, and (RecoverVolumeExpansionFailure, on in 1.32) come down again to above its
    status.capacity, never to it or below."""
    grown = {"requests": {"storage": "2Gi"}}
    errs = errors("PersistentVolumeClaim", pvc(resources=grown), pvc())
    assert len(errs) == 1
    assert errs[0].startswith("spec: Forbidden: spec is immutable after creation except resources.requests and "
                              "volumeAttributesClassName for bound claims\n  core.PersistentVolumeClaimSpec{")
    assert errors("PersistentVolumeClaim", pvc(phase="Bound", resources=grown), pvc(phase="Bound")) == []
    expanding = pvc(phase="Bound", resources={"requests": {"storage": "5Gi"}})
    expanding["status"]["capacity"] = {"storage": "2Gi"}
    assert errors("PersistentVolumeClaim", {**pvc(phase="Bound", resources={"requests": {"storage": "3Gi"}}),
                                            "status": expanding["status"]}, expanding) == []
    for size in ("2Gi", "1Gi"):
        shrunk = {**pvc(phase="Bound", resources={"requests": {"storage": size}}), "status": expanding["status"]}
        assert errors("PersistentVolumeClaim", shrunk, expanding) == [
            "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"]
    limited = {"requests": {"storage": "1Gi"}, "limits": {"storage": "5Gi"}}
    assert len(errors("PersistentVolumeClaim", pvc(phase="Bound", resources=limited), pvc(phase="Bound"))) == 1


def test_pvc_update_volume_name_once_and_class_from_nil_or_annotation():
    """volumeName may be set once; a nil class may be set, a set one not; the beta annotation may move into
    storageClassName and is otherwise immutable; volumeMode is immutable."""
    assert errors("PersistentVolumeClaim", pvc(volumeName="pv1"), pvc()) == []
    assert len(errors("PersistentVolumeClaim", pvc(volumeName="pv2"), pvc(volumeName="pv1"))) == 1
    assert errors("PersistentVolumeClaim", pvc(storageClassName="fast"), pvc()) == []
    assert len(errors("PersistentVolumeClaim", pvc(storageClassName="slow"), pvc(storageClassName="fast"))) == 1
    beta = {"volume.beta.kubernetes.io/storage-class": "fast"}
    assert errors("PersistentVolumeClaim", pvc(annotations=beta, storageClassName="fast"), pvc(annotations=beta)) == []
    errs = errors("PersistentVolumeClaim", pvc(annotations={"volume.beta.kubernetes.io/storage-class": "slow"}),
                  pvc(annotations=beta))
    assert errs == ['metadata.annotations.volume.beta.kubernetes.io/storage-class: Invalid value: "slow": '
                    "field is immutable"]
    errs = errors("PersistentVolumeClaim", pvc(volumeMode="Block"), pvc())
    assert errs[-1] == 'volumeMode: Invalid value: "Block": field is immutable'


def test_pvc_status_update_validates_only_status_rules():
    """A claim's /status write is checked by the status rules alone (a spec the create rules would now refuse
    does not block it), and a negative capacity is refused."""
    body = pvc()
    body["status"] = {"phase": "Bound", "capacity": {"storage": "-1"}}
    old = pvc(phase="Pending")
    assert [str(e) for e in _strategy_status_errors(body, old)] == [
        "status.capacity[storage]: Invalid value: -1: must be a valid resource quantity"]


def _strategy_status_errors(new, old):
    clock = task.Clock()
    store = Registry(MemoryStorage(clock), clock, watch_cache=False).store("", "v1", "persistentvolumeclaims")
    return store.strategy.validate_subresource_update("status", new, old)


def test_pv_update_with_a_node_affinity_key_of_the_wrong_type_is_no_crash():
    """A matchExpressions key that is no string (only reachable past the typed decoder) is judged, not a 500."""
    odd = {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": ["x"], "operator": "In",
                                                                    "values": ["a"]}]}]}}
    errs = errors("PersistentVolume", pv(nodeAffinity=odd), pv(nodeAffinity=odd))
    assert [e.split(":")[0] for e in errs] == [
        "spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].key"]


def test_pv_csi_driver_name_reports_every_rule_broken():
    """A CSI volume's driver is checked by the same rule as a CSIDriver's name (upstream's ValidateCSIDriverName):
    an empty driver is required and no subdomain, a long invalid one too long and no subdomain."""
    subdomain = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    assert errors("PersistentVolume", pv(hostPath=None, csi={"driver": "", "volumeHandle": "h"})) == [
        "spec.csi.driver: Required value", f'spec.csi.driver: Invalid value: "": {subdomain}']
    long_name = "x_" * 40
    assert errors("PersistentVolume", pv(hostPath=None, csi={"driver": long_name, "volumeHandle": "h"})) == [
        'spec.csi.driver: Too long: may not be more than 63 bytes',
        f'spec.csi.driver: Invalid value: "{long_name}": {subdomain}']


def test_pvc_status_update_checks_what_the_resizer_records():
    """RecoverVolumeExpansionFailure (on in 1.32): allocatedResourceStatuses hold known resize statuses of
    resource names that are storage or prefixed (upstream names the map's path in the singular and gives the key
    as the bad value), and allocatedResources no negative quantity."""
    from kapiserver.registry.validation.persistentvolume import validate_persistent_volume_claim_status_update
    old = pvc(phase="Bound")
    new = pvc(phase="Bound")
    new["status"].update(allocatedResourceStatuses={"storage": "Resizing", "cpu": "NodeResizePending",
                                                    "example.com/iops": "NodeResizePending"},
                         allocatedResources={"storage": "-1", "memory": "1Gi"})
    statuses = ('"ControllerResizeInProgress", "ControllerResizeInfeasible", "NodeResizeInProgress", '
                '"NodeResizeInfeasible", "NodeResizePending"')
    assert [str(e) for e in validate_persistent_volume_claim_status_update(new, old)] == [
        'status.allocatedResourceStatus: Unsupported value: "cpu": supported values: "storage"',
        f'status.allocatedResourceStatus: Unsupported value: "storage": supported values: {statuses}',
        'status.allocatedResources: Unsupported value: "memory": supported values: "storage"',
        "status.allocatedResources[storage]: Invalid value: -1: must be a valid resource quantity"]

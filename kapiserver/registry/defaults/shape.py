"""What Go writes for fields it never omits: non-pointer structs (``spec``, ``status``,
embedded references) and non-omitempty members.  A Go apiserver decodes every object
into typed structs, so a new Deployment reads back with ``status: {}``, a ReplicaSet with
``status: {replicas: 0}``, a legacy Event with ``eventTime: null`` and
``reportingComponent: ""``, and a Node with a complete (empty) ``status.nodeInfo``;
clients (the Python client's required-field checks among them) expect those shapes."""

from __future__ import annotations

import copy
from typing import Any

_NODE_INFO = {key: "" for key in (
    "machineID", "systemUUID", "bootID", "kernelVersion", "osImage", "containerRuntimeVersion",
    "kubeletVersion", "kubeProxyVersion", "operatingSystem", "architecture")}

# (group, version or "*", kind) -> the zero status Go writes.
ZERO_STATUS: dict[tuple[str, str, str], dict] = {
    ("", "*", "Pod"): {},
    ("", "*", "ReplicationController"): {"replicas": 0},
    ("", "*", "Service"): {"loadBalancer": {}},
    ("", "*", "Node"): {"daemonEndpoints": {"kubeletEndpoint": {"Port": 0}}, "nodeInfo": _NODE_INFO},
    ("", "*", "ResourceQuota"): {},
    ("apps", "*", "Deployment"): {},
    ("apps", "*", "ReplicaSet"): {"replicas": 0},
    ("apps", "*", "StatefulSet"): {"replicas": 0, "availableReplicas": 0},
    ("apps", "*", "DaemonSet"): {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                                 "desiredNumberScheduled": 0, "numberReady": 0},
    ("batch", "*", "Job"): {},
    ("batch", "*", "CronJob"): {},
    ("autoscaling", "v1", "HorizontalPodAutoscaler"): {"currentReplicas": 0, "desiredReplicas": 0},
    ("autoscaling", "v2", "HorizontalPodAutoscaler"): {"desiredReplicas": 0},
    ("policy", "*", "PodDisruptionBudget"): {"disruptionsAllowed": 0, "currentHealthy": 0,
                                             "desiredHealthy": 0, "expectedPods": 0},
    ("networking.k8s.io", "*", "Ingress"): {"loadBalancer": {}},
    ("certificates.k8s.io", "*", "CertificateSigningRequest"): {},
    ("storage.k8s.io", "*", "VolumeAttachment"): {"attached": False},
}


# (group, version or "*", kind) -> the other always-written fields ("status" aside).
ZERO_FIELDS: dict[tuple[str, str, str], dict] = {
    ("", "*", "Event"): {"involvedObject": {}, "source": {}, "firstTimestamp": None, "lastTimestamp": None,
                         "eventTime": None, "reportingComponent": "", "reportingInstance": ""},
    ("events.k8s.io", "*", "Event"): {"eventTime": None, "regarding": {}, "deprecatedSource": {},
                                      "deprecatedFirstTimestamp": None, "deprecatedLastTimestamp": None},
    ("", "*", "LimitRange"): {"spec": {"limits": None}},
    ("", "*", "PodTemplate"): {"template": {}},
    ("apps", "*", "StatefulSet"): {"spec": {"serviceName": ""}},
    ("apps", "*", "ControllerRevision"): {"revision": 0},
    ("networking.k8s.io", "*", "NetworkPolicy"): {"spec": {"podSelector": {}}},
    ("discovery.k8s.io", "*", "EndpointSlice"): {"endpoints": None},
    ("scheduling.k8s.io", "*", "PriorityClass"): {"value": 0},
    ("node.k8s.io", "*", "RuntimeClass"): {"handler": ""},
    ("storage.k8s.io", "*", "CSINode"): {"spec": {"drivers": None}},
    ("storage.k8s.io", "*", "CSIStorageCapacity"): {"storageClassName": ""},
    ("storage.k8s.io", "*", "VolumeAttachment"): {"spec": {"attacher": "", "source": {}, "nodeName": ""}},
    ("rbac.authorization.k8s.io", "*", "Role"): {"rules": None},
    ("rbac.authorization.k8s.io", "*", "ClusterRole"): {"rules": None},
    ("rbac.authorization.k8s.io", "*", "RoleBinding"): {"roleRef": {}},
    ("rbac.authorization.k8s.io", "*", "ClusterRoleBinding"): {"roleRef": {}},
}
# Kinds whose spec is a non-pointer struct: written as {} when empty.
_WITH_SPEC = {
    ("", "LimitRange"), ("", "Namespace"), ("", "Node"), ("", "PersistentVolumeClaim"), ("", "PersistentVolume"),
    ("", "Pod"), ("", "ReplicationController"), ("", "ResourceQuota"), ("", "Service"),
    ("apps", "DaemonSet"), ("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet"),
    ("autoscaling", "HorizontalPodAutoscaler"), ("batch", "CronJob"), ("batch", "Job"),
    ("certificates.k8s.io", "CertificateSigningRequest"), ("coordination.k8s.io", "Lease"),
    ("networking.k8s.io", "IngressClass"), ("networking.k8s.io", "Ingress"),
    ("networking.k8s.io", "NetworkPolicy"), ("policy", "PodDisruptionBudget"), ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"), ("storage.k8s.io", "VolumeAttachment"),
}


def _fill(target: dict, template: dict) -> None:
    for key, value in template.items():
        if isinstance(value, dict):
            if not isinstance(target.get(key), dict):
                target[key] = {}
            _fill(target[key], value)
        elif target.get(key) is None:
            target[key] = copy.deepcopy(value)


def zero_status(group: str, version: str, kind: str) -> Any:
    """The status a new object of this kind reads back with (None: Go omits it)."""
    template = ZERO_STATUS.get((group, version, kind), ZERO_STATUS.get((group, "*", kind)))
    return copy.deepcopy(template) if template is not None else None


def fill_zero_fields(group: str, version: str, kind: str, obj: dict) -> None:
    """Add the always-written fields a Go apiserver would show for this kind."""
    if (group, kind) in _WITH_SPEC and not isinstance(obj.get("spec"), dict):
        obj["spec"] = {}
    fields = ZERO_FIELDS.get((group, version, kind), ZERO_FIELDS.get((group, "*", kind)))
    if fields is not None:
        _fill(obj, fields)
    status = ZERO_STATUS.get((group, version, kind), ZERO_STATUS.get((group, "*", kind)))
    if status is not None:
        if not isinstance(obj.get("status"), dict):
            obj["status"] = {}
        _fill(obj["status"], status)

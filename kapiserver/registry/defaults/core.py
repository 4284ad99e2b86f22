"""Defaults of the core/v1 kinds (pkg/apis/core/v1/defaults.go)."""

from __future__ import annotations

import base64

from . import pod as _pod
from ...machinery.quantity import canonical_resource_list
from ._util import child, empty, items, set_if_empty, set_if_nil, sub

DEFAULT_CLIENT_IP_TIMEOUT = 10800  # seconds of ClientIP session affinity


def pod(obj: dict) -> None:
    _pod.pod(obj)


def pod_template(obj: dict) -> None:
    _pod.pod_template(sub(obj, "template"))


def replication_controller(obj: dict) -> None:
    spec = sub(obj, "spec")
    template = child(spec, "template")
    if template is not None:
        labels = (template.get("metadata") or {}).get("labels")
        # A nil template label map leaves selector and labels alone; an empty one still copies.
        if labels is not None:
            if not spec.get("selector"):
                spec["selector"] = dict(labels)
            meta = sub(obj, "metadata")
            if not meta.get("labels"):
                meta["labels"] = dict(labels)
        _pod.pod_template(template)
    set_if_nil(spec, "replicas", 1)


def _externally_accessible(spec: dict) -> bool:
    kind = spec.get("type")
    return kind in ("LoadBalancer", "NodePort") or (kind == "ClusterIP" and bool(spec.get("externalIPs")))


def service(obj: dict) -> None:
    """SetDefaults_Service.  clusterIP(s), ipFamilies and ipFamilyPolicy are left to the
    service REST layer, which allocates them."""
    spec = sub(obj, "spec")
    set_if_empty(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        client_ip = child(child(spec, "sessionAffinityConfig"), "clientIP")
        if client_ip is None or client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_TIMEOUT}}
    set_if_empty(spec, "type", "ClusterIP")
    for port in items(spec, "ports"):
        set_if_empty(port, "protocol", "TCP")
        if empty(port.get("targetPort")):
            port["targetPort"] = port.get("port", 0)
    if _externally_accessible(spec):
        set_if_empty(spec, "externalTrafficPolicy", "Cluster")
    if spec.get("internalTrafficPolicy") is None and spec["type"] in ("ClusterIP", "NodePort",
                                                                      "LoadBalancer"):
        spec["internalTrafficPolicy"] = "Cluster"
    if spec["type"] == "LoadBalancer":
        set_if_nil(spec, "allocateLoadBalancerNodePorts", True)
        # LoadBalancerIPMode is on by default in 1.32.
        ingress = items(child(child(obj, "status"), "loadBalancer"), "ingress")
        for entry in ingress:
            if entry.get("ip") and entry.get("ipMode") is None:
                entry["ipMode"] = "VIP"


def secret(obj: dict) -> None:
    set_if_empty(obj, "type", "Opaque")
    # stringData is write-only: upstream folds it into data when converting from v1 on
    # decode (its keys win), which is the same moment defaults run.
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value if value is not None else "").encode()).decode()
        obj["data"] = data


def namespace(obj: dict) -> None:
    """SetDefaults_Namespace (the metadata-name label) and SetDefaults_NamespaceStatus."""
    meta = sub(obj, "metadata")
    name = meta.get("name")
    if name:
        labels = meta.get("labels")
        if not isinstance(labels, dict):
            labels = meta["labels"] = {}
        labels["kubernetes.io/metadata.name"] = name
    set_if_empty(sub(obj, "status"), "phase", "Active")


def node(obj: dict) -> None:
    status = child(obj, "status")
    if status is not None:
        if status.get("allocatable") is None and status.get("capacity") is not None:
            status["allocatable"] = dict(status["capacity"])
        canonical_resource_list(status, "capacity")
        canonical_resource_list(status, "allocatable")


def _pv_source(spec: dict) -> None:
    for key, fn in (("hostPath", _pod.host_path), ("rbd", _pod.rbd), ("iscsi", _pod.iscsi),
                    ("azureDisk", _pod.azure_disk), ("scaleIO", _pod.scale_io)):
        source = child(spec, key)
        if source is not None:
            fn(source)


def persistent_volume(obj: dict) -> None:
    spec = sub(obj, "spec")
    set_if_empty(sub(obj, "status"), "phase", "Pending")
    set_if_empty(spec, "persistentVolumeReclaimPolicy", "Retain")
    set_if_nil(spec, "volumeMode", "Filesystem")
    canonical_resource_list(spec, "capacity")
    _pv_source(spec)


def persistent_volume_claim(obj: dict) -> None:
    status = sub(obj, "status")
    set_if_empty(status, "phase", "Pending")
    canonical_resource_list(status, "capacity")
    canonical_resource_list(status, "allocatedResources")
    _pod.pvc_spec(sub(obj, "spec"))


def endpoints(obj: dict) -> None:
    for subset in items(obj, "subsets"):
        for port in items(subset, "ports"):
            set_if_empty(port, "protocol", "TCP")


def limit_range(obj: dict) -> None:
    """SetDefaults_LimitRangeItem: for Container limits, default <- max, defaultRequest <-
    default, then min."""
    for item in items(sub(obj, "spec"), "limits"):
        for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            canonical_resource_list(item, key)
        if item.get("type") != "Container":
            continue
        default = dict(item.get("default") or {})
        default_request = dict(item.get("defaultRequest") or {})
        for name, value in (item.get("max") or {}).items():
            default.setdefault(name, value)
        for name, value in default.items():
            default_request.setdefault(name, value)
        for name, value in (item.get("min") or {}).items():
            default_request.setdefault(name, value)
        # Empty maps are omitted when Go writes them.
        for key, value in (("default", default), ("defaultRequest", default_request)):
            if value:
                item[key] = value


def resource_quota(obj: dict) -> None:
    canonical_resource_list(child(obj, "spec"), "hard")
    status = child(obj, "status")
    canonical_resource_list(status, "hard")
    canonical_resource_list(status, "used")


DEFAULTERS = {
    "ResourceQuota": resource_quota,
    "Pod": pod,
    "PodTemplate": pod_template,
    "ReplicationController": replication_controller,
    "Service": service,
    "Secret": secret,
    "Namespace": namespace,
    "Node": node,
    "PersistentVolume": persistent_volume,
    "PersistentVolumeClaim": persistent_volume_claim,
    "Endpoints": endpoints,
    "LimitRange": limit_range,
}

"""
Printers for the core/v1 resources other than pods (see core_pods) and events
(see core_events), after upstream's printers.go.
"""

from __future__ import annotations

from datetime import datetime

from ...machinery.selectors import format_labels
from . import _base as b

_SVC_SPEC = "core.v1.ServiceSpec"
_NODE_INFO = "core.v1.NodeSystemInfo"
_PV_SPEC, _PV_STATUS = "core.v1.PersistentVolumeSpec", "core.v1.PersistentVolumeStatus"
_PVC_SPEC, _PVC_STATUS = "core.v1.PersistentVolumeClaimSpec", "core.v1.PersistentVolumeClaimStatus"
_RC_SPEC, _RC_STATUS = "core.v1.ReplicationControllerSpec", "core.v1.ReplicationControllerStatus"
_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


# --- services ----------------------------------------------------------------------------------

def _service_columns() -> list[dict]:
    return [
        b.name_column(),
        b.column("Type", "string", b.doc(_SVC_SPEC, "type")),
        b.column("Cluster-IP", "string", b.doc(_SVC_SPEC, "clusterIP")),
        b.column("External-IP", "string", b.doc(_SVC_SPEC, "externalIPs")),
        b.column("Port(s)", "string", b.doc(_SVC_SPEC, "ports")),
        b.age_column(),
        b.column("Selector", "string", b.doc(_SVC_SPEC, "selector"), 1),
    ]


def load_balancer_ingress(status: dict) -> str:
    """The IPs (else hostnames) of a load balancer's ingress points, sorted and de-duplicated.
    The server prints wide, so nothing is clipped."""
    seen = set()
    for ingress in (status or {}).get("ingress") or []:
        if ingress.get("ip"):
            seen.add(ingress["ip"])
        elif ingress.get("hostname"):
            seen.add(ingress["hostname"])
    return ",".join(sorted(seen))


def _external_ip(svc: dict) -> str:
    spec = svc.get("spec") or {}
    external = spec.get("externalIPs") or []
    svc_type = spec.get("type", "")
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if svc_type == "LoadBalancer":
        lb = load_balancer_ingress(b.get(svc, "status.loadBalancer"))
        if external:
            return ",".join((lb.split(",") if lb else []) + external)
        return lb or "<pending>"
    if svc_type == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def _ports(ports) -> str:
    pieces = []
    for port in ports or []:
        protocol = port.get("protocol", "")
        if port.get("nodePort"):
            pieces.append(f"{port.get('port', 0)}:{port['nodePort']}/{protocol}")
        else:
            pieces.append(f"{port.get('port', 0)}/{protocol}")
    return ",".join(pieces)


def _service_cells(svc: dict, now: datetime) -> list:
    spec = svc.get("spec") or {}
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [b.name(svc), spec.get("type", ""), cluster_ips[0] if cluster_ips else "<none>",
            _external_ip(svc), _ports(spec.get("ports")) or "<none>", b.age(svc, now),
            format_labels(spec.get("selector"))]


# --- endpoints ---------------------------------------------------------------------------------

def _endpoints_cells(ep: dict, now: datetime) -> list:
    subsets = ep.get("subsets") or []
    if not subsets:
        return [b.name(ep), "<none>", b.age(ep, now)]
    shown, limit, more, count = [], 3, False, 0
    for subset in subsets:
        addresses = subset.get("addresses") or []
        ports = subset.get("ports") or []
        if not ports:  # a headless service may have no ports
            count += len(addresses)
            for address in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(address.get("ip", ""))
            continue
        for port in ports:
            count += len(addresses)
            for address in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(b.join_host_port(address.get("ip", ""), port.get("port", 0)))
    text = ",".join(shown)
    if more:
        text = f"{text} + {count - limit} more..."
    return [b.name(ep), text, b.age(ep, now)]


# --- nodes -------------------------------------------------------------------------------------

def _node_columns() -> list[dict]:
    return [
        b.name_column(),
        b.column("Status", "string", "The status of the node"),
        b.column("Roles", "string", "The roles of the node"),
        b.age_column(),
        b.column("Version", "string", b.doc(_NODE_INFO, "kubeletVersion")),
        b.column("Internal-IP", "string", b.doc("core.v1.NodeStatus", "addresses"), 1),
        b.column("External-IP", "string", b.doc("core.v1.NodeStatus", "addresses"), 1),
        b.column("OS-Image", "string", b.doc(_NODE_INFO, "osImage"), 1),
        b.column("Kernel-Version", "string", b.doc(_NODE_INFO, "kernelVersion"), 1),
        b.column("Container-Runtime", "string", b.doc(_NODE_INFO, "containerRuntimeVersion"), 1),
    ]


def node_roles(labels: dict) -> list[str]:
    """Roles from ``node-role.kubernetes.io/<role>`` keys and the ``kubernetes.io/role`` value."""
    roles = set()
    for key, value in (labels or {}).items():
        if key.startswith("node-role.kubernetes.io/"):
            role = key[len("node-role.kubernetes.io/"):]
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return sorted(roles)


def _node_address(node: dict, type_: str) -> str:
    for address in b.get(node, "status.addresses", []):
        if address.get("type") == type_:
            return address.get("address", "")
    return "<none>"


def _node_cells(node: dict, now: datetime) -> list:
    conditions = {c.get("type"): c for c in b.get(node, "status.conditions", [])}
    status = []
    if "Ready" in conditions:
        status.append("Ready" if conditions["Ready"].get("status") == "True" else "NotReady")
    if not status:
        status.append("Unknown")
    if b.get(node, "spec.unschedulable"):
        status.append("SchedulingDisabled")
    info = b.get(node, "status.nodeInfo", {})
    return [b.name(node), ",".join(status), ",".join(node_roles(b.meta(node).get("labels"))) or "<none>",
            b.age(node, now), info.get("kubeletVersion", ""),
            _node_address(node, "InternalIP"), _node_address(node, "ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


# --- persistent volumes and claims -------------------------------------------------------------

def access_modes(modes) -> str:
    modes = set(modes or [])
    short = [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
             ("ReadWriteOncePod", "RWOP")]
    return ",".join(abbr for mode, abbr in short if mode in modes)


def _storage_class(obj: dict) -> str:
    annotations = b.meta(obj).get("annotations") or {}
    if _STORAGE_CLASS_ANNOTATION in annotations:  # the beta annotation still wins
        return annotations[_STORAGE_CLASS_ANNOTATION]
    return b.get(obj, "spec.storageClassName", "")


def _pv_columns() -> list[dict]:
    return [
        b.name_column(),
        b.column("Capacity", "string", b.doc(_PV_SPEC, "capacity")),
        b.column("Access Modes", "string", b.doc(_PV_SPEC, "accessModes")),
        b.column("Reclaim Policy", "string", b.doc(_PV_SPEC, "persistentVolumeReclaimPolicy")),
        b.column("Status", "string", b.doc(_PV_STATUS, "phase")),
        b.column("Claim", "string", b.doc(_PV_SPEC, "claimRef")),
        b.column("StorageClass", "string", "StorageClass of the pv"),
        b.column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
        b.column("Reason", "string", b.doc(_PV_STATUS, "reason")),
        b.age_column(),
        b.column("VolumeMode", "string", b.doc(_PV_SPEC, "volumeMode"), 1),
    ]


def _pv_cells(pv: dict, now: datetime) -> list:
    spec = pv.get("spec") or {}
    claim = spec.get("claimRef")
    claim_cell = f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else ""
    phase = "Terminating" if b.deleting(pv) else b.get(pv, "status.phase", "")
    return [b.name(pv), b.quantity((spec.get("capacity") or {}).get("storage")),
            access_modes(spec.get("accessModes")), spec.get("persistentVolumeReclaimPolicy", ""),
            phase, claim_cell, _storage_class(pv), b.ptr(spec.get("volumeAttributesClassName"), "<unset>"),
            b.get(pv, "status.reason", ""), b.age(pv, now),
            b.ptr(spec.get("volumeMode"), "<unset>")]


def _pvc_columns() -> list[dict]:
    return [
        b.name_column(),
        b.column("Status", "string", b.doc(_PVC_STATUS, "phase")),
        b.column("Volume", "string", b.doc(_PVC_SPEC, "volumeName")),
        b.column("Capacity", "string", b.doc(_PVC_STATUS, "capacity")),
        b.column("Access Modes", "string", b.doc(_PVC_STATUS, "accessModes")),
        b.column("StorageClass", "string", "StorageClass of the pvc"),
        b.column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
        b.age_column(),
        b.column("VolumeMode", "string", b.doc(_PVC_SPEC, "volumeMode"), 1),
    ]


def _pvc_cells(pvc: dict, now: datetime) -> list:
    spec = pvc.get("spec") or {}
    status = pvc.get("status") or {}
    capacity = modes = ""
    if spec.get("volumeName"):  # capacity and modes mean something once bound
        modes = access_modes(status.get("accessModes"))
        capacity = b.quantity((status.get("capacity") or {}).get("storage"))
    annotations = b.meta(pvc).get("annotations") or {}
    storage_class = annotations.get(_STORAGE_CLASS_ANNOTATION, spec.get("storageClassName") or "")
    phase = "Terminating" if b.deleting(pvc) else status.get("phase", "")
    return [b.name(pvc), phase, spec.get("volumeName", ""), capacity, modes, storage_class,
            b.ptr(spec.get("volumeAttributesClassName"), "<unset>"), b.age(pvc, now),
            b.ptr(spec.get("volumeMode"), "<unset>")]


# --- replication controllers and pod templates -------------------------------------------------

def _rc_columns() -> list[dict]:
    return [
        b.name_column(),
        b.column("Desired", "integer", b.doc(_RC_SPEC, "replicas")),
        b.column("Current", "integer", b.doc(_RC_STATUS, "replicas")),
        b.column("Ready", "integer", b.doc(_RC_STATUS, "readyReplicas")),
        b.age_column(),
        *b.container_columns(),
        b.column("Selector", "string", b.doc(_RC_SPEC, "selector"), 1),
    ]


def _rc_cells(rc: dict, now: datetime) -> list:
    spec = rc.get("spec") or {}
    names, images = b.layout_containers(b.get(spec, "template.spec.containers"))
    return [b.name(rc), int(spec.get("replicas", 1)), b.int_cell(b.get(rc, "status.replicas")),
            b.int_cell(b.get(rc, "status.readyReplicas")), b.age(rc, now), names, images,
            format_labels(spec.get("selector"))]


def _pod_template_columns() -> list[dict]:
    return [
        b.name_column(),
        b.column("Containers", "string", b.CONTAINERS_DOC),
        b.column("Images", "string", b.IMAGES_DOC),
        b.column("Pod Labels", "string", "The labels for the pod template."),
    ]


def _pod_template_cells(obj: dict, now: datetime) -> list:
    names, images = b.layout_containers(b.get(obj, "template.spec.containers"))
    return [b.name(obj), names, images, format_labels(b.get(obj, "template.metadata.labels"))]


# --- the small ones ----------------------------------------------------------------------------

def _simple(*columns) -> list[dict]:
    return [b.name_column(), *columns, b.age_column()]


def _resource_quota_cells(quota: dict, now: datetime) -> list:
    hard = b.get(quota, "status.hard", {})
    used = b.get(quota, "status.used", {})
    requests, limits = [], []
    for resource in sorted(hard):
        target = limits if resource.split(".")[0] == "limits" and "." in resource else requests
        target.append(f"{resource}: {b.quantity(used.get(resource))}/{b.quantity(hard[resource])}")
    return [b.name(quota), ", ".join(requests), ", ".join(limits), b.age(quota, now)]


def _component_status_cells(obj: dict, now: datetime) -> list:
    status, message, error = "Unknown", "", ""
    for condition in obj.get("conditions") or []:
        if condition.get("type") == "Healthy":
            status = "Healthy" if condition.get("status") == "True" else "Unhealthy"
            message, error = condition.get("message", ""), condition.get("error", "")
            break
    return [b.name(obj), status, message, error]


def _secret_data_count(secret: dict) -> int:
    # stringData is merged into data on the way in; count it if a caller still has it
    return len(set(secret.get("data") or {}) | set(secret.get("stringData") or {}))


PRINTERS = {
    ("", "services"): b.Printer(_service_columns, _service_cells),
    ("", "endpoints"): b.Printer(
        lambda: _simple(b.column("Endpoints", "string", b.doc("core.v1.Endpoints", "subsets"))),
        _endpoints_cells),
    ("", "nodes"): b.Printer(_node_columns, _node_cells),
    ("", "namespaces"): b.Printer(
        lambda: _simple(b.column("Status", "string", "The status of the namespace")),
        lambda ns, now: [b.name(ns), b.get(ns, "status.phase", ""), b.age(ns, now)]),
    ("", "configmaps"): b.Printer(
        lambda: _simple(b.column("Data", "string", b.doc("core.v1.ConfigMap", "data"))),
        lambda cm, now: [b.name(cm), len(cm.get("data") or {}) + len(cm.get("binaryData") or {}),
                         b.age(cm, now)]),
    ("", "secrets"): b.Printer(
        lambda: _simple(b.column("Type", "string", b.doc("core.v1.Secret", "type")),
                        b.column("Data", "string", b.doc("core.v1.Secret", "data"))),
        lambda s, now: [b.name(s), s.get("type", ""), _secret_data_count(s), b.age(s, now)]),
    ("", "serviceaccounts"): b.Printer(
        lambda: _simple(b.column("Secrets", "string", b.doc("core.v1.ServiceAccount", "secrets"))),
        lambda sa, now: [b.name(sa), len(sa.get("secrets") or []), b.age(sa, now)]),
    ("", "persistentvolumes"): b.Printer(_pv_columns, _pv_cells),
    ("", "persistentvolumeclaims"): b.Printer(_pvc_columns, _pvc_cells),
    ("", "replicationcontrollers"): b.Printer(_rc_columns, _rc_cells),
    ("", "podtemplates"): b.Printer(_pod_template_columns, _pod_template_cells),
    ("", "resourcequotas"): b.Printer(
        lambda: _simple(
            b.column("Request", "string",
                     "Request represents a minimum amount of cpu/memory that a container may consume."),
            b.column("Limit", "string", "Limits control the maximum amount of cpu/memory that a container "
                                        "may use independent of contention on the node.")),
        _resource_quota_cells),
    ("", "componentstatuses"): b.Printer(
        lambda: [b.name_column(),
                 b.column("Status", "string", "Status of the component conditions"),
                 b.column("Message", "string", "Message of the component conditions"),
                 b.column("Error", "string", "Error of the component conditions")],
        _component_status_cells),
}

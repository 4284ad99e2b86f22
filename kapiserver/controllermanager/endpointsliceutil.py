"""What the endpoints, EndpointSlice and EndpointSlice mirroring controllers share (upstream's
k8s.io/endpointslice/util): which Services select a pod, whether a pod belongs in a Service's endpoints and on
which ports, the last-change trigger time, and the tracker of a controller's own EndpointSlice writes that tells
a stale informer cache."""

from __future__ import annotations

import datetime
import ipaddress
import re
from typing import Dict, Iterable, List, Optional, Set, Tuple

from ..machinery.meta import parse_time

LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
LABEL_SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
IS_HEADLESS_SERVICE = "service.kubernetes.io/headless"
LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
LEADER_ELECTION_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
LAST_APPLIED_CONFIG = "kubectl.kubernetes.io/last-applied-configuration"
LABEL_TOPOLOGY_ZONE = "topology.kubernetes.io/zone"


class StaleInformerCache(Exception):
    """The informer has not yet seen a write this controller made: the sync is retried later."""


# -- Services and the pods they select -------------------------------------------------------------------

def selector(service: dict) -> Optional[Dict[str, str]]:
    """The Service's selector; None when it has none (it then selects nothing, not everything)."""
    return (service.get("spec") or {}).get("selector")


def selects(service: dict, labels: Optional[Dict[str, str]]) -> bool:
    chosen = selector(service)
    if chosen is None:
        return False
    labels = labels or {}
    return all(labels.get(k) == v for k, v in chosen.items())


def selected_pods(pods_indexer, service: dict) -> List[dict]:
    """The pods of the Service's namespace its selector matches, by name (the order endpoints are added in)."""
    namespace = service["metadata"]["namespace"]
    chosen = selector(service) or {}
    pods = [p for p in pods_indexer.by_index("namespace", namespace)
            if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in chosen.items())]
    return sorted(pods, key=lambda p: p["metadata"]["name"])


def service_keys_for(services_indexer, namespace: str, labels: Optional[Dict[str, str]]) -> Set[str]:
    return {f"{namespace}/{s['metadata']['name']}" for s in services_indexer.by_index("namespace", namespace)
            if selects(s, labels)}


def services_to_update_on_pod_change(services_indexer, old: dict, new: dict) -> Set[str]:
    """The Services whose endpoints a pod update may change (upstream's GetServicesToUpdateOnPodChange)."""
    if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
        return set()     # a resync: the Services' own resyncs cover it
    pod_changed, labels_changed = pod_endpoints_changed(old, new)
    if not pod_changed and not labels_changed:
        return set()
    namespace = new["metadata"]["namespace"]
    services = service_keys_for(services_indexer, namespace, new["metadata"].get("labels"))
    if labels_changed:
        old_services = service_keys_for(services_indexer, namespace, old["metadata"].get("labels"))
        services = services | old_services if pod_changed else services ^ old_services
    return services


def pod_endpoints_changed(old: dict, new: dict) -> Tuple[bool, bool]:
    """(the pod changed in a way that changes its endpoints, it changed in a way that changes which Services
    select it)."""
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    labels_changed = ((old["metadata"].get("labels") or {}) != (new["metadata"].get("labels") or {}) or
                      old_spec.get("hostname") != new_spec.get("hostname") or
                      old_spec.get("subdomain") != new_spec.get("subdomain"))
    if old["metadata"].get("deletionTimestamp") != new["metadata"].get("deletionTimestamp"):
        return True, labels_changed
    if is_pod_ready(old) != is_pod_ready(new):
        return True, labels_changed
    if pod_ips(old) != pod_ips(new):
        return True, labels_changed
    return False, labels_changed


# -- pods ----------------------------------------------------------------------------------------------

def ready_condition(pod: dict) -> Optional[dict]:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition
    return None


def is_pod_ready(pod: dict) -> bool:
    condition = ready_condition(pod)
    return condition is not None and condition.get("status") == "True"


def pod_ips(pod: dict) -> List[str]:
    status = pod.get("status") or {}
    ips = [entry.get("ip") for entry in status.get("podIPs") or [] if entry.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return ips


def should_pod_be_in_endpoints(pod: dict, include_terminating: bool) -> bool:
    """Not finished, has an IP, and is not terminating unless ``include_terminating``."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    if not pod_ips(pod):
        return False
    if not include_terminating and pod["metadata"].get("deletionTimestamp"):
        return False
    return True


def should_set_hostname(pod: dict, service: dict) -> bool:
    spec = pod.get("spec") or {}
    return bool(spec.get("hostname")) and spec.get("subdomain") == service["metadata"]["name"] and \
        pod["metadata"]["namespace"] == service["metadata"]["namespace"]


_SLOPPY_IPV4 = re.compile(r"[0-9]+(\.[0-9]+){3}")


def parse_ip_sloppy(text: str) -> Optional[ipaddress._BaseAddress]:
    """An IP as upstream's netutils.ParseIPSloppy reads it: IPv4 octets may have leading zeros (decimal
    still), an IPv4-mapped IPv6 address is the IPv4 address, a zone (``%eth0``) is not an IP.  None if not
    an IP."""
    if not isinstance(text, str) or "%" in text:
        return None
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        if not _SLOPPY_IPV4.fullmatch(text) or any(int(octet) > 255 for octet in text.split(".")):
            return None
        ip = ipaddress.IPv4Address(".".join(str(int(octet)) for octet in text.split(".")))
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_ipv6(ip: str) -> bool:
    parsed = parse_ip_sloppy(ip)
    return parsed is not None and parsed.version == 6


def find_port(pod: dict, service_port: dict) -> Optional[int]:
    """The container port a Service port's targetPort names on this pod: a number as is; a name looked up in
    the containers' ports (and the sidecars', restartable init containers) with the Service port's protocol."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol", "TCP")
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or []) + [
        c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    for container in containers:
        for port in container.get("ports") or []:
            if port.get("name") == target and port.get("protocol", "TCP") == protocol:
                return port.get("containerPort")
    return None


# -- Services --------------------------------------------------------------------------------------------

def is_service_ip_set(service: dict) -> bool:
    cluster_ip = (service.get("spec") or {}).get("clusterIP") or ""
    return cluster_ip not in ("", "None")


def is_headless(service: dict) -> bool:
    return (service.get("spec") or {}).get("clusterIP") == "None"


def target_ref(pod: dict) -> dict:
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"], "uid": meta.get("uid", "")}


def without_resource_version(ref: Optional[dict]) -> Optional[dict]:
    if ref is None:
        return None
    return {k: v for k, v in ref.items() if k != "resourceVersion" and v not in (None, "")}


# -- the last-change trigger time -------------------------------------------------------------------------

def format_trigger_time(seconds: float) -> str:
    """Go's time.RFC3339Nano in UTC: fractional seconds with trailing zeros dropped."""
    stamp = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    text = stamp.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{stamp.microsecond:06d}".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


def _time(text: Optional[str]) -> Optional[float]:
    if not text:
        return None
    try:
        return parse_time(text)
    except ValueError:
        return None


class TriggerTimeTracker:
    """Upstream's TriggerTimeTracker: the time of the earliest change (a pod's Ready transition, the Service's
    creation) not yet seen by a sync of the Service; the Service's creation on its first sync."""

    def __init__(self):
        self._states: Dict[Tuple[str, str], Tuple[Optional[float], Dict[str, float]]] = {}

    def compute(self, namespace: str, service: dict, pods: Iterable[dict]) -> Optional[float]:
        key = (namespace, service["metadata"]["name"])
        known = key in self._states
        last_service, last_pods = self._states.get(key, (None, {}))
        earliest: Optional[float] = None
        pod_times: Dict[str, float] = {}
        for pod in pods:
            when = _time((ready_condition(pod) or {}).get("lastTransitionTime"))
            if when is None:
                continue
            name = pod["metadata"]["name"]
            pod_times[name] = when
            if name not in last_pods or when > last_pods[name]:
                earliest = when if earliest is None else min(earliest, when)
        service_time = _time(service["metadata"].get("creationTimestamp"))
        if service_time is not None and (last_service is None or service_time > last_service):
            earliest = service_time if earliest is None else min(earliest, service_time)
        self._states[key] = (service_time, pod_times)
        return service_time if not known else earliest

    def delete_service(self, namespace: str, name: str) -> None:
        self._states.pop((namespace, name), None)


# -- the EndpointSlices a controller wrote ---------------------------------------------------------------

DELETION_EXPECTED = -1


def slice_version(endpoint_slice: dict) -> int:
    """How far along an EndpointSlice is: its metadata.generation, which the apiserver moves when anything but
    its metadata, or its labels, change (upstream's tracker compares generations, so an annotation alone written
    by someone else does not sync the Service)."""
    try:
        return int((endpoint_slice.get("metadata") or {}).get("generation") or 0)
    except (TypeError, ValueError):
        return 0


def _service_of(endpoint_slice: dict) -> Tuple[str, str]:
    meta = endpoint_slice["metadata"]
    return meta.get("namespace", ""), (meta.get("labels") or {}).get(LABEL_SERVICE_NAME, "")


class EndpointSliceTracker:
    """Upstream's EndpointSliceTracker: the version of each EndpointSlice this controller last wrote (or that
    it deleted), by Service, to skip its own writes' events and to tell a cache that has not caught up."""

    def __init__(self):
        self._versions: Dict[Tuple[str, str], Dict[str, int]] = {}
        self._service_uids: Dict[Tuple[str, str], str] = {}

    def has(self, endpoint_slice: dict) -> bool:
        return endpoint_slice["metadata"].get("uid") in self._versions.get(_service_of(endpoint_slice), {})

    def should_sync(self, endpoint_slice: dict) -> bool:
        versions = self._versions.get(_service_of(endpoint_slice))
        if versions is None:
            return True
        tracked = versions.get(endpoint_slice["metadata"].get("uid"))
        return tracked is None or slice_version(endpoint_slice) > tracked

    def stale_slices(self, service: dict, endpoint_slices: List[dict]) -> bool:
        key = (service["metadata"]["namespace"], service["metadata"]["name"])
        uid = service["metadata"].get("uid", "")
        if self._service_uids.get(key) and uid and self._service_uids[key] != uid:
            self._versions.pop(key, None)    # writes for an older Service of that name
        self._service_uids[key] = uid
        versions = self._versions.get(key)
        if versions is None:
            return False
        provided = set()
        for endpoint_slice in endpoint_slices:
            slice_uid = endpoint_slice["metadata"].get("uid")
            provided.add(slice_uid)
            tracked = versions.get(slice_uid)
            if tracked is not None and (tracked == DELETION_EXPECTED or tracked > slice_version(endpoint_slice)):
                return True
        return any(v != DELETION_EXPECTED and u not in provided for u, v in versions.items())

    def update(self, endpoint_slice: dict) -> None:
        self._versions.setdefault(_service_of(endpoint_slice), {})[endpoint_slice["metadata"]["uid"]] = \
            slice_version(endpoint_slice)

    def expect_deletion(self, endpoint_slice: dict) -> None:
        self._versions.setdefault(_service_of(endpoint_slice), {})[endpoint_slice["metadata"]["uid"]] = \
            DELETION_EXPECTED

    def handle_deletion(self, endpoint_slice: dict) -> bool:
        """Forget the slice; whether its deletion was expected."""
        versions = self._versions.get(_service_of(endpoint_slice))
        if versions is not None:
            tracked = versions.pop(endpoint_slice["metadata"].get("uid"), None)
            if tracked is not None and tracked != DELETION_EXPECTED:
                return False
        return True

    def delete_service(self, namespace: str, name: str) -> None:
        self._versions.pop((namespace, name), None)
        self._service_uids.pop((namespace, name), None)


def managed_by(endpoint_slice: dict) -> str:
    return (endpoint_slice["metadata"].get("labels") or {}).get(LABEL_MANAGED_BY, "")


def slices_for_service(slices_indexer, namespace: str, name: str, controller: str) -> List[dict]:
    """The service's EndpointSlices this controller manages, without those being deleted."""
    return [s for s in slices_indexer.by_index("namespace", namespace)
            if (s["metadata"].get("labels") or {}).get(LABEL_SERVICE_NAME) == name
            and managed_by(s) == controller and not s["metadata"].get("deletionTimestamp")]


class TrackedSliceHandlers:
    """The EndpointSlice handlers the endpointslice and mirroring controllers share: a slice this controller
    manages (``manager``) re-syncs its Service when someone else changed or deleted it (the controller's own
    writes, known to ``self.tracker``, do not), after ``slice_sync_delay()``; a slice moving from one Service
    to another re-syncs both.  The controller has ``tracker`` and ``queue``."""

    manager = ""

    def _ours(self, endpoint_slice: dict) -> bool:
        return managed_by(endpoint_slice) == self.manager

    def slice_sync_delay(self) -> float:
        return 0.0

    def _slice_added(self, endpoint_slice: dict) -> None:
        if self._ours(endpoint_slice) and self.tracker.should_sync(endpoint_slice):
            self._enqueue_for_slice(endpoint_slice)

    def _slice_updated(self, old: dict, new: dict) -> None:
        if (old["metadata"].get("labels") or {}).get(LABEL_SERVICE_NAME) != \
                (new["metadata"].get("labels") or {}).get(LABEL_SERVICE_NAME):
            self._enqueue_for_slice(new)
            self._enqueue_for_slice(old)
            return
        if self._ours(old) != self._ours(new) or (self._ours(new) and self.tracker.should_sync(new)):
            self._enqueue_for_slice(new)

    def _slice_deleted(self, endpoint_slice: dict) -> None:
        if self._ours(endpoint_slice) and self.tracker.has(endpoint_slice):
            if not self.tracker.handle_deletion(endpoint_slice):
                self._enqueue_for_slice(endpoint_slice)

    def _enqueue_for_slice(self, endpoint_slice: dict) -> None:
        service = (endpoint_slice["metadata"].get("labels") or {}).get(LABEL_SERVICE_NAME)
        if service:
            self.queue.add_after(f"{endpoint_slice['metadata']['namespace']}/{service}", self.slice_sync_delay())


class ServicePodHandlers:
    """The pod handlers the endpoints and endpointslice controllers share: a pod added, changed or deleted
    re-syncs the Services that select it (before and after the change), after ``batch_period``.  The
    controller has ``services`` (their informer), ``queue`` and ``batch_period``."""

    def _pod_added(self, pod: dict) -> None:
        for key in service_keys_for(self.services.indexer, pod["metadata"]["namespace"],
                                    pod["metadata"].get("labels")):
            self.queue.add_after(key, self.batch_period)

    def _pod_updated(self, old: dict, new: dict) -> None:
        for key in services_to_update_on_pod_change(self.services.indexer, old, new):
            self.queue.add_after(key, self.batch_period)

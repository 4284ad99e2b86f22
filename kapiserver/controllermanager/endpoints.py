"""endpoints-controller: the Endpoints of every Service with a selector, as upstream's pkg/controller/endpoint.

For each Service (not ExternalName) whose selector is set, the pods it selects that have an IP and are not
finished make its Endpoints: ready pods (or every pod, with publishNotReadyAddresses) under ``addresses``, the
rest under ``notReadyAddresses``, terminating pods left out (kept, with publishNotReadyAddresses); each port
is the Service port's targetPort resolved on the pod (a number, or a named container port with the same
protocol); the subsets are repacked to the canonical layout (``repack_subsets``).  The Endpoints carry the
Service's labels, ``service.kubernetes.io/headless`` for a headless Service, the annotation
``endpoints.kubernetes.io/last-change-trigger-time``, and, above 1000 addresses,
``endpoints.kubernetes.io/over-capacity: truncated`` with the addresses truncated as upstream does.  Nothing
is written when nothing changed; the Endpoints of a deleted Service are deleted (and, once at start, those
left without a Service, but for leader-election records).  Services without a selector are left to whoever
writes their Endpoints (the apiserver for ``kubernetes``, users, the mirroring controller's sources)."""

from __future__ import annotations

import copy
import math
from typing import Dict, List, Optional, Tuple

from ..client.cache import meta_namespace_key, split_key
from ..client.resources import ENDPOINTS, PODS, SERVICES
from ..client.rest import APIError
from .context import ControllerContext, QueueController
from ..client.rest import namespace_terminating
from .endpointsliceutil import (IS_HEADLESS_SERVICE, LAST_CHANGE_TRIGGER_TIME, LEADER_ELECTION_ANNOTATION,
                                OVER_CAPACITY, ServicePodHandlers, TriggerTimeTracker, find_port,
                                format_trigger_time, is_ipv6, is_pod_ready, is_service_ip_set, pod_ips,
                                selected_pods, selector, should_pod_be_in_endpoints, should_set_hostname, target_ref,
                                without_resource_version)

MAX_CAPACITY = 1000
TRUNCATED = "truncated"
COMPONENT = "endpoint-controller"


# -- the canonical layout of subsets (upstream's RepackSubsets) -----------------------------------------

def _address_key(address: dict) -> Tuple[str, str]:
    return address.get("ip", ""), ((address.get("targetRef") or {}).get("uid") or "")


def _address_order(address: dict):
    # Upstream compares the IPs' bytes, then the targetRefs' UIDs (an address without one first).
    ref = address.get("targetRef")
    return address.get("ip", "").encode(), ref is not None, (ref or {}).get("uid", "")


NO_PORT = {"port": -1, "protocol": ""}


def _port_key(port: dict) -> Tuple:
    return port.get("name", ""), port.get("port", 0), port.get("protocol", "TCP"), port.get("appProtocol") or ""


def repack_subsets(subsets: List[dict]) -> List[dict]:
    """The same endpoints in the canonical layout: one subset per set of addresses (with their readiness)
    offering the same ports, an address not ready on a port if any subset says so; addresses sorted by IP then
    UID.  Upstream orders ports and subsets by an md5 of their Go dump; here by port name, number, protocol,
    and subsets by their first address and ports, which is as stable, if not the same order."""
    addresses: Dict[Tuple[str, str], dict] = {}
    ready_by_port: Dict[Tuple, Dict[Tuple[str, str], bool]] = {}
    ports: Dict[Tuple, dict] = {}
    for subset in subsets:
        for port in subset.get("ports") or [NO_PORT]:     # addresses without ports are kept, portless
            pkey = _port_key(port)
            ports.setdefault(pkey, port)
            for address, ready in [(a, True) for a in subset.get("addresses") or []] + \
                                  [(a, False) for a in subset.get("notReadyAddresses") or []]:
                akey = _address_key(address)
                addresses.setdefault(akey, address)
                seen = ready_by_port.setdefault(pkey, {})
                if seen.get(akey, True):      # not ready wins over ready
                    seen[akey] = ready
    grouped: Dict[frozenset, List[Tuple]] = {}
    for pkey, readiness in ready_by_port.items():
        grouped.setdefault(frozenset(readiness.items()), []).append(pkey)
    final = []
    for readiness, pkeys in grouped.items():
        subset: dict = {}
        ready = sorted((addresses[k] for k, r in readiness if r), key=_address_order)
        not_ready = sorted((addresses[k] for k, r in readiness if not r), key=_address_order)
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if pkeys != [_port_key(NO_PORT)]:
            subset["ports"] = [ports[k] for k in sorted(pkeys)]
        final.append(subset)
    return sorted(final, key=_subset_order)


def _subset_order(subset: dict):
    first = (subset.get("addresses") or subset.get("notReadyAddresses") or [{}])[0]
    return _address_order(first), [_port_key(p) for p in subset.get("ports") or []]


def truncate(subsets: List[dict]) -> bool:
    """Keep at most MAX_CAPACITY addresses, spread over the subsets in proportion, ready ones first (upstream's
    truncateEndpoints); whether anything was cut."""
    total_ready = sum(len(s.get("addresses") or []) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
    if total_ready + total_not_ready <= MAX_CAPACITY:
        return False
    truncate_ready = total_ready > MAX_CAPACITY
    most, total = (MAX_CAPACITY, total_ready) if truncate_ready else (MAX_CAPACITY - total_ready, total_not_ready)
    room = most
    for subset in subsets:
        field = "addresses" if truncate_ready else "notReadyAddresses"
        count = len(subset.get(field) or [])
        share = min(int(math.ceil(count / total * most)) if total else 0, room)
        if truncate_ready:
            subset["addresses"] = (subset.get("addresses") or [])[:share]
            subset.pop("notReadyAddresses", None)
            room -= len(subset["addresses"])
        else:
            subset["notReadyAddresses"] = (subset.get("notReadyAddresses") or [])[:share]
            room -= len(subset["notReadyAddresses"])
        for key in ("addresses", "notReadyAddresses"):
            if key in subset and not subset[key]:
                del subset[key]
    return True


def capacity_annotation_correct(annotations: dict, subsets: List[dict]) -> bool:
    count = sum(len(s.get("addresses") or []) + len(s.get("notReadyAddresses") or []) for s in subsets)
    return count <= MAX_CAPACITY and OVER_CAPACITY not in annotations


def _comparable(subsets: Optional[List[dict]]) -> List[dict]:
    """Subsets with their targetRefs' resourceVersions dropped, for a comparison that ignores pod updates."""
    result = []
    for subset in subsets or []:
        copied = {}
        for field in ("addresses", "notReadyAddresses"):
            if subset.get(field):
                copied[field] = [{**a, "targetRef": without_resource_version(a.get("targetRef"))}
                                 if a.get("targetRef") else a for a in subset[field]]
        copied["ports"] = [{k: v for k, v in p.items() if v not in (None, "")} for p in subset.get("ports") or []]
        result.append(copied)
    return result


# -- one Service's desired endpoints --------------------------------------------------------------------

def endpoint_address(service: dict, pod: dict) -> Optional[dict]:
    """The pod's address for the Service: its IP of the Service's first IP family."""
    spec = service.get("spec") or {}
    families = spec.get("ipFamilies") or []
    if families:
        want_v6 = families[0] == "IPv6"
    elif is_service_ip_set(service):
        want_v6 = is_ipv6(spec.get("clusterIP", ""))
    else:
        want_v6 = is_ipv6((pod.get("status") or {}).get("podIP", ""))
    ip = next((ip for ip in pod_ips(pod) if is_ipv6(ip) == want_v6), None)
    if ip is None:
        return None
    address = {"ip": ip}
    if (pod.get("spec") or {}).get("nodeName"):
        address["nodeName"] = pod["spec"]["nodeName"]
    address["targetRef"] = target_ref(pod)
    return address


def endpoint_port(service_port: dict, number: int) -> dict:
    port = {"port": number, "protocol": service_port.get("protocol", "TCP")}
    if service_port.get("name"):
        port = {"name": service_port["name"], **port}
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def desired_subsets(service: dict, pods: List[dict]) -> List[dict]:
    spec = service.get("spec") or {}
    tolerate_unready = bool(spec.get("publishNotReadyAddresses"))
    subsets: List[dict] = []
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, tolerate_unready):
            continue
        address = endpoint_address(service, pod)
        if address is None:
            continue
        if should_set_hostname(pod, service):
            address["hostname"] = pod["spec"]["hostname"]
        field = "addresses" if tolerate_unready or is_pod_ready(pod) else "notReadyAddresses"
        service_ports = spec.get("ports") or []
        if not service_ports:
            if spec.get("clusterIP") == "None":
                subsets.append({field: [address]})
            continue
        for service_port in service_ports:
            number = find_port(pod, service_port)
            if number is None:
                continue
            subsets.append({field: [copy.deepcopy(address)], "ports": [endpoint_port(service_port, number)]})
    return repack_subsets(subsets)


class EndpointsController(ServicePodHandlers, QueueController):
    name = "endpoints-controller"
    workers_option = "concurrent-endpoint-syncs"
    default_workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.batch_period = float(ctx.option("endpoint-updates-batch-period", 0) or 0)
        self.recorder = ctx.recorder(COMPONENT)
        self.triggers = TriggerTimeTracker()
        self.stale: Dict[str, str] = {}           # Endpoints key -> the resourceVersion our update replaced
        self.services = self.informer(SERVICES)
        self.pods = self.informer(PODS)
        self.endpoints = self.informer(ENDPOINTS)
        self.services.add_event_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                        on_delete=self.enqueue)
        self.pods.add_event_handler(on_add=self._pod_added, on_update=self._pod_updated,
                                    on_delete=self._pod_added)
        self.endpoints.add_event_handler(on_delete=self.enqueue)


    async def run(self) -> None:
        await super().run()
        # Endpoints left behind by Services deleted while no controller ran (leader-election records aside).
        for endpoints in self.endpoints.indexer.list():
            if LEADER_ELECTION_ANNOTATION not in (endpoints["metadata"].get("annotations") or {}):
                self.enqueue(endpoints)

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        service = self.services.indexer.get(key)
        if service is None:
            try:
                await self.client.delete(ENDPOINTS, name, namespace)
            except APIError as e:
                if e.code != 404:
                    raise
            self.triggers.delete_service(namespace, name)
            self.stale.pop(key, None)
            return
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName" or selector(service) is None:
            return
        pods = selected_pods(self.pods.indexer, service)
        trigger_time = self.triggers.compute(namespace, service, pods)
        subsets = desired_subsets(service, pods)
        current = self.endpoints.indexer.get(key)
        if current is not None and self.stale.get(key) == current["metadata"].get("resourceVersion"):
            raise RuntimeError(f"endpoints informer cache is out of date, resource version "
                               f"{current['metadata'].get('resourceVersion')} already processed for endpoints {key}")
        service_labels = service["metadata"].get("labels") or {}
        if current is not None:
            labels = {k: v for k, v in (current["metadata"].get("labels") or {}).items() if k != IS_HEADLESS_SERVICE}
            annotations = current["metadata"].get("annotations") or {}
            if _comparable(current.get("subsets")) == _comparable(subsets) and labels == service_labels and \
                    capacity_annotation_correct(annotations, current.get("subsets") or []):
                return
        await self._write(service, current, subsets, trigger_time)

    async def _write(self, service: dict, current: Optional[dict], subsets: List[dict],
                     trigger_time: Optional[float]) -> None:
        meta = service["metadata"]
        if current is None:
            endpoints = {"apiVersion": "v1", "kind": "Endpoints",
                         "metadata": {"name": meta["name"], "namespace": meta["namespace"]}}
        else:
            endpoints = copy.deepcopy(current)
        endpoints["subsets"] = subsets
        labels = dict(meta.get("labels") or {})
        annotations = dict(endpoints["metadata"].get("annotations") or {})
        if trigger_time is not None:
            annotations[LAST_CHANGE_TRIGGER_TIME] = format_trigger_time(trigger_time)
        else:
            annotations.pop(LAST_CHANGE_TRIGGER_TIME, None)
        if truncate(subsets):
            annotations[OVER_CAPACITY] = TRUNCATED
        else:
            annotations.pop(OVER_CAPACITY, None)
        if is_service_ip_set(service):
            labels.pop(IS_HEADLESS_SERVICE, None)
        else:
            labels[IS_HEADLESS_SERVICE] = ""
        endpoints["metadata"]["labels"] = labels
        endpoints["metadata"]["annotations"] = annotations
        try:
            if current is None:
                await self.client.create(ENDPOINTS, endpoints)
            else:
                updated = await self.client.update(ENDPOINTS, endpoints)
                if updated["metadata"].get("resourceVersion") != current["metadata"].get("resourceVersion"):
                    self.stale[meta_namespace_key(endpoints)] = current["metadata"].get("resourceVersion")
        except APIError as e:
            if current is None and e.code == 403 and namespace_terminating(e):
                return
            if current is None:
                self.recorder.eventf(endpoints, "Warning", "FailedToCreateEndpoint",
                                     "Failed to create endpoint for service %s/%s: %s", meta["namespace"],
                                     meta["name"], e.message)
            else:
                self.recorder.eventf(endpoints, "Warning", "FailedToUpdateEndpoint",
                                     "Failed to update endpoint %s/%s: %s", meta["namespace"], meta["name"],
                                     e.message)
            raise


def start_endpoints_controller(ctx: ControllerContext) -> EndpointsController:
    return EndpointsController(ctx)

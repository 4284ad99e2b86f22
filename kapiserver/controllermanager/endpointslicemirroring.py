"""endpointslice-mirroring-controller: EndpointSlices mirroring the Endpoints of Services without a selector
(Endpoints written by hand or by another controller), as upstream's pkg/controller/endpointslicemirroring.

An Endpoints object is mirrored while its Service exists without a selector, unless it is labelled
``endpointslice.kubernetes.io/skip-mirror: "true"`` (the apiserver's ``kubernetes`` Endpoints are) or holds a
leader-election record; otherwise its mirrored slices are deleted.  The subsets are first repacked to the
canonical layout (an address in several subsets offers all their ports); each then becomes, per address type, one
slice (subsets with the same ports share one) of at most ``--mirroring-max-endpoints-per-subset`` (1000)
addresses, ready ones with condition ready=true and not-ready ones ready=false; the slice is owned by the
Endpoints, carries its labels and annotations (but the trigger time and kubectl's last-applied configuration),
``kubernetes.io/service-name`` and ``endpointslice.kubernetes.io/managed-by:
endpointslicemirroring-controller.k8s.io``.  Invalid IPs and addresses over the maximum are skipped with the
Warning events InvalidIPAddress and TooManyAddressesToMirror on the Endpoints."""

from __future__ import annotations

import copy
from typing import Dict, List, Optional, Tuple

from ..client.cache import split_key
from ..client.resources import ENDPOINT_SLICES, ENDPOINTS, SERVICES
from ..client.rest import APIError
from ..client.workqueue import BucketRateLimiter, ItemExponentialFailureRateLimiter, MaxOfRateLimiter
from .context import ControllerContext, QueueController
from .endpoints import repack_subsets
from .endpointslicereconciler import Plan, endpoint_key, endpoints_equal_beyond_hash, port_key
from ..client.rest import namespace_terminating
from .endpointsliceutil import (LABEL_MANAGED_BY, LABEL_SERVICE_NAME, LABEL_SKIP_MIRROR, LAST_APPLIED_CONFIG,
                                LAST_CHANGE_TRIGGER_TIME, LEADER_ELECTION_ANNOTATION, EndpointSliceTracker,
                                StaleInformerCache, parse_ip_sloppy, selector, TrackedSliceHandlers, slices_for_service)

CONTROLLER_NAME = "endpointslicemirroring-controller.k8s.io"
COMPONENT = "endpoint-slice-mirroring-controller"
MAX_ENDPOINTS_PER_SUBSET = 1000
UNMIRRORED_ANNOTATIONS = (LAST_CHANGE_TRIGGER_TIME, LAST_APPLIED_CONFIG)


def should_mirror(endpoints: Optional[dict]) -> bool:
    if endpoints is None:
        return False
    meta = endpoints["metadata"]
    return (meta.get("labels") or {}).get(LABEL_SKIP_MIRROR) != "true" and \
        LEADER_ELECTION_ANNOTATION not in (meta.get("annotations") or {})


def address_to_endpoint(address: dict, ready: bool) -> Optional[Tuple[dict, str]]:
    """The slice endpoint for an Endpoints address and its address type; None for an invalid IP."""
    ip = parse_ip_sloppy(address.get("ip", ""))
    if ip is None:
        return None
    endpoint = {"addresses": [str(ip)], "conditions": {"ready": ready}}
    if address.get("targetRef"):
        endpoint["targetRef"] = address["targetRef"]
    if address.get("nodeName"):
        endpoint["nodeName"] = address["nodeName"]
    if address.get("hostname"):
        endpoint["hostname"] = address["hostname"]
    return endpoint, "IPv6" if ip.version == 6 else "IPv4"


def slice_ports(ports: List[dict]) -> List[dict]:
    result = []
    for port in ports or []:
        entry = {"name": port.get("name", ""), "port": port.get("port"), "protocol": port.get("protocol", "TCP")}
        if port.get("appProtocol"):
            entry["appProtocol"] = port["appProtocol"]
        result.append(entry)
    return result


def mirrored_annotations(endpoints: dict) -> Dict[str, str]:
    return {k: v for k, v in (endpoints["metadata"].get("annotations") or {}).items()
            if k not in UNMIRRORED_ANNOTATIONS}


def new_mirrored_slice(endpoints: dict, ports: List[dict], address_type: str, name: str = "") -> dict:
    meta = endpoints["metadata"]
    labels = dict(meta.get("labels") or {})
    labels[LABEL_SERVICE_NAME] = meta["name"]
    labels[LABEL_MANAGED_BY] = CONTROLLER_NAME
    metadata = {"namespace": meta["namespace"], "labels": labels, "annotations": mirrored_annotations(endpoints),
                "ownerReferences": [{"apiVersion": "v1", "kind": "Endpoints", "name": meta["name"],
                                     "uid": meta.get("uid", ""), "controller": True, "blockOwnerDeletion": True}]}
    if name:
        metadata["name"] = name
    else:
        metadata["generateName"] = f"{meta['name']}-"
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": metadata,
            "addressType": address_type, "endpoints": [], "ports": copy.deepcopy(ports)}


class MirroringReconciler:
    def __init__(self, client, recorder, tracker: EndpointSliceTracker, max_per_subset: int):
        self.client = client
        self.recorder = recorder
        self.tracker = tracker
        self.max_per_subset = max_per_subset

    def plan(self, endpoints: dict, existing: List[dict]) -> Plan:
        desired: Dict[Tuple, Dict[Tuple, dict]] = {}
        ports_by_key: Dict[Tuple, List[dict]] = {}
        invalid = skipped = 0
        # The subsets in their canonical layout first: an address listed in several subsets becomes one endpoint
        # of one slice offering all its ports, not ready if any subset says so.
        for subset in repack_subsets(endpoints.get("subsets") or []):
            ports = slice_ports(subset.get("ports"))
            keys = {t: (t, port_key(ports)) for t in ("IPv4", "IPv6")}
            for key in keys.values():
                desired.setdefault(key, {})
                ports_by_key[key] = ports
            total = len(subset.get("addresses") or []) + len(subset.get("notReadyAddresses") or [])
            added = 0
            for address, ready in [(a, True) for a in subset.get("addresses") or []] + \
                                  [(a, False) for a in subset.get("notReadyAddresses") or []]:
                if added >= self.max_per_subset:
                    break
                converted = address_to_endpoint(address, ready)
                if converted is None:
                    invalid += 1
                    continue
                endpoint, address_type = converted
                desired[keys[address_type]][endpoint_key(endpoint)] = endpoint
                added += 1
            skipped += total - added
        if invalid:
            self.recorder.eventf(endpoints, "Warning", "InvalidIPAddress",
                                 "Skipped %d invalid IP addresses when mirroring to EndpointSlices", invalid)
        if skipped > invalid:
            self.recorder.eventf(endpoints, "Warning", "TooManyAddressesToMirror",
                                 "A max of %d addresses can be mirrored to EndpointSlices per Endpoints subset. "
                                 "%d addresses were skipped", self.max_per_subset, skipped)
        existing_by_key: Dict[Tuple, List[dict]] = {}
        for endpoint_slice in existing:
            key = (endpoint_slice.get("addressType"), port_key(endpoint_slice.get("ports")))
            existing_by_key.setdefault(key, []).append(endpoint_slice)
        plan = Plan()
        for key, wanted in desired.items():
            self._plan_key(endpoints, existing_by_key.get(key, []), wanted, ports_by_key[key], key[0], plan)
        for key, slices in existing_by_key.items():
            if key not in desired:
                plan.delete += slices
        return plan

    def _plan_key(self, endpoints, existing: List[dict], wanted: Dict[Tuple, dict], ports, address_type,
                  plan: Plan) -> None:
        if not wanted:
            plan.delete += existing
            return
        name = ""
        if existing:
            plan.delete += existing[1:]
            first = existing[0]
            name = first["metadata"]["name"]
            labels = {k: v for k, v in (first["metadata"].get("labels") or {}).items()
                      if k not in (LABEL_MANAGED_BY, LABEL_SERVICE_NAME)}
            if _same_endpoints(first, wanted) and labels == (endpoints["metadata"].get("labels") or {}) and \
                    mirrored_annotations(endpoints) == (first["metadata"].get("annotations") or {}):
                return
        endpoint_slice = new_mirrored_slice(endpoints, ports, address_type, name)
        endpoint_slice["endpoints"] = list(wanted.values())[:self.max_per_subset]
        if existing:
            endpoint_slice["metadata"]["resourceVersion"] = existing[0]["metadata"].get("resourceVersion")
            plan.update.append(endpoint_slice)
        else:
            plan.create.append(endpoint_slice)

    async def finalize(self, endpoints: dict, plan: Plan) -> None:
        # Creates become updates of slices that would be deleted, per address type.
        for candidate in list(plan.create):
            doomed = next((d for d in plan.delete if d.get("addressType") == candidate["addressType"]), None)
            if doomed is None:
                continue
            plan.create.remove(candidate)
            plan.delete.remove(doomed)
            candidate["metadata"]["name"] = doomed["metadata"]["name"]
            candidate["metadata"]["resourceVersion"] = doomed["metadata"].get("resourceVersion")
            plan.update.append(candidate)
        namespace = endpoints["metadata"]["namespace"]
        if not endpoints["metadata"].get("deletionTimestamp"):
            for endpoint_slice in plan.create:
                try:
                    self.tracker.update(await self.client.create(ENDPOINT_SLICES, endpoint_slice,
                                                                 namespace=namespace))
                except APIError as e:
                    if namespace_terminating(e):
                        return
                    raise
        for endpoint_slice in plan.update:
            self.tracker.update(await self.client.update(ENDPOINT_SLICES, endpoint_slice))
        for endpoint_slice in plan.delete:
            await self.client.delete(ENDPOINT_SLICES, endpoint_slice["metadata"]["name"], namespace)
            self.tracker.expect_deletion(endpoint_slice)

    async def delete_all(self, namespace: str, slices: List[dict]) -> None:
        for endpoint_slice in slices:
            try:
                await self.client.delete(ENDPOINT_SLICES, endpoint_slice["metadata"]["name"], namespace)
            except APIError as e:
                if e.code != 404:
                    raise


def _same_endpoints(existing: dict, wanted: Dict[Tuple, dict]) -> bool:
    current = existing.get("endpoints") or []
    if len(current) != len(wanted):
        return False
    for endpoint in current:
        got = wanted.get(endpoint_key(endpoint))
        if got is None or not endpoints_equal_beyond_hash(got, endpoint):
            return False
    return True


class EndpointSliceMirroringController(TrackedSliceHandlers, QueueController):
    manager = CONTROLLER_NAME
    name = "endpointslice-mirroring-controller"
    workers_option = "mirroring-concurrent-service-endpoint-syncs"
    default_workers = 5

    def rate_limiter(self, clock):
        # Upstream backs off from 1 s (not client-go's 5 ms): a sync can rewrite many slices.
        return MaxOfRateLimiter(ItemExponentialFailureRateLimiter(1.0, 100.0), BucketRateLimiter(clock, 10.0, 100))

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.batch_period = float(ctx.option("mirroring-endpointslice-updates-batch-period", 0) or 0)
        self.tracker = EndpointSliceTracker()
        self.reconciler = MirroringReconciler(
            self.client, ctx.recorder(COMPONENT), self.tracker,
            int(ctx.option("mirroring-max-endpoints-per-subset", MAX_ENDPOINTS_PER_SUBSET)))
        self.endpoints = self.informer(ENDPOINTS)
        self.slices = self.informer(ENDPOINT_SLICES)
        self.services = self.informer(SERVICES)
        self.endpoints.add_event_handler(
            on_add=lambda e: should_mirror(e) and self.enqueue(e),
            on_update=lambda old, new: (should_mirror(old) or should_mirror(new)) and self.enqueue(new),
            on_delete=lambda e: should_mirror(e) and self.enqueue(e))
        self.services.add_event_handler(
            on_add=lambda s: selector(s) is None and self.enqueue(s),
            on_update=lambda old, new: (selector(old) is None) != (selector(new) is None) and self.enqueue(new),
            on_delete=lambda s: selector(s) is None and self.enqueue(s))
        self.slices.add_event_handler(on_add=self._slice_added, on_update=self._slice_updated,
                                      on_delete=self._slice_deleted)

    def slice_sync_delay(self) -> float:
        return self.batch_period

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        endpoints = self.endpoints.indexer.get(key)
        service = self.services.indexer.get(key)
        if endpoints is None or not should_mirror(endpoints) or service is None or selector(service) is not None:
            # Nothing (any longer) to mirror: the slices mirrored before go.
            self.tracker.delete_service(namespace, name)
            await self.reconciler.delete_all(namespace, slices_for_service(self.slices.indexer, namespace, name,
                                                                           CONTROLLER_NAME))
            return
        slices = slices_for_service(self.slices.indexer, namespace, name, CONTROLLER_NAME)
        if self.tracker.stale_slices(service, slices):
            raise StaleInformerCache("EndpointSlice informer cache is out of date")
        await self.reconciler.finalize(endpoints, self.reconciler.plan(endpoints, slices))


def start_endpointslice_mirroring_controller(ctx: ControllerContext) -> EndpointSliceMirroringController:
    return EndpointSliceMirroringController(ctx)

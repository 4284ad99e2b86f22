"""The EndpointSlice reconciler (upstream's k8s.io/endpointslice Reconciler): from the pods a Service selects and
the slices it has, which slices to create, update and delete.

Per address type the Service serves (its ipFamilies), endpoints are grouped by the set of ports they resolve to
(named targetPorts can differ from pod to pod), and each group is packed as upstream packs it:

1. every existing slice keeps the endpoints still desired (updated where their conditions, node, zone or
   targetRef changed) and drops the rest; a slice left empty is deleted; one whose Service labels changed is
   updated;
2. remaining endpoints fill the slices already being updated, fullest first, up to --max-endpoints-per-slice;
3. what remains goes into the one unchanged slice it fills closest to full (if fewer than the maximum remain),
   else into new slices;

creates are turned into updates of slices that would be deleted; a Service with no endpoints keeps one empty
placeholder slice.  Endpoints are added in pod-name order (upstream pops them from a Go map, in no order).

Hints follow the Service's ``spec.trafficDistribution`` (upstream's trafficdist, the ServiceTrafficDistribution
gate on as in 1.32): with PreferClose every ready endpoint of a slice written gets a hint for its own zone (none
without a zone), and an unchanged slice whose ready endpoints' hints are missing or wrong is rewritten; without it
hints are dropped from the slices written and from any unchanged slice carrying some.  A Service asking for
topology-aware hints by annotation (``service.kubernetes.io/topology-mode: Auto``) is left alone: the topology
cache that would compute them is not implemented."""

from __future__ import annotations

import copy
from typing import Dict, List, Optional, Tuple

from ..client.resources import ENDPOINT_SLICES
from ..client.rest import APIError
from ..client.rest import namespace_terminating
from ..machinery import errors
from .endpointsliceutil import (IS_HEADLESS_SERVICE, LABEL_MANAGED_BY, LABEL_SERVICE_NAME, LABEL_TOPOLOGY_ZONE,
                                LAST_CHANGE_TRIGGER_TIME, EndpointSliceTracker, find_port, format_trigger_time,
                                is_ipv6, is_pod_ready, is_service_ip_set, parse_ip_sloppy, pod_ips,
                                should_pod_be_in_endpoints, should_set_hostname, target_ref, without_resource_version)

RESERVED_LABELS = (LABEL_SERVICE_NAME, LABEL_MANAGED_BY, IS_HEADLESS_SERVICE)
TOPOLOGY_MODE = "service.kubernetes.io/topology-mode"
TOPOLOGY_AWARE_HINTS = "service.kubernetes.io/topology-aware-hints"      # the deprecated spelling, preferred
PREFER_CLOSE = "PreferClose"


# -- endpoints and ports ---------------------------------------------------------------------------------

def port_key(ports: List[dict]) -> Tuple:
    """Upstream's PortMapKey: the set of ports, whatever their order."""
    return tuple(sorted((p.get("name") or "", p.get("port") or 0, p.get("protocol") or "TCP",
                         p.get("appProtocol") or "") for p in ports or []))


def endpoint_key(endpoint: dict) -> Tuple:
    """Upstream's endpoint hash: addresses, hostname, and the target's namespace and name."""
    ref = endpoint.get("targetRef") or {}
    return (tuple(sorted(endpoint.get("addresses") or [])), endpoint.get("hostname") or "",
            ref.get("namespace", ""), ref.get("name", ""))


def endpoints_equal_beyond_hash(a: dict, b: dict) -> bool:
    if (a.get("nodeName") or None) != (b.get("nodeName") or None) or (a.get("zone") or None) != (b.get("zone") or None):
        return False
    ca, cb = a.get("conditions") or {}, b.get("conditions") or {}
    if any(ca.get(c) != cb.get(c) for c in ("ready", "serving", "terminating")):
        return False
    return without_resource_version(a.get("targetRef")) == without_resource_version(b.get("targetRef"))


def endpoint_ports(service: dict, pod: dict) -> List[dict]:
    spec = service.get("spec") or {}
    ports = []
    for service_port in spec.get("ports") or []:
        number = find_port(pod, service_port)
        if number is None:
            continue
        port = {"name": service_port.get("name", ""), "port": number, "protocol": service_port.get("protocol", "TCP")}
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def _canonical(ip: str) -> str:
    """A pod IP written as upstream writes it into a slice (parsed sloppily, printed back)."""
    parsed = parse_ip_sloppy(ip)
    return ip if parsed is None else str(parsed)


def pod_to_endpoint(pod: dict, node: Optional[dict], service: dict, address_type: str) -> dict:
    serving = is_pod_ready(pod)
    terminating = bool(pod["metadata"].get("deletionTimestamp"))
    ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    endpoint = {"addresses": [_canonical(ip) for ip in pod_ips(pod) if is_ipv6(ip) == (address_type == "IPv6")],
                "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
                "targetRef": target_ref(pod)}
    if (pod.get("spec") or {}).get("nodeName"):
        endpoint["nodeName"] = pod["spec"]["nodeName"]
    zone = ((node or {}).get("metadata", {}).get("labels") or {}).get(LABEL_TOPOLOGY_ZONE)
    if zone:
        endpoint["zone"] = zone
    if should_set_hostname(pod, service):
        endpoint["hostname"] = pod["spec"]["hostname"]
    return endpoint


def address_types(service: dict) -> List[str]:
    spec = service.get("spec") or {}
    families = [f for f in spec.get("ipFamilies") or [] if f in ("IPv4", "IPv6")]
    if families:
        return families
    if is_service_ip_set(service):
        return ["IPv6" if is_ipv6(spec["clusterIP"]) else "IPv4"]
    return ["IPv4", "IPv6"]


# -- slices ----------------------------------------------------------------------------------------------

def slice_labels(existing: dict, service: dict, controller: str) -> Tuple[Dict[str, str], bool]:
    """The labels a slice should have (the Service's, and the reserved ones), and whether the Service's part
    differs from the slice's."""
    current = {k: v for k, v in (existing["metadata"].get("labels") or {}).items() if k not in RESERVED_LABELS}
    wanted = {k: v for k, v in (service["metadata"].get("labels") or {}).items() if k not in RESERVED_LABELS}
    changed = current != wanted
    if not is_service_ip_set(service):
        wanted[IS_HEADLESS_SERVICE] = ""
    wanted[LABEL_SERVICE_NAME] = service["metadata"]["name"]
    wanted[LABEL_MANAGED_BY] = controller
    return wanted, changed


def owner_reference(service: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "name": service["metadata"]["name"],
            "uid": service["metadata"].get("uid", ""), "controller": True, "blockOwnerDeletion": True}


def new_slice(service: dict, ports: List[dict], address_type: str, controller: str) -> dict:
    meta = service["metadata"]
    endpoint_slice = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                      "metadata": {"generateName": f"{meta['name']}-", "namespace": meta["namespace"],
                                   "labels": {}, "ownerReferences": [owner_reference(service)]},
                      "addressType": address_type, "endpoints": [], "ports": copy.deepcopy(ports)}
    endpoint_slice["metadata"]["labels"], _ = slice_labels(endpoint_slice, service, controller)
    return endpoint_slice


def owned_by(endpoint_slice: dict, service: dict) -> bool:
    return any(o.get("uid") == service["metadata"].get("uid") and o.get("kind") == "Service" and
               o.get("apiVersion") == "v1" for o in endpoint_slice["metadata"].get("ownerReferences") or [])


def _is_placeholder_of(existing: dict, placeholder: dict) -> bool:
    a, b = existing["metadata"], placeholder["metadata"]
    return (a.get("namespace") == b.get("namespace") and (a.get("labels") or {}) == b["labels"] and
            [(o.get("uid"), o.get("kind"), o.get("name")) for o in a.get("ownerReferences") or []] ==
            [(o["uid"], o["kind"], o["name"]) for o in b["ownerReferences"]] and
            not existing.get("endpoints") and not existing.get("ports") and
            existing.get("addressType") == placeholder["addressType"])


# -- hints (upstream's trafficdist) -------------------------------------------------------------------------

def hints_by_annotation(service: dict) -> bool:
    """Whether the Service asks for topology-aware hints by annotation (upstream's hintsEnabled)."""
    annotations = service["metadata"].get("annotations") or {}
    value = annotations.get(TOPOLOGY_AWARE_HINTS, annotations.get(TOPOLOGY_MODE))
    return value in ("Auto", "auto")


def _ready(endpoint: dict) -> bool:
    return (endpoint.get("conditions") or {}).get("ready") is True


def _zone_hint_wrong(endpoint: dict) -> bool:
    zones = (endpoint.get("hints") or {}).get("forZones") or []
    if endpoint.get("zone"):
        return [z.get("name") for z in zones] != [endpoint["zone"]]
    return bool(zones)


def reconcile_hints(service: dict, creates: List[dict], updates: List[dict], unchanged: List[dict]) -> List[dict]:
    """Set the hints of the slices to write as the Service's trafficDistribution asks (in place); the copies of
    the unchanged slices whose hints must change, to be updated too."""
    prefer_close = (service.get("spec") or {}).get("trafficDistribution") == PREFER_CLOSE
    if prefer_close:
        stale = [s for s in unchanged if any(_ready(e) and _zone_hint_wrong(e) for e in s.get("endpoints") or [])]
    else:
        # Hints != nil, as upstream asks: a null one is none (no rewrite on every sync).
        stale = [s for s in unchanged if any(e.get("hints") is not None for e in s.get("endpoints") or [])]
    moved = [copy.deepcopy(s) for s in stale]
    for endpoint_slice in creates + updates + moved:
        for endpoint in endpoint_slice.get("endpoints") or []:
            if not prefer_close:
                endpoint.pop("hints", None)
            elif _ready(endpoint):
                if endpoint.get("zone"):
                    endpoint["hints"] = {"forZones": [{"name": endpoint["zone"]}]}
                else:
                    endpoint.pop("hints", None)
    return moved


class Plan:
    """What one reconcile writes."""

    def __init__(self):
        self.create: List[dict] = []
        self.update: List[dict] = []
        self.delete: List[dict] = []


class Reconciler:
    def __init__(self, client, nodes_indexer, max_endpoints_per_slice: int, tracker: EndpointSliceTracker,
                 controller: str):
        self.client = client
        self.nodes = nodes_indexer
        self.max_per_slice = max_endpoints_per_slice
        self.tracker = tracker
        self.controller = controller

    def plan(self, service: dict, pods: List[dict], existing: List[dict]) -> Tuple[Plan, List[str]]:
        """The writes that bring ``existing`` to the desired slices, and the problems met (pods on unknown
        nodes) that should have the Service synced again."""
        plan, errors = Plan(), []
        supported = address_types(service)
        by_type: Dict[str, List[dict]] = {}
        for endpoint_slice in existing:
            if endpoint_slice.get("addressType") not in supported:
                plan.delete.append(endpoint_slice)
            else:
                by_type.setdefault(endpoint_slice["addressType"], []).append(endpoint_slice)
        for address_type in supported:
            self._plan_address_type(service, pods, by_type.get(address_type, []), address_type, plan, errors)
        return plan, errors

    def _plan_address_type(self, service, pods, existing, address_type, plan: Plan, errors: List[str]) -> None:
        deletes: List[dict] = []
        creates: List[dict] = []
        existing_by_ports: Dict[Tuple, List[dict]] = {}
        for endpoint_slice in existing:
            if owned_by(endpoint_slice, service):
                existing_by_ports.setdefault(port_key(endpoint_slice.get("ports")), []).append(endpoint_slice)
            else:
                deletes.append(endpoint_slice)
        desired: Dict[Tuple, Dict[Tuple, dict]] = {}
        desired_ports: Dict[Tuple, List[dict]] = {}
        publish_not_ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
        for pod in pods:
            if not should_pod_be_in_endpoints(pod, True):
                continue
            ports = endpoint_ports(service, pod)
            key = port_key(ports)
            desired.setdefault(key, {})
            desired_ports.setdefault(key, ports)
            node_name = (pod.get("spec") or {}).get("nodeName") or ""
            node = self.nodes.get(node_name) if node_name else None
            if node is None and not publish_not_ready:
                meta = service["metadata"]
                errors.append(f"skipping Pod {pod['metadata']['name']} for Service {meta['namespace']}/"
                              f"{meta['name']}: Node {node_name} Not Found")
                continue
            endpoint = pod_to_endpoint(pod, node, service, address_type)
            if endpoint["addresses"]:
                desired[key][endpoint_key(endpoint)] = endpoint
        updates: List[dict] = []
        for key, wanted in desired.items():
            c, u, d = self._plan_port_mapping(service, existing_by_ports.get(key, []), wanted, desired_ports[key],
                                              address_type)
            creates += c
            updates += u
            deletes += d
        for key, slices in existing_by_ports.items():
            if key not in desired:
                deletes += slices
        if len(existing) == len(deletes) and not creates:
            placeholder = new_slice(service, [], address_type, self.controller)
            if len(deletes) == 1 and _is_placeholder_of(deletes[0], placeholder):
                deletes = []
            else:
                creates.append(placeholder)
        if not hints_by_annotation(service):
            changed = {s["metadata"]["name"] for s in updates + deletes}
            unchanged = [s for s in existing if s["metadata"]["name"] not in changed]
            updates += reconcile_hints(service, creates, updates, unchanged)
        plan.create += creates
        plan.update += updates
        plan.delete += deletes

    def _plan_port_mapping(self, service, existing: List[dict], wanted: Dict[Tuple, dict], ports: List[dict],
                           address_type: str) -> Tuple[List[dict], List[dict], List[dict]]:
        by_name: Dict[str, dict] = {}
        unchanged: List[str] = []
        to_update: List[str] = []
        to_delete: List[str] = []
        wanted = dict(wanted)
        # 1. keep the endpoints still wanted in the slices that have them
        for endpoint_slice in existing:
            name = endpoint_slice["metadata"]["name"]
            by_name[name] = endpoint_slice
            kept, changed = [], False
            for endpoint in endpoint_slice.get("endpoints") or []:
                got = wanted.pop(endpoint_key(endpoint), None)
                if got is not None:
                    kept.append(got)
                    changed = changed or not endpoints_equal_beyond_hash(got, endpoint)
            labels, labels_changed = slice_labels(endpoint_slice, service, self.controller)
            if changed or len(kept) != len(endpoint_slice.get("endpoints") or []):
                if not kept:
                    to_delete.append(name)
                else:
                    by_name[name] = {**copy.deepcopy(endpoint_slice), "endpoints": kept}
                    by_name[name]["metadata"]["labels"] = labels
                    to_update.append(name)
            elif labels_changed:
                by_name[name] = copy.deepcopy(endpoint_slice)
                by_name[name]["metadata"]["labels"] = labels
                to_update.append(name)
            else:
                unchanged.append(name)
        remaining = list(wanted.values())
        # 2. fill the slices being updated, fullest first
        if remaining and to_update:
            for name in sorted(to_update, key=lambda n: -len(by_name[n]["endpoints"])):
                room = self.max_per_slice - len(by_name[name]["endpoints"])
                if room > 0:
                    by_name[name]["endpoints"] = by_name[name]["endpoints"] + remaining[:room]
                    remaining = remaining[room:]
        # 3. the rest: into the unchanged slice it fills closest to full, else into new slices
        creates: List[dict] = []
        while remaining:
            target = None
            if len(remaining) < self.max_per_slice and unchanged:
                target = self._slice_to_fill([by_name[n] for n in unchanged], len(remaining))
            if target is None:
                target = new_slice(service, ports, address_type, self.controller)
            else:
                target = copy.deepcopy(target)
                by_name[target["metadata"]["name"]] = target
            room = self.max_per_slice - len(target.get("endpoints") or [])
            target["endpoints"] = list(target.get("endpoints") or []) + remaining[:room]
            remaining = remaining[room:]
            name = target["metadata"].get("name")
            if name:
                to_update.append(name)
                unchanged.remove(name)
            else:
                creates.append(target)
        return creates, [by_name[n] for n in to_update], [by_name[n] for n in to_delete]

    def _slice_to_fill(self, slices: List[dict], count: int) -> Optional[dict]:
        closest, best = None, self.max_per_slice
        for endpoint_slice in slices:
            diff = self.max_per_slice - (count + len(endpoint_slice.get("endpoints") or []))
            if 0 <= diff < best:
                closest, best = endpoint_slice, diff
                if diff == 0:
                    break
        return closest

    async def finalize(self, service: dict, plan: Plan, trigger_time: Optional[float]) -> None:
        """Write the plan: creates recycled into updates of slices to delete, no creates for a Service being
        deleted, every written slice stamped with the last-change trigger time."""
        namespace = service["metadata"]["namespace"]
        i = 0
        while i < len(plan.delete) and plan.create:
            doomed = plan.delete[i]
            candidate = plan.create[-1]
            if doomed.get("addressType") == candidate["addressType"] and owned_by(doomed, service):
                candidate["metadata"]["name"] = doomed["metadata"]["name"]
                candidate["metadata"]["resourceVersion"] = doomed["metadata"].get("resourceVersion")
                plan.create.pop()
                plan.update.append(candidate)
                plan.delete.pop(i)
            else:
                i += 1
        of_service = f"for Service {namespace}/{service['metadata']['name']}"
        # As upstream's finalize: every write is tried, the failures reported together.
        failures: List[str] = []
        if not service["metadata"].get("deletionTimestamp"):
            for endpoint_slice in plan.create:
                _stamp(endpoint_slice, trigger_time)
                try:
                    created = await self.client.create(ENDPOINT_SLICES, endpoint_slice, namespace=namespace)
                except Exception as e:
                    if isinstance(e, APIError) and namespace_terminating(e):
                        return
                    failures.append(f"failed to create EndpointSlice {of_service}: {_text(e)}")
                    continue
                self.tracker.update(created)
        for endpoint_slice in plan.update:
            _stamp(endpoint_slice, trigger_time)
            try:
                self.tracker.update(await self.client.update(ENDPOINT_SLICES, endpoint_slice))
            except Exception as e:
                failures.append(f"failed to update {endpoint_slice['metadata']['name']} EndpointSlice "
                                f"{of_service}: {_text(e)}")
        for endpoint_slice in plan.delete:
            try:
                await self.client.delete(ENDPOINT_SLICES, endpoint_slice["metadata"]["name"], namespace)
            except Exception as e:
                if not isinstance(e, APIError) or e.code != 404:
                    failures.append(f"failed to delete {endpoint_slice['metadata']['name']} EndpointSlice "
                                    f"{of_service}: {_text(e)}")
                    continue
            self.tracker.expect_deletion(endpoint_slice)
        if failures:
            raise SliceWriteError(failures)


def _text(error: Exception) -> str:
    return getattr(error, "message", None) or str(error)


class SliceWriteError(Exception):
    """Writes of the plan failed; ``failures`` says which, each as upstream's reconciler words it, and the error's
    text is their aggregate."""

    def __init__(self, failures: List[str]):
        super().__init__(errors.aggregate(failures))
        self.failures = list(failures)


def _stamp(endpoint_slice: dict, trigger_time: Optional[float]) -> None:
    annotations = dict(endpoint_slice["metadata"].get("annotations") or {})
    if trigger_time is not None:
        annotations[LAST_CHANGE_TRIGGER_TIME] = format_trigger_time(trigger_time)
    else:
        annotations.pop(LAST_CHANGE_TRIGGER_TIME, None)
    endpoint_slice["metadata"]["annotations"] = annotations

"""node-lifecycle-controller: watches each node's heartbeats (its kube-node-lease Lease's renewTime, and changes of
its status) and, after --node-monitor-grace-period without one (--node-startup-grace-period for a node that never
posted Ready), sets Ready, MemoryPressure, DiskPressure and PIDPressure to Unknown; keeps the node's condition
taints in step (NoExecute not-ready/unreachable, NoSchedule for conditions and spec.unschedulable); marks the pods
of a node that is not Ready as not Ready; keeps the beta.kubernetes.io/os and arch labels equal to the stable
ones, as upstream's pkg/controller/nodelifecycle.

Rate-limited eviction zones, in a simple form: nodes are grouped by their topology.kubernetes.io/region and
zone labels (nodes labelled node.kubernetes.io/exclude-disruption left out); a zone's state is Normal,
PartialDisruption (more than 2 nodes and at least --unhealthy-zone-threshold
of them not Ready) or FullDisruption (none Ready). In Normal a zone gets a NoExecute taint at most once every
1/--node-eviction-rate seconds, in PartialDisruption once every 1/--secondary-node-eviction-rate seconds (never in
zones of at most --large-cluster-size-threshold nodes); when every zone is FullDisruption no NoExecute taint is
added and those present are removed (upstream's "master disruption mode")."""

from __future__ import annotations

import json
from typing import Dict, Optional

from ..client.indexes import POD_NODE_NAME, pod_node_name
from ..client.cache import split_key
from ..client.resources import LEASES, NODES, PODS
from ..client.rest import APIError
from ..machinery import meta
from .context import ControllerContext, QueueController
from .ownwrites import newest
from .taints import NO_EXECUTE, NO_SCHEDULE, same_taint

COMPONENT = "node-controller"
NODE_LEASE_NAMESPACE = "kube-node-lease"
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
CONDITION_TAINTS = {            # upstream's nodeConditionToTaintKeyStatusMap
    "Ready": {"False": NOT_READY, "Unknown": UNREACHABLE},
    "MemoryPressure": {"True": "node.kubernetes.io/memory-pressure"},
    "DiskPressure": {"True": "node.kubernetes.io/disk-pressure"},
    "NetworkUnavailable": {"True": "node.kubernetes.io/network-unavailable"},
    "PIDPressure": {"True": "node.kubernetes.io/pid-pressure"},
}
NO_SCHEDULE_KEYS = frozenset(k for m in CONDITION_TAINTS.values() for k in m.values()) | {UNSCHEDULABLE}
UNKNOWN_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
# A node with this label (any value) does not count in its zone's state (upstream's labelNodeDisruptionExclusion).
EXCLUDE_DISRUPTION_LABEL = "node.kubernetes.io/exclude-disruption"
# Upstream's labelReconcileInfo: the beta label follows the stable one, added when missing.
RECONCILED_LABELS = (("kubernetes.io/os", "beta.kubernetes.io/os"), ("kubernetes.io/arch", "beta.kubernetes.io/arch"))
NORMAL, PARTIAL_DISRUPTION, FULL_DISRUPTION = "Normal", "PartialDisruption", "FullDisruption"
# --node-monitor-grace-period: 50 s since 1.32 (40 s before; kubernetes/kubernetes#126287)
DEFAULT_GRACE_PERIOD = 50.0


def condition(node: Optional[dict], kind: str) -> Optional[dict]:
    for c in ((node or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return c
    return None


def ready_status(node: Optional[dict]) -> Optional[str]:
    c = condition(node, "Ready")
    return None if c is None else c.get("status")


def zone_of(node: dict) -> str:
    labels = node["metadata"].get("labels") or {}
    region, zone = labels.get(REGION_LABEL, ""), labels.get(ZONE_LABEL, "")
    return f"{region}:\x00:{zone}" if region or zone else ""


def zone_state(ready_states, threshold: float = 0.55) -> str:
    """Upstream's ComputeZoneState over the Ready statuses of a zone's nodes."""
    states = list(ready_states)
    not_ready = sum(1 for s in states if s != "True")
    ready = len(states) - not_ready
    if ready == 0 and not_ready > 0:
        return FULL_DISRUPTION
    if not_ready > 2 and not_ready / len(states) >= threshold:
        return PARTIAL_DISRUPTION
    return NORMAL


def unknown_conditions(node: dict, now: float) -> list:
    """The node's conditions after the grace period without a heartbeat: each of UNKNOWN_CONDITIONS Unknown."""
    stamp = meta.rfc3339(now)
    conditions = [dict(c) for c in (node.get("status") or {}).get("conditions") or []]
    for kind in UNKNOWN_CONDITIONS:
        current = next((c for c in conditions if c.get("type") == kind), None)
        if current is None:
            conditions.append({"type": kind, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                               "message": "Kubelet never posted node status.",
                               "lastHeartbeatTime": node["metadata"].get("creationTimestamp"),
                               "lastTransitionTime": stamp})
        elif current.get("status") != "Unknown":
            current.update(status="Unknown", reason="NodeStatusUnknown",
                           message="Kubelet stopped posting node status.", lastTransitionTime=stamp)
    return conditions


def labels_to_reconcile(node: dict) -> Dict[str, str]:
    """Upstream's reconcileNodeLabels: the beta os/arch labels set to the stable ones' values."""
    labels = node["metadata"].get("labels") or {}
    return {beta: labels[stable] for stable, beta in RECONCILED_LABELS
            if stable in labels and labels.get(beta) != labels[stable]}


def desired_no_schedule_taints(node: dict) -> list:
    taints = []
    for c in (node.get("status") or {}).get("conditions") or []:
        key = CONDITION_TAINTS.get(c.get("type"), {}).get(c.get("status"))
        if key:
            taints.append({"key": key, "effect": NO_SCHEDULE})
    if (node.get("spec") or {}).get("unschedulable"):
        taints.append({"key": UNSCHEDULABLE, "effect": NO_SCHEDULE})
    return taints


class NodeHealth:
    def __init__(self, status: str, probe: float, renew_time: Optional[str]):
        self.status = status           # the node's status as last observed (JSON), ours included
        self.probe = probe             # when a heartbeat was last seen, on our clock
        self.renew_time = renew_time   # the Lease's renewTime last seen


class NodeLifecycleController(QueueController):
    name = "node-lifecycle-controller"

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.recorder = ctx.recorder(COMPONENT)
        self.monitor_period = float(ctx.option("node-monitor-period", 5.0))
        self.grace_period = float(ctx.option("node-monitor-grace-period", DEFAULT_GRACE_PERIOD))
        self.startup_grace_period = float(ctx.option("node-startup-grace-period", 60.0))
        self.eviction_rate = float(ctx.option("node-eviction-rate", 0.1))
        self.secondary_eviction_rate = float(ctx.option("secondary-node-eviction-rate", 0.01))
        self.unhealthy_zone_threshold = float(ctx.option("unhealthy-zone-threshold", 0.55))
        self.large_cluster_size = int(ctx.option("large-cluster-size-threshold", 50))
        self.nodes = self.informer(NODES)
        self.leases = self.informer(LEASES, namespace=NODE_LEASE_NAMESPACE)
        self.pods = self.informer(PODS)
        self.pods.indexer.add_indexers({POD_NODE_NAME: pod_node_name})
        self.health: Dict[str, NodeHealth] = {}
        self.written: Dict[str, dict] = {}
        self.zone_next_taint: Dict[str, float] = {}
        self._monitor = None
        self.nodes.add_event_handler(on_add=self._node_changed, on_update=lambda old, new: self._node_changed(new),
                                     on_delete=self._node_changed)
        self.leases.add_event_handler(on_add=self._lease_changed, on_update=lambda old, new: self._lease_changed(new))
        self.pods.add_event_handler(on_add=self._pod_changed, on_update=self._pod_updated)

    def _node_changed(self, node: dict) -> None:
        self.queue.add("node:" + node["metadata"]["name"])

    def _lease_changed(self, lease: dict) -> None:
        self.queue.add("node:" + lease["metadata"]["name"])

    def _pod_updated(self, old: dict, new: dict) -> None:
        # Upstream's podUpdated: a pod is looked at when it is added or bound to (another) node, not on every
        # change: a pod the kubelet reports Ready on a node that is not Ready is not fought over.
        if pod_node_name(new) != pod_node_name(old):
            self._pod_changed(new)

    def _pod_changed(self, pod: dict) -> None:
        if pod_node_name(pod):
            self.queue.add("pod:" + pod["metadata"]["namespace"] + "/" + pod["metadata"]["name"])

    async def run(self) -> None:
        await super().run()
        self._monitor = self.clock.callLater(self.monitor_period, self._monitor_pass)

    def _monitor_pass(self) -> None:
        # Upstream's monitorNodeHealth every --node-monitor-period: each node looked at again.
        for key in self.nodes.indexer.keys():
            self.queue.add("node:" + key)
        for name in set(self.health) - set(self.nodes.indexer.keys()):
            self.queue.add("node:" + name)
        self._monitor = self.clock.callLater(self.monitor_period, self._monitor_pass)

    def stop(self) -> None:
        super().stop()
        if self._monitor is not None and self._monitor.active():
            self._monitor.cancel()

    def node(self, name: str) -> Optional[dict]:
        return newest(self.nodes.indexer.get(name), self.written.get(name))

    async def sync(self, key: str) -> None:
        kind, _, rest = key.partition(":")
        if kind == "pod":
            await self._sync_pod(rest)
        else:
            await self._sync_node(rest)

    async def _sync_node(self, name: str) -> None:
        node = self.node(name)
        if node is None:
            if self.health.pop(name, None) is not None:
                self.written.pop(name, None)
                self._node_event(name, "", "RemovingNode", f"Node {name} event: Removing Node {name} from Controller")
            return
        if name not in self.health:
            # upstream's RecordNodeEvent words it "Node <name> event: <what>"
            self._node_event(name, node["metadata"].get("uid", ""), "RegisteredNode",
                             f"Node {name} event: Registered Node {name} in Controller")
        observed = ready_status(node)
        node = await self._update_health(node)
        current = ready_status(node)
        if current is not None and current != "True" and observed == "True":
            # Only at the transition this controller saw (upstream's monitorNodeHealth calls MarkPodsNotReady
            # when the Ready condition observed True is no longer True): a node the kubelet itself reports
            # NotReady keeps the pod statuses the kubelet writes.  Queued before the taint and label writes, which
            # may fail: the retry no longer sees the transition.
            self._node_event(name, node["metadata"].get("uid", ""), "NodeNotReady",
                             f"Node {name} status is now: NodeNotReady")
            for pod_key in self.pods.indexer.index_keys(POD_NODE_NAME, name):
                self.queue.add("pod:" + pod_key)
        node = await self._update_taints(node, current)
        await self._reconcile_labels(node)

    async def _reconcile_labels(self, node: dict) -> dict:
        labels = labels_to_reconcile(node)
        if not labels:
            return node
        updated = await self.client.patch(NODES, node["metadata"]["name"], {"metadata": {"labels": labels}},
                                          patch_type="strategic")
        if updated and updated.get("metadata"):
            self.written[node["metadata"]["name"]] = updated
            return updated
        return node

    def _node_event(self, name: str, uid: str, reason: str, message: str) -> None:
        reference = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "uid": uid}}
        self.recorder.event(reference, "Normal", reason, message)

    async def _update_health(self, node: dict) -> dict:
        """Upstream's tryUpdateNodeHealth: the node, with its conditions made Unknown if its heartbeat is late."""
        name = node["metadata"]["name"]
        now = self.clock.seconds()
        status = json.dumps(node.get("status") or {}, sort_keys=True)
        lease = self.leases.indexer.get_by_key(NODE_LEASE_NAMESPACE, name)
        renew_time = ((lease or {}).get("spec") or {}).get("renewTime")
        health = self.health.get(name)
        if health is None:
            health = self.health[name] = NodeHealth(status, now, renew_time)
        if health.status != status:
            health.status, health.probe = status, now
        if renew_time and (health.renew_time is None or meta.parse_time(renew_time) >
                           meta.parse_time(health.renew_time)):
            health.renew_time, health.probe = renew_time, now
        grace = self.startup_grace_period if condition(node, "Ready") is None else self.grace_period
        if now <= health.probe + grace:
            return node
        conditions = unknown_conditions(node, now)
        if conditions == (node.get("status") or {}).get("conditions"):
            return node
        updated = {**node, "status": {**(node.get("status") or {}), "conditions": conditions}}
        updated = await self.client.update(NODES, updated, subresource="status")
        self.written[name] = updated
        health.status = json.dumps(updated.get("status") or {}, sort_keys=True)
        return updated

    def _zone_allows_no_execute(self, node: dict) -> bool:
        zone = zone_of(node)
        states = self._zone_ready_states()
        size = len(states.get(zone, []))
        state = zone_state(states.get(zone, []), self.unhealthy_zone_threshold)
        if state == PARTIAL_DISRUPTION:
            rate = 0.0 if size <= self.large_cluster_size else self.secondary_eviction_rate
        else:
            rate = self.eviction_rate
        if rate <= 0:
            return False
        now = self.clock.seconds()
        next_allowed = self.zone_next_taint.get(zone, 0.0)
        if now < next_allowed:
            self.queue.add_after("node:" + node["metadata"]["name"], next_allowed - now)
            return False
        self.zone_next_taint[zone] = now + 1.0 / rate
        return True

    def _zone_ready_states(self) -> Dict[str, list]:
        states: Dict[str, list] = {}
        for key in self.nodes.indexer.keys():
            n = self.node(key)
            if n is not None and EXCLUDE_DISRUPTION_LABEL not in (n["metadata"].get("labels") or {}):
                states.setdefault(zone_of(n), []).append(ready_status(n) or "Unknown")
        return states

    def _all_zones_fully_disrupted(self) -> bool:
        states = self._zone_ready_states()
        return bool(states) and all(zone_state(s) == FULL_DISRUPTION for s in states.values())

    async def _update_taints(self, node: dict, ready: Optional[str]) -> dict:
        """NoExecute not-ready/unreachable by the Ready condition (zone limits aside), NoSchedule by conditions."""
        taints = [dict(t) for t in (node.get("spec") or {}).get("taints") or []]
        stamp = meta.rfc3339(self.clock.seconds())
        wanted_no_schedule = desired_no_schedule_taints(node)
        current_no_schedule = [t for t in taints if t.get("effect") == NO_SCHEDULE and t.get("key") in NO_SCHEDULE_KEYS]
        to_add = [t for t in wanted_no_schedule if not any(same_taint(t, c) for c in current_no_schedule)]
        to_remove = [t for t in current_no_schedule if not any(same_taint(t, w) for w in wanted_no_schedule)]
        wanted_key = {"False": NOT_READY, "Unknown": UNREACHABLE}.get(ready or "")
        present = [t for t in taints if t.get("effect") == NO_EXECUTE and t.get("key") in (NOT_READY, UNREACHABLE)]
        if ready == "True" or (wanted_key and self._all_zones_fully_disrupted()):
            to_remove += present
        elif wanted_key and not any(t["key"] == wanted_key for t in present):
            if any(t["key"] != wanted_key for t in present) or self._zone_allows_no_execute(node):
                # Swapped at once when the other one is there already, as upstream.
                to_remove += present
                to_add.append({"key": wanted_key, "effect": NO_EXECUTE})
        if not to_add and not to_remove:
            return node
        kept = [t for t in taints if not any(same_taint(t, r) for r in to_remove)]
        updated = {**node, "spec": {**(node.get("spec") or {}),
                                    "taints": kept + [{**t, "timeAdded": stamp} for t in to_add]}}
        updated = await self.client.update(NODES, updated)
        self.written[node["metadata"]["name"]] = updated
        return updated

    async def _sync_pod(self, key: str) -> None:
        """Upstream's processPod/MarkPodsNotReady: a pod on a node that is not Ready is not Ready either."""
        pod = self.pods.indexer.get(key)
        if pod is None or not pod_node_name(pod) or pod_node_name(pod)[0] not in self.health:
            return      # upstream's processPod: nothing until the node's health has been gathered
        node = self.node(pod_node_name(pod)[0])
        status = ready_status(node)
        if status is None or status == "True":
            return
        ready = condition(pod, "Ready")
        if ready is None or ready.get("status") == "False":
            return
        namespace, name = split_key(key)
        changed = {**ready, "status": "False", "lastTransitionTime": meta.rfc3339(self.clock.seconds())}
        try:
            await self.client.patch(PODS, name, {"metadata": {"uid": pod["metadata"]["uid"]},
                                                 "status": {"conditions": [changed]}},
                                    namespace, patch_type="strategic", subresource="status")
        except APIError as e:
            if e.code in (404, 409):
                return
            raise
        self.recorder.event(pod, "Warning", "NodeNotReady", "Node is not ready")


def start_node_lifecycle_controller(ctx: ControllerContext) -> NodeLifecycleController:
    return NodeLifecycleController(ctx)


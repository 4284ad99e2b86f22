"""The scheduler's loop: informers feeding the cache and the queue, one pod at a time through its profile,
then the binding (POST pods/<name>/binding), the events and the status writes, as upstream's schedule_one.

Informers: pods (the non-terminal ones: unassigned ones with one of our schedulerNames go to the queue,
assigned ones to the cache), nodes, PersistentVolumeClaims, PersistentVolumes, StorageClasses, Namespaces (for
namespaceSelectors of pod affinity terms), and Services, ReplicationControllers, ReplicaSets and
StatefulSets (for the default topology spreading).  The scheduling cycle itself is synchronous; the loop awaits
the API calls of a failure (status patch) or a preemption (victims deleted) as upstream's does, while a
binding runs beside the loop with the pod assumed on its node meanwhile.
"""

from __future__ import annotations

import datetime
import random
from typing import Iterable, Mapping, Optional

from twisted.internet import task
from twisted.internet.defer import CancelledError, Deferred
from twisted.logger import Logger

from ..client.informer import SharedInformerFactory
from ..client.resources import (NAMESPACES, NODES, PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES, POD_DISRUPTION_BUDGETS,
                                PODS, REPLICA_SETS,
                                REPLICATION_CONTROLLERS, SERVICES, STATEFUL_SETS, STORAGE_CLASSES)
from ..client.rest import APIError, Client
from .cache import Cache
from .events import EventBroadcaster
from .framework import FitError, Framework, NoNodesAvailable
from .plugins import default_plugins, default_selector, preemption_enabled, profile_plugins
from .preemption import PreemptionResult, preempt
from .queue import QueuedPodInfo, SchedulingQueue
from .resources import pod_requests

log = Logger()

DEFAULT_SCHEDULER_NAME = "default-scheduler"
# Event notes are cut at this length (events.k8s.io's noteLengthLimit), ending in " ...", as upstream's
# truncateMessage.
NOTE_LENGTH_LIMIT = 1024
TRUNCATED_SUFFIX = " ..."
NON_TERMINAL_PODS = "status.phase!=Succeeded,status.phase!=Failed"


def _now(clock) -> str:
    return datetime.datetime.fromtimestamp(int(clock.seconds()), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def truncate_message(message: str) -> str:
    if len(message) <= NOTE_LENGTH_LIMIT:
        return message
    return message[:NOTE_LENGTH_LIMIT - len(TRUNCATED_SUFFIX)] + TRUNCATED_SUFFIX


def assigned(pod: Mapping) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def terminal(pod: Mapping) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def as_pod(pod: Mapping) -> dict:
    """The pod with its kind and apiVersion, as an event's involvedObject needs (list items lack them)."""
    return {**pod, "kind": "Pod", "apiVersion": "v1"}


def node_update_events(old: Mapping, new: Mapping) -> list[str]:
    """nodeSchedulingPropertiesChange: the kinds of change a node update makes that may matter to a pod
    waiting (heartbeats alone make none)."""
    def parts(node):
        metadata, spec, status = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
        return {"UpdateNodeTaint": (bool(spec.get("unschedulable")), spec.get("taints") or []),
                "UpdateNodeAllocatable": status.get("allocatable") or {},
                "UpdateNodeLabel": metadata.get("labels") or {},
                "UpdateNodeCondition": sorted((c.get("type"), c.get("status")) for c in status.get("conditions") or []),
                "UpdateNodeAnnotation": metadata.get("annotations") or {}}
    before, after = parts(old), parts(new)
    return [f"Node/{kind}" for kind in before if before[kind] != after[kind]]


def assigned_pod_update_events(old: Mapping, new: Mapping) -> list[str]:
    """The kinds of change an update of an assigned pod makes: its labels, or smaller requests."""
    events = []
    if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
        events.append("AssignedPod/UpdatePodLabel")
    before, after = pod_requests(old), pod_requests(new)
    if any(after.get(name, 0) < value for name, value in before.items()):
        events.append("AssignedPod/UpdatePodScaleDown")
    return events


def pod_condition(reason: str, message: str) -> dict:
    return {"type": "PodScheduled", "status": "False", "reason": reason, "message": message}


class Scheduler:
    """One scheduler: its informers, cache, queue and profiles (one per schedulerName).  ``profiles`` are
    KubeSchedulerConfiguration profiles (``schedulerName``, ``plugins``, ``pluginConfig``); without them,
    one default profile per name in ``scheduler_names``."""

    def __init__(self, client: Client, clock=None, rand: Optional[random.Random] = None,
                 scheduler_names: Iterable[str] = (DEFAULT_SCHEDULER_NAME,), percentage_of_nodes_to_score: int = 0,
                 informers: Optional[SharedInformerFactory] = None, profiles: Optional[list] = None):
        if clock is None:
            from twisted.internet import reactor as clock
        self.client = client
        self.clock = clock
        self.rand = rand or random.Random()
        self.informers = informers or SharedInformerFactory(client, clock)
        self.cache = Cache()
        # Upstream's scheduler leaves terminal pods out of its pod informer: they hold nothing on a node.
        self.pods = self.informers.informer(PODS, field_selector=NON_TERMINAL_PODS)
        self.nodes = self.informers.informer(NODES)
        self.claims = self.informers.informer(PERSISTENT_VOLUME_CLAIMS)
        self.volumes = self.informers.informer(PERSISTENT_VOLUMES)
        self.storage_classes = self.informers.informer(STORAGE_CLASSES)
        self.namespaces = self.informers.informer(NAMESPACES)
        self.pdbs = self.informers.informer(POD_DISRUPTION_BUDGETS)    # for preemption's choice of victims
        # What the default topology spreading reads to find a pod's siblings.
        self.services = self.informers.informer(SERVICES)
        self.controllers = {"ReplicationController": self.informers.informer(REPLICATION_CONTROLLERS),
                            "ReplicaSet": self.informers.informer(REPLICA_SETS),
                            "StatefulSet": self.informers.informer(STATEFUL_SETS)}
        self.profiles: dict[str, Framework] = {}
        for profile in profiles or [{"schedulerName": name} for name in scheduler_names]:
            name = profile.get("schedulerName") or DEFAULT_SCHEDULER_NAME
            plugins, weights = profile_plugins(
                profile, namespace_labels=self._namespace_labels,
                get_claim=lambda ns, name: self.claims.indexer.get_by_key(ns, name),
                get_volume=lambda name: self.volumes.indexer.get_by_key(None, name),
                get_storage_class=lambda name: self.storage_classes.indexer.get_by_key(None, name) if name else None,
                list_volumes=lambda: self.volumes.indexer.list(),
                get_pod=lambda ns, name: self.pods.indexer.get_by_key(ns, name),
                default_spread_selector=self._default_spread_selector)
            # A profile's own percentageOfNodesToScore, when it sets one, wins over the global one.
            percentage = profile.get("percentageOfNodesToScore")
            self.profiles[name] = Framework(plugins, weights, name, self.rand,
                                            percentage_of_nodes_to_score if percentage is None else int(percentage))
        # Each profile's hints come from its own plugins, as configured (added affinity, ignored resources).
        self.queue = SchedulingQueue(clock, plugin_events={p.name: getattr(p, "events", set())
                                                           for p in default_plugins()},
                                     profile_hints={name: {p.name: p.queueing_hint for p in fw.plugins
                                                           if hasattr(p, "queueing_hint")}
                                                    for name, fw in self.profiles.items()})
        # events.k8s.io/v1 Events, each profile's reported by its schedulerName, as upstream's recorders.
        self.events = EventBroadcaster(client, clock)
        self.running = False
        self.stopped = False    # stop() was called: nothing more is written, bindings under way are cancelled
        self._loop_done: Optional[Deferred] = None
        self.bindings: set[Deferred] = set()
        self._add_handlers()

    def _namespace_labels(self, namespace: str) -> Mapping:
        found = self.namespaces.indexer.get_by_key(None, namespace)
        return (found or {}).get("metadata", {}).get("labels") or {}

    def _default_spread_selector(self, pod: Mapping):
        namespace = pod["metadata"].get("namespace", "")
        return default_selector(pod, self.services.indexer.by_index("namespace", namespace),
                                lambda kind, ns, name: self.controllers[kind].indexer.get_by_key(ns, name))

    def responsible(self, pod: Mapping) -> bool:
        return ((pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER_NAME) in self.profiles

    # --- the informers' events ------------------------------------------------------------------

    def _add_handlers(self) -> None:
        self.pods.add_event_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        self.nodes.add_event_handler(self._node_added, self._node_updated, self._node_deleted)
        for informer, kind in ((self.claims, "PersistentVolumeClaim"), (self.volumes, "PersistentVolume"),
                               (self.storage_classes, "StorageClass")):
            informer.add_event_handler(
                lambda obj, kind=kind: self.queue.move_all_to_active_or_backoff(f"{kind}/Add", None, obj),
                lambda old, new, kind=kind: self.queue.move_all_to_active_or_backoff(f"{kind}/Update", old, new),
                lambda obj, kind=kind: self.queue.move_all_to_active_or_backoff(f"{kind}/Delete", obj, None))

    def _pod_added(self, pod: Mapping) -> None:
        if assigned(pod):
            if not terminal(pod):
                self.cache.add_pod(pod)
                self.queue.move_all_to_active_or_backoff("AssignedPod/Add", None, pod)
        elif self.responsible(pod) and not terminal(pod):
            self.queue.add(pod)

    def _pod_updated(self, old: Mapping, new: Mapping) -> None:
        if assigned(new):
            if not assigned(old):
                self.queue.delete(old)
            if terminal(new):
                self._pod_deleted(new)
                return
            self.cache.update_pod(new)
            if assigned(old):
                for event in assigned_pod_update_events(old, new):
                    self.queue.move_all_to_active_or_backoff(event, old, new)
            else:
                self.queue.move_all_to_active_or_backoff("AssignedPod/Add", None, new)
        elif self.responsible(new):
            if terminal(new):
                self.queue.delete(new)
            elif not self.cache.is_assumed(new):
                self.queue.update(old, new)

    def _pod_deleted(self, pod: Mapping) -> None:
        if assigned(pod):
            self.cache.remove_pod(pod)
            self.queue.move_all_to_active_or_backoff("AssignedPod/Delete", pod, None)
        else:
            self.queue.delete(pod)

    def _node_added(self, node: Mapping) -> None:
        self.cache.add_node(node)
        self.queue.move_all_to_active_or_backoff("Node/Add", None, node)

    def _node_updated(self, old: Mapping, new: Mapping) -> None:
        self.cache.update_node(new)
        for event in node_update_events(old, new):
            self.queue.move_all_to_active_or_backoff(event, old, new)

    def _node_deleted(self, node: Mapping) -> None:
        self.cache.remove_node(node)
        self.queue.move_all_to_active_or_backoff("Node/Delete", node, None)

    # --- running --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Start the informers, wait until they have synced, then start the queue and the loop; returns
        once the loop runs."""
        self.running, self.stopped = True, False
        self.events.start()
        self.informers.start()
        await self.informers.wait_for_cache_sync()
        if not self.running:
            return
        self.queue.run()
        self._loop_done = Deferred.fromCoroutine(self._loop())
        self._loop_done.addErrback(lambda f: log.failure("the scheduling loop failed", f))

    def stop(self) -> None:
        """Stop the loop, the queue, the events and the informers; the bindings under way are cancelled (a
        PreBind's wait ends), their pods forgotten, and no status or event is written for them."""
        self.running, self.stopped = False, True
        for binding in list(self.bindings):
            binding.cancel()
        self.queue.close()
        self.events.stop()
        self.informers.stop()

    async def _loop(self) -> None:
        while self.running:
            info = await self.queue.pop()
            if info is None or not self.running:
                return
            try:
                await self.schedule_one(info)
            except Exception:
                log.failure("scheduling {pod} failed", pod=_key(info.pod))
                self.queue.add_unschedulable_if_not_present(info)
            # Let the reactor run between pods even when a cycle made no API call.
            await task.deferLater(self.clock, 0, lambda: None)

    # --- one pod --------------------------------------------------------------------------------

    async def schedule_one(self, info: QueuedPodInfo) -> None:
        pod = info.pod
        if pod["metadata"].get("deletionTimestamp"):
            # skipPodSchedule: a pod being deleted (held by a finalizer) is not tried, and says so.
            metadata = pod["metadata"]
            self.events.record(_profile(pod), as_pod(pod), None, "Warning", "FailedScheduling", "Scheduling",
                               f"skip schedule deleting pod: {metadata.get('namespace')}/{metadata['name']}")
            self.queue.done(info.uid)
            return
        if self.cache.is_assumed(pod):
            self.queue.done(info.uid)
            return
        framework = self.profiles[(pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER_NAME]
        snapshot = self.cache.snapshot()
        nominated = self.queue.nominator.nominated_pods_for_node
        try:
            result = framework.schedule(pod, snapshot, nominated)
        except NoNodesAvailable as e:
            info.unschedulable_plugins = set()
            await self.handle_failure(info, str(e), "Unschedulable", nominated_node="")
            return
        except FitError as e:
            info.unschedulable_plugins = set(e.diagnosis.unschedulable_plugins)
            if preemption_enabled(framework.plugins):
                outcome: PreemptionResult = preempt(framework, pod, snapshot, e.diagnosis, nominated,
                                                    self.pdbs.indexer.list())
            else:
                # No PostFilter plugin: nothing is added to the message and the nomination stays as it is.
                outcome = PreemptionResult(None, "", nominated_node=None)
            nominated_node = outcome.nominated_node
            if outcome.candidate is not None:
                refused = await self.prepare_candidate(framework, pod, outcome.candidate)
                if refused is not None:
                    # The eviction failed: no nomination is written, and the message says why.
                    e.diagnosis.post_filter_msg = "preemption: " + refused
                    nominated_node = None
            elif outcome.message:
                e.diagnosis.post_filter_msg = "preemption: " + outcome.message
            await self.handle_failure(info, str(e), "Unschedulable", nominated_node)
            return
        except Exception as e:
            log.failure("scheduling {pod}", pod=_key(pod))
            info.unschedulable_plugins = set()
            await self.handle_failure(info, str(e), "SchedulerError", nominated_node="")
            return
        assumed = self.cache.assume_pod(pod, result.suggested_host)
        status = framework.run_reserve(result.state, assumed, result.suggested_host)
        if not status.is_success():
            # As upstream's scheduling cycle: unreserve, forget the pod, clear its nomination.
            framework.run_unreserve(result.state, assumed, result.suggested_host)
            self.cache.forget_pod(assumed)
            info.unschedulable_plugins = set()
            await self.handle_failure(info, f'running Reserve plugin "{status.plugin}": {status.message}',
                                      "SchedulerError", nominated_node="")
            return
        self.queue.nominator.delete(pod)
        binding = Deferred.fromCoroutine(self.bind(info, assumed, result.suggested_host, framework, result.state))
        self.bindings.add(binding)
        binding.addBoth(lambda r: (self.bindings.discard(binding), r)[1])
        binding.addErrback(lambda f: log.failure("binding {pod}", f, pod=_key(pod)))

    async def bind(self, info: QueuedPodInfo, assumed: Mapping, node_name: str,
                   framework: Optional[Framework] = None, state=None) -> None:
        """The binding cycle: the profile's PreBind plugins (VolumeBinding's writes and its wait), then
        DefaultBinder's POST of the Binding; on success the Scheduled event.  On failure (an error Status, a
        refused Binding, or anything raised, the cancellation at stop() included) unreserve and forget the pod,
        and requeue it, as upstream's handleBindingCycleError; never does a pod stay assumed or in flight."""
        metadata = assumed["metadata"]
        try:
            message = await self._bind(assumed, node_name, framework, state)
        except Exception as e:
            if not self.stopped:
                log.failure("binding {pod} to {node}", pod=_key(assumed), node=node_name)
            message = str(e) or type(e).__name__
        if message is not None:
            await self._binding_failed(info, assumed, node_name, framework, state, message)
            return
        self.events.record(_profile(assumed), as_pod(assumed), None, "Normal", "Scheduled", "Binding",
                           f"Successfully assigned {metadata.get('namespace')}/{metadata['name']} to {node_name}")
        self.queue.done(info.uid)

    async def _bind(self, assumed: Mapping, node_name: str, framework: Optional[Framework],
                    state) -> Optional[str]:
        """PreBind, then the Binding's POST: None once bound, else the failure's message."""
        metadata = assumed["metadata"]
        if framework is not None:
            status = await framework.run_pre_bind(state, assumed, node_name, self.client, self.clock)
            if not status.is_success():
                return f'running PreBind plugin "{status.plugin}": {status.message}'
        binding = {"apiVersion": "v1", "kind": "Binding",
                   "metadata": {"name": metadata["name"], "namespace": metadata.get("namespace"),
                                "uid": metadata.get("uid")},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node_name}}
        try:
            await self.client.create(PODS, binding, namespace=metadata.get("namespace"), name=metadata["name"],
                                     subresource="binding")
        except CancelledError:
            raise
        except Exception as e:
            reason = getattr(e, "message", None) or str(e)
            return f'running Bind plugin "DefaultBinder": {reason}'
        return None

    async def _binding_failed(self, info: QueuedPodInfo, assumed: Mapping, node_name: str,
                              framework: Optional[Framework], state, message: str) -> None:
        """handleBindingCycleError: unreserve, forget the pod, requeue the others its place held back; then
        the pod's own failure, unless the scheduler has stopped (nothing is written after stop())."""
        if framework is not None:
            framework.run_unreserve(state, assumed, node_name)
        self.cache.forget_pod(assumed)
        self.queue.move_all_to_active_or_backoff("AssignedPod/Delete", assumed, None)
        info.unschedulable_plugins = set()
        if self.stopped:
            self.queue.done(info.uid)
            return
        # The node it was nominated to is no longer its place: the nomination is cleared, as upstream's
        # binding cycle does on failure (clearNominatedNode).
        await self.handle_failure(info, message, "SchedulerError", nominated_node="")

    async def handle_failure(self, info: QueuedPodInfo, message: str, reason: str,
                             nominated_node: Optional[str] = None) -> None:
        """handleSchedulingFailure: requeue the pod (as the informer has it now), remember its nomination,
        the FailedScheduling event, and the PodScheduled=False condition (with nominatedNodeName)."""
        pod = info.pod
        metadata = pod["metadata"]
        current = self.pods.indexer.get_by_key(metadata.get("namespace"), metadata["name"])
        if current is None or current["metadata"].get("uid") != metadata.get("uid"):
            self.queue.done(info.uid)    # deleted meanwhile
            return
        if assigned(current):
            self.queue.done(info.uid)    # bound meanwhile (by someone else)
            return
        self.queue.add_unschedulable_if_not_present(info, current)
        if nominated_node is not None:
            if nominated_node:
                self.queue.nominator.add(current, nominated_node)
            else:
                self.queue.nominator.delete(current)
        log.info("Unable to schedule pod {pod}: {message}", pod=_key(pod), message=message)
        self.events.record(_profile(current), as_pod(current), None, "Warning", "FailedScheduling", "Scheduling",
                           truncate_message(message))
        await self.update_pod_status(current, pod_condition(reason, message), nominated_node)

    async def update_pod_status(self, pod: Mapping, condition: dict, nominated_node: Optional[str]) -> None:
        """updatePod: patch status only when the condition or the nomination changes."""
        status = pod.get("status") or {}
        existing = next((c for c in status.get("conditions") or [] if c.get("type") == condition["type"]), None)
        patch: dict = {}
        changed = existing is None or any(existing.get(k) != condition.get(k) for k in ("status", "reason", "message"))
        if changed:
            transition = existing.get("lastTransitionTime") if existing and existing.get("status") == \
                condition["status"] else _now(self.clock)
            patch["conditions"] = [{**condition, "lastProbeTime": None, "lastTransitionTime": transition}]
        if nominated_node is not None and (status.get("nominatedNodeName") or "") != nominated_node:
            patch["nominatedNodeName"] = nominated_node or None
        if not patch:
            return
        metadata = pod["metadata"]
        try:
            await self.client.patch(PODS, metadata["name"], {"status": patch}, namespace=metadata.get("namespace"),
                                    patch_type="strategic", subresource="status")
        except APIError as e:
            log.info("could not update the status of {pod}: {error}", pod=_key(pod), error=e)

    async def prepare_candidate(self, framework: Framework, pod: Mapping, candidate) -> Optional[str]:
        """Evict the victims: the DisruptionTarget condition (unless it is there already), a graceful delete,
        the Preempted event; then clear the nominations of lower-priority pods to that node, which no longer
        fit there.  A refused condition write or delete (a victim already gone is no refusal of the delete)
        ends the preemption there, as upstream's prepareCandidate: its error text is returned."""
        uid = pod["metadata"].get("uid")
        for victim in candidate.victims:
            metadata = victim.pod["metadata"]
            namespace, name = metadata.get("namespace"), metadata["name"]
            condition = {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                         "message": f"{framework.scheduler_name}: preempting to accommodate a higher priority pod"}
            existing = next((c for c in (victim.pod.get("status") or {}).get("conditions") or []
                             if c.get("type") == "DisruptionTarget"), None)
            try:
                if existing is None or any(existing.get(k) != v for k, v in condition.items()):
                    transition = {"lastTransitionTime": _now(self.clock)}
                    await self.client.patch(PODS, name, {"status": {"conditions": [{**condition, **transition}]}},
                                            namespace=namespace, patch_type="strategic", subresource="status")
            except APIError as e:
                log.info("could not preempt {pod}: {error}", pod=_key(victim.pod), error=e)
                return e.message or str(e)
            try:
                await self.client.delete(PODS, name, namespace)
            except APIError as e:
                if e.code == 404:
                    continue    # gone already: nothing to announce
                log.info("could not preempt {pod}: {error}", pod=_key(victim.pod), error=e)
                return e.message or str(e)
            self.events.record(framework.scheduler_name, as_pod(victim.pod), as_pod(pod), "Normal", "Preempted",
                               "Preempting", f"Preempted by pod {uid} on node {candidate.node_name}")
        priority = (pod.get("spec") or {}).get("priority") or 0
        for other in self.queue.nominator.nominated_pods_for_node(candidate.node_name):
            if other.priority < priority and other.uid != uid:
                self.queue.nominator.delete(other.pod)
                try:
                    await self.client.patch(PODS, other.name, {"status": {"nominatedNodeName": None}},
                                            namespace=other.namespace, patch_type="strategic", subresource="status")
                except APIError:
                    pass
        return None


def _profile(pod: Mapping) -> str:
    return (pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER_NAME


def _key(pod: Mapping) -> str:
    metadata = pod.get("metadata") or {}
    return f"{metadata.get('namespace')}/{metadata.get('name')}"

"""taint-eviction-controller: a pod on a node with NoExecute taints it does not tolerate is deleted at once; one
that tolerates them for a while (tolerationSeconds) is deleted when the shortest of those runs out, unless the
taints go first, as upstream's pkg/controller/tainteviction.

Each pod's scheduled eviction lives here, on the injected clock: a timer that only enqueues the pod's key; the
worker re-reads pod and node from the informers and evicts only if the eviction is still wanted and due."""

from __future__ import annotations

from typing import Dict

from ..client.indexes import POD_NODE_NAME, pod_node_name
from ..client.cache import split_key
from ..client.resources import NODES, PODS
from ..client.rest import APIError, get_or_none
from ..machinery import meta
from .context import ControllerContext, QueueController
from .taints import matching_tolerations, min_toleration_seconds, no_execute_taints

COMPONENT = "taint-eviction-controller"
EVICTION_REASON = "TaintManagerEviction"
DISRUPTION_TARGET = "DisruptionTarget"
DELETION_BY_TAINT_MANAGER = "DeletionByTaintManager"
DISRUPTION_MESSAGE = "Taint manager: deleting due to NoExecute taint"


class ScheduledEviction:
    """One pod's pending deletion: when it was planned and when it is due; ``done`` once the pod was deleted (kept
    so later updates of the terminating pod do not delete it again, as upstream's TimedWorkerQueue keeps it)."""

    def __init__(self, created: float, fire_at: float, call=None):
        self.created = created
        self.fire_at = fire_at
        self.call = call
        self.done = False

    def cancel(self) -> None:
        if self.call is not None and self.call.active():
            self.call.cancel()


class TaintEvictionController(QueueController):
    name = COMPONENT
    default_workers = 8

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.recorder = ctx.recorder(COMPONENT)
        self.pods = self.informer(PODS)
        self.nodes = self.informer(NODES)
        self.pods.indexer.add_indexers({POD_NODE_NAME: pod_node_name})
        self.evictions: Dict[str, ScheduledEviction] = {}
        self.pods.add_event_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                    on_delete=self.enqueue)
        self.nodes.add_event_handler(on_add=self._node_changed, on_update=self._node_updated,
                                     on_delete=self._node_changed)

    def _node_updated(self, old: dict, new: dict) -> None:
        if no_execute_taints(old) != no_execute_taints(new):
            self._node_changed(new)

    def _node_changed(self, node: dict) -> None:
        for key in self.pods.indexer.index_keys(POD_NODE_NAME, node["metadata"]["name"]):
            self.queue.add(key)

    def stop(self) -> None:
        super().stop()
        for eviction in self.evictions.values():
            eviction.cancel()
        self.evictions.clear()

    def _cancel(self, key: str) -> None:
        eviction = self.evictions.pop(key, None)
        if eviction is None:
            return
        eviction.cancel()
        if not eviction.done:
            self.recorder.eventf(_pod_reference(key), "Normal", EVICTION_REASON, "Cancelling deletion of Pod %s", key)

    def _schedule(self, key: str, now: float, fire_at: float) -> ScheduledEviction:
        eviction = ScheduledEviction(now, fire_at)
        eviction.call = self.clock.callLater(max(0.0, fire_at - now), self.queue.add, key)
        self.evictions[key] = eviction
        return eviction

    async def sync(self, key: str) -> None:
        pod = self.pods.indexer.get(key)
        if pod is None:
            # Upstream's handlePodUpdate on a deleted pod: cancelWorkWithEvent (an event if one was pending).
            self._cancel(key)
            return
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name:
            return
        now = self.clock.seconds()
        taints = no_execute_taints(self.nodes.indexer.get(node_name))
        if not taints:
            self._cancel(key)
            return
        tolerated, used = matching_tolerations(taints, (pod.get("spec") or {}).get("tolerations") or [])
        eviction = self.evictions.get(key)
        if eviction is not None and eviction.done:
            return
        if not tolerated:
            if eviction is None or eviction.fire_at > now:
                # Deleted right away: any later deletion planned is cancelled first, as upstream does.
                self._cancel(key)
                eviction = self._schedule(key, now, now)
        else:
            seconds = min_toleration_seconds(used)
            if seconds < 0:
                self._cancel(key)
                return
            if eviction is not None and eviction.created == now and eviction.fire_at != now + seconds:
                # Upstream's processPodOnNode replaces a planned deletion only when it was planned this very
                # instant; one planned earlier keeps its time whatever the tolerations now say.
                self._cancel(key)
                eviction = None
            if eviction is None:
                eviction = self._schedule(key, now, now + seconds)
        if eviction.fire_at <= now:
            await self._evict(key, pod)
            eviction.done = True

    async def _evict(self, key: str, pod: dict) -> None:
        namespace, name = split_key(key)
        self.recorder.eventf(_pod_reference(key), "Normal", EVICTION_REASON, "Marking for deletion Pod %s", key)
        current = await get_or_none(self.client, PODS, name, namespace)
        if current is None:
            return
        conditions = (current.get("status") or {}).get("conditions") or []
        target = next((c for c in conditions if c.get("type") == DISRUPTION_TARGET), None)
        if target is None or (target.get("status"), target.get("reason")) != ("True", DELETION_BY_TAINT_MANAGER):
            condition = {"type": DISRUPTION_TARGET, "status": "True", "reason": DELETION_BY_TAINT_MANAGER,
                         "message": DISRUPTION_MESSAGE, "lastTransitionTime": meta.rfc3339(self.clock.seconds())}
            await self.client.patch(PODS, name, {"metadata": {"uid": current["metadata"]["uid"]},
                                                 "status": {"conditions": [condition]}},
                                    namespace, patch_type="strategic", subresource="status")
        try:
            await self.client.delete(PODS, name, namespace)
        except APIError as e:
            if e.code != 404:
                raise


def _pod_reference(key: str) -> dict:
    # Upstream's events name the pod by namespace and name only (no uid).
    namespace, name = split_key(key)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}}


def start_taint_eviction_controller(ctx: ControllerContext) -> TaintEvictionController:
    return TaintEvictionController(ctx)

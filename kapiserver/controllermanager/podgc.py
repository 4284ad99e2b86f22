"""pod-garbage-collector-controller (pkg/controller/podgc): every 20 s, by the injected clock,

- terminated pods (Succeeded/Failed) beyond ``--terminated-pod-gc-threshold`` (12500; 0 turns it off) are
  deleted, evicted ones then the oldest first;
- pods bound to a node that no longer exists are, once the node has been missing for the 40 s quarantine and
  the API confirms it is gone, marked Failed with the DisruptionTarget condition (DeletionByPodGC, "PodGC: node
  no longer exists"; neither for a pod already Succeeded or Failed) and force-deleted;
- pods being deleted that were never scheduled are marked Failed and force-deleted;
- pods being deleted on a node that is not Ready and carries the ``node.kubernetes.io/out-of-service`` taint
  are marked Failed and force-deleted too.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ..client.resources import NODES, PODS
from ..client.rest import APIError, get_or_none
from ..machinery import meta
from .context import ControllerContext

log = Logger()
GC_CHECK_PERIOD = 20.0
QUARANTINE_TIME = 40.0
DEFAULT_THRESHOLD = 12500
OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"
TERMINATED = ("Succeeded", "Failed")


def phase(pod: dict) -> str:
    return (pod.get("status") or {}).get("phase") or "Pending"


def eviction_then_age(pod: dict) -> tuple:
    """Evicted pods first, then by creation time (byEvictionAndCreationTimestamp)."""
    evicted = phase(pod) == "Failed" and (pod.get("status") or {}).get("reason") == "Evicted"
    return (not evicted, pod["metadata"].get("creationTimestamp") or "", pod["metadata"]["name"])


def node_ready(node: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


class PodGCController:
    name = "pod-garbage-collector-controller"
    gc_check_period = GC_CHECK_PERIOD
    quarantine_time = QUARANTINE_TIME

    def __init__(self, ctx: ControllerContext):
        self.ctx = ctx
        self.client = ctx.client
        self.clock = ctx.clock
        threshold = ctx.option("terminated-pod-gc-threshold", DEFAULT_THRESHOLD)
        self.threshold = int(threshold)
        self.pods = ctx.informers.informer(PODS)
        self.nodes = ctx.informers.informer(NODES)
        self._missing_since: Dict[str, float] = {}      # node name -> when first seen missing
        self._call = None
        self._running: Optional[Deferred] = None
        self._stopped = False

    async def run(self) -> None:
        await self.ctx.informers.wait_for_cache_sync(self.pods, self.nodes)
        if not self._stopped:
            self._call = self.clock.callLater(self.gc_check_period, self._tick)

    def stop(self) -> None:
        self._stopped = True
        if self._call is not None and self._call.active():
            self._call.cancel()

    def _tick(self) -> None:
        self._running = Deferred.fromCoroutine(self.gc())
        self._running.addErrback(lambda f: log.failure("pod garbage collection failed", f))

        def again(_):
            if not self._stopped:
                self._call = self.clock.callLater(self.gc_check_period, self._tick)
        self._running.addBoth(again)

    async def gc(self) -> None:
        """One pass: terminated, terminating on out-of-service nodes, orphaned, unscheduled terminating."""
        pods = self.pods.indexer.list()
        nodes = {n["metadata"]["name"]: n for n in self.nodes.indexer.list()}
        if self.threshold > 0:
            await self.gc_terminated(pods)
        await self.gc_out_of_service(pods, nodes)
        await self.gc_orphaned(pods, nodes)
        await self.gc_unscheduled_terminating(pods)

    async def gc_terminated(self, pods: List[dict]) -> None:
        terminated = [p for p in pods if phase(p) in TERMINATED]
        excess = len(terminated) - self.threshold
        if excess <= 0:
            return
        for pod in sorted(terminated, key=eviction_then_age)[:excess]:
            await self._mark_failed_and_delete(pod)

    async def gc_out_of_service(self, pods: List[dict], nodes: Dict[str, dict]) -> None:
        for pod in pods:
            node = nodes.get((pod.get("spec") or {}).get("nodeName") or "")
            if node is None or not pod["metadata"].get("deletionTimestamp") or node_ready(node):
                continue
            taints = (node.get("spec") or {}).get("taints") or []
            if any(t.get("key") == OUT_OF_SERVICE_TAINT for t in taints):
                await self._mark_failed_and_delete(pod)

    async def gc_orphaned(self, pods: List[dict], nodes: Dict[str, dict]) -> None:
        now = self.clock.seconds()
        missing = {(p.get("spec") or {}).get("nodeName") for p in pods} - set(nodes) - {None, ""}
        for name in list(self._missing_since):
            if name not in missing:
                del self._missing_since[name]
        deleted_nodes = set()
        for name in missing:
            since = self._missing_since.setdefault(name, now)
            if now - since < self.quarantine_time:
                continue
            if await get_or_none(self.client, NODES, name) is None:
                deleted_nodes.add(name)
                continue
            self._missing_since.pop(name, None)     # it exists after all: the cache was behind
        for pod in pods:
            if (pod.get("spec") or {}).get("nodeName") in deleted_nodes:
                await self._mark_failed_and_delete(pod, self._disruption("PodGC: node no longer exists"))
        for name in deleted_nodes:
            self._missing_since.pop(name, None)

    async def gc_unscheduled_terminating(self, pods: List[dict]) -> None:
        for pod in pods:
            if pod["metadata"].get("deletionTimestamp") and not (pod.get("spec") or {}).get("nodeName"):
                await self._mark_failed_and_delete(pod)

    def _disruption(self, message: str) -> dict:
        return {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC", "message": message,
                "lastTransitionTime": meta.rfc3339(self.clock.seconds())}

    async def _mark_failed_and_delete(self, pod: dict, condition: Optional[dict] = None) -> None:
        """Mark a pod not yet terminated Failed (with the condition, if any), then delete it at once; a pod
        already Succeeded or Failed is deleted as it is, without the condition (upstream's
        markFailedAndDeletePodWithCondition). The status patch carries the pod's uid, as PatchPodStatus's."""
        name, namespace = pod["metadata"]["name"], pod["metadata"]["namespace"]
        try:
            if phase(pod) not in TERMINATED:
                status: dict = {"phase": "Failed"}
                if condition is not None:
                    status["conditions"] = [condition]
                await self.client.patch(PODS, name, {"metadata": {"uid": pod["metadata"].get("uid")},
                                                     "status": status},
                                        namespace, patch_type="strategic", subresource="status")
            await self.client.delete(PODS, name, namespace, grace_period_seconds=0)
        except APIError as e:
            if e.code != 404:
                log.warn("pod garbage collection of {ns}/{name} failed: {e}", ns=namespace, name=name, e=e.message)


def start_pod_gc_controller(ctx: ControllerContext) -> PodGCController:
    return PodGCController(ctx)

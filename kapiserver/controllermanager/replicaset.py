"""replicaset-controller: keeps ``spec.replicas`` active pods for every ReplicaSet. It claims pods by selector
and controllerRef (adopting matching orphans, releasing those that stop matching), creates pods from the
template in slow-start batches (1, 2, 4, ...; at most 500 a sync) or deletes the surplus in upstream's order,
waits on expectations for what it asked for, and reports replicas, fullyLabeledReplicas, readyReplicas,
availableReplicas (minReadySeconds), observedGeneration and the ReplicaFailure condition.

The same engine serves ReplicationControllers (replication.py), as upstream converts them to ReplicaSets: what
differs between the two kinds is a ``WorkloadKind``."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, List, Optional

from twisted.internet.defer import Deferred, DeferredList
from twisted.logger import Logger

from ..client.cache import meta_namespace_key, split_key
from ..client.expectations import UIDTrackingControllerExpectations
from ..client.resources import PODS, REPLICA_SETS, Resource
from ..client.rest import APIError, namespace_terminating
from ..machinery import meta
from .context import ControllerContext, QueueController
from .controllerutils import (SLOW_START_INITIAL_BATCH_SIZE, ControllerRefManager, PodControl, by_controller_uid,
                              condition_of, controller_of, controller_ref, filter_active_pods, is_pod_available,
                              is_pod_ready, label_selector, rank_pods_for_deletion, recheck_deletion_timestamp,
                              slow_start_batch)

log = Logger()
BURST_REPLICAS = 500
STATUS_UPDATE_RETRIES = 1
CONTROLLER_UID_INDEX = "controllerUID"
REPLICA_FAILURE = "ReplicaFailure"


class PodDeletionError(Exception):
    """A pod the controller could not delete (other than one already gone)."""


@dataclass(frozen=True)
class WorkloadKind:
    """What the engine needs to know of the kind it manages."""
    resource: Resource
    component: str                              # the events' source
    selector: Callable[[dict], Optional[dict]]  # the object's selector as a metav1.LabelSelector

    @property
    def kind(self) -> str:
        return self.resource.kind

    @property
    def api_version(self) -> str:
        return self.resource.api_version


REPLICA_SET_KIND = WorkloadKind(REPLICA_SETS, "replicaset-controller",
                                lambda rs: (rs.get("spec") or {}).get("selector"))


def pod_key(pod: dict) -> str:
    return meta_namespace_key(pod)


def _replicas(obj: dict) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def calculate_status(rs: dict, pods: List[dict], manage_error: Optional[Exception], now: float) -> dict:
    """The status the pods give: counts, and ReplicaFailure set on a failed create/delete, cleared after."""
    status = copy.deepcopy(rs.get("status") or {})
    spec = rs.get("spec") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = spec.get("minReadySeconds") or 0
    fully_labeled = ready = available = 0
    for pod in pods:
        labels = pod["metadata"].get("labels") or {}
        if all(labels.get(k) == v for k, v in template_labels.items()):
            fully_labeled += 1
        if is_pod_ready(pod):
            ready += 1
            if is_pod_available(pod, min_ready, now):
                available += 1
    failure = condition_of(status, REPLICA_FAILURE)
    if manage_error is not None and failure is None:
        diff = len(pods) - _replicas(rs)
        reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
        message = manage_error.message if isinstance(manage_error, APIError) else str(manage_error)
        status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != REPLICA_FAILURE] + [
            {"type": REPLICA_FAILURE, "status": "True", "lastTransitionTime": meta.rfc3339(now),
             "reason": reason, "message": message}]
    elif manage_error is None and failure is not None:
        status["conditions"] = [c for c in status["conditions"] if c.get("type") != REPLICA_FAILURE]
        if not status["conditions"]:
            del status["conditions"]
    status.update(replicas=len(pods), fullyLabeledReplicas=fully_labeled, readyReplicas=ready,
                  availableReplicas=available)
    return status


def _same_status(rs: dict, status: dict) -> bool:
    old = rs.get("status") or {}
    return (all(old.get(f, 0) == status.get(f, 0) for f in ("replicas", "fullyLabeledReplicas", "readyReplicas",
                                                             "availableReplicas"))
            and rs["metadata"].get("generation", 0) == old.get("observedGeneration", 0)
            and (old.get("conditions") or []) == (status.get("conditions") or []))


class ReplicaSetController(QueueController):
    name = "replicaset-controller"
    workers_option = "concurrent-replicaset-syncs"
    default_workers = 5
    workload = REPLICA_SET_KIND

    def __init__(self, ctx: ControllerContext, burst_replicas: int = BURST_REPLICAS):
        super().__init__(ctx)
        self.burst_replicas = burst_replicas
        self.expectations = UIDTrackingControllerExpectations(ctx.clock)
        self.pod_control = PodControl(ctx.client, ctx.recorder(self.workload.component))
        self.sets = self.informer(self.workload.resource)
        self.pods = self.informer(PODS)
        self.sets.indexer.add_indexers({CONTROLLER_UID_INDEX: by_controller_uid})
        self.sets.add_event_handler(on_add=self.enqueue, on_update=self._set_updated, on_delete=self._set_deleted)
        self.pods.add_event_handler(on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted)

    # -- handlers: only keys and expectations --------------------------------------------------------------
    def _set_updated(self, old: dict, new: dict) -> None:
        if old["metadata"].get("uid") != new["metadata"].get("uid"):
            self._set_deleted(old)
        self.enqueue(new)

    def _set_deleted(self, rs: dict) -> None:
        key = meta_namespace_key(rs)
        self.expectations.delete_expectations(key)
        self.queue.add(key)

    def resolve_controller_ref(self, namespace: str, ref: dict) -> Optional[dict]:
        if ref.get("kind") != self.workload.kind:
            return None
        rs = self.sets.indexer.get_by_key(namespace, ref.get("name", ""))
        return rs if rs is not None and rs["metadata"].get("uid") == ref.get("uid") else None

    def pod_sets(self, pod: dict) -> List[dict]:
        """The sets whose selector matches the pod (GetPodReplicaSets)."""
        labels = pod["metadata"].get("labels")
        if not labels:
            return []
        found = []
        for rs in self.sets.indexer.by_index("namespace", pod["metadata"].get("namespace", "")):
            try:
                selector = label_selector(self.workload.selector(rs))
            except Exception:
                continue
            if not selector.empty and selector.matches(labels):
                found.append(rs)
        return found

    def _pod_added(self, pod: dict) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self._pod_deleted(pod)
            return
        ref = controller_of(pod)
        if ref is not None:
            rs = self.resolve_controller_ref(pod["metadata"]["namespace"], ref)
            if rs is not None:
                key = meta_namespace_key(rs)
                self.expectations.creation_observed(key)
                self.queue.add(key)
            return
        for rs in self.pod_sets(pod):
            self.enqueue(rs)

    def _pod_updated(self, old: dict, new: dict) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        label_changed = old["metadata"].get("labels") != new["metadata"].get("labels")
        if new["metadata"].get("deletionTimestamp"):
            self._pod_deleted(new)
            if label_changed:
                self._pod_deleted(old)
            return
        ref, old_ref = controller_of(new), controller_of(old)
        ref_changed = ref != old_ref
        if ref_changed and old_ref is not None:
            rs = self.resolve_controller_ref(old["metadata"]["namespace"], old_ref)
            if rs is not None:
                self.enqueue(rs)
        if ref is not None:
            rs = self.resolve_controller_ref(new["metadata"]["namespace"], ref)
            if rs is None:
                return
            self.enqueue(rs)
            min_ready = (rs.get("spec") or {}).get("minReadySeconds") or 0
            if not is_pod_ready(old) and is_pod_ready(new) and min_ready > 0:
                # Check availability once minReadySeconds have passed (and a second for clock skew).
                self.queue.add_after(meta_namespace_key(rs), min_ready + 1)
            return
        if label_changed or ref_changed:
            for rs in self.pod_sets(new):
                self.enqueue(rs)

    def _pod_deleted(self, pod: dict) -> None:
        ref = controller_of(pod)
        if ref is None:
            return
        rs = self.resolve_controller_ref(pod["metadata"]["namespace"], ref)
        if rs is None:
            return
        key = meta_namespace_key(rs)
        self.expectations.deletion_observed_uid(key, pod_key(pod))
        self.queue.add(key)

    # -- the sync ----------------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        rs = self.sets.indexer.get(key)
        if rs is None:
            self.expectations.delete_expectations(key)
            return
        needs_sync = self.expectations.satisfied_expectations(key)
        try:
            selector = label_selector(self.workload.selector(rs))
        except Exception as e:
            log.warn("{kind} {key} has an invalid selector: {e}", kind=self.workload.kind, key=key, e=e)
            return
        pods = filter_active_pods(self.pods.indexer.by_index("namespace", namespace))
        pods = await self.claim_pods(rs, selector, pods)
        manage_error = None
        if needs_sync and not rs["metadata"].get("deletionTimestamp"):
            try:
                await self.manage_replicas(pods, rs)
            except Exception as e:
                manage_error = e
        status = calculate_status(rs, pods, manage_error, self.clock.seconds())
        updated = await self.update_status(copy.deepcopy(rs), status)
        ustatus, min_ready = updated.get("status") or {}, (updated.get("spec") or {}).get("minReadySeconds") or 0
        if (manage_error is None and min_ready > 0 and ustatus.get("readyReplicas", 0) == _replicas(updated)
                and ustatus.get("availableReplicas", 0) != _replicas(updated)):
            self.queue.add_after(key, min_ready)
        if manage_error is not None:
            raise manage_error

    async def claim_pods(self, rs: dict, selector, pods: List[dict]) -> List[dict]:
        resource, namespace, name = self.workload.resource, rs["metadata"]["namespace"], rs["metadata"]["name"]
        can_adopt = recheck_deletion_timestamp(lambda: self.client.get(resource, name, namespace),
                                               rs["metadata"]["uid"], self.workload.kind)
        manager = ControllerRefManager(self.client, PODS, rs, selector, self.workload.api_version,
                                       self.workload.kind, can_adopt)
        return await manager.claim(pods)

    async def manage_replicas(self, pods: List[dict], rs: dict) -> None:
        key = meta_namespace_key(rs)
        diff = len(pods) - _replicas(rs)
        namespace = rs["metadata"]["namespace"]
        if diff < 0:
            diff = min(-diff, self.burst_replicas)
            self.expectations.expect_creations(key, diff)
            ref = controller_ref(rs, self.workload.api_version, self.workload.kind)
            template = (rs.get("spec") or {}).get("template") or {}

            async def create() -> None:
                try:
                    await self.pod_control.create_pods(namespace, template, rs, ref)
                except APIError as e:
                    if namespace_terminating(e):  # every create would fail: not an error
                        return
                    raise
            successes, error = await slow_start_batch(diff, SLOW_START_INITIAL_BATCH_SIZE, create)
            for _ in range(diff - successes):  # never attempted (or failed): not to be waited for
                self.expectations.creation_observed(key)
            if error is not None:
                raise error
        elif diff > 0:
            diff = min(diff, self.burst_replicas)
            related = self.indirectly_related_pods(rs)
            victims = pods[:diff] if diff >= len(pods) else \
                rank_pods_for_deletion(pods, related, self.clock.seconds())[:diff]
            self.expectations.expect_deletions_uids(key, [pod_key(p) for p in victims])
            errors: list = []

            async def delete(pod: dict) -> None:
                try:
                    await self.pod_control.delete_pod(namespace, pod["metadata"]["name"], rs)
                except APIError as e:
                    self.expectations.deletion_observed_uid(key, pod_key(pod))
                    if e.code != 404:
                        # RealPodControl.DeletePod's error, as the ReplicaFailure condition's message shows it
                        errors.append(PodDeletionError(f"unable to delete pods: {e.message}"))
            await DeferredList([Deferred.fromCoroutine(delete(p)) for p in victims])
            if errors:
                raise errors[0]

    def indirectly_related_pods(self, rs: dict) -> List[dict]:
        """Pods of every set with the same controller as ``rs`` (itself included); none for a set without a
        controller, whose pods then all rank alike (getReplicaSetsWithSameController)."""
        ref = controller_of(rs)
        if ref is None:
            return []
        related_sets = self.sets.indexer.by_index(CONTROLLER_UID_INDEX, ref["uid"])
        seen, related = set(), []
        for other in related_sets:
            try:
                selector = label_selector(self.workload.selector(other))
            except Exception:
                continue
            for pod in self.pods.indexer.by_index("namespace", other["metadata"]["namespace"]):
                uid = pod["metadata"].get("uid")
                if uid not in seen and selector.matches(pod["metadata"].get("labels") or {}):
                    seen.add(uid)
                    related.append(pod)
        return related

    async def update_status(self, rs: dict, status: dict) -> dict:
        """Write the status unless nothing changed, with one GET and retry on failure."""
        if _same_status(rs, status):
            return rs
        # The generation acted on, kept through the retries: a newer spec fetched for the retry is not observed.
        status = {**status, "observedGeneration": rs["metadata"].get("generation", 0)}
        for attempt in range(STATUS_UPDATE_RETRIES + 1):
            try:
                return await self.client.update(self.workload.resource, {**rs, "status": status},
                                                subresource="status")
            except APIError:
                if attempt >= STATUS_UPDATE_RETRIES:
                    raise
                rs = await self.client.get(self.workload.resource, rs["metadata"]["name"],
                                           rs["metadata"]["namespace"])
        return rs


def start_replicaset_controller(ctx: ControllerContext) -> ReplicaSetController:
    return ReplicaSetController(ctx)

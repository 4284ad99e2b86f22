"""How deployment-controller moves ReplicaSets (upstream's sync.go, rolling.go, recreate.go, progress.go): scaling
with events, proportional scaling of every set when a deployment is resized mid-rollout, the rolling and
recreate strategies, revision history cleanup, and the status with its Available and Progressing
conditions. A mixin of DeploymentController (deployment.py), which provides the client, recorder, clock and
queue."""

from __future__ import annotations

import copy
from typing import Dict, List, Optional, Tuple

from ..client.cache import meta_namespace_key
from ..client.resources import DEPLOYMENTS, REPLICA_SETS
from ..client.rest import APIError
from ..machinery import meta
from . import deploymentutil as du
from .controllerutils import same_status


class InvalidScaleDown(Exception):
    """A scale-down that would grow the set (rolling.go refuses it; the sync scales nothing down)."""


class RolloutMixin:
    # -- scaling one set ----------------------------------------------------------------------------------
    async def scale_replica_set_and_record_event(self, rs: dict, new_scale: int, d: dict) -> Tuple[bool, dict]:
        if du.replicas(rs) == new_scale:
            return False, rs
        return await self.scale_replica_set(rs, new_scale, d, "up" if du.replicas(rs) < new_scale else "down")

    async def scale_replica_set(self, rs: dict, new_scale: int, d: dict, operation: str) -> Tuple[bool, dict]:
        desired, max_replicas = du.replicas(d), du.replicas(d) + du.max_surge(d)
        size_changes = du.replicas(rs) != new_scale
        if not size_changes and not du.replicas_annotations_need_update(rs, desired, max_replicas):
            return False, rs
        old_scale = du.replicas(rs)
        updated = copy.deepcopy(rs)
        updated["spec"]["replicas"] = new_scale
        du.set_replicas_annotations(updated, desired, max_replicas)
        updated = await self.client.update(REPLICA_SETS, updated)
        if size_changes:
            self.recorder.eventf(d, "Normal", "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d",
                                 operation, updated["metadata"]["name"], old_scale, new_scale)
        return size_changes, updated

    # -- sync.go: scaling events and paused deployments ----------------------------------------------------
    async def sync_scaling(self, d: dict, rs_list: List[dict]) -> None:
        """A paused deployment, or one resized: scale without rolling anything."""
        new_rs, old_sets = await self.get_all_replica_sets_and_sync_revision(d, rs_list, False)
        await self.scale(d, new_rs, old_sets)
        if d["spec"].get("paused") and self.rollback_to(d) is None:
            await self.cleanup_deployment(old_sets, d)
        await self.sync_deployment_status(old_sets + [new_rs], new_rs, d)

    async def scale(self, d: dict, new_rs: Optional[dict], old_sets: List[dict]) -> None:
        target = du.find_active_or_latest(new_rs, old_sets)
        if target is not None:
            if du.replicas(target) != du.replicas(d):
                await self.scale_replica_set_and_record_event(target, du.replicas(d), d)
            return
        if du.is_saturated(d, new_rs):
            for old in du.filter_active(old_sets):
                await self.scale_replica_set_and_record_event(old, 0, d)
            return
        if not du.is_rolling_update(d):
            return
        # Proportional scaling: each active set gets its share of the change, leftovers to the largest.
        active = du.filter_active(old_sets + [new_rs])
        allowed = du.replicas(d) + du.max_surge(d) if du.replicas(d) > 0 else 0
        to_add = allowed - du.replica_count(active)
        operation = ""
        if to_add > 0:
            active, operation = du.by_size(active, newer_first_on_ties=True), "up"
        elif to_add < 0:
            active, operation = du.by_size(active, newer_first_on_ties=False), "down"
        added = 0
        sizes: Dict[str, int] = {}
        for rs in active:
            if to_add != 0:
                proportion = du.replica_set_proportion(rs, d, to_add, added)
                sizes[rs["metadata"]["name"]] = du.replicas(rs) + proportion
                added += proportion
            else:
                sizes[rs["metadata"]["name"]] = du.replicas(rs)
        for i, rs in enumerate(active):
            name = rs["metadata"]["name"]
            if i == 0 and to_add != 0:
                sizes[name] = max(sizes[name] + to_add - added, 0)
            await self.scale_replica_set(rs, sizes[name], d, operation)

    async def cleanup_deployment(self, old_sets: List[dict], d: dict) -> None:
        """Delete the oldest old sets beyond revisionHistoryLimit, if they are scaled to 0 and settled."""
        if not du.has_revision_history_limit(d):
            return
        alive = [rs for rs in old_sets if rs is not None and not rs["metadata"].get("deletionTimestamp")]
        diff = len(alive) - d["spec"]["revisionHistoryLimit"]
        if diff <= 0:
            return
        for rs in du.by_revision(alive)[:diff]:
            status = rs.get("status") or {}
            if status.get("replicas", 0) != 0 or du.replicas(rs) != 0 or \
                    rs["metadata"].get("generation", 0) > status.get("observedGeneration", 0):
                continue
            try:
                await self.client.delete(REPLICA_SETS, rs["metadata"]["name"], rs["metadata"]["namespace"])
            except APIError as e:
                if e.code != 404:
                    raise

    # -- status ---------------------------------------------------------------------------------------------
    def calculate_status(self, all_sets: List[Optional[dict]], new_rs: Optional[dict], d: dict) -> dict:
        available = du.available_replica_count(all_sets)
        unavailable = max(du.replica_count(all_sets) - available, 0)
        old = d.get("status") or {}
        status = {"observedGeneration": d["metadata"].get("generation", 0),
                  "replicas": du.actual_replica_count(all_sets),
                  "updatedReplicas": du.actual_replica_count([new_rs]),
                  "readyReplicas": du.ready_replica_count(all_sets),
                  "availableReplicas": available, "unavailableReplicas": unavailable}
        if old.get("collisionCount") is not None:
            status["collisionCount"] = old["collisionCount"]
        status["conditions"] = copy.deepcopy(old.get("conditions") or [])
        now = self.clock.seconds()
        if available >= du.replicas(d) - du.max_unavailable(d):
            du.set_condition(status, du.new_condition(du.AVAILABLE, "True", du.MINIMUM_REPLICAS_AVAILABLE,
                                                      "Deployment has minimum availability.", now))
        else:
            du.set_condition(status, du.new_condition(du.AVAILABLE, "False", du.MINIMUM_REPLICAS_UNAVAILABLE,
                                                      "Deployment does not have minimum availability.", now))
        return status

    async def sync_deployment_status(self, all_sets: List[Optional[dict]], new_rs: Optional[dict], d: dict) -> None:
        status = self.calculate_status(all_sets, new_rs, d)
        if not same_status(d.get("status"), status):
            await self.update_deployment_status(d, status)

    async def update_deployment_status(self, d: dict, status: Optional[dict] = None) -> dict:
        """Write ``d`` (its status, and its annotations) through /status; ``d`` becomes what the server
        returned, so that later writes in the same sync carry the new resourceVersion."""
        body = {**d, "status": status if status is not None else d.get("status") or {}}
        if not body["status"].get("conditions"):
            body["status"].pop("conditions", None)
        updated = await self.client.update(DEPLOYMENTS, body, subresource="status")
        d.clear()
        d.update(updated)
        return d

    # -- progress.go ------------------------------------------------------------------------------------------
    async def sync_rollout_status(self, all_sets: List[Optional[dict]], new_rs: Optional[dict], d: dict) -> None:
        status = self.calculate_status(all_sets, new_rs, d)
        now = self.clock.seconds()
        if not du.has_progress_deadline(d):
            du.remove_condition(status, du.PROGRESSING)
        current = du.get_condition(d.get("status"), du.PROGRESSING)
        complete = (status["replicas"] == status["updatedReplicas"] and current is not None
                    and current.get("reason") == du.NEW_RS_AVAILABLE_REASON)
        name = d["metadata"]["name"]
        if du.has_progress_deadline(d) and not complete:
            subject = f'ReplicaSet "{new_rs["metadata"]["name"]}"' if new_rs is not None else f'Deployment "{name}"'
            if du.deployment_complete(d, status):
                du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_AVAILABLE_REASON,
                                                          f"{subject} has successfully progressed.", now))
            elif du.deployment_progressing(d, status):
                condition = du.new_condition(du.PROGRESSING, "True", du.RS_UPDATED_REASON,
                                             f"{subject} is progressing.", now)
                # Same reason, fresh lastUpdateTime: progress was seen.
                if current is not None:
                    if current.get("status") == "True":
                        condition["lastTransitionTime"] = current.get("lastTransitionTime")
                    du.remove_condition(status, du.PROGRESSING)
                du.set_condition(status, condition)
            elif du.deployment_timed_out(d, status, now):
                du.set_condition(status, du.new_condition(du.PROGRESSING, "False", du.TIMED_OUT_REASON,
                                                          f"{subject} has timed out progressing.", now))
        failures = self.replica_failures(all_sets, new_rs)
        if failures:
            du.set_condition(status, failures[0])
        else:
            du.remove_condition(status, du.REPLICA_FAILURE)
        if same_status(d.get("status"), status):
            self.requeue_stuck_deployment(d, status)
            return
        await self.update_deployment_status(d, status)

    def replica_failures(self, all_sets: List[Optional[dict]], new_rs: Optional[dict]) -> List[dict]:
        for rs in [new_rs] + [s for s in all_sets if s is not new_rs]:
            if rs is None:
                continue
            for condition in (rs.get("status") or {}).get("conditions") or []:
                if condition.get("type") == du.REPLICA_FAILURE:
                    return [du.replica_set_to_deployment_condition(condition)]
        return []

    def requeue_stuck_deployment(self, d: dict, status: dict) -> None:
        """Without progress, look again when the deadline passes (progress is otherwise only seen on events)."""
        current = du.get_condition(d.get("status"), du.PROGRESSING)
        if not du.has_progress_deadline(d) or current is None:
            return
        if du.deployment_complete(d, status) or current.get("reason") == du.TIMED_OUT_REASON:
            return
        since = meta.parse_time(current["lastUpdateTime"]) if current.get("lastUpdateTime") else self.clock.seconds()
        after = since + d["spec"]["progressDeadlineSeconds"] - self.clock.seconds()
        key = meta_namespace_key(d)
        if after < 1:
            self.queue.add_rate_limited(key)
        else:
            self.queue.add_after(key, after + 1)

    # -- rolling.go -------------------------------------------------------------------------------------------
    async def rollout_rolling(self, d: dict, rs_list: List[dict]) -> None:
        new_rs, old_sets = await self.get_all_replica_sets_and_sync_revision(d, rs_list, True)
        all_sets = old_sets + [new_rs]
        if await self.reconcile_new_replica_set(all_sets, new_rs, d):
            await self.sync_rollout_status(all_sets, new_rs, d)
            return
        if await self.reconcile_old_replica_sets(all_sets, du.filter_active(old_sets), new_rs, d):
            await self.sync_rollout_status(all_sets, new_rs, d)
            return
        if du.deployment_complete(d, d.get("status") or {}):
            await self.cleanup_deployment(old_sets, d)
        await self.sync_rollout_status(all_sets, new_rs, d)

    async def reconcile_new_replica_set(self, all_sets: List[dict], new_rs: dict, d: dict) -> bool:
        if du.replicas(new_rs) == du.replicas(d):
            return False
        if du.replicas(new_rs) > du.replicas(d):
            scaled, _ = await self.scale_replica_set_and_record_event(new_rs, du.replicas(d), d)
            return scaled
        count = du.new_rs_new_replicas(d, all_sets, new_rs)
        scaled, _ = await self.scale_replica_set_and_record_event(new_rs, count, d)
        return scaled

    async def reconcile_old_replica_sets(self, all_sets: List[dict], old_sets: List[dict], new_rs: dict,
                                         d: dict) -> bool:
        if du.replica_count(old_sets) == 0:
            return False
        min_available = du.replicas(d) - du.max_unavailable(d)
        new_unavailable = du.replicas(new_rs) - int((new_rs.get("status") or {}).get("availableReplicas") or 0)
        max_scaled_down = du.replica_count(all_sets) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        try:
            old_sets, cleaned = await self.cleanup_unhealthy_replicas(old_sets, d, max_scaled_down)
            scaled_down = await self.scale_down_old_replica_sets_for_rolling_update(old_sets + [new_rs], old_sets, d)
        except (APIError, InvalidScaleDown):
            return False  # as upstream: the next sync tries again
        return cleaned + scaled_down > 0

    async def cleanup_unhealthy_replicas(self, old_sets: List[dict], d: dict, max_cleanup: int):
        """Scale old sets down by their unavailable replicas first: they cost no availability."""
        old_sets = du.by_creation(old_sets)
        total = 0
        for i, rs in enumerate(old_sets):
            if total >= max_cleanup:
                break
            available = int((rs.get("status") or {}).get("availableReplicas") or 0)
            if du.replicas(rs) == 0 or du.replicas(rs) == available:
                continue
            count = min(max_cleanup - total, du.replicas(rs) - available)
            if count < 0:
                # A status not yet caught up with a scale-down (more available than wanted): never a scale-up.
                raise InvalidScaleDown(f"when cleaning up unhealthy replicas, got invalid request to scale down "
                                       f"{rs['metadata']['namespace']}/{rs['metadata']['name']} "
                                       f"{du.replicas(rs)} -> {du.replicas(rs) - count}")
            _, old_sets[i] = await self.scale_replica_set_and_record_event(rs, du.replicas(rs) - count, d)
            total += count
        return old_sets, total

    async def scale_down_old_replica_sets_for_rolling_update(self, all_sets: List[dict], old_sets: List[dict],
                                                            d: dict) -> int:
        min_available = du.replicas(d) - du.max_unavailable(d)
        available = du.available_replica_count(all_sets)
        if available <= min_available:
            return 0
        total, wanted = 0, available - min_available
        for rs in du.by_creation(old_sets):
            if total >= wanted:
                break
            if du.replicas(rs) == 0:
                continue
            count = min(du.replicas(rs), wanted - total)
            await self.scale_replica_set_and_record_event(rs, du.replicas(rs) - count, d)
            total += count
        return total

    # -- recreate.go ------------------------------------------------------------------------------------------
    async def rollout_recreate(self, d: dict, rs_list: List[dict], pod_map: Dict[str, List[dict]]) -> None:
        new_rs, old_sets = await self.get_all_replica_sets_and_sync_revision(d, rs_list, False)
        all_sets = old_sets + [new_rs]
        scaled_down = False
        for i, rs in enumerate(old_sets):
            if du.replicas(rs) == 0:
                continue
            scaled, old_sets[i] = await self.scale_replica_set_and_record_event(rs, 0, d)
            scaled_down = scaled_down or scaled
        if scaled_down:
            await self.sync_rollout_status(all_sets, new_rs, d)
            return
        if old_pods_running(new_rs, old_sets, pod_map):
            await self.sync_rollout_status(all_sets, new_rs, d)
            return
        if new_rs is None:
            new_rs, old_sets = await self.get_all_replica_sets_and_sync_revision(d, rs_list, True)
            all_sets = old_sets + [new_rs]
        await self.scale_replica_set_and_record_event(new_rs, du.replicas(d), d)
        if du.deployment_complete(d, d.get("status") or {}):
            await self.cleanup_deployment(old_sets, d)
        await self.sync_rollout_status(all_sets, new_rs, d)


def old_pods_running(new_rs: Optional[dict], old_sets: List[dict], pod_map: Dict[str, List[dict]]) -> bool:
    """Old sets still report pods, or some pod of theirs has not finished."""
    if du.actual_replica_count(old_sets) > 0:
        return True
    new_uid = new_rs["metadata"]["uid"] if new_rs is not None else None
    for uid, pods in pod_map.items():
        if uid == new_uid:
            continue
        for pod in pods:
            if (pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded"):
                return True
    return False



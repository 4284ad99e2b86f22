"""deployment-controller: a Deployment owns ReplicaSets named ``<deployment>-<pod-template-hash>``; the one whose
template matches the deployment's is the new one, the others old. It claims sets by selector and
controllerRef, keeps revisions in ``deployment.kubernetes.io/revision`` (and ``revision-history`` on the set
rolled back to), rolls out with RollingUpdate (maxSurge/maxUnavailable) or Recreate, scales proportionally
when resized mid-rollout, honours spec.paused, cleans up beyond revisionHistoryLimit, and reports status with
the Available and Progressing conditions (progressDeadlineSeconds). The moves are in deploymentrollout.py, the
arithmetic in deploymentutil.py."""

from __future__ import annotations

import copy
from typing import Dict, List, Optional, Tuple

from twisted.logger import Logger

from ..client.resources import DEPLOYMENTS, PODS, REPLICA_SETS
from ..client.rest import APIError, namespace_terminating
from . import deploymentutil as du
from .context import ControllerContext, QueueController
from .controllerutils import (ControllerRefManager, by_controller_uid, controller_of, controller_ref, label_selector,
                              recheck_deletion_timestamp)
from .deploymentrollout import RolloutMixin
from .replicaset import CONTROLLER_UID_INDEX

log = Logger()
KIND = "Deployment"
API_VERSION = "apps/v1"


class DeploymentController(RolloutMixin, QueueController):
    name = "deployment-controller"
    workers_option = "concurrent-deployment-syncs"
    default_workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.recorder = ctx.recorder("deployment-controller")
        self.deployments = self.informer(DEPLOYMENTS)
        self.sets = self.informer(REPLICA_SETS)
        self.pods = self.informer(PODS)
        self.sets.indexer.add_indexers({CONTROLLER_UID_INDEX: by_controller_uid})
        self.deployments.add_event_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                           on_delete=self.enqueue)
        self.sets.add_event_handler(on_add=self._set_added, on_update=self._set_updated,
                                    on_delete=self._set_deleted)
        self.pods.add_event_handler(on_delete=self._pod_deleted)

    # -- handlers ---------------------------------------------------------------------------------------------
    def resolve_controller_ref(self, namespace: str, ref: dict) -> Optional[dict]:
        if ref.get("kind") != KIND:
            return None
        d = self.deployments.indexer.get_by_key(namespace, ref.get("name", ""))
        return d if d is not None and d["metadata"].get("uid") == ref.get("uid") else None

    def deployments_for_set(self, rs: dict) -> List[dict]:
        labels = rs["metadata"].get("labels")
        if not labels:
            return []
        found = []
        for d in self.deployments.indexer.by_index("namespace", rs["metadata"].get("namespace", "")):
            try:
                selector = label_selector((d.get("spec") or {}).get("selector"))
            except Exception:
                continue
            if not selector.empty and selector.matches(labels):
                found.append(d)
        return found

    def _set_added(self, rs: dict) -> None:
        if rs["metadata"].get("deletionTimestamp"):
            self._set_deleted(rs)
            return
        ref = controller_of(rs)
        if ref is not None:
            d = self.resolve_controller_ref(rs["metadata"]["namespace"], ref)
            if d is not None:
                self.enqueue(d)
            return
        for d in self.deployments_for_set(rs):
            self.enqueue(d)

    def _set_updated(self, old: dict, new: dict) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        ref, old_ref = controller_of(new), controller_of(old)
        if ref != old_ref and old_ref is not None:
            d = self.resolve_controller_ref(old["metadata"]["namespace"], old_ref)
            if d is not None:
                self.enqueue(d)
        if ref is not None:
            d = self.resolve_controller_ref(new["metadata"]["namespace"], ref)
            if d is not None:
                self.enqueue(d)
            return
        if old["metadata"].get("labels") != new["metadata"].get("labels") or ref != old_ref:
            for d in self.deployments_for_set(new):
                self.enqueue(d)

    def _set_deleted(self, rs: dict) -> None:
        ref = controller_of(rs)
        if ref is not None:
            d = self.resolve_controller_ref(rs["metadata"]["namespace"], ref)
            if d is not None:
                self.enqueue(d)

    def _pod_deleted(self, pod: dict) -> None:
        # Recreate waits for the old pods to be gone: their deletion is what it waits on.
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.sets.indexer.get_by_key(pod["metadata"]["namespace"], ref.get("name", ""))
        if rs is None or rs["metadata"].get("uid") != ref.get("uid"):
            return
        d_ref = controller_of(rs)
        d = self.resolve_controller_ref(rs["metadata"]["namespace"], d_ref) if d_ref else None
        if d is not None and ((d.get("spec") or {}).get("strategy") or {}).get("type") == "Recreate":
            self.enqueue(d)

    # -- the sync ---------------------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        cached = self.deployments.indexer.get(key)
        if cached is None:
            return
        d = copy.deepcopy(cached)
        selector_dict = (d.get("spec") or {}).get("selector")
        if selector_dict is not None and not selector_dict.get("matchLabels") and \
                not selector_dict.get("matchExpressions"):
            self.recorder.event(d, "Warning", "SelectingAll",
                                "This deployment is selecting all pods. A non-empty selector is required.")
            if (d.get("status") or {}).get("observedGeneration", 0) < d["metadata"].get("generation", 0):
                status = dict(d.get("status") or {}, observedGeneration=d["metadata"].get("generation", 0))
                await self.update_deployment_status(d, status)
            return
        rs_list = await self.replica_sets_for_deployment(d)
        pod_map = self.pod_map_for_deployment(d, rs_list)
        if d["metadata"].get("deletionTimestamp"):
            new_rs, old_sets = await self.get_all_replica_sets_and_sync_revision(d, rs_list, False)
            await self.sync_deployment_status(old_sets + [new_rs], new_rs, d)
            return
        await self.check_paused_conditions(d)
        if d["spec"].get("paused"):
            await self.sync_scaling(d, rs_list)
            return
        if self.rollback_to(d) is not None:
            await self.rollback(d, rs_list)
            return
        if await self.is_scaling_event(d, rs_list):
            await self.sync_scaling(d, rs_list)
            return
        if ((d["spec"].get("strategy") or {}).get("type") or "RollingUpdate") == "Recreate":
            await self.rollout_recreate(d, rs_list, pod_map)
        else:
            await self.rollout_rolling(d, rs_list)

    async def replica_sets_for_deployment(self, d: dict) -> List[dict]:
        namespace, name, uid = d["metadata"]["namespace"], d["metadata"]["name"], d["metadata"]["uid"]
        selector = label_selector(d["spec"].get("selector"))
        can_adopt = recheck_deletion_timestamp(lambda: self.client.get(DEPLOYMENTS, name, namespace), uid, KIND)
        manager = ControllerRefManager(self.client, REPLICA_SETS, d, selector, API_VERSION, KIND, can_adopt)
        return await manager.claim(self.sets.indexer.by_index("namespace", namespace))

    def pod_map_for_deployment(self, d: dict, rs_list: List[dict]) -> Dict[str, List[dict]]:
        """The deployment's pods by the uid of the set that controls them."""
        selector = label_selector(d["spec"].get("selector"))
        pod_map: Dict[str, List[dict]] = {rs["metadata"]["uid"]: [] for rs in rs_list}
        for pod in self.pods.indexer.by_index("namespace", d["metadata"]["namespace"]):
            if not selector.matches(pod["metadata"].get("labels") or {}):
                continue
            ref = controller_of(pod)
            if ref is not None and ref.get("uid") in pod_map:
                pod_map[ref["uid"]].append(pod)
        return pod_map

    async def check_paused_conditions(self, d: dict) -> None:
        if not du.has_progress_deadline(d):
            return
        condition = du.get_condition(d.get("status"), du.PROGRESSING)
        if condition is not None and condition.get("reason") == du.TIMED_OUT_REASON:
            return
        paused_recorded = condition is not None and condition.get("reason") == du.PAUSED_DEPLOY_REASON
        now = self.clock.seconds()
        status = copy.deepcopy(d.get("status") or {})
        if d["spec"].get("paused") and not paused_recorded:
            du.set_condition(status, du.new_condition(du.PROGRESSING, "Unknown", du.PAUSED_DEPLOY_REASON,
                                                      "Deployment is paused", now))
        elif not d["spec"].get("paused") and paused_recorded:
            du.set_condition(status, du.new_condition(du.PROGRESSING, "Unknown", du.RESUMED_DEPLOY_REASON,
                                                      "Deployment is resumed", now))
        else:
            return
        await self.update_deployment_status(d, status)

    async def is_scaling_event(self, d: dict, rs_list: List[dict]) -> bool:
        """Some active set was sized for another spec.replicas than the deployment's (desired-replicas)."""
        new_rs, old_sets = await self.get_all_replica_sets_and_sync_revision(d, rs_list, False)
        for rs in du.filter_active(old_sets + [new_rs]):
            desired = du.desired_replicas_annotation(rs)
            if desired is not None and desired != du.replicas(d):
                return True
        return False

    # -- the new set and revisions ---------------------------------------------------------------------------
    async def get_all_replica_sets_and_sync_revision(self, d: dict, rs_list: List[dict],
                                                     create: bool) -> Tuple[Optional[dict], List[dict]]:
        new_rs = find_new_replica_set(d, rs_list)
        old_sets = [rs for rs in rs_list if new_rs is None or rs["metadata"]["uid"] != new_rs["metadata"]["uid"]]
        return await self.get_new_replica_set(d, rs_list, old_sets, create), old_sets

    async def get_new_replica_set(self, d: dict, rs_list: List[dict], old_sets: List[dict],
                                  create: bool) -> Optional[dict]:
        existing = find_new_replica_set(d, rs_list)
        new_revision = str(du.max_revision(old_sets) + 1)
        now = self.clock.seconds()
        if existing is not None:
            rs = copy.deepcopy(existing)
            annotations_changed = du.set_new_replica_set_annotations(d, rs, new_revision, True)
            min_ready = d["spec"].get("minReadySeconds") or 0
            if annotations_changed or (rs["spec"].get("minReadySeconds") or 0) != min_ready:
                rs["spec"]["minReadySeconds"] = min_ready
                return await self.client.update(REPLICA_SETS, rs)
            needs_update = du.set_deployment_revision(d, du.annotations_of(rs).get(du.REVISION_ANNOTATION, ""))
            status = copy.deepcopy(d.get("status") or {})
            if du.has_progress_deadline(d) and du.get_condition(status, du.PROGRESSING) is None:
                du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.FOUND_NEW_RS_REASON,
                                                          f'Found new replica set "{rs["metadata"]["name"]}"', now))
                needs_update = True
            if needs_update:
                await self.update_deployment_status(d, status)
            return rs
        if not create:
            return None
        return await self.create_new_replica_set(d, old_sets, new_revision)

    async def create_new_replica_set(self, d: dict, old_sets: List[dict], new_revision: str) -> dict:
        namespace = d["metadata"]["namespace"]
        template = copy.deepcopy(d["spec"]["template"])
        collision_count = (d.get("status") or {}).get("collisionCount")
        pod_hash = du.compute_hash(template, collision_count)
        template.setdefault("metadata", {})["labels"] = {**(template["metadata"].get("labels") or {}),
                                                         du.POD_TEMPLATE_HASH_LABEL: pod_hash}
        selector = copy.deepcopy(d["spec"]["selector"])
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), du.POD_TEMPLATE_HASH_LABEL: pod_hash}
        new_rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                  "metadata": {"name": f"{d['metadata']['name']}-{pod_hash}", "namespace": namespace,
                               "ownerReferences": [controller_ref(d, API_VERSION, KIND)],
                               "labels": dict(template["metadata"]["labels"])},
                  "spec": {"replicas": 0, "minReadySeconds": d["spec"].get("minReadySeconds") or 0,
                           "selector": selector, "template": template}}
        count = du.new_rs_new_replicas(d, old_sets + [new_rs], new_rs)
        new_rs["spec"]["replicas"] = count
        du.set_new_replica_set_annotations(d, new_rs, new_revision, False)
        now = self.clock.seconds()
        already_exists = False
        try:
            created = await self.client.create(REPLICA_SETS, new_rs, namespace=namespace)
        except APIError as e:
            if e.code == 409 and e.reason == "AlreadyExists":
                already_exists = True
                found = self.sets.indexer.get_by_key(namespace, new_rs["metadata"]["name"])
                if found is None:
                    raise
                ref = controller_of(found)
                if ref is not None and ref.get("uid") == d["metadata"]["uid"] and \
                        du.equal_ignore_hash(d["spec"]["template"], found["spec"]["template"]):
                    created = found
                else:
                    # A hash collision: another template (or owner) has this name; the next hash differs.
                    status = copy.deepcopy(d.get("status") or {})
                    status["collisionCount"] = (status.get("collisionCount") or 0) + 1
                    await self.update_deployment_status(d, status)
                    raise
            elif namespace_terminating(e):
                raise
            else:
                message = f'Failed to create new replica set "{new_rs["metadata"]["name"]}": {e.message}'
                if du.has_progress_deadline(d):
                    status = copy.deepcopy(d.get("status") or {})
                    du.set_condition(status, du.new_condition(du.PROGRESSING, "False", du.FAILED_RS_CREATE_REASON,
                                                              message, now))
                    try:
                        await self.update_deployment_status(d, status)
                    except APIError:
                        pass
                self.recorder.event(d, "Warning", du.FAILED_RS_CREATE_REASON, message)
                raise
        if not already_exists and count > 0:
            self.recorder.eventf(d, "Normal", "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d",
                                 created["metadata"]["name"], count)
        needs_update = du.set_deployment_revision(d, new_revision)
        status = copy.deepcopy(d.get("status") or {})
        if not already_exists and du.has_progress_deadline(d):
            du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_REASON,
                                                      f'Created new replica set "{created["metadata"]["name"]}"', now))
            needs_update = True
        if needs_update:
            await self.update_deployment_status(d, status)
        return created

    # -- rollback.go: the deprecated rollbackTo, carried in an annotation ---------------------------------
    def rollback_to(self, d: dict) -> Optional[int]:
        value = du.annotations_of(d).get(du.ROLLBACK_TO_ANNOTATION)
        if not value:
            return None
        try:
            return int(value)
        except ValueError:
            return None

    async def rollback(self, d: dict, rs_list: List[dict]) -> None:
        new_rs, old_sets = await self.get_all_replica_sets_and_sync_revision(d, rs_list, True)
        all_sets = old_sets + [new_rs]
        target = self.rollback_to(d)
        if target == 0:
            target = du.last_revision(all_sets)
            if target == 0:
                self.recorder.event(d, "Warning", du.ROLLBACK_REVISION_NOT_FOUND, "Unable to find last revision.")
                await self.clear_rollback_to(d)
                return
        for rs in all_sets:
            if rs is not None and du.revision(rs) == target:
                name = d["metadata"]["name"]
                if du.equal_ignore_hash(d["spec"]["template"], rs["spec"]["template"]):
                    self.recorder.event(
                        d, "Warning", du.ROLLBACK_TEMPLATE_UNCHANGED,
                        f'The rollback revision contains the same template as current deployment "{name}"')
                    await self.clear_rollback_to(d)
                    return
                # The template of that revision (without its hash), and that set's annotations, so that the
                # current ones are not copied onto it when it becomes the new set again.
                template = copy.deepcopy(rs["spec"]["template"])
                (template.get("metadata") or {}).get("labels", {}).pop(du.POD_TEMPLATE_HASH_LABEL, None)
                d["spec"]["template"] = template
                du.set_deployment_annotations_to(d, rs)
                await self.clear_rollback_to(d)
                self.recorder.event(d, "Normal", du.ROLLBACK_DONE,
                                    f'Rolled back deployment "{name}" to revision {target}')
                return
        self.recorder.event(d, "Warning", du.ROLLBACK_REVISION_NOT_FOUND, "Unable to find the revision to rollback to.")
        await self.clear_rollback_to(d)

    async def clear_rollback_to(self, d: dict) -> None:
        d["metadata"].get("annotations", {}).pop(du.ROLLBACK_TO_ANNOTATION, None)
        await self.client.update(DEPLOYMENTS, d)


def find_new_replica_set(d: dict, rs_list: List[dict]) -> Optional[dict]:
    """The oldest set whose template equals the deployment's, but for the pod-template-hash label."""
    for rs in du.by_creation(rs_list):
        if du.equal_ignore_hash((rs.get("spec") or {}).get("template"), d["spec"].get("template")):
            return rs
    return None


def start_deployment_controller(ctx: ControllerContext) -> DeploymentController:
    return DeploymentController(ctx)

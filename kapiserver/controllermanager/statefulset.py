"""statefulset-controller: pods ``<set>-<ordinal>`` with stable identity and storage (upstream's
pkg/controller/statefulset).

Per sync of a StatefulSet: its ControllerRevisions give the current and update revision (a new revision when the
template changed); replicas missing from the ordinals ``[start, start+replicas)`` are created, PVCs from the
volumeClaimTemplates first; pods outside them are deleted, highest ordinal first; with OrderedReady each step
waits for the pods before it to be Running and Ready (and gone, when deleting); a RollingUpdate replaces pods
of another revision from the highest ordinal down to the partition, one at a time; OnDelete leaves them.
Status counts the pods; old revisions beyond revisionHistoryLimit are deleted."""

from __future__ import annotations

import copy
import json
import re
from typing import List, Optional

from twisted.logger import Logger

from ..client.cache import split_key
from ..client.resources import CONTROLLER_REVISIONS, PERSISTENT_VOLUME_CLAIMS, PODS, STATEFUL_SETS
from ..client.rest import APIError
from . import history
from .context import ControllerContext, QueueController
from .controllerutils import same_status
from .history import CONTROLLER_REVISION_HASH_LABEL, is_terminating

log = Logger()
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


def parent_and_ordinal(pod: dict):
    match = _ORDINAL.match(pod["metadata"]["name"])
    if not match:
        return None, -1
    return match.group(1), int(match.group(2))


def ordinal_of(pod: dict) -> int:
    return parent_and_ordinal(pod)[1]


def start_ordinal(sset: dict) -> int:
    return int(((sset["spec"].get("ordinals") or {}).get("start")) or 0)


def claim_name(template: dict, sset: dict, ordinal: int) -> str:
    return f"{template['metadata']['name']}-{sset['metadata']['name']}-{ordinal}"


def pod_revision(pod: dict) -> str:
    return (pod["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL, "")


def new_stateful_pod(sset: dict, template: dict, revision_name: str, ordinal: int) -> dict:
    """The pod for ``ordinal`` from ``template`` (the set's or a revision's), with its identity and storage."""
    name = f"{sset['metadata']['name']}-{ordinal}"
    tmeta = template.get("metadata") or {}
    labels = dict(tmeta.get("labels") or {})
    labels.update({POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal),
                   CONTROLLER_REVISION_HASH_LABEL: revision_name})
    # GetPodFromTemplate gives a generateName too; the ordinal name wins.
    metadata = {"name": name, "generateName": f"{sset['metadata']['name']}-",
                "namespace": sset["metadata"]["namespace"], "labels": labels,
                "ownerReferences": [history.controller_ref(sset)]}
    if tmeta.get("annotations"):
        metadata["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        metadata["finalizers"] = list(tmeta["finalizers"])
    spec = copy.deepcopy(template.get("spec") or {})
    spec["hostname"] = name
    if sset["spec"].get("serviceName"):
        spec["subdomain"] = sset["spec"]["serviceName"]
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    for claim in sset["spec"].get("volumeClaimTemplates") or []:
        volumes[claim["metadata"]["name"]] = {
            "name": claim["metadata"]["name"],
            "persistentVolumeClaim": {"claimName": claim_name(claim, sset, ordinal)}}
    if volumes:
        spec["volumes"] = list(volumes.values())
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def claim_owner_refs(sset: dict, pod: Optional[dict], condemned: bool) -> List[dict]:
    """The ownerReferences persistentVolumeClaimRetentionPolicy asks for on a replica's claims
    (updateClaimOwnerRefForSetAndPod), each a controller reference: the pod alone when whenScaled is Delete and
    the replica is being scaled away (the garbage collector deletes a dependent only once all its owners are
    gone), else the set when whenDeleted is Delete."""
    policy = sset["spec"].get("persistentVolumeClaimRetentionPolicy") or {}
    if condemned and pod is not None and policy.get("whenScaled") == "Delete":
        return [{"apiVersion": "v1", "kind": "Pod", "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"],
                 "controller": True, "blockOwnerDeletion": True}]
    if policy.get("whenDeleted") == "Delete":
        return [history.controller_ref(sset)]
    return []


def _names(ref: dict, obj: dict, api_version: str, kind: str) -> bool:
    """matchesRef: the reference names ``obj`` by group-version, kind and name (whatever its uid)."""
    return ref.get("apiVersion") == api_version and ref.get("kind") == kind and \
        ref.get("name") == obj["metadata"]["name"]


def wanted_claim_refs(sset: dict, pod: dict, condemned: bool, refs: List[dict]) -> Optional[List[dict]]:
    """A claim's ownerReferences as the retention policy wants them, or None to leave the claim alone
    (isClaimOwnerUpToDate and updateClaimOwnerRefForSetAndPod): a reference naming the set or the pod with
    another uid is stale (an earlier set's or pod's) and the claim is not touched; when another controller owns
    the claim under a Delete policy, the set's and pod's references are only taken off."""
    for ref in refs:
        for obj, api_version, kind in ((sset, "apps/v1", "StatefulSet"), (pod, "v1", "Pod")):
            if _names(ref, obj, api_version, kind) and ref.get("uid") != obj["metadata"]["uid"]:
                return None
    ours = {sset["metadata"]["uid"], pod["metadata"]["uid"]}
    others = [r for r in refs if not (_names(r, sset, "apps/v1", "StatefulSet") or _names(r, pod, "v1", "Pod"))]
    policy = sset["spec"].get("persistentVolumeClaimRetentionPolicy") or {}
    deletes = "Delete" in (policy.get("whenDeleted"), policy.get("whenScaled"))
    if deletes and any(r.get("controller") and r.get("uid") not in ours for r in others):
        return others
    return others + claim_owner_refs(sset, pod, condemned)


class StatefulSetController(QueueController):
    name = "statefulset-controller"
    workers_option = "concurrent-statefulset-syncs"
    default_workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.sets = self.informer(STATEFUL_SETS)
        self.pods = self.informer(PODS)
        self.revisions = self.informer(CONTROLLER_REVISIONS)
        self.claims = self.informer(PERSISTENT_VOLUME_CLAIMS)
        self.recorder = ctx.recorder("statefulset-controller")
        self.sets.add_event_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                    on_delete=self.enqueue)
        # Revisions wake nobody (as upstream, which only lists them).
        self.pods.add_event_handler(on_add=self._pod_changed,
                                    on_update=lambda old, new: (self._pod_changed(old), self._pod_changed(new)),
                                    on_delete=self._pod_changed)

    def _pod_changed(self, pod: dict) -> None:
        ref = history.controller_of(pod)
        if ref is not None:
            if ref.get("kind") == "StatefulSet":
                self.queue.add(f"{pod['metadata']['namespace']}/{ref['name']}")
            return
        # An orphan wakes the sets that select it (one may adopt it).
        for sset in self.sets.indexer.by_index("namespace", pod["metadata"]["namespace"]):
            if history.selects(sset, pod):
                self.enqueue(sset)

    # -- sync

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        sset = self.sets.indexer.get_by_key(namespace, name)
        if sset is None or is_terminating(sset):
            return
        sset = copy.deepcopy(sset)
        pods = await history.claim(self.client, PODS, sset, self.pods.indexer.by_index("namespace", namespace),
                                   lambda p: history.selects(sset, p) and parent_and_ordinal(p)[0] == name)
        revisions = await self._list_revisions(sset)
        current, update, collisions = await self._revisions(sset, revisions)
        await self._update_replicas(sset, pods, current, update)
        await self._update_status(sset, pods, current, update, collisions)
        await self._truncate_history(sset, pods, revisions, current, update)

    async def _list_revisions(self, sset: dict) -> List[dict]:
        """ListRevisions and adoptOrphanRevisions: the revisions the selector matches that the set controls or
        nobody does, the orphans adopted (those of a set deleted with its dependents orphaned and made again)."""
        revisions = [r for r in self.revisions.indexer.by_index("namespace", sset["metadata"]["namespace"])
                     if history.selects(sset, r) and
                     (history.controller_of(r) is None or history.owned_by(r, sset))]
        orphans = [r for r in revisions if history.controller_of(r) is None]
        if not orphans:
            return revisions
        adopted = await history.claim(self.client, CONTROLLER_REVISIONS, sset, orphans, lambda r: True)
        return [r for r in revisions if history.controller_of(r) is not None] + adopted

    async def _revisions(self, sset: dict, revisions: List[dict]):
        """(current revision, update revision, collisionCount): creates the update revision when new, renumbers
        it when an older equal one comes back."""
        revisions = history.sort_revisions(revisions)
        collisions = int(sset.get("status", {}).get("collisionCount") or 0)
        wanted = history.new_revision(sset, history.template_patch(sset), history.next_revision(revisions),
                                      (sset["spec"]["template"].get("metadata") or {}).get("labels"), collisions)
        # newRevision: the set's annotations go with it (kubectl rollout history reads kubernetes.io/change-cause).
        if sset["metadata"].get("annotations"):
            wanted["metadata"]["annotations"] = dict(sset["metadata"]["annotations"])
        equal = [r for r in revisions if history.equal_revision(r, wanted)]
        if equal and equal[-1] is revisions[-1]:
            update = revisions[-1]
        elif equal:
            update = copy.deepcopy(equal[-1])
            update["revision"] = wanted["revision"]
            update = await self.client.update(CONTROLLER_REVISIONS, update)
        else:
            update = await self._create_revision(sset, wanted, collisions)
            collisions = int(sset.get("status", {}).get("collisionCount") or 0)
        current = next((r for r in revisions if r["metadata"]["name"] == (sset.get("status") or {}).get(
            "currentRevision")), None) or update
        return current, update, collisions

    async def _create_revision(self, sset: dict, wanted: dict, collisions: int) -> dict:
        try:
            return await self.client.create(CONTROLLER_REVISIONS, wanted)
        except APIError as e:
            if e.code != 409:
                raise
        existing = await self.client.get(CONTROLLER_REVISIONS, wanted["metadata"]["name"],
                                         sset["metadata"]["namespace"])
        if history.equal_revision(existing, wanted):
            return existing
        # A hash collision: count it in status, so that the next revision hashes differently.
        status = dict(sset.get("status") or {})
        status["collisionCount"] = collisions + 1
        await self.client.update(STATEFUL_SETS, {**sset, "status": status}, subresource="status")
        raise RuntimeError(f"controller revision {wanted['metadata']['name']} collides; retrying")

    def _template(self, sset: dict, revision: dict, update: dict) -> dict:
        if revision["metadata"]["name"] == update["metadata"]["name"]:
            return sset["spec"]["template"]
        return history.template_from_revision(revision)

    def _new_pod(self, sset: dict, index: int, current: dict, update: dict) -> dict:
        """newVersionedStatefulSetPod: replicas below the partition are made at the current revision."""
        strategy = sset["spec"].get("updateStrategy") or {}
        revision = update
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            if index < int((strategy.get("rollingUpdate") or {}).get("partition") or 0):
                revision = current
        return new_stateful_pod(sset, self._template(sset, revision, update), revision["metadata"]["name"],
                                start_ordinal(sset) + index)

    def _healthy(self, sset: dict, pod: dict) -> bool:
        """Upstream's isHealthy with minReadySeconds: running, ready, available and not terminating (a pod being
        deleted is not healthy, so a rolling update waits for it to go before taking the next)."""
        if is_terminating(pod):
            return False
        min_ready = int(sset["spec"].get("minReadySeconds") or 0)
        ok = history.is_running_and_ready(pod) and history.is_available(pod, min_ready, self.clock.seconds())
        if not ok and history.is_running_and_ready(pod):
            self.queue.add_after(f"{sset['metadata']['namespace']}/{sset['metadata']['name']}", 1.0)
        return ok

    async def _update_replicas(self, sset: dict, pods: List[dict], current: dict, update: dict) -> None:
        monotonic = sset["spec"].get("podManagementPolicy", "OrderedReady") != "Parallel"
        count = int(sset["spec"].get("replicas", 1))
        start = start_ordinal(sset)
        replicas: List[Optional[dict]] = [None] * count
        condemned = []
        for pod in pods:
            index = ordinal_of(pod) - start
            if 0 <= index < count:
                replicas[index] = pod
            else:
                condemned.append(pod)
        condemned.sort(key=ordinal_of, reverse=True)
        first_unhealthy = next((p for p in [*replicas, *condemned[::-1]]
                                if p is not None and not self._healthy(sset, p)), None)

        for index in range(count):
            pod = replicas[index]
            if pod is not None and history.phase(pod) in ("Failed", "Succeeded"):
                # processReplica: a finished pod is deleted, without an event of its own (upstream emits no
                # RecreatingFailedPod/RecreatingTerminatedPod since kubernetes#123809), and made again once gone.
                if not is_terminating(pod):
                    await self._delete_pod(sset, pod)
                if monotonic:
                    return
                continue
            if pod is None:
                new = self._new_pod(sset, index, current, update)
                await self._create_claims(sset, new)
                await self._create_pod(sset, new)
                if monotonic:
                    return
                continue
            if history.phase(pod) == "Pending" and not is_terminating(pod):
                # createMissingPersistentVolumeClaims: a pending pod may wait on a claim deleted under it.
                await self._create_claims(sset, pod)
            if is_terminating(pod) and monotonic:
                return
            if not self._healthy(sset, pod) and monotonic:
                return
            await self._update_identity(sset, pod)
            await self._update_claim_refs(sset, pod, condemned=False)

        for pod in condemned:
            if is_terminating(pod):
                if monotonic:
                    return
                continue
            # Only the first unhealthy pod may go while unhealthy; another unhealthy one blocks.
            if monotonic and not self._healthy(sset, pod) and pod is not first_unhealthy:
                return
            await self._update_claim_refs(sset, pod, condemned=True)
            await self._delete_pod(sset, pod)
            if monotonic:
                return

        strategy = sset["spec"].get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        for index in range(count - 1, max(partition, 0) - 1, -1):
            pod = replicas[index]
            if pod is None:
                return
            if pod_revision(pod) != update["metadata"]["name"] and not is_terminating(pod):
                await self._delete_pod(sset, pod)
                return
            if not self._healthy(sset, pod):
                return

    async def _update_identity(self, sset: dict, pod: dict) -> None:
        """identityMatches or UpdateStatefulPod: the identity labels put back when changed by hand."""
        labels = pod["metadata"].get("labels") or {}
        wanted = {POD_NAME_LABEL: pod["metadata"]["name"], POD_INDEX_LABEL: str(ordinal_of(pod))}
        if all(labels.get(k) == v for k, v in wanted.items()):
            return
        try:
            await self.client.patch(PODS, pod["metadata"]["name"],
                                    {"metadata": {"labels": wanted,
                                                  "resourceVersion": pod["metadata"]["resourceVersion"]}},
                                    pod["metadata"]["namespace"])
        except APIError as e:
            if e.code in (404, 409):
                return
            self._pod_event(sset, pod, "update", e)
            raise
        self._pod_event(sset, pod, "update")

    # -- writes, with upstream's events

    async def _create_pod(self, sset: dict, pod: dict) -> None:
        try:
            await self.client.create(PODS, pod)
        except APIError as e:
            if e.code == 409:
                return
            self._pod_event(sset, pod, "create", e)
            raise
        self._pod_event(sset, pod, "create")

    async def _delete_pod(self, sset: dict, pod: dict) -> None:
        try:
            await self.client.delete(PODS, pod["metadata"]["name"], pod["metadata"]["namespace"],
                                     preconditions={"uid": pod["metadata"]["uid"]})
        except APIError as e:
            if e.code in (404, 409):
                return
            self._pod_event(sset, pod, "delete", e)
            raise
        self._pod_event(sset, pod, "delete")

    def _pod_event(self, sset: dict, pod: dict, verb: str, error: Optional[APIError] = None) -> None:
        title = verb.title()
        if error is None:
            self.recorder.event(sset, "Normal", f"Successful{title}",
                                f"{verb} Pod {pod['metadata']['name']} in StatefulSet {sset['metadata']['name']} "
                                "successful")
        else:
            self.recorder.event(sset, "Warning", f"Failed{title}",
                                f"{verb} Pod {pod['metadata']['name']} in StatefulSet {sset['metadata']['name']} "
                                f"failed error: {error.message}")

    async def _create_claims(self, sset: dict, pod: dict) -> None:
        ordinal = ordinal_of(pod)
        selector_labels = (sset["spec"].get("selector") or {}).get("matchLabels") or {}
        for template in sset["spec"].get("volumeClaimTemplates") or []:
            name = claim_name(template, sset, ordinal)
            existing = self.claims.indexer.get_by_key(sset["metadata"]["namespace"], name)
            if existing is not None:
                if is_terminating(existing):
                    raise RuntimeError(f"pvc {name} is being deleted")
                continue
            claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                     "metadata": {"name": name, "namespace": sset["metadata"]["namespace"],
                                  "labels": {**(template["metadata"].get("labels") or {}), **selector_labels}},
                     "spec": copy.deepcopy(template.get("spec") or {})}
            if template["metadata"].get("annotations"):
                claim["metadata"]["annotations"] = dict(template["metadata"]["annotations"])
            refs = claim_owner_refs(sset, None, False)
            if refs:
                claim["metadata"]["ownerReferences"] = refs
            message = f"Claim {name} Pod {pod['metadata']['name']} in StatefulSet {sset['metadata']['name']}"
            try:
                await self.client.create(PERSISTENT_VOLUME_CLAIMS, claim)
            except APIError as e:
                if e.code == 409:
                    continue
                self.recorder.event(sset, "Warning", "FailedCreate",
                                    f"create Claim {name} for Pod {pod['metadata']['name']} in StatefulSet "
                                    f"{sset['metadata']['name']} failed error: {e.message}")
                raise
            self.recorder.event(sset, "Normal", "SuccessfulCreate", f"create {message} success")

    async def _update_claim_refs(self, sset: dict, pod: dict, condemned: bool) -> None:
        """Keep each claim's ownerReferences to the set and the pod as the retention policy says."""
        ordinal = ordinal_of(pod)
        for template in sset["spec"].get("volumeClaimTemplates") or []:
            claim = self.claims.indexer.get_by_key(sset["metadata"]["namespace"], claim_name(template, sset, ordinal))
            if claim is None:
                continue
            refs = claim["metadata"].get("ownerReferences") or []
            wanted = wanted_claim_refs(sset, pod, condemned, refs)
            if wanted is None or sorted(json.dumps(r, sort_keys=True) for r in wanted) == \
                    sorted(json.dumps(r, sort_keys=True) for r in refs):
                continue
            await self.client.patch(PERSISTENT_VOLUME_CLAIMS, claim["metadata"]["name"],
                                    {"metadata": {"ownerReferences": wanted,
                                                  "resourceVersion": claim["metadata"]["resourceVersion"]}},
                                    claim["metadata"]["namespace"])

    # -- status and history

    def status_of(self, sset: dict, pods: List[dict], current: dict, update: dict, collisions: int) -> dict:
        now = self.clock.seconds()
        min_ready = int(sset["spec"].get("minReadySeconds") or 0)
        status = {"observedGeneration": sset["metadata"].get("generation", 0), "replicas": 0, "readyReplicas": 0,
                  "currentReplicas": 0, "updatedReplicas": 0, "availableReplicas": 0,
                  "currentRevision": current["metadata"]["name"], "updateRevision": update["metadata"]["name"],
                  "collisionCount": collisions}
        for pod in pods:
            status["replicas"] += 1
            if history.is_running_and_ready(pod):
                status["readyReplicas"] += 1
                if history.is_available(pod, min_ready, now):
                    status["availableReplicas"] += 1
            if not is_terminating(pod):
                revision = pod_revision(pod)
                if revision == status["currentRevision"]:
                    status["currentReplicas"] += 1
                if revision == status["updateRevision"]:
                    status["updatedReplicas"] += 1
        # completeRollingUpdate: done once every desired replica (spec.replicas, not the pods there are now)
        # exists, is updated and is ready.
        strategy = (sset["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate")
        desired = int(sset["spec"].get("replicas", 1))
        if strategy == "RollingUpdate" and \
                status["updatedReplicas"] == status["readyReplicas"] == status["replicas"] == desired:
            status["currentReplicas"] = status["updatedReplicas"]
            status["currentRevision"] = status["updateRevision"]
        conditions = (sset.get("status") or {}).get("conditions")
        if conditions:
            status["conditions"] = conditions
        return status

    async def _update_status(self, sset: dict, pods: List[dict], current: dict, update: dict,
                             collisions: int) -> None:
        status = self.status_of(sset, pods, current, update, collisions)
        if same_status(sset.get("status"), status):
            return
        await self.client.update(STATEFUL_SETS, {**sset, "status": status}, subresource="status")

    async def _truncate_history(self, sset: dict, pods: List[dict], revisions: List[dict], current: dict,
                                update: dict) -> None:
        live = {pod_revision(p) for p in pods} | {current["metadata"]["name"], update["metadata"]["name"]}
        history_ = [r for r in history.sort_revisions(revisions) if r["metadata"]["name"] not in live]
        limit = int(sset["spec"].get("revisionHistoryLimit", 10))
        for revision in history_[:max(len(history_) - limit, 0)]:
            try:
                await self.client.delete(CONTROLLER_REVISIONS, revision["metadata"]["name"],
                                         revision["metadata"]["namespace"])
            except APIError as e:
                if e.code != 404:
                    raise


def start_statefulset_controller(ctx: ControllerContext) -> StatefulSetController:
    return StatefulSetController(ctx)

"""daemonset-controller: one pod of each DaemonSet on every node it should run on (upstream's
pkg/controller/daemon).

A node is eligible when the template's nodeSelector and required node affinity fit it and its NoSchedule and
NoExecute taints are tolerated (the template's tolerations plus the daemon tolerations upstream adds). Pods are
made with ``generateName: <set>-`` and a required node affinity term ``matchFields metadata.name In [node]``
for the scheduler to honour, labelled ``controller-revision-hash`` and ``pod-template-generation``. Failed pods
are deleted (and made again); pods on nodes they should not run on are deleted. RollingUpdate replaces old
pods within maxUnavailable (or, with maxSurge, starts the new pod first); OnDelete waits for deletion.
Expectations keep a sync from acting on a cache that has not seen its own creations and deletions."""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

from ..client.cache import split_key
from ..client.expectations import ControllerExpectations
from ..client.resources import CONTROLLER_REVISIONS, DAEMON_SETS, NODES, PODS
from ..client.rest import APIError
from ..machinery.selectors import label_selector_from_dict
from . import history
from .controllerutils import same_status, scaled_value
from .context import ControllerContext, QueueController
from .history import CONTROLLER_REVISION_HASH_LABEL, is_available, is_ready, is_terminating, phase
from .nodeaffinity import add_daemon_tolerations, replace_node_name_affinity, should_run, target_node_name

TEMPLATE_GENERATION_LABEL = "pod-template-generation"
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"


def template_generation(ds: dict) -> Optional[str]:
    annotations = ds["metadata"].get("annotations") or {}
    if annotations.get(TEMPLATE_GENERATION_ANNOTATION):
        return annotations[TEMPLATE_GENERATION_ANNOTATION]
    # A set stored before the apiserver kept the annotation: its generation stands in for it.
    generation = ds["metadata"].get("generation")
    return str(generation) if generation is not None else None


def node_pod_spec(ds: dict) -> dict:
    """NewPod's spec: the template's, with the daemon tolerations (what eligibility is judged on)."""
    spec = copy.deepcopy(ds["spec"]["template"].get("spec") or {})
    add_daemon_tolerations(spec)
    return spec


def new_daemon_pod(ds: dict, node_name: str, hash_: str) -> dict:
    template = ds["spec"]["template"]
    tmeta = template.get("metadata") or {}
    labels = dict(tmeta.get("labels") or {})
    labels[CONTROLLER_REVISION_HASH_LABEL] = hash_
    generation = template_generation(ds)
    if generation is not None:
        labels[TEMPLATE_GENERATION_LABEL] = generation
    spec = node_pod_spec(ds)
    spec["affinity"] = replace_node_name_affinity(spec.get("affinity"), node_name)
    metadata = {"generateName": f"{ds['metadata']['name']}-", "namespace": ds["metadata"]["namespace"],
                "labels": labels, "ownerReferences": [history.controller_ref(ds)]}
    if tmeta.get("annotations"):
        metadata["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        metadata["finalizers"] = list(tmeta["finalizers"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def is_updated(pod: dict, hash_: str, generation: Optional[str] = None) -> bool:
    """util.IsPodUpdated: the pod carries the current revision's hash, or the set's template generation."""
    labels = pod["metadata"].get("labels") or {}
    return bool(hash_) and labels.get(CONTROLLER_REVISION_HASH_LABEL) == hash_ or \
        generation is not None and labels.get(TEMPLATE_GENERATION_LABEL) == generation


def by_age(pods: List[dict]) -> List[dict]:
    return sorted(pods, key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]))


def split_updated(pods: List[dict], hash_: str, generation: Optional[str] = None
                  ) -> Tuple[Optional[dict], Optional[dict]]:
    """findUpdatedPodsOnNode: (the oldest updated pod, the oldest old pod) on one node."""
    live = [p for p in by_age(pods) if not is_terminating(p)]
    new = next((p for p in live if is_updated(p, hash_, generation)), None)
    old = next((p for p in live if not is_updated(p, hash_, generation)), None)
    return new, old


def surge_and_unavailable(ds: dict, desired: int) -> Tuple[int, int]:
    """(maxSurge, maxUnavailable) of a RollingUpdate, scaled against the nodes that should run the pod."""
    rolling = (ds["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {}
    surge = scaled_value(rolling.get("maxSurge", 0), desired, True)
    unavailable = scaled_value(rolling.get("maxUnavailable", 1), desired, True)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


class DaemonSetsController(QueueController):
    name = "daemonset-controller"
    workers_option = "concurrent-daemonset-syncs"
    default_workers = 2

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.sets = self.informer(DAEMON_SETS)
        self.pods = self.informer(PODS)
        self.nodes = self.informer(NODES)
        self.revisions = self.informer(CONTROLLER_REVISIONS)
        self.recorder = ctx.recorder("daemonset-controller")
        self.expectations = ControllerExpectations(ctx.clock)
        self.sets.add_event_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                    on_delete=self.enqueue)
        self.pods.add_event_handler(on_add=self._pod_added, on_update=self._pod_updated,
                                    on_delete=self._pod_deleted)
        # As upstream: a revision's creation wakes nobody (so a revision made by hand is not at once taken for
        # a duplicate); its update or deletion wakes its owner.
        self.revisions.add_event_handler(on_update=lambda old, new: self._owner(new), on_delete=self._owner)
        self.nodes.add_event_handler(on_add=self._node_added, on_update=self._node_updated,
                                     on_delete=lambda node: None)
        self._failed_backoff: Dict[Tuple[str, str], Tuple[float, float]] = {}

    def _owner_key(self, obj: dict) -> Optional[str]:
        ref = history.controller_of(obj)
        if ref is None or ref.get("kind") != "DaemonSet":
            return None
        ds = self.sets.indexer.get_by_key(obj["metadata"]["namespace"], ref["name"])
        if ds is None or ds["metadata"]["uid"] != ref.get("uid"):
            return None
        return f"{obj['metadata']['namespace']}/{ref['name']}"

    def _owner(self, obj: dict) -> None:
        key = self._owner_key(obj)
        if key:
            self.queue.add(key)

    def _orphan(self, pod: dict) -> None:
        """An orphan pod wakes the DaemonSets that select it (one may adopt it)."""
        for ds in self.sets.indexer.by_index("namespace", pod["metadata"]["namespace"]):
            if history.selects(ds, pod):
                self.enqueue(ds)

    def _pod_added(self, pod: dict) -> None:
        if is_terminating(pod):
            self._pod_deleted(pod)
            return
        key = self._owner_key(pod)
        if key:
            self.expectations.creation_observed(key)
            self.queue.add(key)
        elif history.controller_of(pod) is None:
            self._orphan(pod)

    def _pod_updated(self, old: dict, new: dict) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        if is_terminating(new):
            self._pod_deleted(new)
            return
        if history.controller_of(old) != history.controller_of(new):
            self._owner(old)
        key = self._owner_key(new)
        if key:
            self.queue.add(key)
            ds = self.sets.indexer.get(key)
            min_ready = int((ds or {}).get("spec", {}).get("minReadySeconds") or 0)
            if min_ready and not is_ready(old) and is_ready(new):
                self.queue.add_after(key, min_ready + 1)
        elif history.controller_of(new) is None and (old["metadata"].get("labels") != new["metadata"].get("labels")
                                                      or history.controller_of(old) is not None):
            self._orphan(new)

    def _pod_deleted(self, pod: dict) -> None:
        key = self._owner_key(pod)
        if key:
            self.expectations.deletion_observed(key)
            self.queue.add(key)

    def _node_added(self, node: dict) -> None:
        for ds in self.sets.indexer.list():
            if self._eligibility(ds, node)[0]:
                self.enqueue(ds)

    def _node_updated(self, old: dict, new: dict) -> None:
        if old["metadata"].get("labels") == new["metadata"].get("labels") and \
                (old.get("spec") or {}).get("taints") == (new.get("spec") or {}).get("taints"):
            return
        for ds in self.sets.indexer.list():
            if self._eligibility(ds, old) != self._eligibility(ds, new):
                self.enqueue(ds)

    # -- sync

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        ds = self.sets.indexer.get_by_key(namespace, name)
        if ds is None:
            self.expectations.delete_expectations(key)
            return
        ds = copy.deepcopy(ds)
        if label_selector_from_dict(ds["spec"].get("selector")).empty:
            self.recorder.event(ds, "Warning", "SelectingAll",
                                "This daemon set is selecting all pods. A non-empty selector is required.")
            return
        if is_terminating(ds):
            return
        # Adopt orphans the selector matches, release pods it no longer does.
        claimed = await history.claim(self.client, PODS, ds, self.pods.indexer.by_index("namespace", namespace),
                                      lambda p: history.selects(ds, p))
        current, old = await self._history(ds)
        hash_ = current["metadata"]["labels"][CONTROLLER_REVISION_HASH_LABEL]
        nodes = self.nodes.indexer.list()
        # While earlier creations and deletions are unobserved, only the counts are written: observedGeneration
        # stays, as this generation has not been acted on.
        observed = self.expectations.satisfied_expectations(key)
        if observed:
            await self._manage(key, ds, nodes, hash_, claimed)
            if self.expectations.satisfied_expectations(key) and \
                    (ds["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
                await self._rolling_update(key, ds, nodes, hash_)
            await self._cleanup_history(ds, old)
        await self._update_status(ds, nodes, hash_, observed)

    def _node_pods(self, ds: dict, pods: Optional[List[dict]] = None) -> Dict[str, List[dict]]:
        """getNodesToDaemonPods: the pods the set controls (``pods``, else those the cache shows it owning) by
        their node; a pod being deleted counts (no new pod until it is gone) unless it has finished."""
        by_node: Dict[str, List[dict]] = defaultdict(list)
        if pods is None:
            pods = [p for p in self.pods.indexer.by_index("namespace", ds["metadata"]["namespace"])
                    if history.owned_by(p, ds)]
        for pod in pods:
            if is_terminating(pod) and phase(pod) in ("Succeeded", "Failed"):
                continue
            by_node[target_node_name(pod)].append(pod)
        return by_node

    def _failed_pod_backoff(self, ds: dict, node_name: str) -> Optional[float]:
        """failedPodsBackoff (1 s doubling to 15 min per set and node): the delay still to wait before deleting
        another failed pod there, or None (and the backoff stepped) when it may go now."""
        key = (ds["metadata"]["uid"], node_name)
        now = self.clock.seconds()
        delay, since = self._failed_backoff.get(key, (0.0, 0.0))
        if delay and now - since < delay:
            return delay - (now - since)
        if delay and now - since > 2 * 900.0:
            delay = 0.0
        self._failed_backoff[key] = (min(delay * 2, 900.0) if delay else 1.0, now)
        return None

    def _eligibility(self, ds: dict, node: dict) -> Tuple[bool, bool]:
        spec = node_pod_spec(ds)
        if spec.get("nodeName") and spec["nodeName"] != node["metadata"]["name"]:
            return False, False
        return should_run(spec, node)

    async def _manage(self, key: str, ds: dict, nodes: List[dict], hash_: str, claimed: List[dict]) -> None:
        by_node = self._node_pods(ds, claimed)
        surge, _ = surge_and_unavailable(ds, len(nodes)) if self._rolling(ds) else (0, 0)
        create: List[str] = []
        delete: List[dict] = []
        for node in nodes:
            node_name = node["metadata"]["name"]
            run, keep = self._eligibility(ds, node)
            pods = by_node.get(node_name, [])
            if run and not pods:
                create.append(node_name)
            elif keep:
                live = []
                for pod in pods:
                    if is_terminating(pod):
                        continue
                    where = f"{pod['metadata']['namespace']}/{pod['metadata']['name']} on node {node_name}"
                    if phase(pod) == "Failed":
                        wait = self._failed_pod_backoff(ds, node_name)
                        if wait is not None:
                            self.queue.add_after(key, wait)
                            continue
                        self.recorder.event(ds, "Warning", "FailedDaemonPod",
                                            f"Found failed daemon pod {where}, will try to kill it")
                        delete.append(pod)
                    elif phase(pod) == "Succeeded":
                        self.recorder.event(ds, "Normal", "SucceededDaemonPod",
                                            f"Found succeeded daemon pod {where}, will try to delete it")
                        delete.append(pod)
                    else:
                        live.append(pod)
                if surge > 0:
                    new, old = split_updated(live, hash_, template_generation(ds))
                    delete.extend(p for p in live if p is not new and p is not old)
                else:
                    delete.extend(by_age(live)[1:])
            else:
                delete.extend(p for p in pods if not is_terminating(p))
        # getUnscheduledPodsWithoutNode: of the pods meant for a node that does not exist, those not yet bound
        # go (nothing else would delete them); bound ones are left to the pod garbage collector.
        known = {n["metadata"]["name"] for n in nodes}
        for node_name, pods in by_node.items():
            if node_name not in known:
                delete.extend(p for p in pods if not is_terminating(p) and not (p.get("spec") or {}).get("nodeName"))
        await self._sync_nodes(key, ds, delete, create, hash_)

    def _rolling(self, ds: dict) -> bool:
        return (ds["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"

    async def _rolling_update(self, key: str, ds: dict, nodes: List[dict], hash_: str) -> None:
        by_node = self._node_pods(ds)
        eligible = [n["metadata"]["name"] for n in nodes if self._eligibility(ds, n)[0]]
        surge, unavailable_budget = surge_and_unavailable(ds, len(eligible))
        now = self.clock.seconds()
        min_ready = int(ds["spec"].get("minReadySeconds") or 0)
        if surge == 0:
            unavailable, allowed, candidates = 0, [], []
            for node_name in eligible:
                new, old = split_updated(by_node.get(node_name, []), hash_, template_generation(ds))
                if (new is None) == (old is None):
                    unavailable += 1
                elif new is not None:
                    if not is_available(new, min_ready, now):
                        unavailable += 1
                elif not is_available(old, min_ready, now):
                    allowed.append(old)
                else:
                    candidates.append(old)
            remaining = min(max(unavailable_budget - unavailable, 0), len(candidates))
            await self._sync_nodes(key, ds, allowed + candidates[:remaining], [], hash_)
            return
        surging, allowed_nodes, candidate_nodes, delete = 0, [], [], []
        for node_name in eligible:
            new, old = split_updated(by_node.get(node_name, []), hash_, template_generation(ds))
            if old is None:
                continue
            if new is None:
                (candidate_nodes if is_available(old, min_ready, now) else allowed_nodes).append(node_name)
            elif is_available(new, min_ready, now):
                delete.append(old)
            else:
                surging += 1
        remaining = min(max(surge - surging, 0), len(candidate_nodes))
        await self._sync_nodes(key, ds, delete, allowed_nodes + candidate_nodes[:remaining], hash_)

    async def _sync_nodes(self, key: str, ds: dict, delete: List[dict], create: List[str], hash_: str) -> None:
        if not delete and not create:
            return
        self.expectations.set_expectations(key, len(create), len(delete))
        errors = []
        for node_name in create:
            pod = new_daemon_pod(ds, node_name, hash_)
            try:
                created = await self.client.create(PODS, pod)
            except APIError as e:
                self.expectations.creation_observed(key)
                if e.code == 403 and "being terminated" in (e.message or ""):
                    continue
                self.recorder.event(ds, "Warning", "FailedCreate", f"Error creating: {e.message}")
                errors.append(e)
                continue
            self.recorder.event(ds, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
        for pod in delete:
            try:
                await self.client.delete(PODS, pod["metadata"]["name"], pod["metadata"]["namespace"],
                                         preconditions={"uid": pod["metadata"]["uid"]})
            except APIError as e:
                self.expectations.deletion_observed(key)
                if e.code in (404, 409):
                    continue
                self.recorder.event(ds, "Warning", "FailedDelete", f"Error deleting: {e.message}")
                errors.append(e)
                continue
            self.recorder.event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
        if errors:
            raise errors[0]

    # -- history and status

    async def _history(self, ds: dict) -> Tuple[dict, List[dict]]:
        """constructHistory: (the current revision, the others), making or renumbering the current one. As
        controlledHistories, orphaned revisions the selector matches are adopted first (those of a set deleted
        with its dependents orphaned and made again), and owned ones it no longer matches released."""
        namespace = ds["metadata"]["namespace"]
        owned = history.sort_revisions(await history.claim(
            self.client, CONTROLLER_REVISIONS, ds, self.revisions.indexer.by_index("namespace", namespace),
            lambda r: history.selects(ds, r)))
        collisions = int((ds.get("status") or {}).get("collisionCount") or 0)
        patch = history.template_patch(ds)
        equal = [r for r in owned if r.get("data") == patch]
        top = history.next_revision(owned)
        if not equal:
            current = await self._create_revision(ds, patch, top, collisions)
        else:
            current = equal[-1]
            for duplicate in equal[:-1]:
                await self._relabel_pods(ds, duplicate, current)
                await self._delete_revision(duplicate)
            if current.get("revision", 0) < top - 1:
                current = await self.client.update(CONTROLLER_REVISIONS, {**current, "revision": top})
        return current, [r for r in owned if r not in equal]

    async def _create_revision(self, ds: dict, patch: dict, number: int, collisions: int) -> dict:
        hash_ = history.hash_revision_data(ds["spec"]["template"], collisions)
        labels = dict((ds["spec"]["template"].get("metadata") or {}).get("labels") or {})
        labels[CONTROLLER_REVISION_HASH_LABEL] = hash_
        revision = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                    "metadata": {"name": f"{ds['metadata']['name']}-{hash_}",
                                 "namespace": ds["metadata"]["namespace"], "labels": labels,
                                 "ownerReferences": [history.controller_ref(ds)]},
                    "data": patch, "revision": number}
        # snapshot: the set's annotations go with it (kubectl rollout history reads kubernetes.io/change-cause).
        if ds["metadata"].get("annotations"):
            revision["metadata"]["annotations"] = dict(ds["metadata"]["annotations"])
        try:
            return await self.client.create(CONTROLLER_REVISIONS, revision)
        except APIError as e:
            if e.code != 409:
                raise
        existing = await self.client.get(CONTROLLER_REVISIONS, revision["metadata"]["name"],
                                         ds["metadata"]["namespace"])
        if existing.get("data") == patch and history.owned_by(existing, ds):
            return existing
        status = dict(ds.get("status") or {})
        status["collisionCount"] = collisions + 1
        await self.client.update(DAEMON_SETS, {**ds, "status": status}, subresource="status")
        raise RuntimeError(f"controller revision {revision['metadata']['name']} collides; retrying")

    async def _relabel_pods(self, ds: dict, duplicate: dict, keep: dict) -> None:
        """dedupCurHistories: pods of a duplicate revision take the hash of the one kept (so that they are not
        taken for old pods)."""
        old_hash = (duplicate["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL)
        new_hash = keep["metadata"]["labels"][CONTROLLER_REVISION_HASH_LABEL]
        for pod in self.pods.indexer.by_index("namespace", ds["metadata"]["namespace"]):
            if history.owned_by(pod, ds) and old_hash and old_hash != new_hash and \
                    (pod["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL) == old_hash:
                await self.client.patch(PODS, pod["metadata"]["name"],
                                        {"metadata": {"labels": {CONTROLLER_REVISION_HASH_LABEL: new_hash}}},
                                        pod["metadata"]["namespace"])

    async def _delete_revision(self, revision: dict) -> None:
        try:
            await self.client.delete(CONTROLLER_REVISIONS, revision["metadata"]["name"],
                                     revision["metadata"]["namespace"])
        except APIError as e:
            if e.code != 404:
                raise

    async def _cleanup_history(self, ds: dict, old: List[dict]) -> None:
        limit = int(ds["spec"].get("revisionHistoryLimit", 10))
        live = {(p["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL)
                for pods in self._node_pods(ds).values() for p in pods}
        dead = [r for r in history.sort_revisions(old)
                if (r["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL) not in live]
        for revision in dead[:max(len(dead) - limit, 0)]:
            await self._delete_revision(revision)

    def status_of(self, ds: dict, nodes: List[dict], hash_: str, observed: bool = True) -> dict:
        by_node = self._node_pods(ds)
        now = self.clock.seconds()
        min_ready = int(ds["spec"].get("minReadySeconds") or 0)
        counts = dict.fromkeys(("desiredNumberScheduled", "currentNumberScheduled", "numberMisscheduled",
                                "numberReady", "numberAvailable", "updatedNumberScheduled"), 0)
        for node in nodes:
            run, _ = self._eligibility(ds, node)
            pods = by_age(by_node.get(node["metadata"]["name"], []))
            if not run:
                if pods:
                    counts["numberMisscheduled"] += 1
                continue
            counts["desiredNumberScheduled"] += 1
            if not pods:
                continue
            counts["currentNumberScheduled"] += 1
            if is_ready(pods[0]):
                counts["numberReady"] += 1
                if is_available(pods[0], min_ready, now):
                    counts["numberAvailable"] += 1
            # As upstream, the oldest pod on the node speaks for it (with surge, the old one until it goes).
            if is_updated(pods[0], hash_, template_generation(ds)):
                counts["updatedNumberScheduled"] += 1
        status = {"currentNumberScheduled": counts["currentNumberScheduled"],
                  "numberMisscheduled": counts["numberMisscheduled"],
                  "desiredNumberScheduled": counts["desiredNumberScheduled"],
                  "numberReady": counts["numberReady"],
                  "observedGeneration": ds["metadata"].get("generation", 0) if observed else
                  (ds.get("status") or {}).get("observedGeneration", 0),
                  "updatedNumberScheduled": counts["updatedNumberScheduled"],
                  "numberAvailable": counts["numberAvailable"]}
        unavailable = counts["desiredNumberScheduled"] - counts["numberAvailable"]
        if unavailable:
            status["numberUnavailable"] = unavailable
        previous = ds.get("status") or {}
        for kept in ("collisionCount", "conditions"):
            if previous.get(kept) is not None:
                status[kept] = previous[kept]
        if min_ready and counts["numberReady"] > counts["numberAvailable"]:
            self.queue.add_after(f"{ds['metadata']['namespace']}/{ds['metadata']['name']}", 1.0)
        return status

    async def _update_status(self, ds: dict, nodes: List[dict], hash_: str, observed: bool = True) -> None:
        status = self.status_of(ds, nodes, hash_, observed)
        if same_status(ds.get("status"), status):
            return
        await self.client.update(DAEMON_SETS, {**ds, "status": status}, subresource="status")


def start_daemonset_controller(ctx: ControllerContext) -> DaemonSetsController:
    return DaemonSetsController(ctx)

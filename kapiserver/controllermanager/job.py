"""job-controller: runs a Job's pods to completion (pkg/controller/job).

Pods come from the template with the tracking finalizer ``batch.kubernetes.io/job-tracking``; a finished pod
is first recorded in ``status.uncountedTerminatedPods``, its finalizer removed, and only then counted in
``succeeded``/``failed``.  Parallelism, completions, NonIndexed and Indexed completion (index annotation,
label, ``JOB_COMPLETION_INDEX``, hostname ``<job>-<index>``, ``completedIndexes`` as ranges), backoffLimit with
exponential pod-creation backoff, backoffLimitPerIndex/maxFailedIndexes, podFailurePolicy, activeDeadlineSeconds,
suspend, and 1.32's two-step ends: FailureTarget then Failed, SuccessCriteriaMet then Complete, the final
condition written once no pod is terminating."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set

from ..client.cache import split_key
from ..client.expectations import ControllerExpectations
from ..client.resources import JOBS, PODS
from ..client.rest import APIError, namespace_terminating
from ..machinery import meta
from ..machinery.selectors import label_selector_from_dict
from . import jobpods
from . import jobutil as u
from .jobpods import is_indexed, job_ref
from .context import ControllerContext, QueueController

MANAGED_BY = "kubernetes.io/job-controller"
MAX_UNCOUNTED_PODS = 500
MAX_POD_CREATE_DELETE_PER_SYNC = 500
ORPHAN = "orphan-pod:"      # queue keys of pods whose tracking finalizer outlived their Job


def controller_ref(obj: dict) -> Optional[dict]:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


@dataclass
class SyncState:
    """What one sync of a Job has found and decided (syncJobCtx)."""
    job: dict
    pods: List[dict]
    active_pods: List[dict]
    ready: int
    terminating: int
    uncounted_succeeded: Set[str]
    uncounted_failed: Set[str]
    expected_rm_finalizers: Set[str]
    succeeded: int = 0
    failed: int = 0
    finished_condition: Optional[dict] = None
    prev_succeeded_indexes: List[int] = field(default_factory=list)
    succeeded_indexes: List[int] = field(default_factory=list)
    failed_indexes: Optional[List[int]] = None
    delayed: Dict[int, dict] = field(default_factory=dict)     # index -> failed pod kept until it is replaced
    backoff: u.BackoffRecord = field(default_factory=u.BackoffRecord)


class JobController(QueueController):
    name = "job-controller"
    workers_option = "concurrent-job-syncs"
    default_workers = 5
    pod_failure_backoff = u.POD_FAILURE_BACKOFF          # instance attributes tests may shorten
    max_pod_failure_backoff = u.MAX_POD_FAILURE_BACKOFF

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.recorder = ctx.recorder("job-controller")
        self.expectations = ControllerExpectations(ctx.clock)
        self.finalizer_expectations: Dict[str, Set[str]] = {}
        self.backoff: Dict[str, u.BackoffRecord] = {}
        self.jobs = self.informer(JOBS)
        self.pods = self.informer(PODS)
        self.pods.indexer.add_indexers({"job-controller-uid": lambda p: [r["uid"] for r in [controller_ref(p)]
                                                                         if r and r.get("kind") == "Job"]})
        self.jobs.add_event_handler(on_add=self.enqueue, on_update=self._job_updated, on_delete=self._job_deleted)
        self.pods.add_event_handler(on_add=self._pod_added, on_update=self._pod_updated,
                                    on_delete=self._pod_deleted)

    # -- handlers: enqueue keys, note observations -------------------------------------------------------
    def _resolve(self, pod: dict, ref: Optional[dict]) -> Optional[dict]:
        if ref is None or ref.get("kind") != "Job":
            return None
        job = self.jobs.indexer.get_by_key(pod["metadata"]["namespace"], ref.get("name", ""))
        return job if job is not None and job["metadata"]["uid"] == ref.get("uid") else None

    def _matching_jobs(self, pod: dict) -> List[dict]:
        labels = pod["metadata"].get("labels") or {}
        found = []
        for job in self.jobs.indexer.by_index("namespace", pod["metadata"]["namespace"]):
            selector = job.get("spec", {}).get("selector")
            if selector and labels and label_selector_from_dict(selector).matches(labels):
                found.append(job)
        return found

    def _pod_added(self, pod: dict) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self._pod_deleted(pod, final=False)
            return
        ref = controller_ref(pod)
        if ref is not None:
            job = self._resolve(pod, ref)
            if job is not None:
                key = f"{pod['metadata']['namespace']}/{job['metadata']['name']}"
                self.expectations.creation_observed(key)
                self.queue.add(key)
            return
        if u.has_tracking_finalizer(pod):
            self._enqueue_orphan(pod)
        for job in self._matching_jobs(pod):
            self.enqueue(job)

    def _pod_updated(self, old: dict, new: dict) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        if new["metadata"].get("deletionTimestamp"):
            self._pod_deleted(new, final=False)
            return
        removed = not u.has_tracking_finalizer(new)
        ref, old_ref = controller_ref(new), controller_ref(old)
        for r in ([old_ref] if old_ref != ref else []) + [ref]:
            job = self._resolve(new, r)
            if job is not None:
                key = f"{new['metadata']['namespace']}/{job['metadata']['name']}"
                if removed:
                    self.finalizer_expectations.get(key, set()).discard(new["metadata"]["uid"])
                self.queue.add(key)
        if ref is not None:
            return
        if u.has_tracking_finalizer(new):
            self._enqueue_orphan(new)
        if old["metadata"].get("labels") != new["metadata"].get("labels") or old_ref != ref:
            for job in self._matching_jobs(new):
                self.enqueue(job)

    def _pod_deleted(self, pod: dict, final: bool = True) -> None:
        ref = controller_ref(pod)
        job = self._resolve(pod, ref)
        if job is None or u.is_finished(job):
            if u.has_tracking_finalizer(pod):
                self._enqueue_orphan(pod)       # a finished Job's sync does not remove it
            return
        key = f"{pod['metadata']['namespace']}/{job['metadata']['name']}"
        self.expectations.deletion_observed(key)
        if final or not u.has_tracking_finalizer(pod):
            self.finalizer_expectations.get(key, set()).discard(pod["metadata"]["uid"])
        self.queue.add(key)

    def _job_updated(self, old: dict, new: dict) -> None:
        self.enqueue(new)
        if u.is_finished(new):          # a backstop: its pods' finalizers should be gone already
            self._cleanup_pod_finalizers(new)

    def _cleanup_pod_finalizers(self, job: dict) -> None:
        for pod in self.pods.indexer.by_index("job-controller-uid", job["metadata"]["uid"]):
            if u.has_tracking_finalizer(pod):
                self._enqueue_orphan(pod)

    def _job_deleted(self, job: dict) -> None:
        self.enqueue(job)
        self._cleanup_pod_finalizers(job)

    def _enqueue_orphan(self, pod: dict) -> None:
        self.queue.add(f"{ORPHAN}{pod['metadata']['namespace']}/{pod['metadata']['name']}")

    # -- sync ------------------------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        if key.startswith(ORPHAN):
            await self._sync_orphan(key[len(ORPHAN):])
        else:
            await self.sync_job(key)

    async def _sync_orphan(self, key: str) -> None:
        namespace, name = split_key(key)
        pod = self.pods.indexer.get_by_key(namespace, name)
        if pod is None or not u.has_tracking_finalizer(pod):
            return
        ref = controller_ref(pod)
        if ref is not None and (ref.get("kind") != "Job" or ref.get("apiVersion") != "batch/v1"):
            return          # its controller is not a Job: the finalizer is not ours to remove
        job = self._resolve(pod, ref)
        if job is not None and not u.is_finished(job):
            return
        await self._remove_finalizer(pod)

    async def _remove_finalizer(self, pod: dict) -> None:
        try:
            await self.client.patch(PODS, pod["metadata"]["name"],
                                    {"metadata": {"$deleteFromPrimitiveList/finalizers": [u.JOB_TRACKING_FINALIZER]}},
                                    pod["metadata"]["namespace"], patch_type="strategic")
        except APIError as e:
            if e.code != 404:
                raise

    async def sync_job(self, key: str) -> None:
        namespace, name = split_key(key)
        shared = self.jobs.indexer.get_by_key(namespace, name)
        if shared is None:
            self.expectations.delete_expectations(key)
            self.finalizer_expectations.pop(key, None)
            self.backoff.pop(key, None)
            return
        managed_by = shared.get("spec", {}).get("managedBy")
        if managed_by and managed_by != MANAGED_BY:
            return
        if u.is_finished(shared):
            self.backoff.pop(key, None)
            return
        job = copy.deepcopy(shared)
        spec, status = job["spec"], job.setdefault("status", {})
        if spec.get("completionMode", "NonIndexed") not in ("NonIndexed", "Indexed"):
            self.recorder.event(job, "Warning", "UnknownCompletionMode",
                                "Skipped Job sync because completion mode is unknown")
            return
        uncounted = status.get("uncountedTerminatedPods") or {}
        status["uncountedTerminatedPods"] = {"succeeded": list(uncounted.get("succeeded") or []),
                                             "failed": list(uncounted.get("failed") or [])}
        satisfied = self.expectations.satisfied_expectations(key)
        pods = await self._pods_for_job(job)
        active_pods = [p for p in pods if u.is_active(p)]
        now = self.clock.seconds()
        st = SyncState(job=job, pods=pods, active_pods=active_pods, ready=sum(map(u.is_ready, active_pods)),
                       terminating=sum(map(u.is_terminating, pods)),
                       uncounted_succeeded=set(status["uncountedTerminatedPods"]["succeeded"]),
                       uncounted_failed=set(status["uncountedTerminatedPods"]["failed"]),
                       expected_rm_finalizers=set(self.finalizer_expectations.get(key, set())))
        active = len(active_pods)
        new_succeeded, new_failed = self._new_finished_pods(st)
        policy = spec.get("podFailurePolicy")
        st.succeeded = status.get("succeeded", 0) + len(new_succeeded) + len(st.uncounted_succeeded)
        st.failed = (status.get("failed", 0) + len(st.uncounted_failed) +
                     sum(1 for p in new_failed if u.match_pod_failure_policy(policy, p)[1]))
        suspended = bool(spec.get("suspend"))
        if not status.get("startTime") and not suspended:
            status["startTime"] = meta.rfc3339(now)
        st.backoff = u.next_backoff_record(self.backoff.get(key, u.BackoffRecord()), new_succeeded, new_failed,
                                           now)
        self._decide_failure(st, key, now)
        if is_indexed(job):
            self._indexes(st, now)
        manage_error: Optional[Exception] = None
        suspend_changed = False
        if st.finished_condition is not None:
            deleted_ready, deleted, manage_error = await self._delete_pods(job, st.active_pods, keep_finalizer=True)
            if deleted != active or not satisfied:
                st.finished_condition = None        # pods may still appear or terminate: not finished yet
            active -= deleted
            st.terminating += deleted
            st.ready -= deleted_ready
        else:
            manage_called = False
            if satisfied and not job["metadata"].get("deletionTimestamp"):
                active, manage_error = await self._manage(key, st)
                manage_called = True
            completions = spec.get("completions")
            complete = (st.succeeded > 0 if completions is None else st.succeeded >= completions) and active == 0
            if complete:
                st.finished_condition = u.new_condition("SuccessCriteriaMet", "True", "CompletionsReached",
                                                        "Reached expected number of succeeded pods", now)
            elif manage_called:
                conditions = status.setdefault("conditions", [])
                if suspended:
                    if u.ensure_condition(conditions, "Suspended", "True", "JobSuspended", "Job suspended", now):
                        suspend_changed = True
                        self.recorder.event(job, "Normal", "Suspended", "Job suspended")
                elif u.ensure_condition(conditions, "Suspended", "False", "JobResumed", "Job resumed", now):
                    suspend_changed = True
                    self.recorder.event(job, "Normal", "Resumed", "Job resumed")
                    status["startTime"] = meta.rfc3339(now)
        needs_update = (suspend_changed or active != status.get("active", 0) or st.ready != status.get("ready")
                        or st.terminating != status.get("terminating"))
        status["active"], status["ready"], status["terminating"] = active, st.ready, st.terminating
        await self._track_status(key, st, needs_update, now)
        if manage_error is not None:
            raise manage_error

    def _new_finished_pods(self, st: SyncState):
        succeeded, failed = [], []
        for pod in st.pods:
            uid = pod["metadata"]["uid"]
            if not u.has_tracking_finalizer(pod) or uid in st.expected_rm_finalizers:
                continue
            if is_indexed(st.job):
                index = u.completion_index(pod)
                if index == u.UNKNOWN_INDEX or index >= st.job["spec"]["completions"]:
                    continue
            if u.phase(pod) == "Succeeded" and uid not in st.uncounted_succeeded:
                succeeded.append(pod)
            elif u.is_pod_failed(pod, st.job) and uid not in st.uncounted_failed:
                failed.append(pod)
        return succeeded, failed

    def _failure(self, reason: str, message: str, now: float) -> dict:
        return u.new_condition("FailureTarget", "True", reason, message, now)

    def _decide_failure(self, st: SyncState, key: str, now: float) -> None:
        job, spec = st.job, st.job["spec"]
        st.finished_condition = u.find_condition(job, "SuccessCriteriaMet")
        if st.finished_condition is not None and st.finished_condition.get("status") != "True":
            st.finished_condition = None
        if st.finished_condition is None:
            target = u.find_condition(job, "FailureTarget")
            if target is not None and target.get("status") == "True":
                st.finished_condition = u.new_condition("Failed", "True", target.get("reason", ""),
                                                         target.get("message", ""), now)
            elif spec.get("podFailurePolicy") is not None:
                for pod in st.pods:
                    if u.is_pod_failed(pod, job):
                        message = u.match_pod_failure_policy(spec["podFailurePolicy"], pod)[0]
                        if message is not None:
                            st.finished_condition = u.new_condition("FailureTarget", "True", "PodFailurePolicy",
                                                                    message, now)
                            break
        if st.finished_condition is not None:
            return
        start = job["status"].get("startTime")
        deadline = spec.get("activeDeadlineSeconds")
        suspended = bool(spec.get("suspend"))
        if st.failed > spec.get("backoffLimit", 6) or jobpods.past_backoff_limit_on_failure(job, st.pods):
            st.finished_condition = self._failure("BackoffLimitExceeded", "Job has reached the specified backoff limit",
                                                  now)
        elif deadline is not None and start and not suspended and now - meta.parse_time(start) >= deadline:
            st.finished_condition = self._failure("DeadlineExceeded", "Job was active longer than specified deadline",
                                                  now)
        elif deadline is not None and start and not suspended:
            self.queue.add_after(key, deadline - (now - meta.parse_time(start)))

    def _indexes(self, st: SyncState, now: float) -> None:
        job, spec = st.job, st.job["spec"]
        completions = spec["completions"]
        st.prev_succeeded_indexes = u.parse_indexes(job["status"].get("completedIndexes"), completions)
        found = set(st.prev_succeeded_indexes)
        for pod in st.pods:
            index = u.completion_index(pod)
            if u.phase(pod) == "Succeeded" and u.has_tracking_finalizer(pod) and 0 <= index < completions:
                found.add(index)
        st.succeeded_indexes = sorted(found)
        st.succeeded = len(found)
        if spec.get("backoffLimitPerIndex") is not None:
            failed = set(u.parse_indexes(job["status"].get("failedIndexes"), completions))
            for pod in st.pods:     # calculateFailedIndexes: the failed pods not yet counted
                index = u.completion_index(pod)
                if not (0 <= index < completions) or not u.has_tracking_finalizer(pod) or \
                        not u.is_pod_failed(pod, job):
                    continue
                _, counts, action = u.match_pod_failure_policy(spec.get("podFailurePolicy"), pod)
                if action == "FailIndex" or (counts and
                                             jobpods.index_failure_count(pod) >= spec["backoffLimitPerIndex"]):
                    failed.add(index)
            st.failed_indexes = sorted(failed)
            st.delayed = jobpods.pods_with_delayed_deletion(job, st.pods, st.active_pods, found, failed,
                                                            st.expected_rm_finalizers, now)
            if st.finished_condition is None:
                max_failed = spec.get("maxFailedIndexes")
                if max_failed is not None and len(failed) > max_failed:
                    st.finished_condition = self._failure(
                        "MaxFailedIndexesExceeded", "Job has exceeded the specified maximal number of failed indexes",
                        now)
                elif failed and len(failed) + len(found) >= completions:
                    st.finished_condition = self._failure("FailedIndexes", "Job has failed indexes", now)
        if st.finished_condition is None:
            message = jobpods.success_policy_message(spec.get("successPolicy"), completions, st.succeeded_indexes)
            if message is not None:
                st.finished_condition = u.new_condition("SuccessCriteriaMet", "True", "SuccessPolicy", message, now)

    # -- pods of the job: claim (adopt and release) -------------------------------------------------------
    async def _pods_for_job(self, job: dict) -> List[dict]:
        selector = label_selector_from_dict(job["spec"].get("selector"))
        uid = job["metadata"]["uid"]
        deleting = bool(job["metadata"].get("deletionTimestamp"))
        claimed, orphans = [], []
        for pod in self.pods.indexer.by_index("namespace", job["metadata"]["namespace"]):
            ref = controller_ref(pod)
            matches = selector.matches(pod["metadata"].get("labels") or {})
            if ref is not None:
                if ref.get("uid") != uid:
                    continue
                if matches or deleting:
                    claimed.append(pod)
                else:
                    await self._release(pod, uid)
            elif matches and not deleting and not pod["metadata"].get("deletionTimestamp"):
                orphans.append(pod)
        if orphans:
            fresh = await self.client.get(JOBS, job["metadata"]["name"], job["metadata"]["namespace"])
            if fresh["metadata"]["uid"] != uid or fresh["metadata"].get("deletionTimestamp"):
                return claimed
            for pod in orphans:
                finalizers = [] if u.has_tracking_finalizer(pod) else [u.JOB_TRACKING_FINALIZER]
                try:
                    adopted = await self.client.patch(
                        PODS, pod["metadata"]["name"],
                        {"metadata": {"ownerReferences": [job_ref(job)], "uid": pod["metadata"]["uid"],
                                      **({"finalizers": finalizers} if finalizers else {})}},
                        pod["metadata"]["namespace"], patch_type="strategic")
                except APIError as e:
                    if e.code in (404, 409, 422):
                        continue
                    raise
                claimed.append(adopted)
        return claimed

    async def _release(self, pod: dict, uid: str) -> None:
        try:
            await self.client.patch(PODS, pod["metadata"]["name"],
                                    {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": uid}],
                                                  "uid": pod["metadata"]["uid"]}},
                                    pod["metadata"]["namespace"], patch_type="strategic")
        except APIError as e:
            if e.code not in (404, 409, 422):
                raise

    # -- manageJob -----------------------------------------------------------------------------------------
    async def _manage(self, key: str, st: SyncState):
        """Create or delete pods toward the wanted number active; (active, error)."""
        job, spec = st.job, st.job["spec"]
        active = len(st.active_pods)
        if spec.get("suspend"):
            self.expectations.expect_deletions(key, active)
            ready, removed, error = await self._delete_pods(job, st.active_pods, key=key)
            st.terminating += removed
            st.ready -= ready
            return active - removed, error
        parallelism = spec.get("parallelism", 1)
        completions = spec.get("completions")
        if completions is None:
            want = active if st.succeeded > 0 else parallelism
        else:
            want = max(0, min(completions - st.succeeded, parallelism))
        remove = jobpods.pods_for_removal(job, st.active_pods, st.succeeded_indexes,
                                          max(0, active - want))[:MAX_POD_CREATE_DELETE_PER_SYNC]
        if remove:
            self.expectations.expect_deletions(key, len(remove))
            ready, removed, error = await self._delete_pods(job, remove, key=key)
            st.terminating += removed
            st.ready -= ready
            return active - removed, error
        terminating = st.terminating if u.only_replace_failed_pods(job) else 0
        diff = min(want - terminating - active, MAX_POD_CREATE_DELETE_PER_SYNC)
        if diff <= 0:
            return active, None
        if spec.get("backoffLimitPerIndex") is None:
            wait = u.remaining_backoff(st.backoff, self.clock.seconds(), self.pod_failure_backoff,
                                       self.max_pod_failure_backoff)
            if wait > 0:
                self.queue.add_after(key, wait)
                return 0, None
        indexes: List[Optional[int]] = [None] * diff
        if is_indexed(job):
            indexes = jobpods.pending_indexes(job, st.pods, st.active_pods, st.succeeded_indexes,
                                              st.failed_indexes or [], diff)
            if spec.get("backoffLimitPerIndex") is not None:
                now = self.clock.seconds()
                waits = {i: u.remaining_backoff(jobpods.index_backoff(st.delayed.get(i), now), now,
                                                self.pod_failure_backoff, self.max_pod_failure_backoff)
                         for i in indexes}
                ready = [i for i in indexes if waits[i] <= 0]
                if indexes and not ready:
                    self.queue.add_after(key, min(waits.values()))
                    return 0, None
                indexes = ready
            diff = len(indexes)
        self.expectations.expect_creations(key, diff)
        error = None
        created = 0
        batch = 1
        while indexes:
            chunk, indexes = indexes[:batch], indexes[batch:]
            failures = 0
            for index in chunk:
                try:
                    await self._create_pod(job, index, st)
                    created += 1
                except APIError as e:
                    self.expectations.creation_observed(key)
                    if e.code == 403 and namespace_terminating(e):
                        continue
                    failures += 1
                    error = e
            if failures:
                for _ in indexes:                 # skipped: not expected any more
                    self.expectations.creation_observed(key)
                break
            batch *= 2
        return active + created, error

    async def _create_pod(self, job: dict, index: Optional[int], st: SyncState) -> None:
        failures, ignored = jobpods.new_index_failure_counts(job, st.delayed.get(index)) if index is not None \
            else (0, 0)
        try:
            created = await self.client.create(PODS, jobpods.pod_from_template(job, index, failures, ignored))
        except APIError as e:
            self.recorder.eventf(job, "Warning", "FailedCreate", "Error creating: %s", e.message)
            raise
        self.recorder.eventf(job, "Normal", "SuccessfulCreate", "Created pod: %s", created["metadata"]["name"])

    async def _delete_pods(self, job: dict, pods: List[dict], key: Optional[str] = None,
                           keep_finalizer: bool = False):
        """Delete pods (removing the tracking finalizer first unless kept); (ready deleted, deleted, error)."""
        ready = deleted = 0
        error = None
        for pod in pods:
            try:
                if not keep_finalizer and u.has_tracking_finalizer(pod):
                    await self._remove_finalizer(pod)
                await self.client.delete(PODS, pod["metadata"]["name"], pod["metadata"]["namespace"])
                self.recorder.eventf(job, "Normal", "SuccessfulDelete", "Deleted pod: %s", pod["metadata"]["name"])
            except APIError as e:
                if key is not None:
                    self.expectations.deletion_observed(key)
                if e.code != 404:
                    self.recorder.eventf(job, "Warning", "FailedDelete", "Error deleting: %s", e.message)
                    error = e
                    continue
            deleted += 1
            ready += u.is_ready(pod)
        return ready, deleted, error

    # -- status: uncounted pods, finalizers, counters, final conditions ---------------------------------------
    async def _track_status(self, key: str, st: SyncState, needs_flush: bool, now: float) -> None:
        job = st.job
        status = job["status"]
        uncounted = status["uncountedTerminatedPods"]
        indexed = is_indexed(job)
        pods = sorted(st.pods, key=u.completion_index) if indexed else st.pods
        with_finalizer = {p["metadata"]["uid"] for p in pods
                          if u.has_tracking_finalizer(p) and p["metadata"]["uid"] not in st.expected_rm_finalizers}
        if self._count_uncounted(status, with_finalizer):
            needs_flush = True
        to_remove: List[dict] = []
        new_indexes: List[int] = []
        capped = False
        policy = job["spec"].get("podFailurePolicy")
        failing_job = st.finished_condition is not None and st.finished_condition["type"] != "SuccessCriteriaMet"
        for pod in pods:
            uid = pod["metadata"]["uid"]
            if not u.has_tracking_finalizer(pod) or uid in st.expected_rm_finalizers:
                continue
            failed = u.is_pod_failed(pod, job)
            if not (job["metadata"].get("deletionTimestamp") or st.finished_condition is not None or
                    u.phase(pod) == "Succeeded" or failed):
                continue
            if not (job["metadata"].get("deletionTimestamp") or st.finished_condition is not None or
                    u.phase(pod) == "Succeeded") and \
                    (st.delayed.get(u.completion_index(pod)) or {}).get("metadata", {}).get("uid") == uid:
                continue        # canRemoveFinalizer: kept until the index's replacement pod exists
            to_remove.append(pod)
            index = u.completion_index(pod)
            if u.phase(pod) == "Succeeded" and uid not in st.uncounted_failed:
                if indexed:
                    if 0 <= index < job["spec"]["completions"] and index not in st.prev_succeeded_indexes:
                        new_indexes.append(index)
                        needs_flush = True
                elif uid not in st.uncounted_succeeded:
                    uncounted["succeeded"].append(uid)
                    needs_flush = True
            elif failed or failing_job:
                if uid not in st.uncounted_failed and (not indexed or 0 <= index < job["spec"]["completions"]):
                    if u.match_pod_failure_policy(policy, pod)[1]:
                        uncounted["failed"].append(uid)
                        needs_flush = True
            if len(new_indexes) + len(uncounted["succeeded"]) + len(uncounted["failed"]) >= MAX_UNCOUNTED_PODS:
                capped = True
                break
        if indexed:
            st.succeeded_indexes = sorted(set(st.succeeded_indexes) | set(new_indexes))
            text = u.format_indexes(st.succeeded_indexes)
            if text != (status.get("completedIndexes") or ""):
                needs_flush = True
            status["succeeded"] = len(st.succeeded_indexes)
            status["completedIndexes"] = text
            failed_text = None if st.failed_indexes is None else u.format_indexes(st.failed_indexes)
            if failed_text != status.get("failedIndexes"):
                status["failedIndexes"] = failed_text
                needs_flush = True
        final = st.finished_condition
        conditions = status.setdefault("conditions", [])
        if final is not None and final["type"] == "FailureTarget":
            conditions.append(final)
            needs_flush = True
            final = st.finished_condition = u.new_condition("Failed", "True", final["reason"], final["message"], now)
        if final is not None and final["type"] == "SuccessCriteriaMet":
            if not u.has_true_condition(job, "SuccessCriteriaMet"):
                conditions.append(final)
                needs_flush = True
            final = st.finished_condition = u.new_condition("Complete", "True", final["reason"], final["message"],
                                                            now)
        if needs_flush:
            job = st.job = await self._update_status(job)
            self.backoff[key] = st.backoff
            needs_flush = False
        status = job["status"]
        status.setdefault("uncountedTerminatedPods", {})
        status["uncountedTerminatedPods"] = {"succeeded": list(status["uncountedTerminatedPods"].get("succeeded")
                                                               or []),
                                             "failed": list(status["uncountedTerminatedPods"].get("failed") or [])}
        error = None
        if to_remove:
            self.finalizer_expectations.setdefault(key, set()).update(p["metadata"]["uid"] for p in to_remove)
            for pod in to_remove:
                try:
                    await self._remove_finalizer(pod)
                    with_finalizer.discard(pod["metadata"]["uid"])
                except APIError as e:
                    self.finalizer_expectations[key].discard(pod["metadata"]["uid"])
                    error = e
        if self._count_uncounted(status, with_finalizer):
            needs_flush = True
        if error is not None:
            if needs_flush:
                await self._update_status(job)
            raise error
        finished = not capped and self._enact_finished(st, job, now)
        if finished or needs_flush:
            job = await self._update_status(job)
            if finished:
                self._record_finished(job, st.finished_condition)

    @staticmethod
    def _count_uncounted(status: dict, with_finalizer: Set[str]) -> bool:
        """Count the uncounted pods whose finalizer is gone; whether anything changed."""
        changed = False
        uncounted = status["uncountedTerminatedPods"]
        for kind in ("succeeded", "failed"):
            kept = [uid for uid in uncounted[kind] if uid in with_finalizer]
            if len(kept) != len(uncounted[kind]):
                status[kind] = status.get(kind, 0) + len(uncounted[kind]) - len(kept)
                uncounted[kind] = kept
                changed = True
        return changed

    def _enact_finished(self, st: SyncState, job: dict, now: float) -> bool:
        final = st.finished_condition
        if final is None:
            return False
        uncounted = job["status"].get("uncountedTerminatedPods") or {}
        if uncounted.get("succeeded") or uncounted.get("failed") or st.terminating > 0:
            return False
        conditions = job["status"].setdefault("conditions", [])
        u.ensure_condition(conditions, final["type"], "True", final["reason"], final["message"], now)
        if final["type"] == "Complete":
            job["status"]["completionTime"] = meta.rfc3339(now)
        return True

    def _record_finished(self, job: dict, final: dict) -> None:
        if final["type"] == "Complete":
            completions = job["spec"].get("completions")
            if completions is not None and job["status"].get("succeeded", 0) > completions:
                self.recorder.event(job, "Warning", "TooManySucceededPods",
                                    "Too many succeeded pods running after completion count reached")
            self.recorder.event(job, "Normal", "Completed", "Job completed")
        else:
            self.recorder.event(job, "Warning", final["reason"], final["message"])

    async def _update_status(self, job: dict) -> dict:
        updated = await self.client.update(JOBS, job, subresource="status")
        updated.setdefault("status", {})
        uncounted = updated["status"].get("uncountedTerminatedPods") or {}
        updated["status"]["uncountedTerminatedPods"] = {"succeeded": list(uncounted.get("succeeded") or []),
                                                        "failed": list(uncounted.get("failed") or [])}
        return updated


def start_job_controller(ctx: ControllerContext) -> JobController:
    return JobController(ctx)

"""What the job controller makes of a Job's pods, without I/O: the pod built from the template (finalizer,
owner, and for Indexed jobs the completion index annotation, label, hostname and ``JOB_COMPLETION_INDEX``),
which active pods to remove first, which indexes still need a pod, and the OnFailure restart limit."""

from __future__ import annotations

import copy
from typing import Iterable, List, Optional, Set, Tuple

from . import jobutil as u

# generateName prefixes are cut so the generated name stays a valid DNS label (MaxGeneratedNameLength).
MAX_GENERATED_PREFIX = 58


def job_ref(job: dict) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "name": job["metadata"]["name"],
            "uid": job["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def is_indexed(job: dict) -> bool:
    return job["spec"].get("completionMode") == "Indexed"


def pod_from_template(job: dict, index: Optional[int] = None, index_failures: int = 0,
                      index_ignored_failures: int = 0) -> dict:
    """The pod to create for ``job`` (for ``index`` of an Indexed job; with backoffLimitPerIndex, the failures
    counted and ignored in the index so far)."""
    template = copy.deepcopy(job["spec"].get("template") or {})
    tmeta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    name = job["metadata"]["name"]
    labels = dict(tmeta.get("labels") or {})
    annotations = dict(tmeta.get("annotations") or {})
    finalizers = list(tmeta.get("finalizers") or [])
    if u.JOB_TRACKING_FINALIZER not in finalizers:
        finalizers.append(u.JOB_TRACKING_FINALIZER)
    generate_name = f"{name}-"[:MAX_GENERATED_PREFIX]
    if index is not None:
        annotations[u.JOB_COMPLETION_INDEX] = str(index)
        labels[u.JOB_COMPLETION_INDEX] = str(index)
        spec["hostname"] = f"{name}-{index}"
        suffix = f"-{index}-"
        generate_name = name[:max(0, MAX_GENERATED_PREFIX - len(suffix))] + suffix
        for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            env = container.setdefault("env", [])
            if not any(e.get("name") == u.COMPLETION_INDEX_ENV for e in env):
                env.append({"name": u.COMPLETION_INDEX_ENV, "valueFrom": {"fieldRef": {
                    "fieldPath": f"metadata.labels['{u.JOB_COMPLETION_INDEX}']"}}})
        if job["spec"].get("backoffLimitPerIndex") is not None:
            annotations[u.JOB_INDEX_FAILURE_COUNT] = str(index_failures)
            if index_ignored_failures > 0:
                annotations[u.JOB_INDEX_IGNORED_FAILURE_COUNT] = str(index_ignored_failures)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"generateName": generate_name, "namespace": job["metadata"]["namespace"],
                         "labels": labels, "annotations": annotations, "finalizers": finalizers,
                         "ownerReferences": [job_ref(job)]},
            "spec": spec}


def pods_for_removal(job: dict, active_pods: List[dict], succeeded_indexes: Iterable[int],
                     at_least: int) -> List[dict]:
    """Active pods to delete: for Indexed jobs those of a duplicate, done or invalid index; then at least
    ``at_least`` in controller.ActivePods' order (least far along first)."""
    remove: List[dict] = []
    left = list(active_pods)
    if is_indexed(job):
        completions = job["spec"]["completions"]
        seen: Set[int] = set(succeeded_indexes)
        left = []
        for pod in sorted(active_pods, key=u.removal_order, reverse=True):
            index = u.completion_index(pod)
            if index == u.UNKNOWN_INDEX or index >= completions or index in seen:
                remove.append(pod)
            else:
                seen.add(index)
                left.append(pod)
    if len(remove) < at_least:
        left.sort(key=u.removal_order)
        remove += left[:at_least - len(remove)]
    return remove


def pending_indexes(job: dict, pods: List[dict], active_pods: List[dict], succeeded: Iterable[int],
                    failed: Iterable[int], count: int) -> List[int]:
    """The first ``count`` indexes with no pod running, terminating (when only failed pods are replaced), success
    or failure."""
    taken = set(succeeded) | set(failed) | {u.completion_index(p) for p in active_pods}
    if u.only_replace_failed_pods(job):
        taken |= {u.completion_index(p) for p in pods if u.is_terminating(p)}
    return [i for i in range(job["spec"]["completions"]) if i not in taken][:count]


def _annotated_count(pod: dict, key: str) -> int:
    """A failure count annotation as a number; 0 when absent, malformed or out of int32 range."""
    value = (pod["metadata"].get("annotations") or {}).get(key)
    try:
        number = int(value) if value is not None else 0
    except ValueError:
        return 0
    return number if 0 <= number <= 2 ** 31 - 1 else 0


def index_failure_count(pod: dict) -> int:
    return _annotated_count(pod, u.JOB_INDEX_FAILURE_COUNT)


def index_absolute_failure_count(pod: dict) -> int:
    """Failures counted and ignored (by the pod failure policy) in the pod's index before it."""
    return _annotated_count(pod, u.JOB_INDEX_FAILURE_COUNT) + _annotated_count(pod, u.JOB_INDEX_IGNORED_FAILURE_COUNT)


def pods_with_delayed_deletion(job: dict, pods: List[dict], active_pods: List[dict], succeeded: Iterable[int],
                               failed: Iterable[int], expected_rm_finalizers: Set[str], now: float) -> dict:
    """backoffLimitPerIndex: per index still to be retried (not succeeded, failed or running), its latest failed
    pod that still has the tracking finalizer; that finalizer stays until the replacement exists, which takes
    its failure counts from it (getPodsWithDelayedDeletionPerIndex)."""
    completions = job["spec"]["completions"]
    closed = set(succeeded) | set(failed) | {u.completion_index(p) for p in active_pods}
    found: dict = {}
    for pod in pods:
        index = u.completion_index(pod)
        # (Upstream's getPodsWithDelayedDeletionPerIndex asks nothing of the tracking finalizer.)
        if pod["metadata"]["uid"] in expected_rm_finalizers or \
                not (0 <= index < completions) or index in closed or not u.is_pod_failed(pod, job):
            continue
        last = found.get(index)
        if last is None or (index_absolute_failure_count(last) <= index_absolute_failure_count(pod) and
                            u.finish_time(pod, now) >= u.finish_time(last, now)):
            found[index] = pod
    return found


def new_index_failure_counts(job: dict, replaced: Optional[dict]) -> Tuple[int, int]:
    """(failures, ignored failures) of the pod replacing ``replaced`` in its index (getNewIndexFailureCounts)."""
    if replaced is None:
        return 0, 0
    failures = index_failure_count(replaced)
    ignored = _annotated_count(replaced, u.JOB_INDEX_IGNORED_FAILURE_COUNT)
    if u.match_pod_failure_policy(job["spec"].get("podFailurePolicy"), replaced)[1]:
        failures += 1
    else:
        ignored += 1
    return failures, ignored


def index_backoff(replaced: Optional[dict], now: float) -> u.BackoffRecord:
    """The pod-creation backoff of an index (getRemainingTimePerIndex): every failure so far in it, counted or
    ignored, since its last failed pod finished."""
    if replaced is None:
        return u.BackoffRecord()
    return u.BackoffRecord(index_absolute_failure_count(replaced) + 1, u.finish_time(replaced, now))


def past_backoff_limit_on_failure(job: dict, pods: List[dict]) -> bool:
    """restartPolicy OnFailure: the running pods' container restarts have reached backoffLimit."""
    if ((job["spec"].get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    restarts = 0
    for pod in pods:
        if u.phase(pod) in ("Running", "Pending"):
            status = pod.get("status") or {}
            for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
                restarts += cs.get("restartCount", 0)
    limit = job["spec"].get("backoffLimit", 6)
    return restarts > 0 if limit == 0 else restarts >= limit


def success_policy_message(policy: Optional[dict], completions: int, succeeded: Iterable[int]) -> Optional[str]:
    """The message of the first successPolicy rule the succeeded indexes meet (matchSuccessPolicy), else None."""
    done = set(succeeded)
    for number, rule in enumerate((policy or {}).get("rules") or []):
        if rule.get("succeededIndexes") is not None:
            wanted = set(u.parse_indexes(rule["succeededIndexes"], completions))
            met = len(wanted & done)
            if (rule.get("succeededCount") is None and wanted <= done) or \
                    (rule.get("succeededCount") is not None and met >= rule["succeededCount"]):
                return f"Matched rules at index {number}"
        elif rule.get("succeededCount") is not None and len(done) >= rule["succeededCount"]:
            return f"Matched rules at index {number}"
    return None

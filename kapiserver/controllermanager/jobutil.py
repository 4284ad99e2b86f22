"""The job controller's pure rules (pkg/controller/job's utilities): conditions, completion indexes and their
ranges, the pod failure policy, pod-creation backoff, and the order active pods are removed in.  No I/O;
times are seconds since the epoch, passed in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple

from ..machinery import meta

JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
JOB_COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
JOB_INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"
JOB_INDEX_IGNORED_FAILURE_COUNT = "batch.kubernetes.io/job-index-ignored-failure-count"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
UNKNOWN_INDEX = -1
# Pod-creation backoff after failures: 10 s doubling, at most 10 minutes (1.32's DefaultJobPodFailureBackOff
# and MaxJobPodFailureBackOff).
POD_FAILURE_BACKOFF = 10.0
MAX_POD_FAILURE_BACKOFF = 600.0


# -- conditions ------------------------------------------------------------------------------------------
def find_condition(job: dict, kind: str) -> Optional[dict]:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return None


def has_true_condition(job: dict, kind: str) -> bool:
    condition = find_condition(job, kind)
    return condition is not None and condition.get("status") == "True"


def finished_condition(job: dict) -> Optional[dict]:
    """The Complete or Failed condition that is True (util.FinishedCondition), else None."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return condition
    return None


def is_finished(job: dict) -> bool:
    return finished_condition(job) is not None


def new_condition(kind: str, status: str, reason: str, message: str, now: float) -> dict:
    stamp = meta.rfc3339(now)
    return {"type": kind, "status": status, "lastProbeTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def ensure_condition(conditions: List[dict], kind: str, status: str, reason: str, message: str,
                     now: float) -> bool:
    """Set the condition ``kind`` in place (a False one is never added, only updated); whether it changed."""
    for condition in conditions:
        if condition.get("type") != kind:
            continue
        if condition.get("status") != status or condition.get("reason") != reason or \
                condition.get("message") != message:
            condition.update(new_condition(kind, status, reason, message, now))
            return True
        return False
    if status == "True":
        conditions.append(new_condition(kind, status, reason, message, now))
        return True
    return False


# -- completion indexes ----------------------------------------------------------------------------------
def completion_index(pod: dict) -> int:
    """The pod's batch.kubernetes.io/job-completion-index annotation as a number, or UNKNOWN_INDEX."""
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(JOB_COMPLETION_INDEX)
    if value is None or not value.isdigit():
        return UNKNOWN_INDEX
    return int(value)


def parse_indexes(text: Optional[str], completions: int) -> List[int]:
    """The indexes of a "1,3-5" list below ``completions``, sorted; malformed parts are skipped."""
    found = set()
    for part in (text or "").split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            continue
        for index in range(int(low), min(int(high or low), completions - 1) + 1):
            found.add(index)
    return sorted(found)


def format_indexes(indexes: Iterable[int]) -> str:
    """Sorted indexes as ranges: [1, 3, 4, 5] -> "1,3-5", [1, 2] -> "1,2"."""
    runs: List[List[int]] = []
    for index in sorted(set(indexes)):
        if runs and index == runs[-1][1] + 1:
            runs[-1][1] = index
        else:
            runs.append([index, index])
    # Two neighbours are written as a pair, as orderedIntervals.String does: "1,2", "1-3".
    return ",".join(str(a) if a == b else f"{a},{b}" if b == a + 1 else f"{a}-{b}" for a, b in runs)


# -- pods ------------------------------------------------------------------------------------------------
def phase(pod: dict) -> str:
    return (pod.get("status") or {}).get("phase") or "Pending"


def is_active(pod: dict) -> bool:
    """controller.FilterActivePods: neither finished nor being deleted."""
    return phase(pod) not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def is_terminating(pod: dict) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp")) and phase(pod) not in ("Succeeded", "Failed")


def is_ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def has_tracking_finalizer(pod: dict) -> bool:
    return JOB_TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or [])


def only_replace_failed_pods(job: dict) -> bool:
    """Upstream's onlyReplaceFailedPods: a pod being deleted is replaced only once it has failed (podReplacementPolicy
    Failed, or a pod failure policy, which needs to see how the pod ends)."""
    spec = job.get("spec") or {}
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def is_pod_failed(pod: dict, job: dict) -> bool:
    """A Failed pod; or, unless the job replaces only failed pods, one deleted before it succeeded."""
    if phase(pod) == "Failed":
        return True
    if only_replace_failed_pods(job):
        return False
    return bool(pod["metadata"].get("deletionTimestamp")) and phase(pod) != "Succeeded"


def _containers_finish_time(pod: dict) -> Optional[float]:
    """When the last container finished, if every container (and every sidecar: an init container that restarts
    Always) has; else None."""
    status = pod.get("status") or {}
    sidecars = {c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []
                if c.get("restartPolicy") == "Always"}
    latest = None
    for cs in (status.get("containerStatuses") or []) + \
            [cs for cs in status.get("initContainerStatuses") or [] if cs.get("name") in sidecars]:
        finished = ((cs.get("state") or {}).get("terminated") or {}).get("finishedAt")
        if not finished:
            return None
        latest = max(latest or 0.0, meta.parse_time(finished))
    return latest


def finish_time(pod: dict, default: float) -> float:
    """When the pod finished (getFinishedTime): its containers' last finish; else when it turned not Ready; else
    when its deletion began (deletionTimestamp less the grace period); else its creation (else ``default``)."""
    finished = _containers_finish_time(pod)
    if finished is not None:
        return finished
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready" and c.get("status") == "False" and c.get("lastTransitionTime"):
            return meta.parse_time(c["lastTransitionTime"])
    metadata = pod.get("metadata") or {}
    if metadata.get("deletionTimestamp"):
        return meta.parse_time(metadata["deletionTimestamp"]) - (metadata.get("deletionGracePeriodSeconds") or 0)
    if metadata.get("creationTimestamp"):
        return meta.parse_time(metadata["creationTimestamp"])
    return default


_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def removal_order(pod: dict) -> tuple:
    """controller.ActivePods' order: unscheduled, pending, not ready, recently ready, most restarts, newest
    first."""
    status = pod.get("status") or {}
    ready_since = 0.0
    for c in status.get("conditions") or []:
        if c.get("type") == "Ready" and c.get("status") == "True" and c.get("lastTransitionTime"):
            ready_since = meta.parse_time(c["lastTransitionTime"])
    restarts = sum(cs.get("restartCount", 0) for cs in status.get("containerStatuses") or [])
    created = pod["metadata"].get("creationTimestamp")
    return (bool((pod.get("spec") or {}).get("nodeName")), _PHASE_RANK.get(phase(pod), 0), is_ready(pod),
            -ready_since, -restarts, -(meta.parse_time(created) if created else 0.0))


# -- pod failure policy ----------------------------------------------------------------------------------
def _exit_code_match(pod: dict, requirement: dict) -> Optional[dict]:
    status = pod.get("status") or {}
    name = requirement.get("containerName")
    values = requirement.get("values") or []
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        terminated = (cs.get("state") or {}).get("terminated")
        if terminated is None or (name and name != cs.get("name")):
            continue
        code = terminated.get("exitCode", 0)
        if code == 0:
            continue
        if (requirement.get("operator") == "In" and code in values) or \
                (requirement.get("operator") == "NotIn" and code not in values):
            return cs
    return None


def _condition_match(pod: dict, patterns: List[dict]) -> Optional[dict]:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        for pattern in patterns:
            if condition.get("type") == pattern.get("type") and condition.get("status") == pattern.get("status",
                                                                                                        "True"):
                return condition
    return None


def match_pod_failure_policy(policy: Optional[dict], pod: dict) -> Tuple[Optional[str], bool, Optional[str]]:
    """(the job failure message of a FailJob rule, whether the failure counts, the matched action)."""
    if policy is None:
        return None, True, None
    metadata = pod["metadata"]
    for index, rule in enumerate(policy.get("rules") or []):
        action = rule.get("action")
        if rule.get("onExitCodes") is not None:
            cs = _exit_code_match(pod, rule["onExitCodes"])
            if cs is None:
                continue
            message = (f"Container {cs.get('name')} for pod {metadata.get('namespace')}/{metadata.get('name')} "
                       f"failed with exit code {cs['state']['terminated'].get('exitCode')} matching {action} "
                       f"rule at index {index}")
        elif rule.get("onPodConditions") is not None:
            condition = _condition_match(pod, rule["onPodConditions"])
            if condition is None:
                continue
            message = (f"Pod {metadata.get('namespace')}/{metadata.get('name')} has condition "
                       f"{condition.get('type')} matching {action} rule at index {index}")
        else:
            continue
        if action == "Ignore":
            return None, False, action
        if action in ("Count", "FailIndex"):
            return None, True, action
        if action == "FailJob":
            return message, True, action
    return None, True, None


# -- backoff ---------------------------------------------------------------------------------------------
@dataclass
class BackoffRecord:
    """Failures since the last success and when the last of them finished (backoffRecord)."""
    failures_after_last_success: int = 0
    last_failure_time: Optional[float] = None


def next_backoff_record(record: BackoffRecord, succeeded: List[dict], failed: List[dict],
                        now: float) -> BackoffRecord:
    """The record after newly counted succeeded and failed pods."""
    if not succeeded:
        if not failed:
            return record
        return BackoffRecord(record.failures_after_last_success + len(failed),
                             max(finish_time(p, now) for p in failed))
    last_success = max(finish_time(p, now) for p in succeeded)
    later = [finish_time(p, now) for p in failed if finish_time(p, now) > last_success]
    return BackoffRecord(len(later), max(later) if later else None)


def remaining_backoff(record: BackoffRecord, now: float, base: float = POD_FAILURE_BACKOFF,
                      cap: float = MAX_POD_FAILURE_BACKOFF) -> float:
    """Seconds until pods may be created again (0 when now)."""
    if record.failures_after_last_success == 0 or record.last_failure_time is None:
        return 0.0
    delay = min(base * (2 ** (record.failures_after_last_success - 1)), cap)
    elapsed = now - record.last_failure_time
    return 0.0 if delay < elapsed else delay - elapsed

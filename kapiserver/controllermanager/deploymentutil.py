"""The arithmetic of a Deployment's rollout, as upstream's pkg/controller/deployment/util: the pod-template-hash,
revisions and their annotations, maxSurge/maxUnavailable resolved against replicas, how far the new
ReplicaSet may grow, proportional shares when scaling mid-rollout, conditions, and whether a rollout is
complete, progressing or timed out. Pure functions on API dicts; time is passed in."""

from __future__ import annotations

import copy
import functools
import json
import math
import struct
from typing import Iterable, List, Optional, Sequence

from ..machinery import meta
from .controllerutils import fnv32a, safe_encode_string, scaled_value

POD_TEMPLATE_HASH_LABEL = "pod-template-hash"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO_ANNOTATION = "deprecated.deployment.rollback.to"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
ANNOTATIONS_TO_SKIP = frozenset({LAST_APPLIED_ANNOTATION, REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION,
                                 DESIRED_REPLICAS_ANNOTATION, MAX_REPLICAS_ANNOTATION, ROLLBACK_TO_ANNOTATION})
MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000
MAX_INT32 = 2**31 - 1

# Condition types and reasons (deploymentutil's constants).
AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"
FAILED_RS_CREATE_REASON = "ReplicaSetCreateError"
NEW_RS_REASON = "NewReplicaSetCreated"
FOUND_NEW_RS_REASON = "FoundNewReplicaSet"
NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
PAUSED_DEPLOY_REASON = "DeploymentPaused"
RESUMED_DEPLOY_REASON = "DeploymentResumed"
RS_UPDATED_REASON = "ReplicaSetUpdated"
MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"
ROLLBACK_REVISION_NOT_FOUND = "DeploymentRollbackRevisionNotFound"
ROLLBACK_TEMPLATE_UNCHANGED = "DeploymentRollbackTemplateUnchanged"
ROLLBACK_DONE = "DeploymentRollback"



# -- the pod-template-hash ----------------------------------------------------------------------------------
def _canonical(value):
    """JSON with empty and null fields dropped, so that a template reads the same however it was written."""
    if isinstance(value, dict):
        out = {k: _canonical(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def compute_hash(template: dict, collision_count: Optional[int]) -> str:
    """controller.ComputeHash: FNV-32a of the template, then of the collision count (4 bytes, little endian)
    when there is one, its decimal sum encoded with SafeEncodeString. Upstream hashes Go's spew dump of the
    template, which cannot be reproduced here: this hashes its canonical JSON (sorted keys, empty fields
    dropped), so names differ from upstream's for the same template but are as stable."""
    data = json.dumps(_canonical(template), sort_keys=True, separators=(",", ":")).encode()
    h = fnv32a(data)
    if collision_count is not None:
        h = fnv32a(struct.pack("<I", collision_count & 0xFFFFFFFF), h)
    return safe_encode_string(str(h))


def _without_hash(template: Optional[dict]) -> dict:
    template = copy.deepcopy(template or {})
    labels = (template.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(POD_TEMPLATE_HASH_LABEL, None)
    return _canonical(template)


def equal_ignore_hash(t1: Optional[dict], t2: Optional[dict]) -> bool:
    """Two pod templates equal but for the pod-template-hash label."""
    return _without_hash(t1) == _without_hash(t2)


# -- counts -----------------------------------------------------------------------------------------------
def replicas(obj: Optional[dict]) -> int:
    value = ((obj or {}).get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def _status(rs: Optional[dict], field: str) -> int:
    return int(((rs or {}).get("status") or {}).get(field) or 0)


def replica_count(sets: Iterable[Optional[dict]]) -> int:
    """GetReplicaCountForReplicaSets: the sum of spec.replicas."""
    return sum(replicas(rs) for rs in sets if rs is not None)


def actual_replica_count(sets: Iterable[Optional[dict]]) -> int:
    return sum(_status(rs, "replicas") for rs in sets if rs is not None)


def ready_replica_count(sets: Iterable[Optional[dict]]) -> int:
    return sum(_status(rs, "readyReplicas") for rs in sets if rs is not None)


def available_replica_count(sets: Iterable[Optional[dict]]) -> int:
    return sum(_status(rs, "availableReplicas") for rs in sets if rs is not None)


def filter_active(sets: Iterable[Optional[dict]]) -> List[dict]:
    """FilterActiveReplicaSets: those with spec.replicas > 0."""
    return [rs for rs in sets if rs is not None and replicas(rs) > 0]


# -- orders -----------------------------------------------------------------------------------------------
def _created(obj: dict) -> float:
    stamp = obj["metadata"].get("creationTimestamp")
    return meta.parse_time(stamp) if stamp else 0.0


def by_creation(sets: Sequence[dict], newest_first: bool = False) -> List[dict]:
    """ReplicaSetsByCreationTimestamp (ties by name)."""
    return sorted(sets, key=lambda rs: (_created(rs), rs["metadata"]["name"]), reverse=newest_first)


def by_size(sets: Sequence[dict], newer_first_on_ties: bool) -> List[dict]:
    """ReplicaSetsBySizeNewer / BySizeOlder: larger first, ties by creation (newer or older first)."""
    def compare(a, b):
        if replicas(a) != replicas(b):
            return -1 if replicas(a) > replicas(b) else 1
        ka, kb = (_created(a), a["metadata"]["name"]), (_created(b), b["metadata"]["name"])
        if ka == kb:
            return 0
        older_first = -1 if ka < kb else 1
        return -older_first if newer_first_on_ties else older_first
    return sorted(sets, key=functools.cmp_to_key(compare))


def by_revision(sets: Sequence[dict]) -> List[dict]:
    """ReplicaSetsByRevision: oldest revision first, ties by creation."""
    return sorted(sets, key=lambda rs: (revision(rs), _created(rs), rs["metadata"]["name"]))


# -- revisions and annotations ------------------------------------------------------------------------------
def annotations_of(obj: dict) -> dict:
    return obj["metadata"].get("annotations") or {}


def revision(obj: Optional[dict]) -> int:
    if obj is None:
        return 0
    try:
        return int(annotations_of(obj).get(REVISION_ANNOTATION, "0") or 0)
    except ValueError:
        return 0


def max_revision(sets: Iterable[Optional[dict]]) -> int:
    return max([revision(rs) for rs in sets if rs is not None], default=0)


def last_revision(sets: Iterable[Optional[dict]]) -> int:
    """The second highest revision (the one before the current)."""
    top = second = 0
    for rs in sets:
        if rs is None:
            continue
        v = revision(rs)
        if v >= top:
            top, second = v, top
        elif v > second:
            second = v
    return second


def set_deployment_revision(deployment: dict, value: str) -> bool:
    annotations = deployment["metadata"].setdefault("annotations", {})
    if annotations.get(REVISION_ANNOTATION) == value:
        return False
    annotations[REVISION_ANNOTATION] = value
    return True


def _copy_deployment_annotations(deployment: dict, rs: dict) -> bool:
    changed = False
    target = rs["metadata"].setdefault("annotations", {})
    for key, value in annotations_of(deployment).items():
        if key in ANNOTATIONS_TO_SKIP or target.get(key) == value:
            continue
        target[key] = value
        changed = True
    return changed


def set_deployment_annotations_to(deployment: dict, rs: dict) -> None:
    """SetDeploymentAnnotationsTo (a rollback): the set's annotations, but the deployment's own skipped ones."""
    kept = {k: v for k, v in annotations_of(deployment).items() if k in ANNOTATIONS_TO_SKIP}
    kept.update({k: v for k, v in annotations_of(rs).items() if k not in ANNOTATIONS_TO_SKIP})
    deployment["metadata"]["annotations"] = kept


def set_replicas_annotations(rs: dict, desired: int, max_replicas: int) -> bool:
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in ((DESIRED_REPLICAS_ANNOTATION, str(desired)), (MAX_REPLICAS_ANNOTATION, str(max_replicas))):
        if annotations.get(key) != value:
            annotations[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: dict, desired: int, max_replicas: int) -> bool:
    annotations = annotations_of(rs)
    return (annotations.get(DESIRED_REPLICAS_ANNOTATION) != str(desired)
            or annotations.get(MAX_REPLICAS_ANNOTATION) != str(max_replicas))


def desired_replicas_annotation(rs: dict) -> Optional[int]:
    try:
        return int(annotations_of(rs)[DESIRED_REPLICAS_ANNOTATION])
    except (KeyError, ValueError):
        return None


def max_replicas_annotation(rs: dict) -> Optional[int]:
    try:
        return int(annotations_of(rs)[MAX_REPLICAS_ANNOTATION])
    except (KeyError, ValueError):
        return None


def set_new_replica_set_annotations(deployment: dict, rs: dict, new_revision: str, exists: bool,
                                    max_history: int = MAX_REV_HISTORY_LENGTH_IN_CHARS) -> bool:
    """The deployment's annotations (less the skipped ones), the revision (keeping the old one in
    revision-history when it moves, i.e. on a rollback), and for a new set desired/max replicas."""
    changed = _copy_deployment_annotations(deployment, rs)
    annotations = rs["metadata"].setdefault("annotations", {})
    old = annotations.get(REVISION_ANNOTATION)
    try:
        old_int = int(old) if old else 0
        new_int = int(new_revision)
    except ValueError:
        return False
    if old_int < new_int:
        annotations[REVISION_ANNOTATION] = new_revision
        changed = True
        if old is not None:
            history = annotations.get(REVISION_HISTORY_ANNOTATION, "")
            revisions = history.split(",")
            if not revisions[0]:
                annotations[REVISION_HISTORY_ANNOTATION] = old
            else:
                total, start = len(history) + len(old) + 1, 0
                while total > max_history and start < len(revisions):
                    total -= len(revisions[start]) + 1
                    start += 1
                if total <= max_history:
                    annotations[REVISION_HISTORY_ANNOTATION] = ",".join(revisions[start:] + [old])
    if not exists and set_replicas_annotations(rs, replicas(deployment), replicas(deployment) + max_surge(deployment)):
        changed = True
    return changed


# -- maxSurge and maxUnavailable -------------------------------------------------------------------------
def is_rolling_update(deployment: dict) -> bool:
    return ((deployment.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def _rolling(deployment: dict) -> dict:
    return ((deployment.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}


def resolve_fenceposts(surge, unavailable, desired: int):
    """(maxSurge rounded up, maxUnavailable rounded down); both 0 makes maxUnavailable 1."""
    s = scaled_value(surge, desired, True)
    u = scaled_value(unavailable, desired, False)
    if s == 0 and u == 0:
        u = 1
    return s, u


def max_surge(deployment: dict) -> int:
    if not is_rolling_update(deployment):
        return 0
    rolling = _rolling(deployment)
    return resolve_fenceposts(rolling.get("maxSurge", "25%"), rolling.get("maxUnavailable", "25%"),
                              replicas(deployment))[0]


def max_unavailable(deployment: dict) -> int:
    if not is_rolling_update(deployment) or replicas(deployment) == 0:
        return 0
    rolling = _rolling(deployment)
    _, unavailable = resolve_fenceposts(rolling.get("maxSurge", "25%"), rolling.get("maxUnavailable", "25%"),
                                        replicas(deployment))
    return min(unavailable, replicas(deployment))


def new_rs_new_replicas(deployment: dict, all_sets: Sequence[Optional[dict]], new_rs: dict) -> int:
    """How many replicas the new set should have now: Recreate, all of them; RollingUpdate, as many more as
    maxSurge leaves room for, up to spec.replicas."""
    desired = replicas(deployment)
    if not is_rolling_update(deployment):
        return desired
    surge = scaled_value(_rolling(deployment).get("maxSurge", "25%"), desired, True)
    current = replica_count(all_sets)
    max_total = desired + surge
    if current >= max_total:
        return replicas(new_rs)
    scale_up = min(max_total - current, desired - replicas(new_rs))
    return replicas(new_rs) + scale_up


def is_saturated(deployment: dict, rs: Optional[dict]) -> bool:
    """The set runs the whole deployment, and every pod is available."""
    if rs is None:
        return False
    desired = desired_replicas_annotation(rs)
    want = replicas(deployment)
    return desired == want and replicas(rs) == want and _status(rs, "availableReplicas") == want


def find_active_or_latest(new_rs: Optional[dict], old_sets: Sequence[dict]) -> Optional[dict]:
    """The one set with replicas, or the newest when none has any; None when several have."""
    if new_rs is None and not old_sets:
        return None
    old_sorted = by_creation(old_sets, newest_first=True)
    active = filter_active(list(old_sorted) + [new_rs])
    if not active:
        return new_rs if new_rs is not None else old_sorted[0]
    return active[0] if len(active) == 1 else None


def _round_to_int32(value: float) -> int:
    return int(math.floor(value + 0.5))


def replica_set_fraction(rs: dict, deployment: dict) -> int:
    if replicas(deployment) == 0:
        return -replicas(rs)
    deployment_max = replicas(deployment) + max_surge(deployment)
    before = max_replicas_annotation(rs)
    if not before:
        before = _status(deployment, "replicas")
        if before == 0:
            return 0
    return _round_to_int32(deployment_max * replicas(rs) / before) - replicas(rs)


def replica_set_proportion(rs: Optional[dict], deployment: dict, to_add: int, added: int) -> int:
    """GetReplicaSetProportion: this set's share of a scaling, bounded by what is left to add/remove."""
    if rs is None or replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = replica_set_fraction(rs, deployment)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


# -- conditions -------------------------------------------------------------------------------------------
def get_condition(status: Optional[dict], kind: str) -> Optional[dict]:
    for condition in (status or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return None


def new_condition(kind: str, status: str, reason: str, message: str, now: float) -> dict:
    stamp = meta.rfc3339(now)
    return {"type": kind, "status": status, "lastUpdateTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def set_condition(status: dict, condition: dict) -> None:
    """Add or replace; unchanged status and reason keep the old one; unchanged status keeps its
    lastTransitionTime."""
    current = get_condition(status, condition["type"])
    if current is not None and current.get("status") == condition["status"] and \
            current.get("reason") == condition.get("reason"):
        return
    if current is not None and current.get("status") == condition["status"]:
        condition = {**condition, "lastTransitionTime": current.get("lastTransitionTime")}
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != condition["type"]] + [
        condition]


def remove_condition(status: dict, kind: str) -> None:
    if status.get("conditions"):
        status["conditions"] = [c for c in status["conditions"] if c.get("type") != kind]


def replica_set_to_deployment_condition(condition: dict) -> dict:
    return {"type": condition.get("type"), "status": condition.get("status"),
            "lastUpdateTime": condition.get("lastTransitionTime"),
            "lastTransitionTime": condition.get("lastTransitionTime"),
            "reason": condition.get("reason", ""), "message": condition.get("message", "")}


# -- progress ---------------------------------------------------------------------------------------------
def has_progress_deadline(deployment: dict) -> bool:
    value = (deployment.get("spec") or {}).get("progressDeadlineSeconds")
    return value is not None and value != MAX_INT32


def has_revision_history_limit(deployment: dict) -> bool:
    value = (deployment.get("spec") or {}).get("revisionHistoryLimit")
    return value is not None and value != MAX_INT32


def deployment_complete(deployment: dict, status: dict) -> bool:
    want = replicas(deployment)
    return (status.get("updatedReplicas", 0) == want and status.get("replicas", 0) == want
            and status.get("availableReplicas", 0) == want
            and status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 0))


def deployment_progressing(deployment: dict, status: dict) -> bool:
    old = deployment.get("status") or {}
    old_old = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    new_old = status.get("replicas", 0) - status.get("updatedReplicas", 0)
    return (status.get("updatedReplicas", 0) > old.get("updatedReplicas", 0) or new_old < old_old
            or status.get("readyReplicas", 0) > old.get("readyReplicas", 0)
            or status.get("availableReplicas", 0) > old.get("availableReplicas", 0))


def deployment_timed_out(deployment: dict, status: dict, now: float) -> bool:
    if not has_progress_deadline(deployment):
        return False
    condition = get_condition(status, PROGRESSING)
    if condition is None:
        return False
    if condition.get("reason") == NEW_RS_AVAILABLE_REASON:
        return False
    if condition.get("reason") == TIMED_OUT_REASON:
        return True
    since = meta.parse_time(condition["lastUpdateTime"]) if condition.get("lastUpdateTime") else now
    return since + deployment["spec"]["progressDeadlineSeconds"] < now

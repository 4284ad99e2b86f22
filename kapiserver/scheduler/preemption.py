"""DefaultPreemption's PostFilter: when no node fits a pod, find the node where evicting pods of lower
priority would make room, with the fewest and least important victims.

Only nodes rejected as Unschedulable (not UnschedulableAndUnresolvable) are tried.  On each, every pod of
lower priority is taken off; if the pod then fits, the victims are given back one by one, most important
first (those whose eviction would break a PodDisruptionBudget before the others), as long as the pod still
fits; those that cannot be given back are the victims.  The node chosen is the one with the fewest
PodDisruptionBudget violations, then whose victims' highest priority is lowest, then whose priorities sum
lowest, then with the fewest victims, then whose most important victims started latest.

The result is plain data; the scheduler deletes the victims and writes the nomination.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

from .cache import NodeInfo, PodInfo, Snapshot
from .framework import (ERROR, UNSCHEDULABLE, CycleState, Diagnosis, FitError, Framework, Status, unresolvable)
from .plugins.helpers import label_selector
from .resources import pod_priority

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_ELIGIBLE_NEVER = "not eligible due to preemptionPolicy=Never."
NOT_ELIGIBLE_TERMINATING = "not eligible due to a terminating pod on the nominated node."
_LATEST = "9999-12-31T23:59:59Z"    # a pod not started yet counts as starting now, later than any real time


class Candidate:
    def __init__(self, node_name: str, victims: list[PodInfo], num_pdb_violations: int = 0):
        self.node_name = node_name
        self.victims = victims
        self.num_pdb_violations = num_pdb_violations

    def __repr__(self) -> str:
        return f"Candidate({self.node_name}, victims={[v.name for v in self.victims]})"


class PreemptionResult:
    """What PostFilter decided: a candidate (node and victims) or none, the status message that goes
    after "preemption: " in the FailedScheduling message when there is none, and the nomination to write:
    the candidate's node, "" to clear it (no candidate), None to leave it (the pod may not preempt now)."""

    def __init__(self, candidate: Optional[Candidate], message: str = "", nominated_node: Optional[str] = ""):
        self.candidate = candidate
        self.message = message
        self.nominated_node = candidate.node_name if candidate is not None else nominated_node


def _start_time(info: PodInfo) -> str:
    return (info.pod.get("status") or {}).get("startTime") or _LATEST


def _more_important_key(info: PodInfo):
    """Sort key putting MoreImportantPod first: higher priority, then the earlier started."""
    return (-info.priority, _start_time(info))


def eligible_to_preempt(pod: Mapping, snapshot: Snapshot, diagnosis: Diagnosis) -> tuple[bool, str]:
    """PodEligibleToPreemptOthers."""
    if (pod.get("spec") or {}).get("preemptionPolicy") == "Never":
        return False, NOT_ELIGIBLE_NEVER
    nominated = (pod.get("status") or {}).get("nominatedNodeName")
    if nominated:
        status = _status_of(diagnosis, nominated)
        if status is not None and status.code != UNSCHEDULABLE:
            return True, ""    # the nominated node cannot help any more: preempt elsewhere
        node_info = snapshot.get(nominated)
        priority = pod_priority(pod)
        if node_info is not None and any(p.priority < priority and terminating_by_preemption(p.pod)
                                         for p in node_info.pods):
            return False, NOT_ELIGIBLE_TERMINATING
    return True, ""


def terminating_by_preemption(pod: Mapping) -> bool:
    """Being deleted because the scheduler preempted it: its first DisruptionTarget condition is True with
    reason PreemptionByScheduler (a pod deleted for another reason does not hold a preemptor back)."""
    if not pod["metadata"].get("deletionTimestamp"):
        return False
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "DisruptionTarget":
            return condition.get("status") == "True" and condition.get("reason") == "PreemptionByScheduler"
    return False


def _status_of(diagnosis: Diagnosis, name: str) -> Optional[Status]:
    return diagnosis.node_to_status.get(name, diagnosis.absent_status)


def _fits(framework: Framework, pod: Mapping, snapshot: Snapshot, node_info: NodeInfo,
          nominated: Callable[[str], list[PodInfo]]) -> Status:
    state = CycleState()
    status = framework.run_pre_filter(state, pod, snapshot)
    if not status.is_success():
        return status
    return framework.filter_with_nominated_pods(state, pod, snapshot, node_info, nominated)


def filter_pods_with_pdb_violation(infos: list[PodInfo], pdbs: Sequence[Mapping]
                                   ) -> tuple[list[PodInfo], list[PodInfo]]:
    """(violating, non-violating): a pod violates when evicting it, after the pods before it, would take a
    PodDisruptionBudget of its namespace that selects it below zero disruptions allowed.  Pods already in a
    budget's disruptedPods do not count against it; a budget with an empty selector selects nothing."""
    allowed = [(pdb.get("status") or {}).get("disruptionsAllowed") or 0 for pdb in pdbs]
    violating, fine = [], []
    for info in infos:
        violated = False
        for i, pdb in enumerate(pdbs if info.labels else ()):
            if pdb["metadata"].get("namespace") != info.namespace:
                continue
            selector = label_selector((pdb.get("spec") or {}).get("selector"))
            if selector.empty or not selector.matches(info.labels):
                continue
            if info.name in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                continue
            allowed[i] -= 1
            violated = violated or allowed[i] < 0
        (violating if violated else fine).append(info)
    return violating, fine


def select_victims_on_node(framework: Framework, pod: Mapping, snapshot: Snapshot, node_info: NodeInfo,
                           nominated: Callable[[str], list[PodInfo]] = lambda name: [],
                           pdbs: Sequence[Mapping] = ()) -> tuple[Optional[list[PodInfo]], Status, int]:
    """The fewest, least important pods to evict from ``node_info`` so that ``pod`` fits, the status, and
    how many of them break a PodDisruptionBudget; None and why not when no eviction helps."""
    priority = pod_priority(pod)
    trial = node_info.clone()
    potential = [p for p in trial.pods if p.priority < priority]
    if not potential:
        return None, unresolvable(NO_VICTIMS), 0
    for info in potential:
        trial.remove_pod(info.uid)
    trial_snapshot = snapshot.replace(trial)
    status = _fits(framework, pod, trial_snapshot, trial, nominated)
    if not status.is_success():
        return None, status, 0
    victims = []
    violations = 0
    violating, fine = filter_pods_with_pdb_violation(sorted(potential, key=_more_important_key), pdbs)
    for group in (violating, fine):
        for info in group:
            trial.add_pod(info)
            if not _fits(framework, pod, trial_snapshot, trial, nominated).is_success():
                trial.remove_pod(info.uid)
                victims.append(info)
                violations += group is violating
    return sorted(victims, key=_more_important_key), Status("Success"), violations


def pick_one_node_for_preemption(candidates: list[Candidate]) -> Candidate:
    """pickOneNodeForPreemption's criteria in order; the first candidate left wins."""
    offset = 2 ** 31    # sums of priorities shifted so negative priorities count as small
    criteria = [
        lambda c: c.num_pdb_violations,
        lambda c: c.victims[0].priority,
        lambda c: sum(v.priority + offset for v in c.victims),
        lambda c: len(c.victims),
    ]
    left = list(candidates)
    for criterion in criteria:
        best = min(criterion(c) for c in left)
        left = [c for c in left if criterion(c) == best]
        if len(left) == 1:
            return left[0]

    def earliest_start_of_most_important(c: Candidate) -> str:
        top = c.victims[0].priority
        return min(_start_time(v) for v in c.victims if v.priority == top)
    latest = max(earliest_start_of_most_important(c) for c in left)
    return next(c for c in left if earliest_start_of_most_important(c) == latest)


def preempt(framework: Framework, pod: Mapping, snapshot: Snapshot, diagnosis: Diagnosis,
            nominated: Callable[[str], list[PodInfo]] = lambda name: [],
            pdbs: Sequence[Mapping] = ()) -> PreemptionResult:
    """Evaluator.Preempt, up to the choice of a candidate."""
    ok, message = eligible_to_preempt(pod, snapshot, diagnosis)
    if not ok:
        return PreemptionResult(None, message, nominated_node=None)
    statuses: dict[str, Status] = {}
    candidates = []
    for node_info in snapshot.node_infos:
        status = _status_of(diagnosis, node_info.name)
        if status is None or status.code != UNSCHEDULABLE:
            continue
        victims, why, violations = select_victims_on_node(framework, pod, snapshot, node_info, nominated, pdbs)
        if victims is None:
            statuses[node_info.name] = why
        elif not victims:
            # It fits with every lower pod given back: a node that needs no preemption is no candidate.
            statuses[node_info.name] = Status(ERROR, f'expected at least one victim pod on node "{node_info.name}"')
        else:
            candidates.append(Candidate(node_info.name, victims, violations))
    if not candidates:
        failed = Diagnosis()
        failed.node_to_status = statuses
        failed.absent_status = unresolvable(NOT_HELPFUL)
        return PreemptionResult(None, str(FitError(pod, len(snapshot), failed)))
    return PreemptionResult(pick_one_node_for_preemption(candidates))

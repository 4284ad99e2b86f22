"""Taints and tolerations as upstream's core/v1 helpers read them (k8s.io/api/core/v1 toleration.go, taint.go):
which toleration tolerates which taint, and the small edits node-lifecycle-controller makes to a node's taints."""

from __future__ import annotations

from typing import List, Optional, Tuple

from ..machinery.scheduling import tolerates

NO_EXECUTE = "NoExecute"
NO_SCHEDULE = "NoSchedule"


def matching_tolerations(taints: List[dict], tolerations: List[dict]) -> Tuple[bool, List[dict]]:
    """(every taint tolerated, the first toleration tolerating each taint), as upstream's getMatchingTolerations."""
    used = []
    for taint in taints:
        match = next((t for t in tolerations if tolerates(t, taint)), None)
        if match is None:
            return False, []
        used.append(match)
    return True, used


def min_toleration_seconds(tolerations: List[dict]) -> float:
    """The shortest tolerationSeconds of ``tolerations`` (0 if none are given or one is <= 0); -1 for forever."""
    if not tolerations:
        return 0
    shortest: Optional[int] = None
    for toleration in tolerations:
        seconds = toleration.get("tolerationSeconds")
        if seconds is None:
            continue
        if seconds <= 0:
            return 0
        shortest = seconds if shortest is None else min(shortest, seconds)
    return -1 if shortest is None else shortest


def no_execute_taints(node: Optional[dict]) -> List[dict]:
    return [t for t in ((node or {}).get("spec") or {}).get("taints") or [] if t.get("effect") == NO_EXECUTE]


def same_taint(a: dict, b: dict) -> bool:
    """Upstream's Taint.MatchTaint: the same key and effect (value and timeAdded aside)."""
    return a.get("key") == b.get("key") and a.get("effect") == b.get("effect")


# The pods informer is shared by every controller of the process, and an index name may be registered once per
# function: this group's index of pods by spec.nodeName, under a name of its own.


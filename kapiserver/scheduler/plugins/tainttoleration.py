"""TaintToleration: NoSchedule and NoExecute taints must be tolerated; PreferNoSchedule ones lower the
score."""

from __future__ import annotations

from typing import Mapping

from ..framework import default_normalize_score, unresolvable
from .helpers import find_untolerated_taint, node_taints, pod_tolerations, tolerated


class TaintToleration:
    name = "TaintToleration"
    events = {"Node/Add", "Node/UpdateNodeTaint", "UnscheduledPod/UpdatePodToleration"}

    def filter(self, state, pod: Mapping, node_info):
        taint = find_untolerated_taint(node_taints(node_info.node), pod_tolerations(pod),
                                       ("NoSchedule", "NoExecute"))
        if taint is None:
            return None
        return unresolvable(f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}")

    def queueing_hint(self, event: str, pod: Mapping, old, new) -> bool:
        """A node added, or whose taints changed, now tolerated where it was not (a new node counts as not
        tolerated before)."""
        def untolerated(node):
            return find_untolerated_taint(node_taints(node), pod_tolerations(pod),
                                          ("NoSchedule", "NoExecute")) is not None
        if event == "UnscheduledPod/UpdatePodToleration" or new is None:
            return True    # the pod's own tolerations grew
        return (old is None or untolerated(old)) and not untolerated(new)

    def pre_score(self, state, pod: Mapping, snapshot, nodes):
        state[self.name] = [t for t in pod_tolerations(pod) if (t.get("effect") or "") in ("", "PreferNoSchedule")]
        return None

    def score(self, state, pod: Mapping, node_info) -> int:
        tolerations = state.get(self.name, [])
        return sum(1 for taint in node_taints(node_info.node)
                   if taint.get("effect") == "PreferNoSchedule" and not tolerated(tolerations, taint))

    def normalize_score(self, state, pod, scores):
        default_normalize_score(scores, reverse=True)


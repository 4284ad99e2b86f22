"""NodeAffinity: spec.nodeSelector and the required node affinity must match the node; the preferred
terms' weights make its score.  A profile's addedAffinity (pluginConfig NodeAffinity args) applies to every
pod as well: its required terms filter first ("scheduler-enforced"), its preferred terms add to the score."""

from __future__ import annotations

from typing import Mapping, Optional

from ..framework import SKIP, Status, default_normalize_score, unresolvable
from .helpers import node_selector_matches, node_selector_term_matches, required_node_affinity_matches


def _node_affinity(pod: Mapping) -> Mapping:
    return ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}


class NodeAffinity:
    name = "NodeAffinity"
    events = {"Node/Add", "Node/UpdateNodeLabel"}
    ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
    ERR_REASON_CONFLICT = "pod affinity terms conflict"
    ERR_REASON_ENFORCED = "node(s) didn't match scheduler-enforced node affinity"

    def __init__(self, added_affinity: Optional[Mapping] = None):
        added_affinity = added_affinity or {}
        self.added_required = added_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
        self.added_preferred = [t for t in added_affinity.get("preferredDuringSchedulingIgnoredDuringExecution")
                                or [] if t.get("weight", 0)]

    def _added_matches(self, node: Mapping) -> bool:
        return self.added_required is None or node_selector_matches(self.added_required, node)

    def pre_filter(self, state, pod: Mapping, snapshot):
        required = _node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")
        if required is None and (pod.get("spec") or {}).get("nodeSelector") is None and self.added_required is None:
            return Status(SKIP)
        terms = (required or {}).get("nodeSelectorTerms") or []
        if not terms:
            return None
        # Terms naming nodes by metadata.name narrow the nodes the Filter phase looks at.
        names: set[str] = set()
        for term in terms:
            term_names = None
            for requirement in term.get("matchFields") or []:
                if requirement.get("key") == "metadata.name" and requirement.get("operator") == "In":
                    values = set(requirement.get("values") or [])
                    term_names = values if term_names is None else term_names & values
            if term_names is None:
                return None
            names |= term_names
        if not names:
            return unresolvable(self.ERR_REASON_CONFLICT)
        state.setdefault("__node_names__", {})[self.name] = names
        return None

    def filter(self, state, pod: Mapping, node_info):
        if not self._added_matches(node_info.node):
            return unresolvable(self.ERR_REASON_ENFORCED)
        if required_node_affinity_matches(pod, node_info.node):
            return None
        return unresolvable(self.ERR_REASON_POD)

    def queueing_hint(self, event: str, pod: Mapping, old, new) -> bool:
        """A node added that matches the pod's nodeSelector and required affinity, or one whose labels
        changed from not matching to matching."""
        if new is None:
            return True
        if not self._added_matches(new) or not required_node_affinity_matches(pod, new):
            return False
        return old is None or not required_node_affinity_matches(pod, old)

    def pre_score(self, state, pod: Mapping, snapshot, nodes):
        preferred = _node_affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution") or []
        if not preferred and not self.added_preferred:
            return Status(SKIP)
        state[self.name] = self.added_preferred + list(preferred)
        return None

    def score(self, state, pod: Mapping, node_info) -> int:
        return sum(term.get("weight", 0) for term in state.get(self.name, [])
                   if term.get("weight", 0) and node_selector_term_matches(term.get("preference") or {},
                                                                           node_info.node))

    def normalize_score(self, state, pod, scores):
        default_normalize_score(scores)

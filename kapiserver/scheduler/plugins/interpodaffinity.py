"""InterPodAffinity: the pod's required affinity and anti-affinity against the pods already placed, and
those pods' required anti-affinity against it; preferred terms (both ways) and existing pods' required
affinity (at hardPodAffinityWeight, 1 unless a profile's args say otherwise) make the score; with the args'
ignorePreferredTermsOfExistingPods a pod without preferred terms of its own is not scored.

A term applies to the pods of its namespaces (the pod's own when it names none and has no
namespaceSelector), or of the namespaces its namespaceSelector matches; namespace labels come from the
``namespace_labels`` callable the scheduler hands in.
"""

from __future__ import annotations

from typing import Callable, Mapping

from ..framework import MAX_NODE_SCORE, SKIP, Status, unresolvable, unschedulable
from .helpers import label_selector

ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY_RULES_NOT_MATCH = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH = "node(s) didn't match pod anti-affinity rules"
HARD_POD_AFFINITY_WEIGHT = 1


class AffinityTerm:
    def __init__(self, pod: Mapping, raw: Mapping, weight: int = 0):
        self.topology_key = raw.get("topologyKey", "")
        self.selector = label_selector(raw.get("labelSelector"))
        self.namespaces = set(raw.get("namespaces") or [])
        ns_selector = raw.get("namespaceSelector")
        if not self.namespaces and ns_selector is None:
            self.namespaces = {pod["metadata"].get("namespace", "")}
        self.namespace_selector = label_selector(ns_selector)
        self.weight = weight

    def matches(self, pod: Mapping, namespace_labels: Callable[[str], Mapping]) -> bool:
        metadata = pod["metadata"]
        namespace = metadata.get("namespace", "")
        if namespace in self.namespaces or self.namespace_selector.matches(namespace_labels(namespace)):
            return self.selector.matches(metadata.get("labels") or {})
        return False


def _affinity(pod: Mapping, kind: str) -> Mapping:
    return ((pod.get("spec") or {}).get("affinity") or {}).get(kind) or {}


def required_terms(pod: Mapping, kind: str) -> list[AffinityTerm]:
    return [AffinityTerm(pod, t) for t in _affinity(pod, kind).get("requiredDuringSchedulingIgnoredDuringExecution")
            or []]


def preferred_terms(pod: Mapping, kind: str) -> list[AffinityTerm]:
    return [AffinityTerm(pod, t.get("podAffinityTerm") or {}, t.get("weight", 0))
            for t in _affinity(pod, kind).get("preferredDuringSchedulingIgnoredDuringExecution") or []]


class InterPodAffinity:
    name = "InterPodAffinity"
    events = {"Node/Add", "Node/UpdateNodeLabel", "AssignedPod/Add", "AssignedPod/UpdatePodLabel",
              "AssignedPod/Delete"}

    def __init__(self, namespace_labels: Callable[[str], Mapping] = lambda namespace: {},
                 hard_pod_affinity_weight: int = HARD_POD_AFFINITY_WEIGHT,
                 ignore_preferred_terms_of_existing_pods: bool = False):
        if not 0 <= hard_pod_affinity_weight <= 100:
            raise ValueError(f"hardPodAffinityWeight: Invalid value: {hard_pod_affinity_weight}: not in valid "
                             "range [0, 100]")
        self.namespace_labels = namespace_labels
        self.hard_pod_affinity_weight = hard_pod_affinity_weight
        self.ignore_preferred_terms_of_existing_pods = ignore_preferred_terms_of_existing_pods

    # --- Filter ---------------------------------------------------------------------------------

    def pre_filter(self, state, pod: Mapping, snapshot):
        affinity = required_terms(pod, "podAffinity")
        anti = required_terms(pod, "podAntiAffinity")
        existing_anti: dict[tuple[str, str], int] = {}
        affinity_counts: dict[tuple[str, str], int] = {}
        anti_counts: dict[tuple[str, str], int] = {}
        for node_info in snapshot.node_infos:
            labels = node_info.labels
            for other in node_info.pods_with_required_anti_affinity:
                for term in required_terms(other.pod, "podAntiAffinity"):
                    if term.topology_key in labels and term.matches(pod, self.namespace_labels):
                        pair = (term.topology_key, labels[term.topology_key])
                        existing_anti[pair] = existing_anti.get(pair, 0) + 1
            if not affinity and not anti:
                continue
            for other in node_info.pods:
                if affinity and all(t.matches(other.pod, self.namespace_labels) for t in affinity):
                    for term in affinity:
                        if term.topology_key in labels:
                            pair = (term.topology_key, labels[term.topology_key])
                            affinity_counts[pair] = affinity_counts.get(pair, 0) + 1
                for term in anti:
                    if term.topology_key in labels and term.matches(other.pod, self.namespace_labels):
                        pair = (term.topology_key, labels[term.topology_key])
                        anti_counts[pair] = anti_counts.get(pair, 0) + 1
        if not affinity and not anti and not existing_anti:
            return Status(SKIP)
        state[self.name] = (affinity, anti, existing_anti, affinity_counts, anti_counts)
        return None

    def filter(self, state, pod: Mapping, node_info):
        found = state.get(self.name)
        if found is None:
            return None
        affinity, anti, existing_anti, affinity_counts, anti_counts = found
        labels = node_info.labels
        if not self._satisfies_affinity(pod, affinity, affinity_counts, labels):
            return unresolvable(ERR_REASON_AFFINITY_RULES_NOT_MATCH)
        for term in anti:
            if term.topology_key in labels and anti_counts.get((term.topology_key, labels[term.topology_key]), 0) > 0:
                return unschedulable(ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH)
        if any(existing_anti.get(pair, 0) > 0 for pair in labels.items()):
            return unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH)
        return None

    def _satisfies_affinity(self, pod, affinity, counts, labels) -> bool:
        pods_exist = True
        for term in affinity:
            if term.topology_key not in labels:
                return False
            if counts.get((term.topology_key, labels[term.topology_key]), 0) <= 0:
                pods_exist = False
        if pods_exist:
            return True
        # The first pod of a series with affinity to itself: nothing matches anywhere yet, it matches its
        # own terms, and the node has every topology key.
        return not counts and all(t.matches(pod, self.namespace_labels) for t in affinity)

    # --- Score ----------------------------------------------------------------------------------

    def pre_score(self, state, pod: Mapping, snapshot, nodes):
        preferred = preferred_terms(pod, "podAffinity")
        preferred_anti = preferred_terms(pod, "podAntiAffinity")
        has_preferred = bool(preferred or preferred_anti)
        if self.ignore_preferred_terms_of_existing_pods and not has_preferred:
            return Status(SKIP)
        scores: dict[tuple[str, str], int] = {}

        def process(terms, target, labels, multiplier):
            for term in terms:
                if term.topology_key in labels and term.matches(target, self.namespace_labels):
                    pair = (term.topology_key, labels[term.topology_key])
                    scores[pair] = scores.get(pair, 0) + term.weight * multiplier

        any_affinity = False
        for node_info in snapshot.node_infos:
            labels = node_info.labels
            others = node_info.pods if has_preferred else node_info.pods_with_affinity
            any_affinity = any_affinity or bool(node_info.pods_with_affinity)
            if not labels:
                continue
            for other in others:
                process(preferred, other.pod, labels, 1)
                process(preferred_anti, other.pod, labels, -1)
                if self.hard_pod_affinity_weight > 0:
                    for term in required_terms(other.pod, "podAffinity"):
                        term.weight = self.hard_pod_affinity_weight
                        process([term], pod, labels, 1)
                process(preferred_terms(other.pod, "podAffinity"), pod, labels, 1)
                process(preferred_terms(other.pod, "podAntiAffinity"), pod, labels, -1)
        if not has_preferred and not any_affinity:
            return Status(SKIP)
        state[self.name + "/score"] = scores
        return None

    def score(self, state, pod: Mapping, node_info) -> int:
        scores = state[self.name + "/score"]
        return sum(scores.get(pair, 0) for pair in node_info.labels.items())

    def normalize_score(self, state, pod, scores):
        if not state[self.name + "/score"]:
            return
        low, high = min(scores.values()), max(scores.values())
        spread = high - low
        for name, score in scores.items():
            # The fraction first, then the scale, as upstream's float arithmetic (100 * (29 / 100) is 28).
            scores[name] = int(MAX_NODE_SCORE * ((score - low) / spread)) if spread > 0 else 0

"""PodTopologySpread: DoNotSchedule constraints filter (the skew a node would make must stay within
maxSkew), ScheduleAnyway constraints score (fewer matching pods in the node's domain is better).

Nodes count for a constraint when they match the pod's required node affinity (nodeAffinityPolicy Honor,
the default) and, with nodeTaintsPolicy Honor, tolerate its taints; a node lacking any constraint's
topologyKey holds no domain.  Terminating pods are not counted, nor any pod by an empty labelSelector.

A pod with no constraints of its own is spread by the default constraints on the pods its Services and its
controller (ReplicationController, ReplicaSet, StatefulSet) select: the system defaults (ScheduleAnyway,
maxSkew 3 over kubernetes.io/hostname and 5 over topology.kubernetes.io/zone; a node lacking a key is then
scored on the keys it has rather than ignored), or with the plugin's defaultingType List its
defaultConstraints (DoNotSchedule ones filter too; none at all turns default spreading off).
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, Mapping, Optional

from ...machinery import selectors
from ...machinery.selectors import LabelSelector
from ..framework import MAX_NODE_SCORE, SKIP, Status, unresolvable, unschedulable
from .helpers import (find_untolerated_taint, label_selector, node_taints, pod_tolerations,
                      required_node_affinity_matches, with_match_label_keys)

ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
SYSTEM_DEFAULT_CONSTRAINTS = ({"topologyKey": HOSTNAME, "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 3},
                              {"topologyKey": ZONE, "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 5})


class _Constraint:
    def __init__(self, raw: Mapping, pod: Mapping, selector=None):
        self.max_skew = raw.get("maxSkew", 1)
        self.topology_key = raw.get("topologyKey", "")
        self.min_domains = raw.get("minDomains") or 1
        labels = pod["metadata"].get("labels") or {}
        self.selector = selector if selector is not None else label_selector(
            with_match_label_keys(raw.get("labelSelector"), raw.get("matchLabelKeys"), labels))
        self.node_affinity_policy = raw.get("nodeAffinityPolicy") or "Honor"
        self.node_taints_policy = raw.get("nodeTaintsPolicy") or "Ignore"

    def counts_node(self, pod: Mapping, node: Mapping) -> bool:
        if self.node_affinity_policy == "Honor" and not required_node_affinity_matches(pod, node):
            return False
        if self.node_taints_policy == "Honor" and find_untolerated_taint(
                node_taints(node), pod_tolerations(pod), ("NoSchedule", "NoExecute")) is not None:
            return False
        return True


def _constraints(pod: Mapping, when: str) -> list[_Constraint]:
    return [_Constraint(c, pod) for c in (pod.get("spec") or {}).get("topologySpreadConstraints") or []
            if c.get("whenUnsatisfiable") == when]


def _count_matching(node_info, selector, namespace: str) -> int:
    # An empty selector (labelSelector: {}) counts no pod anywhere, as upstream's countPodsMatchSelector,
    # though the incoming pod still matches it.
    if selector.empty:
        return 0
    return node_info.count_matching(namespace, selector)


def _has_all_keys(node_info, constraints) -> bool:
    return all(c.topology_key in node_info.labels for c in constraints)


class PodTopologySpread:
    """``default_selector(pod)`` is helper.DefaultSelector: the selector of the pods in the same Services and
    controller as ``pod`` (None or an empty selector: no default spreading)."""

    name = "PodTopologySpread"
    events = {"Node/Add", "Node/Delete", "Node/UpdateNodeLabel", "Node/UpdateNodeTaint", "AssignedPod/Add",
              "AssignedPod/UpdatePodLabel", "AssignedPod/Delete"}

    def __init__(self, default_selector: Callable[[Mapping], Optional[LabelSelector]] = lambda pod: None,
                 default_constraints: Optional[Iterable[Mapping]] = None):
        """``default_constraints``: defaultingType List's defaultConstraints; None for the system defaults."""
        self.default_selector = default_selector
        self.system_defaulted = default_constraints is None
        self.default_constraints = tuple(SYSTEM_DEFAULT_CONSTRAINTS if default_constraints is None
                                         else default_constraints)

    def _pod_constraints(self, pod: Mapping, when: str) -> list[_Constraint]:
        """The pod's own constraints of that kind, or else the default ones over its siblings' selector."""
        if (pod.get("spec") or {}).get("topologySpreadConstraints"):
            return _constraints(pod, when)
        defaults = [c for c in self.default_constraints if c.get("whenUnsatisfiable") == when]
        if not defaults:
            return []
        selector = self.default_selector(pod)
        if selector is None or selector.empty:
            return []
        return [_Constraint(c, pod, selector) for c in defaults]

    def _score_constraints(self, pod: Mapping) -> tuple[list[_Constraint], bool]:
        """The ScheduleAnyway constraints, and whether a node must have every key to be scored (the pod's
        own constraints, or defaults other than the system's)."""
        own = bool((pod.get("spec") or {}).get("topologySpreadConstraints"))
        return self._pod_constraints(pod, "ScheduleAnyway"), own or not self.system_defaulted

    # --- Queueing hint --------------------------------------------------------------------------

    def queueing_hint(self, event: str, pod: Mapping, old, new) -> bool:
        """isSchedulableAfterNodeChange / isSchedulableAfterPodChange: a node (added, changed or deleted)
        helps only if it has every key of the pod's DoNotSchedule constraints; a placed pod of the pod's
        namespace only if it is added or deleted matching a constraint's selector, or relabelled into or out
        of one.  A pod spread by default constraints is always retried (their selector is not known here)."""
        if not (pod.get("spec") or {}).get("topologySpreadConstraints"):
            return True
        constraints = _constraints(pod, "DoNotSchedule")
        if event.startswith("Node/"):
            node = new if new is not None else old
            labels = ((node or {}).get("metadata") or {}).get("labels") or {}
            return node is None or all(c.topology_key in labels for c in constraints)
        namespace = pod["metadata"].get("namespace", "")
        for other in (old, new):
            if other is None:
                continue
            if not (other.get("spec") or {}).get("nodeName") or other["metadata"].get("namespace", "") != namespace:
                return False
        if old is not None and new is not None:
            before, after = old["metadata"].get("labels") or {}, new["metadata"].get("labels") or {}
            return before != after and any(c.selector.matches(before) != c.selector.matches(after)
                                           for c in constraints)
        changed = old if old is not None else new
        labels = (changed or {}).get("metadata", {}).get("labels") or {}
        return changed is None or any(c.selector.matches(labels) for c in constraints)

    # --- Filter ---------------------------------------------------------------------------------

    def pre_filter(self, state, pod: Mapping, snapshot):
        constraints = self._pod_constraints(pod, "DoNotSchedule")
        if not constraints:
            return Status(SKIP)
        namespace = pod["metadata"].get("namespace", "")
        # Per constraint: the matching pods in each of its domains (topology values).
        domain_counts: list[dict[str, int]] = [{} for _ in constraints]
        for node_info in snapshot.node_infos:
            if not _has_all_keys(node_info, constraints):
                continue
            for c, counts in zip(constraints, domain_counts):
                if not c.counts_node(pod, node_info.node):
                    continue
                value = node_info.labels[c.topology_key]
                counts[value] = counts.get(value, 0) + _count_matching(node_info, c.selector, namespace)
        state[self.name] = (constraints, domain_counts)
        return None

    def filter(self, state, pod: Mapping, node_info):
        found = state.get(self.name)
        if found is None:
            return None
        constraints, domain_counts = found
        labels = pod["metadata"].get("labels") or {}
        for c, counts in zip(constraints, domain_counts):
            value = node_info.labels.get(c.topology_key)
            if value is None:
                return unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH)
            min_match = min(counts.values()) if len(counts) >= c.min_domains else 0
            self_match = 1 if c.selector.matches(labels) else 0
            skew = counts.get(value, 0) + self_match - min_match
            if skew > c.max_skew:
                return unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH)
        return None

    # --- Score ----------------------------------------------------------------------------------

    def pre_score(self, state, pod: Mapping, snapshot, nodes):
        constraints, require_all = self._score_constraints(pod)
        if not constraints:
            return Status(SKIP)
        namespace = pod["metadata"].get("namespace", "")
        ignored = {n.name for n in nodes if require_all and not _has_all_keys(n, constraints)}
        pair_counts: dict[tuple[str, str], int] = {}
        weights = []
        for c in constraints:
            if c.topology_key == HOSTNAME:
                size = len(nodes) - len(ignored)
            else:
                # A node without the key makes a domain of "" when the constraints are the defaults, as upstream.
                values = {n.labels.get(c.topology_key, "") for n in nodes if n.name not in ignored}
                size = len(values)
                for value in values:
                    pair_counts[(c.topology_key, value)] = 0
            weights.append(math.log(size + 2))
        for node_info in snapshot.node_infos:
            if require_all and not _has_all_keys(node_info, constraints):
                continue
            for c in constraints:
                pair = (c.topology_key, node_info.labels.get(c.topology_key, ""))
                if pair in pair_counts and c.counts_node(pod, node_info.node):
                    pair_counts[pair] += _count_matching(node_info, c.selector, namespace)
        state[self.name + "/score"] = (constraints, pair_counts, weights, ignored, namespace)
        return None

    def score(self, state, pod: Mapping, node_info) -> int:
        constraints, pair_counts, weights, ignored, namespace = state[self.name + "/score"]
        if node_info.name in ignored:
            return 0
        total = 0.0
        for c, weight in zip(constraints, weights):
            value = node_info.labels.get(c.topology_key)
            if value is None:
                continue
            if c.topology_key == HOSTNAME:
                count = _count_matching(node_info, c.selector, namespace)
            else:
                count = pair_counts.get((c.topology_key, value), 0)
            total += count * weight + (c.max_skew - 1)
        return int(math.floor(total + 0.5))

    def normalize_score(self, state, pod, scores):
        ignored = state[self.name + "/score"][3]
        counted = [s for name, s in scores.items() if name not in ignored]
        low, high = min(counted, default=0), max(counted, default=0)
        for name, score in scores.items():
            if name in ignored:
                scores[name] = 0
            elif high == 0:
                scores[name] = MAX_NODE_SCORE
            else:
                scores[name] = MAX_NODE_SCORE * (high + low - score) // high


_CONTROLLERS = {("v1", "ReplicationController"), ("apps/v1", "ReplicaSet"), ("apps/v1", "StatefulSet")}


def default_selector(pod: Mapping, services: Iterable[Mapping],
                     get_controller: Callable[[str, str, str], Optional[Mapping]]) -> LabelSelector:
    """helper.DefaultSelector: the selectors of the Services selecting ``pod`` merged, and its controller's
    (a ReplicationController's map, a ReplicaSet's or StatefulSet's label selector) added.
    ``get_controller(kind, namespace, name)`` reads a controller from the informers."""
    metadata = pod["metadata"]
    labels = metadata.get("labels") or {}
    merged: dict[str, str] = {}
    for service in services:
        wanted = (service.get("spec") or {}).get("selector") or {}
        if wanted and all(labels.get(k) == v for k, v in wanted.items()):
            merged.update(wanted)
    extra: list[selectors.Requirement] = []
    owner = next((r for r in metadata.get("ownerReferences") or [] if r.get("controller")), None)
    if owner is not None and (owner.get("apiVersion"), owner.get("kind")) in _CONTROLLERS:
        controller = get_controller(owner["kind"], metadata.get("namespace", ""), owner.get("name", ""))
        selector = (controller or {}).get("spec", {}).get("selector")
        if controller is not None and owner["kind"] == "ReplicationController":
            merged.update(selector or {})
        elif controller is not None:
            extra = list(label_selector(selector).requirements)
    return LabelSelector([selectors.Requirement(k, selectors.EQUALS, (v,)) for k, v in merged.items()] + extra)

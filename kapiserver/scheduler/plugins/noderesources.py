"""NodeResourcesFit (the pod's requests against what is left of the node's allocatable; LeastAllocated
scoring by default, MostAllocated or RequestedToCapacityRatio when a profile's scoringStrategy asks) and
NodeResourcesBalancedAllocation (favouring nodes whose cpu and memory stay in step)."""

from __future__ import annotations

import math
from typing import Mapping

from .. import resources
from ..cache import NodeInfo
from ..framework import MAX_NODE_SCORE, unresolvable, unschedulable

# The default scoring strategy's resources and weights (config v1 defaults).
SCORED_RESOURCES = ((resources.CPU, 1), (resources.MEMORY, 1))


def is_scalar_resource_name(name: str) -> bool:
    """Extended resources, hugepages, prefixed native and attachable-volumes resources (IsScalarResourceName)."""
    extended = "/" in name and not name.startswith("kubernetes.io/") and not name.startswith("requests.")
    return (extended or name.startswith("hugepages-") or "kubernetes.io/" in name
            or name.startswith("attachable-volumes-"))


def is_extended_resource_name(name: str) -> bool:
    """IsExtendedResourceName: a prefixed name outside kubernetes.io (and not a quota "requests." one)."""
    return "/" in name and "kubernetes.io/" not in name and not name.startswith("requests.")


def insufficient_resources(requests: Mapping[str, int], node_info, ignored=frozenset(),
                           ignored_groups=frozenset()) -> list[tuple[str, bool]]:
    """fitsRequest: (reason, unresolvable) for each resource the node lacks; unresolvable when even an
    empty node could not hold the pod, so preemption would not help.  Extended resources named in
    ``ignored``, or whose prefix is in ``ignored_groups``, are not checked (NodeResourcesFitArgs)."""
    found = []
    allocatable, requested = node_info.allocatable, node_info.requested
    if len(node_info.pods) + 1 > allocatable.get(resources.PODS, 0):
        found.append(("Too many pods", False))
    names = [resources.CPU, resources.MEMORY, resources.EPHEMERAL_STORAGE]
    names += sorted(n for n in requests if is_scalar_resource_name(n))
    for name in names:
        wanted = requests.get(name, 0)
        if wanted <= 0:
            continue
        if is_extended_resource_name(name) and (name in ignored or name.split("/")[0] in ignored_groups):
            continue
        if wanted > allocatable.get(name, 0) - requested.get(name, 0):
            found.append((f"Insufficient {name}", wanted > allocatable.get(name, 0)))
    return found


# RequestedToCapacityRatio: a shape's scores run 0..10, scaled to the node score's 0..100.
MAX_CUSTOM_PRIORITY_SCORE = 10
MAX_UTILIZATION = 100


def _go_div(a: int, b: int) -> int:
    """Integer division truncating toward zero, as Go's (a falling shape has negative slopes)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def broken_linear(shape, utilization: int) -> int:
    """helper.BuildBrokenLinearFunction: the score at ``utilization`` on the line through the shape's points,
    flat before the first and after the last."""
    for i, (point_utilization, score) in enumerate(shape):
        if utilization <= point_utilization:
            if i == 0:
                return score
            previous_utilization, previous_score = shape[i - 1]
            return previous_score + _go_div((score - previous_score) * (utilization - previous_utilization),
                                            point_utilization - previous_utilization)
    return shape[-1][1]


def validate_shape(shape) -> list[tuple[int, int]]:
    """The requestedToCapacityRatio shape as (utilization, score) points, validated as upstream's
    ValidateNodeResourcesFitArgs words it."""
    if not shape:
        raise ValueError("scoringStrategy.requestedToCapacityRatio.shape: Required value: at least one point must be "
                         "specified")
    points = []
    for i, point in enumerate(shape):
        utilization, score = point.get("utilization", 0), point.get("score", 0)
        path = f"scoringStrategy.requestedToCapacityRatio.shape[{i}]"
        if not 0 <= utilization <= MAX_UTILIZATION:
            raise ValueError(f"{path}.utilization: Invalid value: {utilization}: not in valid range [0, 100]")
        if points and utilization <= points[-1][0]:
            raise ValueError(f"{path}.utilization: Invalid value: {utilization}: "
                             "values must be sorted in increasing order")
        if not 0 <= score <= MAX_CUSTOM_PRIORITY_SCORE:
            raise ValueError(f"{path}.score: Invalid value: {score}: not in valid range [0, 10]")
        points.append((utilization, score))
    return points


class NodeResourcesFit:
    """``strategy`` is the scoringStrategy type, ``scored`` its (resource, weight) pairs, ``shape`` the
    requestedToCapacityRatio shape's points (utilization, score) for that strategy."""

    name = "NodeResourcesFit"
    STRATEGIES = ("LeastAllocated", "MostAllocated", "RequestedToCapacityRatio")

    def __init__(self, strategy: str = "LeastAllocated", scored=SCORED_RESOURCES, shape=None,
                 ignored_resources=(), ignored_resource_groups=()):
        for i, group in enumerate(ignored_resource_groups):
            if "/" in group:
                raise ValueError(f"ignoredResourceGroups[{i}]: Invalid value: {group!r}: "
                                 "resource group name can't contain '/'")
        self.ignored = frozenset(ignored_resources)
        self.ignored_groups = frozenset(ignored_resource_groups)
        if strategy not in self.STRATEGIES:
            raise ValueError(f"scoringStrategy.type: Unsupported value: {strategy!r}: supported values: "
                             f"{', '.join(repr(s) for s in self.STRATEGIES)}")
        self.strategy = strategy
        self.scored = tuple(scored)
        self.shape = None
        if strategy == "RequestedToCapacityRatio":
            scale = MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE
            self.shape = [(u, score * scale) for u, score in validate_shape(shape)]
    events = {"Node/Add", "Node/UpdateNodeAllocatable", "AssignedPod/Delete", "AssignedPod/UpdatePodScaleDown"}

    def pre_filter(self, state, pod: Mapping, snapshot):
        state[self.name] = resources.pod_requests(pod)
        return None

    def filter(self, state, pod: Mapping, node_info):
        requests = state.get(self.name)
        if requests is None:
            requests = resources.pod_requests(pod)
        found = insufficient_resources(requests, node_info, self.ignored, self.ignored_groups)
        if not found:
            return None
        status = unschedulable(*(reason for reason, _ in found))
        if any(unresolvable for _, unresolvable in found):
            status = unresolvable(*status.reasons)
        return status

    def queueing_hint(self, event: str, pod: Mapping, old, new) -> bool:
        """An assigned pod deleted or shrunk may free room; a node added, or whose allocatable grew in a
        resource the pod asks for (or in pods), only if the pod would fit it empty."""
        if not event.startswith("Node/") or new is None:
            return True
        requests = resources.pod_requests(pod)
        if insufficient_resources(requests, NodeInfo(new), self.ignored, self.ignored_groups):
            return False
        if old is None:
            return True
        before, after = NodeInfo(old).allocatable, NodeInfo(new).allocatable
        if after.get(resources.PODS, 0) > before.get(resources.PODS, 0):
            return True
        return any(wanted > 0 and after.get(name, 0) > before.get(name, 0) for name, wanted in requests.items())

    def pre_score(self, state, pod: Mapping, snapshot, nodes):
        state[self.name + "/score"] = resources.pod_requests(pod, non_zero=True)
        return None

    def score(self, state, pod: Mapping, node_info) -> int:
        """The strategy over the scored resources, counting containers without cpu or memory requests at
        the defaults; an extended resource the pod does not ask for is left out."""
        wanted = state[self.name + "/score"]
        total = weights = 0
        for name, weight in self.scored:
            if name in (resources.CPU, resources.MEMORY):
                requested = node_info.non_zero_requested.get(name, 0) + wanted.get(name, 0)
            elif wanted.get(name, 0) == 0 and is_scalar_resource_name(name):
                continue
            else:
                requested = node_info.requested.get(name, 0) + wanted.get(name, 0)
            capacity = node_info.allocatable.get(name, 0)
            if capacity == 0:
                continue
            if self.shape is not None:
                utilization = MAX_UTILIZATION if requested > capacity else requested * MAX_UTILIZATION // capacity
                score = broken_linear(self.shape, utilization)
                if score > 0:    # a resource scoring 0 does not count in the average
                    total += score * weight
                    weights += weight
                continue
            if self.strategy == "MostAllocated":
                score = min(requested, capacity) * MAX_NODE_SCORE // capacity
            else:
                score = 0 if requested > capacity else (capacity - requested) * MAX_NODE_SCORE // capacity
            total += score * weight
            weights += weight
        if not weights:
            return 0
        if self.shape is not None:
            return math.floor(total / weights + 0.5)    # rounded, as upstream's math.Round of the mean
        return total // weights


class NodeResourcesBalancedAllocation:
    """``scored``: the resources whose shares are compared (cpu and memory unless a profile's args list
    others); an extended resource the pod does not ask for is left out."""

    name = "NodeResourcesBalancedAllocation"

    def __init__(self, scored=SCORED_RESOURCES):
        self.scored = tuple(scored)
    events = {"Node/Add", "Node/UpdateNodeAllocatable", "AssignedPod/Delete", "AssignedPod/UpdatePodScaleDown"}

    def pre_score(self, state, pod: Mapping, snapshot, nodes):
        state[self.name] = resources.pod_requests(pod)
        return None

    def score(self, state, pod: Mapping, node_info) -> int:
        wanted = state[self.name]
        fractions = []
        for name, _ in self.scored:
            if wanted.get(name, 0) == 0 and is_scalar_resource_name(name):
                continue
            capacity = node_info.allocatable.get(name, 0)
            if capacity == 0:
                continue
            fractions.append(min((node_info.requested.get(name, 0) + wanted.get(name, 0)) / capacity, 1.0))
        std = 0.0
        if len(fractions) == 2:
            std = abs((fractions[0] - fractions[1]) / 2)
        elif len(fractions) > 2:
            mean = sum(fractions) / len(fractions)
            std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
        return int((1 - std) * MAX_NODE_SCORE)

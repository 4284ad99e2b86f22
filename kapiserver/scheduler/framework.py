"""The scheduling framework: statuses, the FitError and its message, and one profile's cycle.

A cycle for one pod runs every plugin's PreFilter over a snapshot of the nodes, then the Filter plugins on
each node in the profile's order (a node is out at its first rejection, whose reasons it keeps), then, if
more than one node is left, PreScore and Score, each plugin's scores normalised to 0..100 and weighted, and
picks the highest total, ties broken at random as upstream's selectHost does.  No I/O happens here.

A plugin is any object with a ``name`` and some of: ``pre_filter(state, pod, snapshot)``,
``filter(state, pod, node_info)``, ``pre_score(state, pod, snapshot, nodes)``,
``score(state, pod, node_info) -> int`` and ``normalize_score(state, pod, scores)``; each may return a
Status (None is success), and ``events`` names the cluster events that may make a pod it rejected
schedulable ("Node/Add", "AssignedPod/Delete", ...); ``queueing_hint(event, pod, old, new) -> bool``, when a
plugin has one, narrows that to the events that may help this pod (the queue's QueueingHints).  A PreFilter
may name the only nodes worth trying in ``state["__node_names__"][plugin name]`` (a PreFilterResult).
Once a node is chosen, ``reserve(state, pod, node_name)`` and ``unreserve(...)`` keep or drop what a plugin
assumed for it, and ``pre_bind(state, pod, node_name, client, clock)`` (awaitable) writes it through the API
before the pod's Binding.
"""

from __future__ import annotations

import random
from typing import Callable, Iterable, Mapping, Optional

from twisted.internet.defer import CancelledError
from twisted.logger import Logger

from .cache import NodeInfo, PodInfo, Snapshot
from .resources import pod_priority

log = Logger()

SUCCESS, ERROR, UNSCHEDULABLE, UNSCHEDULABLE_AND_UNRESOLVABLE, SKIP = (
    "Success", "Error", "Unschedulable", "UnschedulableAndUnresolvable", "Skip")

MAX_NODE_SCORE = 100

# schedule_one.go: below this many nodes every node is tried; above, a share of them.
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5

NO_NODE_AVAILABLE_MSG = "0/%d nodes are available"
ERR_NO_NODES_AVAILABLE = "no nodes available to schedule pods"


class Status:
    """framework.Status: a code, the reasons (each counted in the FitError), and the plugin that said it."""

    __slots__ = ("code", "reasons", "plugin")

    def __init__(self, code: str, *reasons: str, plugin: str = ""):
        self.code = code
        self.reasons = list(reasons)
        self.plugin = plugin

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    def is_success(self) -> bool:
        return self.code == SUCCESS

    def is_rejected(self) -> bool:
        return self.code in (UNSCHEDULABLE, UNSCHEDULABLE_AND_UNRESOLVABLE)

    def __repr__(self) -> str:
        return f"Status({self.code}, {self.reasons}, plugin={self.plugin!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Status) and (self.code, self.reasons) == (other.code, other.reasons)


def unschedulable(*reasons: str) -> Status:
    return Status(UNSCHEDULABLE, *reasons)


def unresolvable(*reasons: str) -> Status:
    return Status(UNSCHEDULABLE_AND_UNRESOLVABLE, *reasons)


class Diagnosis:
    """Why each node was rejected, the PreFilter's and PostFilter's messages, and which plugins rejected."""

    def __init__(self):
        self.node_to_status: dict[str, Status] = {}
        self.absent_status: Optional[Status] = None    # the status of nodes the map does not name
        self.unschedulable_plugins: set[str] = set()
        self.pre_filter_msg = ""
        self.post_filter_msg = ""


class FitError(Exception):
    """No node fits the pod: its text is upstream's FailedScheduling message."""

    def __init__(self, pod: Mapping, num_all_nodes: int, diagnosis: Diagnosis):
        super().__init__()
        self.pod = pod
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis

    def __str__(self) -> str:
        d = self.diagnosis
        message = (NO_NODE_AVAILABLE_MSG % self.num_all_nodes) + ":"
        if d.pre_filter_msg:
            message += f" {d.pre_filter_msg}."
        else:
            histogram: dict[str, int] = {}
            for status in d.node_to_status.values():
                for reason in status.reasons:
                    histogram[reason] = histogram.get(reason, 0) + 1
            absent = self.num_all_nodes - len(d.node_to_status)
            if absent > 0 and d.absent_status is not None:
                for reason in d.absent_status.reasons:
                    histogram[reason] = histogram.get(reason, 0) + absent
            reasons = sorted(f"{count} {reason}" for reason, count in histogram.items())
            if reasons:
                message += f" {', '.join(reasons)}."
        if d.post_filter_msg:
            message += f" {d.post_filter_msg}"    # it ends in its own full stop
        return message


class CycleState(dict):
    """What a plugin's PreFilter or PreScore computed for the rest of the cycle, by plugin name."""


class ScheduleResult:
    def __init__(self, suggested_host: str, evaluated_nodes: int, feasible_nodes: int,
                 state: Optional[CycleState] = None):
        self.suggested_host = suggested_host
        self.state = state if state is not None else CycleState()    # for Reserve, PreBind and Unreserve
        self.evaluated_nodes = evaluated_nodes
        self.feasible_nodes = feasible_nodes


def num_feasible_nodes_to_find(num_all_nodes: int, percentage: int = 0) -> int:
    """How many feasible nodes a cycle looks for before it stops filtering (adaptive, as upstream)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage <= 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    count = num_all_nodes * percentage // 100
    return max(count, MIN_FEASIBLE_NODES_TO_FIND)


class Framework:
    """One profile: its plugins in order, its score weights, and the random source that breaks ties."""

    def __init__(self, plugins: Iterable, weights: Mapping[str, int], scheduler_name: str = "default-scheduler",
                 rand: Optional[random.Random] = None, percentage_of_nodes_to_score: int = 0):
        self.plugins = list(plugins)
        self.weights = dict(weights)
        self.scheduler_name = scheduler_name
        self.rand = rand or random.Random()
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.next_start_node_index = 0

    def plugin(self, name: str):
        for plugin in self.plugins:
            if plugin.name == name:
                return plugin
        return None

    # --- the extension points -------------------------------------------------------------------

    def run_pre_filter(self, state: CycleState, pod: Mapping, snapshot: Snapshot) -> Status:
        """Every PreFilter; the first rejection, with the plugin named.  Plugins answering Skip sit out
        the Filter phase."""
        state.setdefault("__skip_filter__", set())
        for plugin in self.plugins:
            pre_filter = getattr(plugin, "pre_filter", None)
            if pre_filter is None:
                continue
            status = pre_filter(state, pod, snapshot)
            if status is None or status.is_success():
                narrowed = state.get("__node_names__") or {}
                if plugin.name in narrowed and not set.intersection(*narrowed.values()):
                    return self._narrowed_to_nothing(state, plugin.name, sorted(narrowed))
                continue
            if status.code == SKIP:
                state["__skip_filter__"].add(plugin.name)
                continue
            status.plugin = plugin.name
            return status
        return Status(SUCCESS)

    @staticmethod
    def _narrowed_to_nothing(state: CycleState, plugin: str, narrowing: list[str]) -> Status:
        """The PreFilter plugins that each named the only nodes worth trying named none in common: the pod
        fits nowhere, and those plugins are the ones that rejected it."""
        state["__narrowed_to_nothing__"] = narrowing
        if len(narrowing) == 1:
            status = unresolvable(f"node(s) didn't satisfy plugin {narrowing[0]}")
        else:
            status = unresolvable(f"node(s) didn't satisfy plugin(s) [{' '.join(narrowing)}] simultaneously")
        status.plugin = plugin
        return status

    def run_filter(self, state: CycleState, pod: Mapping, node_info: NodeInfo) -> Status:
        """The Filter plugins in order; the first that rejects the node decides."""
        skipped = state.get("__skip_filter__", ())
        for plugin in self.plugins:
            filter_ = getattr(plugin, "filter", None)
            if filter_ is None or plugin.name in skipped:
                continue
            status = filter_(state, pod, node_info)
            if status is not None and not status.is_success():
                status.plugin = plugin.name
                return status
        return Status(SUCCESS)

    def run_score(self, state: CycleState, pod: Mapping, snapshot: Snapshot,
                  nodes: list[NodeInfo]) -> dict[str, int]:
        """The weighted total of every Score plugin's normalised score, by node name."""
        totals = {n.name: 0 for n in nodes}
        for plugin in self.plugins:
            score = getattr(plugin, "score", None)
            weight = self.weights.get(plugin.name, 0)
            if score is None or weight == 0:
                continue
            pre_score = getattr(plugin, "pre_score", None)
            if pre_score is not None:
                status = pre_score(state, pod, snapshot, nodes)
                if status is not None and status.code == SKIP:
                    continue
            scores = {n.name: score(state, pod, n) for n in nodes}
            normalize = getattr(plugin, "normalize_score", None)
            if normalize is not None:
                normalize(state, pod, scores)
            for name, value in scores.items():
                totals[name] += value * weight
        return totals

    def run_reserve(self, state: CycleState, pod: Mapping, node_name: str) -> Status:
        """Every Reserve plugin in order; the first failure, with the plugin named (the caller unreserves)."""
        for plugin in self.plugins:
            reserve = getattr(plugin, "reserve", None)
            if reserve is None:
                continue
            status = reserve(state, pod, node_name)
            if status is not None and not status.is_success():
                status.plugin = plugin.name
                return status
        return Status(SUCCESS)

    def run_unreserve(self, state: CycleState, pod: Mapping, node_name: str) -> None:
        """Every Unreserve, in the reverse of the plugins' order; one that raises is logged and the others
        still run (Unreserve cannot fail upstream)."""
        for plugin in reversed(self.plugins):
            unreserve = getattr(plugin, "unreserve", None)
            if unreserve is None:
                continue
            try:
                unreserve(state, pod, node_name)
            except Exception:
                log.failure("running Unreserve plugin {plugin} for {pod}", plugin=plugin.name,
                            pod=pod.get("metadata", {}).get("name"))

    async def run_pre_bind(self, state: CycleState, pod: Mapping, node_name: str, client, clock) -> Status:
        """Every PreBind plugin in order, each awaited; the first failure, with the plugin named (one raising
        fails as an error Status would, as a Go plugin's error does; a cancellation goes on up)."""
        for plugin in self.plugins:
            pre_bind = getattr(plugin, "pre_bind", None)
            if pre_bind is None:
                continue
            try:
                status = await pre_bind(state, pod, node_name, client, clock)
            except CancelledError:
                raise
            except Exception as e:
                log.failure("running PreBind plugin {plugin}", plugin=plugin.name)
                status = Status(ERROR, str(e) or type(e).__name__)
            if status is not None and not status.is_success():
                status.plugin = plugin.name
                return status
        return Status(SUCCESS)

    # --- one cycle ------------------------------------------------------------------------------

    def find_nodes_that_fit(self, state: CycleState, pod: Mapping, snapshot: Snapshot,
                            nominated: Callable[[str], list[PodInfo]] = lambda name: []
                            ) -> tuple[list[NodeInfo], Diagnosis]:
        diagnosis = Diagnosis()
        status = self.run_pre_filter(state, pod, snapshot)
        if not status.is_success():
            if status.is_rejected():
                diagnosis.pre_filter_msg = status.message
                diagnosis.absent_status = status
                diagnosis.unschedulable_plugins.add(status.plugin)
                diagnosis.unschedulable_plugins.update(state.get("__narrowed_to_nothing__", ()))
                return [], diagnosis
            raise RuntimeError(f"running PreFilter plugin {status.plugin!r}: {status.message}")
        nodes = snapshot.node_infos
        narrowed = state.get("__node_names__")
        if narrowed:
            names = set.intersection(*narrowed.values())
            nodes = [n for n in nodes if n.name in names]
            diagnosis.absent_status = unresolvable(
                f"node(s) didn't satisfy plugin(s) [{' '.join(sorted(narrowed))}]")
            # The plugins that left nodes out rejected those nodes: their events may bring the pod back.
            diagnosis.unschedulable_plugins.update(narrowed)
        wanted = num_feasible_nodes_to_find(len(nodes), self.percentage_of_nodes_to_score)
        feasible: list[NodeInfo] = []
        start = self.next_start_node_index % len(nodes) if nodes else 0
        processed = 0
        for i in range(len(nodes)):
            if len(feasible) >= wanted:
                break
            node_info = nodes[(start + i) % len(nodes)]
            processed += 1
            status = self.filter_with_nominated_pods(state, pod, snapshot, node_info, nominated)
            if status.is_success():
                feasible.append(node_info)
            elif status.is_rejected():
                diagnosis.node_to_status[node_info.name] = status
                diagnosis.unschedulable_plugins.add(status.plugin)
            else:
                raise RuntimeError(f"running Filter plugin {status.plugin!r}: {status.message}")
        if nodes:
            self.next_start_node_index = (start + processed) % len(nodes)
        return feasible, diagnosis

    def filter_with_nominated_pods(self, state: CycleState, pod: Mapping, snapshot: Snapshot,
                                   node_info: NodeInfo, nominated: Callable[[str], list[PodInfo]]) -> Status:
        """Filter as upstream's RunFilterPluginsWithNominatedPods: a node must fit the pod both with the
        pods of equal or higher priority nominated to it counted there, and without them."""
        priority = pod_priority(pod)
        uid = pod["metadata"].get("uid")
        others = [p for p in nominated(node_info.name) if p.priority >= priority and p.uid != uid]
        if others:
            crowded = node_info.clone()
            for other in others:
                crowded.add_pod(other)
            crowded_state = CycleState()
            status = self.run_pre_filter(crowded_state, pod, snapshot.replace(crowded))
            if status.is_success():
                status = self.run_filter(crowded_state, pod, crowded)
            if not status.is_success():
                return status
        return self.run_filter(state, pod, node_info)

    def schedule(self, pod: Mapping, snapshot: Snapshot,
                 nominated: Callable[[str], list[PodInfo]] = lambda name: []) -> ScheduleResult:
        """schedulePod: the node for ``pod``, or raise FitError (or RuntimeError for a plugin's error)."""
        if len(snapshot) == 0:
            raise NoNodesAvailable(ERR_NO_NODES_AVAILABLE)
        state = CycleState()
        nominated_node = (pod.get("status") or {}).get("nominatedNodeName")
        if nominated_node and snapshot.get(nominated_node) is not None:
            # evaluateNominatedNode: the node preemption made room on is taken if the pod fits there now.
            if self.run_pre_filter(state, pod, snapshot).is_success() and self.filter_with_nominated_pods(
                    state, pod, snapshot, snapshot.get(nominated_node), nominated).is_success():
                return ScheduleResult(nominated_node, 1, 1, state)
            state = CycleState()
        feasible, diagnosis = self.find_nodes_that_fit(state, pod, snapshot, nominated)
        if not feasible:
            raise FitError(pod, len(snapshot), diagnosis)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, 1 + len(diagnosis.node_to_status), 1, state)
        totals = self.run_score(state, pod, snapshot, feasible)
        return ScheduleResult(self.select_host([(n.name, totals[n.name]) for n in feasible]),
                              len(feasible) + len(diagnosis.node_to_status), len(feasible), state)

    def select_host(self, scores: list[tuple[str, int]]) -> str:
        """The highest score; among equal ones, each has the same chance (reservoir sampling)."""
        selected, best = scores[0]
        ties = 1
        for name, score in scores[1:]:
            if score > best:
                selected, best, ties = name, score, 1
            elif score == best:
                ties += 1
                if self.rand.randrange(ties) == 0:
                    selected = name
        return selected


class NoNodesAvailable(Exception):
    """ErrNoNodesAvailable: the cluster has no nodes at all."""


def default_normalize_score(scores: dict[str, int], reverse: bool = False,
                            max_priority: int = MAX_NODE_SCORE) -> None:
    """helper.DefaultNormalizeScore: scale to 0..max_priority by the highest; reversed, high becomes low."""
    highest = max(scores.values(), default=0)
    if highest == 0:
        if reverse:
            for name in scores:
                scores[name] = max_priority
        return
    for name, score in scores.items():
        score = max_priority * score // highest
        scores[name] = max_priority - score if reverse else score

"""The default profile's in-tree plugins, in upstream's order, and its score weights (config v1)."""

from __future__ import annotations

from typing import Callable, Mapping, Optional

from .basic import NodeName, NodePorts, NodeUnschedulable
from .imagelocality import ImageLocality
from .markers import (DefaultBinder, DefaultPreemption, NodeVolumeLimits, PrioritySort, SchedulingGates,
                      preemption_enabled)
from .interpodaffinity import InterPodAffinity
from .nodeaffinity import NodeAffinity
from .noderesources import NodeResourcesBalancedAllocation, NodeResourcesFit
from .podtopologyspread import PodTopologySpread, default_selector
from .tainttoleration import TaintToleration
from .volumebinding import VolumeBinding
from .volumerestrictions import VolumeRestrictions
from .volumezone import VolumeZone

DEFAULT_SCORE_WEIGHTS = {
    "TaintToleration": 3,
    "NodeAffinity": 2,
    "NodeResourcesFit": 1,
    "VolumeBinding": 1,
    "PodTopologySpread": 2,
    "InterPodAffinity": 2,
    "NodeResourcesBalancedAllocation": 1,
    "ImageLocality": 1,
}


def default_plugins(namespace_labels: Callable[[str], Mapping] = lambda ns: {},
                    get_claim: Callable[[str, str], Optional[Mapping]] = lambda ns, name: None,
                    get_volume: Callable[[str], Optional[Mapping]] = lambda name: None,
                    get_storage_class: Callable[[str], Optional[Mapping]] = lambda name: None,
                    default_spread_selector: Callable = lambda pod: None) -> list:
    """The filter plugins in the order upstream's default profile runs them (Filter stops at the first
    rejection, so the order decides which reason a node reports)."""
    return [
        SchedulingGates(),
        PrioritySort(),
        NodeUnschedulable(),
        NodeName(),
        TaintToleration(),
        NodeAffinity(),
        NodePorts(),
        NodeResourcesFit(),
        VolumeRestrictions(get_claim),
        NodeVolumeLimits(),
        VolumeBinding(get_claim, get_volume, get_storage_class),
        VolumeZone(get_claim, get_volume, get_storage_class),
        PodTopologySpread(default_spread_selector),
        InterPodAffinity(namespace_labels),
        DefaultPreemption(),
        NodeResourcesBalancedAllocation(),
        ImageLocality(),
        DefaultBinder(),
    ]


def spread_constraints(args: Mapping) -> Optional[list]:
    """PodTopologySpreadArgs: None for defaultingType System (the default), else the List's
    defaultConstraints; ValueError as upstream's validation words it."""
    kind = args.get("defaultingType") or "System"
    constraints = list(args.get("defaultConstraints") or [])
    if kind not in ("System", "List"):
        raise ValueError(f'defaultingType: Unsupported value: "{kind}": supported values: "List", "System"')
    if kind == "System":
        if constraints:
            raise ValueError('defaultingType: Invalid value: "System": when .defaultConstraints are not empty')
        return None
    for i, constraint in enumerate(constraints):
        if constraint.get("labelSelector") is not None:
            raise ValueError(f"defaultConstraints[{i}].labelSelector: Forbidden: constraint must not define a "
                             "selector, as they deduced for each pod")
        if constraint.get("whenUnsatisfiable") not in ("DoNotSchedule", "ScheduleAnyway"):
            raise ValueError(f"defaultConstraints[{i}].whenUnsatisfiable: Unsupported value: "
                             f"\"{constraint.get('whenUnsatisfiable', '')}\": supported values: "
                             '"DoNotSchedule", "ScheduleAnyway"')
    return constraints


def profile_plugins(profile: Mapping, **listers) -> tuple[list, dict[str, int]]:
    """The plugins and score weights of one KubeSchedulerConfiguration profile: the default profile with
    its ``plugins`` (multiPoint, preFilter, filter, postFilter, score: enabled with weights, disabled, "*")
    and NodeResourcesFit's scoringStrategy, PodTopologySpread's defaultingType and defaultConstraints,
    InterPodAffinity's hardPodAffinityWeight and ignorePreferredTermsOfExistingPods and NodeAffinity's
    addedAffinity from ``pluginConfig`` applied.  ValueError for what is wrong."""
    fit_args = next((c.get("args") or {} for c in profile.get("pluginConfig") or []
                     if c.get("name") == "NodeResourcesFit"), {})
    strategy = fit_args.get("scoringStrategy") or {}
    plugins = default_plugins(**listers)
    spread_args = next((c.get("args") or {} for c in profile.get("pluginConfig") or []
                        if c.get("name") == "PodTopologySpread"), {})
    if spread_args:
        defaults = spread_constraints(spread_args)
        if defaults is not None:
            plugins = [PodTopologySpread(listers.get("default_spread_selector") or (lambda pod: None), defaults)
                       if p.name == "PodTopologySpread" else p for p in plugins]
    pod_affinity_args = next((c.get("args") or {} for c in profile.get("pluginConfig") or []
                              if c.get("name") == "InterPodAffinity"), {})
    if pod_affinity_args:
        plugins = [InterPodAffinity(listers.get("namespace_labels") or (lambda ns: {}),
                                    pod_affinity_args.get("hardPodAffinityWeight", 1),
                                    bool(pod_affinity_args.get("ignorePreferredTermsOfExistingPods")))
                   if p.name == "InterPodAffinity" else p for p in plugins]
    affinity_args = next((c.get("args") or {} for c in profile.get("pluginConfig") or []
                          if c.get("name") == "NodeAffinity"), {})
    if affinity_args.get("addedAffinity"):
        plugins = [NodeAffinity(affinity_args["addedAffinity"]) if p.name == "NodeAffinity" else p for p in plugins]
    if strategy:
        scored = tuple((r["name"], r.get("weight", 1)) for r in strategy.get("resources") or []) or None
        shape = (strategy.get("requestedToCapacityRatio") or {}).get("shape")
        plugins = [NodeResourcesFit(strategy.get("type") or "LeastAllocated", scored or
                                    (("cpu", 1), ("memory", 1)), shape) if p.name == "NodeResourcesFit" else p
                   for p in plugins]
    weights = dict(DEFAULT_SCORE_WEIGHTS)
    known = {p.name for p in plugins}
    points = profile.get("plugins") or {}
    # preScore goes with score here: a Score without its PreScore would have nothing to read.
    methods = {"preFilter": "pre_filter", "filter": "filter", "postFilter": "post_filter", "score": "score"}

    def names(entries):
        found = [e.get("name", "") for e in entries or []]
        unknown = [n for n in found if n != "*" and n not in known]
        if unknown:
            raise ValueError(f"plugin {unknown[0]!r} is not one this scheduler has")
        return found
    off_everywhere = names((points.get("multiPoint") or {}).get("disabled"))
    for point, method in methods.items():
        section = points.get(point) or {}
        disabled = set(names(section.get("disabled")) + off_everywhere)
        enabled = {e["name"]: e for e in section.get("enabled") or [] if names([e])}
        for plugin in plugins:
            if ("*" in disabled or plugin.name in disabled) and plugin.name not in enabled:
                setattr(plugin, method, None)    # the extension point is off for this plugin
                if point == "score":
                    weights[plugin.name] = 0
        for name, entry in enabled.items():
            if point == "score" and entry.get("weight"):
                weights[name] = entry["weight"]
    for entry in (points.get("multiPoint") or {}).get("enabled") or []:
        if names([entry]) and entry.get("weight"):
            weights[entry["name"]] = entry["weight"]
    return plugins, weights


__all__ = ["DEFAULT_SCORE_WEIGHTS", "default_plugins", "default_selector", "preemption_enabled", "profile_plugins",
           "DefaultBinder", "DefaultPreemption", "ImageLocality", "NodeVolumeLimits", "PrioritySort", "SchedulingGates",
           "InterPodAffinity", "NodeAffinity", "NodeName",
           "NodePorts", "NodeResourcesBalancedAllocation", "NodeResourcesFit", "NodeUnschedulable",
           "PodTopologySpread", "TaintToleration", "VolumeBinding", "VolumeRestrictions",
           "VolumeZone"]

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
                    default_spread_selector: Callable = lambda pod: None,
                    list_volumes: Callable[[], list] = lambda: [],
                    get_pod: Optional[Callable[[str, str], Optional[Mapping]]] = None) -> list:
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
        VolumeBinding(get_claim, get_volume, get_storage_class, list_volumes, get_pod),
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


def resource_specs(resources, path: str) -> tuple:
    """(name, weight) of each ResourceSpec (weight 1 when unset); ValueError, in the words of upstream's field
    errors, for an entry that is not an object or has no name."""
    specs = []
    for i, spec in enumerate(resources or []):
        if not isinstance(spec, Mapping):
            raise ValueError(f"{path}[{i}]: Invalid value: {spec!r}: must be an object with a name and a weight")
        if not spec.get("name"):
            raise ValueError(f"{path}[{i}].name: Required value")
        specs.append((spec["name"], spec.get("weight", 1)))
    return tuple(specs)


def _configured(name: str, args: Mapping, listers: Mapping):
    """The plugin ``name`` built from its pluginConfig ``args``, or None to keep the default one."""
    if name == "NodeResourcesFit":
        strategy = args.get("scoringStrategy") or {}
        scored = resource_specs(strategy.get("resources"), "scoringStrategy.resources")
        return NodeResourcesFit(strategy.get("type") or "LeastAllocated", scored or (("cpu", 1), ("memory", 1)),
                                (strategy.get("requestedToCapacityRatio") or {}).get("shape"),
                                args.get("ignoredResources") or (), args.get("ignoredResourceGroups") or ())
    if name == "NodeResourcesBalancedAllocation" and args.get("resources"):
        return NodeResourcesBalancedAllocation(resource_specs(args["resources"], "resources"))
    if name == "PodTopologySpread":
        defaults = spread_constraints(args)
        if defaults is not None:
            return PodTopologySpread(listers.get("default_spread_selector") or (lambda pod: None), defaults)
    if name == "InterPodAffinity":
        return InterPodAffinity(listers.get("namespace_labels") or (lambda ns: {}),
                                args.get("hardPodAffinityWeight", 1),
                                bool(args.get("ignorePreferredTermsOfExistingPods")))
    if name == "NodeAffinity" and args.get("addedAffinity"):
        return NodeAffinity(args["addedAffinity"])
    if name == "VolumeBinding" and "bindTimeoutSeconds" in args:
        timeout = args["bindTimeoutSeconds"]
        if not isinstance(timeout, int) or timeout < 0:
            raise ValueError(f"bindTimeoutSeconds: Invalid value: {timeout}: invalid BindTimeoutSeconds, should not "
                             "be a negative value")
        return VolumeBinding(*(listers.get(k) or default for k, default in (
            ("get_claim", lambda ns, name: None), ("get_volume", lambda name: None),
            ("get_storage_class", lambda name: None), ("list_volumes", lambda: []))),
            get_pod=listers.get("get_pod"), bind_timeout=timeout)
    return None


def profile_plugins(profile: Mapping, **listers) -> tuple[list, dict[str, int]]:
    """The plugins and score weights of one KubeSchedulerConfiguration profile: the default profile with
    its ``plugins`` (multiPoint, preFilter, filter, postFilter, score: enabled with weights, disabled, "*")
    and the args of its ``pluginConfig`` applied (NodeResourcesFit's scoringStrategy, ignoredResources and
    ignoredResourceGroups, PodTopologySpread's
    defaultingType and defaultConstraints, InterPodAffinity's hardPodAffinityWeight and
    ignorePreferredTermsOfExistingPods, NodeAffinity's addedAffinity, NodeResourcesBalancedAllocation's
    resources, VolumeBinding's bindTimeoutSeconds).  ValueError for what is wrong."""
    percentage = profile.get("percentageOfNodesToScore")
    if percentage is not None and not (isinstance(percentage, int) and 0 <= percentage <= 100):
        raise ValueError(f"percentageOfNodesToScore: Invalid value: {percentage}: not in valid range [0-100]")
    plugins = default_plugins(**listers)
    for config in profile.get("pluginConfig") or []:
        args = config.get("args") or {}
        if not args:
            continue
        built = _configured(config.get("name", ""), args, listers)
        if built is not None:
            plugins = [built if p.name == built.name else p for p in plugins]
    weights = dict(DEFAULT_SCORE_WEIGHTS)
    known = {p.name for p in plugins}
    points = profile.get("plugins") or {}
    # preScore goes with score here: a Score without its PreScore would have nothing to read.
    methods = {"preFilter": "pre_filter", "filter": "filter", "postFilter": "post_filter", "score": "score"}

    def names(entries):
        if entries is not None and not isinstance(entries, list) or \
                any(not isinstance(e, dict) for e in entries or []):
            raise ValueError(f"plugins: an enabled or disabled list holds objects with a name, not {entries!r}")
        found = [e.get("name", "") for e in entries or []]
        unknown = [n for n in found if n != "*" and n not in known]
        if unknown:
            raise ValueError(f"plugin {unknown[0]!r} is not one this scheduler has")
        return found
    off_everywhere = names((points.get("multiPoint") or {}).get("disabled"))
    for point, method in methods.items():
        section = points.get(point) or {}
        if not isinstance(section, dict):
            raise ValueError(f"plugins.{point}: an object with enabled and disabled lists, not {section!r}")
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

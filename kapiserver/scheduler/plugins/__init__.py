"""The default profile's in-tree plugins, in upstream's order, and its score weights (config v1)."""

from __future__ import annotations

from typing import Callable, Mapping, Optional

from .basic import NodeName, NodePorts, NodeUnschedulable
from .interpodaffinity import InterPodAffinity
from .nodeaffinity import NodeAffinity
from .noderesources import NodeResourcesBalancedAllocation, NodeResourcesFit
from .podtopologyspread import PodTopologySpread, default_selector
from .tainttoleration import TaintToleration
from .volumebinding import VolumeBinding

DEFAULT_SCORE_WEIGHTS = {
    "TaintToleration": 3,
    "NodeAffinity": 2,
    "NodeResourcesFit": 1,
    "VolumeBinding": 1,
    "PodTopologySpread": 2,
    "InterPodAffinity": 2,
    "NodeResourcesBalancedAllocation": 1,
}


def default_plugins(namespace_labels: Callable[[str], Mapping] = lambda ns: {},
                    get_claim: Callable[[str, str], Optional[Mapping]] = lambda ns, name: None,
                    get_volume: Callable[[str], Optional[Mapping]] = lambda name: None,
                    get_storage_class: Callable[[str], Optional[Mapping]] = lambda name: None,
                    default_spread_selector: Callable = lambda pod: None) -> list:
    """The filter plugins in the order upstream's default profile runs them (Filter stops at the first
    rejection, so the order decides which reason a node reports)."""
    return [
        NodeUnschedulable(),
        NodeName(),
        TaintToleration(),
        NodeAffinity(),
        NodePorts(),
        NodeResourcesFit(),
        VolumeBinding(get_claim, get_volume, get_storage_class),
        PodTopologySpread(default_spread_selector),
        InterPodAffinity(namespace_labels),
        NodeResourcesBalancedAllocation(),
    ]


__all__ = ["DEFAULT_SCORE_WEIGHTS", "default_plugins", "default_selector", "InterPodAffinity", "NodeAffinity", "NodeName",
           "NodePorts", "NodeResourcesBalancedAllocation", "NodeResourcesFit", "NodeUnschedulable",
           "PodTopologySpread", "TaintToleration", "VolumeBinding"]

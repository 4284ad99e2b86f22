"""What several plugins share: tolerations against taints, node selector terms against a node, and
label selectors against pods, with upstream's (component-helpers') matching rules."""

from __future__ import annotations

from typing import Iterable, Mapping, Optional

from ...machinery import selectors
from ...machinery.errors import StatusError

# --- taints, tolerations and node selectors: component-helpers' rules, shared with the controllers
from ...machinery.scheduling import (find_untolerated_taint, node_selector_matches,  # noqa: E402,F401
                                     node_selector_term_matches, node_taints, pod_tolerations,
                                     required_node_affinity_matches, tolerated, tolerates)


# --- label selectors ----------------------------------------------------------------------------


def label_selector(selector: Optional[Mapping]) -> selectors.LabelSelector:
    """metav1.LabelSelectorAsSelector, an invalid selector matching nothing."""
    try:
        return selectors.label_selector_from_dict(selector)
    except StatusError:
        return selectors.LabelSelector.nothing()


def with_match_label_keys(selector: Optional[Mapping], keys: Iterable[str], labels: Mapping[str, str]) -> Mapping:
    """A selector with ``In [value]`` added for each of ``keys`` the pod has (matchLabelKeys)."""
    keys = [k for k in keys or () if k in labels]
    if not keys or selector is None:
        return selector
    merged = dict(selector)
    merged["matchExpressions"] = list(selector.get("matchExpressions") or []) + [
        {"key": k, "operator": "In", "values": [labels[k]]} for k in keys]
    return merged

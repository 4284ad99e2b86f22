"""What the scheduler, the DaemonSet controller and the taint managers share of upstream's component-helpers
(k8s.io/component-helpers/scheduling/corev1 and k8s.io/api/core/v1's toleration.go): which toleration tolerates
which taint, and whether a node selector or a pod's required node affinity matches a node."""

from __future__ import annotations

from typing import Iterable, Mapping, Optional

from . import selectors

# --- taints and tolerations -------------------------------------------------------------------------


def tolerates(toleration: Mapping, taint: Mapping) -> bool:
    """v1.Toleration.ToleratesTaint: the effect matches (or the toleration names none), the key matches
    (or is empty with Exists), and Equal compares values while Exists does not."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def tolerated(tolerations: Iterable[Mapping], taint: Mapping) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def find_untolerated_taint(taints: Iterable[Mapping], tolerations: list[Mapping],
                           effects: tuple[str, ...]) -> Optional[Mapping]:
    """The first taint among ``effects`` that no toleration tolerates."""
    for taint in taints:
        if taint.get("effect") in effects and not tolerated(tolerations, taint):
            return taint
    return None


def pod_tolerations(pod: Mapping) -> list[Mapping]:
    return (pod.get("spec") or {}).get("tolerations") or []


def node_taints(node: Mapping) -> list[Mapping]:
    return (node.get("spec") or {}).get("taints") or []


# --- node selectors -----------------------------------------------------------------------------

_NODE_OPERATORS = {"In": selectors.IN, "NotIn": selectors.NOT_IN, "Exists": selectors.EXISTS,
                   "DoesNotExist": selectors.DOES_NOT_EXIST, "Gt": selectors.GREATER_THAN,
                   "Lt": selectors.LESS_THAN}


def _requirement_matches(requirement: Mapping, values: Mapping[str, str]) -> bool:
    operator = _NODE_OPERATORS.get(requirement.get("operator"))
    if operator is None:
        return False
    found = list(requirement.get("values") or [])
    if operator in (selectors.IN, selectors.NOT_IN) and not found:
        return False    # NewRequirement refuses an empty set: the term matches nothing
    if operator in (selectors.GREATER_THAN, selectors.LESS_THAN) and len(found) != 1:
        return False
    return selectors.Requirement(requirement.get("key", ""), operator, tuple(found)).matches(values)


def node_selector_term_matches(term: Mapping, node: Mapping) -> bool:
    """One NodeSelectorTerm: all its matchExpressions on the labels and matchFields (only metadata.name)
    hold; a term with neither matches nothing."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    metadata = node.get("metadata") or {}
    labels = metadata.get("labels") or {}
    if not all(_requirement_matches(r, labels) for r in expressions):
        return False
    for requirement in fields:
        if requirement.get("key") != "metadata.name" or requirement.get("operator") not in ("In", "NotIn"):
            return False
        if len(requirement.get("values") or []) != 1:
            return False    # validation allows exactly one value for matchFields
        if not _requirement_matches(requirement, {"metadata.name": metadata.get("name", "")}):
            return False
    return True


def node_selector_matches(node_selector: Optional[Mapping], node: Mapping) -> bool:
    """A NodeSelector: any of its terms matches."""
    terms = (node_selector or {}).get("nodeSelectorTerms") or []
    return any(node_selector_term_matches(term, node) for term in terms)


def required_node_affinity_matches(pod: Mapping, node: Mapping) -> bool:
    """nodeaffinity.GetRequiredNodeAffinity(pod).Match(node): spec.nodeSelector and the required
    nodeAffinity terms both hold."""
    spec = pod.get("spec") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is not None:
        return node_selector_matches(required, node)
    return True

"""Whether a pod may run on a node, as the DaemonSet controller asks it (upstream's component-helpers
nodeaffinity and taint helpers): nodeSelector, required node affinity, taints and tolerations; and the
tolerations and node affinity a daemon pod is given."""

from __future__ import annotations

import copy
from typing import List, Tuple

from ..machinery.scheduling import required_node_affinity_matches, tolerates

NODE_NAME_FIELD = "metadata.name"

# util.AddOrUpdateDaemonPodTolerations: what every daemon pod tolerates.
DAEMON_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]
HOST_NETWORK_TOLERATION = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                           "effect": "NoSchedule"}


def add_or_update_toleration(spec: dict, toleration: dict) -> None:
    """v1helper.AddOrUpdateTolerationInPodSpec: a toleration with the same key, operator, value and effect is
    replaced where it stands (losing, say, its tolerationSeconds); otherwise the toleration is appended."""
    tolerations = list(spec.get("tolerations") or [])
    fields = ("key", "operator", "value", "effect")
    matches = [i for i, t in enumerate(tolerations)
               if all((t.get(f) or "") == (toleration.get(f) or "") for f in fields)]
    if any(tolerations[i] == toleration for i in matches):
        return
    for i in matches:
        tolerations[i] = dict(toleration)
    if not matches:
        tolerations.append(dict(toleration))
    spec["tolerations"] = tolerations


def add_daemon_tolerations(spec: dict) -> None:
    """util.AddOrUpdateDaemonPodTolerations: the daemon tolerations, added or updated in a pod spec."""
    wanted = list(DAEMON_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(HOST_NETWORK_TOLERATION)
    for toleration in wanted:
        add_or_update_toleration(spec, toleration)


def replace_node_name_affinity(affinity: dict, node_name: str) -> dict:
    """util.ReplaceDaemonSetPodNodeNameNodeAffinity: the required node affinity becomes a single term, a
    matchFields requirement ``metadata.name In [node]``, in place of every term the template had (the node was
    chosen by them already); the preferred terms and the other affinities stay."""
    affinity = copy.deepcopy(affinity or {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    field = {"key": NODE_NAME_FIELD, "operator": "In", "values": [node_name]}
    required = dict(node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    required["nodeSelectorTerms"] = [{"matchFields": [field]}]
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = required
    return affinity


def target_node_name(pod: dict) -> str:
    """util.GetTargetNodeName: the pod's node, or the one its node affinity names."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    terms = ((((spec.get("affinity") or {}).get("nodeAffinity") or {})
              .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or [])
    for term in terms:
        for field in term.get("matchFields") or []:
            if field.get("key") == NODE_NAME_FIELD and field.get("operator") == "In" and \
                    len(field.get("values") or []) == 1:
                return field["values"][0]
    return ""


def fits_node_affinity(spec: dict, node: dict) -> bool:
    """The pod spec's nodeSelector and required node affinity hold on ``node``."""
    return required_node_affinity_matches({"spec": spec}, node)


def untolerated(tolerations: List[dict], node: dict, effects: Tuple[str, ...]) -> List[dict]:
    return [taint for taint in (node.get("spec") or {}).get("taints") or []
            if taint.get("effect") in effects and not any(tolerates(t, taint) for t in tolerations)]


def should_run(spec: dict, node: dict) -> Tuple[bool, bool]:
    """(shouldRun, shouldContinueRunning) of a daemon pod with ``spec`` (tolerations added) on ``node``:
    node selector and affinity must fit; an untolerated NoSchedule taint keeps new pods off, an untolerated
    NoExecute taint evicts running ones too."""
    if not fits_node_affinity(spec, node):
        return False, False
    tolerations = spec.get("tolerations") or []
    if untolerated(tolerations, node, ("NoExecute",)):
        return False, False
    if untolerated(tolerations, node, ("NoSchedule",)):
        return False, True
    return True, True

"""The scheduler's cache: every node and the pods assigned to it, as upstream's internal/cache keeps them.

Pods the scheduler has chosen a node for but whose binding the informer has not yet shown ("assumed" pods)
count on their node from the moment they are assumed, so the next pod does not take the same room; the
informer's ADD of the bound pod confirms an assumed pod, and a failed binding forgets it.  Pods arrive keyed
by uid.  A pod on a node the cache has not seen keeps a NodeInfo without a Node, which no snapshot lists.
"""

from __future__ import annotations

import copy
from typing import Iterable, Mapping, Optional

from . import resources


def _has_affinity(pod: Mapping) -> bool:
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    return bool(affinity.get("podAffinity") or affinity.get("podAntiAffinity"))


def _has_required_anti_affinity(pod: Mapping) -> bool:
    anti = ((pod.get("spec") or {}).get("affinity") or {}).get("podAntiAffinity") or {}
    return bool(anti.get("requiredDuringSchedulingIgnoredDuringExecution"))


class PodInfo:
    """A pod with what the plugins read of it computed once (framework.PodInfo)."""

    __slots__ = ("pod", "uid", "requests", "non_zero_requests", "host_ports", "priority")

    def __init__(self, pod: Mapping):
        self.pod = pod
        self.uid = (pod.get("metadata") or {}).get("uid") or pod_key(pod)
        self.requests = resources.pod_requests(pod)
        self.non_zero_requests = resources.pod_requests(pod, non_zero=True)
        self.host_ports = resources.host_ports(pod)
        self.priority = resources.pod_priority(pod)

    @property
    def name(self) -> str:
        return self.pod["metadata"]["name"]

    @property
    def namespace(self) -> str:
        return self.pod["metadata"].get("namespace") or ""

    @property
    def labels(self) -> Mapping[str, str]:
        return self.pod["metadata"].get("labels") or {}

    def __repr__(self) -> str:
        return f"PodInfo({pod_key(self.pod)})"


def pod_key(pod: Mapping) -> str:
    metadata = pod.get("metadata") or {}
    return f"{metadata.get('namespace', '')}/{metadata.get('name', '')}"


# Distinct (namespace, selector) counts a node keeps between changes to its pods.
_MATCHING_KEPT = 64


class NodeInfo:
    """One node and its pods, with their requests, non-zero requests and host ports summed."""

    def __init__(self, node: Optional[Mapping] = None):
        self.node = node
        self.pods: list[PodInfo] = []
        self.requested: dict[str, int] = {}
        self.non_zero_requested: dict[str, int] = {}
        self.used_ports: list[tuple[str, str, int]] = []
        self.allocatable: dict[str, int] = {}
        self.generation = 0
        self._affinity = None
        self._matching: dict = {}     # (namespace, selector) -> pods counted, at _matching_generation
        self._matching_generation = 0
        if node is not None:
            self.set_node(node)

    @property
    def name(self) -> str:
        return self.node["metadata"]["name"] if self.node else ""

    @property
    def labels(self) -> Mapping[str, str]:
        return (self.node or {}).get("metadata", {}).get("labels") or {}

    @property
    def pods_with_affinity(self) -> list[PodInfo]:
        return self._affinity_lists()[0]

    @property
    def pods_with_required_anti_affinity(self) -> list[PodInfo]:
        return self._affinity_lists()[1]

    def _affinity_lists(self) -> tuple[list[PodInfo], list[PodInfo]]:
        # Kept per generation: InterPodAffinity asks every node for them in every cycle.
        cached = self._affinity
        if cached is None or cached[0] != self.generation:
            cached = self._affinity = (self.generation, [p for p in self.pods if _has_affinity(p.pod)],
                                       [p for p in self.pods if _has_required_anti_affinity(p.pod)])
        return cached[1], cached[2]

    def count_matching(self, namespace: str, selector) -> int:
        """The pods of ``namespace`` here, not being deleted, whose labels ``selector`` matches.  Kept until the
        node's pods change: PodTopologySpread asks every node in every cycle, and counting them all again made
        each cycle cost as much as the cluster has pods."""
        if self._matching_generation != self.generation or len(self._matching) >= _MATCHING_KEPT:
            self._matching = {}
            self._matching_generation = self.generation
        key = (namespace, selector.requirements, selector.matches({}))
        count = self._matching.get(key)
        if count is None:
            count = self._matching[key] = sum(
                1 for p in self.pods if p.namespace == namespace and not p.pod["metadata"].get("deletionTimestamp")
                and selector.matches(p.labels))
        return count

    def set_node(self, node: Mapping) -> None:
        self.node = node
        self.allocatable = resources.resource_list((node.get("status") or {}).get("allocatable"))
        self.generation += 1

    def add_pod(self, info: PodInfo) -> None:
        self.pods.append(info)
        for name, value in info.requests.items():
            self.requested[name] = self.requested.get(name, 0) + value
        for name in (resources.CPU, resources.MEMORY):
            self.non_zero_requested[name] = self.non_zero_requested.get(name, 0) + info.non_zero_requests[name]
        self.used_ports.extend(info.host_ports)
        self.generation += 1

    def remove_pod(self, uid: str) -> Optional[PodInfo]:
        for i, info in enumerate(self.pods):
            if info.uid == uid:
                del self.pods[i]
                for name, value in info.requests.items():
                    self.requested[name] = self.requested.get(name, 0) - value
                for name in (resources.CPU, resources.MEMORY):
                    self.non_zero_requested[name] -= info.non_zero_requests[name]
                for port in info.host_ports:
                    self.used_ports.remove(port)
                self.generation += 1
                return info
        return None

    def clone(self) -> "NodeInfo":
        twin = copy.copy(self)
        twin.pods = list(self.pods)
        twin.requested = dict(self.requested)
        twin.non_zero_requested = dict(self.non_zero_requested)
        twin.used_ports = list(self.used_ports)
        twin._matching = {}         # the twin's generations are its own from here
        return twin

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={[p.name for p in self.pods]})"


class Snapshot:
    """The nodes one scheduling cycle sees, in a fixed order (upstream's Snapshot of the cache)."""

    def __init__(self, node_infos: Iterable[NodeInfo]):
        self.node_infos = [n for n in node_infos if n.node is not None]
        self._by_name = {n.name: n for n in self.node_infos}

    def get(self, name: str) -> Optional[NodeInfo]:
        return self._by_name.get(name)

    def __len__(self) -> int:
        return len(self.node_infos)

    def replace(self, info: NodeInfo) -> "Snapshot":
        """A snapshot like this one with ``info`` in place of the node of its name (for preemption)."""
        return Snapshot([info if n.name == info.name else n for n in self.node_infos])

    def pods(self) -> Iterable[tuple[PodInfo, NodeInfo]]:
        for node_info in self.node_infos:
            for info in node_info.pods:
                yield info, node_info


class Cache:
    """Nodes and assigned pods, including assumed ones, updated from the informers' events."""

    def __init__(self):
        self.nodes: dict[str, NodeInfo] = {}
        self._pods: dict[str, tuple[PodInfo, str]] = {}   # uid -> (info, node name)
        self.assumed: set[str] = set()

    # --- nodes ----------------------------------------------------------------------------------

    def add_node(self, node: Mapping) -> None:
        name = node["metadata"]["name"]
        info = self.nodes.get(name)
        if info is None:
            self.nodes[name] = NodeInfo(node)
        else:
            info.set_node(node)

    update_node = add_node

    def remove_node(self, node: Mapping) -> None:
        name = node["metadata"]["name"]
        info = self.nodes.get(name)
        if info is None:
            return
        if info.pods:
            info.node = None    # its pods are still on it until their own deletions arrive
        else:
            del self.nodes[name]

    # --- pods -----------------------------------------------------------------------------------

    def _add(self, pod: Mapping, node_name: str) -> PodInfo:
        info = PodInfo(pod)
        self.nodes.setdefault(node_name, NodeInfo()).add_pod(info)
        self._pods[info.uid] = (info, node_name)
        return info

    def _remove(self, uid: str) -> None:
        found = self._pods.pop(uid, None)
        if found is None:
            return
        _, node_name = found
        node_info = self.nodes.get(node_name)
        if node_info is not None:
            node_info.remove_pod(uid)
            if node_info.node is None and not node_info.pods:
                del self.nodes[node_name]

    def assume_pod(self, pod: Mapping, node_name: str) -> Mapping:
        """Count ``pod`` on ``node_name`` before its binding is seen; the assumed copy, with spec.nodeName."""
        assumed = copy.deepcopy(dict(pod))
        assumed.setdefault("spec", {})["nodeName"] = node_name
        info = self._add(assumed, node_name)
        self.assumed.add(info.uid)
        return assumed

    def forget_pod(self, pod: Mapping) -> None:
        """Undo assume_pod (the binding failed)."""
        uid = PodInfo(pod).uid
        if uid in self.assumed:
            self.assumed.discard(uid)
            self._remove(uid)

    def is_assumed(self, pod: Mapping) -> bool:
        return ((pod.get("metadata") or {}).get("uid") or pod_key(pod)) in self.assumed

    def add_pod(self, pod: Mapping) -> None:
        """An assigned pod the informer shows (confirming an assumed pod if it was one)."""
        uid = (pod.get("metadata") or {}).get("uid") or pod_key(pod)
        self.assumed.discard(uid)
        self._remove(uid)
        self._add(pod, pod["spec"]["nodeName"])

    update_pod = add_pod

    def remove_pod(self, pod: Mapping) -> None:
        uid = (pod.get("metadata") or {}).get("uid") or pod_key(pod)
        self.assumed.discard(uid)
        self._remove(uid)

    def pod_count(self) -> int:
        return len(self._pods)

    def snapshot(self) -> Snapshot:
        """The nodes as they are now.  The NodeInfos are the cache's own: a cycle reads them without
        yielding to the reactor, and preemption clones the one it changes."""
        return Snapshot(self.nodes.values())

"""The filters that look at one node alone: NodeName, NodeUnschedulable and NodePorts."""

from __future__ import annotations

from typing import Mapping

from ..framework import SKIP, Status, unresolvable, unschedulable
from ..resources import host_ports
from .helpers import pod_tolerations, tolerated

NODE_ADD, NODE_TAINT, ASSIGNED_POD_DELETE = "Node/Add", "Node/UpdateNodeTaint", "AssignedPod/Delete"


class NodeName:
    """spec.nodeName, when a pod names its node, must be this node."""

    name = "NodeName"
    events = {NODE_ADD}
    ERR_REASON = "node(s) didn't match the requested node name"

    def filter(self, state, pod: Mapping, node_info):
        wanted = (pod.get("spec") or {}).get("nodeName")
        if wanted and wanted != node_info.name:
            return unresolvable(self.ERR_REASON)
        return None


class NodeUnschedulable:
    """A cordoned node (spec.unschedulable) takes only pods tolerating node.kubernetes.io/unschedulable."""

    name = "NodeUnschedulable"
    # spec.unschedulable changes count as taint changes, as upstream
    events = {NODE_ADD, NODE_TAINT, "UnscheduledPod/UpdatePodToleration"}
    ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
    TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}

    def filter(self, state, pod: Mapping, node_info):
        if not (node_info.node.get("spec") or {}).get("unschedulable"):
            return None
        if tolerated(pod_tolerations(pod), self.TAINT):
            return None
        return unresolvable(self.ERR_REASON_UNSCHEDULABLE)

    def queueing_hint(self, event: str, pod: Mapping, old, new) -> bool:
        """A node added schedulable, or one uncordoned; or the pod's own update making it tolerate cordons."""
        if event == "UnscheduledPod/UpdatePodToleration":
            return new is None or tolerated(pod_tolerations(new), self.TAINT)

        def cordoned(node):
            return bool((node.get("spec") or {}).get("unschedulable"))
        if new is None:
            return True
        return not cordoned(new) and (old is None or cordoned(old))


def _conflicts(wanted: tuple[str, str, int], used: tuple[str, str, int]) -> bool:
    """HostPortInfo.CheckConflict: same protocol and port, and the same IP or either one 0.0.0.0."""
    ip, protocol, port = wanted
    other_ip, other_protocol, other_port = used
    if protocol != other_protocol or port != other_port:
        return False
    return ip == other_ip or "0.0.0.0" in (ip, other_ip)


class NodePorts:
    """The pod's hostPorts must be free on the node."""

    name = "NodePorts"
    events = {NODE_ADD, ASSIGNED_POD_DELETE}
    ERR_REASON = "node(s) didn't have free ports for the requested pod ports"

    def pre_filter(self, state, pod: Mapping, snapshot):
        ports = host_ports(pod)
        if not ports:
            return Status(SKIP)
        state[self.name] = ports
        return None

    def queueing_hint(self, event: str, pod: Mapping, old, new) -> bool:
        """A deleted pod frees the node only if it held a port this pod asks for; a new node always helps."""
        if event != ASSIGNED_POD_DELETE or old is None:
            return True
        freed = host_ports(old)
        return any(_conflicts(port, used) for port in host_ports(pod) for used in freed)

    def filter(self, state, pod: Mapping, node_info):
        wanted = state.get(self.name) or ()
        for port in wanted:
            if any(_conflicts(port, used) for used in node_info.used_ports):
                return unschedulable(self.ERR_REASON)
        return None

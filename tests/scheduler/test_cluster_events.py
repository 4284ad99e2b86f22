"""Which cluster events a node or assigned-pod update makes, and which plugins' rejections they undo."""

from __future__ import annotations

import copy

from kapiserver.scheduler.plugins import default_plugins
from kapiserver.scheduler.scheduler import assigned_pod_update_events, node_update_events
from tests.scheduler.objects import node, pod


def test_node_heartbeat_makes_no_event():
    """A status write that only moves heartbeat times changes nothing a pod waits for."""
    old = node("a")
    old["status"]["conditions"] = [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2026-01-01T00:00:00Z"}]
    new = copy.deepcopy(old)
    new["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-01-01T00:00:10Z"
    assert node_update_events(old, new) == []


def test_node_changes_are_classified():
    """Labels, taints (and cordoning), allocatable and conditions each name their own event."""
    old = node("a")
    labelled = copy.deepcopy(old)
    labelled["metadata"]["labels"]["disk"] = "ssd"
    assert node_update_events(old, labelled) == ["Node/UpdateNodeLabel"]
    cordoned = copy.deepcopy(old)
    cordoned["spec"]["unschedulable"] = True
    assert node_update_events(old, cordoned) == ["Node/UpdateNodeTaint"]
    grown = copy.deepcopy(old)
    grown["status"]["allocatable"]["cpu"] = "8"
    assert node_update_events(old, grown) == ["Node/UpdateNodeAllocatable"]


def test_assigned_pod_updates():
    """A relabelled pod and a pod asking less make their events; a status change makes none."""
    old = pod("p", cpu="1", node_name="a", labels={"app": "x"})
    relabelled = copy.deepcopy(old)
    relabelled["metadata"]["labels"]["app"] = "y"
    assert assigned_pod_update_events(old, relabelled) == ["AssignedPod/UpdatePodLabel"]
    smaller = copy.deepcopy(old)
    smaller["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "500m"
    assert assigned_pod_update_events(old, smaller) == ["AssignedPod/UpdatePodScaleDown"]
    running = copy.deepcopy(old)
    running["status"]["phase"] = "Running"
    assert assigned_pod_update_events(old, running) == []


def test_each_filter_registers_the_events_that_can_undo_it():
    """A cordon undone helps NodeUnschedulable; new labels help NodeAffinity; a deleted pod helps
    NodeResourcesFit and NodePorts, not TaintToleration."""
    events = {p.name: p.events for p in default_plugins()}
    assert "Node/UpdateNodeTaint" in events["NodeUnschedulable"]
    assert "Node/UpdateNodeLabel" in events["NodeAffinity"]
    for name in ("NodeResourcesFit", "NodePorts", "InterPodAffinity", "PodTopologySpread"):
        assert "AssignedPod/Delete" in events[name]
    assert "AssignedPod/Delete" not in events["TaintToleration"]

"""The kubelet's events about its own Node, as `kubectl describe node` shows them: ``Starting`` ("Starting
kubelet.") when it starts, ``NodeHas...`` for each pressure condition as it is first reported and whenever its
status changes, ``NodeReady`` when the Ready condition becomes True (``NodeNotReady`` when it leaves True), and
``NodeNotSchedulable`` / ``NodeSchedulable`` when spec.unschedulable changes (cordon, uncordon).

As upstream's kubelet records them: all of type Normal, from component "kubelet" on the node's host, about an
object reference of kind Node whose uid is the node's name (the kubelet does not wait to learn the Node's uid),
written as core/v1 Events in the default namespace by the event recorder, in the background; a write that fails
is only logged.  ``NodeAllocatableEnforced`` is not recorded: kube-node puts its pods in no cgroup, and upstream's
kubelet without a cgroup root records none either."""

from __future__ import annotations

from typing import List, Optional

from twisted.logger import Logger

log = Logger()

NORMAL = "Normal"
STARTING_REASON, STARTING_MESSAGE = "Starting", "Starting kubelet."
NODE_READY, NODE_NOT_READY = "NodeReady", "NodeNotReady"
NODE_SCHEDULABLE, NODE_NOT_SCHEDULABLE = "NodeSchedulable", "NodeNotSchedulable"
# condition type: the event's reason when the condition is False, then when it is True
PRESSURE_REASONS = {
    "MemoryPressure": ("NodeHasSufficientMemory", "NodeHasInsufficientMemory"),
    "DiskPressure": ("NodeHasNoDiskPressure", "NodeHasDiskPressure"),
    "PIDPressure": ("NodeHasSufficientPID", "NodeHasInsufficientPID"),
}


def node_reference(name: str) -> dict:
    """What the recorder makes the involvedObject from: kind Node, the name, and the name as uid."""
    return {"kind": "Node", "metadata": {"name": name, "uid": name}}


def status_message(name: str, reason: str) -> str:
    return f"Node {name} status is now: {reason}"


def condition_reasons(previous: Optional[List[dict]], current: List[dict], first: bool = False) -> List[str]:
    """The reasons to record for a status report going from `previous` (the conditions the server had; None or
    [] for a Node just created) to `current`.  `first`: this kubelet's first report, which records each
    pressure condition whatever it was (upstream's kubelet builds its registration from no conditions)."""
    before = {c.get("type"): c.get("status") for c in previous or []}
    after = {c.get("type"): c.get("status") for c in current or []}
    reasons = []
    for kind, (sufficient, insufficient) in PRESSURE_REASONS.items():
        status = after.get(kind)
        if status in ("True", "False") and (first or before.get(kind) != status):
            reasons.append(insufficient if status == "True" else sufficient)
    ready = after.get("Ready")
    if ready == "True" and before.get("Ready") != "True":
        reasons.append(NODE_READY)
    elif ready is not None and ready != "True" and before.get("Ready") == "True":
        reasons.append(NODE_NOT_READY)
    return reasons


class NodeEvents:
    """One node's events through an EventRecorder (component "kubelet", host the node's name).  `limit` (anything
    with a DeferredSemaphore's ``run``) or None bounds how many of these writes are on their way at once (a fleet
    of simulated nodes shares one)."""

    def __init__(self, recorder, name: str, limit=None):
        self.recorder = recorder
        self.name = name
        self.limit = limit
        self.unschedulable = False       # as upstream's kubelet starts: only a cordoned Node records at once

    def _record(self, reason: str, message: str) -> None:
        # The recorder logs a write that fails; its Deferred never does.
        args = (node_reference(self.name), NORMAL, reason, message)
        if self.limit is None:
            self.recorder.event(*args)
        else:
            self.limit.run(self.recorder.event, *args)

    def starting(self) -> None:
        self._record(STARTING_REASON, STARTING_MESSAGE)

    def status(self, reason: str) -> None:
        self._record(reason, status_message(self.name, reason))

    def conditions(self, previous: Optional[List[dict]], current: List[dict], first: bool = False) -> None:
        for reason in condition_reasons(previous, current, first):
            self.status(reason)

    def schedulable(self, node: Optional[dict]) -> None:
        """Record NodeNotSchedulable / NodeSchedulable when the Node's spec.unschedulable differs from the last
        one seen."""
        unschedulable = bool(((node or {}).get("spec") or {}).get("unschedulable"))
        if unschedulable != self.unschedulable:
            self.unschedulable = unschedulable
            self.status(NODE_NOT_SCHEDULABLE if unschedulable else NODE_SCHEDULABLE)

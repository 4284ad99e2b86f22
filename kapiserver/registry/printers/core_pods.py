"""
The pod printer: NAME READY STATUS RESTARTS AGE, wide IP NODE NOMINATED NODE READINESS GATES.

The STATUS cell follows upstream's printPod: the phase (or status.reason), then
init container trouble as ``Init:...``, then the last container's waiting or
terminated reason, ``Terminating`` while a non-terminal pod is being deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from . import _base as b

_POD_SPEC = "core.v1.PodSpec"
_POD_STATUS = "core.v1.PodStatus"
_NODE_LOST = "NodeLost"  # the reason a pod on an unreachable node gets


def _columns() -> list[dict]:
    return [
        b.name_column(),
        b.column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
        b.column("Status", "string", "The aggregate status of the containers in this pod."),
        b.column("Restarts", "string", "The number of times the containers in this pod have been restarted "
                                       "and when the last container in this pod has restarted."),
        b.age_column(),
        b.column("IP", "string", b.doc(_POD_STATUS, "podIP"), 1),
        b.column("Node", "string", b.doc(_POD_SPEC, "nodeName"), 1),
        b.column("Nominated Node", "string", b.doc(_POD_STATUS, "nominatedNodeName"), 1),
        b.column("Readiness Gates", "string", b.doc(_POD_SPEC, "readinessGates"), 1),
    ]


def _restartable(init_container: Optional[dict]) -> bool:
    """A sidecar: an init container with restartPolicy Always."""
    return bool(init_container) and init_container.get("restartPolicy") == "Always"


def _has_condition(conditions, type_: str) -> bool:
    return any(c.get("type") == type_ and c.get("status") == "True" for c in conditions or [])


def _finished_at(status: dict) -> Optional[datetime]:
    """When the container's previous run ended, if it has one (Go's zero time counts as none)."""
    return b.parse_time(b.get(status, "lastState.terminated.finishedAt"))


def _later(current: Optional[datetime], candidate: Optional[datetime]) -> Optional[datetime]:
    if candidate is None:
        return current
    return candidate if current is None or current < candidate else current


def _terminated_reason(terminated: dict, prefix: str = "") -> str:
    if terminated.get("reason"):
        return prefix + terminated["reason"]
    if terminated.get("signal"):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{terminated.get('exitCode', 0)}"


def _cells(pod: dict, now: datetime) -> list:
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    conditions = status.get("conditions") or []
    restarts = 0
    sidecar_restarts = 0
    total = len(spec.get("containers") or [])
    ready = 0
    last_restart = None
    last_sidecar_restart = None

    phase = status.get("phase", "")
    reason = status.get("reason") or phase
    for condition in conditions:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_containers = {c.get("name"): c for c in spec.get("initContainers") or []}
    total += sum(1 for c in init_containers.values() if _restartable(c))
    init_count = len(spec.get("initContainers") or [])

    initializing = False
    for i, container in enumerate(status.get("initContainerStatuses") or []):
        restarts += int(container.get("restartCount") or 0)
        last_restart = _later(last_restart, _finished_at(container))
        sidecar = _restartable(init_containers.get(container.get("name")))
        if sidecar:
            sidecar_restarts += int(container.get("restartCount") or 0)
            last_sidecar_restart = _later(last_sidecar_restart, _finished_at(container))
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and int(terminated.get("exitCode") or 0) == 0:
            continue
        if sidecar and container.get("started"):
            if container.get("ready"):
                ready += 1
            continue
        if terminated is not None:
            reason = _terminated_reason(terminated, "Init:")
        elif waiting is not None and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{init_count}"
        initializing = True
        break

    if not initializing or _has_condition(conditions, "Initialized"):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        for container in reversed(status.get("containerStatuses") or []):
            restarts += int(container.get("restartCount") or 0)
            last_restart = _later(last_restart, _finished_at(container))
            state = container.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None:
                reason = _terminated_reason(terminated)
            elif container.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        # a pod whose last container completed is still Running while another one runs
        if reason == "Completed" and has_running:
            reason = "Running" if _has_condition(conditions, "Ready") else "NotReady"

    if b.deleting(pod) and status.get("reason") == _NODE_LOST:
        reason = "Unknown"
    elif b.deleting(pod) and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_cell = str(restarts)
    if restarts != 0 and last_restart is not None:
        restarts_cell = f"{restarts} ({b.since(last_restart, now)} ago)"

    pod_ips = status.get("podIPs") or []
    pod_ip = (pod_ips[0] or {}).get("ip", "") if pod_ips else status.get("podIP", "")
    gates = spec.get("readinessGates") or []
    readiness_gates = "<none>"
    if gates:
        true_count = 0
        for gate in gates:
            for condition in conditions:
                if condition.get("type") == gate.get("conditionType"):
                    true_count += condition.get("status") == "True"
                    break
        readiness_gates = f"{true_count}/{len(gates)}"
    return [b.name(pod), f"{ready}/{total}", reason, restarts_cell, b.age(pod, now),
            pod_ip or "<none>", spec.get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>", readiness_gates]


def _conditions(pod: dict) -> Optional[list[dict]]:
    phase = b.get(pod, "status.phase")
    if phase == "Succeeded":
        return [{"type": "Completed", "status": "True", "reason": "Succeeded",
                 "message": "The pod has completed successfully."}]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
    return None


POD = b.Printer(_columns, _cells, _conditions)

PRINTERS = {("", "pods"): POD}

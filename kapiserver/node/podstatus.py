"""A pod's phase and conditions from its containers' statuses, by the rules of upstream's kubelet
(pkg/kubelet/kubelet_pods.go getPhase, pkg/kubelet/status generate*Condition): no I/O, statuses in,
phase and conditions out."""

from __future__ import annotations

from typing import Dict, List, Optional


# The reason Ready and ContainersReady give (with no message) once the pod's phase is terminal.
TERMINAL_REASONS = {"Succeeded": "PodCompleted", "Failed": "PodFailed"}
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


def _by_name(statuses: List[dict]) -> Dict[str, dict]:
    return {s["name"]: s for s in statuses}


def is_sidecar(spec: dict) -> bool:
    """A restartable init container (restartPolicy Always): started in order, then runs beside the others."""
    return spec.get("restartPolicy") == "Always"


def phase(spec: dict, init_statuses: List[dict], statuses: List[dict], terminal: bool = False) -> str:
    """Pending while initializing or a container waits for its first start; Running while one runs (or will
    be restarted); Succeeded or Failed once every container stopped for good. ``terminal``: the kubelet is
    done with the pod (deleted, or past its deadline), so stopped containers end it whatever the policy."""
    policy = spec.get("restartPolicy") or "Always"
    init_by_name, by_name = _by_name(init_statuses), _by_name(statuses)
    pending_init = failed_init = pending_sidecars = 0
    running = waiting = stopped = succeeded = unknown = 0
    for container in spec.get("initContainers") or []:
        status = init_by_name.get(container["name"])
        state = (status or {}).get("state") or {}
        last = (status or {}).get("lastState") or {}
        if is_sidecar(container):
            if status is None:
                pending_sidecars += 1
                unknown += 1
            elif "running" in state:
                if not status.get("started"):
                    pending_sidecars += 1
                running += 1
            elif "waiting" in state and "terminated" not in last:
                pending_sidecars += 1
                waiting += 1
            continue
        if status is None or "running" in state:
            pending_init += 1
        elif "terminated" in state:
            failed_init += state["terminated"].get("exitCode") != 0
        elif "waiting" in state and "terminated" in last:
            failed_init += last["terminated"].get("exitCode") != 0
        else:
            pending_init += 1
    for container in spec.get("containers") or []:
        status = by_name.get(container["name"])
        state = (status or {}).get("state") or {}
        if status is None:
            unknown += 1
        elif "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"].get("exitCode") == 0
        elif "waiting" in state and "terminated" in ((status.get("lastState") or {})):
            stopped += 1
        elif "waiting" in state:
            waiting += 1
        else:
            unknown += 1
    if failed_init and policy == "Never":
        return "Failed"
    if pending_init or pending_sidecars or waiting:
        return "Pending"
    if running and not unknown:
        return "Running"
    if not running and stopped and not unknown:
        if terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if policy == "Never" else "Running"
    return "Pending"


def conditions(spec: dict, init_statuses: List[dict], statuses: List[dict], phase_: str, now: str,
               previous: Optional[List[dict]] = None, sandbox_ready: bool = True) -> List[dict]:
    """PodReadyToStartContainers, Initialized, Ready, ContainersReady and PodScheduled with upstream's
    reasons and messages; a condition keeps its lastTransitionTime while its status does not change.

    ``sandbox_ready``: the pod has what stands for its sandbox here (its volumes set up, and not yet torn down
    after its containers stopped for good), which PodReadyToStartContainers reports.  A pod in a terminal phase
    is not ready with reason PodCompleted or PodFailed (no message), and a Succeeded pod's Initialized is True
    with reason PodCompleted, as upstream's pkg/kubelet/status/generate.go has them."""
    old = {c["type"]: c for c in previous or []}
    init_by_name = _by_name(init_statuses)
    incomplete = []
    for container in spec.get("initContainers") or []:
        status = init_by_name.get(container["name"]) or {}
        state = status.get("state") or {}
        if is_sidecar(container):
            if not status.get("started"):
                incomplete.append(container["name"])
        elif not ("terminated" in state and state["terminated"].get("exitCode") == 0):
            incomplete.append(container["name"])
    unready = [c["name"] for c in spec.get("initContainers") or []
               if is_sidecar(c) and not (init_by_name.get(c["name"]) or {}).get("ready")]
    by_name = _by_name(statuses)
    unready += [c["name"] for c in spec.get("containers") or [] if not (by_name.get(c["name"]) or {}).get("ready")]
    completed = phase_ == "Succeeded"

    def condition(kind, value, reason=None, message=None):
        status = "True" if value else "False"
        before = old.get(kind)
        since = before["lastTransitionTime"] if before and before.get("status") == status and \
            before.get("lastTransitionTime") else now
        out = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": since}
        if reason and (not value or reason == "PodCompleted"):
            out["reason"] = reason
            if message and reason not in TERMINAL_REASONS.values():
                out["message"] = message
        return out

    not_initialized = f"containers with incomplete status: [{' '.join(incomplete)}]"
    not_ready = f"containers with unready status: [{' '.join(unready)}]"
    ready_reason = TERMINAL_REASONS.get(phase_, "ContainersNotReady")
    # Once a regular container has run, the pod was initialized, even while a sidecar restarts.
    initialized = not incomplete or phase_ == "Succeeded" or any(
        {"running", "terminated"} & set(s.get("state") or {}) for s in statuses)
    ready = not unready and initialized and phase_ not in ("Succeeded", "Failed")
    gate_messages = []          # every gate not satisfied, in the spec's order
    for gate in spec.get("readinessGates") or []:
        kind = gate.get("conditionType")
        if kind not in old:
            gate_messages.append(f'corresponding condition of pod readiness gate "{kind}" does not exist.')
        elif old[kind].get("status") != "True":
            gate_messages.append(f'the status of pod readiness gate "{kind}" is not "True", but '
                                 f'{old[kind].get("status")}')
    pod_ready = condition("Ready", ready, ready_reason, not_ready)
    if ready and gate_messages:
        pod_ready = condition("Ready", False, "ReadinessGatesNotReady", ", ".join(gate_messages))
    own = [
        condition("PodReadyToStartContainers", sandbox_ready),
        condition("Initialized", initialized, "PodCompleted" if completed else "ContainersNotInitialized",
                  not_initialized),
        pod_ready,
        condition("ContainersReady", ready, ready_reason, not_ready),
        condition("PodScheduled", True),
    ]
    # Conditions others set (readiness gates, DisruptionTarget...) are kept as they are.
    return own + [c for c in previous or [] if c.get("type") not in KUBELET_CONDITIONS]

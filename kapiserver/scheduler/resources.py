"""What a pod asks of a node and what a node offers, as the scheduler counts them.

Quantities are whole numbers as upstream's scheduler keeps them (framework.Resource): cpu in millicores,
everything else (memory, ephemeral-storage, pods, extended resources) in units, each rounded up.  A pod's
request is component-helpers' PodRequests: the sum of its containers, the restartable init containers
(sidecars) that run beside them, or the largest init container if that is more, plus the pod's overhead.
"""

from __future__ import annotations

import math
from typing import Mapping, Optional

from ..machinery.quantity import parse_quantity

CPU, MEMORY, EPHEMERAL_STORAGE, PODS = "cpu", "memory", "ephemeral-storage", "pods"

# schedutil.DefaultMilliCPURequest / DefaultMemoryRequest: what a container that names no request counts
# for when scoring, so that many such pods do not all land on one node.
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024


def amount(name: str, value) -> int:
    """One quantity as the scheduler counts it: MilliValue for cpu, Value (rounded up) for the rest."""
    quantity = parse_quantity(value)
    if quantity is None:
        return 0
    return math.ceil(quantity * 1000) if name == CPU else math.ceil(quantity)


def resource_list(values: Optional[Mapping]) -> dict[str, int]:
    """A ResourceList (name -> Quantity) as whole numbers."""
    return {name: amount(name, value) for name, value in (values or {}).items()}


def _add(into: dict, more: Mapping) -> dict:
    for name, value in more.items():
        into[name] = into.get(name, 0) + value
    return into


def _max(into: dict, other: Mapping) -> dict:
    for name, value in other.items():
        if value > into.get(name, 0):
            into[name] = value
    return into


def _container_requests(container: Mapping, non_zero: bool) -> dict[str, int]:
    requests = resource_list((container.get("resources") or {}).get("requests"))
    if non_zero:
        # NonMissingContainerRequests: a request that is absent (not one that is zero) takes the default.
        requests.setdefault(CPU, DEFAULT_MILLI_CPU_REQUEST)
        requests.setdefault(MEMORY, DEFAULT_MEMORY_REQUEST)
    return requests


def pod_requests(pod: Mapping, non_zero: bool = False) -> dict[str, int]:
    """resourcehelper.PodRequests: what the pod needs of a node (with non_zero, the scoring defaults)."""
    spec = pod.get("spec") or {}
    requests: dict[str, int] = {}
    for container in spec.get("containers") or []:
        _add(requests, _container_requests(container, non_zero))
    sidecars: dict[str, int] = {}
    init_peak: dict[str, int] = {}
    for container in spec.get("initContainers") or []:
        own = _container_requests(container, non_zero)
        if container.get("restartPolicy") == "Always":
            _add(sidecars, own)
            running = dict(sidecars)
        else:
            running = _add(dict(own), sidecars)
        _max(init_peak, running)
    _add(requests, sidecars)
    _max(requests, init_peak)
    _add(requests, resource_list(spec.get("overhead")))
    return requests


def host_ports(pod: Mapping) -> list[tuple[str, str, int]]:
    """The (hostIP, protocol, hostPort) a pod's containers ask for, with upstream's defaults filled in."""
    ports = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            number = port.get("hostPort") or 0
            if number > 0:
                ports.append((port.get("hostIP") or "0.0.0.0", port.get("protocol") or "TCP", number))
    return ports


def pod_priority(pod: Mapping) -> int:
    """corev1helpers.PodPriority: spec.priority, 0 when the admission plugin did not set it."""
    priority = (pod.get("spec") or {}).get("priority")
    return priority if isinstance(priority, int) else 0

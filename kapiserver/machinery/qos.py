"""A pod's QoS class as upstream computes it (GetPodQOS), for the apiserver (status.qosClass on create) and the
node agent (the status it writes) alike."""

from __future__ import annotations

from fractions import Fraction

from .quantity import parse_quantity


def pod_qos_class(pod: dict) -> str:
    """Guaranteed, Burstable or BestEffort: only cpu and memory count, summed over the containers and init
    containers; Guaranteed when every container limits both and the requests equal the limits."""
    spec = pod.get("spec") or {}
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        resources = (container or {}).get("resources") or {}
        for field, total in (("requests", requests), ("limits", limits)):
            found = set()
            for name, text in (resources.get(field) or {}).items():
                if name not in ("cpu", "memory"):
                    continue
                value = parse_quantity(text)
                if value is not None and value > 0:
                    found.add(name)
                    total[name] = total.get(name, Fraction(0)) + value
            if field == "limits" and found != {"cpu", "memory"}:
                guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests.keys() == limits.keys() and all(limits[k] == v for k, v in requests.items()):
        return "Guaranteed"
    return "Burstable"

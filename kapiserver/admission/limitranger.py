"""
LimitRanger admission: containers of new pods take their namespace's
LimitRange defaults (default -> limits, defaultRequest -> requests) in the mutating
phase, and Container/Pod min, max (of limits and requests) and maxLimitRequestRatio
are enforced with 403 in the validating phase.
"""

from __future__ import annotations

from fractions import Fraction

from ..machinery.errors import StatusError
from ..registry.attributes import CREATE, Attributes
from ..machinery.quantity import parse_quantity
from ..registry.options import ListOptions
from .refusal import is_resource

_CONTAINER_LISTS = ("initContainers", "containers")


def _forbidden(obj: dict, message: str) -> StatusError:
    name = (obj.get("metadata") or {}).get("name", "")
    return StatusError(403, "Forbidden", f'pods "{name}" is forbidden: {message}', {"name": name, "kind": "pods"})


class LimitRanger:
    # The only (group, resource) pairs its admit and validate act on: the chain calls it for no other.
    admission_resources = frozenset({("", "pods")})

    def __init__(self, registry):
        self.registry = registry

    def _applies(self, attributes: Attributes) -> bool:
        return attributes.operation == CREATE and is_resource(attributes, "", "pods")

    async def _limits(self, namespace: str) -> list[dict]:
        ranges = (await self.registry.store("", "v1", "limitranges").list(namespace, ListOptions()))[0]
        return [item for r in ranges for item in (r.get("spec") or {}).get("limits") or []]

    async def admit(self, attributes: Attributes) -> None:
        """The mutating phase: containers take their namespace's defaults."""
        if not self._applies(attributes):
            return
        spec = attributes.object.setdefault("spec", {})
        for item in await self._limits(attributes.namespace):
            if item.get("type") != "Container":
                continue
            for key in _CONTAINER_LISTS:
                for container in spec.get(key) or []:
                    resources = container.setdefault("resources", {})
                    for name, value in (item.get("default") or {}).items():
                        resources.setdefault("limits", {}).setdefault(name, value)
                    for name, value in (item.get("defaultRequest") or {}).items():
                        resources.setdefault("requests", {}).setdefault(name, value)

    async def validate(self, attributes: Attributes) -> None:
        """The validating phase: min, max and maxLimitRequestRatio per container and per pod."""
        if not self._applies(attributes):
            return
        obj = attributes.object
        spec = obj.get("spec") or {}
        problems = []
        for item in await self._limits(attributes.namespace):
            if item.get("type") == "Container":
                for key in _CONTAINER_LISTS:
                    for container in spec.get(key) or []:
                        resources = container.get("resources") or {}
                        problems += _check(item, "Container", resources.get("requests") or {},
                                           resources.get("limits") or {})
            elif item.get("type") == "Pod":
                requests: dict = {}
                limits: dict = {}
                for container in spec.get("containers") or []:
                    for target, source in ((requests, "requests"), (limits, "limits")):
                        for name, value in ((container.get("resources") or {}).get(source) or {}).items():
                            target[name] = target.get(name, Fraction(0)) + (parse_quantity(value) or 0)
                problems += _check(item, "Pod", requests, limits)
        if problems:
            raise _forbidden(obj, problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]")


def _check(item: dict, kind: str, requests: dict, limits: dict) -> list[str]:
    problems = []

    def q(value):
        return value if isinstance(value, Fraction) else parse_quantity(value)
    for name, minimum in (item.get("min") or {}).items():
        if name not in requests:
            problems.append(f"minimum {name} usage per {kind} is {minimum}.  No request is specified")
        elif q(requests[name]) < q(minimum):
            problems.append(f"minimum {name} usage per {kind} is {minimum}, but request is {requests[name]}")
    for name, maximum in (item.get("max") or {}).items():
        if name not in limits:
            problems.append(f"maximum {name} usage per {kind} is {maximum}.  No limit is specified")
        elif q(limits[name]) > q(maximum):
            problems.append(f"maximum {name} usage per {kind} is {maximum}, but limit is {limits[name]}")
        elif name in requests and q(requests[name]) > q(maximum):
            problems.append(f"maximum {name} usage per {kind} is {maximum}, but request is {requests[name]}")
    for name, ratio in (item.get("maxLimitRequestRatio") or {}).items():
        if name in limits and name in requests and q(requests[name]):
            actual = q(limits[name]) / q(requests[name])
            if actual > q(ratio):
                problems.append(f"{name} max limit to request ratio per {kind} is {ratio}, but provided ratio is "
                                f"{float(actual):.6f}")
    return problems

"""
LimitRanger admission, as upstream's plugin/pkg/admission/limitranger behaves.

Pods (on create) and PersistentVolumeClaims (on create and update), never through a subresource.  For each
LimitRange of the namespace in turn:

- the mutating phase gives every container and init container the range's Container defaults it lacks
  (``default`` -> limits, ``defaultRequest`` -> requests) and records what it set in the pod's
  ``kubernetes.io/limit-ranger`` annotation;
- the validating phase checks min, max and maxLimitRequestRatio per container (Container items), for the
  whole pod (Pod items: containers summed, init containers taken at their peak, sidecars added) and for a
  claim's storage request (PersistentVolumeClaim items).  The first range with a violation refuses the
  request with 403, its violations joined as upstream's error aggregate prints them.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Optional

from ..machinery.quantity import canonical_quantity, format_quantity, parse_quantity
from ..registry.attributes import CREATE, UPDATE, Attributes
from ..registry.options import ListOptions
from .refusal import forbidden, is_resource

ANNOTATION = "kubernetes.io/limit-ranger"
_MAX_MILLI_VALUE = (2 ** 63 - 1) // 1000
_BINARY_SUFFIXES = ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei")


class _Amount:
    """A quantity as the checks see it: its value and the text Go's Quantity.String() gives it."""

    __slots__ = ("value", "text")

    def __init__(self, value: Fraction, text: str):
        self.value, self.text = value, text

    @classmethod
    def of(cls, raw) -> Optional["_Amount"]:
        value = parse_quantity(raw)
        return None if value is None else cls(value, str(canonical_quantity(raw)))


def _binary(raw) -> bool:
    return isinstance(raw, str) and raw.strip().endswith(_BINARY_SUFFIXES)


def _sum_text(value: Fraction, binary: bool) -> str:
    """String() of a sum, which keeps the format (BinarySI or DecimalSI) of the quantities added."""
    return format_quantity(Fraction(value.numerator * 10 ** 9 // value.denominator, 10 ** 9), binary)


def _resource_list(raw) -> dict[str, _Amount]:
    result = {}
    for name, value in (raw if isinstance(raw, dict) else {}).items():
        amount = _Amount.of(value)
        if amount is not None:
            result[name] = amount
    return result


def _compared(*amounts: Optional[_Amount]) -> list[int]:
    """requestLimitEnforcedValues: whole units rounded up, or milli-units when none would overflow them."""
    values = [a.value if a is not None else Fraction(0) for a in amounts]
    if all(math.ceil(v) <= _MAX_MILLI_VALUE for v in values):
        return [math.ceil(v * 1000) for v in values]
    return [math.ceil(v) for v in values]


def _min(kind: str, name: str, enforced: _Amount, requests: dict, limits: dict) -> Optional[str]:
    request, limit = requests.get(name), limits.get(name)
    req, lim, bound = _compared(request, limit, enforced)
    if request is None:
        return f"minimum {name} usage per {kind} is {enforced.text}.  No request is specified"
    if req < bound:
        return f"minimum {name} usage per {kind} is {enforced.text}, but request is {request.text}"
    if limit is not None and lim < bound:
        return f"minimum {name} usage per {kind} is {enforced.text}, but limit is {limit.text}"
    return None


def _max(kind: str, name: str, enforced: _Amount, requests: dict, limits: dict) -> Optional[str]:
    request, limit = requests.get(name), limits.get(name)
    req, lim, bound = _compared(request, limit, enforced)
    if limit is None:
        return f"maximum {name} usage per {kind} is {enforced.text}.  No limit is specified"
    if lim > bound:
        return f"maximum {name} usage per {kind} is {enforced.text}, but limit is {limit.text}"
    if request is not None and req > bound:
        return f"maximum {name} usage per {kind} is {enforced.text}, but request is {request.text}"
    return None


def _max_request(kind: str, name: str, enforced: _Amount, requests: dict) -> Optional[str]:
    """maxRequestConstraint: a claim's storage has requests only."""
    request = requests.get(name)
    req, _, bound = _compared(request, None, enforced)
    if request is None:
        return f"maximum {name} usage per {kind} is {enforced.text}.  No request is specified"
    if req > bound:
        return f"maximum {name} usage per {kind} is {enforced.text}, but request is {request.text}"
    return None


def _ratio(kind: str, name: str, enforced: _Amount, requests: dict, limits: dict) -> Optional[str]:
    request, limit = requests.get(name), limits.get(name)
    req, lim, _ = _compared(request, limit, enforced)
    if request is None or req == 0:
        return (f"{name} max limit to request ratio per {kind} is {enforced.text}, but no request is specified "
                "or request is 0")
    if limit is None or lim == 0:
        return (f"{name} max limit to request ratio per {kind} is {enforced.text}, but no limit is specified "
                "or limit is 0")
    observed = lim / req
    bound = math.ceil(enforced.value)
    if bound <= _MAX_MILLI_VALUE:
        exceeds = observed * 1000 > math.ceil(enforced.value * 1000)
    else:
        exceeds = observed > bound
    if exceeds:
        return f"{name} max limit to request ratio per {kind} is {enforced.text}, but provided ratio is {observed:f}"
    return None


def _check(kind: str, item: dict, requests: dict, limits: dict) -> list[str]:
    problems = []
    for key, check in (("min", _min), ("max", _max), ("maxLimitRequestRatio", _ratio)):
        for name, enforced in _resource_list(item.get(key)).items():
            problem = check(kind, name, enforced, requests, limits)
            if problem:
                problems.append(problem)
    return problems


def _containers(spec: dict, key: str) -> list[dict]:
    value = spec.get(key)
    return [c for c in value if isinstance(c, dict)] if isinstance(value, list) else []


def _raw(container: dict, key: str) -> dict:
    """A container's (or a claim spec's) resources.requests or .limits as sent."""
    resources = container.get("resources")
    value = resources.get(key) if isinstance(resources, dict) else None
    return value if isinstance(value, dict) else {}


def _resources(container: dict, key: str) -> dict[str, _Amount]:
    return _resource_list(_raw(container, key))


def _add(total: dict[str, tuple[Fraction, bool]], amounts: dict, raws: dict) -> None:
    for name, amount in amounts.items():
        value, binary = total.get(name, (Fraction(0), None))
        total[name] = (value + amount.value, _binary(raws.get(name)) if binary is None else binary)


def _pod_total(spec: dict, key: str) -> dict[str, _Amount]:
    """podRequests / podLimits: containers summed, sidecars (restartable init containers) added to them, and
    each other init container (with the sidecars started before it) counted at its peak."""
    total: dict[str, tuple[Fraction, bool]] = {}
    for container in _containers(spec, "containers"):
        _add(total, _resources(container, key), _raw(container, key))
    sidecars: dict[str, tuple[Fraction, bool]] = {}
    peak: dict[str, tuple[Fraction, bool]] = {}
    for container in _containers(spec, "initContainers"):
        amounts = _resources(container, key)
        raws = _raw(container, key)
        if container.get("restartPolicy") == "Always":
            _add(total, amounts, raws)
            _add(sidecars, amounts, raws)
            current = dict(sidecars)
        else:
            current = dict(sidecars)
            _add(current, amounts, raws)
        for name, (value, binary) in current.items():
            if name not in peak or value > peak[name][0]:
                peak[name] = (value, binary)
    for name, (value, binary) in peak.items():
        if name not in total or value > total[name][0]:
            total[name] = (value, binary)
    return {name: _Amount(value, _sum_text(value, bool(binary))) for name, (value, binary) in total.items()}


class LimitRanger:
    # The only (group, resource) pairs its admit and validate act on: the chain calls it for no other.
    admission_resources = frozenset({("", "pods"), ("", "persistentvolumeclaims")})

    def __init__(self, registry):
        self.registry = registry

    @staticmethod
    def _target(attributes: Attributes) -> str:
        """"pods", "persistentvolumeclaims" or "" (left alone)."""
        if is_resource(attributes, "", "pods"):
            return "pods" if attributes.operation == CREATE else ""
        if is_resource(attributes, "", "persistentvolumeclaims") and attributes.operation in (CREATE, UPDATE):
            old = attributes.old_object
            # Objects already being deleted are not judged again.
            if isinstance(old, dict) and (old.get("metadata") or {}).get("deletionTimestamp"):
                return ""
            return "persistentvolumeclaims"
        return ""

    async def _ranges(self, namespace: str) -> list[dict]:
        return (await self.registry.store("", "v1", "limitranges").list(namespace, ListOptions()))[0]

    async def admit(self, attributes: Attributes) -> None:
        """The mutating phase: containers take their namespace's defaults, noted in the annotation."""
        if self._target(attributes) != "pods" or not isinstance(attributes.object, dict):
            return
        pod = attributes.object
        for limit_range in await self._ranges(attributes.namespace):
            _default_pod(limit_range, pod)

    async def validate(self, attributes: Attributes) -> None:
        """The validating phase: min, max and maxLimitRequestRatio, range by range."""
        target = self._target(attributes)
        if not target or not isinstance(attributes.object, dict):
            return
        for limit_range in await self._ranges(attributes.namespace):
            items = [i for i in (limit_range.get("spec") or {}).get("limits") or [] if isinstance(i, dict)]
            if target == "pods":
                problems = _pod_problems(items, attributes.object)
            else:
                problems = _claim_problems(items, attributes.object)
            if problems:
                raise forbidden(attributes, problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]")


def _default_pod(limit_range: dict, pod: dict) -> None:
    """PodMutateLimitFunc: one range's Container defaults (later items win) merged into every container."""
    limits: dict = {}
    requests: dict = {}
    for item in (limit_range.get("spec") or {}).get("limits") or []:
        if isinstance(item, dict) and item.get("type") == "Container":
            requests.update(item.get("defaultRequest") or {})
            limits.update(item.get("default") or {})
    spec = pod.setdefault("spec", {})
    notes = []
    for key, label in (("containers", "container"), ("initContainers", "init container")):
        for container in _containers(spec, key):
            resources = container.get("resources")
            if not isinstance(resources, dict):
                resources = container["resources"] = {}
            set_limits = _merge(resources, "limits", limits)
            set_requests = _merge(resources, "requests", requests)
            name = container.get("name", "")
            if set_requests:
                notes.append(f"{', '.join(sorted(set_requests))} request for {label} {name}")
            if set_limits:
                notes.append(f"{', '.join(sorted(set_limits))} limit for {label} {name}")
    if notes:
        metadata = pod.setdefault("metadata", {})
        annotations = metadata.get("annotations")
        if not isinstance(annotations, dict):
            annotations = metadata["annotations"] = {}
        annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)


def _merge(resources: dict, key: str, defaults: dict) -> list[str]:
    if not defaults:
        return []
    current = resources.get(key)
    if not isinstance(current, dict):
        current = resources[key] = {}
    added = [name for name in defaults if name not in current]
    for name in added:
        current[name] = defaults[name]
    return added


def _pod_problems(items: list[dict], pod: dict) -> list[str]:
    """PodValidateLimitFunc."""
    spec = pod.get("spec") if isinstance(pod.get("spec"), dict) else {}
    problems: list[str] = []
    for item in items:
        kind = item.get("type")
        if kind == "Container":
            for key in ("containers", "initContainers"):
                for container in _containers(spec, key):
                    problems += _check(kind, item, _resources(container, "requests"), _resources(container, "limits"))
        elif kind == "Pod":
            problems += _check(kind, item, _pod_total(spec, "requests"), _pod_total(spec, "limits"))
    return problems


def _claim_problems(items: list[dict], claim: dict) -> list[str]:
    """PersistentVolumeClaimValidateLimitFunc: min and max of the storage requested (limits are not read)."""
    spec = claim.get("spec") if isinstance(claim.get("spec"), dict) else {}
    requests = _resources(spec, "requests")
    problems: list[str] = []
    for item in items:
        kind = item.get("type")
        if kind != "PersistentVolumeClaim":
            continue
        for name, enforced in _resource_list(item.get("min")).items():
            problem = _min(kind, name, enforced, requests, {})
            if problem:
                problems.append(problem)
        for name, enforced in _resource_list(item.get("max")).items():
            problem = _max_request(kind, name, enforced, requests)
            if problem:
                problems.append(problem)
    return problems

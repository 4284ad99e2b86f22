"""
EventRateLimit admission (off by default, and unusable without its
configuration, as upstream): creates and updates of core Events pass a token
bucket per limit -- one for the Server, or one per Namespace, User or
SourceAndObject key in an LRU of cacheSize -- and are refused with 429 when a
bucket is empty.  Time comes from an injected clock (the reactor's seconds).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

from ..machinery.errors import StatusError
from ..registry.attributes import CREATE, UPDATE, Attributes

CONFIGURATION_KINDS = {("eventratelimit.admission.k8s.io/v1alpha1", "Configuration")}
LIMIT_TYPES = ("Server", "Namespace", "User", "SourceAndObject")
DEFAULT_CACHE_SIZE = 4096


def parse_configuration(configuration) -> list[dict]:
    """The limits, validated as upstream; AdmissionConfigError when absent or invalid."""
    from .config import AdmissionConfigError, json_type, type_meta_error
    limits = None
    if configuration is not None:
        problem = type_meta_error(configuration, CONFIGURATION_KINDS,
                                  "k8s.io/kubernetes/plugin/pkg/admission/eventratelimit/config.go:33")
        if problem:
            raise AdmissionConfigError(problem)
        limits = configuration.get("limits")
    if not limits:
        shown = "[]eventratelimit.Limit(nil)" if limits is None else "[]eventratelimit.Limit{}"
        raise AdmissionConfigError(f"limits: Invalid value: {shown}: must not be empty")
    if not isinstance(limits, list):
        raise AdmissionConfigError("limits: Invalid value: must be a list")
    problems, parsed = [], []
    for i, limit in enumerate(limits):
        limit = limit if isinstance(limit, dict) else {}
        kind = limit.get("type") or ""
        qps, burst, size = limit.get("qps") or 0, limit.get("burst") or 0, limit.get("cacheSize") or 0
        for field, value in (("qps", qps), ("burst", burst), ("cacheSize", size)):
            # All three are int32 upstream: anything else fails decoding.
            if not isinstance(value, int) or isinstance(value, bool):
                raise AdmissionConfigError(f"json: cannot unmarshal {json_type(value)} into Go struct "
                                           f"field Limit.limits.{field} of type int32")
        if kind not in LIMIT_TYPES:
            supported = ", ".join(f'"{t}"' for t in LIMIT_TYPES)
            problems.append(f'limits[{i}].type: Unsupported value: "{kind}": supported values: {supported}')
        if burst <= 0:
            problems.append(f"limits[{i}].burst: Invalid value: {burst}: must be positive")
        if qps <= 0:
            problems.append(f"limits[{i}].qps: Invalid value: {qps}: must be positive")
        if kind != "Server" and size < 0:
            problems.append(f"limits[{i}].cacheSize: Invalid value: {size}: must not be negative")
        parsed.append({"type": kind, "qps": float(qps), "burst": int(burst), "cacheSize": int(size)})
    if problems:
        # An aggregate of several errors reads as upstream's: "[a, b]".
        raise AdmissionConfigError(problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]")
    return parsed


class TokenBucket:
    """``burst`` tokens, refilled at ``qps`` a second; starts full (client-go's token bucket limiter)."""

    def __init__(self, qps: float, burst: int, now: float):
        self.qps, self.burst = qps, burst
        self.tokens = float(burst)
        self.last = now

    def try_accept(self, now: float) -> bool:
        if now > self.last:
            self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.qps)
            self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def _source_and_object_key(event: dict) -> str:
    source = event.get("source") or {}
    involved = event.get("involvedObject") or {}
    return "".join(str(part or "") for part in (
        source.get("component"), source.get("host"), involved.get("kind"), involved.get("namespace"),
        involved.get("name"), involved.get("uid"), involved.get("apiVersion")))


_KEYS: dict[str, Callable[[Attributes], str]] = {
    "Server": lambda attributes: "",
    "Namespace": lambda attributes: (attributes.object.get("metadata") or {}).get("namespace", ""),
    "User": lambda attributes: attributes.user_info.name,
    "SourceAndObject": lambda attributes: _source_and_object_key(attributes.object),
}


class LimitEnforcer:
    """One limit: its buckets by key, the least recently used dropped past cacheSize."""

    def __init__(self, limit: dict, clock: Callable[[], float]):
        self.type = limit["type"]
        self.qps, self.burst = limit["qps"], limit["burst"]
        self.size = 1 if self.type == "Server" else (limit.get("cacheSize") or DEFAULT_CACHE_SIZE)
        self.clock = clock
        self.buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def accept(self, attributes: Attributes) -> bool:
        key = _KEYS[self.type](attributes)
        now = self.clock()
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucket(self.qps, self.burst, now)
            while len(self.buckets) > self.size:
                self.buckets.popitem(last=False)
        else:
            self.buckets.move_to_end(key)
        return bucket.try_accept(now)

    def key(self, attributes: Attributes) -> str:
        return _KEYS[self.type](attributes)


class EventRateLimit:
    def __init__(self, limits: list[dict], clock: Callable[[], float]):
        self.enforcers = [LimitEnforcer(limit, clock) for limit in limits]

    async def validate(self, attributes: Attributes) -> None:
        if attributes.operation not in (CREATE, UPDATE) or \
                (attributes.kind.group, attributes.kind.kind) != ("", "Event") or attributes.subresource:
            return
        refused = None
        # Every limit takes its token, even after one refused; the last refusal is reported, as upstream.
        for enforcer in self.enforcers:
            if not enforcer.accept(attributes):
                refused = enforcer
        if refused is not None:
            raise StatusError(429, "TooManyRequests", f"Too many requests: limit reached on type {refused.type} "
                                                      f"for key {refused.key(attributes)}")

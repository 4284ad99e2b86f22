"""
Fault injection (--enable-fault-injection): rules that make chosen API requests fail the way a real
cluster's requests sometimes do, so controller authors can test their retries.  Off unless the flag is
given; only a member of system:masters may read or set the rules.

A rule matches a resource request by verb, resource (``configmaps``, ``deployments.apps``), subresource,
namespace, name and user (each unset field matches anything); it fires ``times`` times (0: until removed),
each match with ``probability``.  What it does, in this order:

- ``latency``: seconds the request waits before it is served (or fails);
- ``drop``: the connection is closed without an answer;
- ``status``: the request fails with upstream's Status for that code — 409 Conflict, 410 Expired (on a
  watch, as the one ERROR event upstream sends for a too-old resourceVersion; on a list, as an expired
  continue token), 429 TooManyRequests with Retry-After (``retryAfter`` seconds, default 1), 500, 503, 504;
- ``watchEvents``: a watch is served, and ended after that many events (0: as soon as it starts).

Rules are kept by FaultInjector (no I/O in it; the random source and clock come in) and served as JSON at
/debug/kapiserver/faults: GET lists them, POST adds one (the rule as a JSON object; answered with it and
its ``id``), DELETE removes them all, DELETE /debug/kapiserver/faults/<id> one.  Every injected fault is
logged and counted in /metrics as kapiserver_injected_faults_total{verb, resource, fault}.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from twisted.logger import Logger

from ..auth.user import SYSTEM_MASTERS
from ..machinery import codec, errors
from ..machinery.errors import StatusError

log = Logger(namespace="kapiserver.faults")

STATUS_CODES = (409, 410, 429, 500, 503, 504)
FIELDS = ("verb", "resource", "subresource", "namespace", "name", "user", "times", "probability", "latency",
          "status", "retryAfter", "message", "watchEvents", "drop")
_MATCHING = ("verb", "resource", "subresource", "namespace", "name", "user")
METRIC = "kapiserver_injected_faults_total"


def _bad(message: str) -> StatusError:
    return errors.bad_request(f"invalid fault rule: {message}")


@dataclass
class FaultRule:
    """One rule; see the module docstring for each field's meaning."""

    verb: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    user: str = ""
    times: int = 0
    probability: float = 1.0
    latency: float = 0.0
    status: int = 0
    retryAfter: int = 1
    message: str = ""
    watchEvents: Optional[int] = None
    drop: bool = False
    id: int = 0
    fired: int = field(default=0)

    @classmethod
    def from_json(cls, data: Any) -> "FaultRule":
        """A rule from its JSON object; a StatusError 400 says what is wrong with it."""
        if not isinstance(data, dict):
            raise _bad("want a JSON object")
        unknown = sorted(set(data) - set(FIELDS))
        if unknown:
            raise _bad(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
        rule = cls()
        for name in _MATCHING + ("message",):
            value = data.get(name, "")
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise _bad(f"{name} must be a string")
            setattr(rule, name, value)
        rule.times = _number(data, "times", 0, int)
        rule.probability = _number(data, "probability", 1.0, float)
        rule.latency = _number(data, "latency", 0.0, float)
        rule.status = _number(data, "status", 0, int)
        rule.retryAfter = _number(data, "retryAfter", 1, int)
        if data.get("watchEvents") is not None:
            rule.watchEvents = _number(data, "watchEvents", 0, int)
        drop = data.get("drop", False)
        if not isinstance(drop, bool):
            raise _bad("drop must be true or false")
        rule.drop = drop
        if not 0.0 < rule.probability <= 1.0:
            raise _bad("probability must be above 0 and at most 1")
        if rule.status and rule.status not in STATUS_CODES:
            raise _bad(f"status must be one of {', '.join(map(str, STATUS_CODES))}")
        if not (rule.latency or rule.status or rule.drop or rule.watchEvents is not None):
            raise _bad("a rule needs at least one of latency, status, drop, watchEvents")
        if rule.verb and rule.verb not in ("get", "list", "watch", "create", "update", "patch", "delete",
                                            "deletecollection"):
            raise _bad(f"unknown verb {rule.verb!r}")
        return rule

    def to_json(self) -> dict:
        """The rule as JSON: its id, how often it fired, and the fields it sets (watchEvents even when 0)."""
        out: dict = {"id": self.id, "fired": self.fired}
        for name in FIELDS:
            value = getattr(self, name)
            if name == "watchEvents" and value is not None or name == "probability" or \
                    value is not None and value is not False and value != "" and value != 0:
                out[name] = value
        if not self.status:
            out.pop("retryAfter", None)
        return out

    def matches(self, info, user: str) -> bool:
        resource = info.resource + (f".{info.api_group}" if info.api_group else "")
        return ((not self.verb or self.verb == info.verb)
                and (not self.resource or self.resource in (resource, info.resource))
                and (not self.subresource or self.subresource == info.subresource)
                and (not self.namespace or self.namespace == info.namespace)
                and (not self.name or self.name == info.name)
                and (not self.user or self.user == user))

    def error(self, info) -> Optional[StatusError]:
        """The Status this rule answers ``info``'s request with, or None."""
        code = self.status
        qualified = errors.GroupResource(info.api_group, info.resource)
        message = self.message
        if code == 409:
            return errors.conflict(qualified, info.name, message or errors.OBJECT_MODIFIED)
        if code == 410:
            if info.verb == "watch":
                return errors.resource_expired(message or "too old resource version: injected fault")
            return errors.resource_expired(message or "The provided continue parameter is too old to display a "
                                           "consistent list result (an injected fault).")
        if code == 429:
            return errors.too_many_requests(message or "Too many requests, please try again later.",
                                            self.retryAfter)
        if code == 500:
            return errors.internal_error(message or "injected fault")
        if code == 503:
            return errors.service_unavailable(message or "injected fault: the server is currently unable to "
                                              "handle the request")
        if code == 504:
            return errors.timeout(message or "The request timed out (an injected fault).", 0)
        return None

    def kinds(self) -> list[str]:
        """The faults this rule injects, as the metric's ``fault`` label values."""
        out = []
        if self.latency:
            out.append("latency")
        if self.drop:
            out.append("drop")
        if self.status:
            out.append(str(self.status))
        if self.watchEvents is not None:
            out.append("watch_end")
        return out


def _number(data: dict, name: str, default, kind):
    value = data.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise _bad(f"{name} must be a non-negative number")
    if kind is int and value != int(value):
        raise _bad(f"{name} must be a whole number")
    return kind(value)


class FaultInjector:
    """The rules in force, in the order added; the first that matches a request (and wins its draw) fires."""

    def __init__(self, rng: Optional[random.Random] = None):
        self.rules: list[FaultRule] = []
        self.rng = rng or random.Random()
        self.counts: dict[tuple[str, str, str], int] = {}
        self._next_id = 1

    def add(self, rule: FaultRule) -> FaultRule:
        rule.id = self._next_id
        self._next_id += 1
        self.rules.append(rule)
        return rule

    def remove(self, rule_id: int) -> bool:
        kept = [r for r in self.rules if r.id != rule_id]
        found = len(kept) != len(self.rules)
        self.rules = kept
        return found

    def clear(self) -> None:
        self.rules = []

    def match(self, info, user: str) -> Optional[FaultRule]:
        """The rule that fires for this request (counted, and removed once it has fired ``times``), or None."""
        if not info.is_resource_request:
            return None
        for rule in self.rules:
            if not rule.matches(info, user):
                continue
            if rule.probability < 1.0 and self.rng.random() >= rule.probability:
                continue
            rule.fired += 1
            if rule.times and rule.fired >= rule.times:
                self.rules.remove(rule)
            resource = info.resource + (f".{info.api_group}" if info.api_group else "")
            for kind in rule.kinds():
                key = (info.verb, resource, kind)
                self.counts[key] = self.counts.get(key, 0) + 1
            log.info("Injected fault {faults} (rule {id}) into {verb} {path} for {user}",
                     faults="+".join(rule.kinds()), id=rule.id, verb=info.verb, path=info.path, user=user)
            return rule
        return None

    def families(self) -> list:
        from prometheus_client.core import CounterMetricFamily
        family = CounterMetricFamily(METRIC, "Faults injected into API requests (--enable-fault-injection), by "
                                     "verb, resource and fault.", labels=("verb", "resource", "fault"))
        for key in sorted(self.counts):
            family.add_metric(key, self.counts[key])
        return [family]


def require_masters(user) -> None:
    """Only system:masters may see or change the debug controls."""
    if SYSTEM_MASTERS not in (user.groups or []):
        raise StatusError(403, "Forbidden", f'user "{user.name}" cannot use the fault injection and reset '
                          f"endpoints: only members of {SYSTEM_MASTERS} may", {})


def handle_rules(injector: FaultInjector, method: bytes, rest: Sequence[str], body: bytes) -> tuple[int, bytes]:
    """(HTTP status, JSON body) of one request to /debug/kapiserver/faults[/<id>]."""
    if method in (b"GET", b"HEAD") and not rest:
        return 200, codec.encode({"rules": [r.to_json() for r in injector.rules]})
    if method == b"POST" and not rest:
        try:
            data = codec.loads(body) if body else None
        except ValueError as e:
            raise _bad(f"the body is not JSON: {e}") from None
        rule = injector.add(FaultRule.from_json(data))
        return 201, codec.encode(rule.to_json())
    if method == b"DELETE" and not rest:
        removed = len(injector.rules)
        injector.clear()
        return 200, codec.encode({"removed": removed})
    if method == b"DELETE" and len(rest) == 1 and rest[0].isdigit():
        if not injector.remove(int(rest[0])):
            raise StatusError(404, "NotFound", f"fault rule {rest[0]} not found", {})
        return 200, codec.encode({"removed": 1})
    raise StatusError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
                      {})

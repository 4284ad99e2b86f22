"""
The check registry: which checks a level:version runs, in which order, and how
their results read as one message.

A check has an ID, a level (baseline or restricted) and one or more revisions,
each from a minimum policy version on.  A level:version runs, for every check
of its level and below, the newest revision at or before that version.
Restricted runs the baseline checks too, except those a restricted revision
overrides (its stricter form of the same field).  Checks run baseline first,
then restricted, each group in check-ID order (byte order, as Go sorts), so
messages are stable.  "latest", and any version newer than the newest revision
anywhere, read as that newest version (v1.32 here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Optional

from .api import BASELINE, PRIVILEGED, RESTRICTED, LevelVersion

# A check's verdict: None when the pod passes, else (reason, detail); detail may be "".
Result = Optional[tuple[str, str]]
CheckFn = Callable[[dict, dict], Result]


@dataclass(frozen=True)
class Revision:
    minimum_minor: int
    check: CheckFn
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    id: str
    level: str
    revisions: tuple[Revision, ...]


@dataclass
class AggregateResult:
    reasons: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return not self.reasons

    def forbidden_reason(self) -> str:
        """The reasons alone: "host namespaces, privileged"."""
        return ", ".join(self.reasons)

    def forbidden_detail(self) -> str:
        """Each reason with its detail in parentheses: "privileged (container "c" must ...)"."""
        return ", ".join(f"{reason} ({detail})" if detail else reason
                         for reason, detail in zip(self.reasons, self.details))


class Evaluator:
    def __init__(self, checks: Iterable[Check]):
        self.checks = sorted(checks, key=lambda c: c.id.encode())
        self.max_minor = max((r.minimum_minor for c in self.checks for r in c.revisions), default=0)
        self._plans: dict[tuple[str, int], list[CheckFn]] = {}

    def _plan(self, level: str, minor: int) -> list[CheckFn]:
        key = (level, minor)
        plan = self._plans.get(key)
        if plan is None:
            chosen = {c.id: (c, _revision_at(c, minor)) for c in self.checks}
            active = {cid: pair for cid, pair in chosen.items() if pair[1] is not None}
            overridden: set[str] = set()
            if level == RESTRICTED:
                for check, revision in active.values():
                    if check.level == RESTRICTED:
                        overridden.update(revision.overrides)
            plan = [revision.check for check, revision in active.values()
                    if check.level == BASELINE and check.id not in overridden]
            if level == RESTRICTED:
                plan += [revision.check for check, revision in active.values() if check.level == RESTRICTED]
            self._plans[key] = plan
        return plan

    def evaluate(self, lv: LevelVersion, metadata: dict, spec: dict) -> AggregateResult:
        """Run the checks of ``lv`` on a pod's (or pod template's) metadata and spec."""
        result = AggregateResult()
        if lv.level == PRIVILEGED:
            return result
        minor = self.max_minor if lv.minor is None else min(lv.minor, self.max_minor)
        for check in self._plan(lv.level, minor):
            verdict = check(metadata or {}, spec or {})
            if verdict is not None:
                reason, detail = verdict
                result.reasons.append(reason or "unknown forbidden reason")
                result.details.append(detail)
        return result


def _revision_at(check: Check, minor: int) -> Optional[Revision]:
    found = None
    for revision in check.revisions:
        if revision.minimum_minor <= minor:
            found = revision
    return found


# -- helpers the checks share ------------------------------------------------------------

def containers(spec: dict) -> Iterator[dict]:
    """Init containers, containers, then ephemeral containers, as upstream visits them."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or ():
            if isinstance(container, dict):
                yield container


def security_context(obj: dict) -> dict:
    value = obj.get("securityContext")
    return value if isinstance(value, dict) else {}


def pod_security_context(spec: dict) -> dict:
    return security_context(spec)


def name_of(container: dict) -> str:
    return str(container.get("name") or "")


def pluralize(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def join_quote(items: Iterable[str]) -> str:
    """"a", "b" (no escaping, as upstream's joinQuote)."""
    items = list(items)
    return '"' + '", "'.join(items) + '"' if items else ""


def is_windows(spec: dict) -> bool:
    os_ = spec.get("os")
    return isinstance(os_, dict) and os_.get("name") == "windows"


def setters(pod_bad: bool, containers_bad: list[str]) -> list[str]:
    """The "pod" / "container(s) ..." phrases for a field set badly at either level."""
    out = ["pod"] if pod_bad else []
    if containers_bad:
        out.append(f'{pluralize("container", "containers", len(containers_bad))} {join_quote(containers_bad)}')
    return out

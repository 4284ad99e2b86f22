"""
The Pod Security Standards vocabulary: levels (privileged < baseline <
restricted), policy versions ("latest" or "v1.N"), the level:version pair each
mode (enforce, audit, warn) evaluates, and how a namespace's
pod-security.kubernetes.io/* labels resolve to that policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from ...machinery import errors
from ...machinery.errors import FieldError

PRIVILEGED = "privileged"
BASELINE = "baseline"
RESTRICTED = "restricted"
LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)
LATEST = "latest"

LABEL_PREFIX = "pod-security.kubernetes.io/"
ENFORCE_LABEL = LABEL_PREFIX + "enforce"
ENFORCE_VERSION_LABEL = LABEL_PREFIX + "enforce-version"
AUDIT_LABEL = LABEL_PREFIX + "audit"
AUDIT_VERSION_LABEL = LABEL_PREFIX + "audit-version"
WARN_LABEL = LABEL_PREFIX + "warn"
WARN_VERSION_LABEL = LABEL_PREFIX + "warn-version"
# Audit annotations carry the same prefix ("pod-security.kubernetes.io/enforce-policy", ...).
AUDIT_ANNOTATION_PREFIX = LABEL_PREFIX

LEVEL_ERROR = "must be one of " + ", ".join(LEVELS)
VERSION_ERROR = 'must be "latest" or "v1.x"'
_VERSION = re.compile(r"^v1\.(0|[1-9][0-9]*)$")


def parse_level(text: str) -> Optional[str]:
    """The level ``text`` names, or None when it names none."""
    return text if text in LEVELS else None


def parse_version(text: str) -> Optional[int]:
    """The minor version of "v1.N" (None for "latest"); raises ValueError for anything else."""
    if text == LATEST:
        return None
    match = _VERSION.match(text)
    if match is None:
        raise ValueError(VERSION_ERROR)
    return int(match.group(1))


def compare_levels(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is less strict than, as strict as, or stricter than ``b``."""
    ia, ib = LEVELS.index(a), LEVELS.index(b)
    return (ia > ib) - (ia < ib)


@dataclass(frozen=True)
class LevelVersion:
    level: str
    minor: Optional[int] = None     # None is "latest"

    @property
    def version(self) -> str:
        return LATEST if self.minor is None else f"v1.{self.minor}"

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"

    def equivalent(self, other: "LevelVersion") -> bool:
        """Same level, and the same version unless the level is privileged (which has no checks)."""
        return self.level == other.level and (self.level == PRIVILEGED or self.minor == other.minor)


@dataclass(frozen=True)
class Policy:
    enforce: LevelVersion = LevelVersion(PRIVILEGED)
    audit: LevelVersion = LevelVersion(PRIVILEGED)
    warn: LevelVersion = LevelVersion(PRIVILEGED)

    def fully_privileged(self) -> bool:
        return self.enforce.level == self.audit.level == self.warn.level == PRIVILEGED

    def equivalent(self, other: "Policy") -> bool:
        return (self.enforce.equivalent(other.enforce) and self.audit.equivalent(other.audit)
                and self.warn.equivalent(other.warn))


def _label_path(label: str) -> str:
    return f"metadata.labels[{label}]"


def policy_to_evaluate(labels: Optional[dict], defaults: Policy) -> tuple[Policy, list[FieldError]]:
    """The policy a namespace's labels select over ``defaults``, and the label errors.

    A policy is always returned: an unparseable enforce level reads as restricted
    (fail closed), unparseable audit and warn levels as privileged (fail open), and
    an unparseable version as latest, as upstream does.  An enforce label without a
    warn label also raises the warn level to the enforce level (upstream since 1.26)."""
    problems: list[FieldError] = []
    modes = {"enforce": defaults.enforce, "audit": defaults.audit, "warn": defaults.warn}
    if not labels:
        return defaults, problems
    for mode, level_label, version_label in (("enforce", ENFORCE_LABEL, ENFORCE_VERSION_LABEL),
                                             ("audit", AUDIT_LABEL, AUDIT_VERSION_LABEL),
                                             ("warn", WARN_LABEL, WARN_VERSION_LABEL)):
        current = modes[mode]
        if level_label in labels:
            text = labels[level_label]
            level = parse_level(text)
            if level is None:
                problems.append(errors.invalid(_label_path(level_label), text, LEVEL_ERROR))
                level = RESTRICTED if mode == "enforce" else PRIVILEGED
            current = LevelVersion(level, current.minor)
        if version_label in labels:
            text = labels[version_label]
            try:
                minor = parse_version(text)
            except ValueError as e:
                problems.append(errors.invalid(_label_path(version_label), text, str(e)))
                minor = None
            current = LevelVersion(current.level, minor)
        modes[mode] = current
    # An enforce label stricter than the warn level warns at the enforce level (and version, unless the
    # warn version is labeled) when no warn label says otherwise, so workload templates get warnings.
    if ENFORCE_LABEL in labels and WARN_LABEL not in labels and \
            compare_levels(modes["enforce"].level, modes["warn"].level) > 0:
        minor = modes["warn"].minor if WARN_VERSION_LABEL in labels else modes["enforce"].minor
        modes["warn"] = LevelVersion(modes["enforce"].level, minor)
    return Policy(modes["enforce"], modes["audit"], modes["warn"]), problems


def aggregate(problems: list[FieldError]) -> str:
    """An ErrorList's aggregate text: the one error, or "[a, b]"."""
    if len(problems) == 1:
        return str(problems[0])
    return "[" + ", ".join(str(p) for p in problems) + "]"

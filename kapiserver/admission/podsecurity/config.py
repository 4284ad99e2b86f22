"""
The PodSecurity plugin's configuration: a PodSecurityConfiguration
(pod-security.admission.config.k8s.io/v1, v1beta1 or v1alpha1) giving the
default level and version of each mode for namespaces that do not label their
own, and the exempt usernames, runtime classes and namespaces.  No
configuration means upstream's defaults: everything privileged, nothing exempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ...machinery import errors
from ...machinery.errors import FieldError
from ...machinery.names import is_dns1123_label, is_dns1123_subdomain
from .api import LEVEL_ERROR, LevelVersion, Policy, parse_level, parse_version

GROUP = "pod-security.admission.config.k8s.io"
API_VERSIONS = tuple(f"{GROUP}/{v}" for v in ("v1", "v1beta1", "v1alpha1"))
KIND = "PodSecurityConfiguration"


@dataclass(frozen=True)
class Configuration:
    defaults: Policy = Policy()
    usernames: frozenset[str] = frozenset()
    runtime_classes: frozenset[str] = frozenset()
    namespaces: frozenset[str] = frozenset()


def load(configuration: Optional[dict]) -> Configuration:
    """The Configuration ``configuration`` describes; raises ValueError naming every problem."""
    if configuration is None:
        return Configuration()
    if not isinstance(configuration, dict):
        raise ValueError("PodSecurity configuration must be a PodSecurityConfiguration object")
    api_version, kind = configuration.get("apiVersion"), configuration.get("kind")
    if api_version not in API_VERSIONS or kind != KIND:
        raise ValueError(f'PodSecurity configuration: expected kind "{KIND}" in one of '
                         f'{", ".join(API_VERSIONS)}, got apiVersion "{api_version}" kind "{kind}"')
    defaults = configuration.get("defaults") or {}
    exemptions = configuration.get("exemptions") or {}
    if not isinstance(defaults, dict) or not isinstance(exemptions, dict):
        raise ValueError("PodSecurity configuration: defaults and exemptions must be objects")
    problems: list[FieldError] = []
    modes = {}
    for mode in ("enforce", "warn", "audit"):
        level = defaults.get(mode) or "privileged"
        version = defaults.get(f"{mode}-version") or "latest"
        if parse_level(str(level)) is None:
            problems.append(errors.invalid(f"defaults.{mode}", level, LEVEL_ERROR))
        try:
            minor = parse_version(str(version))
        except ValueError as e:
            problems.append(errors.invalid(f"defaults.{mode}-version", version, str(e)))
            minor = None
        modes[mode] = LevelVersion(str(level), minor)
    namespaces = _names(exemptions, "namespaces", is_dns1123_label, problems)
    runtime_classes = _names(exemptions, "runtimeClasses", is_dns1123_subdomain, problems)
    usernames = _names(exemptions, "usernames", None, problems)
    if problems:
        raise ValueError("PodSecurity invalid: " + ", ".join(str(p) for p in problems))
    return Configuration(Policy(modes["enforce"], modes["audit"], modes["warn"]), usernames, runtime_classes,
                         namespaces)


def _names(exemptions: dict, key: str, validate, problems: list[FieldError]) -> frozenset[str]:
    seen: list[str] = []
    values = exemptions.get(key) or []
    if not isinstance(values, list):
        problems.append(errors.invalid(f"exemptions.{key}", values, "must be a list of strings"))
        return frozenset()
    for index, value in enumerate(values):
        path = f"exemptions.{key}[{index}]"
        if not isinstance(value, str):
            problems.append(errors.invalid(path, value, "must be a string"))
        elif validate is None and not value:
            problems.append(errors.required(path, ""))
        elif validate is not None and validate(value):
            problems.append(errors.invalid(path, value, ", ".join(validate(value))))
        elif value in seen:
            problems.append(errors.duplicate(path, value))
        else:
            seen.append(value)
    return frozenset(seen)

"""Resource names and quantities as upstream's core validation checks them (validateResourceName,
validateContainerResourceName, ValidateResourceQuantityValue), for pods' containers and overhead, LimitRanges,
ResourceQuotas and autoscalers alike."""

from __future__ import annotations

import math
from typing import Any

from ...machinery import names
from ...machinery.quantity import canonical_quantity, go_quantity, parse_quantity
from ._util import Errors, invalid, invalid_go, qualified_name

# helper.IsStandardResourceName's names (hugepages-* and requests.hugepages-* besides).
STANDARD_RESOURCES = frozenset((
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage",
    "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "resourcequotas", "services",
    "replicationcontrollers", "secrets", "configmaps", "persistentvolumeclaims", "storage", "requests.storage",
    "services.nodeports", "services.loadbalancers"))
# helper.IsStandardContainerResourceName's names (hugepages-* besides).
STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
# helper.IsStandardQuotaResourceName's names (hugepages-* and requests.hugepages-* besides).
STANDARD_QUOTA_RESOURCES = STANDARD_RESOURCES - {"storage"}
# helper.IsIntegerResourceName's standard names; extended resource names (count/... too) are integers as well.
INTEGER_RESOURCES = frozenset(("pods", "resourcequotas", "services", "replicationcontrollers", "secrets", "configmaps",
                               "persistentvolumeclaims", "services.nodeports", "services.loadbalancers"))


def hugepages(name: str) -> bool:
    return name.startswith("hugepages-") or name.startswith("requests.hugepages-")


def native(name: str) -> bool:
    """A resource of Kubernetes' own: no domain, or a kubernetes.io one."""
    return "/" not in name or "kubernetes.io/" in name


def extended(name: str) -> bool:
    return not native(name) and not name.startswith("requests.") and not names.is_qualified_name("requests." + name)


def overcommit_allowed(name: str) -> bool:
    """Extended resources and huge pages cannot be overcommitted (a request must equal its limit)."""
    return native(name) and not name.startswith("hugepages-")


def resource_name(name: str, path: str) -> Errors:
    """validateResourceName: a qualified name, standard unless it has a domain."""
    errs = qualified_name(name, path)
    if not errs and "/" not in name and name not in STANDARD_RESOURCES and not hugepages(name):
        errs.append(invalid(path, name, "must be a standard resource type or fully qualified"))
    return errs


def container_resource_name(name: str, path: str) -> Errors:
    """validateContainerResourceName: validateResourceName and then the container rules of a Pod's."""
    errs = resource_name(name, path)
    if "/" not in name:
        if name not in STANDARD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
            errs.append(invalid(path, name, "must be a standard resource for containers"))
    elif not native(name) and (name.startswith("requests.") or names.is_qualified_name("requests." + name)):
        errs.append(invalid(path, name, "doesn't follow extended resource name standard"))
    return errs


def resource_quantity_value(name: str, value: Any, path: str) -> Errors:
    """ValidateResourceQuantityValue: not negative, and whole for the integer resources."""
    amount = parse_quantity(value)
    if amount is None:
        return []
    errs: Errors = []
    if amount < 0:
        errs.append(invalid(path, str(canonical_quantity(value)), "must be greater than or equal to 0"))
    if (name in INTEGER_RESOURCES or extended(name)) and math.ceil(amount * 1000) % 1000:
        errs.append(invalid_go(path, go_quantity(value), "must be an integer"))
    return errs

"""What an object counts against a ResourceQuota (upstream's quota evaluators: object counts, a pod's compute
requests and limits, services' node ports and load balancers, claims' storage) and which objects a quota's scopes
select: shared by the ResourceQuota admission plugin and the resourcequota controller."""

from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import Optional

from .meta import parse_time
from .names import is_qualified_name
from .qos import pod_qos_class
from .quantity import canonical_quantity, parse_quantity

# The legacy names of object counts, besides count/<resource>[.<group>].
LEGACY_COUNTS = {"pods": ("", "pods"), "services": ("", "services"), "configmaps": ("", "configmaps"),
                 "secrets": ("", "secrets"), "persistentvolumeclaims": ("", "persistentvolumeclaims"),
                 "replicationcontrollers": ("", "replicationcontrollers"),
                 "resourcequotas": ("", "resourcequotas")}
COMPUTE = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "cpu", "memory",
           "requests.ephemeral-storage", "limits.ephemeral-storage", "ephemeral-storage")


# A claim's usage by its storage class: <class>.storageclass.storage.k8s.io/<resource>.
STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"


def terminal(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def quota_tracked(pod: dict, now: Optional[float] = None) -> bool:
    """Upstream's QuotaV1Pod: a pod counts in pods and compute usage unless it is terminal, or it was deleted
    and its deletion grace period has run out past its deletionTimestamp (stuck terminating on a lost node)."""
    if terminal(pod):
        return False
    metadata = pod.get("metadata") or {}
    deleted, grace = metadata.get("deletionTimestamp"), metadata.get("deletionGracePeriodSeconds")
    if deleted and grace is not None:
        try:
            gone = parse_time(deleted) + int(grace)
        except (TypeError, ValueError):
            return True
        return (time.time() if now is None else now) <= gone
    return True


NATIVE = ("cpu", "memory", "ephemeral-storage")


def _extended(name: str) -> bool:
    """An extended resource (example.com/dongle), as upstream's IsExtendedResourceName: a name with a "/" that
    does not contain "kubernetes.io/" (native), does not start with "requests.", and is a qualified name once
    "requests." is put before it."""
    if "/" not in name or "kubernetes.io/" in name or name.startswith("requests."):
        return False
    return not is_qualified_name("requests." + name)


def _aggregate(spec: dict, kind: str) -> dict[str, Fraction]:
    """A pod's requests or limits as upstream's PodRequests/PodLimits (component-helpers resource): the
    containers' sum plus its sidecars (restartPolicy Always init containers), or, when larger, what an init
    container needs with the sidecars started before it; then the pod overhead, added to every request and to
    the limits the pod has."""
    def of(container) -> dict[str, Fraction]:
        values = ((container.get("resources") or {}).get(kind) or {})
        return {k: parse_quantity(v) or Fraction(0) for k, v in values.items()}

    def add(into, values):
        for k, v in values.items():
            into[k] = into.get(k, Fraction(0)) + v
    total: dict[str, Fraction] = {}
    for container in spec.get("containers") or []:
        add(total, of(container))
    sidecars: dict[str, Fraction] = {}
    inits: dict[str, Fraction] = {}
    for container in spec.get("initContainers") or []:
        values = of(container)
        if container.get("restartPolicy") == "Always":
            add(total, values)
            add(sidecars, values)
            needed = dict(sidecars)
        else:
            needed = dict(values)
            add(needed, sidecars)
        for k, v in needed.items():
            inits[k] = max(inits.get(k, v), v)
    for k, v in inits.items():
        total[k] = max(total.get(k, v), v)
    for k, v in (spec.get("overhead") or {}).items():
        if kind == "requests" or k in total:
            total[k] = total.get(k, Fraction(0)) + (parse_quantity(v) or Fraction(0))
    return total


def pod_compute(pod: dict) -> dict[str, Fraction]:
    """requests.*, limits.* and the bare cpu/memory/ephemeral-storage (requests) of a pod, as upstream's pod
    evaluator: for hugepages-<size>, both hugepages-<size> and requests.hugepages-<size>; for extended resources
    (example.com/dongle), requests only."""
    spec = pod.get("spec") or {}
    requests, limits = _aggregate(spec, "requests"), _aggregate(spec, "limits")
    usage = {}
    for name in NATIVE:
        usage[name] = usage[f"requests.{name}"] = requests.get(name, Fraction(0))
        usage[f"limits.{name}"] = limits.get(name, Fraction(0))
    for name, value in requests.items():
        if name.startswith("hugepages-"):
            usage[name] = usage[f"requests.{name}"] = value
        elif _extended(name):
            usage[f"requests.{name}"] = value
    return usage


def claim_class(claim: dict) -> str:
    """The claim's storage class: the beta annotation first, as upstream's GetPersistentVolumeClaimClass."""
    annotations = (claim.get("metadata") or {}).get("annotations") or {}
    if "volume.beta.kubernetes.io/storage-class" in annotations:
        return annotations["volume.beta.kubernetes.io/storage-class"] or ""
    return (claim.get("spec") or {}).get("storageClassName") or ""


def claim_storage(claim: dict) -> Fraction:
    """The storage a claim is charged: its request, or what was allocated for it when more (a resize that has
    not finished), in whole bytes (persistent_volume_claims.go getStorageUsage)."""
    requested = parse_quantity((((claim.get("spec") or {}).get("resources") or {}).get("requests") or {})
                               .get("storage"))
    if requested is None:
        return Fraction(0)
    allocated = parse_quantity(((claim.get("status") or {}).get("allocatedResources") or {}).get("storage"))
    if allocated is not None and allocated > requested:
        requested = allocated
    return Fraction(math.ceil(requested))


def object_usage(info, obj: dict, now: Optional[float] = None) -> dict[str, Fraction]:
    """What one object counts against a quota; ``info`` has the object's ``group`` and ``resource``; ``now``
    (the time, by default the wall clock) decides whether a pod deleted long enough ago still counts."""
    usage = {f"count/{info.resource}" + (f".{info.group}" if info.group else ""): Fraction(1)}
    for legacy, key in LEGACY_COUNTS.items():
        if key == (info.group, info.resource):
            usage[legacy] = Fraction(1)
    if (info.group, info.resource) == ("", "pods"):
        if not quota_tracked(obj, now):
            return {k: v for k, v in usage.items() if k.startswith("count/")}
        usage.update(pod_compute(obj))
    elif (info.group, info.resource) == ("", "services"):
        spec = obj.get("spec") or {}
        kind, ports = spec.get("type"), spec.get("ports") or []
        if kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is False:
            # No node ports allocated: only those the service asks for by number count.
            usage["services.nodeports"] = Fraction(sum(1 for port in ports if (port or {}).get("nodePort")))
        elif kind in ("NodePort", "LoadBalancer"):
            usage["services.nodeports"] = Fraction(len(ports))
        if kind == "LoadBalancer":
            usage["services.loadbalancers"] = Fraction(1)
    elif (info.group, info.resource) == ("", "persistentvolumeclaims"):
        usage["requests.storage"] = claim_storage(obj)
        storage_class = claim_class(obj)
        if storage_class:
            usage[f"{storage_class}{STORAGE_CLASS_SUFFIX}requests.storage"] = usage["requests.storage"]
            usage[f"{storage_class}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = Fraction(1)
    return usage


def storage_class_key(key: str) -> bool:
    """<class>.storageclass.storage.k8s.io/requests.storage or .../persistentvolumeclaims."""
    return STORAGE_CLASS_SUFFIX in key


def quantity_text(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{int(value * 1000)}m" if (value * 1000).denominator == 1 else f"{int(value * 10 ** 9)}n"



def _binary(key: str) -> bool:
    name = key.rpartition("/")[2]
    return "memory" in name or "storage" in name or name.startswith(("hugepages-", "requests.hugepages-"))


def usage_text(key: str, value: Fraction) -> str:
    """A used amount as status.used shows it: memory and storage in binary units when they divide evenly (as
    upstream's sums of Mi and Gi quantities keep their BinarySI format), everything else in decimal."""
    if _binary(key) and value and value.denominator == 1 and value % 1024 == 0:
        return canonical_quantity(f"{value // 1024}Ki")
    return canonical_quantity(quantity_text(value))


def best_effort_pod(pod: dict) -> bool:
    """Upstream's GetPodQOS is BestEffort: the class the pod was given, else its cpu and memory alone decide."""
    return ((pod.get("status") or {}).get("qosClass") or pod_qos_class(pod)) == "BestEffort"


def pod_scope_matches(selector: dict, pod: dict) -> bool:
    """Whether a pod falls in one scope selector requirement (the pod evaluator's scopes)."""
    spec = pod.get("spec") or {}
    name, operator = selector.get("scopeName"), selector.get("operator") or "Exists"
    values = selector.get("values") or []
    if name == "PriorityClass":
        priority_class = spec.get("priorityClassName") or ""
        # Upstream matches a label set holding PriorityClass=<name> only when the pod names a class.
        if operator == "In":
            return bool(priority_class) and priority_class in values
        if operator == "NotIn":
            return not priority_class or priority_class not in values
        if operator == "Exists":
            return bool(priority_class)
        return operator == "DoesNotExist" and not priority_class
    deadline = spec.get("activeDeadlineSeconds")
    terminating = isinstance(deadline, int) and deadline >= 0
    best_effort = best_effort_pod(pod)
    affinity = (spec.get("affinity") or {})
    cross_namespace = False
    for kind in ("podAffinity", "podAntiAffinity"):
        rules = affinity.get(kind) or {}
        terms = list(rules.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        terms += [(t or {}).get("podAffinityTerm") or {}
                  for t in rules.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
        cross_namespace |= any(t.get("namespaceSelector") is not None or t.get("namespaces") for t in terms)
    facts = {"Terminating": terminating, "NotTerminating": not terminating, "BestEffort": best_effort,
             "NotBestEffort": not best_effort, "CrossNamespacePodAffinity": cross_namespace}
    return facts.get(name, False)


def matching_scopes(info, obj: dict, selectors) -> list[dict]:
    if (info.group, info.resource) != ("", "pods"):
        return []  # only pods have scopes to match
    return [s for s in selectors if pod_scope_matches(s, obj)]


def quota_selectors(quota: dict) -> list[dict]:
    spec = quota.get("spec") or {}
    selectors = [{"scopeName": scope, "operator": "Exists"} for scope in spec.get("scopes") or []]
    return selectors + list((spec.get("scopeSelector") or {}).get("matchExpressions") or [])


def quota_applies(quota: dict, info, obj: dict) -> bool:
    """Whether ``quota`` tracks ``obj``: every quota without scopes does; one with scopes only the pods that
    match all of them (the only kind with scopes here)."""
    selectors = quota_selectors(quota)
    if not selectors:
        return True
    if (info.group, info.resource) != ("", "pods"):
        return False
    return all(pod_scope_matches(s, obj) for s in selectors)

"""What an object counts against a ResourceQuota (upstream's quota evaluators: object counts, a pod's compute
requests and limits, services' node ports and load balancers, claims' storage) and which objects a quota's scopes
select: shared by the ResourceQuota admission plugin and the resourcequota controller."""

from __future__ import annotations

from fractions import Fraction

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


NATIVE = ("cpu", "memory", "ephemeral-storage")


def pod_compute(pod: dict) -> dict[str, Fraction]:
    """requests.* and limits.* of a pod: its containers' sum, or its largest init container if larger; for
    extended resources (example.com/dongle) and hugepages, requests only, as upstream's pod evaluator."""
    def total(containers, kind, name):
        return sum((parse_quantity(((c.get("resources") or {}).get(kind) or {}).get(name)) or Fraction(0)
                    for c in containers), Fraction(0))
    spec = pod.get("spec") or {}
    containers, inits = spec.get("containers") or [], spec.get("initContainers") or []
    requested = {name for c in containers + inits for name in ((c.get("resources") or {}).get("requests") or {})}
    usage = {}
    for kind, names in (("requests", set(NATIVE) | requested), ("limits", NATIVE)):
        for name in names:
            main = total(containers, kind, name)
            init = max((total([c], kind, name) for c in inits), default=Fraction(0))
            usage[f"{kind}.{name}"] = max(main, init)
    for name in NATIVE:
        usage[name] = usage[f"requests.{name}"]
    return usage


def object_usage(info, obj: dict) -> dict[str, Fraction]:
    """What one object counts against a quota; ``info`` has the object's ``group`` and ``resource``."""
    usage = {f"count/{info.resource}" + (f".{info.group}" if info.group else ""): Fraction(1)}
    for legacy, key in LEGACY_COUNTS.items():
        if key == (info.group, info.resource):
            usage[legacy] = Fraction(1)
    if (info.group, info.resource) == ("", "pods"):
        if terminal(obj):
            return {k: v for k, v in usage.items() if k.startswith("count/")}
        usage.update(pod_compute(obj))
    elif (info.group, info.resource) == ("", "services"):
        kind = (obj.get("spec") or {}).get("type")
        if kind in ("NodePort", "LoadBalancer"):
            usage["services.nodeports"] = Fraction(len((obj.get("spec") or {}).get("ports") or []))
        if kind == "LoadBalancer":
            usage["services.loadbalancers"] = Fraction(1)
    elif (info.group, info.resource) == ("", "persistentvolumeclaims"):
        storage = (((obj.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
        usage["requests.storage"] = parse_quantity(storage) or Fraction(0)
        storage_class = (obj.get("spec") or {}).get("storageClassName")
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

"""
ResourceQuota admission: a create in a namespace is refused with 403 when it
would take any quota's usage past its hard limit, in upstream's words; the
quotas' status (hard and used) is recomputed after each change.  Its
configuration's limitedResources make some consumption need a covering quota.
"""

from __future__ import annotations

import copy
from fractions import Fraction
from typing import Optional

from ..machinery.errors import StatusError
from ..registry.attributes import CREATE, DELETE, UPDATE, Attributes
from ..machinery.quantity import canonical_quantity, parse_quantity
from ..registry.options import ListOptions

# The legacy names of object counts, besides count/<resource>[.<group>].
_LEGACY_COUNTS = {"pods": ("", "pods"), "services": ("", "services"), "configmaps": ("", "configmaps"),
                  "secrets": ("", "secrets"), "persistentvolumeclaims": ("", "persistentvolumeclaims"),
                  "replicationcontrollers": ("", "replicationcontrollers"),
                  "resourcequotas": ("", "resourcequotas")}
_COMPUTE = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "cpu", "memory",
            "requests.ephemeral-storage", "limits.ephemeral-storage", "ephemeral-storage")


def _terminal(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


_NATIVE = ("cpu", "memory", "ephemeral-storage")


def _pod_compute(pod: dict) -> dict[str, Fraction]:
    """requests.* and limits.* of a pod: its containers' sum, or its largest init container if larger; for
    extended resources (example.com/dongle) and hugepages, requests only, as upstream's pod evaluator."""
    def total(containers, kind, name):
        return sum((parse_quantity(((c.get("resources") or {}).get(kind) or {}).get(name)) or Fraction(0)
                    for c in containers), Fraction(0))
    spec = pod.get("spec") or {}
    containers, inits = spec.get("containers") or [], spec.get("initContainers") or []
    requested = {name for c in containers + inits for name in ((c.get("resources") or {}).get("requests") or {})}
    usage = {}
    for kind, names in (("requests", set(_NATIVE) | requested), ("limits", _NATIVE)):
        for name in names:
            main = total(containers, kind, name)
            init = max((total([c], kind, name) for c in inits), default=Fraction(0))
            usage[f"{kind}.{name}"] = max(main, init)
    for name in _NATIVE:
        usage[name] = usage[f"requests.{name}"]
    return usage


def object_usage(info, obj: dict) -> dict[str, Fraction]:
    """What one object counts against a quota."""
    usage = {f"count/{info.resource}" + (f".{info.group}" if info.group else ""): Fraction(1)}
    for legacy, key in _LEGACY_COUNTS.items():
        if key == (info.group, info.resource):
            usage[legacy] = Fraction(1)
    if (info.group, info.resource) == ("", "pods"):
        if _terminal(obj):
            return {k: v for k, v in usage.items() if k.startswith("count/")}
        usage.update(_pod_compute(obj))
    elif (info.group, info.resource) == ("", "services"):
        kind = (obj.get("spec") or {}).get("type")
        if kind in ("NodePort", "LoadBalancer"):
            usage["services.nodeports"] = Fraction(len((obj.get("spec") or {}).get("ports") or []))
        if kind == "LoadBalancer":
            usage["services.loadbalancers"] = Fraction(1)
    elif (info.group, info.resource) == ("", "persistentvolumeclaims"):
        storage = (((obj.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
        usage["requests.storage"] = parse_quantity(storage) or Fraction(0)
    return usage


def _format(values: dict[str, Fraction], keys) -> str:
    return ",".join(f"{k}={canonical_quantity(_text(values.get(k, Fraction(0))))}" for k in keys)


def _text(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{int(value * 1000)}m" if (value * 1000).denominator == 1 else f"{int(value * 10 ** 9)}n"


# (apiVersion, kind) of the plugin's configuration, in every version upstream decodes.
CONFIGURATION_KINDS = {("apiserver.config.k8s.io/v1", "ResourceQuotaConfiguration"),
                       ("resourcequota.admission.k8s.io/v1beta1", "Configuration"),
                       ("resourcequota.admission.k8s.io/v1alpha1", "Configuration")}


def parse_configuration(configuration) -> list[dict]:
    """The limitedResources of a ResourceQuota configuration (none without one); AdmissionConfigError if bad."""
    from .config import AdmissionConfigError, type_meta_error
    if configuration is None:
        return []
    problem = type_meta_error(configuration, CONFIGURATION_KINDS,
                              "k8s.io/kubernetes/plugin/pkg/admission/resourcequota/config.go:37")
    if problem:
        raise AdmissionConfigError(problem)
    limited = configuration.get("limitedResources") or []
    if not isinstance(limited, list):
        raise AdmissionConfigError("limitedResources: Invalid value: must be a list")
    result = []
    for i, item in enumerate(limited):
        item = item if isinstance(item, dict) else {}
        if not item.get("resource"):
            raise AdmissionConfigError(f"limitedResources[{i}].resource: Required value")
        result.append({"apiGroup": str(item.get("apiGroup") or ""), "resource": str(item["resource"]),
                       "matchContains": [str(m) for m in item.get("matchContains") or []],
                       "matchScopes": [dict(s) for s in item.get("matchScopes") or [] if isinstance(s, dict)]})
    return result


def _pod_scope_matches(selector: dict, pod: dict) -> bool:
    """Whether a pod falls in one scope selector requirement (the pod evaluator's scopes)."""
    spec = pod.get("spec") or {}
    name, operator = selector.get("scopeName"), selector.get("operator") or "Exists"
    values = selector.get("values") or []
    if name == "PriorityClass":
        priority_class = spec.get("priorityClassName") or ""
        if operator == "In":
            return priority_class in values
        if operator == "NotIn":
            return priority_class not in values
        # Upstream matches a label set that always holds the key, so DoesNotExist never matches.
        return operator == "Exists" and bool(priority_class)
    terminating = spec.get("activeDeadlineSeconds") is not None
    best_effort = not any(((c.get("resources") or {}).get("requests") or (c.get("resources") or {}).get("limits"))
                          for c in (spec.get("containers") or []) + (spec.get("initContainers") or []))
    affinity = (spec.get("affinity") or {})
    cross_namespace = any(term.get("namespaceSelector") is not None or term.get("namespaces")
                          for kind in ("podAffinity", "podAntiAffinity")
                          for rule in ("requiredDuringSchedulingIgnoredDuringExecution",)
                          for term in ((affinity.get(kind) or {}).get(rule) or []))
    facts = {"Terminating": terminating, "NotTerminating": not terminating, "BestEffort": best_effort,
             "NotBestEffort": not best_effort, "CrossNamespacePodAffinity": cross_namespace}
    return facts.get(name, False)


def _matching_scopes(info, obj: dict, selectors) -> list[dict]:
    if (info.group, info.resource) != ("", "pods"):
        return []  # only pods have scopes to match
    return [s for s in selectors if _pod_scope_matches(s, obj)]


def _quota_selectors(quota: dict) -> list[dict]:
    spec = quota.get("spec") or {}
    selectors = [{"scopeName": scope, "operator": "Exists"} for scope in spec.get("scopes") or []]
    return selectors + list((spec.get("scopeSelector") or {}).get("matchExpressions") or [])


def _quota_applies(quota: dict, info, obj: dict) -> bool:
    """Whether ``quota`` tracks ``obj``: every quota without scopes does; one with scopes only the pods that
    match all of them (the only kind with scopes here)."""
    selectors = _quota_selectors(quota)
    if not selectors:
        return True
    if (info.group, info.resource) != ("", "pods"):
        return False
    return all(_pod_scope_matches(s, obj) for s in selectors)


def _go_scopes(scopes: list[dict]) -> str:
    # Go's %v of a []ScopedResourceSelectorRequirement.
    return "[" + " ".join(f"{{{s.get('scopeName', '')} {s.get('operator', '')} [{' '.join(s.get('values') or [])}]}}"
                          for s in scopes) + "]"


class ResourceQuotaAdmission:
    def __init__(self, registry, reactor=None, limited_resources=()):
        from .cache import AdmissionReadCache
        self.registry = registry
        self.reactor = reactor
        self.limited_resources = list(limited_resources)
        self._cache = AdmissionReadCache(self._load)

    def _quota_store(self):
        return self.registry.store("", "v1", "resourcequotas")

    async def _load(self, namespace: str) -> list[dict]:
        return (await self._quota_store().list(namespace, ListOptions()))[0]

    async def _quotas(self, namespace: str) -> list[dict]:
        return await self._cache.get(namespace)

    async def usage(self, namespace: str, keys, quota: Optional[dict] = None) -> dict[str, Fraction]:
        """The namespace's current usage of ``keys``, counted from the stored objects (those ``quota``'s
        scopes select, when given)."""
        used = {k: Fraction(0) for k in keys}
        wanted = set(keys)
        # One store per stored resource: several served versions share one key root.
        for store in {s.key_root: s for s in self.registry.stores.values()}.values():
            info = store.info
            if not info.namespaced:
                continue
            sample = {f"count/{info.resource}" + (f".{info.group}" if info.group else "")}
            sample |= {legacy for legacy, key in _LEGACY_COUNTS.items() if key == (info.group, info.resource)}
            if (info.group, info.resource) in (("", "pods"), ("", "services"), ("", "persistentvolumeclaims")):
                sample |= set(_COMPUTE) | {"services.nodeports", "services.loadbalancers", "requests.storage"}
            if (info.group, info.resource) == ("", "pods"):
                sample |= {k for k in wanted if k.startswith("requests.")}     # extended resources
            if not sample & wanted:
                continue
            for item in (await store.list(namespace, ListOptions()))[0]:
                if quota is not None and not _quota_applies(quota, info, item):
                    continue
                for key, value in object_usage(info, item).items():
                    if key in used:
                        used[key] += value
        return used

    async def validate(self, attributes: Attributes) -> None:
        namespace, operation = attributes.namespace, attributes.operation
        if not namespace:
            return
        info = attributes.resource     # its group and resource are what the usage rules read
        if (info.group, info.resource) == ("", "resourcequotas"):
            self._cache.invalidate()
            if operation in (CREATE, UPDATE):
                # A new quota, a changed spec.hard or a status written by hand: its status is put right
                # (hard from spec, used counted), as upstream's resource quota controller does on such updates.
                self._recompute_soon(namespace)
            return
        if attributes.subresource:
            return
        if operation not in (CREATE, DELETE):
            return
        obj = attributes.object
        quotas = await self._quotas(namespace)
        # With limitedResources configured, a namespace without quotas is still checked, as upstream.
        if not quotas and not self.limited_resources:
            return
        if operation == CREATE:
            requested = object_usage(info, obj)
            quotas = sorted(quotas, key=lambda q: q["metadata"]["name"])
            # A quota with scopes limits only what its scopes select (pods that are BestEffort, Terminating...).
            applying = [q for q in quotas if _quota_applies(q, info, obj)]
            for quota in applying:
                self._check_constraints(quota, info, obj, requested)
            self._check_covered(quotas, info, obj, requested)
            for quota in applying:
                await self._check(quota, namespace, info, obj, requested)
        if quotas:
            self._recompute_soon(namespace)

    def _check_covered(self, quotas, info, obj, requested) -> None:
        """limitedResources: consumption they name needs a quota limiting it, and their scopes a quota scope."""
        if not self.limited_resources or not any(requested.values()):
            return
        limited = set()
        for item in self.limited_resources:
            if (item["apiGroup"], item["resource"]) != (info.group, info.resource):
                continue
            limited |= {k for k, v in requested.items() if v > 0 and any(m in k for m in item["matchContains"])}
        covered = set()
        quota_scopes = []
        for quota in quotas:
            covered |= set(((quota.get("spec") or {}).get("hard") or {}))
            quota_scopes += _matching_scopes(info, obj, _quota_selectors(quota))
        missing = sorted(limited - covered)
        if missing:
            raise self._forbidden(info, obj, f"insufficient quota to consume: {','.join(missing)}")
        limited_scopes = [s for item in self.limited_resources
                          for s in _matching_scopes(info, obj, item["matchScopes"])]
        named = {s.get("scopeName") for s in quota_scopes}
        uncovered = [s for s in limited_scopes if s.get("scopeName") not in named]
        if uncovered:
            # Upstream returns a plain error here, which the API writes as a 500 without a reason.
            raise StatusError(500, "", f"insufficient quota to match these scopes: {_go_scopes(uncovered)}")

    def _check_constraints(self, quota, info, obj, requested) -> None:
        if (info.group, info.resource) != ("", "pods"):
            return
        hard = ((quota.get("spec") or {}).get("hard") or {})
        missing = sorted(k for k in hard if k in requested and k in _COMPUTE and requested[k] == 0)
        if missing:
            containers = [c.get("name", "") for c in (obj.get("spec") or {}).get("containers") or []]
            text = "; ".join(f"{k} for: {','.join(containers)}" for k in missing)
            raise self._forbidden(info, obj, f"failed quota: {quota['metadata']['name']}: must specify {text}")

    async def _check(self, quota, namespace, info, obj, requested) -> None:
        hard = {k: parse_quantity(v) for k, v in ((quota.get("spec") or {}).get("hard") or {}).items()}
        relevant = sorted(k for k in hard if k in requested)
        if not relevant:
            return
        name = quota["metadata"]["name"]
        used = await self.usage(namespace, relevant, quota)
        exceeded = [k for k in relevant if hard[k] is not None and used[k] + requested[k] > hard[k]]
        if exceeded:
            raise self._forbidden(info, obj, f"exceeded quota: {name}, requested: {_format(requested, exceeded)}, "
                                             f"used: {_format(used, exceeded)}, limited: "
                                             f"{_format(hard, exceeded)}")

    @staticmethod
    def _forbidden(info, obj, message) -> StatusError:
        name = (obj.get("metadata") or {}).get("name", "")
        qualified = f"{info.resource}.{info.group}" if info.group else info.resource
        details = {"name": name, **({"group": info.group} if info.group else {}), "kind": info.resource}
        return StatusError(403, "Forbidden", f'{qualified} "{name}" is forbidden: {message}', details)

    def _recompute_soon(self, namespace: str) -> None:
        # Admission runs before the write: count once the write has landed.
        from twisted.internet.defer import Deferred
        reactor = self.reactor
        if reactor is None:
            from twisted.internet import reactor

        def run():
            d = Deferred.fromCoroutine(self.recompute(namespace))
            d.addErrback(lambda failure: None)  # the next change recomputes again
        reactor.callLater(0.05, run)

    async def recompute(self, namespace: str) -> None:
        """Write every quota's status in ``namespace``: hard from spec, used counted now."""
        store = self._quota_store()
        for quota in await self._load(namespace):
            hard = copy.deepcopy((quota.get("spec") or {}).get("hard") or {})
            used = await self.usage(namespace, list(hard), quota)
            status = {"hard": hard, "used": {k: canonical_quantity(_text(v)) for k, v in used.items()}}
            if quota.get("status") == status:
                continue

            def update(old, status=status):
                new = copy.deepcopy(old)
                new["status"] = status
                return new
            await store.update(namespace, quota["metadata"]["name"], update, subresource="status")

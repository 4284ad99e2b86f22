"""
The local APIServices: one `apiregistration.k8s.io/v1` APIService per group-version this apiserver serves
itself (`v1.`, `v1.apps`, ..., and each custom resource group-version), kept as kube-aggregator's autoregister
and CRD registration controllers keep them, with the Available condition its availability controller gives
local ones.  A group-version no longer served loses its APIService; APIServices that name a service (remote,
extension apiservers) are the user's and are left alone.
"""

from __future__ import annotations

import copy
from typing import Optional

from twisted.internet.defer import Deferred, ensureDeferred, gatherResults

from ..machinery import meta
from ..machinery.errors import StatusError
from ..registry.options import ListOptions
from ..services import Periodic

GROUP, VERSION, RESOURCE = "apiregistration.k8s.io", "v1", "apiservices"
AUTOMANAGED = "kube-aggregator.kubernetes.io/automanaged"
# (groupPriorityMinimum, versionPriority) of the built-in group-versions, as kube-apiserver 1.32 registers them;
# custom resource group-versions get 1000 and 100 (below every built-in group, versions ordered kube-like).
PRIORITIES = {
    ("", "v1"): (18000, 1),
    ("apps", "v1"): (17800, 15),
    ("events.k8s.io", "v1"): (17750, 15),
    ("authentication.k8s.io", "v1"): (17700, 15),
    ("authorization.k8s.io", "v1"): (17600, 15),
    ("autoscaling", "v2"): (17500, 30),
    ("autoscaling", "v1"): (17500, 15),
    ("batch", "v1"): (17400, 15),
    ("certificates.k8s.io", "v1"): (17300, 15),
    ("networking.k8s.io", "v1"): (17200, 15),
    ("policy", "v1"): (17100, 15),
    ("rbac.authorization.k8s.io", "v1"): (17000, 15),
    ("storage.k8s.io", "v1"): (16800, 15),
    ("apiextensions.k8s.io", "v1"): (16700, 15),
    ("admissionregistration.k8s.io", "v1"): (16700, 15),
    ("scheduling.k8s.io", "v1"): (16600, 15),
    ("coordination.k8s.io", "v1"): (16500, 15),
    ("node.k8s.io", "v1"): (16300, 15),
    ("discovery.k8s.io", "v1"): (16200, 15),
    ("flowcontrol.apiserver.k8s.io", "v1"): (16100, 21),
    ("apiregistration.k8s.io", "v1"): (18000, 1),
}
CUSTOM_RESOURCE_PRIORITY = (1000, 100)


def desired(group: str, version: str, builtin: bool) -> dict:
    """The APIService this apiserver registers for one group-version it serves."""
    group_priority, version_priority = PRIORITIES.get((group, version), CUSTOM_RESOURCE_PRIORITY)
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "APIService",
            "metadata": {"name": f"{version}.{group}", "labels": {AUTOMANAGED: "onstart" if builtin else "true"}},
            "spec": {"group": group, "version": version, "groupPriorityMinimum": group_priority,
                     "versionPriority": version_priority}}


class APIServiceRegistration:
    """Keeps the local APIServices in step with what the registry serves: ``sync()`` at start and whenever the
    served group-versions change (``registry.generation``, bumped by CRD registration)."""

    def __init__(self, registry, clock, interval: float = 1.0):
        self.registry = registry
        self.clock = clock
        self._generation = None
        # The first run (a sync) is the start, and its failure fails it; later ones sync on a new generation.
        self._periodic = Periodic(interval, self._check, clock)

    def start(self) -> Deferred:
        return self._periodic.startService()

    def stop(self) -> Optional[Deferred]:
        return self._periodic.stopService() if self._periodic.running else None

    async def _check(self) -> None:
        if self.registry.generation != self._generation:
            await self.sync()

    def served(self) -> dict[str, dict]:
        """The APIServices the served group-versions want, by name."""
        out = {}
        for group, versions in self.registry.catalog.groups:
            for version in versions:
                stores = [self.registry.lookup(group, version, info.resource)
                          for info in self.registry.catalog.resources(group, version)]
                # Custom resources' stores keep kind and apiVersion in list items; built-in ones do not.
                builtin = any(store.builtin for store in stores if store is not None)
                service = desired(group, version, builtin)
                out[service["metadata"]["name"]] = service
        return out

    async def sync(self) -> None:
        store = self.registry.lookup(GROUP, VERSION, RESOURCE)
        if store is None:
            return   # apiregistration.k8s.io/v1 turned off by --runtime-config
        self._generation = self.registry.generation
        wanted = self.served()
        existing = {item["metadata"]["name"]: item for item in (await store.list(None, ListOptions()))[0]}
        # One group-version's APIService at a time would be one commit each: all at once, the store batches them.
        await gatherResults([ensureDeferred(self._register(store, name, service, existing.get(name)))
                             for name, service in wanted.items()], consumeErrors=True)
        for name, current in existing.items():
            if name in wanted or (current.get("spec") or {}).get("service") is not None:
                continue
            if ((current.get("metadata") or {}).get("labels") or {}).get(AUTOMANAGED):
                try:
                    await store.delete(None, name)
                except StatusError as e:
                    if e.code != 404:
                        raise

    async def _register(self, store, name: str, service: dict, current: dict | None) -> None:
        try:
            if current is None:
                current = await store.create(None, copy.deepcopy(service))
            elif current.get("spec", {}).get("service") is None and \
                    {k: current.get("spec", {}).get(k) for k in service["spec"]} != service["spec"]:
                current, _ = await store.update(None, name, lambda old: _with_spec(old, service))
            if current.get("spec", {}).get("service") is None:
                await self._mark_available(store, current)
        except StatusError as e:
            if e.code not in (404, 409):
                raise

    async def _mark_available(self, store, service: dict) -> None:
        conditions = (service.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Available" and c.get("status") == "True" and c.get("reason") == "Local"
               for c in conditions):
            return
        now = meta.rfc3339(self.clock.seconds())

        def available(old):
            new = copy.deepcopy(old)
            new["status"] = {"conditions": [{"type": "Available", "status": "True", "lastTransitionTime": now,
                                             "reason": "Local", "message": "Local APIServices are always available"}]}
            return new
        await store.update(None, service["metadata"]["name"], available, subresource="status")


def _with_spec(old: dict, service: dict) -> dict:
    new = copy.deepcopy(old)
    new["spec"] = dict(new.get("spec") or {}, **service["spec"])
    return new

"""resourcequota-controller: every ResourceQuota's status.hard mirrors spec.hard and status.used is what its
namespace holds now (pods, count/<resource>[.<group>], requests.*/limits.*, services.*, persistentvolumeclaims,
requests.storage; the Terminating/NotTerminating/BestEffort/NotBestEffort/PriorityClass scopes), recalculated
when a quota changes, when usage is released (an object deleted, a pod finished or resized, a claim resized),
and every --resource-quota-sync-period.

The ResourceQuota admission plugin charges usage to status.used when objects are created (written with the
quota's resourceVersion, as upstream's) and recounts after deletes; both count with
kapiserver.machinery.quotausage, so their writes agree, and this controller gives back what is released without
a delete through an apiserver that recounts (a pod that finishes, a create that failed after admission)."""

from __future__ import annotations

import copy
from collections import namedtuple
from fractions import Fraction
from typing import Dict, Optional, Set

from ..client.cache import split_key
from ..client.informer import SharedInformer
from ..client.resources import (CONFIG_MAPS, PERSISTENT_VOLUME_CLAIMS, PODS, REPLICATION_CONTROLLERS,
                                RESOURCE_QUOTAS, SECRETS, SERVICES, Resource)
from ..client.rest import APIError
from ..machinery.quotausage import (COMPUTE, LEGACY_COUNTS, object_usage, quota_applies, storage_class_key,
                                    terminal, usage_text)
from .context import ControllerContext, QueueController
from .controllerutils import same_status
from .discovery import discover

ResourceInfo = namedtuple("ResourceInfo", "group resource")
# The resources counted from the start (upstream's evaluators with replenishment of their own).
EVALUATED = {r: ResourceInfo(r.group, r.plural) for r in (PODS, SERVICES, PERSISTENT_VOLUME_CLAIMS, CONFIG_MAPS,
                                                             SECRETS, REPLICATION_CONTROLLERS, RESOURCE_QUOTAS)}
SERVICE_KEYS = ("services.nodeports", "services.loadbalancers")


def resources_for(key: str):
    """(group, resource) a hard key counts, None when it names none of the known evaluators."""
    if storage_class_key(key):
        return "", "persistentvolumeclaims"
    if key in LEGACY_COUNTS:
        return LEGACY_COUNTS[key]
    if key.startswith("count/"):
        resource, _, group = key[len("count/"):].partition(".")
        return group, resource
    if key in COMPUTE or key.startswith(("requests.", "limits.", "hugepages-")) and key != "requests.storage":
        return "", "pods"
    if key in SERVICE_KEYS:
        return "", "services"
    if key == "requests.storage":
        return "", "persistentvolumeclaims"
    return None


def calculate_status(quota: dict, objects_of, now: Optional[float] = None) -> dict:
    """The status ``quota`` should have: hard from spec, used counted over ``objects_of((group, resource))``
    (the namespace's objects of that resource, or None when not known); ``now`` the controller's clock (a pod
    past its deletion's grace period counts in count/pods only)."""
    hard = copy.deepcopy((quota.get("spec") or {}).get("hard") or {})
    used: Dict[str, Fraction] = {key: Fraction(0) for key in hard}
    by_resource: Dict[tuple, Set[str]] = {}
    for key in hard:
        target = resources_for(key)
        if target is not None:
            by_resource.setdefault(target, set()).add(key)
    for (group, resource), keys in by_resource.items():
        info = ResourceInfo(group, resource)
        for obj in objects_of((group, resource)) or []:
            if not quota_applies(quota, info, obj):
                continue
            for key, value in object_usage(info, obj, now).items():
                if key in keys:
                    used[key] += value
    return {"hard": hard, "used": {k: usage_text(k, v) for k, v in used.items()}}


class ResourceQuotaController(QueueController):
    name = "resourcequota-controller"
    workers_option = "concurrent-resource-quota-syncs"
    default_workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.quotas = self.informer(RESOURCE_QUOTAS)
        self.quotas.add_event_handler(on_add=self.enqueue, on_update=self._quota_updated,
                                      resync_period=float(ctx.option("resource-quota-sync-period", 300.0)))
        self.evaluated: Dict[tuple, SharedInformer] = {}
        for resource, info in EVALUATED.items():
            informer = self.informer(resource)
            self.evaluated[tuple(info)] = informer
            informer.add_event_handler(on_update=self._replenish_on_update(info), on_delete=self._replenish)
        # count/<resource>.<group> of any other resource: an informer made once a quota names it.
        self.generic: Dict[tuple, SharedInformer] = {}
        self._unresolved: Set[tuple] = set()

    # -- what enqueues ---------------------------------------------------------------------------------
    def _quota_updated(self, old: dict, new: dict) -> None:
        spec_hard = (new.get("spec") or {}).get("hard") or {}
        status = new.get("status") or {}
        if old is new or (old.get("spec") or {}) != (new.get("spec") or {}) or status.get("hard") != spec_hard or \
                set(status.get("used") or {}) != set(spec_hard):
            self.enqueue(new)

    def _replenish(self, obj: dict) -> None:
        """Usage released in the object's namespace: every quota there is counted again."""
        namespace = (obj.get("metadata") or {}).get("namespace")
        if not namespace:
            return
        for quota in self.quotas.indexer.by_index("namespace", namespace):
            self.enqueue(quota)

    def _replenish_on_update(self, info: ResourceInfo):
        def changed(old: dict, new: dict) -> None:
            if info.resource == "pods":
                released = (not terminal(old) and terminal(new)) or \
                    (old.get("spec") or {}).get("containers") != (new.get("spec") or {}).get("containers")
            elif info.resource == "services":
                released = (old.get("spec") or {}).get("type") != (new.get("spec") or {}).get("type") or \
                    len((old.get("spec") or {}).get("ports") or []) != len((new.get("spec") or {}).get("ports") or [])
            elif info.resource == "persistentvolumeclaims":
                # A resize asked for, or the storage allocated for it changed (upstream's RequiresQuotaReplenish).
                released = (old.get("spec") or {}).get("resources") != (new.get("spec") or {}).get("resources") or \
                    ((old.get("status") or {}).get("allocatedResources") or {}).get("storage") != \
                    ((new.get("status") or {}).get("allocatedResources") or {}).get("storage")
            else:
                released = False
            if released:
                self._replenish(new)
        return changed

    # -- counting --------------------------------------------------------------------------------------
    async def _generic_informer(self, target: tuple) -> Optional[SharedInformer]:
        informer = self.generic.get(target)
        if informer is not None or target in self._unresolved:
            return informer
        group, plural = target
        found = await discover(self.client)
        match = next((a.resource for a in found.resources if a.resource.group == group and
                      a.resource.plural == plural and a.resource.namespaced and a.supports("list", "watch")), None)
        if match is None:
            return None
        informer = self.ctx.informers.informer(Resource(match.group, match.version, match.plural, match.kind))
        informer.add_event_handler(on_delete=self._replenish)
        informer.start()
        self.generic[target] = informer
        return informer

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        quota = self.quotas.indexer.get_by_key(namespace, name)
        if quota is None:
            return
        informers: Dict[tuple, SharedInformer] = {}
        for hard_key in (quota.get("spec") or {}).get("hard") or {}:
            target = resources_for(hard_key)
            if target is None or target in informers:
                continue
            informer = self.evaluated.get(target) or await self._generic_informer(target)
            if informer is None:
                continue
            if not informer.has_synced():
                await informer.wait_for_sync()
            informers[target] = informer

        def objects_of(target):
            informer = informers.get(target)
            return informer.indexer.by_index("namespace", namespace) if informer is not None else None
        status = calculate_status(quota, objects_of, self.clock.seconds())
        if same_status(quota.get("status"), status):
            return
        try:
            await self.client.update(RESOURCE_QUOTAS, {**quota, "status": status}, subresource="status")
        except APIError as e:
            if e.code == 404:
                return
            raise


def start_resourcequota_controller(ctx: ControllerContext) -> ResourceQuotaController:
    return ResourceQuotaController(ctx)

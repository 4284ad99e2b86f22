"""namespace-controller: a namespace marked for deletion has everything in it deleted (every namespaced
resource discovery finds, CRDs and aggregated APIs included), its deletion conditions kept in its status as
upstream's namespaced-resources deleter keeps them, and once nothing is left its ``kubernetes`` finalizer is
taken off through /finalize, so the namespace itself goes."""

from __future__ import annotations

import time
from typing import Dict, List

from ..client.cache import split_key
from ..client.resources import NAMESPACES, PODS
from ..client.rest import APIError, get_or_none
from ..client.workqueue import BucketRateLimiter, ItemExponentialFailureRateLimiter, MaxOfRateLimiter
from ..machinery import meta
from .context import ControllerContext, QueueController
from .discovery import APIResource, Discovery, discover, metadata_client

FINALIZER = "kubernetes"
# Upstream waits this long after seeing a deletion, so every apiserver has observed it and any last
# creations in the namespace are visible before the content is listed.
DELETION_GRACE_PERIOD = 5.0
# The first look again at content still going; doubled at each look, up to upstream's estimate.
RECHECK = 0.25
# Upstream's wait for content held by finalizers.
FINALIZER_ESTIMATE = 15.0

DISCOVERY_FAILURE = "NamespaceDeletionDiscoveryFailure"
GV_PARSING_FAILURE = "NamespaceDeletionGroupVersionParsingFailure"
CONTENT_FAILURE = "NamespaceDeletionContentFailure"
CONTENT_REMAINING = "NamespaceContentRemaining"
FINALIZERS_REMAINING = "NamespaceFinalizersRemaining"
CONDITION_TYPES = (DISCOVERY_FAILURE, GV_PARSING_FAILURE, CONTENT_FAILURE, CONTENT_REMAINING, FINALIZERS_REMAINING)
OK_REASONS = {DISCOVERY_FAILURE: "ResourcesDiscovered", GV_PARSING_FAILURE: "ParsedGroupVersions",
              CONTENT_FAILURE: "ContentDeleted", CONTENT_REMAINING: "ContentRemoved",
              FINALIZERS_REMAINING: "ContentRemoved"}
OK_MESSAGES = {DISCOVERY_FAILURE: "All resources successfully discovered",
               GV_PARSING_FAILURE: "All legacy kube types successfully parsed",
               CONTENT_FAILURE: "All content successfully deleted, may be waiting on finalization",
               CONTENT_REMAINING: "All content successfully removed",
               FINALIZERS_REMAINING: "All content successfully removed"}


NOT_SERVED = object()


async def _unless_not_served(call):
    """What the API call ``call`` answers, NOT_SERVED where the resource or the verb is not served (404, 405:
    upstream's IsNotFound and IsMethodNotSupported, which the deleter steps over)."""
    try:
        return await call
    except APIError as e:
        if e.code in (404, 405):
            return NOT_SERVED
        raise


class ContentRemaining(Exception):
    """Content is still being deleted: look again after ``estimate`` seconds."""

    def __init__(self, estimate: float):
        super().__init__(f"some content remains in the namespace, waiting {estimate}s")
        self.estimate = estimate


def rfc3339(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


class ConditionUpdater:
    """The five deletion conditions of one pass (upstream's namespaceConditionUpdater): a failure found sets
    its condition True with its reason and message; every other is False with its "ok" wording."""

    def __init__(self, now: float):
        self.now = now
        self.conditions: Dict[str, dict] = {}
        self.content_errors: List[str] = []

    def _set(self, kind: str, reason: str, message: str) -> None:
        self.conditions[kind] = {"type": kind, "status": "True", "reason": reason, "message": message}

    def discovery_failed(self, discovery: Discovery) -> None:
        self._set(DISCOVERY_FAILURE, "DiscoveryFailed", f"Discovery failed for some groups, {len(discovery.failed)} "
                  f"failing: {discovery.failure_message()}")

    def content_totals(self, remaining: Dict[str, int], finalizers: Dict[str, int]) -> None:
        resources = sorted(f"{name} has {count} resource instances" for name, count in remaining.items() if count)
        if remaining:
            self._set(CONTENT_REMAINING, "SomeResourcesRemain", f"Some resources are remaining: {', '.join(resources)}")
        held = sorted(f"{name} in {count} resource instances" for name, count in finalizers.items() if count)
        if finalizers:
            self._set(FINALIZERS_REMAINING, "SomeFinalizerRemain", f"Some finalizers are remaining: {', '.join(held)}")

    def apply(self, status: dict) -> bool:
        """Write the conditions into ``status``; True if anything changed."""
        if self.content_errors and CONTENT_FAILURE not in self.conditions:
            errors = sorted(self.content_errors)
            self._set(CONTENT_FAILURE, "ContentDeletionFailed",
                      f"Failed to delete all resource types, {len(errors)} remaining: {', '.join(errors)}")
        existing = status.setdefault("conditions", [])
        changed = False
        for kind in CONDITION_TYPES:
            new = self.conditions.get(kind) or {"type": kind, "status": "False", "reason": OK_REASONS[kind],
                                                "message": OK_MESSAGES[kind]}
            old = next((c for c in existing if c.get("type") == kind), None)
            if old is None:
                existing.append({**new, "lastTransitionTime": rfc3339(self.now)})
                changed = True
            elif any(old.get(k) != new[k] for k in ("status", "reason", "message")):
                if old.get("status") != new["status"]:
                    old["lastTransitionTime"] = rfc3339(self.now)
                old.update(new)
                changed = True
        return changed


class NamespaceController(QueueController):
    name = "namespace-controller"
    workers_option = "concurrent-namespace-syncs"
    default_workers = 10

    def rate_limiter(self, clock):
        # Upstream's nsControllerRateLimiter: a failing deletion is tried again at least every minute (client-go's
        # default backs off to 1000 s).
        return MaxOfRateLimiter(ItemExponentialFailureRateLimiter(0.005, 60.0), BucketRateLimiter(clock, 10.0, 100))

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self._attempts: Dict[str, int] = {}
        self.metadata_client = metadata_client(ctx.client)
        self.grace = float(ctx.option("namespace-deletion-grace-period", DELETION_GRACE_PERIOD))
        self.namespaces = self.informer(NAMESPACES)
        self.namespaces.add_event_handler(on_add=self._namespace_changed,
                                          on_update=lambda old, new: self._namespace_changed(new),
                                          resync_period=float(ctx.option("namespace-sync-period", 300.0)))

    def _namespace_changed(self, namespace: dict) -> None:
        if namespace["metadata"].get("deletionTimestamp"):
            self.queue.add_after(namespace["metadata"]["name"], self.grace)

    async def sync(self, key: str) -> None:
        _, name = split_key(key)
        try:
            await self.delete_namespace(name)
        except ContentRemaining as e:
            # Upstream looks again after estimate/2 + 1 s; content going faster than its grace periods (a
            # node confirming a pod's deletion) is seen sooner here, backing off from RECHECK up to that.
            attempt = self._attempts[key] = self._attempts.get(key, 0) + 1
            self.queue.add_after(key, min(e.estimate / 2 + 1, RECHECK * 2 ** min(attempt - 1, 10)))
            return
        self._attempts.pop(key, None)

    async def delete_namespace(self, name: str) -> None:
        """One pass of upstream's namespaced-resources deleter over the namespace ``name``."""
        namespace = await get_or_none(self.client, NAMESPACES, name)
        if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
            return
        # Upstream's finalized(): only a namespace with no finalizers at all is left alone; one still held by
        # others (``kubernetes`` already taken off through /finalize) has its content deleted all the same.
        if not (namespace.get("spec") or {}).get("finalizers"):
            return
        estimate = await self.delete_all_content(namespace)
        if estimate > 0:
            raise ContentRemaining(estimate)
        await self.finalize(name)

    async def finalize(self, name: str) -> None:
        latest = await self.client.get(NAMESPACES, name)
        # Upstream's finalizeNamespace writes back the others as a set: sorted, each once.
        finalizers = sorted({f for f in (latest.get("spec") or {}).get("finalizers") or [] if f != FINALIZER})
        latest["spec"] = {**(latest.get("spec") or {}), "finalizers": finalizers}
        try:
            await self.client.update(NAMESPACES, latest, subresource="finalize")
        except APIError as e:
            if e.code != 404:
                raise

    async def delete_all_content(self, namespace: dict) -> float:
        """Delete every namespaced resource's objects in ``namespace``; seconds to wait before the next look
        (0 when all is gone). Discovery or deletion errors are raised after the conditions are written."""
        name = namespace["metadata"]["name"]
        updater = ConditionUpdater(self.clock.seconds())
        discovery = await discover(self.client)
        if discovery.failed:
            updater.discovery_failed(discovery)
        deletable = [r for r in discovery.resources if r.resource.namespaced and r.supports("delete")]
        stamp = namespace["metadata"].get("deletionTimestamp")
        deleted_at = meta.parse_time(stamp) if stamp else self.clock.seconds()
        estimate = 0.0
        remaining: Dict[str, int] = {}
        finalizers: Dict[str, int] = {}
        for api_resource in deletable:
            try:
                wait, left, held = await self.delete_resource_content(api_resource, name, deleted_at)
            except APIError as e:
                updater.content_errors.append(e.message or str(e))
                continue
            if left and not wait and not held:
                # Nothing should be left: no grace period runs and no finalizer holds it (a pod whose node never
                # confirms its deletion, past its grace period since the namespace's deletion).
                resource = api_resource.resource
                updater.content_errors.append(f"unexpected items still remain in namespace: {name} for gvr: "
                                              f"{resource.group}/{resource.version}, Resource={resource.plural}")
            estimate = max(estimate, wait)
            if left:
                resource = api_resource.resource
                remaining[f"{resource.plural}.{resource.group}"] = left
                for finalizer, count in held.items():
                    finalizers[finalizer] = finalizers.get(finalizer, 0) + count
        if remaining or finalizers:
            updater.content_totals(remaining, finalizers)
        await self._write_conditions(name, updater)
        if discovery.failed:
            raise RuntimeError(discovery.failure_message())
        if updater.content_errors:
            raise RuntimeError("; ".join(sorted(updater.content_errors)))
        if remaining and estimate <= 0:
            estimate = FINALIZER_ESTIMATE
        return estimate

    async def delete_resource_content(self, api_resource: APIResource, namespace: str, deleted_at: float):
        """(seconds to wait, objects left, finalizers on them) for one resource in ``namespace``: the wait is the
        longest grace period of its live pods, none once that long has passed since the namespace's deletion
        (``deleted_at``), as upstream estimates it."""
        resource = api_resource.resource
        path = resource.path(namespace)
        # Background: the namespace controller lists what remains itself, and wants no orphan finalizer added.
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        # Upstream's deleteCollection, else (not served: 404 or 405, whatever discovery said) deleteEachItem.
        collected = False
        if api_resource.supports("deletecollection"):
            collected = await _unless_not_served(self.client.request("DELETE", path, options)) is not NOT_SERVED
        if not api_resource.supports("list"):
            return 0.0, 0, {}
        if not collected:
            listing = await _unless_not_served(self.metadata_client.list(resource, namespace))
            if listing is NOT_SERVED:
                return 0.0, 0, {}
            for item in listing.get("items") or []:
                await _unless_not_served(self.client.delete(resource, item["metadata"]["name"], namespace,
                                                            propagation_policy="Background"))
        # Pods are read whole (their grace periods and phases); everything else as metadata.
        listing = await _unless_not_served(
            (self.client if resource == PODS else self.metadata_client).list(resource, namespace))
        if listing is NOT_SERVED:
            return 0.0, 0, {}
        items = listing.get("items") or []
        held: Dict[str, int] = {}
        wait = 0.0
        for item in items:
            for finalizer in item["metadata"].get("finalizers") or []:
                held[finalizer] = held.get(finalizer, 0) + 1
            if resource == PODS and (item.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                wait = max(wait, float((item.get("spec") or {}).get("terminationGracePeriodSeconds") or 0))
        if wait and self.clock.seconds() - deleted_at >= wait:
            wait = 0.0
        return wait, len(items), held

    async def _write_conditions(self, name: str, updater: ConditionUpdater) -> None:
        latest = await get_or_none(self.client, NAMESPACES, name)
        if latest is None:
            return
        status = dict(latest.get("status") or {})
        if updater.apply(status):
            latest["status"] = status
            try:
                await self.client.update(NAMESPACES, latest, subresource="status")
            except APIError as e:
                if e.code not in (404, 409):
                    raise


def start_namespace_controller(ctx: ControllerContext) -> NamespaceController:
    return NamespaceController(ctx)


def deletion_conditions(namespace: dict) -> Dict[str, dict]:
    """A namespace's deletion conditions by type (for callers and tests)."""
    return {c["type"]: c for c in (namespace.get("status") or {}).get("conditions") or []
            if c.get("type") in CONDITION_TYPES}

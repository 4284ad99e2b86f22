"""
ResourceQuota admission: a create in a namespace is charged to the quotas' status.used, written with
optimistic concurrency before the create is admitted, and refused with 403 when it would take any quota's usage
past its hard limit, in upstream's words.  The quotas' status (hard and used) is recounted after deletes and
quota changes (the apiserver alone runs no resourcequota controller).  Its configuration's limitedResources make
some consumption need a covering quota.
"""

from __future__ import annotations

import copy
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Optional

from twisted.internet.defer import Deferred, DeferredLock

from ..machinery.errors import StatusError
from ..machinery.quotausage import COMPUTE as _COMPUTE
from ..machinery.quotausage import LEGACY_COUNTS as _LEGACY_COUNTS
from ..machinery.quotausage import matching_scopes as _matching_scopes
from ..machinery.quotausage import object_usage
from ..machinery.quotausage import quota_applies as _quota_applies
from ..machinery.quotausage import quota_selectors as _quota_selectors
from ..machinery.quotausage import storage_class_key
from ..machinery.quotausage import usage_text
from ..registry.attributes import CREATE, DELETE, UPDATE, Attributes
from ..machinery.quantity import canonical_quantity, parse_quantity
from ..registry.options import ListOptions
from ..watch.cacher import NOT_CACHED
from .cache import SETTLE_SECONDS


_CHARGED_ON_UPDATE = {("", "services"), ("", "persistentvolumeclaims")}
# What a quota on them makes every container of a pod set (upstream's validationSet, kept for compatibility).
_PER_CONTAINER = ("cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory")


def _format(values: dict[str, Fraction], keys, written: Optional[dict] = None) -> str:
    """key=quantity,... as upstream's prettyPrint: a quantity as written (status.used, spec.hard) in its canonical
    form, one counted here (a request, a sum) as status.used would show it (1Gi, not 1073741824)."""
    written = written or {}

    def text(key):
        if written.get(key) is not None and parse_quantity(written[key]) == values.get(key, Fraction(0)):
            return canonical_quantity(written[key])
        return usage_text(key, values.get(key, Fraction(0)))
    return ",".join(f"{k}={text(k)}" for k in keys)


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


def _go_scopes(scopes: list[dict]) -> str:
    # Go's %v of a []ScopedResourceSelectorRequirement.
    return "[" + " ".join(f"{{{s.get('scopeName', '')} {s.get('operator', '')} [{' '.join(s.get('values') or [])}]}}"
                          for s in scopes) + "]"


def _hard(quota: dict) -> dict[str, Optional[Fraction]]:
    return {k: parse_quantity(v) for k, v in ((quota.get("spec") or {}).get("hard") or {}).items()}


# A charge or recount of ours writes a quota's status through the Store, and so through admission like any
# other write: this marks it there, so that it sets off no recount of its own.
_OWN_WRITE: ContextVar[bool] = ContextVar("kapiserver_quota_own_write", default=False)


@dataclass(frozen=True)
class _Landing:
    """A quota write a recount waits for: the quota ``name`` stored, at a resourceVersion other than ``old``
    (the one an update replaced)."""
    name: str
    old: Optional[str] = None

    def seen(self, quotas: list) -> bool:
        return any(q["metadata"].get("name") == self.name and q["metadata"].get("resourceVersion") != self.old
                   for q in quotas)


@dataclass(eq=False)
class _Charge:
    """A create charged here that no list has shown yet: a recount counts it (it may be on its way to storage)
    until a list shows it, it is deleted, or it expires (its create failed after admission)."""
    info: Any
    obj: dict
    quotas: set     # the names of the quotas it was charged to
    expires: float


class ResourceQuotaAdmission:
    """Upstream's quota evaluator: a create is charged to status.used of every quota tracking it before it is
    admitted, each quota's status written with the resourceVersion it was read at (so concurrent creates, here or
    in another apiserver on the same storage, never take more than a quota has left), or refused in upstream's
    words.  Usage comes back through recounts: after deletes and quota changes here, and in
    the resourcequota controller where one runs."""

    # Reads and charges after a status write met a newer resourceVersion: upstream's checkQuotas tries 1 + 3 times.
    CHARGE_ATTEMPTS = 4
    # How long a charged create may take to reach storage; a recount stops counting it after that.
    PENDING_SECONDS = 10.0
    # How long a recount waits after the write that asked for it is admitted, for that write to land.
    RECOUNT_DELAY = 0.05
    # How long, at most, recounts wait for the quota write that asked for them to land (the delays double).
    LANDING_WAIT = 30.0

    def __init__(self, registry, reactor=None, limited_resources=()):
        self.registry = registry
        self.reactor = reactor
        self.limited_resources = list(limited_resources)
        # Until then, quota lookups read storage (a quota was written here and its write may not be in the watch
        # cache yet).
        self._settle_until = float("-inf")
        self._locks: dict[str, DeferredLock] = {}
        self._pending: dict[str, list[_Charge]] = {}
        self._recount_waiting: set[str] = set()
        self._expiries: dict[str, Any] = {}       # namespace -> the DelayedCall of its next expiry

    def _clock(self):
        if self.reactor is not None:
            return self.reactor
        from twisted.internet import reactor
        return reactor

    def _quota_store(self):
        return self.registry.store("", "v1", "resourcequotas")

    async def _load(self, namespace: str) -> list[dict]:
        return (await self._quota_store().list(namespace, ListOptions()))[0]

    async def _quotas(self, namespace: str) -> list[dict]:
        """The namespace's quotas as the watch cache holds them (kept by its watch on storage, so quotas written
        through another apiserver are seen, as upstream's informer sees them); for a while after a quota is
        written here, as storage holds them, so that the write being admitted is seen once it has landed."""
        if self._settle_until != float("-inf") and self._clock().seconds() < self._settle_until:
            return await self._load(namespace)
        store = self._quota_store()
        quotas = store.peek_list(namespace)     # the list at resourceVersion "0", when the cache is filled
        if quotas is NOT_CACHED:
            quotas = (await store.list(namespace, ListOptions(resource_version="0")))[0]
        return quotas

    @asynccontextmanager
    async def _serialized(self, namespace: str):
        """One charge or recount at a time per namespace in this process: fewer conflicts (the resourceVersion
        each status write names is still what keeps apiservers apart)."""
        lock = self._locks.setdefault(namespace, DeferredLock())
        await lock.acquire()
        try:
            yield
        finally:
            lock.release()
            if not lock.locked and not lock.waiting:
                self._locks.pop(namespace, None)

    async def usage(self, namespace: str, keys, quota: Optional[dict] = None) -> dict[str, Fraction]:
        """The namespace's current usage of ``keys``, counted from the stored objects (those ``quota``'s
        scopes select, when given)."""
        return (await self._listed(namespace, keys, quota))[0]

    async def _listed(self, namespace: str, keys, quota: Optional[dict]) -> tuple[dict[str, Fraction], set]:
        """(usage of ``keys`` counted from the stored objects, the uids of the objects listed)."""
        used = {k: Fraction(0) for k in keys}
        seen = set()
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
            if (info.group, info.resource) == ("", "persistentvolumeclaims"):
                sample |= {k for k in wanted if storage_class_key(k)}
            if (info.group, info.resource) == ("", "pods"):
                # extended resources and hugepages
                sample |= {k for k in wanted if k.startswith(("requests.", "hugepages-"))}
            if not sample & wanted:
                continue
            now = self._clock().seconds()
            for item in (await store.list(namespace, ListOptions()))[0]:
                seen.add((item.get("metadata") or {}).get("uid"))
                if quota is not None and not _quota_applies(quota, info, item):
                    continue
                for key, value in object_usage(info, item, now).items():
                    if key in used:
                        used[key] += value
        return used, seen

    async def _count(self, namespace: str, quota: dict) -> dict[str, Fraction]:
        """``quota``'s usage of every key of its spec.hard, counted now: the stored objects it tracks, and the
        creates charged to it here that are not stored yet."""
        used, seen = await self._listed(namespace, list(_hard(quota)), quota)
        now = self._clock().seconds()
        pending = [c for c in self._pending.get(namespace, ()) if c.expires > now and
                   (c.obj.get("metadata") or {}).get("uid") not in seen]
        self._set_pending(namespace, pending)
        name = quota["metadata"]["name"]
        for charge in pending:
            if name in charge.quotas:
                for key, value in object_usage(charge.info, charge.obj, now).items():
                    if key in used:
                        used[key] += value
        return used

    def _set_pending(self, namespace: str, pending: list) -> None:
        if pending:
            self._pending[namespace] = pending
        else:
            self._pending.pop(namespace, None)

    async def validate(self, attributes: Attributes) -> None:
        namespace, operation = attributes.namespace, attributes.operation
        if not namespace:
            return
        info = attributes.resource     # its group and resource are what the usage rules read
        if (info.group, info.resource) == ("", "resourcequotas"):
            if _OWN_WRITE.get():
                return
            self._settle_until = self._clock().seconds() + SETTLE_SECONDS
            if operation in (CREATE, UPDATE):
                # A new quota, a changed spec.hard or a status written by hand: its status is put right
                # (hard from spec, used counted), as upstream's resource quota controller does on such updates,
                # once the write has landed.
                old = attributes.old_object if operation == UPDATE else None
                self._recount_later(namespace, _Landing(
                    (attributes.object.get("metadata") or {}).get("name") or attributes.name,
                    ((old or {}).get("metadata") or {}).get("resourceVersion")))
            return
        if attributes.subresource:
            return
        # Updates are charged too where they can grow usage: a service's type and ports, a claim's storage (the
        # services and persistentvolumeclaims evaluators' Handles); pods and object counts only on create.
        if operation not in (CREATE, DELETE) and not (operation == UPDATE and
                                                      (info.group, info.resource) in _CHARGED_ON_UPDATE):
            return
        if operation == DELETE:
            self._landed(namespace, attributes.old_object)
        quotas = await self._quotas(namespace)
        # With limitedResources configured, a namespace without quotas is still checked, as upstream.
        if not quotas and not self.limited_resources:
            return
        if operation == DELETE:
            if quotas:
                self._recount_later(namespace)     # what the object used comes back
            return
        obj = attributes.object
        now = self._clock().seconds()
        usage = requested = object_usage(info, obj, now)
        old = attributes.old_object if operation == UPDATE else None
        if old is not None and (old.get("metadata") or {}).get("resourceVersion"):
            # Only what the update adds is charged (never less than nothing); an update adding nothing passes.
            before = object_usage(info, old, now)
            requested = {k: max(v - before.get(k, Fraction(0)), Fraction(0)) for k, v in usage.items()}
            if not any(requested.values()):
                return
        quotas = sorted(quotas, key=lambda q: q["metadata"]["name"])
        # A quota with scopes limits only what its scopes select (pods that are BestEffort, Terminating...).
        applying = [q for q in quotas if _quota_applies(q, info, obj)]
        for quota in applying:
            self._check_constraints(quota, info, obj, requested)
        self._check_covered(quotas, info, obj, usage)
        if any(requested.get(k) for quota in applying for k in _hard(quota)):
            await self._charge(namespace, info, obj, requested, attributes.dry_run)

    async def _charge(self, namespace: str, info, obj: dict, requested: dict, dry_run: bool) -> None:
        """Add ``requested`` to status.used of every quota tracking ``obj`` (read afresh), or refuse the create
        when that would pass any quota's hard limit.  Each status is written only if its quota is still at the
        resourceVersion it was read at; those another writer changed meanwhile are read and charged again."""
        requested = {k: v for k, v in requested.items() if v}
        charged: set[str] = set()
        async with self._serialized(namespace):
            for _ in range(self.CHARGE_ATTEMPTS):
                plans = []
                for quota in sorted(await self._load(namespace), key=lambda q: q["metadata"]["name"]):
                    name = quota["metadata"]["name"]
                    if name in charged or not _quota_applies(quota, info, obj):
                        continue
                    hard = _hard(quota)
                    keys = sorted(k for k in hard if k in requested)
                    if not keys:
                        continue
                    used = await self._used(namespace, quota)
                    exceeded = [k for k in keys if hard[k] is not None and used[k] + requested[k] > hard[k]]
                    if exceeded:
                        status_used = (quota.get("status") or {}).get("used") or {}
                        spec_hard = (quota.get("spec") or {}).get("hard") or {}
                        raise self._forbidden(info, obj, f"exceeded quota: {name}, requested: "
                                                         f"{_format(requested, exceeded)}, used: "
                                                         f"{_format(used, exceeded, status_used)}, limited: "
                                                         f"{_format(hard, exceeded, spec_hard)}")
                    plans.append((quota, {**used, **{k: used[k] + requested[k] for k in keys}}))
                if dry_run or not plans:
                    return
                conflict = None
                for quota, used in plans:
                    try:
                        await self._write_status(namespace, quota, used)
                    except StatusError as e:
                        if e.code not in (404, 409):
                            raise
                        conflict = e
                        continue
                    charged.add(quota["metadata"]["name"])
                    self._remember(namespace, info, obj, charged)
                if conflict is None:
                    return
            raise conflict

    async def _used(self, namespace: str, quota: dict) -> dict[str, Fraction]:
        """status.used of every key of spec.hard, or all of them counted now when status.used lacks any (a
        quota nobody has counted yet)."""
        written = (quota.get("status") or {}).get("used") or {}
        used = {k: parse_quantity(written.get(k)) for k in _hard(quota)}
        if all(v is not None for v in used.values()):
            return used
        return await self._count(namespace, quota)

    async def _write_status(self, namespace: str, quota: dict, used: dict[str, Fraction]) -> None:
        """Write ``quota``'s status (hard from spec, ``used``) if the stored quota is still at the resourceVersion
        ``quota`` was read at; a 409 StatusError if it is not, a 404 if it is gone."""
        status = {"hard": copy.deepcopy((quota.get("spec") or {}).get("hard") or {}),
                  "used": {k: usage_text(k, v) for k, v in used.items()}}
        read_at = quota["metadata"].get("resourceVersion")

        def update(old):
            old["metadata"]["resourceVersion"] = read_at
            old["status"] = status
            return old
        token = _OWN_WRITE.set(True)
        try:
            await self._quota_store().update(namespace, quota["metadata"]["name"], update, subresource="status")
        finally:
            _OWN_WRITE.reset(token)

    def _remember(self, namespace: str, info, obj: dict, charged: set) -> None:
        """Count ``obj``'s charge in recounts until it is stored; if nothing has shown it stored when it
        expires, recount then, which gives the charge back."""
        pending = self._pending.setdefault(namespace, [])
        for charge in pending:
            if charge.obj is obj:
                charge.quotas = set(charged)
                return
        pending.append(_Charge(info, obj, set(charged), self._clock().seconds() + self.PENDING_SECONDS))
        self._expire_later(namespace)

    def _expire_later(self, namespace: str) -> None:
        """One timer per namespace, at the first expiry of its pending charges."""
        if namespace in self._expiries or not self._pending.get(namespace):
            return
        clock = self._clock()

        def expire():
            del self._expiries[namespace]
            pending = self._pending.get(namespace, [])
            kept = [c for c in pending if c.expires > clock.seconds()]
            if len(kept) < len(pending):
                self._set_pending(namespace, kept)
                self._start_recount(namespace)      # without the expired charges: they are given back
            self._expire_later(namespace)
        now = clock.seconds()
        first = min((c.expires for c in self._pending[namespace] if c.expires > now), default=now)
        self._expiries[namespace] = clock.callLater(first - now + self.RECOUNT_DELAY, expire)

    def _landed(self, namespace: str, obj: Optional[dict]) -> None:
        """``obj`` is being deleted, so it was stored: lists count it from now on, not its charge."""
        uid = ((obj or {}).get("metadata") or {}).get("uid")
        if uid and namespace in self._pending:
            self._set_pending(namespace, [c for c in self._pending[namespace]
                                          if (c.obj.get("metadata") or {}).get("uid") != uid])

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
        """Upstream's pod evaluator Constraints: once a quota limits cpu or memory (cpu, memory, requests.*,
        limits.* of them; nothing else, not ephemeral-storage), every container and init container must set that
        request or limit itself (any value), whatever the pod's total."""
        if (info.group, info.resource) != ("", "pods"):
            return
        hard = ((quota.get("spec") or {}).get("hard") or {})
        required = [k for k in hard if k in _PER_CONTAINER]
        if not required:
            return
        spec = obj.get("spec") or {}
        missing: dict[str, set] = {}
        for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            resources = container.get("resources") or {}
            present = set()
            for name in ("cpu", "memory"):
                if name in (resources.get("requests") or {}):
                    present |= {name, f"requests.{name}"}
                if name in (resources.get("limits") or {}):
                    present.add(f"limits.{name}")
            for key in required:
                if key not in present:
                    missing.setdefault(key, set()).add(container.get("name", ""))
        if missing:
            text = "; ".join(f"{k} for: {','.join(sorted(missing[k]))}" for k in sorted(missing))
            raise self._forbidden(info, obj, f"failed quota: {quota['metadata']['name']}: must specify {text}")

    @staticmethod
    def _forbidden(info, obj, message) -> StatusError:
        name = (obj.get("metadata") or {}).get("name", "")
        qualified = f"{info.resource}.{info.group}" if info.group else info.resource
        details = {"name": name, **({"group": info.group} if info.group else {}), "kind": info.resource}
        return StatusError(403, "Forbidden", f'{qualified} "{name}" is forbidden: {message}', details)

    def _recount_later(self, namespace: str, landing: Optional[_Landing] = None,
                       delay: Optional[float] = None) -> None:
        delay = self.RECOUNT_DELAY if delay is None else delay
        self._clock().callLater(delay, self._start_recount, namespace, landing, delay)

    def _start_recount(self, namespace: str, landing: Optional[_Landing] = None, delay: float = 0.0) -> None:
        # A recount that fails is not retried: the next change in the namespace recounts again.  One asked for
        # by a quota's write that has not landed yet (storage is slow) is tried again, later each time.
        async def recount():
            await self.recompute(namespace)
            if landing is not None and delay < self.LANDING_WAIT and not landing.seen(await self._load(namespace)):
                self._recount_later(namespace, landing, delay * 2)
        Deferred.fromCoroutine(recount()).addErrback(lambda failure: None)

    async def recompute(self, namespace: str) -> None:
        """Write every quota's status in ``namespace`` (hard from spec, used counted now, with the creates
        charged here that are not stored yet), each only if the quota is unchanged since it was read."""
        if namespace in self._recount_waiting:
            return      # one is about to start, and counts everything this one would
        self._recount_waiting.add(namespace)
        async with self._serialized(namespace):
            self._recount_waiting.discard(namespace)
            for quota in await self._load(namespace):
                await self._recount(namespace, quota)

    async def _recount(self, namespace: str, quota: dict) -> None:
        store = self._quota_store()
        for _ in range(self.CHARGE_ATTEMPTS):
            used = await self._count(namespace, quota)
            status = {"hard": copy.deepcopy((quota.get("spec") or {}).get("hard") or {}),
                      "used": {k: usage_text(k, v) for k, v in used.items()}}
            if quota.get("status") == status:
                return
            try:
                await self._write_status(namespace, quota, used)
                return
            except StatusError as e:
                if e.code == 404:
                    return
                if e.code != 409:
                    raise
            try:
                quota = await store.get(namespace, quota["metadata"]["name"])
            except StatusError as e:
                if e.code == 404:
                    return
                raise

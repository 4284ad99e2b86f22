"""
API Priority and Fairness's configuration, kept as kube-apiserver keeps it (the flow control request handling
itself is not here):

- the bootstrap configuration (``registry/apfbootstrap.py``), ensured at start and every minute after, as
  upstream's configuration producer does: a missing bootstrap object is created with the annotation
  ``apf.kubernetes.io/autoupdate-spec: "true"``; a mandatory one (exempt, catch-all) always gets its spec back
  (the exempt level keeps the shares and lendable percent an admin gave it); a suggested one gets its spec back
  while its annotation says true (or, without a boolean there, while its generation is still 1); the annotation
  is set to say which; an object the bootstrap configuration no longer has, whose annotation says true, is
  deleted;
- each FlowSchema's ``Dangling`` condition (``True``/``NotFound`` while its priority level does not exist,
  ``False``/``Found`` otherwise), as upstream's configuration consumer sets it, on every change of either kind.

Nothing is written that is in place already, so a restart leaves storage (and watchers' resourceVersions) be.
"""

from __future__ import annotations

import copy
from typing import Optional

from twisted.internet.defer import Deferred, ensureDeferred, gatherResults
from twisted.logger import Logger

from ..machinery import meta
from ..machinery.errors import StatusError
from ..registry import apfbootstrap as bootstrap
from ..registry.defaults import apply_defaults
from ..registry.options import DeleteOptions, ListOptions, WriteOptions
from ..services import Periodic

log = Logger()

ENSURE_INTERVAL = 60.0
PRODUCER = WriteOptions(field_manager="api-priority-and-fairness-config-producer-v1")
CONSUMER = WriteOptions(field_manager="api-priority-and-fairness-config-consumer-v1")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def _parse_bool(value) -> bool | None:
    """Go's strconv.ParseBool: None when ``value`` is no boolean."""
    return True if value in _TRUE else False if value in _FALSE else None


def _annotation(obj: dict):
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(bootstrap.AUTOUPDATE)


def auto_update(obj: dict, mandatory: bool) -> bool:
    """Whether the bootstrap spec is to be kept on ``obj``: always for a mandatory object; else as its
    annotation says, or, without a boolean there, while no one has changed its spec (generation 1)."""
    if mandatory:
        return True
    said = _parse_bool(_annotation(obj))
    if said is not None:
        return said
    return (obj.get("metadata") or {}).get("generation") == 1


def spec_differs(kind: str, wanted: dict, current: dict) -> bool:
    """Whether ``current``'s spec is not the (defaulted) bootstrap one; the exempt level's shares and lendable
    percent are the admin's to choose."""
    expected = copy.deepcopy(wanted)
    apply_defaults(bootstrap.GROUP, bootstrap.VERSION, kind, expected)
    spec, have = expected.get("spec"), current.get("spec") or {}
    if kind == "PriorityLevelConfiguration" and expected["metadata"]["name"] == "exempt":
        exempt = have.get("exempt")
        if not isinstance(exempt, dict):
            return True
        spec["exempt"] = dict(spec["exempt"], **{k: exempt[k] for k in ("nominalConcurrencyShares",
                                                                          "lendablePercent") if k in exempt})
    return spec != have


def dangling_condition(level: str, exists: bool) -> dict:
    """The Dangling condition (without its transition time) of a FlowSchema naming priority level ``level``."""
    if exists:
        return {"type": "Dangling", "status": "False", "reason": "Found",
                "message": f'This FlowSchema references the PriorityLevelConfiguration object named "{level}" '
                           "and it exists"}
    return {"type": "Dangling", "status": "True", "reason": "NotFound",
            "message": f'This FlowSchema references the PriorityLevelConfiguration object named "{level}" '
                       "but there is no such object"}


class APFConfigController:
    """``start()`` ensures the bootstrap configuration and the Dangling conditions, then keeps them: the
    bootstrap configuration every ``interval`` seconds, the conditions on every FlowSchema or
    PriorityLevelConfiguration event."""

    KINDS = (("flowschemas", "FlowSchema", bootstrap.MANDATORY_FLOW_SCHEMAS, bootstrap.SUGGESTED_FLOW_SCHEMAS,
              bootstrap.flow_schema),
             ("prioritylevelconfigurations", "PriorityLevelConfiguration", bootstrap.MANDATORY_PRIORITY_LEVELS,
              bootstrap.SUGGESTED_PRIORITY_LEVELS, bootstrap.priority_level))

    def __init__(self, registry, clock, interval: float = ENSURE_INTERVAL):
        self.registry = registry
        self.clock = clock
        self._periodic = Periodic(interval, self._ensure_logged, clock)
        self._watches: list = []
        self._stopped = False
        self._syncing = False
        self._again = False

    def _store(self, resource: str):
        return self.registry.lookup(bootstrap.GROUP, bootstrap.VERSION, resource)

    async def start(self) -> None:
        if self._store("flowschemas") is None or self._store("prioritylevelconfigurations") is None:
            return    # flowcontrol.apiserver.k8s.io/v1 turned off by --runtime-config
        await self._periodic.startService()      # the first ensure, then one every interval
        await self.sync_dangling()
        for resource in ("flowschemas", "prioritylevelconfigurations"):
            self._watches.append(await self._store(resource).watch_events(None, ListOptions(), self._event))

    def stop(self) -> Optional[Deferred]:
        self._stopped = True
        for watch in self._watches:
            watch.cancel()
        self._watches = []
        return self._periodic.stopService() if self._periodic.running else None

    async def _ensure_logged(self) -> None:
        try:
            await self.ensure()
        except Exception:
            log.failure("ensuring the APF bootstrap configuration failed")

    def _event(self, event_type: str, obj: dict) -> None:
        if event_type in ("ADDED", "MODIFIED", "DELETED") and not self._stopped:
            Deferred.fromCoroutine(self.sync_dangling())

    # -- the bootstrap configuration ------------------------------------------------------------------

    async def ensure(self) -> None:
        """One pass of upstream's producer: the suggested objects, then the mandatory ones (priority levels
        before flow schemas), then the removal of what the bootstrap configuration no longer has."""
        for mandatory in (False, True):
            for resource, kind, mandatory_names, suggested_names, make in self.KINDS:
                store = self._store(resource)
                # The objects of one kind at once: the store commits their writes together.
                await gatherResults([ensureDeferred(self._ensure_one(store, kind, make(name), mandatory))
                                     for name in (mandatory_names if mandatory else suggested_names)],
                                    consumeErrors=True)
        for resource, kind, mandatory_names, suggested_names, make in self.KINDS:
            await self._remove_unwanted(self._store(resource), set(mandatory_names) | set(suggested_names))

    async def _ensure_one(self, store, kind: str, wanted: dict, mandatory: bool) -> None:
        name = wanted["metadata"]["name"]
        try:
            current = await store.get(None, name)
        except StatusError as e:
            if e.code != 404:
                raise
            try:
                await store.create(None, wanted, PRODUCER)
            except StatusError as e:
                if e.code != 409:
                    raise
            return
        if not self._revision(kind, wanted, current, mandatory):
            return

        def revise(old):
            if old is None:
                return None
            new = self._revision(kind, wanted, old, mandatory)
            return new if new is not None else old
        try:
            await store.update(None, name, revise, PRODUCER)
        except StatusError as e:
            if e.code != 404:    # deleted meanwhile: created at the next pass
                raise

    @staticmethod
    def _revision(kind: str, wanted: dict, current: dict, mandatory: bool):
        """``current`` revised toward ``wanted``, or None when nothing is to change."""
        update = auto_update(current, mandatory)
        annotate = _parse_bool(_annotation(current)) is not update
        respec = update and spec_differs(kind, wanted, current)
        if not (annotate or respec):
            return None
        new = copy.deepcopy(current)
        if respec:
            new["spec"] = copy.deepcopy(wanted["spec"])
        if annotate:
            metadata = new.setdefault("metadata", {})
            metadata["annotations"] = dict(metadata.get("annotations") or {},
                                           **{bootstrap.AUTOUPDATE: "true" if update else "false"})
        return new

    async def _remove_unwanted(self, store, wanted: set[str]) -> None:
        items, _ = await store.list(None, ListOptions())
        for item in items:
            metadata = item.get("metadata") or {}
            if metadata.get("name") in wanted or _parse_bool(_annotation(item)) is not True:
                continue
            try:
                await store.delete(None, metadata["name"], DeleteOptions(
                    precondition_resource_version=metadata.get("resourceVersion")))
            except StatusError as e:
                if e.code not in (404, 409):
                    raise

    # -- the Dangling conditions ----------------------------------------------------------------------

    async def sync_dangling(self) -> None:
        """Set every FlowSchema's Dangling condition that is not as it should be; a sync asked for while one
        runs runs once more after it."""
        if self._syncing:
            self._again = True
            return
        self._syncing = True
        try:
            while True:
                self._again = False
                try:
                    await self._sync_dangling()
                except Exception:
                    log.failure("setting the FlowSchemas' Dangling conditions failed")
                if not self._again or self._stopped:
                    break
        finally:
            self._syncing = False

    async def _sync_dangling(self) -> None:
        levels = {item["metadata"]["name"] for item in
                  (await self._store("prioritylevelconfigurations").list(None, ListOptions()))[0]}
        store = self._store("flowschemas")

        async def set_condition(name: str) -> None:
            try:
                await store.update(None, name, lambda old: self._with_condition(old, levels), CONSUMER,
                                   subresource="status")
            except StatusError as e:
                if e.code != 404:
                    raise
        await gatherResults([ensureDeferred(set_condition(schema["metadata"]["name"]))
                             for schema in (await store.list(None, ListOptions()))[0]
                             if _needs_condition(schema, levels)], consumeErrors=True)

    def _with_condition(self, old, levels: set[str]):
        if old is None or not _needs_condition(old, levels):
            return old
        level = ((old.get("spec") or {}).get("priorityLevelConfiguration") or {}).get("name", "")
        wanted = dangling_condition(level, level in levels)
        condition = {"type": wanted["type"], "status": wanted["status"],     # Go's field order
                     "lastTransitionTime": meta.rfc3339(self.clock.seconds()), "reason": wanted["reason"],
                     "message": wanted["message"]}
        new = copy.deepcopy(old)
        status = new.get("status") if isinstance(new.get("status"), dict) else {}
        conditions = list(status.get("conditions") or [])
        at = next((i for i, c in enumerate(conditions) if c.get("type") == "Dangling"), None)
        if at is None:
            conditions.append(condition)
        else:
            conditions[at] = condition
        status["conditions"] = conditions
        new["status"] = status
        return new


def _needs_condition(schema: dict, levels: set[str]) -> bool:
    level = ((schema.get("spec") or {}).get("priorityLevelConfiguration") or {}).get("name", "")
    wanted = dangling_condition(level, level in levels)
    for condition in (schema.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Dangling":
            return any(condition.get(k) != wanted[k] for k in ("status", "reason", "message"))
    return True

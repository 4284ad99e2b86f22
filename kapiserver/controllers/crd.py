"""
Serving what CustomResourceDefinitions define: each served version of an
established CRD becomes a resource in the catalogue (discovery, OpenAPI) with
its own Store, at once on create and on every apiserver that sees the CRD;
a deleted CRD takes its custom resources with it before it goes.  Where it
finalizes, it also decides again the names of the CRDs of a group when one of
them frees names (upstream's naming controller requeueing the group).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Optional

from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.logger import Logger

from ..machinery.errors import StatusError
from ..registry import conversion, crdnames
from ..registry.crd import (CLEANUP_FINALIZER, CustomResourceStrategy, condition_true, resource_infos,
                             schema_coercer, served, set_condition, version_of, version_priority)
from ..registry.options import DeleteOptions, ListOptions

log = Logger()
RETRY_INTERVAL = 2.0
# As upstream's finalizer: after the deletes, storage is asked each second, for a minute, whether any remain.
DELETION_POLL_INTERVAL = 1.0
DELETION_CHECK_TIMEOUT = 60.0
# What discovery offers of a terminating CRD's resources, in upstream's order.
TERMINATING_VERBS = ("delete", "deletecollection", "get", "list", "watch")


def openapi_schema(info, crd: dict) -> dict:
    """The component schema of one CRD version, as upstream publishes it: the object's apiVersion, kind and
    metadata added at its root and in every embedded resource (where they are required too)."""
    from ..endpoints.openapi import object_properties
    schema = copy.deepcopy((version_of(crd, info.version).get("schema") or {}).get("openAPIV3Schema") or {})
    _add_embedded_properties(schema)
    schema.setdefault("type", "object")
    schema.setdefault("properties", {}).update(object_properties())
    schema["x-kubernetes-group-version-kind"] = [
        {"group": info.group, "kind": info.kind, "version": info.version}]
    return schema


def _add_embedded_properties(schema) -> None:
    from ..endpoints.openapi import object_properties
    if not isinstance(schema, dict):
        return
    for sub in (schema.get("properties") or {}).values():
        _add_embedded_properties(sub)
    for key in ("items", "additionalProperties"):
        _add_embedded_properties(schema.get(key))
    if schema.get("x-kubernetes-embedded-resource") is True:
        schema.setdefault("properties", {}).update(object_properties())
        required = schema.setdefault("required", [])
        required += [key for key in ("kind", "apiVersion") if key not in required]


def _revision(crd: dict) -> int:
    try:
        return int(crd["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0


class CRDController:
    def __init__(self, registry, clock, finalizes: bool = True):
        """``finalizes``: this process also deletes a deleted CRD's objects and ends it (a --workers worker
        leaves that to its primary; every process serves the CRDs)."""
        from ..endpoints.openapi import rest_friendly_name
        self.registry = registry
        self.clock = clock
        self.finalizes = finalizes
        self.crds = registry.store("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        self.crds.strategy.on_change = self.sync
        self.crds.strategy.on_delete = self.unregister
        self._served: dict[str, list] = {}      # CRD name -> ResourceInfos served
        self._serving: dict[str, tuple] = {}    # CRD name -> what they were made from (_serving_key)
        self._revision: dict[str, tuple] = {}   # CRD name -> (uid, resourceVersion) of the newest synced
        self._accepted: dict[str, dict] = {}    # CRD name -> its accepted names, as last synced
        self._watch = None
        self._cleaning: set[str] = set()
        self._name_of = rest_friendly_name

    async def start(self) -> None:
        self._watch = await self.crds.watch_events(None, ListOptions(), self._event)

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    def _event(self, event_type: str, crd: dict) -> None:
        if event_type == "DELETED":
            d = Deferred.fromCoroutine(self.unregister(crd))
        else:
            d = Deferred.fromCoroutine(self.sync(crd))
        d.addErrback(lambda f: log.failure("CRD {name} sync failed", f, name=crd["metadata"].get("name")))

    def _names_changed(self, crd: dict, freed: bool = False) -> None:
        """What upstream's naming controller does on a CRD's event, where this process finalizes (one process
        decides): a CRD whose names are not all accepted has them decided again, and once a CRD is gone or its
        accepted names changed, so have the other CRDs of its group (the names they wait for may be free).
        Run apart from the write that brought the event."""
        if not self.finalizes:
            return
        name = crd["metadata"]["name"]
        accepted = crdnames.names_of((crd.get("status") or {}).get("acceptedNames"))
        before = self._accepted.pop(name, None) if freed else self._accepted.get(name)
        if not freed:
            self._accepted[name] = accepted
        own = None if freed or crdnames.settled(crd) else name
        group = (crd.get("spec") or {}).get("group", "") if freed or before not in (None, accepted) else None
        if own is not None or group is not None:
            d = Deferred.fromCoroutine(self._decide_names(own, group, name))
            d.addErrback(lambda f: log.failure("CRD {name}: deciding names failed", f, name=name))

    async def _decide_names(self, own: Optional[str], group: Optional[str], freed_by: str) -> None:
        """Decides again the names of the CRD ``own``, and of every CRD of ``group`` but ``freed_by`` whose names
        are not all accepted (in the order of their names)."""
        if own is not None:
            await self._accept_names(own)
        if group is not None:
            stored, _ = await self.crds.list(None, ListOptions())
            for other in sorted(stored, key=lambda c: c["metadata"]["name"]):
                if (other.get("spec") or {}).get("group") == group and \
                        other["metadata"]["name"] != freed_by and not crdnames.settled(other):
                    await self._accept_names(other["metadata"]["name"])

    async def _accept_names(self, name: str) -> None:
        async def change(old):
            if old is None:
                raise StatusError(404, "NotFound", "gone")
            await self.crds.strategy.accept_names(old)
            return old
        try:
            await self.crds.update(None, name, change, subresource="status", allow_create=False)
        except StatusError as e:
            if e.code not in (404, 409):
                raise

    async def sync(self, crd: dict) -> None:
        name = crd["metadata"]["name"]
        if not self._older(crd):
            self._revision[name] = (crd["metadata"].get("uid"), _revision(crd))
            self._names_changed(crd)
            served = self._serving_key(crd)
            if self._serving.get(name) != served:
                self._serve(crd)
                self._serving[name] = served
            terminating = condition_true(crd, "Terminating")
            self._set_terminating(name, terminating)
        if self.finalizes and crd["metadata"].get("deletionTimestamp") and name not in self._cleaning:
            self._cleaning.add(name)
            try:
                await self.cleanup(crd)
            finally:
                self._cleaning.discard(name)

    def _set_terminating(self, name: str, terminating: bool) -> None:
        """A terminating CRD's resources refuse creates, and discovery offers only what upstream's discovery
        controller leaves them (delete, deletecollection, get, list, watch)."""
        verbs = TERMINATING_VERBS if terminating else None
        infos = self._served.get(name, [])
        changed = False
        for index, info in enumerate(infos):
            store = self.registry.lookup(info.group, info.version, info.resource)
            if store is not None:
                store.strategy.terminating = terminating
            if info.discovery_verbs != verbs:
                infos[index] = dataclasses.replace(info, discovery_verbs=verbs)
                self.registry.catalog.add(infos[index])
                changed = True
        if changed:
            self.registry.generation += 1

    def _older(self, crd: dict) -> bool:
        # The write's own sync runs before the watch brings the same CRD: an event older than what is served
        # changes nothing.
        uid, revision = self._revision.get(crd["metadata"]["name"], (None, 0))
        return uid == crd["metadata"].get("uid") and _revision(crd) < revision

    @staticmethod
    def _serving_key(crd: dict) -> tuple:
        # As upstream's crdInfo: what is served is made again (and the old stores torn down, so their watches
        # end) only for another CRD of the name, or a change of its spec or its accepted names.
        return (crd["metadata"].get("uid"), copy.deepcopy(crd.get("spec")),
                copy.deepcopy((crd.get("status") or {}).get("acceptedNames")), served(crd))

    def _serve(self, crd: dict) -> None:
        name = crd["metadata"]["name"]
        infos = resource_infos(crd)
        for old in self._served.pop(name, []):
            self._remove(old)
        converter = None
        if ((crd.get("spec") or {}).get("conversion") or {}).get("strategy") == "Webhook":
            from .crdconversion import WebhookConverter
            converter = WebhookConverter(crd, self.clock)
        for info in infos:
            self.registry.catalog.add(info)
            strategy = CustomResourceStrategy(info, crd)
            strategy.converter = converter
            self.registry.add(info, strategy, builtin=False)
            self.registry.openapi_schemas[self._name_of(info.group, info.version, info.kind)] = \
                openapi_schema(info, crd)
        self._set_coercers(crd)
        if infos:
            self._sort_versions(infos[0].group)
        self._served[name] = infos
        self.registry.generation += 1

    def _set_coercers(self, crd: dict) -> None:
        spec = crd.get("spec") or {}
        # The plural is the CRD's name's: what is served, once its names are accepted (unregister's too).
        plural = (spec.get("names") or {}).get("plural", "")
        for version in spec.get("versions") or []:
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            conversion.set_schema_coercer(spec.get("group", ""), plural, version.get("name", ""),
                                          schema_coercer(schema) if schema else None)

    def _sort_versions(self, group: str) -> None:
        # Discovery lists a CRD group's versions by kube-aware priority; the first is preferred.
        for known, versions in self.registry.catalog.groups:
            if known == group:
                versions.sort(key=version_priority)

    def _remove(self, info) -> None:
        self.registry.catalog.remove(info.group, info.version, info.resource)
        self.registry.remove(info.group, info.version, info.resource)
        self.registry.openapi_schemas.pop(self._name_of(info.group, info.version, info.kind), None)

    async def unregister(self, crd: dict) -> None:
        name, uid = crd["metadata"]["name"], crd["metadata"].get("uid")
        if self._revision.get(name, (uid,))[0] != uid:
            return      # the DELETED of an earlier CRD of the name, after its successor was served
        # Nothing older than the deletion serves this CRD again.
        if self._revision.get(name) != (uid, float("inf")):    # its deletion's first word (of two)
            self._names_changed(crd, freed=True)
        self._revision[name] = (uid, float("inf"))
        self._serving.pop(name, None)
        for info in self._served.pop(name, []):
            self._remove(info)
        spec = crd.get("spec") or {}
        for version in spec.get("versions") or []:
            conversion.set_schema_coercer(spec.get("group", ""), (spec.get("names") or {}).get("plural", ""),
                                          version.get("name", ""), None)
        self.registry.generation += 1

    async def cleanup(self, crd: dict) -> None:
        """Delete every custom resource of a CRD being deleted, then let the CRD go; its Terminating
        condition says how far that got (upstream's CRD finalizer)."""
        name = crd["metadata"]["name"]
        if CLEANUP_FINALIZER not in (crd["metadata"].get("finalizers") or []):
            return
        crd = await self._terminating(name, "True", "InstanceDeletionInProgress",
                                      "CustomResource deletion is in progress")
        if crd is None:
            return
        if condition_true(crd, "Established"):
            outcome = await self._delete_instances(crd)
            if outcome[0] == "True":
                await self._terminating(name, *outcome)
                self.clock.callLater(RETRY_INTERVAL, lambda: self._event("MODIFIED", crd))
                return
        else:
            outcome = ("False", "NeverEstablished", "resource was never established")
        await self._terminating(name, *outcome, release=True)

    async def _delete_instances(self, crd: dict) -> tuple[str, str, str]:
        """The Terminating condition (status, reason, message) once every instance is gone, or why not."""
        infos = self._served.get(crd["metadata"]["name"]) or []
        store = self.registry.lookup(infos[0].group, infos[0].version, infos[0].resource) if infos else None
        if store is not None:
            try:
                await store.delete_collection(None, ListOptions(), DeleteOptions())
            except StatusError as e:
                return "True", "InstanceDeletionFailed", f"could not issue all deletes: {e.message}"
            deadline = self.clock.seconds() + DELETION_CHECK_TIMEOUT
            while (await store.list(None, ListOptions()))[0]:
                if self.clock.seconds() >= deadline:
                    return ("True", "InstanceDeletionCheck",
                            "could not confirm zero CustomResources remaining: context deadline exceeded")
                await deferLater(self.clock, DELETION_POLL_INTERVAL, lambda: None)
        return "False", "InstanceDeletionCompleted", "removed all instances"

    async def _terminating(self, name: str, status: str, reason: str, message: str,
                           release: bool = False) -> Optional[dict]:
        """Sets the CRD's Terminating condition through its status (and, with ``release``, takes the cleanup
        finalizer off, which lets it go); the CRD as written, None once gone."""
        def change(old):
            if old is None:
                raise StatusError(404, "NotFound", "gone")
            set_condition(old, "Terminating", status, reason, message, self.clock.seconds())
            if release:
                old["metadata"]["finalizers"] = [f for f in old["metadata"].get("finalizers") or []
                                                 if f != CLEANUP_FINALIZER]
            return old
        try:
            written, _ = await self.crds.update(None, name, change, subresource="status", allow_create=False)
        except StatusError as e:
            if e.code != 404:
                raise
            return None
        return written

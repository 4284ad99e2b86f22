"""garbage-collector-controller: objects whose owners (ownerReferences) are all gone are deleted, as
upstream's garbage collector does it, through the API.

A monitor (an informer) per deletable resource discovery finds (CRDs and aggregated APIs included, looked
for again every resync period) feeds the dependency graph (gcgraph). Two queues of uids act on it:

- attempt-to-delete: an object whose owners are all absent is deleted with the policy its own finalizers
  ask for; one whose owner waits in foreground deletion is deleted in the foreground; an owner in foreground
  deletion loses its ``foregroundDeletion`` finalizer once no dependent with blockOwnerDeletion is left;
- attempt-to-orphan: an owner carrying the ``orphan`` finalizer has its references taken out of every
  dependent, then loses the finalizer.

The graph is an index, never the truth: owners are read from the API before anything is deleted.
"""

from __future__ import annotations

import sys
from collections import deque
from typing import Dict, Optional, Tuple

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ..client.informer import SharedInformer, drop_managed_fields
from ..client.resources import Resource
from ..client.rest import APIError
from ..client.workqueue import RateLimitingQueue, run_workers
from .context import ControllerContext
from .discovery import discover, metadata_client
from .gcgraph import FOREGROUND, ORPHAN, Graph, Node, owner_refs

log = Logger()

# Upstream's: never collected, never watched.
IGNORED = frozenset({("", "events"), ("events.k8s.io", "events")})
RESYNC_PERIOD = 30.0
# Besides upstream's periodic resync, discovery is read again soon after a CRD or APIService changes (and
# once more a little later, for a CRD that takes a moment to be served).
API_CHANGE_RESYNCS = (0.2, 2.0)
CUSTOM_RESOURCE_DEFINITIONS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions",
                                       "CustomResourceDefinition", namespaced=False)
API_SERVICES = Resource("apiregistration.k8s.io", "v1", "apiservices", "APIService", namespaced=False)
COMPONENT = "garbage-collector-controller"


def _metadata_kept(obj: dict) -> dict:
    """What a monitor keeps of an object's metadata: no managedFields, and the strings many objects repeat
    (kind, apiVersion, namespace) shared rather than one copy each."""
    obj = drop_managed_fields(obj)
    for key in ("kind", "apiVersion"):
        value = obj.get(key)
        if type(value) is str:
            obj[key] = sys.intern(value)
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and type(metadata.get("namespace")) is str:
        metadata["namespace"] = sys.intern(metadata["namespace"])
    return obj


class GarbageCollector:
    name = COMPONENT

    def __init__(self, ctx: ControllerContext):
        self.ctx = ctx
        self.client = ctx.client
        self.metadata_client = metadata_client(ctx.client)
        self.clock = ctx.clock
        self.workers = int(ctx.option("concurrent-gc-syncs", 20))
        self.resync_period = float(ctx.option("garbage-collector-resync-period", RESYNC_PERIOD))
        self.recorder = ctx.recorder(COMPONENT)
        self.delete_queue = RateLimitingQueue(ctx.clock, "garbage_collector_attempt_to_delete")
        self.orphan_queue = RateLimitingQueue(ctx.clock, "garbage_collector_attempt_to_orphan")
        self.graph = Graph(self.delete_queue.add, self.orphan_queue.add)
        self.monitors: Dict[Resource, SharedInformer] = {}
        # (group, version, kind) -> Resource, and (group, kind) -> Resource for a version no longer served.
        self.kinds: Dict[Tuple[str, str, str], Resource] = {}
        self.group_kinds: Dict[Tuple[str, str], Resource] = {}
        self._resync_call = None
        self._api_change_calls: list = []
        self._graph_changes: deque = deque()
        self._graph_call = None
        self._syncing: Optional[Deferred] = None
        self._stopped = False
        self._workers = []
        self._api_watchers = [SharedInformer(self.client, r, self.clock) for r in (CUSTOM_RESOURCE_DEFINITIONS,
                                                                                     API_SERVICES)]

    # -- lifecycle -------------------------------------------------------------------------------------
    async def run(self) -> None:
        for informer in self._api_watchers:
            informer.add_event_handler(on_add=lambda _: self._api_changed(), on_update=self._api_updated,
                                       on_delete=lambda _: self._api_changed())
            informer.start()
        await self.sync_monitors()
        await self.wait_for_monitors()
        self._workers = [run_workers(self.delete_queue, self.workers, self.attempt_to_delete, "gc delete"),
                         run_workers(self.orphan_queue, self.workers, self.attempt_to_orphan, "gc orphan")]
        self._schedule_resync()

    def stop(self) -> None:
        self._stopped = True
        if self._resync_call is not None and self._resync_call.active():
            self._resync_call.cancel()
        for call in [*self._api_change_calls, self._graph_call]:
            if call is not None and call.active():
                call.cancel()
        for informer in [*self.monitors.values(), *self._api_watchers]:
            informer.stop()
        self.monitors.clear()
        self.delete_queue.shutdown()
        self.orphan_queue.shutdown()

    async def wait_for_monitors(self) -> None:
        for informer in list(self.monitors.values()):
            await informer.wait_for_sync()

    def _schedule_resync(self) -> None:
        if self._stopped:
            return

        def resync():
            d = Deferred.fromCoroutine(self.sync_monitors())
            d.addErrback(self._resync_failed)
            d.addBoth(lambda _: self._schedule_resync())
        self._resync_call = self.clock.callLater(self.resync_period, resync)

    def _api_updated(self, old: dict, new: dict) -> None:
        if old.get("status") != new.get("status") or old.get("spec") != new.get("spec"):
            self._api_changed()

    def _api_changed(self) -> None:
        if self._stopped:
            return
        self._api_change_calls = [c for c in self._api_change_calls if c.active()]
        if self._api_change_calls:
            return
        for delay in API_CHANGE_RESYNCS:
            self._api_change_calls.append(self.clock.callLater(delay, self._resync_now))

    def _resync_now(self) -> None:
        Deferred.fromCoroutine(self.sync_monitors()).addErrback(self._resync_failed)

    def _resync_failed(self, failure) -> None:
        """A resync the apiserver refused (shutting down, a 5xx, a timeout) is told in one line and left to the
        next; anything else with its traceback."""
        if self._stopped:
            return
        if failure.check(APIError):
            log.warn("garbage collector: resyncing the monitors failed: {error}", error=failure.value)
            return
        log.failure("garbage collector: resyncing the monitors failed", failure)

    async def sync_monitors(self) -> None:
        while self._syncing is not None:
            # One at a time; the one asked for now runs after it.
            await self._syncing
        self._syncing = done = Deferred()
        try:
            await self._sync_monitors()
        finally:
            self._syncing = None
            done.callback(None)

    async def _sync_monitors(self) -> None:
        """Watch every deletable resource now served; stop watching the ones gone; learn every kind."""
        everything = await discover(self.client, preferred_only=False)
        kinds, group_kinds = {}, {}
        for api_resource in everything.resources:
            r = api_resource.resource
            kinds.setdefault((r.group, r.version, r.kind), r)
            group_kinds.setdefault((r.group, r.kind), r)
        preferred = await discover(self.client)
        wanted = {a.resource for a in preferred.resources
                  if (a.resource.group, a.resource.plural) not in IGNORED and a.supports("delete", "list", "watch")}
        if self._stopped:
            return
        # A group-version that failed discovery keeps its monitors and kinds until it answers again.
        failed = set(preferred.failed) | set(everything.failed)
        for resource in [r for r in self.monitors if r not in wanted and r.api_version not in failed]:
            self.monitors.pop(resource).stop()
            self.graph.forget_resource(resource)
        for key, resource in list(self.kinds.items()):
            if resource.api_version in failed:
                kinds.setdefault(key, resource)
                group_kinds.setdefault((resource.group, resource.kind), resource)
        self.kinds, self.group_kinds = kinds, group_kinds
        for resource in wanted:
            if resource not in self.monitors:
                self.monitors[resource] = self._monitor(resource)

    def _monitor(self, resource: Resource) -> SharedInformer:
        # Each object's metadata, without managedFields (upstream's metadata informers drop them too), listed
        # in pages so that a big resource's list is never held whole as it came (managedFields included).
        informer = SharedInformer(self.metadata_client, resource, self.clock, transform=_metadata_kept,
                                  consistent_pages=True)
        informer.add_event_handler(on_add=lambda obj: self._graph_change(resource, obj),
                                   on_update=lambda old, new: self._graph_change(resource, new),
                                   on_delete=lambda obj: self._graph_change(resource, obj, deleted=True))
        informer.start()
        return informer

    # -- the graph builder: handlers queue changes, applied in order on the next turn (upstream's graphChanges) --
    def _graph_change(self, resource: Resource, obj: dict, deleted: bool = False) -> None:
        self._graph_changes.append((resource, obj, deleted))
        if self._graph_call is None and not self._stopped:
            self._graph_call = self.clock.callLater(0, self._process_graph_changes)

    def _process_graph_changes(self) -> None:
        self._graph_call = None
        while self._graph_changes:
            resource, obj, deleted = self._graph_changes.popleft()
            if deleted:
                uid = (obj.get("metadata") or {}).get("uid")
                if uid:
                    self.graph.remove(uid)
            else:
                self.graph.observe(resource, obj)

    # -- looking objects up ----------------------------------------------------------------------------
    def resource_for(self, api_version: str, kind: str) -> Optional[Resource]:
        group, _, version = api_version.rpartition("/")
        return self.kinds.get((group, version, kind)) or self.group_kinds.get((group, kind))

    async def _read(self, resource: Resource, namespace: Optional[str], name: str) -> Optional[dict]:
        try:
            return await self.client.get(resource, name, namespace if resource.namespaced else None)
        except APIError as e:
            if e.code in (404, 410):
                return None
            raise

    async def _owner(self, node: Node, ref: dict) -> Tuple[str, Optional[dict]]:
        """("unknown" | "invalid" | "absent" | "present", the owner) for one of ``node``'s references."""
        resource = self.resource_for(ref.get("apiVersion", ""), ref.get("kind", ""))
        if resource is None:
            return "unknown", None
        if resource.namespaced and not node.namespace:
            # A cluster-scoped object cannot be owned by a namespaced one: unresolvable, never collected.
            return "invalid", None
        owner = await self._read(resource, node.namespace, ref.get("name", ""))
        if owner is None or owner["metadata"].get("uid") != ref["uid"]:
            return "absent", None
        return "present", owner

    def _report_invalid_namespace(self, node: Node, ref: dict) -> None:
        namespace = node.namespace or ""
        identity = (f"[{ref.get('apiVersion', '')}/{ref.get('kind', '')}, namespace: {namespace}, "
                    f"name: {ref.get('name', '')}, uid: {ref['uid']}]")
        obj = {"apiVersion": node.api_version, "kind": node.kind,
               "metadata": {"name": node.name, "namespace": namespace, "uid": node.uid}}
        self.recorder.event(obj, "Warning", "OwnerRefInvalidNamespace",
                            f'ownerRef {identity} does not exist in namespace "{namespace}"')

    def _elsewhere(self, node: Node, ref: dict) -> bool:
        """The owner's uid names a namespaced object seen in another namespace (a cross-namespace reference; a
        cluster-scoped owner may be named from anywhere)."""
        owner = self.graph.nodes.get(ref["uid"])
        return owner is not None and owner.observed and bool(owner.namespace) and owner.namespace != node.namespace

    # -- attempt to delete -----------------------------------------------------------------------------
    async def attempt_to_delete(self, uid: str) -> None:
        node = self.graph.nodes.get(uid)
        if node is None:
            return
        if not node.observed:
            await self._check_virtual(node)
            return
        latest = await self._read(node.resource, node.namespace, node.name)
        if latest is None or latest["metadata"].get("uid") != uid:
            self.graph.remove(uid)
            return
        meta = latest["metadata"]
        finalizers = meta.get("finalizers") or []
        if meta.get("deletionTimestamp"):
            if FOREGROUND in finalizers:
                await self._process_deleting_dependents(node)
            return
        refs = owner_refs(meta)
        if not refs:
            return
        solid, dangling, waiting = [], [], []
        for ref in refs:
            state, owner = await self._owner(node, ref)
            if state == "unknown":
                raise LookupError(f"no resource serves {ref.get('apiVersion')}, Kind={ref.get('kind')}")
            if state == "invalid":
                self._report_invalid_namespace(node, ref)
                solid.append(ref)
            elif state == "absent":
                if self._elsewhere(node, ref):
                    self._report_invalid_namespace(node, ref)
                dangling.append(ref)
            elif owner["metadata"].get("deletionTimestamp") and \
                    FOREGROUND in (owner["metadata"].get("finalizers") or []):
                waiting.append(ref)
            else:
                solid.append(ref)
        if solid:
            drop = {r["uid"] for r in dangling + waiting}
            if drop:
                await self._edit(node, lambda m: _drop_refs(m, drop))
            return
        if waiting and node.dependents:
            if any(d is not None and d.deleting_dependents for d in map(self.graph.nodes.get, node.dependents)):
                # A dependent waits on us while we wait on our owner: stop blocking it.
                await self._edit(node, _unblock_refs)
            await self._delete(node, "Foreground", latest)
            return
        policy = "Orphan" if ORPHAN in finalizers else "Foreground" if FOREGROUND in finalizers else "Background"
        await self._delete(node, policy, latest)

    async def _check_virtual(self, node: Node) -> None:
        """An owner only known by reference: if it does not exist, its dependents are looked at again."""
        resource = self.resource_for(node.api_version, node.kind)
        if resource is None:
            raise LookupError(f"no resource serves {node.api_version}, Kind={node.kind}")
        if resource.namespaced and not node.namespace:
            return
        owner = await self._read(resource, node.namespace, node.name)
        if owner is not None and owner["metadata"].get("uid") == node.uid:
            # Its monitor should tell us about it; until it does the node is looked at again (backing off), as
            # upstream does, lest an owner created and deleted while its watch was down leave it for ever.
            raise OwnerNotYetObserved(f"{node.kind} {node.name} ({node.uid}) exists but is not observed yet")
        dependents = list(node.dependents)
        self.graph.nodes.pop(node.uid, None)
        for dependent in dependents:
            self.delete_queue.add(dependent)

    async def _process_deleting_dependents(self, node: Node) -> None:
        blocking = self.graph.blocking_dependents(node)
        if not blocking:
            await self._edit(node, lambda m: _drop_finalizer(m, FOREGROUND))
            return
        for dependent in blocking:
            if not dependent.deleting_dependents:
                self.delete_queue.add(dependent.uid)

    async def _delete(self, node: Node, policy: str, latest: dict) -> None:
        """Delete the object as ``latest`` (just read) showed it: a conflict (it changed since) deletes it only
        if its ownerReferences did not change, else the queue has it looked at again (an owner added meanwhile
        must keep it)."""
        meta = latest["metadata"]
        preconditions = {"uid": node.uid, "resourceVersion": meta.get("resourceVersion")}
        while True:
            try:
                await self.client.delete(node.resource, node.name, node.namespace, propagation_policy=policy,
                                         preconditions=preconditions)
                return
            except APIError as e:
                if e.code == 404:
                    return
                if e.code != 409:
                    raise
            live = await self._read(node.resource, node.namespace, node.name)
            if live is None:
                return
            live_meta = live["metadata"]
            same_version = live_meta.get("resourceVersion") == preconditions["resourceVersion"]
            if live_meta.get("uid") != node.uid or same_version \
                    or (live_meta.get("ownerReferences") or []) != (meta.get("ownerReferences") or []):
                raise OwnersChanged(f"{node.kind} {node.name} changed while being collected; looked at again")
            preconditions["resourceVersion"] = live_meta.get("resourceVersion")

    async def _edit(self, node: Node, change) -> None:
        """Update the object ``node`` stands for with ``change(metadata)``; nothing if it is gone (a conflict
        is retried through the queue)."""
        latest = await self._read(node.resource, node.namespace, node.name)
        if latest is None or latest["metadata"].get("uid") != node.uid:
            return
        change(latest["metadata"])
        try:
            await self.client.update(node.resource, latest)
        except APIError as e:
            if e.code != 404:
                raise

    # -- attempt to orphan -----------------------------------------------------------------------------
    async def attempt_to_orphan(self, uid: str) -> None:
        node = self.graph.nodes.get(uid)
        if node is None or not node.observed:
            return
        for dependent_uid in list(node.dependents):
            dependent = self.graph.nodes.get(dependent_uid)
            if dependent is not None and dependent.observed:
                await self._edit(dependent, lambda m: _drop_refs(m, {uid}))
        await self._edit(node, lambda m: _drop_finalizer(m, ORPHAN))


class OwnerNotYetObserved(Exception):
    """A virtual node's object exists but no monitor has reported it yet: looked at again later."""


class OwnersChanged(Exception):
    """An object's ownerReferences changed between the read that found it garbage and its delete."""


def _drop_refs(meta: dict, owner_uids: set) -> None:
    refs = [r for r in meta.get("ownerReferences") or [] if r.get("uid") not in owner_uids]
    meta["ownerReferences"] = refs


def _unblock_refs(meta: dict) -> None:
    for ref in meta.get("ownerReferences") or []:
        if ref.get("blockOwnerDeletion"):
            ref["blockOwnerDeletion"] = False


def _drop_finalizer(meta: dict, finalizer: str) -> None:
    meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != finalizer]


def start_garbage_collector_controller(ctx: ControllerContext) -> GarbageCollector:
    return GarbageCollector(ctx)

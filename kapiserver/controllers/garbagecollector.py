"""
Garbage collection by ownerReferences, as upstream's garbage collector does it.

An in-memory graph (uid -> node: the object's owners and dependents) is kept
from one watch per stored resource.  Two work queues act on it:

- attempt-to-delete: an object whose owners are all gone (or were never there)
  is deleted, with the policy its own finalizers ask for; an owner in
  foreground deletion waits until no dependent with blockOwnerDeletion is left,
  then loses its ``foregroundDeletion`` finalizer;
- attempt-to-orphan: an owner carrying the ``orphan`` finalizer has its
  references taken out of every dependent, then loses the finalizer.

The graph is an index, never the truth: before deleting anything the owners
are read from their stores, so an object whose owner's watch is late is safe.
"""

from __future__ import annotations

from typing import Optional

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ..machinery.errors import StatusError
from ..registry.gcpolicy import FOREGROUND, ORPHAN
from ..registry.options import DeleteOptions, ListOptions

log = Logger()

RETRY_INTERVAL = 0.5
MAX_RETRY_INTERVAL = 30.0
# How often the set of watched resources is compared with the registry's
# (custom resources come and go with their CRDs).
RESYNC_INTERVAL = 1.0
# Resources the collector never looks at, as upstream.
IGNORED = {("", "events")}
REQUIRED_VERBS = {"delete", "list", "watch"}


class Node:
    """One object in the graph; a virtual node stands for an owner only named by a reference."""
    __slots__ = ("uid", "api_version", "kind", "namespace", "name", "owners", "dependents", "observed",
                 "deleting_dependents", "store")

    def __init__(self, uid: str, api_version: str, kind: str, namespace: Optional[str], name: str,
                 observed: bool, store=None):
        self.uid = uid
        self.api_version = api_version
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.owners: list[dict] = []
        self.dependents: set[str] = set()
        self.observed = observed
        self.deleting_dependents = False
        self.store = store

    def __repr__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"<{self.kind} {where} {self.uid}{'' if self.observed else ' virtual'}>"


def _owner_refs(meta: dict) -> list[dict]:
    return [ref for ref in meta.get("ownerReferences") or [] if isinstance(ref, dict) and ref.get("uid")]


class GarbageCollector:
    def __init__(self, registry, clock, retry_interval: float = RETRY_INTERVAL,
                 resync_interval: float = RESYNC_INTERVAL):
        self.registry = registry
        self.clock = clock
        self.retry_interval = retry_interval
        self.resync_interval = resync_interval
        self.nodes: dict[str, Node] = {}
        self._monitors: dict[bytes, object] = {}        # key_root -> watch handle (None while starting)
        self._monitor_stores: dict[bytes, object] = {}
        self._delete_queue: dict[str, None] = {}
        self._orphan_queue: dict[str, None] = {}
        self._retries: dict[tuple[str, str], object] = {}
        self._failures: dict[tuple[str, str], int] = {}
        self._draining = False
        self._kick_call = None
        self._resync_call = None
        self._syncing = False
        self._stopped = False

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        self._stopped = False
        await self.sync_monitors()
        self._schedule_resync()

    def stop(self) -> None:
        self._stopped = True
        for handle in self._monitors.values():
            if handle is not None:
                handle.cancel()
        self._monitors.clear()
        self._monitor_stores.clear()
        for call in [self._kick_call, self._resync_call, *self._retries.values()]:
            if call is not None and call.active():
                call.cancel()
        self._retries.clear()

    def _schedule_resync(self) -> None:
        if self._stopped:
            return

        def run():
            d = Deferred.fromCoroutine(self.sync_monitors())
            d.addErrback(lambda f: log.failure("garbage collector resync failed", f))
            d.addBoth(lambda _: self._schedule_resync())
        self._resync_call = self.clock.callLater(self.resync_interval, run)

    def watched_stores(self) -> dict:
        """key_root -> the Store to watch it through: one per stored resource."""
        chosen: dict[bytes, object] = {}
        for store in list(self.registry.stores.values()):
            info = store.info
            if (info.storage_gv[0], info.storage_key) in IGNORED or not REQUIRED_VERBS <= set(info.verbs):
                continue
            current = chosen.get(store.key_root)
            # Prefer the version the objects are stored in.
            if current is None or ((info.group, info.version) == tuple(info.storage_gv) and
                                   (current.info.group, current.info.version) != tuple(current.info.storage_gv)):
                chosen[store.key_root] = store
        return chosen

    async def sync_monitors(self) -> None:
        """Watch every stored resource the registry now serves; stop watching the ones gone."""
        if self._syncing or self._stopped:
            return
        self._syncing = True
        try:
            wanted = self.watched_stores()
            for key_root in [k for k in self._monitors if k not in wanted]:
                self._stop_monitor(key_root)
            for key_root, store in wanted.items():
                if key_root not in self._monitors:
                    await self._start_monitor(key_root, store)
        finally:
            self._syncing = False

    async def _start_monitor(self, key_root: bytes, store) -> None:
        self._monitors[key_root] = None
        self._monitor_stores[key_root] = store
        try:
            handle = await store.watch_events(None, ListOptions(), lambda t, o: self._event(key_root, store, t, o))
        except Exception:
            log.failure("garbage collector cannot watch {resource}", resource=store.info.resource)
            self._monitors.pop(key_root, None)
            return
        if self._stopped or self._monitor_stores.get(key_root) is not store:
            handle.cancel()
            return
        self._monitors[key_root] = handle

    def _stop_monitor(self, key_root: bytes) -> None:
        handle = self._monitors.pop(key_root, None)
        self._monitor_stores.pop(key_root, None)
        if handle is not None:
            handle.cancel()
        # Objects of a resource no longer served: check each one again.
        for node in list(self.nodes.values()):
            if node.observed and node.store is not None and node.store.key_root == key_root:
                self._remove(node.uid)

    def _restart_monitor(self, key_root: bytes) -> None:
        """The watch ended (compaction, a closed watcher): watch again and re-check every
        object of the resource, since deletions in the gap were not seen."""
        store = self._monitor_stores.get(key_root)
        self._stop_watch_only(key_root)
        for node in list(self.nodes.values()):
            if node.observed and node.store is not None and node.store.key_root == key_root:
                self.enqueue_delete(node.uid)
        if store is not None and not self._stopped:
            Deferred.fromCoroutine(self._start_monitor(key_root, store)).addErrback(
                lambda f: log.failure("garbage collector re-watch failed", f))

    def _stop_watch_only(self, key_root: bytes) -> None:
        handle = self._monitors.pop(key_root, None)
        if handle is not None:
            handle.cancel()

    # -- the graph -----------------------------------------------------------------------
    def _event(self, key_root: bytes, store, event_type: str, obj: dict) -> None:
        if self._monitor_stores.get(key_root) is not store:
            return      # a cancelled watch still delivering
        if event_type == "ERROR":
            self.clock.callLater(0, self._restart_monitor, key_root)
            return
        meta = obj.get("metadata") or {}
        uid = meta.get("uid")
        if not uid:
            return
        if event_type == "DELETED":
            self._remove(uid)
        elif event_type in ("ADDED", "MODIFIED"):
            self._upsert(store, obj)

    def _upsert(self, store, obj: dict) -> None:
        meta = obj["metadata"]
        uid = meta["uid"]
        refs = _owner_refs(meta)
        node = self.nodes.get(uid)
        if node is None:
            node = Node(uid, obj.get("apiVersion") or store.info.api_version, store.info.kind,
                        meta.get("namespace"), meta.get("name", ""), True, store)
            self.nodes[uid] = node
            old_refs: list[dict] = []
        else:
            old_refs = node.owners
            node.observed = True
            node.store = store
            node.api_version, node.kind = obj.get("apiVersion") or store.info.api_version, store.info.kind
            node.namespace, node.name = meta.get("namespace"), meta.get("name", "")
        old_by_uid = {r["uid"]: r for r in old_refs}
        new_by_uid = {r["uid"]: r for r in refs}
        node.owners = refs
        for owner_uid, ref in new_by_uid.items():
            if owner_uid not in old_by_uid:
                self._link(node, ref)
            elif old_by_uid[owner_uid].get("blockOwnerDeletion") and not ref.get("blockOwnerDeletion"):
                self._owner_may_proceed(owner_uid)
        for owner_uid in old_by_uid:
            if owner_uid not in new_by_uid:
                owner = self.nodes.get(owner_uid)
                if owner is not None:
                    owner.dependents.discard(uid)
                    self._drop_if_unneeded(owner)
                self._owner_may_proceed(owner_uid)
        if meta.get("deletionTimestamp"):
            finalizers = meta.get("finalizers") or []
            if ORPHAN in finalizers:
                self.enqueue_orphan(uid)
            if FOREGROUND in finalizers:
                if not node.deleting_dependents:
                    node.deleting_dependents = True
                    for dependent in node.dependents:
                        self.enqueue_delete(dependent)
                self.enqueue_delete(uid)
        else:
            node.deleting_dependents = False

    def _link(self, node: Node, ref: dict) -> None:
        owner = self.nodes.get(ref["uid"])
        if owner is None:
            # An owner never seen: a virtual node, checked against its store.
            owner = Node(ref["uid"], ref.get("apiVersion", ""), ref.get("kind", ""), node.namespace,
                         ref.get("name", ""), False)
            self.nodes[owner.uid] = owner
            self.enqueue_delete(owner.uid)
        owner.dependents.add(node.uid)

    def _owner_may_proceed(self, owner_uid: str) -> None:
        owner = self.nodes.get(owner_uid)
        if owner is not None and owner.deleting_dependents:
            self.enqueue_delete(owner_uid)

    def _drop_if_unneeded(self, node: Node) -> None:
        if not node.observed and not node.dependents:
            self.nodes.pop(node.uid, None)

    def _remove(self, uid: str) -> None:
        """The object is gone: its dependents may now be garbage, its owners may proceed."""
        node = self.nodes.pop(uid, None)
        if node is None:
            return
        for ref in node.owners:
            owner = self.nodes.get(ref["uid"])
            if owner is not None:
                owner.dependents.discard(uid)
                if owner.deleting_dependents:
                    self.enqueue_delete(owner.uid)
                self._drop_if_unneeded(owner)
        for dependent in node.dependents:
            self.enqueue_delete(dependent)

    # -- the queues ----------------------------------------------------------------------
    def enqueue_delete(self, uid: str) -> None:
        self._delete_queue[uid] = None
        self._kick()

    def enqueue_orphan(self, uid: str) -> None:
        self._orphan_queue[uid] = None
        self._kick()

    def _kick(self) -> None:
        if self._draining or self._stopped or (self._kick_call is not None and self._kick_call.active()):
            return
        self._kick_call = self.clock.callLater(0, self._drain_now)

    def _drain_now(self) -> None:
        self._kick_call = None
        Deferred.fromCoroutine(self._drain()).addErrback(lambda f: log.failure("garbage collector failed", f))

    async def _drain(self) -> None:
        if self._draining:
            return
        self._draining = True
        try:
            while (self._delete_queue or self._orphan_queue) and not self._stopped:
                if self._orphan_queue:
                    uid = next(iter(self._orphan_queue))
                    del self._orphan_queue[uid]
                    kind, work = "orphan", self.attempt_to_orphan
                else:
                    uid = next(iter(self._delete_queue))
                    del self._delete_queue[uid]
                    kind, work = "delete", self.attempt_to_delete
                try:
                    done = await work(uid)
                except Exception as e:
                    if not (isinstance(e, StatusError) and e.code in (409, 429, 500, 503, 504)):
                        log.failure("garbage collector: {kind} {uid} failed", kind=kind, uid=uid)
                    done = False
                if done:
                    self._failures.pop((kind, uid), None)
                else:
                    self._retry(kind, uid)
        finally:
            self._draining = False
        if self._delete_queue or self._orphan_queue:
            self._kick()

    def _retry(self, kind: str, uid: str) -> None:
        """Try again later, backing off (as upstream's rate-limited queues) up to MAX_RETRY_INTERVAL."""
        key = (kind, uid)
        call = self._retries.get(key)
        if call is not None and call.active() or self._stopped:
            return
        failures = self._failures[key] = self._failures.get(key, 0) + 1
        delay = min(self.retry_interval * 2 ** min(failures - 1, 10), MAX_RETRY_INTERVAL)

        def again():
            self._retries.pop(key, None)
            (self.enqueue_orphan if kind == "orphan" else self.enqueue_delete)(uid)
        self._retries[key] = self.clock.callLater(delay, again)

    # -- looking objects up ----------------------------------------------------------------
    def store_for(self, api_version: str, kind: str):
        """The Store serving ``kind`` of ``api_version``, else that kind in another version of the group."""
        group, _, version = api_version.rpartition("/")
        fallback = None
        for store in list(self.registry.stores.values()):
            info = store.info
            if info.kind != kind or info.group != group:
                continue
            if info.version == version:
                return store
            fallback = fallback or store
        return fallback

    async def _read(self, store, namespace: Optional[str], name: str) -> Optional[dict]:
        try:
            return await store.get(namespace if store.info.namespaced else None, name)
        except StatusError as e:
            if e.code == 404:
                return None
            raise

    async def _owner(self, dependent_namespace: Optional[str], ref: dict) -> tuple[str, Optional[dict]]:
        """("unknown" | "absent" | "present", the owner) for one ownerReference."""
        store = self.store_for(ref.get("apiVersion", ""), ref.get("kind", ""))
        if store is None:
            return "unknown", None
        if store.info.namespaced and not dependent_namespace:
            # A cluster-scoped object cannot be owned by a namespaced one.
            return "absent", None
        owner = await self._read(store, dependent_namespace, ref.get("name", ""))
        if owner is None or owner["metadata"].get("uid") != ref["uid"]:
            return "absent", None
        return "present", owner

    # -- attempt to delete ------------------------------------------------------------------
    async def attempt_to_delete(self, uid: str) -> bool:
        """Act on one node; False asks for a retry later."""
        node = self.nodes.get(uid)
        if node is None:
            return True
        if not node.observed:
            return await self._check_virtual(node)
        latest = await self._read(node.store, node.namespace, node.name)
        if latest is None or latest["metadata"].get("uid") != uid:
            self._remove(uid)
            return True
        meta = latest["metadata"]
        finalizers = meta.get("finalizers") or []
        if meta.get("deletionTimestamp"):
            if FOREGROUND in finalizers:
                return await self._process_deleting_dependents(node)
            return True
        refs = _owner_refs(meta)
        if not refs:
            return True
        solid, dangling, waiting = [], [], []
        for ref in refs:
            state, owner = await self._owner(node.namespace, ref)
            if state == "unknown":
                return False
            if state == "absent":
                dangling.append(ref)
            elif owner["metadata"].get("deletionTimestamp") and \
                    FOREGROUND in (owner["metadata"].get("finalizers") or []):
                waiting.append(ref)
            else:
                solid.append(ref)
        if solid:
            drop = {r["uid"] for r in dangling + waiting}
            if drop:
                await self._remove_owner_refs(node, drop)
            return True
        if waiting and node.dependents:
            for dependent_uid in list(node.dependents):
                dependent = self.nodes.get(dependent_uid)
                if dependent is not None and dependent.deleting_dependents:
                    # A dependent waits on us while we wait on our owner: stop blocking it.
                    await self._unblock_owner_refs(node)
                    break
            return await self._delete(node, "Foreground")
        policy = "Orphan" if ORPHAN in finalizers else "Foreground" if FOREGROUND in finalizers else "Background"
        return await self._delete(node, policy)

    async def _check_virtual(self, node: Node) -> bool:
        """An owner only known by reference: if it does not exist, its dependents are garbage."""
        state, _ = await self._owner(node.namespace, {
            "apiVersion": node.api_version, "kind": node.kind, "name": node.name, "uid": node.uid})
        if state == "unknown":
            return False
        if state == "present":
            return True     # its watch will tell us about it
        self._remove(node.uid)
        return True

    async def _process_deleting_dependents(self, node: Node) -> bool:
        blocking = []
        for dependent_uid in list(node.dependents):
            dependent = self.nodes.get(dependent_uid)
            if dependent is None:
                continue
            if any(r["uid"] == node.uid and r.get("blockOwnerDeletion") for r in dependent.owners):
                blocking.append(dependent)
        if not blocking:
            await self._remove_finalizer(node, FOREGROUND)
            return True
        for dependent in blocking:
            if not dependent.deleting_dependents:
                self.enqueue_delete(dependent.uid)
        return True

    async def _delete(self, node: Node, policy: str) -> bool:
        try:
            await node.store.delete(node.namespace, node.name,
                                    DeleteOptions(precondition_uid=node.uid, propagation_policy=policy))
        except StatusError as e:
            if e.code not in (404, 409):
                raise
            if e.code == 409:
                # Another object of that name now, or the precondition raced: look again.
                return await self._gone_or_retry(node)
        return True

    async def _gone_or_retry(self, node: Node) -> bool:
        latest = await self._read(node.store, node.namespace, node.name)
        if latest is None or latest["metadata"].get("uid") != node.uid:
            self._remove(node.uid)
            return True
        return False

    # -- writes on live objects ----------------------------------------------------------------
    async def _edit(self, node: Node, change) -> None:
        """Update the object ``node`` stands for with ``change(metadata)``; nothing if it is gone."""
        def update(old):
            if old is None or old["metadata"].get("uid") != node.uid:
                raise _Gone()
            meta = old["metadata"]
            change(meta)
            meta.pop("resourceVersion", None)
            return old
        try:
            await node.store.update(node.namespace if node.store.info.namespaced else None, node.name, update,
                                    allow_create=False)
        except _Gone:
            pass
        except StatusError as e:
            if e.code != 404:
                raise

    async def _remove_owner_refs(self, node: Node, owner_uids: set[str]) -> None:
        def change(meta):
            refs = [r for r in meta.get("ownerReferences") or [] if r.get("uid") not in owner_uids]
            if refs:
                meta["ownerReferences"] = refs
            else:
                meta.pop("ownerReferences", None)
        await self._edit(node, change)

    async def _unblock_owner_refs(self, node: Node) -> None:
        def change(meta):
            for ref in meta.get("ownerReferences") or []:
                if ref.get("blockOwnerDeletion"):
                    ref["blockOwnerDeletion"] = False
        await self._edit(node, change)

    async def _remove_finalizer(self, node: Node, finalizer: str) -> None:
        def change(meta):
            finalizers = [f for f in meta.get("finalizers") or [] if f != finalizer]
            if finalizers:
                meta["finalizers"] = finalizers
            else:
                meta.pop("finalizers", None)
        await self._edit(node, change)

    # -- attempt to orphan ---------------------------------------------------------------------
    async def attempt_to_orphan(self, uid: str) -> bool:
        """Take the owner's references out of its dependents, then its orphan finalizer off."""
        node = self.nodes.get(uid)
        if node is None or not node.observed:
            return True
        for dependent_uid in list(node.dependents):
            dependent = self.nodes.get(dependent_uid)
            if dependent is None or not dependent.observed:
                continue
            await self._remove_owner_refs(dependent, {uid})
        latest = await self._read(node.store, node.namespace, node.name)
        if latest is None or latest["metadata"].get("uid") != uid:
            return True
        if ORPHAN in (latest["metadata"].get("finalizers") or []):
            await self._remove_finalizer(node, ORPHAN)
        return True


class _Gone(Exception):
    """The object changed identity or went away while being edited."""

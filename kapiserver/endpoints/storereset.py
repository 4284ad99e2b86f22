"""
Store reset (--enable-store-reset): the pytest plugin's reset between tests (kapiserver.testing), over HTTP.

POST /debug/kapiserver/snapshot keeps the store's live keys (its SupportsSnapshot.snapshot); POST
/debug/kapiserver/reset puts them back.  Only a member of system:masters may call either; only the embedded
stores (sqlite, memory) can do it.

Why the watch caches need nothing special: a restore is ordinary writes (kapiserver.storage.interface,
SupportsSnapshot.restore).  Revisions keep increasing, the watch caches receive the restore's events as for
any other write (the embedded stores hand them over before the restore's Deferred fires), so every cache,
resourceVersion and continue token stays consistent.  A reset first ends every watch being served (their
clients see the stream end, as at a watch timeout) but the apiserver's own controllers' and those of the
programs the request names (its body's ``keepWatchesFrom``: User-Agent product names such as
kube-controller-manager, which the pytest plugin's control-plane daemons send); those go on and see the
restore's events as any other writes.  It then drops the fault injection rules and restores: a client
watching through the reset resumes from its last resourceVersion and sees the restore as DELETE, ADDED and
MODIFIED events, as it would see any other writes.

Heartbeats are not rolled back: a Lease in kube-system or kube-node-lease that exists in the snapshot keeps
its current value (apiserver identity leases, node leases); rolled back, their holders' next renewal would
fail on a conflict.  A Lease created since the snapshot is deleted as any other object.
"""

from __future__ import annotations

import json
import time

from twisted.logger import Logger

from ..machinery import codec
from ..machinery.errors import StatusError
from ..storage import Snapshot

log = Logger(namespace="kapiserver.reset")

# Lease namespaces whose objects keep their current value across a reset (heartbeats).
KEEP_LEASE_NAMESPACES = ("kube-system", "kube-node-lease")


class StoreReset:
    """Snapshot and reset of a registry's store, ending ``watches`` (the open WatchResponses) on a reset."""

    def __init__(self, registry, watches: set, injector=None):
        self.registry = registry
        self.watches = watches
        self.injector = injector
        self.snapshot = None

    def _storage(self):
        storages = self.registry.storages
        storage = storages[0]
        if len(storages) != 1 or not hasattr(storage, "snapshot") or not hasattr(storage, "restore"):
            raise StatusError(400, "BadRequest", "the store cannot be reset: only the embedded stores "
                              "(--storage-backend=sqlite or memory) take snapshots", {})
        return storage

    async def take(self) -> dict:
        """Keep the store's live keys as the state later resets restore."""
        self.snapshot = await self._storage().snapshot()
        return {"revision": self.snapshot.revision, "keys": len(self.snapshot.kvs)}

    async def reset(self, keep_watches_from=()) -> dict:
        """End every watch but those of the programs in ``keep_watches_from``, drop the fault rules, and put
        the snapshot back; what was done."""
        if self.snapshot is None:
            raise StatusError(409, "Conflict", "no snapshot to reset to: POST /debug/kapiserver/snapshot first", {})
        storage = self._storage()
        started = time.monotonic()
        ended = 0
        for response in list(self.watches):
            if response.open and response.agent not in keep_watches_from:
                response.end()
                ended += 1
        if self.injector is not None:
            self.injector.clear()
        wanted = await self._with_heartbeats(storage, self.snapshot)
        before = await storage.current_revision()
        revision = await storage.restore(wanted)
        elapsed = time.monotonic() - started
        log.info("Store reset to revision {snap}'s keys: {writes} writes, {ended} watches ended, {ms:.1f} ms",
                 snap=self.snapshot.revision, writes=revision - before, ended=ended, ms=elapsed * 1000)
        return {"revision": revision, "writes": revision - before, "watchesEnded": ended,
                "seconds": round(elapsed, 6)}

    async def _with_heartbeats(self, storage, snapshot: Snapshot) -> Snapshot:
        """``snapshot`` with the kept Leases' current values."""
        prefix = self.registry.prefix + b"/leases/"
        current = {}
        for namespace in KEEP_LEASE_NAMESPACES:
            result = await storage.range(prefix + namespace.encode() + b"/")
            current.update((kv.key, kv) for kv in result.kvs)
        if not current:
            return snapshot
        return Snapshot(snapshot.revision, tuple(current.get(kv.key, kv) for kv in snapshot.kvs))


async def handle(reset: StoreReset, method: bytes, which: str, body: bytes = b"") -> tuple[int, bytes]:
    """(HTTP status, JSON body) of POST /debug/kapiserver/snapshot or /debug/kapiserver/reset."""
    if method != b"POST":
        raise StatusError(405, "MethodNotAllowed",
                          "the server does not allow this method on the requested resource", {})
    if which == "snapshot":
        return 200, codec.encode(await reset.take())
    return 200, codec.encode(await reset.reset(_keep_watches_from(body)))


def _keep_watches_from(body: bytes) -> frozenset:
    """The reset request's ``keepWatchesFrom`` (a list of User-Agent product names; none by default)."""
    if not body.strip():
        return frozenset()
    try:
        request = json.loads(body)
    except ValueError as e:
        raise StatusError(400, "BadRequest", f"the reset request is not JSON: {e}", {}) from None
    names = request.get("keepWatchesFrom", []) if isinstance(request, dict) else None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise StatusError(400, "BadRequest", "keepWatchesFrom must be a list of User-Agent product names", {})
    return frozenset(names)

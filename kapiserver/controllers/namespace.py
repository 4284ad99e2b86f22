"""
Namespace finalization: once a namespace is marked for deletion, delete
everything in it, and when nothing is left, take the ``kubernetes``
finalizer off (through /finalize) so the namespace itself goes.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ..machinery.errors import StatusError
from ..registry.options import DeleteOptions, ListOptions

log = Logger()
RETRY_INTERVAL = 2.0
FINALIZER = "kubernetes"


class NamespaceController:
    def __init__(self, registry, clock):
        self.registry = registry
        self.clock = clock
        self.namespaces = registry.store("", "v1", "namespaces")
        self._busy: set[str] = set()
        self._watch = None
        self._retries: dict = {}

    async def start(self) -> None:
        self._watch = await self.namespaces.watch_events(None, ListOptions(), self._event)

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        for call in self._retries.values():
            if call.active():
                call.cancel()
        self._retries.clear()

    def _event(self, event_type: str, obj: dict) -> None:
        if event_type in ("ADDED", "MODIFIED") and obj.get("metadata", {}).get("deletionTimestamp"):
            self.schedule(obj["metadata"]["name"])

    def schedule(self, name: str, delay: float = 0) -> None:
        if name in self._retries and self._retries[name].active():
            return
        self._retries[name] = self.clock.callLater(delay, self._run, name)

    def _run(self, name: str) -> None:
        self._retries.pop(name, None)
        if name in self._busy:
            return
        self._busy.add(name)
        d = Deferred.fromCoroutine(self.sync(name))

        def done(result):
            self._busy.discard(name)
            if result is False or isinstance(result, Exception):
                self.schedule(name, RETRY_INTERVAL)
        d.addErrback(lambda f: (log.failure("namespace {name} finalization failed", f, name=name), f.value)[1])
        d.addBoth(done)

    def namespaced_stores(self):
        seen = set()
        for store in self.registry.stores.values():
            info = store.info
            if not info.namespaced or "deletecollection" not in info.verbs:
                continue
            if store.key_root in seen:
                continue    # one storage served in several versions
            seen.add(store.key_root)
            yield store

    async def sync(self, name: str) -> bool:
        """Delete the namespace's content; True when the namespace could be finalized."""
        try:
            namespace = await self.namespaces.get(None, name)
        except StatusError as e:
            if e.code == 404:
                return True
            raise
        if not namespace["metadata"].get("deletionTimestamp"):
            return True
        if FINALIZER not in ((namespace.get("spec") or {}).get("finalizers") or []):
            return True
        remaining = 0
        for store in self.namespaced_stores():
            deleted, _ = await store.delete_collection(name, ListOptions(), DeleteOptions())
            items, _ = await store.list(name, ListOptions())
            remaining += len(items)
        if remaining:
            return False

        def finalize(old):
            if old is None:
                raise StatusError(404, "NotFound", "gone")
            new = dict(old)
            finalizers = [f for f in (old.get("spec") or {}).get("finalizers") or [] if f != FINALIZER]
            new["spec"] = {"finalizers": finalizers} if finalizers else {}
            return new
        await self.namespaces.update(None, name, lambda old: finalize(old), subresource="finalize",
                                     allow_create=False)
        return True

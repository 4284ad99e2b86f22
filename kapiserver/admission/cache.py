"""
A read cache for what admission plugins look up on every write (webhook
configurations, admission policies), so that writes to other resources cost no
extra reads.  A value is dropped when its resource changes, told by a watch of
it (``watch``): a change made through another apiserver, or another --workers
worker, is seen here once its event arrives.  Writes of the cached resource
that pass through this process's admission also mark the cache stale; for a
short while after, every lookup reads again, so the write that was being
admitted is seen once it has landed, before its event.
"""

from __future__ import annotations

import time
from typing import Any, Awaitable, Callable, Optional

SETTLE_SECONDS = 2.0

# watch(key, changed) -> awaitable of a handle with cancel() (or None: nothing to watch); changed(event_type)
# for each of the resource's events, "ERROR" when the watch ends.
Watch = Callable[[str, Callable[[str], None]], Awaitable[Any]]


async def watch_resource(registry, group: str, resource: str, changed: Callable[[str], None]) -> Any:
    """A Watch's work for ``group``/v1 ``resource`` of ``registry``: its events told to ``changed``; None when
    the resource is not served."""
    from ..registry.options import ListOptions
    store = registry.lookup(group, "v1", resource)
    if store is None:
        return None
    return await store.watch_events(None, ListOptions(), lambda event_type, _obj: changed(event_type))


class AdmissionReadCache:
    def __init__(self, load: Callable[[str], Awaitable[list]], clock=time.monotonic, watch: Optional[Watch] = None):
        self.load = load
        self.clock = clock
        self.watch = watch
        self.values: dict[str, list] = {}
        self.stale_until = 0.0
        self._watches: dict[str, Any] = {}      # key -> its watch's handle, once established

    def invalidate(self) -> None:
        self.values.clear()
        self.stale_until = self.clock() + SETTLE_SECONDS

    async def get(self, key: str = "") -> list:
        if self.clock() < self.stale_until:
            return await self.load(key)
        if key in self.values:
            return self.values[key]
        if self.watch is not None and key not in self._watches:
            # Watched before it is read: a change between the two drops what the read found.
            self._watches[key] = None
            try:
                self._watches[key] = await self.watch(key, lambda event_type: self._changed(key, event_type))
            except Exception:
                del self._watches[key]
                raise
        value = await self.load(key)
        if self.watch is None or self._watches.get(key) is not None:
            self.values[key] = value
        return value

    def _changed(self, key: str, event_type: str) -> None:
        self.values.pop(key, None)
        if event_type == "ERROR":
            # The watch has ended: read again, and watch again, at the next lookup.
            self._watches.pop(key, None)

    def stop(self) -> None:
        """End the watches."""
        watches, self._watches = self._watches, {}
        for handle in watches.values():
            if handle is not None:
                handle.cancel()

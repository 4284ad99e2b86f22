"""
A read cache for what admission plugins look up on every write (webhook
configurations, quotas), so that writes to other resources cost no extra
reads.  Writes of the cached resource pass through admission first, which
marks the cache stale; for a short while after, every lookup reads again, so
the write that was being admitted is seen once it has landed.
"""

from __future__ import annotations

import time
from typing import Awaitable, Callable

SETTLE_SECONDS = 2.0


class AdmissionReadCache:
    def __init__(self, load: Callable[[str], Awaitable[list]], clock=time.monotonic):
        self.load = load
        self.clock = clock
        self.values: dict[str, list] = {}
        self.stale_until = 0.0

    def invalidate(self) -> None:
        self.values.clear()
        self.stale_until = self.clock() + SETTLE_SECONDS

    async def get(self, key: str = "") -> list:
        if self.clock() < self.stale_until:
            return await self.load(key)
        if key not in self.values:
            self.values[key] = await self.load(key)
        return self.values[key]

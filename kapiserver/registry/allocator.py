"""
Allocators for service cluster IPs and node ports, kept in storage itself: a
value is taken by creating its key (create-if-absent), so two apiservers on
one store can never hand out the same one, and freed by deleting the key.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Optional

from ..machinery import errors
from ..storage import KeyExists, KeyNotFound, Storage


class RangeAllocator:
    def __init__(self, storage: Storage, key_root: bytes, candidates_size: int, value_at, index_of,
                 describe: str, describe_range: str, rng: Optional[random.Random] = None):
        self.storage = storage
        self.key_root = key_root.rstrip(b"/") + b"/"
        self.size = candidates_size
        self.value_at = value_at
        self.index_of = index_of
        self.describe = describe
        self.describe_range = describe_range
        self.rng = rng or random.Random()

    def _key(self, value: str) -> bytes:
        return self.key_root + value.encode()

    async def allocate(self, value: str, owner: str) -> bool:
        """Take a specific value; False when it is already taken."""
        try:
            await self.storage.create(self._key(value), owner.encode())
        except KeyExists:
            return False
        return True

    async def allocate_next(self, owner: str) -> str:
        """Take a free value, at random as upstream does."""
        if self.size <= 0:
            raise errors.internal_error(f"range is full: no {self.describe} available")
        start = self.rng.randrange(self.size)
        # Random probes first, then a scan, so a nearly full range still finds a hole.
        for attempt in range(min(32, self.size)):
            value = self.value_at(self.rng.randrange(self.size))
            if value is not None and await self.allocate(value, owner):
                return value
        taken = {kv.key[len(self.key_root):].decode()
                 for kv in (await self.storage.range(self.key_root)).kvs}
        for offset in range(self.size):
            value = self.value_at((start + offset) % self.size)
            if value is not None and value not in taken and await self.allocate(value, owner):
                return value
        raise errors.internal_error(f"range is full: no {self.describe} available")

    async def release(self, value: str) -> None:
        try:
            await self.storage.delete(self._key(value))
        except KeyNotFound:
            pass

    def contains(self, value: str) -> bool:
        return self.index_of(value) is not None


class DryRunAllocator:
    """A RangeAllocator as a dry run sees it (upstream's dry-run allocators): a value is handed out when it is free
    now, and nothing is written, so a dry run takes nothing from a real one."""

    def __init__(self, allocator: RangeAllocator):
        self.allocator = allocator
        self.handed: set = set()        # values this dry run has handed out already

    def __getattr__(self, name):
        return getattr(self.allocator, name)      # contains, describe_range, family...

    async def allocate(self, value: str, owner: str) -> bool:
        if value in self.handed or await self.allocator.storage.get(self.allocator._key(value)) is not None:
            return False
        self.handed.add(value)
        return True

    async def allocate_next(self, owner: str) -> str:
        allocator = self.allocator
        taken = {kv.key[len(allocator.key_root):].decode()
                 for kv in (await allocator.storage.range(allocator.key_root)).kvs} | self.handed
        start = allocator.rng.randrange(allocator.size) if allocator.size > 0 else 0
        for offset in range(allocator.size):
            value = allocator.value_at((start + offset) % allocator.size)
            if value is not None and value not in taken:
                self.handed.add(value)
                return value
        raise errors.internal_error(f"range is full: no {allocator.describe} available")

    async def release(self, value: str) -> None:
        self.handed.discard(value)


def service_ip_allocator(storage: Storage, prefix: bytes, network) -> RangeAllocator:
    """Cluster IPs from ``network``, leaving out the network and broadcast
    addresses; the first usable address belongs to the kubernetes service."""
    first = int(network.network_address) + 1
    size = max(network.num_addresses - 2, 0) if network.version == 4 else max(network.num_addresses - 1, 0)
    size = min(size, 1 << 20)

    def value_at(index: int) -> Optional[str]:
        return str(ipaddress.ip_address(first + index))

    def index_of(value: str) -> Optional[int]:
        try:
            index = int(ipaddress.ip_address(value)) - first
        except ValueError:
            return None
        return index if 0 <= index < size else None

    allocator = RangeAllocator(storage, prefix + b"/ranges/serviceips", size, value_at, index_of, "IPs",
                               str(network))
    # The cluster's one service IP family (a single --service-cluster-ip-range: single-stack).
    allocator.family = "IPv6" if network.version == 6 else "IPv4"
    return allocator


def node_port_allocator(storage: Storage, prefix: bytes, low: int, high: int) -> RangeAllocator:
    size = high - low + 1

    def value_at(index: int) -> Optional[str]:
        return str(low + index)

    def index_of(value: str) -> Optional[int]:
        try:
            port = int(value)
        except ValueError:
            return None
        return port - low if low <= port <= high else None

    return RangeAllocator(storage, prefix + b"/ranges/servicenodeports", size, value_at, index_of,
                          "ports", f"{low}-{high}")

"""
Vouching for a watch cache on etcd without waiting for etcd's progress notifications.

A consistent read from a watch cache needs to know that the cache's etcd watch has
delivered every change under its prefix up to storage's current revision R.  Each
resource has its own watch (its own stream), so a quiet resource hears nothing until
etcd's next periodic progress notification (every 10 minutes by default), and etcd's
RequestProgress is neither reachable through the JSON gateway's half-duplex HTTP/1.1
streams nor correct before etcd 3.5.8 (etcd-io/etcd#15220).

Instead, one more watch (the *root watch*) covers the whole storage root the resource
prefixes live under (``/registry/``), without values' previous versions.  It keeps, for
every tracked resource prefix, the revision of the last change under it that it saw
(``PrefixTracker``).  Once the root watch has delivered revision R (it delivers in
revision order: every change under the root up to its last revision G has reached it),
a resource watch has delivered every change under its prefix up to G as soon as it has
delivered that prefix's last change; that is an event known to exist, which arrives on
its own stream within a round trip, rather than a notification that may be minutes
away.

Why this holds: a resource's cache registers its prefix (``track``) before the range
that fills it, so its watch starts at a revision F read after the registration.  A change
under the prefix at a revision above F happened after the registration, so the root
watch recorded it when delivering it; if its revision is at most G it has been
delivered, and so it is at most the recorded last change.  Changes the root watch cannot
have seen (those up to the revision it started from, again after etcd compacted its
history away) raise every prefix's requirement to that start revision.

A revision written outside the root (another program, another --etcd-prefix on the same
etcd) is never delivered by the root watch until its next progress notification: the
wait for it gives up after the caller's timeout and the caller reads etcd instead.
"""

from __future__ import annotations

from typing import Any, Optional

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger

log = Logger()


def root_of(prefix: bytes) -> Optional[bytes]:
    """The storage root a resource prefix lives under: its first path segment (``/registry/`` of
    ``/registry/pods/``); None for a prefix that does not start with one and go deeper."""
    if not prefix.startswith(b"/") or not prefix.endswith(b"/"):
        return None
    end = prefix.find(b"/", 1)
    if end < 0 or end + 1 >= len(prefix):
        return None
    return prefix[:end + 1]


class PrefixTracker:
    """The root watch's record (sans IO): per tracked prefix, the lowest revision a watch of it must have
    delivered to be as current as the root watch (``required``)."""

    def __init__(self) -> None:
        self._last: dict[bytes, int] = {}
        self.start: Optional[int] = None        # the revision the root watch started after

    def track(self, prefix: bytes) -> None:
        """Start recording changes under ``prefix`` (one ending in "/").  Changes made before this call are
        the business of the range that fills the cache after it."""
        if prefix not in self._last:
            self._last[prefix] = self.start or 0

    def tracked(self, prefix: bytes) -> bool:
        return prefix in self._last

    def started(self, revision: int) -> None:
        """The root watch (re)starts after ``revision``: it cannot have seen what came before, so every
        prefix's watch must have reached it."""
        self.start = revision
        for prefix, last in self._last.items():
            if last < revision:
                self._last[prefix] = revision

    def saw(self, key: bytes, revision: int) -> None:
        """The root watch delivered a change of ``key`` at ``revision``."""
        last = self._last
        at = key.find(b"/", 1)
        while at >= 0:
            prefix = key[:at + 1]
            if prefix in last:
                last[prefix] = revision
            at = key.find(b"/", at + 1)

    def required(self, prefix: bytes) -> int:
        return self._last[prefix]


class RootVouch:
    """The root watch of one storage root on an Etcd3Storage, started by the first ``track``."""

    def __init__(self, storage: Any, root: bytes, clock: Any):
        self._storage = storage
        self.root = root
        self._clock = clock
        self.tracker = PrefixTracker()
        self.watcher: Any = None             # the root watch, once started
        self._starting: Optional[Deferred] = None
        self._ready: list[Deferred] = []
        self._stopped = False

    def track(self, prefix: bytes) -> Deferred:
        """Fires True once changes under ``prefix`` are recorded and the root watch is started (False if it
        could not be: the storage is closed)."""
        self.tracker.track(prefix)
        if self.watcher is not None:
            return succeed(True)
        d: Deferred = Deferred()
        self._ready.append(d)
        self._start()
        return d

    def _start(self) -> None:
        if self._starting is not None or self._stopped:
            return
        self._starting = self._storage.current_revision()
        self._starting.addCallbacks(self._open, self._start_failed)

    def _open(self, revision: int) -> None:
        self._starting = None
        if self._stopped:
            return
        self.tracker.started(revision)
        self.watcher = self._storage._root_watch(self.root, revision, self._saw, self._compacted)
        ready, self._ready = self._ready, []
        for d in ready:
            d.callback(True)

    def _start_failed(self, failure) -> None:
        self._starting = None
        if self._stopped:
            return
        log.warn("etcd root watch of {root!r} could not start ({why}); retrying", root=self.root,
                 why=failure.getErrorMessage())
        self._clock.callLater(1.0, self._start)

    def _saw(self, key: bytes, revision: int) -> None:
        self.tracker.saw(key, revision)

    def _compacted(self, compact_revision: int) -> None:
        # The root watch fell behind etcd's compaction: start again from now (raising every prefix's
        # requirement to the new start); until then nothing is vouched for.
        log.info("etcd root watch of {root!r} was compacted away at {rev}; restarting", root=self.root,
                 rev=compact_revision)
        self.watcher = None
        self._start()

    def stop(self) -> None:
        self._stopped = True
        ready, self._ready = self._ready, []
        for d in ready:
            d.callback(False)

    async def vouch(self, handle: Any, revision: int, timeout: float) -> Optional[int]:
        """A revision G >= ``revision`` up to which ``handle`` (a watch of a tracked prefix, started at or
        after a revision read once ``track`` fired) has delivered every change under its prefix; None if
        that could not be established within ``timeout`` seconds (about: each of the two waits has it)."""
        prefix = handle.prefix
        root = self.watcher
        if root is None or handle.cancelled or not self.tracker.tracked(prefix):
            return None
        if root.last < revision:
            # A write in flight on the root watch, or one outside the root (never delivered until the
            # next progress notification): bounded.
            if not await self._within(root.reached(revision), timeout):
                return None
            if root is not self.watcher or root.cancelled or root.last < revision:
                return None
        # Taken together, synchronously: every change under the prefix up to ``vouched`` is at most ``needed``.
        vouched, needed = root.last, self.tracker.required(prefix)
        if handle.last < needed:
            if not await self._within(handle.reached(needed), timeout):
                return None
            if handle.cancelled or handle.last < needed:
                return None
        return vouched

    def _within(self, d: Deferred, timeout: float) -> Deferred:
        """Fires True when ``d`` does, False after ``timeout`` seconds (``d`` is then cancelled)."""
        if d.called:
            return succeed(True)
        out: Deferred = Deferred()

        def expire() -> None:
            if not out.called:
                out.callback(False)
                d.cancel()

        timer = self._clock.callLater(timeout, expire)

        def fired(result: Any) -> None:
            if timer.active():
                timer.cancel()
            if not out.called:
                out.callback(True)
        d.addBoth(fired)
        return out

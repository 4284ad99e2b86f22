"""
Event TTL (--event-ttl): an event expires that long after its last write.

Upstream attaches an etcd lease to every event write; here one controller
keeps each event's deadline from a watch (a write seen now expires at
now + ttl; events already stored when it starts count from their newest
timestamp) and deletes the event when its deadline passes, unless it was
written again meanwhile (the delete carries the resourceVersion it expired at).
core/v1 and events.k8s.io/v1 events share one storage, so one watch does.
"""

from __future__ import annotations

import heapq
from typing import Optional

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ..machinery import meta
from ..machinery.errors import StatusError
from ..registry.options import DeleteOptions, ListOptions

log = Logger()
RETRY_INTERVAL = 5.0


def last_written(event: dict) -> Optional[float]:
    """The newest of the event's own timestamps (seconds), None when it has none."""
    times = []
    series = event.get("series") or {}
    for text in (event.get("metadata", {}).get("creationTimestamp"), event.get("lastTimestamp"),
                 event.get("firstTimestamp"), event.get("eventTime"),
                 series.get("lastObservedTime") if isinstance(series, dict) else None):
        if isinstance(text, str) and text:
            try:
                times.append(meta.parse_time(text))
            except ValueError:
                continue
    return max(times) if times else None


class EventTTLController:
    def __init__(self, registry, clock, ttl: float):
        self.store = registry.store("", "v1", "events")
        self.clock = clock
        self.ttl = float(ttl)
        # uid -> (deadline, namespace, name, resourceVersion); the heap holds (deadline, uid)
        # entries, stale ones skipped when popped.
        self.deadlines: dict[str, tuple[float, str, str, str]] = {}
        self._heap: list[tuple[float, str]] = []
        self._watch = None
        self._timer = None
        self._stopped = False
        self._expiring = False

    async def start(self) -> None:
        self._stopped = False
        items, list_meta = await self.store.list(None, ListOptions())
        now = self.clock.seconds()
        for event in items:
            written = last_written(event)
            self._track(event, min(written, now) if written is not None else now)
        self._watch = await self.store.watch_events(None, ListOptions(resource_version=list_meta["resourceVersion"]),
                                             self._event)
        self._arm()

    def stop(self) -> None:
        self._stopped = True
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _event(self, event_type: str, obj: dict) -> None:
        if event_type == "ERROR":
            # The watch fell behind (compaction): start again from a fresh list.
            self.clock.callLater(0, self._restart)
            return
        uid = obj.get("metadata", {}).get("uid")
        if not uid:
            return
        if event_type == "DELETED":
            self.deadlines.pop(uid, None)
        elif event_type in ("ADDED", "MODIFIED"):
            self._track(obj, self.clock.seconds())
            self._arm()

    def _restart(self) -> None:
        if self._stopped:
            return
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        self.deadlines.clear()
        self._heap.clear()
        Deferred.fromCoroutine(self.start()).addErrback(self._start_failed)

    def _start_failed(self, failure) -> None:
        log.failure("event TTL controller could not restart its watch", failure)
        if not self._stopped:
            self.clock.callLater(RETRY_INTERVAL, self._restart)

    def _track(self, event: dict, written: float) -> None:
        m = event["metadata"]
        deadline = written + self.ttl
        self.deadlines[m["uid"]] = (deadline, m.get("namespace", ""), m["name"], m.get("resourceVersion", ""))
        heapq.heappush(self._heap, (deadline, m["uid"]))

    def _arm(self) -> None:
        """Set the timer for the earliest deadline."""
        if self._stopped:
            return
        while self._heap:
            deadline, uid = self._heap[0]
            current = self.deadlines.get(uid)
            if current is not None and current[0] == deadline:
                break
            heapq.heappop(self._heap)
        if not self._heap:
            return
        delay = max(self._heap[0][0] - self.clock.seconds(), 0)
        if self._timer is not None and self._timer.active():
            if self._timer.getTime() <= self.clock.seconds() + delay:
                return
            self._timer.cancel()
        self._timer = self.clock.callLater(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        if self._expiring:
            return
        self._expiring = True
        d = Deferred.fromCoroutine(self.expire())
        d.addErrback(lambda f: log.failure("event expiry failed", f))

        def done(_):
            self._expiring = False
            self._arm()
        d.addBoth(done)

    async def expire(self) -> int:
        """Delete every event past its deadline; how many were deleted."""
        deleted = 0
        now = self.clock.seconds()
        while self._heap and self._heap[0][0] <= now and not self._stopped:
            deadline, uid = heapq.heappop(self._heap)
            current = self.deadlines.get(uid)
            if current is None or current[0] != deadline:
                continue
            _, namespace, name, rv = current
            try:
                await self.store.delete(namespace, name, DeleteOptions(
                    precondition_uid=uid, precondition_resource_version=rv or None))
                deleted += 1
                self.deadlines.pop(uid, None)
            except StatusError as e:
                if e.code == 404:
                    self.deadlines.pop(uid, None)
                elif e.code == 409:
                    # Written again since: its watch event re-tracks it (or already has).
                    if self.deadlines.get(uid, (None,))[0] == deadline:
                        self.deadlines.pop(uid, None)
                else:
                    self._retry_later(uid, current)
            except Exception:
                log.failure("could not delete expired event {ns}/{name}", ns=namespace, name=name)
                self._retry_later(uid, current)
        return deleted

    def _retry_later(self, uid: str, current) -> None:
        deadline = self.clock.seconds() + RETRY_INTERVAL
        self.deadlines[uid] = (deadline,) + tuple(current[1:])
        heapq.heappush(self._heap, (deadline, uid))

"""The scheduler's events, written as upstream's kube-scheduler writes them: events.k8s.io/v1 Events (client-go's
tools/events recorder, which it uses whenever the server serves that group), not core/v1 ones.

Rules (client-go's new-API broadcaster):

- An Event names the object it is about (``regarding``), another one when there is one (``related``: the
  preemptor of a Preempted event), an ``action`` ("Scheduling", "Binding", "Preempting"), a ``note``, an
  ``eventTime`` in microseconds, and ``reportingController``/``reportingInstance``: the profile's
  schedulerName and that name with "-<hostname>" after it.  No ``source``, ``count`` or first/last timestamps.
- Events alike (same controller, instance, action, reason, regarding and related objects; the note is not
  compared) make a series: the second is a patch of the first's ``series`` (count 2, lastObservedTime), later
  ones only count in memory until the 30-minute refresh or the end of the series writes the count.  The note
  stays the first one's.
- A series ends (its count is written, and it is forgotten) 6 minutes after it was last seen; a single event
  is forgotten 6 minutes after it happened, so the next alike makes a new Event.

Writes for one key go one at a time, in order, so a series' patch never overtakes the Event's create.
"""

from __future__ import annotations

import socket
from typing import Mapping, Optional

from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ..client.events import object_reference
from ..client.resources import EVENTS_V1
from ..client.rest import APIError, Client
from ..machinery.meta import rfc3339_micro

log = Logger()

REFRESH_PERIOD = 30 * 60.0    # refreshTime
FINISH_PERIOD = 6 * 60.0      # finishTime


def _identity(reference: Optional[Mapping]) -> tuple:
    return tuple(sorted((reference or {}).items()))


class _Entry:
    __slots__ = ("event", "count", "last_observed", "written", "tail")

    def __init__(self, event: dict, now: float):
        self.event = event              # as created (its namespace and name are what a patch needs)
        self.count = 0                  # 0: no series yet
        self.last_observed = now
        self.written = 0                # the series count the server has
        self.tail: Optional[Deferred] = None    # fires when this key's last write is done


class EventBroadcaster:
    """One per scheduler; ``record`` is each profile's recorder.  ``pending`` holds the writes under way."""

    def __init__(self, client: Client, clock=None, hostname: Optional[str] = None):
        if clock is None:
            from twisted.internet import reactor as clock
        self.client = client
        self.clock = clock
        self.hostname = hostname if hostname is not None else socket.gethostname()
        self._cache: dict[tuple, _Entry] = {}
        self._last_nanos = 0
        self._calls: list = []
        self.pending: set[Deferred] = set()

    def start(self) -> None:
        """The periodic refresh of series and the end of series gone quiet."""
        self._every(REFRESH_PERIOD, self.refresh_series)
        self._every(FINISH_PERIOD, self.finish_series)

    def _every(self, period: float, func) -> None:
        loop = task.LoopingCall(func)
        loop.clock = self.clock
        loop.start(period, now=False)
        self._calls.append(loop)

    def stop(self) -> None:
        for loop in self._calls:
            if loop.running:
                loop.stop()
        self._calls = []

    # --- recording ------------------------------------------------------------------------------

    def record(self, controller: str, regarding: Mapping, related: Optional[Mapping], type_: str, reason: str,
               action: str, note: str) -> Optional[Deferred]:
        """One event by ``controller`` (the profile's schedulerName); a Deferred for the write it makes, if any."""
        now = self.clock.seconds()
        instance = f"{controller}-{self.hostname}"
        ref = object_reference(regarding)
        related_ref = object_reference(related) if related is not None else None
        key = (controller, instance, action, reason, _identity(ref), _identity(related_ref))
        entry = self._cache.get(key)
        if entry is not None:
            entry.last_observed = now
            if entry.count:
                entry.count += 1
                return None
            entry.count = 2
            return self._write(entry, self._patch_series)
        # Names are the time in nanoseconds; two in the same nanosecond (a clock that does not move) would
        # clash, so each is at least one past the last.
        nanos = self._last_nanos = max(int(now * 1e9), self._last_nanos + 1)
        event = {"apiVersion": "events.k8s.io/v1", "kind": "Event",
                 "metadata": {"name": f"{ref.get('name', '')}.{nanos:x}",
                              "namespace": ref.get("namespace") or "default"},
                 "eventTime": rfc3339_micro(now), "reportingController": controller, "reportingInstance": instance,
                 "action": action, "reason": reason, "regarding": ref, "note": note, "type": type_}
        if related_ref is not None:
            event["related"] = related_ref
        entry = self._cache[key] = _Entry(event, now)
        return self._write(entry, self._create)

    def _write(self, entry: _Entry, how) -> Deferred:
        before, done = entry.tail, Deferred()
        entry.tail = done

        async def write():
            try:
                if before is not None:
                    await before
                await how(entry)
            finally:
                done.callback(None)
        d = Deferred.fromCoroutine(write())
        self.pending.add(d)

        def written(result):
            self.pending.discard(d)
            if hasattr(result, "check"):
                log.info("event {reason} not written: {error}", reason=entry.event["reason"], error=result.value)
            return None
        return d.addBoth(written)

    async def _create(self, entry: _Entry) -> None:
        body = dict(entry.event)
        if entry.count:
            body["series"] = self._series(entry)
        await self.client.create(EVENTS_V1, body, namespace=body["metadata"]["namespace"])
        entry.written = entry.count

    async def _patch_series(self, entry: _Entry) -> None:
        meta = entry.event["metadata"]
        try:
            await self.client.patch(EVENTS_V1, meta["name"], {"series": self._series(entry)},
                                    namespace=meta["namespace"], patch_type="strategic")
            entry.written = entry.count
        except APIError as e:
            if e.code != 404:
                raise
            await self._create(entry)    # gone (its TTL): written anew, with the series

    def _series(self, entry: _Entry) -> dict:
        return {"count": entry.count, "lastObservedTime": rfc3339_micro(entry.last_observed)}

    # --- the periodic work ----------------------------------------------------------------------

    def refresh_series(self) -> None:
        """Every series' count and last time written again (refreshExistingEventSeries)."""
        for entry in self._cache.values():
            if entry.count:
                self._write(entry, self._patch_series)

    def finish_series(self) -> None:
        """Series quiet for 6 minutes get their final count written and are forgotten, as are single
        events older than that (finishSeries)."""
        cutoff = self.clock.seconds() - FINISH_PERIOD
        for key, entry in list(self._cache.items()):
            if entry.last_observed >= cutoff:
                continue
            if entry.count and entry.count != entry.written:
                self._write(entry, self._patch_series)
            del self._cache[key]

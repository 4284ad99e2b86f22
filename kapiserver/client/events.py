"""Events as client-go's record package writes them: core/v1 Events about an object, from a component,
written in the background; the same event again (same object, type, reason and message) within ten minutes
increments the first one's ``count`` and ``lastTimestamp`` instead of making another."""

from __future__ import annotations

from collections import OrderedDict
from typing import Mapping, Optional, Tuple

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ..machinery.meta import rfc3339
from .resources import EVENTS
from .rest import APIError, Client

log = Logger()
AGGREGATION_WINDOW = 600.0
CACHE_SIZE = 4096


def object_reference(obj: Mapping) -> dict:
    """reference.GetReference: kind, namespace, name, uid, apiVersion, resourceVersion in Go's field order (empty
    ones left out)."""
    meta = obj.get("metadata") or {}
    reference = {"kind": obj.get("kind", ""), "namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
                 "uid": meta.get("uid", ""), "apiVersion": obj.get("apiVersion", ""),
                 "resourceVersion": meta.get("resourceVersion", "")}
    return {k: v for k, v in reference.items() if v}


class EventRecorder:
    def __init__(self, client: Client, component: str, host: Optional[str] = None, clock=None):
        if clock is None:
            from twisted.internet import reactor as clock
        self.client = client
        self.component = component
        self.host = host
        self.clock = clock
        # (involvedObject uid/name, type, reason, message) -> [namespace, event name, count, first seen, the key's
        # last write (fires once it is done)]
        self._seen: "OrderedDict[Tuple, list]" = OrderedDict()
        self.pending: set = set()
        self._last_nanos = 0

    def eventf(self, obj: dict, type_: str, reason: str, fmt: str, *args) -> Deferred:
        """``fmt`` may use Go's verbs as upstream's messages do: %v and %s, %d, %q (quoted)."""
        if args:
            fmt = fmt.replace("%v", "%s").replace("%q", '"%s"')
        return self.event(obj, type_, reason, fmt % args if args else fmt)

    def event(self, obj: dict, type_: str, reason: str, message: str, field_path: Optional[str] = None) -> Deferred:
        """``field_path`` names a part of the object (the kubelet's "spec.containers{name}")."""
        d = Deferred.fromCoroutine(self._write(obj, type_, reason, message, field_path))
        self.pending.add(d)

        def written(result):
            self.pending.discard(d)
            if isinstance(result, Exception) or hasattr(result, "check"):
                log.info("event {reason} on {name} not written: {error}", reason=reason,
                         name=(obj.get("metadata") or {}).get("name"), error=getattr(result, "value", result))
            return None
        return d.addBoth(written)

    async def _write(self, obj: dict, type_: str, reason: str, message: str, field_path=None) -> dict:
        reference = object_reference(obj)
        if field_path:
            reference["fieldPath"] = field_path
        namespace = reference.get("namespace") or "default"
        now = self.clock.seconds()
        key = (reference.get("uid") or reference.get("name"), reference.get("kind"), field_path, type_, reason,
               message)
        seen = self._seen.get(key)
        # This key's writes go one at a time, in order, as upstream's recorder writes its events: a count's patch
        # sent while the Event's create is still on its way would find nothing (404) and make a second Event.
        done: Deferred = Deferred()
        try:
            if seen is not None and now - seen[3] <= AGGREGATION_WINDOW:
                seen[2] += 1
                count, before, seen[4] = seen[2], seen[4], done
                await before
                try:
                    return await self.client.patch(EVENTS, seen[1], {"count": count, "lastTimestamp": rfc3339(now)},
                                                   namespace=seen[0], patch_type="strategic")
                except APIError as e:
                    if e.code != 404:
                        raise
                    # Gone (TTL): write a new one.
            # Upstream names an event by the time in nanoseconds; two in the same nanosecond (a clock that does
            # not move) would clash, so each is at least one past the last.
            nanos = self._last_nanos = max(int(now * 1e9), self._last_nanos + 1)
            name = f"{reference.get('name', 'unknown')}.{nanos:x}"
            event = {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": reference, "reason": reason, "message": message, "type": type_,
                "source": {"component": self.component, **({"host": self.host} if self.host else {})},
                "firstTimestamp": rfc3339(now), "lastTimestamp": rfc3339(now), "count": 1,
                "reportingComponent": self.component, "reportingInstance": self.host or "",
            }
            self._seen[key] = [namespace, name, 1, now, done]
            self._seen.move_to_end(key)
            while len(self._seen) > CACHE_SIZE:
                self._seen.popitem(last=False)
            return await self.client.create(EVENTS, event, namespace=namespace)
        finally:
            done.callback(None)

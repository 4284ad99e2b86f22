"""API Priority and Fairness in front of authorization: every request is classified by the FlowSchemas
(its UIDs and its priority level's in the X-Kubernetes-PF-* headers) and waits for a seat of its level;
a request its level cannot take is answered 429 as upstream answers it (plain text, Retry-After).

The configuration is a snapshot of the flowcontrol.apiserver.k8s.io/v1 objects, listed at start and kept
by watching them.  Long-running requests other than watches are not limited (upstream skips them); a
watch holds its seat only until it has started.  A LIST takes the seats upstream's work estimator gives it:
one per hundred objects it will go through (by the watch cache's count of the resource), between one and
its level's maximum; so does a watch that asks for its initial events."""

from __future__ import annotations

import math
from typing import Awaitable, Optional

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from ..listener import header_name, set_header
from ..registry.options import ListOptions
from . import apfmatch
from .apfqueue import Dispatcher
from .http import when_finished, write_bytes

log = Logger()
GROUP, VERSION = "flowcontrol.apiserver.k8s.io", "v1"
FLOW_SCHEMA_UID = header_name(b"X-Kubernetes-PF-FlowSchema-UID")
PRIORITY_LEVEL_UID = header_name(b"X-Kubernetes-PF-PriorityLevel-UID")
TOO_MANY = b"Too many requests, please try again later.\n"
_LONG_RUNNING_SUBRESOURCES = frozenset(("attach", "exec", "proxy", "log", "portforward"))
CLASSIFIED_LIMIT = 4096     # remembered classifications; forgotten all at once beyond this
_UNKNOWN = object()


class Rejected(Exception):
    """The request was answered 429 by flow control (the response is already written)."""


def wait_limit(request_timeout: float) -> float:
    """How long a request may wait in its queue: a quarter of its allotted time, at most a minute."""
    return min(request_timeout / 4 if request_timeout > 0 else 15.0, 60.0)


class FlowControl:
    def __init__(self, registry, clock, server_concurrency: int = 600, request_timeout: float = 60.0):
        self.registry = registry
        self.dispatcher = Dispatcher(clock, server_concurrency, wait_limit(request_timeout))
        self.schemas: dict[str, dict] = {}
        self.levels: dict[str, dict] = {}
        self._ordered: list[dict] = []
        self._classified: dict[tuple, Optional[tuple]] = {}
        self._watches: dict = {}
        self._stopped = False
        self.ready = False

    async def start(self) -> None:
        stores = [self.registry.lookup(GROUP, VERSION, r) for r in ("flowschemas", "prioritylevelconfigurations")]
        if None in stores:
            return      # the API group is turned off: nothing to classify by
        for store, target in zip(stores, (self.schemas, self.levels)):
            await self._follow(store, target)
        self._reconfigure()
        self.ready = True

    async def _follow(self, store, target: dict) -> None:
        """List into ``target`` and keep it by watching from the list's resourceVersion."""
        items, meta = await store.list(None, ListOptions())
        target.clear()
        target.update((item["metadata"]["name"], item) for item in items)
        key = id(target)
        self._watches[key] = await store.watch_events(
            None, ListOptions(resource_version=meta.get("resourceVersion", "")),
            lambda kind, obj: self._event(store, target, kind, obj))

    def stop(self) -> None:
        self._stopped = True
        self.dispatcher.stop()
        for watch in self._watches.values():
            watch.cancel()
        self._watches = {}

    def _event(self, store, target: dict, kind: str, obj: dict) -> None:
        if kind in ("ADDED", "MODIFIED"):
            target[obj["metadata"]["name"]] = obj
        elif kind == "DELETED":
            target.pop(obj["metadata"]["name"], None)
        elif kind == "ERROR":
            # The watch ended (it fell behind a compaction): list and watch again, keeping the last snapshot
            # until then.
            self.dispatcher.clock.callLater(0, self._refollow, store, target)
            return
        else:
            return
        self._reconfigure()

    def _refollow(self, store, target: dict) -> None:
        if self._stopped:
            return
        watch = self._watches.pop(id(target), None)
        if watch is not None:
            watch.cancel()

        async def again():
            await self._follow(store, target)
            self._reconfigure()
        Deferred.fromCoroutine(again()).addErrback(
            lambda f: log.failure("API Priority and Fairness lost its configuration watch", f))

    def _reconfigure(self) -> None:
        self._classified = {}
        self._ordered = apfmatch.ordered(self.schemas.values())
        self.dispatcher.configure(list(self.levels.values()))

    def classify(self, user, info) -> Optional[tuple[dict, dict, str, bytes, bytes, str, str]]:
        """(FlowSchema, PriorityLevelConfiguration, flow, and for the dispatch: the schema's and the level's
        uids as header values, the level's name, the flow's queue key) of a request, remembered until the
        configuration changes: what a match reads of a request is its user's name and groups and the request's
        verb, group, resource, subresource and namespace (its path, when it is not for a resource)."""
        key = (user.name, tuple(user.groups or ()), info.verb, info.is_resource_request, info.api_group,
               info.resource, info.subresource, info.namespace,
               "" if info.is_resource_request else info.path)
        found = self._classified.get(key, _UNKNOWN)
        if found is _UNKNOWN:
            found = apfmatch.classify(self._ordered, self.levels, user, info)
            if found is not None:
                schema, level, flow = found
                found = (schema, level, flow, schema["metadata"].get("uid", "").encode(),
                         level["metadata"].get("uid", "").encode(), level["metadata"]["name"],
                         f"{schema['metadata']['name']}\x00{flow}")
            if len(self._classified) >= CLASSIFIED_LIMIT:
                self._classified.clear()
            self._classified[key] = found
        return found

    def admit(self, request, info, user) -> Optional[Awaitable[None]]:
        """Take ``request``'s seat: None once it has one (at once, as most requests do, with nothing to await);
        else an awaitable ending once it has one, or raising Rejected once it has been answered 429."""
        if not self.ready:
            return None
        watch = info.verb == "watch"
        if not watch and (info.verb == "proxy" or info.subresource in _LONG_RUNNING_SUBRESOURCES):
            return None
        found = self.classify(user, info)
        if found is None:
            return None
        schema, _, _, schema_uid, level_uid, name, flow_key = found
        set_header(request, FLOW_SCHEMA_UID, schema_uid)
        set_header(request, PRIORITY_LEVEL_UID, level_uid)
        schema_name = schema["metadata"]["name"]
        seats = self.seats(request, info)
        release = self.dispatcher.start_now(name, schema_name, seats)
        if release is None:
            return self._wait(request, name, flow_key, schema_name, seats, watch)
        self._hold(request, release, watch)
        return None

    async def _wait(self, request, name: str, flow_key: str, schema_name: str, seats: int, watch: bool) -> None:
        waiting = self.dispatcher.admit(name, flow_key, schema=schema_name, seats=seats)
        if waiting.called:
            release = waiting.result        # no seat and no queue room: rejected at once
        else:
            when_finished(request, lambda result: self.dispatcher.cancel(name, waiting)
                          if isinstance(result, Failure) else None)
            release = await waiting
        if release is None:
            request.setHeader(b"Retry-After", str(self.dispatcher.retry_after(name)).encode())
            request.setHeader(b"X-Content-Type-Options", b"nosniff")
            write_bytes(request, 429, "text/plain; charset=utf-8", TOO_MANY)
            raise Rejected()
        self._hold(request, release, watch)

    @staticmethod
    def _hold(request, release, watch: bool) -> None:
        """Keep the seat until the request is answered (a watch's only for its start)."""
        if getattr(request, "_disconnected", False) or request.finished:
            release()       # gone meanwhile: notifyFinish would never fire now
            raise Rejected()
        if watch:
            release()
        else:
            when_finished(request, lambda _: release())

    def seats(self, request, info) -> int:
        """The seats upstream's list work estimator gives a request (one for anything but a LIST, or a watch
        sending its initial events); the dispatcher caps them at the level's maximum."""
        args = request.args
        if info.verb not in ("list", "watch") or info.name:
            return 1
        if info.verb == "watch" and args.get(b"sendInitialEvents") != [b"true"]:
            return 1
        store = self.registry.lookup(info.api_group, info.api_version, info.resource)
        count = store.reads.object_count() if store is not None else None
        if count is None:
            return 1
        try:
            limit = int((args.get(b"limit") or [b"0"])[0])
        except ValueError:
            limit = 0
        version = (args.get(b"resourceVersion") or [b""])[0]
        match = (args.get(b"resourceVersionMatch") or [b""])[0]
        from_storage = bool(args.get(b"continue")) or (limit > 0 and version != b"0") or \
            match not in (b"", b"NotOlderThan")
        limited = min(limit, count) if limit > 0 else count
        if info.verb == "watch" or not from_storage:
            objects = count
        elif args.get(b"labelSelector") or args.get(b"fieldSelector"):
            objects = count + limited
        else:
            objects = 2 * limited
        return max(1, math.ceil(objects / 100))

"""
Serving a watch over HTTP: a chunked response of one JSON event per line
({"type":..., "object":...}), until the client goes away or the timeout ends.

With a watch cache, each event is encoded once per representation and the same
bytes are written to every watcher (see kapiserver/watch/cache.py).  The response
is a streaming producer: while the client's socket is full, events queue in the
cache's watcher, and a watcher that falls too far behind is closed (its client
resumes from the last resourceVersion it read).  A too-old resourceVersion (410)
or a cache that cannot reach the asked-for one (504) arrives, as upstream sends
it, as one ERROR event carrying the Status in a 200 response.
"""

from __future__ import annotations

import random

from zope.interface import implementer
from twisted.internet.interfaces import IPushProducer

from ..machinery import codec, errors
from . import render
from .http import query, set_common_headers

BOOKMARK_INTERVAL = 60.0


def _line(event_type: str, obj: dict) -> bytes:
    return codec.dumps({"type": event_type, "object": obj}) + b"\n"


def _bookmark_object(store, revision, initial_events_end: bool) -> dict:
    meta: dict = {"resourceVersion": str(revision)}
    if initial_events_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"kind": store.info.kind, "apiVersion": store.info.api_version, "metadata": meta}


class WatchEncoding:
    """Events as watch lines for one representation; encodings with equal keys
    share the bytes of each event.  A Table watch's first event carries the column
    definitions, so it alone is encoded for this watcher only."""

    def __init__(self, store, rep, clock, include_object: str):
        self.store = store
        self.rep = rep
        self.clock = clock
        self.include_object = include_object
        self.headers_sent = rep.target != "Table"
        self._key = (rep.target, rep.target_version, include_object)

    @property
    def key(self):
        return self._key if self.headers_sent else None

    def event(self, event_type: str, obj: dict) -> bytes:
        rep = self.rep
        if not rep.target:
            return _line(event_type, obj)
        if rep.target == "Table":
            out = render.table(self.store, [obj], {"resourceVersion": obj.get("metadata", {}).get(
                "resourceVersion", "")}, rep, self.clock, self.include_object, no_headers=self.headers_sent)
            self.headers_sent = True
            return _line(event_type, out)
        return _line(event_type, render.render_object(self.store, obj, rep, self.clock))

    def bookmark(self, revision: int, initial_events_end: bool) -> bytes:
        return _line("BOOKMARK", _bookmark_object(self.store, revision, initial_events_end))


@implementer(IPushProducer)
class _WatchResponse:
    """One watch response: writes what the cache queued, pauses with the socket."""

    def __init__(self, request, rep):
        self.request = request
        self.rep = rep
        self.open = True
        self.started = False
        self.paused = False
        self.handle = None
        self.timers = []

    def start(self) -> None:
        if not self.started:
            self.started = True
            self.request.setResponseCode(200)
            set_common_headers(self.request, self.rep.content_type)
            self.request.registerProducer(self, True)
            self.request.write(b"")   # the headers now: the client knows the watch started

    def write(self, data: bytes) -> None:
        if self.open and data:
            self.start()
            self.request.write(data)

    def error(self, error: errors.StatusError) -> None:
        self.write(_line("ERROR", error.to_status()))
        self.finish()

    def wake(self, watcher) -> None:
        if not self.open or self.handle is None:
            return
        if not self.paused:
            payloads = self.handle.take()
            if payloads:
                self.write(b"".join(payloads))
        if watcher.closed:
            self.finish()

    # IPushProducer: the socket's buffer is full / has room again.
    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        if self.handle is not None:
            self.wake(self.handle.watcher)

    def stopProducing(self) -> None:
        self.finish()

    def finish(self, _=None) -> None:
        if not self.open:
            return
        self.open = False
        for timer in self.timers:
            if timer.active():
                timer.cancel()
        if self.handle is not None:
            self.handle.cancel()
        request = self.request
        if self.started:
            request.unregisterProducer()
        if not request.finished and not getattr(request, "_disconnected", False):
            request.finish()


def _timeout(context, options) -> float:
    timeout = options.timeout_seconds
    if timeout is None or timeout <= 0:
        timeout = context.min_request_timeout * (1 + random.random())
    return timeout


async def serve_watch(context, request, store, namespace, options, rep) -> None:
    if getattr(store, "cacher", None) is None:
        await _serve_uncached(context, request, store, namespace, options, rep)
        return
    from .upgrade import wants_upgrade
    if wants_upgrade(request, "websocket"):
        await _serve_websocket(context, request, store, namespace, options, rep)
        return
    clock = context.clock
    response = _WatchResponse(request, rep)
    request.notifyFinish().addBoth(response.finish)
    response.timers.append(clock.callLater(_timeout(context, options), response.finish))
    encoding = WatchEncoding(store, rep, clock, query(request, "includeObject"))
    try:
        handle = await store.cacher.watch(store.prefix(namespace), options, encoding, response.wake)
    except errors.StatusError as e:
        if e.code in (410, 504):
            response.error(e)
            return
        _stop_timers(response)
        raise
    except BaseException:
        _stop_timers(response)
        raise
    if not response.open:
        handle.cancel()
        return
    response.handle = handle
    response.start()
    response.wake(handle.watcher)


def _stop_timers(response: _WatchResponse) -> None:
    response.open = False
    for timer in response.timers:
        if timer.active():
            timer.cancel()


async def _serve_uncached(context, request, store, namespace, options, rep) -> None:
    """Without a watch cache (--watch-cache=false): straight from the storage watch."""
    clock = context.clock
    encoding = WatchEncoding(store, rep, clock, query(request, "includeObject"))
    response = _WatchResponse(request, rep)
    state = {"rv": options.resource_version or "0"}

    def send(event_type: str, obj: dict) -> None:
        if not response.open:
            return
        if event_type == "ERROR":
            response.write(_line("ERROR", obj))
            response.finish()
            return
        state["rv"] = obj.get("metadata", {}).get("resourceVersion", state["rv"])
        response.write(encoding.event(event_type, obj))

    request.notifyFinish().addBoth(response.finish)
    response.timers.append(clock.callLater(_timeout(context, options), response.finish))
    try:
        handle = await store.watch(namespace, options, send)
    except BaseException:
        _stop_timers(response)
        raise
    if not response.open:
        handle.cancel()
        return
    response.start()
    if options.send_initial_events and options.allow_bookmarks:
        response.write(encoding.bookmark(state["rv"], True))
    if options.allow_bookmarks:
        def periodic():
            if response.open:
                response.write(encoding.bookmark(state["rv"], False))
                response.timers.append(clock.callLater(BOOKMARK_INTERVAL, periodic))
        response.timers.append(clock.callLater(BOOKMARK_INTERVAL, periodic))
    request.notifyFinish().addBoth(lambda _: handle.cancel())


async def _serve_websocket(context, request, store, namespace, options, rep) -> None:
    """A cached watch over WebSocket: each event one text message (its JSON line), as upstream."""
    from .websocket import Session, serve_websocket
    clock = context.clock

    class WatchSession(Session):
        def __init__(self):
            self.ws = None
            self.handle = None
            self.done = False
            self.timer = None
            self.early = []     # payloads before the socket opened

        def choose(self, offered):
            return offered[0] if offered else None

        def opened(self, ws, protocol):
            self.ws = ws
            for payload in self.early:
                ws.sendMessage(payload, isBinary=False)
            self.early = []
            if self.done:
                ws.close()
                return
            if self.handle is not None:
                self.wake(self.handle.watcher)

        def wake(self, watcher):
            if self.done or self.handle is None:
                return
            for payload in self.handle.take():
                if self.ws is None:
                    self.early.append(payload)
                else:
                    self.ws.sendMessage(payload, isBinary=False)
            if watcher.closed:
                self.end()

        def end(self, _=None):
            if self.done:
                return
            self.done = True
            if self.timer is not None and self.timer.active():
                self.timer.cancel()
            if self.handle is not None:
                self.handle.cancel()
            if self.ws is not None:
                self.ws.close()

        def closed(self):
            self.ws = None
            self.end()

    session = WatchSession()
    encoding = WatchEncoding(store, rep, clock, query(request, "includeObject"))
    try:
        session.handle = await store.cacher.watch(store.prefix(namespace), options, encoding, session.wake)
    except errors.StatusError as e:
        if e.code not in (410, 504):
            raise
        session.early.append(_line("ERROR", e.to_status()))
        session.done = True
        serve_websocket(request, session)
        return
    session.timer = clock.callLater(_timeout(context, options), session.end)
    serve_websocket(request, session)
    session.wake(session.handle.watcher)

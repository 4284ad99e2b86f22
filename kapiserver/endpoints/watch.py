"""
Serving a watch over HTTP: one JSON event per line ({"type":..., "object":...}) in a chunked
response, or one per WebSocket text message, until the client goes away or the timeout ends.

Every watch goes through the Store's one watch (its watch cache, or storage read directly), which
queues each event encoded by a WatchEncoding: with a watch cache, each event is encoded once per
representation and the same bytes are written to every watcher (see kapiserver/watch/cache.py).
The chunked response is a streaming producer: while the client's socket is full, events queue in
the watcher, and a watcher that falls too far behind is closed (its client resumes from the last
resourceVersion it read).  A too-old resourceVersion (410) or one the server cannot reach (504)
arrives, as upstream sends it, as one ERROR event carrying the Status in a 200 response.
"""

from __future__ import annotations

import base64
import dataclasses
import random
import weakref
from typing import Callable, Optional

from zope.interface import implementer
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger

from ..machinery import codec, errors
from . import render
from .http import query, set_common_headers
from .upgrade import wants_upgrade
from .websocket import Session, serve_websocket

log = Logger()


# What a watch sends at once rather than at the end of the turn: far below what the watch cache lets a watcher
# queue (1,000 events, 16 MiB), so a large storage batch never closes a watcher that keeps up.
WAKE_EVENTS = 64
WAKE_BYTES = 1 << 20


class _EndOfTurn:
    """Calls each function handed to it during a turn of the reactor once that turn's work is done (one
    ``callLater(0)`` for them all, however many watches wait on it)."""

    def __init__(self):
        self.due: Optional[list] = None

    def add(self, clock, fn: Callable[[], None]) -> None:
        if self.due is None:
            self.due = []
            clock.callLater(0, self._run)
        self.due.append(fn)

    def _run(self) -> None:
        due, self.due = self.due, None
        for fn in due:
            try:
                fn()
            except Exception:
                log.failure("watch delivery failed")


# The initial-events-end bookmark's annotation holding the empty list a watch-list client starts from.
LIST_BLUEPRINT = "kubernetes.io/initial-events-list-blueprint"

# By clock (the reactor, a test's Clock): not holding it.
_turns: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def end_of_turn(clock, fn: Callable[[], None]) -> None:
    """Call ``fn`` at the end of ``clock``'s current turn."""
    turn = _turns.get(clock)
    if turn is None:
        turn = _turns[clock] = _EndOfTurn()
    turn.add(clock, fn)


def _line(event_type: str, obj: dict) -> bytes:
    return codec.dumps({"type": event_type, "object": obj}) + b"\n"


def _bookmark_object(store, revision, initial_events_end: bool) -> dict:
    """An empty object of the resource's kind holding only the revision (and the end of the initial events), as
    upstream's cacher makes it: a built-in kind's typed zero value writes its creationTimestamp as null."""
    meta: dict = {"resourceVersion": str(revision)}
    if store.builtin:
        meta["creationTimestamp"] = None
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
        # The object as it is: its line spliced from the JSON the watch cache keeps, never decoded.
        self.splices = not rep.target
        # As PartialObjectMetadata (the garbage collector's and quota's watches): its line spliced around the
        # metadata's JSON, the object decoded only for that.
        self.metadata_only = rep.target == "PartialObjectMetadata"
        self._metadata_head = (b'","object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/'
                               + rep.target_version.encode() + b'","metadata":')

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

    def event_encoded(self, event_type: str, encoded: bytes) -> bytes:
        """The same line as ``event`` for an object given as its JSON (``codec.dumps`` of it), spliced
        without decoding it; only where ``splices``."""
        return b'{"type":"' + event_type.encode() + b'","object":' + encoded + b"}\n"

    def event_metadata(self, event_type: str, metadata: dict) -> bytes:
        """The same line as ``event`` for an object whose metadata is ``metadata``; only where ``metadata_only``."""
        return b"".join((b'{"type":"', event_type.encode(), self._metadata_head, codec.dumps(metadata), b"}}\n"))

    def bookmark(self, revision: int, initial_events_end: bool) -> bytes:
        """A BOOKMARK line, its object in the watch's representation as every other event's: a metadata watch's
        is PartialObjectMetadata (whose creationTimestamp is always the null of an empty ObjectMeta)."""
        obj = _bookmark_object(self.store, revision, initial_events_end)
        if initial_events_end:
            obj["metadata"]["annotations"][LIST_BLUEPRINT] = self._list_blueprint()
        if self.metadata_only:
            meta = {"resourceVersion": str(revision), "creationTimestamp": None}
            if initial_events_end:
                meta["annotations"] = obj["metadata"]["annotations"]
            return self.event_metadata("BOOKMARK", meta)
        return self.event("BOOKMARK", obj)

    def _list_blueprint(self) -> str:
        """The empty list a watch-list client builds its list on, as this watch's encoder writes it (JSON and its
        newline), in base64: a metadata watch's is a PartialObjectMetadataList; a built-in kind's a typed list
        (its items null); a custom resource's the unstructured list, its keys sorted."""
        info = self.store.info
        if self.metadata_only:
            blueprint = {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/" + self.rep.target_version,
                         "metadata": {}, "items": None}
        elif self.store.builtin:
            blueprint = {"kind": info.list_kind, "apiVersion": info.api_version, "metadata": {}, "items": None}
        else:
            blueprint = {"apiVersion": info.api_version, "items": [], "kind": info.list_kind}
        return base64.b64encode(codec.dumps(blueprint) + b"\n").decode()


class WatchResponse:
    """One watch being served, over either transport: takes what the store's watch queued whenever it
    wakes and hands it on, ends at the timeout, when the client leaves, or when the watch closes (with
    an ERROR event first if the watch says why)."""

    def __init__(self, transport, clock, timeout: float, limit=None, watches=None, agent: str = ""):
        self.transport = transport
        # The client program's name (its User-Agent's first product), which a store reset may spare.
        self.agent = agent
        self.handle = None
        self.open = True
        # An injected fault's event budget: the watch ends once it has sent this many (None: no limit).
        self.limit = limit
        # The context's open watches, which a store reset ends (kapiserver.endpoints.storereset).
        self.watches = watches
        if watches is not None:
            watches.add(self)
        transport.response = self
        self.clock = clock
        # The delivery of what the watch queued during this turn of the reactor, at its end (see wake).
        self._due = False
        self._timer = clock.callLater(timeout, self._time_up)

    def attach(self, handle) -> None:
        if not self.open:
            handle.cancel()
            return
        self.handle = handle
        self.transport.begin()
        self.wake(handle.watcher)

    def attach_nothing(self) -> None:
        """Start the response and end it at once: a watch an injected fault ends before its first event."""
        self.transport.begin()
        self.end()

    def fail(self, error: errors.StatusError) -> None:
        """The watch could not start (410, 504): told as one ERROR event, as upstream does."""
        if not self.open:
            return
        self.transport.begin()
        self.transport.send([_line("ERROR", error.to_status())])
        self.end()

    def wake(self, watcher) -> None:
        """The watch queued payloads or closed.  Payloads go out at the end of the reactor's turn: the events of
        one storage batch (a group commit) leave as one write, one chunk, rather than one each; a closed watch's
        at once, and a large batch's in parts."""
        if not self.open or self.handle is None:
            return
        if watcher.closed or len(watcher.pending) >= WAKE_EVENTS or watcher.pending_bytes >= WAKE_BYTES:
            self._deliver()
        elif not self._due:
            self._due = True
            end_of_turn(self.clock, self._deliver_due)

    def _deliver_due(self) -> None:
        if self._due:
            self._deliver()

    def _deliver(self) -> None:
        self._due = False
        if not self.open or self.handle is None:
            return
        watcher = self.handle.watcher
        # A closed watcher's last payloads go out even to a paused client (the transport buffers them).
        if not self.transport.paused or watcher.closed:
            payloads = self.handle.take()
            if self.limit is not None and len(payloads) >= self.limit:
                self.transport.send(payloads[:self.limit])
                self.end()
                return
            if payloads:
                if self.limit is not None:
                    self.limit -= len(payloads)
                self.transport.send(payloads)
        if watcher.closed:
            if watcher.error is not None:
                self.transport.send([_line("ERROR", watcher.error.to_status())])
            self.end()

    def end(self, _=None) -> None:
        if self.abandon():
            self.transport.close()

    def _time_up(self) -> None:
        # What the watch queued this turn goes out before the response ends.
        self._timer = None
        if self._due:
            self._deliver()
        self.end()

    def abandon(self) -> bool:
        """Stops the response without touching the transport (the caller answers the request);
        whether it was still open."""
        if not self.open:
            return False
        self.open = False
        if self.watches is not None:
            self.watches.discard(self)
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._due = False
        if self.handle is not None:
            self.handle.cancel()
        return True


@implementer(IPushProducer)
class ChunkedTransport:
    """A watch as a chunked HTTP response, one JSON event per line, pausing with the socket."""

    def __init__(self, request, rep):
        self.request = request
        self.rep = rep
        self.response = None
        self.started = False
        self.paused = False
        request.notifyFinish().addBoth(lambda _: self.response.end())

    def begin(self) -> None:
        if not self.started:
            self.started = True
            self.request.setResponseCode(200)
            # The stream's media type, whatever its events embed (Table, PartialObjectMetadata), as upstream's.
            set_common_headers(self.request, self.rep.media)
            self.request.registerProducer(self, True)
            self.request.write(b"")   # the headers now: the client knows the watch started

    def send(self, payloads: list) -> None:
        self.request.write(b"".join(payloads))

    def close(self) -> None:
        request = self.request
        # twisted.web's Request drops its channel when the client goes: nothing is left to unregister from.
        if self.started and getattr(request, "channel", request) is not None:
            request.unregisterProducer()
        if not request.finished and not getattr(request, "_disconnected", False):
            request.finish()

    # IPushProducer: the socket's buffer is full / has room again.
    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        if self.response.handle is not None:
            self.response.wake(self.response.handle.watcher)

    def stopProducing(self) -> None:
        self.response.end()


class WebSocketTransport(Session):
    """A watch over WebSocket: each event one text message (its JSON line), as upstream."""

    def __init__(self, request):
        self.request = request
        self.response = None
        self.ws = None
        self.paused = False
        self.early = []     # payloads before the socket opened
        self.begun = False
        self.ending = False

    def begin(self) -> None:
        if not self.begun:
            self.begun = True
            serve_websocket(self.request, self)

    def send(self, payloads: list) -> None:
        if self.ws is None:
            self.early.extend(payloads)
            return
        for payload in payloads:
            self.ws.send(payload, binary=False)

    def close(self) -> None:
        self.ending = True
        if self.ws is not None:
            self.ws.close()
        elif not self.begun and not self.request.finished:
            self.request.finish()   # ended (timed out) before the watch could start: never upgraded

    # Session
    def choose(self, offered):
        return offered[0] if offered else None

    def opened(self, ws, protocol) -> None:
        self.ws = ws
        early, self.early = self.early, []
        self.send(early)
        if self.ending:
            ws.close()

    def closed(self) -> None:
        self.ws = None
        self.response.end()


def _timeout(context, options) -> float:
    """How long the watch runs: timeoutSeconds, or where it is unset or 0 the server's own (between
    min-request-timeout and twice it); a negative one ends the watch at once, as upstream's timer does."""
    timeout = options.timeout_seconds
    if not timeout:
        return context.min_request_timeout * (1 + random.random())
    return max(timeout, 0)


def _loopback(request) -> bool:
    """Whether the request came through the apiserver's loopback listener (its own controllers)."""
    return getattr(getattr(getattr(request, "channel", None), "site", None), "loopback", False)


def _agent(request) -> str:
    """The product name the User-Agent header starts with ("kube-controller-manager/v1.32.0 ..." gives
    "kube-controller-manager")."""
    values = request.requestHeaders.getRawHeaders(b"user-agent") or [b""]
    return values[0].decode("latin-1").split("/", 1)[0].split(" ", 1)[0]


async def serve_watch(context, request, store, namespace, options, rep) -> None:
    """Serve a watch of ``store`` as a chunked response, or over WebSocket when the client asks to
    upgrade; an error other than 410 and 504 is raised before anything is written."""
    clock = context.clock
    transport = WebSocketTransport(request) if wants_upgrade(request, "websocket") else \
        ChunkedTransport(request, rep)
    fault = getattr(request, "kapi_fault", None)
    timeout = _timeout(context, options)
    options = dataclasses.replace(options, deadline=clock.seconds() + timeout)
    response = WatchResponse(transport, clock, timeout,
                             limit=fault.watchEvents if fault is not None else None,
                             watches=None if _loopback(request) else getattr(context, "watches", None),
                             agent=_agent(request))
    injected = fault.error(request.kapi_info) if fault is not None else None
    if injected is not None:
        response.fail(injected)     # an injected 410 or 504: one ERROR event, as upstream sends them
        return
    if response.limit == 0:
        response.attach_nothing()
        return
    encoding = WatchEncoding(store, rep, clock, query(request, "includeObject"))
    try:
        handle = await store.watch(namespace, options, encoding, response.wake)
    except errors.StatusError as e:
        if e.code in (410, 504):
            response.fail(e)
            return
        response.abandon()
        raise
    except BaseException:
        response.abandon()
        raise
    response.attach(handle)

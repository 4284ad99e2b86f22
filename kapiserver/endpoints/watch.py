"""
Serving a watch over HTTP: a chunked response of one JSON event per line
({"type":..., "object":...}), until the client goes away or the timeout ends.
"""

from __future__ import annotations

import random

from ..machinery import codec
from . import render
from .http import query, set_common_headers

BOOKMARK_INTERVAL = 60.0


async def serve_watch(context, request, store, namespace, options, rep) -> None:
    clock = context.clock
    include_object = query(request, "includeObject")
    state = {"headers_sent": False, "rv": options.resource_version or "0", "open": True, "started": False}

    def encode_event(event_type: str, obj: dict) -> bytes:
        if event_type in ("ERROR", "BOOKMARK") or not rep.target:
            out = obj
        elif rep.target == "Table":
            out = render.table(store, [obj], {"resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")},
                               rep, clock, include_object, no_headers=state["headers_sent"])
            state["headers_sent"] = True
        else:
            out = render.render_object(store, obj, rep, clock)
        return codec.dumps({"type": event_type, "object": out}) + b"\n"

    def start_response() -> None:
        if not state["started"]:
            state["started"] = True
            request.setResponseCode(200)
            set_common_headers(request, rep.content_type)
            request.write(b"")   # the headers now: the client knows the watch started

    def send(event_type: str, obj: dict) -> None:
        if not state["open"]:
            return
        start_response()
        if event_type != "ERROR":
            state["rv"] = obj.get("metadata", {}).get("resourceVersion", state["rv"])
        request.write(encode_event(event_type, obj))
        if event_type == "ERROR":
            finish()

    def bookmark() -> None:
        send("BOOKMARK", {"kind": store.info.kind, "apiVersion": store.info.api_version,
                          "metadata": {"resourceVersion": state["rv"]}})

    handle = None
    timers = []

    def finish(_=None) -> None:
        if not state["open"]:
            return
        state["open"] = False
        for timer in timers:
            if timer.active():
                timer.cancel()
        if handle is not None:
            handle.cancel()
        if not request.finished and not getattr(request, "_disconnected", False):
            request.finish()

    request.notifyFinish().addBoth(finish)
    timeout = options.timeout_seconds
    if timeout is None or timeout <= 0:
        base = context.min_request_timeout
        timeout = base * (1 + random.random())
    timers.append(clock.callLater(timeout, finish))
    try:
        handle = await store.watch(namespace, options, send)
    except BaseException:
        state["open"] = False
        for timer in timers:
            if timer.active():
                timer.cancel()
        raise
    if not state["open"]:
        handle.cancel()
        return
    start_response()
    if options.send_initial_events and options.allow_bookmarks:
        request.write(codec.dumps({"type": "BOOKMARK", "object": {
            "kind": store.info.kind, "apiVersion": store.info.api_version,
            "metadata": {"resourceVersion": state["rv"],
                         "annotations": {"k8s.io/initial-events-end": "true"}}}}) + b"\n")
    if options.allow_bookmarks:
        def periodic():
            if state["open"]:
                bookmark()
                timers.append(clock.callLater(BOOKMARK_INTERVAL, periodic))
        timers.append(clock.callLater(BOOKMARK_INTERVAL, periodic))

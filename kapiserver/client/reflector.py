"""client-go's reflector: list a resource, then watch it from the list's resourceVersion; re-watch from the
last resourceVersion seen when a watch ends, relist when the server says it is too old (410), back off on
failures.  What it reads goes to two callbacks: ``replace(items, resourceVersion)`` after each list and
``event(type, object)`` for each watch event.

With ``use_watch_list`` (client-go's WatchListClient feature), the list is a watch instead: resourceVersion
as last synced, ``sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true``; the
initial ADDED events gather in a temporary store until the BOOKMARK annotated
``k8s.io/initial-events-end: "true"``, which replaces the store at the bookmark's resourceVersion, and the same
stream then goes on as the watch. When the server refuses such a watch (a 4xx Status other than 410/429:
an older server forbids resourceVersionMatch without resourceVersion), the reflector lists and watches as
before and does not ask again; when the stream ends before that bookmark, that round falls back to a list."""

from __future__ import annotations

import random as _random
from typing import Callable, Optional

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import deferLater
from twisted.logger import Logger

from .resources import Resource
from .rest import APIError, Client

log = Logger()

PAGE_SIZE = 500
# client-go: watches time out after a random 5 to 10 minutes, so that reconnections spread out.
MIN_WATCH_TIMEOUT = 300
# client-go's backoff manager for the reflector: 800 ms doubling to 30 s, jitter 1.0, reset after 2 minutes.
BACKOFF_INITIAL = 0.8
BACKOFF_MAX = 30.0
BACKOFF_RESET = 120.0


class Backoff:
    """Exponential backoff with jitter that resets after a quiet period (client-go's wait.Backoff manager)."""

    def __init__(self, clock, initial: float = BACKOFF_INITIAL, cap: float = BACKOFF_MAX,
                 reset_after: float = BACKOFF_RESET, jitter: float = 1.0, random: Callable[[], float] = None):
        self.clock = clock
        self.initial = initial
        self.cap = cap
        self.reset_after = reset_after
        self.jitter = jitter
        self.random = random or _random.random
        self._delay = 0.0
        self._last = None

    def next(self) -> float:
        now = self.clock.seconds()
        if self._last is not None and now - self._last > self.reset_after:
            self._delay = 0.0
        self._last = now
        self._delay = self.initial if not self._delay else min(self._delay * 2, self.cap)
        return self._delay * (1 + self.jitter * self.random()) if self.jitter else self._delay


class Reflector:
    def __init__(self, client: Client, resource: Resource, replace: Callable[[list, str], None],
                 event: Callable[[str, dict], None], clock, namespace: Optional[str] = None,
                 label_selector: Optional[str] = None, field_selector: Optional[str] = None,
                 random: Callable[[], float] = None, page_size: int = PAGE_SIZE, use_watch_list: bool = False,
                 transform: Optional[Callable[[dict], dict]] = None, consistent_pages: bool = False):
        """``transform``: applied to each object as it arrives (each list page's, each event's), before the
        reflector hands it on.  ``consistent_pages``: every list is a consistent read in pages of
        ``page_size`` rather than the first from the watch cache at resourceVersion=0, which answers it
        whole: with ``transform`` dropping most of each object, only a page is ever held as it came."""
        self.client = client
        self.resource = resource
        self.replace = replace
        self.event = event
        self.clock = clock
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.random = random or _random.random
        self.page_size = page_size
        self.use_watch_list = use_watch_list
        self.transform = transform
        self.consistent_pages = consistent_pages
        self.watch_list_refused = False
        self.backoff = Backoff(clock, random=self.random)
        self.last_sync_resource_version = ""
        self._running = False
        self._watch = None
        self._sleep: Optional[Deferred] = None
        self._loop: Optional[Deferred] = None
        # Events (bookmarks too) received on every watch so far: a watch that ends quickly but delivered
        # events is resumed at once.
        self._events = 0

    def start(self) -> None:
        if not self._running:
            self._running = True
            self._loop = Deferred.fromCoroutine(self._run())
            self._loop.addErrback(lambda f: None if f.check(CancelledError) else
                                  log.failure("reflector for {resource} stopped", f, resource=self.resource))

    def stop(self) -> None:
        self._running = False
        if self._watch is not None:
            self._watch.cancel()
        if self._sleep is not None and not self._sleep.called:
            self._sleep.cancel()

    async def _pause(self, delay: float) -> None:
        self._sleep = deferLater(self.clock, delay, lambda: None)
        try:
            await self._sleep
        finally:
            self._sleep = None

    async def _run(self) -> None:
        relist = True
        while self._running:
            try:
                started, events = self.clock.seconds(), self._events
                if relist and self.use_watch_list and not self.watch_list_refused:
                    synced = await self._watch_list()
                    relist = False
                    if not synced:
                        if self._running:
                            await self._list()
                        continue
                else:
                    if relist:
                        await self._list()
                        relist = False
                    started = self.clock.seconds()
                    await self._watch_once()
                if self._running and self.clock.seconds() - started < 1 and self._events == events:
                    # A watch that ends at once with nothing received (a server shutting down: client-go's
                    # "very short watch") is not retried in a tight loop; one that delivered events resumes.
                    await self._pause(self.backoff.next())
            except CancelledError:
                return
            except APIError as e:
                if not self._running:
                    return
                if e.code == 410:
                    # Too old: list again, at once, from the latest state (client-go's relist).
                    log.debug("{resource}: watch expired ({message}), relisting", resource=self.resource,
                              message=e.message)
                    self.last_sync_resource_version = ""
                    relist = True
                    continue
                log.info("{resource}: {code} {message}; retrying", resource=self.resource, code=e.code,
                         message=e.message)
                await self._pause(self.backoff.next())
            except Exception as e:  # connection refused, reset...: the server may be away a while
                if not self._running:
                    return
                log.info("{resource}: {error!r}; retrying", resource=self.resource, error=e)
                await self._pause(self.backoff.next())

    async def _list(self) -> None:
        items: list = []
        params = {"limit": self.page_size}
        # The first list may come from the watch cache (resourceVersion=0), as client-go's does; a relist
        # after 410 asks for the latest state.
        if not self.consistent_pages:
            params["resourceVersion"] = self.last_sync_resource_version or "0"
        transform = self.transform
        while True:
            page = await self.client.list(self.resource, self.namespace, self.label_selector,
                                          self.field_selector, **params)
            page_items = page.get("items") or []
            items.extend(page_items if transform is None else [transform(item) for item in page_items])
            del page_items
            token = (page.get("metadata") or {}).get("continue")
            version = (page.get("metadata") or {}).get("resourceVersion", "")
            if not token:
                break
            params = {"limit": self.page_size, "continue": token}
        if not self._running:
            return
        kind = self.resource.kind
        for item in items:  # list items carry no kind; handlers and patches want it
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", self.resource.api_version)
        self.last_sync_resource_version = version
        self.replace(items, version)

    async def _watch_once(self) -> None:
        timeout = int(MIN_WATCH_TIMEOUT * (1 + self.random()))
        self._watch = self.client.watch(self.resource, self._event, self.namespace,
                                        self.last_sync_resource_version, self.label_selector,
                                        self.field_selector, allow_bookmarks=True, timeout_seconds=timeout)
        try:
            await self._watch.done
        finally:
            self._watch = None

    async def _watch_list(self) -> bool:
        """The list as a watch stream (then the watch itself); whether the initial-events-end bookmark came."""
        from .cache import meta_namespace_key
        initial: dict = {}
        synced = [False]
        kind, api_version = self.resource.kind, self.resource.api_version

        def on_event(event_type: str, obj: dict) -> None:
            if synced[0]:
                self._event(event_type, obj)
                return
            self._events += 1
            meta = obj.get("metadata") or {}
            if event_type == "BOOKMARK":
                if (meta.get("annotations") or {}).get("k8s.io/initial-events-end") == "true":
                    synced[0] = True
                    version = meta.get("resourceVersion", "")
                    items = list(initial.values())
                    for item in items:
                        item.setdefault("kind", kind)
                        item.setdefault("apiVersion", api_version)
                    self.last_sync_resource_version = version
                    self.replace(items, version)
                return
            if event_type == "DELETED":
                initial.pop(meta_namespace_key(obj), None)
            else:
                initial[meta_namespace_key(obj)] = obj if self.transform is None else self.transform(obj)

        timeout = int(MIN_WATCH_TIMEOUT * (1 + self.random()))
        self._watch = self.client.watch(self.resource, on_event, self.namespace, self.last_sync_resource_version,
                                        self.label_selector, self.field_selector, allow_bookmarks=True,
                                        timeout_seconds=timeout, send_initial_events=True)
        try:
            await self._watch.done
        except APIError as e:
            if synced[0] or e.code in (410, 429) or e.code < 400 or e.code >= 500:
                raise
            log.info("{resource}: the server refused a watch-list ({code} {message}); listing instead",
                     resource=self.resource, code=e.code, message=e.message)
            self.watch_list_refused = True
            return False
        finally:
            self._watch = None
        if not synced[0] and self._running:
            log.info("{resource}: the watch-list ended before its initial-events-end bookmark; listing instead",
                     resource=self.resource)
        return synced[0]

    def _event(self, kind: str, obj: dict) -> None:
        self._events += 1
        version = (obj.get("metadata") or {}).get("resourceVersion")
        if version:
            self.last_sync_resource_version = version
        if kind != "BOOKMARK":
            self.event(kind, obj if self.transform is None else self.transform(obj))

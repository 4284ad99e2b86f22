"""
Reads straight from storage, behind the same interface as the watch cache (``cacher.py``).

A Store reads through one object: the Cacher when the resource has a watch cache, or this
StorageReader when it has none (--watch-cache=false, resource#0 in --watch-cache-sizes).  The
Cacher itself hands the reads it does not serve (continue pages, Exact reads, reads it could not
catch up for) to its StorageReader: upstream's cacher likewise wraps the etcd3 store, both being a
storage.Interface.

The interface, for both:
- ``get(key, shared)``: the object (a fresh dict unless ``shared``) or None;
- ``list(prefix, options)``: (items, list metadata); items may be shared dicts: never change them;
- ``watch(prefix, options, encoding, wake)``: a ReadsWatch; ``wake(watcher)`` is called whenever
  the watcher has payloads queued or was closed (with ``watcher.error`` set when its client must
  be told why, as an ERROR event);
- ``start()``, ``stop()``, ``filled()`` (a Deferred: the reads can be served), ``object_count()``.

Events reach a watcher exactly as they reach a cache watcher: typed by its filter's transition
(``WatchEvent.typed_for``), encoded by its Encoding, queued on a ``CacheWatcher``, with bookmarks
every ``bookmark_interval`` at the newest revision the watch has seen.
"""

from __future__ import annotations

import dataclasses
from typing import Awaitable, Callable, Optional

from twisted.internet.defer import Deferred, ensureDeferred, succeed

from ..machinery import continuetoken, errors, meta
from ..storage import Compacted, DELETE as STORAGE_DELETE, FutureRevision, RevisionCompacted
from .cache import ADDED, DELETE, PUT, CacheWatcher, Encoding, Entry, Filter, WatchEvent

Decode = Callable[[bytes, int], dict]
Wake = Callable[[CacheWatcher], None]

# How many keys one storage read fetches while a selector filters a limited list.
LIST_BATCH = 500
# A direct watcher with more undelivered events than this is closed, as a cache watcher is.
MAX_PENDING_EVENTS = 1000
MAX_PENDING_BYTES = 16 << 20


def filter_of(options) -> Filter:
    return Filter(options.label_selector, options.field_selector)


class ReadsWatch:
    """What a watch hands back: its watcher (``closed``, ``error``), take() and cancel()."""

    __slots__ = ("watcher", "_cancel")

    def __init__(self, watcher: CacheWatcher, cancel: Callable[[], None]):
        self.watcher = watcher
        self._cancel = cancel

    def take(self) -> list:
        return self.watcher.take()

    @property
    def closed(self) -> bool:
        return self.watcher.closed

    def cancel(self) -> None:
        self._cancel()


class Ticker:
    """Every ``tick`` seconds while ``wanted()``: ``due(now)`` queues the bookmarks that are due and
    answers their watchers, and each is woken.  One for the watch cache, one per StorageReader."""

    def __init__(self, clock, tick: float, due: Callable[[float], list], wake: Wake, wanted: Callable[[], bool]):
        self.clock = clock
        self.tick = tick
        self._due = due
        self._wake = wake
        self._wanted = wanted
        self._call = None

    def soon(self) -> None:
        if self._call is None or not self._call.active():
            self._call = self.clock.callLater(self.tick, self._run)

    def _run(self) -> None:
        self._call = None
        for w in self._due(self.clock.seconds()):
            self._wake(w)
        if self._wanted():
            self.soon()

    def stop(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None


class StorageReader:
    def __init__(self, storage, prefix: bytes, decode: Decode, field_set: Callable[[dict], dict], clock, *,
                 bookmark_interval: float = 60.0, bookmark_tick: float = 1.0, resource: str = "",
                 convert: Optional[Callable[[list[dict]], Awaitable[list[dict]]]] = None):
        self.storage = storage
        self.prefix = prefix
        self.decode = decode
        # Objects ``decode`` leaves in the version they were stored in go through ``convert`` (a conversion
        # webhook) before anyone sees them; watch events then wait their turn, so their order holds.
        self.convert = convert
        # ``served_json(value, revision)``: the object's JSON as ``codec.dumps(decode(...))`` would give it, made
        # without decoding where the store can (None where not); the watch cache fills with it.
        self.served_json: Optional[Callable[[bytes, int], Optional[bytes]]] = None
        self.field_set = field_set
        self.clock = clock
        self.resource = resource or prefix.decode(errors="replace")
        self.bookmark_interval = bookmark_interval
        self._watches: dict[CacheWatcher, _DirectWatch] = {}
        self._ticker = Ticker(clock, bookmark_tick, self._bookmarks, self._wake,
                              lambda: any(w.allow_bookmarks for w in self._watches))

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Nothing to fill: storage is read as it is."""

    def filled(self) -> Deferred:
        return succeed(True)

    def object_count(self) -> Optional[int]:
        """How many objects are stored, where known without reading storage (never, here)."""
        return None

    def stop(self) -> None:
        self._ticker.stop()
        for w, direct in list(self._watches.items()):
            self._close(w, "stopped", keep_pending=True)
            direct.wake(w)

    async def caught_up(self, timeout: float) -> bool:
        """Nothing of its own to catch up: its watches are storage's."""
        return True

    def watch_count(self) -> int:
        """How many watches it serves."""
        return len(self._watches)

    def watch_revision(self, watcher: CacheWatcher) -> Optional[int]:
        """The newest revision ``watcher``'s storage watch has handed it (or started after); None once ended."""
        direct = self._watches.get(watcher)
        return None if direct is None else direct.revision

    # -- reads -------------------------------------------------------------------------
    async def get(self, key: bytes, shared: bool = False, resource_version: str = "") -> Optional[dict]:
        """One object as storage has it now; always a fresh dict (``shared`` costs nothing here).  A
        ``resource_version`` N ahead of storage's revision is upstream's 504 at once, as for a list."""
        if resource_version:
            wanted = meta.parse_resource_version(resource_version)
            if wanted:
                current = await self.storage.current_revision()
                if wanted > current:
                    raise errors.too_large_resource_version(wanted, current)
        kv = await self.storage.get(key)
        if kv is None:
            return None
        obj = self.decode(kv.value, kv.mod_revision)
        return obj if self.convert is None else (await self.convert([obj]))[0]

    async def list(self, prefix: bytes, options) -> tuple[list[dict], dict]:
        """(items, list metadata {resourceVersion, continue?, remainingItemCount?}) read from storage:
        continue pages at their token's revision, Exact reads (and first pages at a resourceVersion without a
        match) at theirs, everything else at the current revision (a NotOlderThan resourceVersion ahead of it is
        upstream's 504)."""
        revision: Optional[int] = None
        start_key = None
        if options.continue_token:
            # The token read first, then the version beside it refused, as upstream's storage checks a list's
            # options (a watch's continue is not looked at).
            revision, start = continuetoken.decode(options.continue_token)
            if options.resource_version not in ("", "0"):
                raise errors.bad_request("specifying resource version is not allowed when using continue")
            start_key = prefix + start.encode()
            if revision == -1:
                revision = None     # an inconsistent continue: on from the key, at the current revision
        elif options.resource_version not in ("", "0"):
            requested = meta.parse_resource_version(options.resource_version)
            if options.resource_version_match == "Exact" or (options.limit > 0 and not options.resource_version_match):
                # Exact, or the legacy exact read: a first page at resourceVersion=N without a match is the state
                # at N (upstream's etcd3 store reads a limited list at the revision given).
                revision = requested
            else:
                current = await self.storage.current_revision()
                if requested > current:
                    # As upstream's etcd3 store: at once, asking for no particular wait.
                    raise errors.too_large_resource_version(requested, current)
        flt = filter_of(options)
        items: list[dict] = []
        limit = options.limit if options.limit > 0 else 0
        last_key = None
        more = False
        count = None
        while True:
            batch = max(limit - len(items), 1) if limit and flt.everything else (LIST_BATCH if limit else 0)
            try:
                result = await self.storage.range(prefix, revision=revision, limit=batch, start_key=start_key)
            except RevisionCompacted as e:
                raise _expired(options, prefix, start_key, e) from None
            except FutureRevision as e:
                raise errors.too_large_resource_version(e.requested, e.current, 1) from None
            revision = result.revision
            if count is None:
                count = result.count
            for index, kv in enumerate(result.kvs):
                obj = self.decode(kv.value, kv.mod_revision)
                if flt.everything or flt.passes(Entry(kv.key, obj, kv.mod_revision), self.field_set):
                    items.append(obj)
                if limit and len(items) >= limit:
                    last_key = kv.key
                    more = index + 1 < len(result.kvs) or result.more
                    break
            if last_key is not None or not result.more:
                break
            start_key = result.kvs[-1].key + b"\x00"
        if self.convert is not None and items:
            items = await self.convert(items)
        list_meta: dict = {"resourceVersion": str(revision)}
        if more:
            list_meta["continue"] = continuetoken.encode(revision, (last_key[len(prefix):] + b"\x00").decode())
            if flt.everything and count is not None:
                list_meta["remainingItemCount"] = max(count - len(items), 0)
        return items, list_meta

    # -- watches -----------------------------------------------------------------------
    async def watch(self, prefix: bytes, options, encoding: Encoding, wake: Wake) -> ReadsWatch:
        """A watch on storage's own watch.  Initial events (resourceVersion unset or "0", or
        sendInitialEvents=true) come from a list first; a watch from resourceVersion N starts after N,
        waiting for it if storage has not reached it yet, as a watch on etcd does upstream."""
        rv = options.resource_version
        initial = options.send_initial_events if options.send_initial_events is not None else rv in ("", "0")
        initial_objects: list[dict] = []
        if initial:
            items, list_meta = await self.list(prefix, dataclasses.replace(
                options, limit=0, continue_token="", resource_version_match="",
                resource_version="" if rv == "0" else rv))
            initial_objects = list(items)
            after = int(list_meta["resourceVersion"])
        elif rv in ("", "0"):
            after = await self.storage.current_revision()
        else:
            after = meta.parse_resource_version(rv)
        watcher = CacheWatcher(prefix, after, filter_of(options), encoding, options.allow_bookmarks,
                               self.clock.seconds(), bookmark_interval=self.bookmark_interval,
                               deadline=options.deadline)
        for obj in initial_objects:
            watcher._queue(after, encoding.event(ADDED, obj))
        if initial and options.send_initial_events and options.allow_bookmarks:
            watcher._queue(after, encoding.bookmark(after, True))
        direct = self._watches[watcher] = _DirectWatch(wake, after)
        on_event = self._on_event if self.convert is None else self._on_event_in_turn
        direct.handle = self.storage.watch(prefix, after, lambda event: on_event(watcher, event))
        if options.allow_bookmarks:
            self._ticker.soon()
        if watcher.pending:
            self.clock.callLater(0, self._wake, watcher)
        return ReadsWatch(watcher, lambda: self._close(watcher, "stopped"))

    def _on_event_in_turn(self, watcher: CacheWatcher, event) -> None:
        """An event whose objects must be converted first: handled once the events before it are."""
        direct = self._watches.get(watcher)
        if direct is not None:
            direct.turn.addCallback(lambda _: ensureDeferred(self._convert_event(watcher, event)))
            direct.turn.addErrback(self._conversion_failed, watcher)

    async def _convert_event(self, watcher: CacheWatcher, event) -> None:
        if isinstance(event, Compacted) or watcher not in self._watches:
            self._on_event(watcher, event)
            return
        prev = event.prev_kv
        objects = [self.decode(kv.value, kv.mod_revision) for kv in
                   ([prev] if prev is not None else []) + ([event.kv] if event.type != STORAGE_DELETE else [])]
        converted = await self.convert(objects)
        self._on_event(watcher, event, converted[0] if prev is not None else None,
                       converted[-1] if event.type != STORAGE_DELETE else None)

    def _conversion_failed(self, failure, watcher: CacheWatcher) -> None:
        from ..machinery.errors import StatusError
        error = failure.value if isinstance(failure.value, StatusError) else \
            errors.internal_error(f"conversion failed: {failure.getErrorMessage()}")
        direct = self._watches.get(watcher)
        self._close(watcher, "an event could not be converted", error)
        if direct is not None:
            direct.wake(watcher)

    def _on_event(self, watcher: CacheWatcher, event, old_obj=None, new_obj=None) -> None:
        direct = self._watches.get(watcher)
        if direct is None:
            return
        if isinstance(event, Compacted):
            self._close(watcher, "storage compacted the watch's revisions", errors.resource_expired(
                f"too old resource version: {watcher.start_rv} ({event.compact_revision})"))
            direct.wake(watcher)
            return
        direct.revision = event.revision
        prev = event.prev_kv
        old = Entry(prev.key, old_obj or self.decode(prev.value, prev.mod_revision), prev.mod_revision) \
            if prev is not None else None
        if event.type == STORAGE_DELETE:
            change = WatchEvent(DELETE, event.kv.key, None, old, event.revision, 0.0)
        else:
            kv = event.kv
            new = Entry(kv.key, new_obj or self.decode(kv.value, kv.mod_revision), kv.mod_revision)
            if old is None and kv.create_revision != kv.mod_revision:
                # An update whose previous value storage no longer has (etcd compacted it): still MODIFIED, as
                # if the object had been as it is now.
                old = new
            change = WatchEvent(PUT, kv.key, new, old, event.revision, 0.0)
        event_type = change.typed_for(watcher.filter, self.field_set)
        if event_type is None:
            return
        watcher._queue(event.revision, change.payload(event_type, watcher.encoding))
        if len(watcher.pending) > MAX_PENDING_EVENTS or watcher.pending_bytes > MAX_PENDING_BYTES:
            self._close(watcher, "the watcher fell too far behind")
        direct.wake(watcher)

    def _bookmarks(self, now: float) -> list[CacheWatcher]:
        due = []
        for w, direct in self._watches.items():
            if w.allow_bookmarks and now >= w.next_bookmark and direct.revision >= w.sent_rv:
                w.next_bookmark = w.bookmark_after(now, self.bookmark_interval)
                w._queue(direct.revision, w.encoding.bookmark(direct.revision, False))
                due.append(w)
        return due

    def _wake(self, watcher: CacheWatcher) -> None:
        direct = self._watches.get(watcher)
        if direct is not None:
            direct.wake(watcher)

    def _close(self, watcher: CacheWatcher, reason: str, error=None, keep_pending: bool = False) -> None:
        """Ends a direct watch: its storage watch is cancelled, its watcher closed."""
        direct = self._watches.pop(watcher, None)
        if direct is not None and direct.handle is not None:
            direct.handle.cancel()
        watcher.close(reason, error, keep_pending)


class _DirectWatch:
    """A direct watch's storage watch, its wake, the newest revision it has seen, and (when its objects are
    converted) the turn its next event waits for."""

    __slots__ = ("handle", "wake", "revision", "turn")

    def __init__(self, wake: Wake, revision: int):
        self.handle = None
        self.wake = wake
        self.revision = revision
        self.turn = succeed(None)


def _expired(options, prefix: bytes, start_key: Optional[bytes], e: RevisionCompacted) -> errors.StatusError:
    if options.continue_token:
        expired = errors.resource_expired(
            "The provided continue parameter is too old to display a consistent list result. "
            "You can start a new list without the continue parameter, or use the continue token "
            "in this response to retrieve the remainder of the results. Continuing with the "
            "provided token results in an inconsistent list - objects that were created, modified, "
            "or deleted between the time the first chunk was returned and now may show up in the "
            "list.")
        expired.list_meta = {"continue": continuetoken.encode(-1, start_key[len(prefix):].decode())}
        return expired
    # A list at a revision compaction removed (an Exact or paged read): upstream's etcd3 store words it so.
    return errors.resource_expired("The resourceVersion for the provided list is too old.")

"""
The IO side of the watch cache: one Cacher per resource prefix, fed by ONE storage
watch, serving gets, lists and watches from the sans-IO core in ``cache.py``.  It has the
reads interface of the StorageReader it wraps (``reader.py``) and hands that reader what it
does not serve: the lists upstream's cacher delegates (``delegates_list``), and consistent
reads it could not catch up for in time.

- Fill: one storage range of the prefix, then a storage watch from the range's revision.
  A Compacted from that watch (we fell behind compaction) re-lists, which closes every
  cache watcher so its client resumes (or re-lists on 410).
- Consistent reads (resourceVersion unset) ask storage for its current revision and
  serve from the cache once it has caught up with it ("consistent list from cache").
  The embedded store delivers watch events on the reactor thread strictly in revision
  order and hands a write to its live watchers before any later read answers; so once
  that answer is in, the cache may count itself current at that revision.  A remote
  store (etcd) vouches through its watch's progress (``progress_revision`` and
  ``on_progress``, fed by etcd's progress notifications) and, for a prefix it tracks
  (``track``, before the fill), at once through the watch of the whole storage root
  (``vouch``, kapiserver/storage/etcd_vouch.py); etcd's current revision is read once for
  many concurrent reads (kapiserver/storage/coalesce.py).  A cache that cannot get there
  in time reads storage instead, as upstream falls back.
- GETs are consistent reads too: from the cache on the embedded store and on a tracked
  etcd prefix; from etcd otherwise.
- resourceVersion=N (NotOlderThan): wait up to ``wait_timeout`` for N, then 504
  "Too large resource version" (cause ResourceVersionTooLarge, retry after 1 s).
  resourceVersion=0: the cache as it is.
- Watches, as upstream: only sendInitialEvents=true waits for its resourceVersion (and
  fails like a list, the caller sending the Status as an ERROR event); any other watch
  from a resourceVersion the cache has not reached starts at once and simply gets the
  events after it when they come, until its timeout.  Unlike upstream, a watch from a
  resourceVersion older than the cache's window (a client resuming across a restart,
  where the window starts at the fill) is served from storage's log by the reader, so
  it resumes without a relist; 410 only for revisions storage has compacted away.
"""

from __future__ import annotations

from typing import Any, Optional

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ..machinery import codec, continuetoken, errors, meta
from ..storage import Compacted, DELETE as STORAGE_DELETE
from .cache import DELETE, PUT, CacheWatcher, EncodedList, Encoding, Entry, ListItems, WatchCache, list_items
from .reader import ReadsWatch, StorageReader, Ticker, Wake, filter_of

log = Logger()

# What a "Too large resource version" answer from the cache asks clients to wait, as upstream.
TOO_LARGE_RETRY_SECONDS = 1

# Objects read (and decoded) per step of a fill.
FILL_PAGE = 500


# get_encoded's answer when the cache cannot serve the read.
NOT_CACHED = object()


def delegates_list(options) -> bool:
    """Whether a list goes to storage rather than the cache, as upstream's shouldDelegateList:
    continue pages, Exact reads, and the legacy exact read (a limit with resourceVersion=N and no
    resourceVersionMatch)."""
    return bool(options.continue_token) or options.resource_version_match == "Exact" or bool(
        options.limit and options.resource_version not in ("", "0") and not options.resource_version_match)


class Cacher:
    """The watch cache of one resource, with the reads interface of its StorageReader (``reader``),
    to which it hands every read it does not serve itself."""

    def __init__(self, reader: StorageReader, capacity: int, clock, *, wait_timeout: float = 3.0,
                 bookmark_interval: float = 60.0, bookmark_tick: float = 1.0):
        self.reader = reader
        self.storage = reader.storage
        self.prefix = reader.prefix
        self.decode = reader.decode
        self.clock = clock
        self.resource = reader.resource
        self.wait_timeout = wait_timeout
        self.cache = WatchCache(capacity, reader.field_set, bookmark_interval=bookmark_interval)
        self._wakers: dict[int, Wake] = {}
        self._waiters: list[tuple[int, Deferred]] = []
        self._handle = None
        self._stopped = False
        self._filling = False
        self._ticker = Ticker(clock, bookmark_tick, self.cache.bookmarks, self._wake,
                              lambda: any(w.allow_bookmarks for w in self.cache.watchers))
        self._last_current = 0      # storage's revision as a consistent read last saw it
        # Whether storage (etcd) can vouch for this cache's watch at once (Etcd3Storage.track/vouch): set
        # before the first fill, whose range must come after the tracking started.
        self._vouched = False
        self._tracking = hasattr(self.storage, "track") and not self.storage.delivers_before_ack
        # Consistent reads (GET, LIST without resourceVersion) served by the cache ("cache") and by storage
        # after the cache could not be confirmed current in time ("fallback"): upstream's
        # apiserver_watch_cache_consistent_read_total.
        self.consistent_reads = {"cache": 0, "fallback": 0}
        # Keys whose get_encoded fell back: the ``get`` that follows reads storage at once rather than wait for
        # the cache a second time (reading storage is always consistent, so sharing this is harmless).
        self._read_storage: set[bytes] = set()

    # -- feeding -----------------------------------------------------------------------
    def start(self) -> None:
        """Fill from storage and start the storage watch (again, after a Compacted); nothing while it fills or
        watches already."""
        if self._filling or self._stopped or self._handle is not None:
            return
        self._filling = True
        d = Deferred.fromCoroutine(self._fill())
        d.addErrback(self._fill_failed)

    async def _fill(self) -> None:
        # Page by page at one revision, so a big resource never holds the reactor (or
        # the store's database) for long: other requests run between the pages.
        if self._tracking:
            self._tracking = False
            self._vouched = bool(await self.storage.track(self.prefix))
            if self._stopped:
                return
        items: list = []
        revision, start_key = None, None
        while True:
            result = await self.storage.range(self.prefix, revision=revision, limit=FILL_PAGE, start_key=start_key)
            if self._stopped:
                return
            revision = result.revision
            # Each object is kept as its JSON from the start: the stored bytes with the revision put in, where the
            # reader can (nothing decoded: labels and fields are worked out when a selector asks), else decoded
            # and encoded.
            for kv in result.kvs:
                encoded = self._served_json(kv)
                items.append(Entry(kv.key, None, kv.mod_revision, encoded) if encoded is not None else
                             Entry(kv.key, self.decode(kv.value, kv.mod_revision), kv.mod_revision).settle())
            if not result.more or not result.kvs:
                break
            start_key = result.kvs[-1].key + b"\x00"
        closed = self.cache.replace(items, revision)
        self._filling = False
        # A backend that hears of progress without events (etcd's progress notify) tells us.
        self._handle = self.storage.watch(self.prefix, revision, self._on_storage_event,
                                          on_progress=self._on_progress)
        for w in closed:
            self._wake(w)
        self._release()

    def _served_json(self, kv) -> Optional[bytes]:
        """The object's JSON as the stored bytes with the revision put in, where the reader can splice them;
        None where it must be decoded."""
        served = getattr(self.reader, "served_json", None)
        return served(kv.value, kv.mod_revision) if served is not None else None

    def _fill_failed(self, failure) -> None:
        self._filling = False
        if self._stopped:
            return
        log.failure("watch cache fill of {prefix} failed; retrying", failure, prefix=self.resource)
        self.clock.callLater(1.0, self.start)

    def _on_storage_event(self, event) -> None:
        if isinstance(event, Compacted):
            self._handle = None
            self.cache.ready = False
            self.start()
            return
        now = self.clock.seconds()
        try:
            if event.type == STORAGE_DELETE:
                touched = self.cache.apply(DELETE, event.kv.key, None, event.revision, now)
            else:
                # As the fill keeps them: no decode, and no encode for the watchers that take JSON.
                encoded = self._served_json(event.kv)
                if encoded is not None:
                    touched = self.cache.apply(PUT, event.kv.key, None, event.revision, now, encoded)
                else:
                    obj = self.decode(event.kv.value, event.kv.mod_revision)
                    touched = self.cache.apply(PUT, event.kv.key, obj, event.revision, now)
        except Exception:
            log.failure("watch cache of {prefix} could not apply revision {rev}; re-listing",
                        prefix=self.resource, rev=event.revision)
            if self._handle is not None:
                self._handle.cancel()
                self._handle = None
            self.cache.ready = False
            self.start()
            return
        for w in touched:
            self._wake(w)
        if self._waiters:
            self._release()

    def _on_progress(self, revision: int) -> None:
        if self.cache.ready:
            self.cache.progress(revision)
            if self._waiters:
                self._release()

    def stop(self) -> None:
        self._stopped = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._ticker.stop()
        # Each watcher still gets what it has queued: the server stops only once the committed events
        # are delivered.
        for w in list(self.cache.watchers):
            self.cache.stop(w, keep_pending=True)
            self._wake(w)
        self.reader.stop()

    async def caught_up(self, timeout: float) -> bool:
        """Whether, within ``timeout`` seconds, the cache has applied (and so handed its watchers) every event
        storage had committed when asked."""
        if self._stopped or self._handle is None:
            return True
        current = await self.storage.current_revision()
        await self._vouch(current, timeout)
        return bool(await self.wait_for(current, timeout=timeout))

    def watch_count(self) -> int:
        return len(self.cache.watchers) + self.reader.watch_count()

    def filled(self) -> Deferred:
        """Fires once the first fill is done (False if it took longer than a minute)."""
        return self.wait_for(0, timeout=60.0)

    def object_count(self) -> Optional[int]:
        """How many objects the cache holds, once filled; None before."""
        return len(self.cache.objects) if self.cache.ready else None

    # -- waiting for revisions ---------------------------------------------------------
    def _release(self) -> None:
        if not self.cache.ready:
            return
        # Taken first: a waiter's callback may write, and a store that delivers its events at once (memory)
        # calls back into _release before this loop ends; the waiters it added since are kept.
        waiters, self._waiters = self._waiters, []
        keep = []
        for revision, d in waiters:
            if self.cache.revision >= revision:
                d.callback(True)
            else:
                keep.append((revision, d))
        self._waiters = keep + self._waiters

    def wait_for(self, revision: int, timeout: Optional[float] = None) -> Deferred:
        """Fires True once the cache is ready and at ``revision`` or later, False after
        ``timeout`` seconds."""
        if self.cache.ready and self.cache.revision >= revision:
            d = Deferred()
            d.callback(True)
            return d
        d = Deferred()
        entry = (revision, d)
        self._waiters.append(entry)

        def expire():
            if entry in self._waiters:
                self._waiters.remove(entry)
                d.callback(False)
        timer = self.clock.callLater(self.wait_timeout if timeout is None else timeout, expire)
        d.addBoth(_cancel_timer, timer)
        return d

    async def _storage_caught_up(self, fallback: bool = False) -> Optional[int]:
        """Storage's current revision once the cache is current at it, or None."""
        current = self._last_current = await self.storage.current_revision()
        if self.cache.ready and self.cache.revision >= current:
            return current
        handle = self._handle
        # Without a progress request, a remote store's vouching may lag: a caller
        # that can fall back to storage reads it rather than wait long.
        remote = handle is not None and not self.storage.delivers_before_ack
        short = min(self.wait_timeout, 0.25) if remote and fallback else None
        started = self.clock.seconds()
        await self._vouch(current, short if short is not None else self.wait_timeout)
        if short is not None:
            # One budget for both waits: a revision the root watch never delivers (written outside it) costs
            # a read ``short`` seconds before it goes to storage, not twice that.
            short = max(0.0, short - (self.clock.seconds() - started))
        if await self.wait_for(current, timeout=short):
            return current
        return None

    async def _vouch(self, current: int, timeout: float) -> None:
        """Move the cache's revision up to what its storage watch vouches for: once replayed, the embedded
        store's is ``current`` itself (it hands each write to its live watchers first); a remote store's
        (etcd) is what its events and progress notifications reached, or, for a tracked prefix, what the
        storage root's watch establishes (``Etcd3Storage.vouch``) within ``timeout``."""
        handle = self._handle
        if handle is None or not self.cache.ready:
            return
        self.cache.progress(handle.progress_revision)
        if self.cache.revision >= current or not self._vouched:
            return
        vouched = await self.storage.vouch(handle, current, timeout)
        # Only for the watch that fed the cache all along: a re-fill since started another.
        if vouched is not None and handle is self._handle and self.cache.ready:
            self.cache.progress(vouched)

    async def _not_older_than(self, rv: int) -> None:
        if await self.wait_for(rv):
            return
        current = await self.storage.current_revision()
        if current >= rv and await self._storage_caught_up() is not None:
            return
        raise errors.too_large_resource_version(rv, self.cache.revision, TOO_LARGE_RETRY_SECONDS)

    # -- lists -------------------------------------------------------------------------
    def _serves_gets(self) -> bool:
        """Whether a consistent GET may wait for the cache: on the embedded store, and on etcd for a prefix
        whose watch storage vouches for at once (``_vouched``).  Otherwise (etcd without that) storage is
        read directly, as upstream reads etcd for a GET: waiting for a progress notification would cost
        more than the read."""
        return self._handle is not None and (self.storage.delivers_before_ack or self._vouched)

    async def get(self, key: bytes, shared: bool = False, resource_version: str = "") -> Optional[dict]:
        """A read of one key (the cache's own dict when ``shared``, else a copy made from its encoding).
        Consistent (``resource_version`` unset): from the cache once it has caught up with storage, else
        from storage (see ``_serves_gets``).  At a ``resource_version`` (upstream's GetOptions): "0" the
        cache as it is, N the cache once it has reached N (504 "Too large resource version" after the wait);
        storage while the cache is not filled."""
        if resource_version:
            if await self._fresh_enough(resource_version):
                entry = self.cache.entry(key)
                if entry is None:
                    return None
                return entry.shared_obj() if shared else codec.loads(entry.json())
            return await self.reader.get(key, shared, resource_version)
        if not self._serves_gets() or not self.cache.ready:
            return await self.reader.get(key, shared)
        if key in self._read_storage:
            self._read_storage.discard(key)
            return await self.reader.get(key, shared)
        if await self._storage_caught_up(fallback=True) is None:
            self.consistent_reads["fallback"] += 1
            return await self.reader.get(key, shared)
        self.consistent_reads["cache"] += 1
        entry = self.cache.entry(key)
        if entry is None:
            return None
        return entry.shared_obj() if shared else codec.loads(entry.json())

    def peek(self, key: bytes) -> "tuple[bytes, int] | None":
        """What the cache holds of ``key`` right now, without waiting for it to catch up: (the object's
        JSON, its revision), or None.  A guess an update starts from (storage's compare-and-swap decides,
        as upstream's GuaranteedUpdate starts from the cached object)."""
        if self._handle is None or not self.cache.ready:
            return None
        entry = self.cache.entry(key)
        return None if entry is None else (entry.json(False), entry.revision)

    def peek_shared(self, key: bytes) -> "dict | None | object":
        """What the cache holds of ``key`` right now, without waiting for it to catch up with storage (as an
        informer's lister reads): the cache's own dict (read it, never change it), None when it holds no such
        object, NOT_CACHED while it is not filled or not watching storage."""
        if self._handle is None or not self.cache.ready:
            return NOT_CACHED
        entry = self.cache.entry(key)
        return None if entry is None else entry.shared_obj()

    def peek_list(self, prefix: bytes) -> "ListItems | object":
        """The objects under ``prefix`` as the cache holds them now: what ``list`` answers at resourceVersion
        "0" once the cache is filled, without its awaits (read them, never change them); NOT_CACHED while it
        is not filled."""
        if not self.cache.ready:
            return NOT_CACHED
        return self.cache.list(prefix)[0]

    def get_encoded_now(self, key: bytes, resource_version: str = "") -> "bytes | None | object":
        """``get_encoded``'s answer where it needs no wait: the store knows its current revision without asking
        (``known_revision``: the embedded stores) and the cache has reached it, or the cache has reached the
        ``resource_version`` asked for.  NOT_CACHED otherwise."""
        if resource_version:
            wanted = meta.parse_resource_version(resource_version)
            if self._handle is None or not self.cache.ready or self.cache.revision < wanted:
                return NOT_CACHED
            entry = self.cache.entry(key)
            return None if entry is None else entry.json(False)
        if not self._serves_gets() or not self.cache.ready:
            return NOT_CACHED
        known = getattr(self.storage, "known_revision", None)
        current = known() if known is not None else None
        if current is None or self.cache.revision < current:
            return NOT_CACHED
        self._last_current = current
        return self._cached_json(key)

    async def get_encoded(self, key: bytes, resource_version: str = "") -> "bytes | None | object":
        """The same read as ``get``, as the object's JSON bytes (``codec.dumps`` of it, encoded once per object
        version); None when there is no such object; NOT_CACHED when the cache cannot answer (``get`` then
        reads storage)."""
        now = self.get_encoded_now(key, resource_version)
        if now is not NOT_CACHED:
            return now
        if resource_version:
            if not await self._fresh_enough(resource_version):
                return NOT_CACHED
            entry = self.cache.entry(key)
            return None if entry is None else entry.json(False)
        if not self._serves_gets() or not self.cache.ready:
            return now
        if await self._storage_caught_up(fallback=True) is None:
            self.consistent_reads["fallback"] += 1
            if len(self._read_storage) >= 1024:       # callers that never came back for their get
                self._read_storage.clear()
            self._read_storage.add(key)
            return NOT_CACHED
        return self._cached_json(key)

    async def _fresh_enough(self, resource_version: str) -> bool:
        """Whether the cache may answer a read at ``resource_version`` ("0": any state; N: not older than N),
        once it has reached it (raising upstream's 504 when it does not within the wait, 400 for a
        resourceVersion that is not one); False while it is not filled or not watching (storage answers)."""
        wanted = meta.parse_resource_version(resource_version)
        if self._handle is None or not self.cache.ready:
            return False
        if wanted:
            await self._not_older_than(wanted)
        return True

    def _cached_json(self, key: bytes) -> Optional[bytes]:
        """A consistent read served by the cache: the object's cached JSON, None if there is none."""
        self.consistent_reads["cache"] += 1
        entry = self.cache.entry(key)
        return None if entry is None else entry.json(False)

    async def list(self, prefix: bytes, options) -> tuple[list[dict], dict]:
        """(items, list metadata): from the cache, or from storage for the lists the cache does not
        serve (``delegates_list``), while it is not filled (upstream's ResilientWatchCacheInitialization
        reads storage then), and for a consistent read it could not catch up with in time.  The cache's
        items are decoded for this call (a small unfiltered list's are shared until the next change: read
        them, never change them).  With a limit (except at resourceVersion=0, where it is ignored) the first
        page comes with a continue token at the cache's revision; continuing reads storage at it."""
        cached = await self._cached_list(prefix, options)
        if cached is None:
            return await self.reader.list(prefix, options)
        entries, list_meta = cached
        if entries is None:
            items, _ = self.cache.list(prefix)
            return items, list_meta
        return list_items(entries.entries), list_meta

    async def list_encoded(self, prefix: bytes, options) -> "tuple[EncodedList, dict] | None":
        """The same list as ``list`` as entries, whose ``encoded`` gives the items' JSON without decoding
        them (for a plain JSON response); None where the cache does not serve it (``list`` reads storage)."""
        cached = await self._cached_list(prefix, options)
        if cached is None:
            return None
        entries, list_meta = cached
        if entries is None:
            entries, _ = self.cache.entries(prefix)
        return entries, list_meta

    async def _cached_list(self, prefix: bytes, options) -> "tuple[EncodedList | None, dict] | None":
        """(entries, list metadata) of a list the cache serves (entries None: the unfiltered whole under
        ``prefix``, at the metadata's revision); None when storage is to be read."""
        if delegates_list(options) or not self.cache.ready:
            return None
        rv = options.resource_version
        if rv == "":
            if await self._storage_caught_up(fallback=True) is None:
                self.consistent_reads["fallback"] += 1
                return None
            self.consistent_reads["cache"] += 1
        elif rv == "0":
            if not await self.wait_for(0):
                return None
        else:
            await self._not_older_than(meta.parse_resource_version(rv))
        flt = filter_of(options)
        limit = options.limit if rv != "0" else 0      # at "0" the limit is ignored, as upstream
        if flt.everything and not limit:
            return None, {"resourceVersion": str(self.cache.revision)}
        entries, revision = self.cache.entries(prefix, flt)
        list_meta: dict = {"resourceVersion": str(revision)}
        selected = entries.entries
        # More to come when objects follow the page's last, matching the selector or not (upstream's cacher looks
        # past the last match only as far as the page goes, so a page of exactly ``limit`` matches continues).
        if 0 < limit and (limit < len(selected) or limit == len(selected) and not flt.everything and
                          self.cache.has_after(prefix, selected[-1].key)):
            # The first page from the cache; the continue token pins its revision, so
            # the next pages (read from storage) are the same snapshot.
            last = selected[limit - 1].key
            list_meta["continue"] = continuetoken.encode(revision, (last[len(prefix):] + b"\x00").decode())
            if flt.everything:
                list_meta["remainingItemCount"] = len(selected) - limit
            entries = EncodedList(selected[:limit])
        return entries, list_meta

    # -- watches -----------------------------------------------------------------------
    async def watch(self, prefix: bytes, options, encoding: Encoding, wake: Wake) -> ReadsWatch:
        """A watch served from the cache; ``wake(watcher)`` is called whenever it has
        payloads queued or was closed.  Raises StatusError for a too-old (410) or,
        with sendInitialEvents, a too-large (504) resourceVersion."""
        rv_text = options.resource_version
        initial = options.send_initial_events if options.send_initial_events is not None \
            else rv_text in ("", "0")
        if initial:
            if rv_text == "" and options.send_initial_events:
                if await self._storage_caught_up() is None:
                    raise errors.too_large_resource_version(self._last_current, self.cache.revision,
                                                            TOO_LARGE_RETRY_SECONDS)
            elif rv_text in ("", "0"):
                await self.wait_for(0, timeout=self.wait_timeout * 10)
            else:
                await self._not_older_than(meta.parse_resource_version(rv_text))
            start = None
        else:
            if rv_text in ("", "0"):
                await self.wait_for(0, timeout=self.wait_timeout * 10)
                start = self.cache.revision
            else:
                start = meta.parse_resource_version(rv_text)
                await self.wait_for(0, timeout=self.wait_timeout * 10)
        if not self.cache.ready:
            raise errors.timeout("the watch cache is not ready yet", 1)
        if start is not None and start < self.cache.window_start:
            # Older than the window (a resume across a restart, or a long-disconnected client): storage's log
            # still has the events unless compaction removed them (then 410, as before).
            return await self._resume(prefix, options, encoding, wake)
        watcher = self.cache.watch(prefix, start, filter_of(options), encoding, self.clock.seconds(),
                                   allow_bookmarks=options.allow_bookmarks,
                                   initial_events_end=bool(initial and options.send_initial_events
                                                           and options.allow_bookmarks),
                                   deadline=options.deadline)
        self._wakers[id(watcher)] = wake
        if options.allow_bookmarks:
            self._ticker.soon()
        if watcher.pending:
            self.clock.callLater(0, self._wake, watcher)
        return ReadsWatch(watcher, lambda: self._forget(watcher))

    async def _resume(self, prefix: bytes, options, encoding: Encoding, wake: Wake) -> "ResumedWatch":
        """A watch from below the window: served by the reader from storage's log until it has seen a revision
        the window holds, then handed over to the cache (one shared encoding per event again, rather than a
        storage watch and a decode per watcher)."""
        resumed = ResumedWatch()

        def direct_wake(watcher: CacheWatcher) -> None:
            if resumed.direct is not None and resumed.cached is None and self._hand_over(resumed, prefix, options,
                                                                                          encoding, wake):
                return
            wake(watcher)
        resumed.direct = await self.reader.watch(prefix, options, encoding, direct_wake)
        self._hand_over(resumed, prefix, options, encoding, wake)
        return resumed

    def _hand_over(self, resumed: "ResumedWatch", prefix: bytes, options, encoding: Encoding, wake: Wake) -> bool:
        """Move ``resumed`` onto the cache if its storage watch has reached the window; whether it moved."""
        direct = resumed.direct.watcher
        revision = self.reader.watch_revision(direct)
        if direct.closed or revision is None or self._stopped or not self.cache.ready or \
                revision < self.cache.window_start:
            return False
        watcher = self.cache.watch(prefix, revision, filter_of(options), encoding, self.clock.seconds(),
                                   allow_bookmarks=options.allow_bookmarks, deadline=options.deadline)
        # What storage queued and was not taken yet goes first: every revision in it is at or below ``revision``.
        watcher.pending.extendleft(reversed(direct.pending))
        watcher.pending_bytes += direct.pending_bytes
        watcher.next_bookmark = direct.next_bookmark
        self._wakers[id(watcher)] = wake
        resumed.cached = ReadsWatch(watcher, lambda: self._forget(watcher))
        resumed.direct.cancel()
        if options.allow_bookmarks:
            self._ticker.soon()
        if watcher.pending:
            self.clock.callLater(0, self._wake, watcher)
        return True

    def _forget(self, watcher: CacheWatcher) -> None:
        self.cache.stop(watcher)
        self._wakers.pop(id(watcher), None)

    def _wake(self, watcher: CacheWatcher) -> None:
        wake = self._wakers.get(id(watcher))
        if wake is None:
            return
        if watcher.closed:
            del self._wakers[id(watcher)]
        try:
            wake(watcher)
        except Exception:
            log.failure("watch delivery failed on {prefix}", prefix=self.resource)


class ResumedWatch:
    """A watch the reader serves from storage (``direct``) until the cache takes it over (``cached``); the
    ReadsWatch interface, on whichever serves it now."""

    __slots__ = ("direct", "cached")

    def __init__(self):
        self.direct: Optional[ReadsWatch] = None
        self.cached: Optional[ReadsWatch] = None

    @property
    def _current(self) -> ReadsWatch:
        return self.cached if self.cached is not None else self.direct

    @property
    def watcher(self) -> CacheWatcher:
        return self._current.watcher

    def take(self) -> list:
        return self._current.take()

    @property
    def closed(self) -> bool:
        return self._current.closed

    def cancel(self) -> None:
        self._current.cancel()


def _cancel_timer(result: Any, timer) -> Any:
    if timer.active():
        timer.cancel()
    return result

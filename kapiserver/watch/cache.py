"""
The watch cache core, sans-IO: events and ``now`` in, deliveries and errors out.

The rules (every method below keeps them):

1. The cache holds the current objects under one storage prefix (each as its JSON, with its
   labels and mod revision, keyed by storage key: see Entry) as of ``revision``, and a window
   of the latest events.  Events come in strictly in revision order; ``progress(rev)`` moves ``revision``
   on without an event (storage said nothing under the prefix changed up to ``rev``).
2. ``window_start`` is the revision after which every event is in the window.  A watch
   may start from any rv >= window_start; an older one is refused with 410 Expired
   "too old resource version: rv (window_start)", as upstream words it.
3. The window keeps at least ``capacity`` events, and also every event younger than
   ``fresh_seconds`` (upstream's 75 s), up to ``max_capacity``.
4. A watcher sees each event with revision > its start rv exactly once, in revision
   order, typed by its filter's transition: the new object passes -> ADDED (the old did
   not) or MODIFIED (it did); only the old object passes -> DELETED carrying the old
   object with the event's resourceVersion; neither -> nothing.
5. Each event is encoded once per (type, encoding key); every watcher with that key is
   handed the same bytes.  An encoding whose key is None is never shared.
6. Deliveries queue on the watcher (``pending``) until the IO side takes them.  A
   watcher whose queue passes its bound is closed and dropped from fan-out at once, so
   it never slows the others; ``delivered_rv`` stays the revision of the last payload
   taken, from which its client can resume.
7. A bookmark carries ``revision``; it is queued behind every event at or below that
   revision, so a bookmark never skips an undelivered event.
8. ``replace`` (a re-list after storage compaction) swaps in a new state and closes
   every watcher: their events in between are unknown, so they must resume.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import deque
from typing import Any, Callable, Hashable, Iterable, Optional, Protocol

from ..machinery import codec, errors

ADDED, MODIFIED, DELETED, BOOKMARK = "ADDED", "MODIFIED", "DELETED", "BOOKMARK"
# A watch that asked for bookmarks gets one this many seconds before its timeout ends it (upstream's cacher).
PRE_TIMEOUT_BOOKMARK = 2.0
PUT, DELETE = "PUT", "DELETE"

FieldSet = Callable[[dict], dict]


class Encoding(Protocol):
    """How one watcher wants its deliveries; ``key`` equal between two encodings means
    they encode an event to the same payload (None: never share)."""

    key: Optional[Hashable]

    def event(self, event_type: str, obj: dict) -> Any: ...

    def bookmark(self, revision: int, initial_events_end: bool) -> Any: ...


class ObjectEncoding:
    """Deliveries as (type, object) pairs, for in-process watchers."""

    key = "object"

    def __init__(self, kind: str, api_version: str):
        self.kind = kind
        self.api_version = api_version

    def event(self, event_type: str, obj: dict) -> tuple:
        return event_type, obj

    def bookmark(self, revision: int, initial_events_end: bool) -> tuple:
        metadata: dict = {"resourceVersion": str(revision)}
        if initial_events_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        return BOOKMARK, {"kind": self.kind, "apiVersion": self.api_version, "metadata": metadata}


# The labels of an object without any (shared: read, never changed).
NO_LABELS: dict = {}


# How an object's JSON begins when it can be kept as a typed-list item and a head: its kind and apiVersion members
# first (as the store writes them), followed by the rest of the object or its end.
_HEAD = re.compile(rb'\{"kind":"[^"\\]*","apiVersion":"[^"\\]*"(?=[,}])')
# The heads seen (a resource's objects share one), so that entries share its bytes.
_HEADS: dict[bytes, bytes] = {}


def _split(whole: bytes) -> "tuple[Optional[bytes], bytes]":
    """(head, the object as a typed-list item) of an object's JSON that begins with its kind and apiVersion;
    (None, the JSON) of any other."""
    m = _HEAD.match(whole)
    if m is None:
        return None, whole
    end = m.end()
    head = whole[:end]
    head = _HEADS.get(head) or (_HEADS.setdefault(head, head) if len(_HEADS) < 4096 else head)
    return head, (b"{" + whole[end + 1:]) if whole[end] == 0x2C else b"{}"


class Entry:
    """One object version with its labels and fields.

    Once the cache has handed it to its watchers (``settle()``), an entry keeps the object's JSON (the bytes
    ``codec.dumps`` makes of it) and its labels, not the decoded object: ``obj`` decodes it again when asked (a
    fresh dict each time), so a cached object costs about its JSON.  The JSON is kept as the object's typed-list
    item (no kind and apiVersion) and its head (those two members, shared by the resource's entries): a list
    joins the items as they are, a GET or a watch event puts the head back.  Only what is read through
    ``shared_obj`` (admission's lookups of namespaces and classes on every write) keeps its dict.

    An entry made from its JSON alone with ``unsettled`` (a storage event's new object, whose JSON the store
    spliced: see WatchCache.apply) decodes it only if a watcher's selector or encoding asks, once: that dict
    is kept, as a decoded new object's, until ``settle()``."""

    __slots__ = ("key", "_obj", "revision", "_fields", "_json", "_head", "_labels", "_unsettled")

    def __init__(self, key: bytes, obj: Optional[dict], revision: int, encoded: Optional[bytes] = None,
                 unsettled: bool = False):
        self.key = key
        self._obj = obj
        self.revision = revision
        self._fields: Optional[dict] = None
        self._head: Optional[bytes] = None
        self._json: Optional[bytes] = None      # the item when _head is set, else the whole object
        if encoded is not None:
            self._head, self._json = _split(encoded)
        self._labels: Optional[dict] = None
        self._unsettled = unsettled

    @property
    def obj(self) -> dict:
        obj = self._obj
        if obj is None:
            obj = codec.loads(self.json())
            if self._unsettled:
                self._obj = obj
        return obj

    def metadata(self) -> dict:
        """The object's metadata ({} if it has none): decoded from the JSON kept, without joining its head to it
        (a fresh dict unless the object is held decoded; read it, never change it)."""
        obj = self._obj
        if obj is None:
            obj = codec.loads(self._json)
        return obj.get("metadata", {})

    def shared_obj(self) -> dict:
        """The decoded object, kept from now on: read it, never change it."""
        obj = self._obj
        if obj is None:
            obj = self._obj = codec.loads(self.json())
        return obj

    def settle(self) -> "Entry":
        """Keep the JSON and labels; drop the decoded object."""
        self._unsettled = False
        obj = self._obj
        if obj is None:
            return self
        if self._json is None:
            self._encode()
        self._labels = (obj.get("metadata") or {}).get("labels") or NO_LABELS
        self._obj = None
        return self

    compact = settle

    def _encode(self) -> None:
        self._head, self._json = _split(codec.dumps(self._obj))

    def json(self, strip_type: bool = False) -> bytes:
        """The object's JSON (as a typed-list item when ``strip_type``)."""
        if strip_type:
            return self.item_json()
        if self._json is None:
            self._encode()
        head = self._head
        if head is None:
            return self._json
        item = self._json
        return head + b"}" if item == b"{}" else b"".join((head, b",", memoryview(item)[1:]))

    def item_json(self) -> bytes:
        """The object's JSON as a typed-list item: without kind and apiVersion."""
        if self._json is None:
            self._encode()
        if self._head is not None:
            return self._json
        return codec.dumps(self.item)

    def added(self, encoding: "Encoding") -> Any:
        """This object as an initial ADDED event."""
        return _event(encoding, ADDED, self)

    @property
    def item(self) -> dict:
        """The object as an item of a typed list: without kind and apiVersion."""
        return {k: v for k, v in self.obj.items() if k != "kind" and k != "apiVersion"}

    @property
    def labels(self) -> dict:
        obj = self._obj
        if obj is None:
            labels = self._labels
            if labels is not None:
                return labels
            obj = self.obj     # an entry made from its JSON alone: worked out once, kept
            labels = self._labels = (obj.get("metadata") or {}).get("labels") or NO_LABELS
            return labels
        return (obj.get("metadata") or {}).get("labels") or NO_LABELS

    def fields(self, field_set: FieldSet) -> dict:
        if self._fields is None:
            self._fields = field_set(self.obj)
        return self._fields


def _event(encoding: "Encoding", event_type: str, entry: Entry) -> Any:
    """``encoding.event(event_type, entry.obj)``; from the entry's JSON without decoding it where the encoding
    splices (``splices`` true: ``event_encoded`` gives the same bytes), and from its metadata alone where the
    encoding needs no more (``metadata_only`` true: ``event_metadata`` gives the same bytes)."""
    if getattr(encoding, "splices", False):
        return encoding.event_encoded(event_type, entry.json())
    if getattr(encoding, "metadata_only", False):
        return encoding.event_metadata(event_type, entry.metadata())
    return encoding.event(event_type, entry.obj)


class Filter:
    """A watcher's label and field selectors (either may be None or empty)."""

    __slots__ = ("label_selector", "field_selector", "everything", "_key_end")

    def __init__(self, label_selector=None, field_selector=None):
        self.label_selector = None if label_selector is None or label_selector.empty else label_selector
        self.field_selector = None if field_selector is None or field_selector.empty else field_selector
        self.everything = self.label_selector is None and self.field_selector is None
        # A selector naming the object (metadata.name=N: a controller's watch on one object) passes only keys
        # ending in "/N", an object's key being its prefix and its name: the others are refused without
        # decoding them for their fields.
        name = self.field_selector.exact_match("metadata.name") if self.field_selector is not None else None
        self._key_end = None if name is None else b"/" + name.encode()

    def passes(self, entry: Entry, field_set: FieldSet) -> bool:
        if self.everything:
            return True
        if self._key_end is not None and not entry.key.endswith(self._key_end):
            return False
        if self.label_selector is not None and not self.label_selector.matches(entry.labels):
            return False
        if self.field_selector is not None and not self.field_selector.matches(entry.fields(field_set)):
            return False
        return True


EVERYTHING = Filter()

# A list whose JSON document is at most this long keeps it until the cache changes (a big one is joined for each
# request rather than kept: its bytes would stay resident as long again as the objects').
JOINED_KEPT_BYTES = 4 << 20
# An unfiltered list of at most this many objects is kept decoded until the cache changes (for in-process
# readers listing the same small resource again and again).
DECODED_KEPT = 500


class EncodedList:
    """The objects of a cache list as entries, for a plain JSON list response: ``document(strip_type, head)``
    gives the whole list document, its items spliced from each object's JSON without decoding it. Shared
    between requests until the cache changes (never change it), and with it the document of each head (a list's
    kind, apiVersion and metadata: the revision moves without a change on etcd's progress notifications)."""

    __slots__ = ("entries", "_documents")

    def __init__(self, entries: list[Entry]):
        self.entries = entries
        self._documents: dict = {}

    def __len__(self) -> int:
        return len(self.entries)

    def document(self, strip_type: bool, head: bytes) -> bytes:
        """The list's JSON document (with the trailing newline): ``head``, the JSON of the list without its
        items, with ``"items":[...]`` added; kept for the next request that asks with the same head when it
        is at most JOINED_KEPT_BYTES long."""
        memo = (strip_type, head)
        document = self._documents.get(memo)
        if document is not None:
            return document
        entries = self.entries
        if not entries:
            items = b""
        elif strip_type:
            items = _join_items(entries)
        else:
            items = b",".join([e.json() for e in entries])
        document = b"".join((head[:-1], b',"items":[', items, b"]}\n"))
        if len(document) <= JOINED_KEPT_BYTES:
            if len(self._documents) >= 4:
                self._documents.clear()
            self._documents[memo] = document
        return document


def _join_items(entries: list[Entry]) -> bytes:
    """The comma-joined JSON of ``entries`` as typed-list items: the items the entries keep, as they are."""
    return b",".join([e._json if e._head is not None else e.item_json() for e in entries])


class ListItems(list):
    """The objects of a cache list, decoded (each a fresh dict unless read shared before); ``stripped`` has
    them as typed-list items (no kind/apiVersion) and ``document`` as an EncodedList's.  Never change it."""

    __slots__ = ("entries", "_encoded")

    @property
    def stripped(self) -> list[dict]:
        return [{k: v for k, v in obj.items() if k != "kind" and k != "apiVersion"} for obj in self]

    def document(self, strip_type: bool, head: bytes) -> bytes:
        if self._encoded is None:
            self._encoded = EncodedList(self.entries)
        return self._encoded.document(strip_type, head)


def list_items(entries: list[Entry]) -> ListItems:
    items = ListItems([e.obj for e in entries])
    items.entries = entries
    items._encoded = None
    return items


class WatchEvent:
    """One storage change as the cache keeps it; payloads are memoised per encoding."""

    __slots__ = ("kind", "key", "new", "old", "revision", "time", "_payloads", "_old_at_revision")

    def __init__(self, kind: str, key: bytes, new: Optional[Entry], old: Optional[Entry], revision: int,
                 time: float):
        self.kind = kind
        self.key = key
        self.new = new
        self.old = old
        self.revision = revision
        self.time = time
        self._payloads: dict = {}
        self._old_at_revision: Optional[dict] = None

    def typed_for(self, flt: Filter, field_set: FieldSet) -> Optional[str]:
        new_passes = self.new is not None and flt.passes(self.new, field_set)
        old_passes = self.old is not None and flt.passes(self.old, field_set)
        if new_passes:
            return MODIFIED if old_passes else ADDED
        return DELETED if old_passes else None

    def object_for(self, event_type: str) -> dict:
        if event_type != DELETED:
            return self.new.obj
        if self._old_at_revision is None:
            old = dict(self.old.obj)
            old["metadata"] = dict(old.get("metadata") or {}, resourceVersion=str(self.revision))
            self._old_at_revision = old
        return self._old_at_revision

    def _encode(self, event_type: str, encoding: Encoding) -> Any:
        if event_type != DELETED:
            return _event(encoding, event_type, self.new)
        return encoding.event(event_type, self.object_for(event_type))

    def payload(self, event_type: str, encoding: Encoding) -> Any:
        key = encoding.key
        if key is None:
            return self._encode(event_type, encoding)
        memo = (event_type, key)
        payload = self._payloads.get(memo)
        if payload is None:
            payload = self._payloads[memo] = self._encode(event_type, encoding)
        return payload


def _size(payload: Any) -> int:
    return len(payload) if isinstance(payload, (bytes, bytearray)) else 1


class CacheWatcher:
    """One watch on the cache.  The IO side takes ``pending`` with ``WatchCache.take``."""

    def __init__(self, prefix: bytes, start_rv: int, flt: Filter, encoding: Encoding, allow_bookmarks: bool,
                 now: float, *, bookmark_interval: float = 60.0, deadline: Optional[float] = None):
        self.prefix = prefix
        self.start_rv = start_rv
        self.filter = flt
        self.encoding = encoding
        self.allow_bookmarks = allow_bookmarks
        self.sent_rv = start_rv          # the newest revision queued (events or bookmarks)
        self.delivered_rv = start_rv     # the newest revision the IO side has taken
        self.pending: deque = deque()    # (revision, payload)
        self.pending_bytes = 0
        self.closed = False
        self.close_reason = ""
        # A StatusError the client is told as an ERROR event when the watcher closes (410 after
        # storage compacted a direct watch's revisions); None when it simply ends.
        self.error = None
        # When the handler ends the watch (the clock's seconds; None: never), and when a bookmark is next due.
        self.deadline = deadline
        self.next_bookmark = self.bookmark_after(now, bookmark_interval)

    def bookmark_after(self, now: float, interval: float) -> float:
        """When the bookmark after one at ``now`` is due: ``interval`` later, or ``PRE_TIMEOUT_BOOKMARK`` seconds
        before the deadline if that is sooner, so that a client resumes from as late a revision as can be; never
        once that moment has come (upstream's cacheWatcher.nextBookmarkTime)."""
        due = now + interval
        if self.deadline is not None:
            due = min(due, self.deadline - PRE_TIMEOUT_BOOKMARK)
            if due <= now:
                return math.inf
        return due

    def _queue(self, revision: int, payload: Any) -> None:
        self.pending.append((revision, payload))
        self.pending_bytes += _size(payload)
        self.sent_rv = max(self.sent_rv, revision)

    def take(self) -> list:
        """The payloads queued, in order; they count as delivered."""
        if not self.pending:
            return []
        out = [payload for _, payload in self.pending]
        self.delivered_rv = max(self.delivered_rv, self.pending[-1][0])
        self.pending.clear()
        self.pending_bytes = 0
        return out

    def close(self, reason: str, error=None, keep_pending: bool = False) -> None:
        """No more deliveries; what was queued and not taken is dropped, unless ``keep_pending`` (the
        server stopping: the IO side takes it before it ends the watch)."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        self.error = error
        if not keep_pending:
            self.pending.clear()
            self.pending_bytes = 0


class WatchCache:
    def __init__(self, capacity: int, field_set: FieldSet, *, fresh_seconds: float = 75.0,
                 max_capacity: int = 100_000, max_pending_events: int = 1000,
                 max_pending_bytes: int = 16 << 20, bookmark_interval: float = 60.0):
        self.capacity = max(int(capacity), 1)
        self.max_capacity = max(max_capacity, self.capacity)
        self.fresh_seconds = fresh_seconds
        self.field_set = field_set
        self.max_pending_events = max_pending_events
        self.max_pending_bytes = max_pending_bytes
        self.bookmark_interval = bookmark_interval
        self.objects: dict[bytes, Entry] = {}
        self._sorted_keys: Optional[list[bytes]] = None
        # Unfiltered lists by prefix, until the next change: as entries, and decoded (small ones only).
        self._lists: dict[bytes, EncodedList] = {}
        self._decoded: dict[bytes, ListItems] = {}
        self._initial: dict = {}    # (prefix, encoding key) -> (initial ADDED payloads, their bytes)
        self.window: deque[WatchEvent] = deque()
        self.revision = 0
        self.window_start = 0
        self.ready = False
        self.watchers: list[CacheWatcher] = []
        self._bookmark_payloads: dict = {}

    # -- state in ----------------------------------------------------------------------
    def replace(self, items: Iterable["tuple[bytes, dict, int] | Entry"], revision: int) -> list[CacheWatcher]:
        """The whole state as of ``revision`` (initial fill or re-list): (key, object, revision) triples or
        entries; closes and returns every watcher."""
        objects: dict[bytes, Entry] = {}
        for item in items:
            entry = item if isinstance(item, Entry) else Entry(*item)
            objects[entry.key] = entry.settle()
        self.objects = objects
        self._sorted_keys = None
        self._lists = {}
        self._decoded = {}
        self._initial = {}
        self.window.clear()
        self.revision = self.window_start = revision
        self.ready = True
        closed = list(self.watchers)
        for w in closed:
            self._close(w, "the watch cache was re-listed")
        return closed

    def progress(self, revision: int) -> None:
        """Nothing under the prefix changed up to ``revision``."""
        if revision > self.revision:
            self.revision = revision

    def apply(self, kind: str, key: bytes, obj: Optional[dict], revision: int, now: float,
              encoded: Optional[bytes] = None) -> list[CacheWatcher]:
        """One storage change (PUT with the new object, DELETE with None); returns the
        watchers that got something queued or were closed.  A PUT may give the new object as its JSON
        (``encoded``, what ``codec.dumps`` makes of it) instead, decoded only if a watcher needs the dict."""
        if revision <= self.revision and self.ready:
            raise ValueError(f"event at revision {revision} is not after the cache's {self.revision}")
        old = self.objects.get(key)
        if kind == DELETE:
            new = None
            if old is None:
                self.revision = revision    # a key we never saw: nothing to tell anyone
                return []
            del self.objects[key]
            self._sorted_keys = None
        else:
            new = Entry(key, obj, revision) if encoded is None else Entry(key, None, revision, encoded, True)
            if old is None:
                self._sorted_keys = None
            self.objects[key] = new
        if self._lists:
            self._lists = {}
        if self._decoded:
            self._decoded = {}
        if self._initial:
            self._initial = {}
        event = WatchEvent(kind, key, new, old, revision, now)
        self.revision = revision
        self.window.append(event)
        self._trim(now)
        touched = []
        for w in self.watchers:
            if not key.startswith(w.prefix) or revision <= w.sent_rv:
                continue
            event_type = event.typed_for(w.filter, self.field_set)
            if event_type is None:
                continue
            w._queue(revision, event.payload(event_type, w.encoding))
            touched.append(w)
            if len(w.pending) > self.max_pending_events or w.pending_bytes > self.max_pending_bytes:
                self._close(w, "the watcher fell too far behind")
        if new is not None:
            new.settle()    # handed to every watcher: from now on its bytes only
        return touched

    def _trim(self, now: float) -> None:
        window = self.window
        while len(window) > self.capacity and (
                len(window) > self.max_capacity or now - window[0].time >= self.fresh_seconds):
            self.window_start = window.popleft().revision

    # -- reads -------------------------------------------------------------------------
    def _keys(self) -> list[bytes]:
        if self._sorted_keys is None:
            self._sorted_keys = sorted(self.objects)
        return self._sorted_keys

    def entries(self, prefix: bytes, flt: Filter = EVERYTHING) -> tuple[EncodedList, int]:
        """The entries under ``prefix`` passing ``flt``, in key order, and the revision they are current at."""
        if flt.everything:
            memo = self._lists.get(prefix)
            if memo is not None:
                return memo, self.revision
        keys = self._keys()
        # Every key under the prefix sorts between the prefix and the prefix followed by 0xff bytes
        # (keys are UTF-8 paths, which never hold 0xff).
        selected = keys[bisect.bisect_left(keys, prefix):bisect.bisect_left(keys, prefix + b"\xff")]
        objects, field_set = self.objects, self.field_set
        entries = list(map(objects.__getitem__, selected))
        if not flt.everything:
            return EncodedList([e for e in entries if flt.passes(e, field_set)]), self.revision
        if len(self._lists) > 256:
            self._lists = {}
        items = self._lists[prefix] = EncodedList(entries)
        return items, self.revision

    def has_after(self, prefix: bytes, key: bytes) -> bool:
        """Whether any object under ``prefix`` has a key after ``key`` (matching a filter or not)."""
        keys = self._keys()
        at = bisect.bisect_right(keys, key)
        return at < len(keys) and keys[at].startswith(prefix)

    def list(self, prefix: bytes, flt: Filter = EVERYTHING) -> tuple[ListItems, int]:
        """The objects under ``prefix`` passing ``flt``, decoded, in key order, and the revision they are
        current at.  Read them, never change them (a small unfiltered list is shared until the next change)."""
        memo = self._decoded.get(prefix) if flt.everything else None
        if memo is not None:
            return memo, self.revision
        encoded, revision = self.entries(prefix, flt)
        items = list_items(encoded.entries)
        if flt.everything and len(items) <= DECODED_KEPT:
            if len(self._decoded) > 256:
                self._decoded = {}
            self._decoded[prefix] = items
        return items, revision

    def get(self, key: bytes) -> Optional[dict]:
        entry = self.objects.get(key)
        return entry.obj if entry is not None else None

    def entry(self, key: bytes) -> Optional[Entry]:
        return self.objects.get(key)

    def check_window(self, rv: int) -> None:
        """410 Expired when events after ``rv`` are no longer all in the window."""
        if rv < self.window_start:
            raise errors.resource_expired(f"too old resource version: {rv} ({self.window_start})")

    # -- watchers ----------------------------------------------------------------------
    def watch(self, prefix: bytes, rv: Optional[int], flt: Filter, encoding: Encoding, now: float, *,
              allow_bookmarks: bool = False, initial_events_end: bool = False,
              deadline: Optional[float] = None) -> CacheWatcher:
        """A watcher of the changes under ``prefix``.  ``rv`` None: the current objects
        first as ADDED (then, if ``initial_events_end``, a BOOKMARK marking their end);
        otherwise every change after ``rv`` (410 if it is older than the window; a
        future ``rv`` simply waits for the events after it)."""
        if rv is None:
            items, revision = self.entries(prefix, flt)
            w = CacheWatcher(prefix, revision, flt, encoding, allow_bookmarks, now,
                             bookmark_interval=self.bookmark_interval, deadline=deadline)
            memo = (prefix, encoding.key) if flt.everything and encoding.key is not None else None
            initial = self._initial.get(memo) if memo is not None else None
            if initial is None:
                queued = [(entry.revision, _event(encoding, ADDED, entry)) for entry in items.entries]
                initial = (queued, sum(len(p) for _, p in queued if type(p) is bytes))
                if memo is not None and initial[1] <= JOINED_KEPT_BYTES:
                    # Watchers starting together share the payloads (kept until the next change, if small).
                    if len(self._initial) > 64:
                        self._initial = {}
                    self._initial[memo] = initial
            w.pending.extend(initial[0])
            w.pending_bytes += initial[1]
            w.sent_rv = revision
            if initial_events_end:
                w._queue(revision, encoding.bookmark(revision, True))
        else:
            self.check_window(rv)
            w = CacheWatcher(prefix, rv, flt, encoding, allow_bookmarks, now,
                             bookmark_interval=self.bookmark_interval, deadline=deadline)
            for event in self.window:
                if event.revision <= rv or not event.key.startswith(prefix):
                    continue
                event_type = event.typed_for(flt, self.field_set)
                if event_type is not None:
                    w._queue(event.revision, event.payload(event_type, encoding))
            w.sent_rv = max(rv, self.revision)
        self.watchers.append(w)
        return w

    def take(self, w: CacheWatcher) -> list:
        """The payloads queued for ``w``, in order; they count as delivered."""
        return w.take()

    def stop(self, w: CacheWatcher, keep_pending: bool = False) -> None:
        """Ends ``w``; with ``keep_pending`` what it has queued is still taken (a graceful end)."""
        if not w.closed:
            self._close(w, "stopped", keep_pending)

    def _close(self, w: CacheWatcher, reason: str, keep_pending: bool = False) -> None:
        w.close(reason, keep_pending=keep_pending)
        if w in self.watchers:
            self.watchers = [x for x in self.watchers if x is not w]

    def bookmarks(self, now: float) -> list[CacheWatcher]:
        """Queue a BOOKMARK at ``revision`` for each watcher that asked for them and had
        none for ``bookmark_interval``; returns those watchers."""
        due = []
        revision = self.revision
        for w in self.watchers:
            if not w.allow_bookmarks or now < w.next_bookmark:
                continue
            if revision < w.sent_rv:
                continue    # a watch from a future rv: nothing to vouch for yet
            w.next_bookmark = w.bookmark_after(now, self.bookmark_interval)
            w._queue(revision, self._bookmark(w.encoding, revision))
            due.append(w)
        return due

    def _bookmark(self, encoding: Encoding, revision: int) -> Any:
        key = encoding.key
        if key is None:
            return encoding.bookmark(revision, False)
        memo = (key, revision)
        payload = self._bookmark_payloads.get(memo)
        if payload is None:
            if len(self._bookmark_payloads) > 64:
                self._bookmark_payloads.clear()
            payload = self._bookmark_payloads[memo] = encoding.bookmark(revision, False)
        return payload

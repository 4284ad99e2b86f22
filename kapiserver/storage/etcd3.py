"""
The etcd v3 backend: the Storage contract on an etcd cluster, through the
JSON gateway client in ``etcd_client``.

Every write is one etcd transaction whose compares carry the precondition
(create: the key has no create_revision; update: its mod_revision matches;
delete: it exists, and its mod_revision matches when asked), so a write
either applies with the next revision or changes nothing.  Keys are stored as
given: the Registry has already put --etcd-prefix in front of them.

Each watch is one etcd watch stream (one HTTP connection) from its last
revision + 1 with prev_kv.  When the stream ends for any reason other than a
cancel (etcd restarted, the member went away, a leader change cut it), it is
opened again from the last revision the watcher saw, on the next endpoint,
after a short backoff: etcd replays from there, so nothing is lost and,
because events at or below the last revision are dropped, nothing repeats.
etcd's progress notifications (sent every
--experimental-watch-progress-notify-interval to idle watchers) advance the
watcher's ``progress_revision`` without events: all changes under the prefix
up to it have been delivered.

``current_revision`` (a linearizable read) is shared by concurrent callers
(coalesce.py).  ``track``/``vouch`` let a watch cache confirm it is current
without waiting for a progress notification: one more watch, over the whole
storage root, records each resource prefix's last change (etcd_vouch.py).

A write's Deferred fires only once every local watcher that covers the key
has delivered the write's event (or after ``ack_wait`` seconds), as the
embedded backend does: whoever sees a write acknowledged can rely on the watch
caches of this process having seen it.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from twisted.internet.defer import Deferred, DeferredList, fail, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from ..machinery import codec
from .coalesce import RevisionCoalescer
from .etcd_client import OUT_OF_RANGE, EtcdClient, EtcdError, TLSFiles, b64, unb64
from .etcd_vouch import RootVouch, root_of
from .interface import (
    DELETE, PUT, Compacted, Conflict, Event, FutureRevision, KeyExists, KeyNotFound, KeyValue,
    ProgressSink, RangeResult, RevisionCompacted, Unavailable, WatchSink, check_bytes,
)

__all__ = ["Etcd3Storage", "TLSFiles", "open_etcd3"]

log = Logger()

# Reconnect delays for a watch whose stream ended (seconds).
_BACKOFF_FIRST = 0.05
_BACKOFF_MAX = 1.0


def prefix_end(prefix: bytes) -> bytes:
    """The first key after every key starting with ``prefix`` (etcd's range_end);
    b"\\0" (etcd's "to the end of the keyspace") when there is none."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\x00"
    return stripped[:-1] + bytes([stripped[-1] + 1])


def _kv(message: dict) -> KeyValue:
    return KeyValue(unb64(message.get("key")), unb64(message.get("value")),
                    int(message.get("create_revision", 0)), int(message.get("mod_revision", 0)))


def _revision(message: dict) -> int:
    return int(message.get("header", {}).get("revision", 0))


class _Watcher:
    """One watch and the etcd stream that currently feeds it."""

    def __init__(self, storage: "Etcd3Storage", prefix: bytes, after_revision: int,
                 sink: WatchSink, on_progress: Optional[ProgressSink], *,
                 key_sink: Optional[Callable[[bytes, int], None]] = None,
                 on_compacted: Optional[Callable[[int], None]] = None):
        self._storage = storage
        # A root watch (etcd_vouch) hears only (key, revision) of each change, without values' previous
        # versions, and of a compaction through ``on_compacted``.
        self.key_sink = key_sink
        self.on_compacted = on_compacted
        self.prefix = prefix
        self.start = after_revision
        self.last = after_revision  # every change up to here has been delivered
        self.sink = sink
        self.on_progress = on_progress
        self.cancelled = False
        self._stream: Any = None
        self._backoff = _BACKOFF_FIRST
        self._retry: Any = None
        self._waiters: list[tuple[int, Deferred]] = []

    @property
    def progress_revision(self) -> int:
        """Every change under the prefix up to this revision has reached the sink."""
        return self.last

    def cancel(self) -> None:
        if self.cancelled:
            return
        self.cancelled = True
        self._storage._forget(self)
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        if self._stream is not None:
            self._stream.stop()
        self._release(None)

    # -- the stream -----------------------------------------------------------

    def open(self) -> None:
        self._retry = None
        if self.cancelled:
            return
        request = {"key": b64(self.prefix), "range_end": b64(prefix_end(self.prefix)),
                   "start_revision": str(self.last + 1), "progress_notify": True}
        if self.key_sink is None:
            request["prev_kv"] = True
        stream = self._stream = self._storage._client.watch(request, self._message)
        stream.done.addCallback(self._ended, stream)

    def _ended(self, reason: Exception, stream: Any) -> None:
        if self.cancelled or stream is not self._stream:
            return
        self._stream = None
        if self._storage._closed:
            self.cancel()
            return
        log.debug("watch on {prefix!r} ended ({reason}); resuming after {last}",
                  prefix=self.prefix, reason=reason, last=self.last)
        self._retry = self._storage._reactor.callLater(self._backoff, self.open)
        self._backoff = min(self._backoff * 2, _BACKOFF_MAX)

    def _message(self, message: dict) -> None:
        if self.cancelled:
            return
        result = message.get("result")
        if result is None:
            # An error from the gateway itself; the stream ends and is reopened.
            log.warn("etcd watch error on {prefix!r}: {message}", prefix=self.prefix, message=message)
            return
        self._backoff = _BACKOFF_FIRST
        if result.get("canceled"):
            compact = int(result.get("compact_revision", 0))
            if compact:
                self._compacted(compact)
            elif self._stream is not None:
                # Canceled for another reason (the member is stopping): end
                # this stream ourselves; _ended reopens it.
                self._stream.stop()
            return
        events = result.get("events")
        if events:
            for raw in events:
                self._deliver(raw)
                if self.cancelled:
                    return
        elif not result.get("created"):
            # A progress notification: nothing more up to the header revision.
            revision = _revision(result)
            if revision > self.last:
                self.last = revision
                self._release(revision)
                if self.on_progress is not None:
                    self.on_progress(revision)

    def _deliver(self, raw: dict) -> None:
        if self.key_sink is not None:
            kv_message = raw["kv"]
            revision = int(kv_message.get("mod_revision", 0))
            # At an equal revision: another key of the same transaction (a resumed stream starts after it).
            if revision < self.last:
                return
            self.last = revision
            try:
                self.key_sink(unb64(kv_message.get("key")), revision)
            except Exception:
                log.failure("root watch sink raised on {revision}", revision=revision)
            self._release(revision)
            return
        kv = _kv(raw["kv"])
        if kv.mod_revision <= self.last:
            return  # already delivered before a reconnect
        prev = _kv(raw["prev_kv"]) if raw.get("prev_kv") else None
        if raw.get("type") == "DELETE":
            event = Event(DELETE, KeyValue(kv.key, b"", 0, kv.mod_revision), prev)
        else:
            event = Event(PUT, kv, prev)
        self.last = kv.mod_revision
        try:
            self.sink(event)
        except Exception:
            log.failure("watch sink raised on {revision}", revision=kv.mod_revision)
        self._release(self.last)

    def _compacted(self, compact_revision: int) -> None:
        self.cancel()
        try:
            if self.on_compacted is not None:
                self.on_compacted(compact_revision)
            else:
                self.sink(Compacted(compact_revision))
        except Exception:
            log.failure("watch sink raised on Compacted")

    # -- waiting for a revision ------------------------------------------------

    def reached(self, revision: int) -> Deferred:
        """Fires once every change up to ``revision`` has been delivered (or
        the watch ended)."""
        if self.last >= revision or self.cancelled:
            return succeed(None)
        entry: tuple[int, Deferred] = (revision, Deferred(lambda d: self._drop_waiter(entry)))
        self._waiters.append(entry)
        return entry[1]

    def _drop_waiter(self, entry: tuple) -> None:
        try:
            self._waiters.remove(entry)
        except ValueError:
            pass

    def _release(self, upto: Optional[int]) -> None:
        if not self._waiters:
            return
        keep = []
        for revision, d in self._waiters:
            if upto is None or revision <= upto:
                d.callback(None)
            else:
                keep.append((revision, d))
        self._waiters = keep


class Etcd3Storage:
    """The Storage contract (see interface.py) on etcd v3.

    ``servers`` are etcd client URLs; ``tls`` the PEM files for https;
    ``timeout`` bounds every call (then Unavailable); ``ack_wait`` bounds how
    long a write's acknowledgement waits for local watchers to see it.

    Other clients (other apiservers) write to the same cluster, so a watch
    vouches only for what its stream told it: ``delivers_before_ack`` is
    False."""

    delivers_before_ack = False

    def __init__(self, servers: list[str], reactor: Any, *, tls: Optional[TLSFiles] = None,
                 timeout: float = 5.0, ack_wait: float = 1.0, client: Optional[EtcdClient] = None):
        self._reactor = reactor
        self._client = client or EtcdClient(reactor, servers, tls=tls, timeout=timeout)
        self._ack_wait = ack_wait
        self._watchers: list[_Watcher] = []
        self._closed = False
        # Concurrent consistent reads share current-revision round trips (coalesce.py).
        self._revisions = RevisionCoalescer(self._fetch_current_revision, reactor)
        self._vouches: dict[bytes, RootVouch] = {}

    def _call(self, path: str, body: dict | bytes, timeout: Optional[float] = None) -> Deferred:
        if self._closed:
            return fail(Unavailable("storage closed"))
        return self._client.call(path, body, timeout)

    # -- reads ------------------------------------------------------------

    def get(self, key: bytes) -> Deferred[Optional[KeyValue]]:
        check_bytes(key=key)

        def got(message: dict) -> Optional[KeyValue]:
            kvs = message.get("kvs")
            return _kv(kvs[0]) if kvs else None
        return self._call("kv/range", {"key": b64(key)}).addCallback(got)

    def range(self, prefix: bytes, revision: Optional[int] = None, limit: int = 0,
              start_key: Optional[bytes] = None) -> Deferred[RangeResult]:
        check_bytes(prefix=prefix)
        if start_key is not None:
            check_bytes(start_key=start_key)
        key = start_key if start_key is not None and start_key > prefix else prefix
        key = key or b"\x00"  # etcd wants a key; "\0" to "\0" is the whole keyspace
        end = prefix_end(prefix)
        request: dict = {"key": b64(key), "range_end": b64(end)}
        # etcd would read an empty or inverted range as "this one key"; it is
        # still asked (at the revision) so compacted and future revisions fail.
        empty = end != b"\x00" and key >= end
        if revision is not None:
            request["revision"] = str(revision)
        if limit:
            request["limit"] = str(limit)

        def got(message: dict) -> RangeResult:
            kvs = [_kv(kv) for kv in message.get("kvs", ())]
            at = revision if revision is not None else _revision(message)
            if empty:
                return RangeResult([], at, False, 0)
            return RangeResult(kvs, at, bool(message.get("more")), int(message.get("count", 0)))

        d = self._call("kv/range", request).addCallback(got)
        if revision is not None:
            d.addErrback(self._out_of_range, revision)
        return d

    def current_revision(self) -> Deferred[int]:
        """A linearizable read of the revision etcd has committed: at least every revision acknowledged
        before the call.  Concurrent calls share round trips (a call waits for a request that started
        after it was made)."""
        if self._closed:
            return fail(Unavailable("storage closed"))
        return self._revisions.current()

    def _fetch_current_revision(self) -> Deferred[int]:
        return self._call("kv/range", _CURRENT_REVISION).addCallback(_revision)

    def check_health(self) -> Deferred[None]:
        return self._call("kv/range", {"key": b64(b"health"), "count_only": True},
                          timeout=2.0).addCallback(lambda _: None)

    def _out_of_range(self, failure: Failure, requested: int) -> Deferred:
        """Turn etcd's OutOfRange into RevisionCompacted or FutureRevision."""
        failure.trap(EtcdError)
        error = failure.value
        if error.code != OUT_OF_RANGE:
            return failure
        if "future" in error.message:
            def future(current: int) -> None:
                raise FutureRevision(requested, current)
            return self.current_revision().addCallback(future)

        def compacted(compact_revision: int) -> None:
            raise RevisionCompacted(requested, compact_revision)
        return self._compact_revision(requested).addCallback(compacted)

    def _compact_revision(self, at_or_below: int) -> Deferred[int]:
        """The compaction point C, known to be >= ``at_or_below``: learned from
        a watch etcd refuses to start below C (etcd's errors do not name it).
        Below revision 1 there is no revision to start one from: there a read
        at revision 1 tells C is 1 (it reads), or beyond it (a watch from 1 is
        then refused, naming C).  (A watch from C itself is not refused: it
        would wait for events and answer nothing.)"""
        if at_or_below > 1:
            return self._refused_watch(at_or_below - 1, at_or_below)

        def beyond(failure: Failure) -> Any:
            failure.trap(EtcdError)
            if failure.value.code != OUT_OF_RANGE:
                return failure
            return self._refused_watch(1, at_or_below)
        return self._call("kv/range", {"key": b64(b"\x00"), "revision": "1", "count_only": True}).addCallbacks(
            lambda _: 1, beyond)

    def _refused_watch(self, below: int, at_or_below: int) -> Deferred[int]:
        """C, from the refusal of a watch from ``below`` (< C)."""
        d: Deferred = Deferred()

        def message(msg: dict) -> None:
            result = msg.get("result") or {}
            if result.get("canceled") or result.get("events") is not None or result.get("created"):
                if result.get("created"):
                    return  # the cancel follows
                stream.stop()
                if not d.called:
                    d.callback(int(result.get("compact_revision", 0)) or at_or_below)

        stream = self._client.watch({"key": b64(b"\x00"), "start_revision": str(below)}, message)
        stream.done.addCallback(lambda reason: None if d.called else d.errback(
            Unavailable(f"etcd: {reason}")))
        return d.addTimeout(self._client.timeout, self._reactor)

    # -- writes -----------------------------------------------------------

    def create(self, key: bytes, value: bytes) -> Deferred[int]:
        check_bytes(key=key, value=value)
        txn = {"compare": [{"key": b64(key), "target": "CREATE", "result": "EQUAL",
                            "create_revision": "0"}],
               "success": [{"request_put": {"key": b64(key), "value": b64(value)}}]}

        def done(message: dict) -> Any:
            if not message.get("succeeded"):
                raise KeyExists(key)
            return self._acknowledged(key, _revision(message))
        return self._call("kv/txn", txn).addCallback(done)

    def update(self, key: bytes, value: bytes, expected_mod_revision: int) -> Deferred[int]:
        check_bytes(key=key, value=value)
        txn = {"compare": [_exists(key), _mod_is(key, expected_mod_revision)],
               "success": [{"request_put": {"key": b64(key), "value": b64(value)}}],
               "failure": [{"request_range": {"key": b64(key)}}]}

        def done(message: dict) -> Any:
            if not message.get("succeeded"):
                raise Conflict(key, _txn_range_kv(message))
            return self._acknowledged(key, _revision(message))
        return self._call("kv/txn", txn).addCallback(done)

    def delete(self, key: bytes, expected_mod_revision: Optional[int] = None
               ) -> Deferred[tuple[int, KeyValue]]:
        check_bytes(key=key)
        compare = [_exists(key)]
        if expected_mod_revision is not None:
            compare.append(_mod_is(key, expected_mod_revision))
        txn = {"compare": compare,
               "success": [{"request_delete_range": {"key": b64(key), "prev_kv": True}}],
               "failure": [{"request_range": {"key": b64(key)}}]}

        def done(message: dict) -> Any:
            if not message.get("succeeded"):
                current = _txn_range_kv(message)
                if current is None:
                    raise KeyNotFound(key)
                raise Conflict(key, current)
            deleted = message["responses"][0]["response_delete_range"]["prev_kvs"][0]
            revision = _revision(message)
            return self._acknowledged(key, revision).addCallback(lambda _: (revision, _kv(deleted)))
        return self._call("kv/txn", txn).addCallback(done)

    def _acknowledged(self, key: bytes, revision: int) -> Deferred[int]:
        """Fires with ``revision`` once local watchers covering ``key`` have it."""
        waits = [w.reached(revision) for w in self._watchers
                 if key.startswith(w.prefix) and w.start < revision and w.last < revision]
        if not waits:
            return succeed(revision)
        d = DeferredList(waits, consumeErrors=True)
        d.addTimeout(self._ack_wait, self._reactor, onTimeoutCancel=lambda *_: None)
        return d.addBoth(lambda _: revision)

    # -- watch ------------------------------------------------------------

    def watch(self, prefix: bytes, after_revision: int, sink: WatchSink,
              on_progress: Optional[ProgressSink] = None) -> _Watcher:
        """See Storage.watch.  ``on_progress(revision)`` (optional) hears of
        etcd's progress notifications: every change up to ``revision`` has
        been delivered."""
        check_bytes(prefix=prefix)
        return self._opened(_Watcher(self, prefix, after_revision, sink, on_progress))

    def _root_watch(self, root: bytes, after_revision: int, key_sink: Callable[[bytes, int], None],
                    on_compacted: Callable[[int], None]) -> _Watcher:
        return self._opened(_Watcher(self, root, after_revision, lambda event: None, None, key_sink=key_sink,
                                     on_compacted=on_compacted))

    def _opened(self, w: _Watcher) -> _Watcher:
        """``w``, its stream opened (cancelled at once when the storage is closed)."""
        if self._closed:
            w.cancelled = True
            return w
        self._watchers.append(w)
        w.open()
        return w

    # -- vouching for watch caches (etcd_vouch) ----------------------------

    def track(self, prefix: bytes) -> Deferred[bool]:
        """Record changes under ``prefix`` (a resource prefix ending in "/") on the root watch of its
        storage root, so ``vouch`` can answer for watches of it.  Fires True once ready; False when the
        prefix cannot be tracked.  A watch ``vouch`` answers for must start at or after a revision read
        once this fired (a watch cache's fill reads after it)."""
        root = root_of(prefix)
        if root is None or self._closed:
            return succeed(False)
        vouch = self._vouches.get(root)
        if vouch is None:
            vouch = self._vouches[root] = RootVouch(self, root, self._reactor)
        return vouch.track(prefix)

    def vouch(self, handle: _Watcher, revision: int, timeout: float) -> Deferred[Optional[int]]:
        """A revision >= ``revision`` up to which ``handle`` (a watch of a tracked prefix) has delivered
        every change under its prefix, established within about ``timeout`` seconds; else None."""
        root = root_of(handle.prefix)
        vouch = self._vouches.get(root) if root is not None else None
        if vouch is None or self._closed:
            return succeed(None)
        return Deferred.fromCoroutine(vouch.vouch(handle, revision, timeout))

    def _forget(self, w: _Watcher) -> None:
        try:
            self._watchers.remove(w)
        except ValueError:
            pass

    # -- maintenance ------------------------------------------------------

    def compact(self, revision: int) -> Deferred[None]:
        """Forget history before ``revision`` (etcd's compaction).  Compacting
        again at the current compaction point is a no-op; below it,
        RevisionCompacted; beyond the current revision, FutureRevision."""

        def failed(failure: Failure) -> Any:
            failure.trap(EtcdError)
            if failure.value.code != OUT_OF_RANGE:
                return failure
            if "future" in failure.value.message:
                return self._out_of_range(failure, revision)
            return self._compact_revision(revision).addCallback(already)

        def already(compact_revision: int) -> None:
            if compact_revision != revision:
                raise RevisionCompacted(revision, compact_revision)

        d = self._call("kv/compaction", {"revision": str(revision), "physical": False})
        return d.addCallbacks(lambda _: None, failed)

    def close(self) -> Deferred[None]:
        """Stop every watch and drop the connections; later calls fail with
        Unavailable.  Idempotent."""
        if not self._closed:
            self._closed = True
            for vouch in self._vouches.values():
                vouch.stop()
            for w in list(self._watchers):
                w.cancel()
            self._client.close()
        return succeed(None)


# The range a current-revision read asks for (one per reactor turn with consistent reads), encoded once: the
# revision comes in any range's header; a count of one key costs etcd least.
_CURRENT_REVISION = codec.dumps({"key": b64(b"\x00"), "count_only": True})


def _exists(key: bytes) -> dict:
    return {"key": b64(key), "target": "CREATE", "result": "GREATER", "create_revision": "0"}


def _mod_is(key: bytes, revision: int) -> dict:
    return {"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(revision)}


def _txn_range_kv(message: dict) -> Optional[KeyValue]:
    for response in message.get("responses", ()):
        kvs = response.get("response_range", {}).get("kvs")
        if kvs:
            return _kv(kvs[0])
    return None


def open_etcd3(servers: list[str], reactor: Any, **kw: Any) -> Deferred[Etcd3Storage]:
    """An Etcd3Storage on ``servers`` (keyword arguments go to Etcd3Storage).
    Fires at once: etcd being down is not an error here (requests fail with
    Unavailable and /readyz says why until it is back)."""
    return succeed(Etcd3Storage(servers, reactor, **kw))

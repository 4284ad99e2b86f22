"""
The store of another process, over a Unix socket: how the workers of
``--workers N`` reach the embedded store (SQLite or memory) the primary holds.

``StorageServer`` serves a Storage that delivers_before_ack (memory, SQLite)
on a socket; ``RemoteStorage`` (made by
``connect_remote``) is the Storage contract over one connection to it.  It is
not SupportsSnapshot.  ``RemoteStorage.lost`` fires when the connection ends
other than by close() (the worker exits on it); every call pending then, and
every call after, fails with Unavailable.

Wire format.  Each frame is an Int32StringReceiver string holding one tuple
encoded with ``marshal``, which is fast and knows only plain values.  marshal
is no format to take from a stranger (its input is trusted, and it changes
between Python versions): both ends are processes of the same installation
(the primary and the workers it started), and the socket is made mode 0600,
so only its owner can connect (put it in a directory only the owner can
enter, too: the mode is set just after the socket is bound).

  client -> server  (request_id, op, *args)              request_id 1, 2, ...
                    (0, 'watch', watch_id, prefix, after_revision)
                    (0, 'cancel', watch_id)
                    (0, 'collected', token, answer)
  server -> client  (request_id, True, result)
                    (request_id, False, (error class name, args))
                    (0, 'event', watch_id, type, kv, prev_kv)
                    (0, 'compacted', watch_id, compact_revision)
                    (0, 'progress', watch_id, revision)
                    (0, 'revision', revision)
                    (0, 'collect', token, what)

A KeyValue crosses as the tuple (key, value, create_revision, mod_revision)
(None for none).  The storage errors cross as their class and arguments and
are raised again as the same types; anything else the served storage raises
is logged there and arrives as Unavailable with its text.  Keys and values
are checked (check_bytes) before anything is sent, as every backend does.

Ordering: ``delivers_before_ack``.  The served store hands a write's events to
its live watches before it acknowledges the write.  The server's watch sinks write their
frames to the connection's transport at once, so every event of a write
precedes, on the connection, the reply to any request acknowledged after it.
The client handles frames in order: a watch's sink is called inside
dataReceived before a later reply's Deferred fires.  So every revision a frame
carries (a write's reply, a 'revision' frame) has already reached every watch of
this connection whose replay has caught up (the server's on_progress said so,
in an earlier frame), and such a watch's progress_revision answers it.

The published revision.  A consistent read asks for the store's current
revision; asked over the socket, that would be a round trip to the primary's
reactor.  The server publishes it instead, in a file of
eight bytes beside its socket that every client maps into its memory (as
SQLite's WAL index is shared), the newest revision the store has handed to its
watchers: a watch of the whole store, called before any write is acknowledged,
writes it there.  A write acknowledged to anyone (a worker's client, the
primary's own loopback) is so in that file before the acknowledgement leaves.
And at the end of every turn in which it moved, the server sends each client a
'revision' frame with it, behind that turn's events.  ``current_revision()``
reads the file (no system call) and answers as soon as the connection has
carried a frame at that revision or later: at once when nothing was written
since, else when the frame in flight arrives.

Starting.  The server's process may take clients before it has started its own
parts; a client's ('until_started',) is answered once it has (``started()``).

Gathering.  Besides the store, the processes of --workers share what makes them
one apiserver to a client: /metrics.  A client's request ('gather', what) is
answered with the answers to ``what`` of the server's process (its ``collect``)
and of every other client (each asked with a 'collect' frame, its
``on_collect`` answering in a 'collected' one; a client that has not answered
within GATHER_TIMEOUT is left out, as None).
"""

from __future__ import annotations

import itertools
import marshal
import mmap
import os
from struct import pack, unpack
from typing import Any, Callable, Optional

from twisted.internet.defer import Deferred, fail, gatherResults, maybeDeferred, succeed
from twisted.internet.endpoints import UNIXClientEndpoint, connectProtocol
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.protocols.basic import Int32StringReceiver
from twisted.python.failure import Failure

from .interface import (
    Compacted, Conflict, Event, FutureRevision, InUse, KeyExists, KeyNotFound, KeyValue, ProgressSink,
    RangeResult, RevisionCompacted, Unavailable, WatchSink, check_bytes,
)
from .localwatch import LocalWatcher

__all__ = ["RemoteStorage", "StorageServer", "connect_remote"]

log = Logger()

# The largest frame either end sends or accepts: a range may be big.
MAX_FRAME = 512 * 1024 * 1024

# How long a gather waits for the other clients' answers.
GATHER_TIMEOUT = 5.0

# The errors that cross as themselves (Conflict too, its current KeyValue as a tuple).
_ERRORS = {cls.__name__: cls for cls in (
    KeyExists, KeyNotFound, Conflict, RevisionCompacted, FutureRevision, Unavailable, InUse)}


def _kv_out(kv: Optional[KeyValue]) -> Optional[tuple]:
    return None if kv is None else (kv.key, kv.value, kv.create_revision, kv.mod_revision)


def _kv_in(kv: Optional[tuple]) -> Optional[KeyValue]:
    return None if kv is None else KeyValue(*kv)


def _error_out(e: BaseException) -> tuple[str, tuple]:
    if type(e) is Conflict:
        return "Conflict", (e.key, _kv_out(e.current))
    if _ERRORS.get(type(e).__name__) is type(e):
        return type(e).__name__, e.args
    if isinstance(e, Unavailable):
        return "Unavailable", (str(e),)
    log.failure("storage call failed", Failure(e))
    return "Unavailable", (str(e) or repr(e),)


def _error_in(name: str, args: tuple) -> Exception:
    if name == "Conflict":
        key, current = args
        return Conflict(key, _kv_in(current))
    return _ERRORS[name](*args)


class _Framed(Int32StringReceiver):
    """Values in Int32 frames, both ends, encoded by ``codec`` (marshal here; the SQLite store's database
    process pickles).  A frame that arrives in many reads is gathered
    in a list and joined once (the base class would copy its growing buffer at every read).

    The frames a turn of the reactor sends go out together, in order, once the turn has done its work, in
    one send straight to the socket when nothing of the connection waits in the transport (Twisted's write
    would register the socket with epoll and send on its next event: two epoll_ctl calls and a wake a
    write); what the socket does not take goes to the transport, as any write."""

    MAX_LENGTH = MAX_FRAME
    # How a frame's value becomes bytes and back (a pair of functions).
    codec = (marshal.dumps, marshal.loads)

    def __init__(self, clock: Any) -> None:
        self._clock = clock
        self._out: list[bytes] = []
        self._flush_due = False
        self._chunks: list[bytes] = []
        self._missing = 0
        self._ended: list[Deferred] = []
        self.gone = False

    def dataReceived(self, data: bytes) -> None:
        if self._missing:
            self._chunks.append(data)
            self._missing -= len(data)
            if self._missing > 0:
                return
            data, self._chunks, self._missing = b"".join(self._chunks), [], 0
        super().dataReceived(data)
        rest = self._unprocessed
        if len(rest) >= 4 and not self.gone:
            (length,) = unpack("!I", rest[:4])
            if length <= self.MAX_LENGTH:
                self._chunks, self._missing, self._unprocessed = [rest], 4 + length - len(rest), b""

    def send(self, frame: Any) -> None:
        data = self.codec[0](frame)
        if len(data) > self.MAX_LENGTH:
            raise Unavailable(f"storage frame of {len(data)} bytes exceeds {self.MAX_LENGTH}")
        if not self.gone:
            self.flush_later()
            self._out.append(pack("!I", len(data)))
            self._out.append(data)

    def flush_later(self) -> None:
        """Send what this turn queued once it ends."""
        if not self._flush_due:
            self._flush_due = True
            self._clock.callLater(0, self._flush)

    def last_frames(self) -> None:
        """What to queue behind the rest of the turn's frames, just before they leave."""

    def _flush(self) -> None:
        if not self.gone:
            self.last_frames()
        self._flush_due = False
        out, self._out = self._out, []
        transport = self.transport
        if self.gone or not out or transport is None:
            return
        data = b"".join(out)
        if (not transport.dataBuffer and not transport._tempDataBuffer and transport.connected
                and not transport.disconnecting):
            try:
                sent = transport.socket.send(data)
            except OSError:
                sent = 0        # full, interrupted or broken: the transport's write finds out which
            if sent >= len(data):
                return
            data = data[sent:]
        transport.write(data)

    def stringReceived(self, data: bytes) -> None:
        self.frameReceived(self.codec[1](data))

    def frameReceived(self, frame: tuple) -> None:
        raise NotImplementedError

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.gone = True
        self.ended(reason)
        ended, self._ended = self._ended, []
        for d in ended:
            d.callback(None)

    def ended(self, reason: Failure) -> None:
        """The connection is gone."""

    def when_ended(self) -> Deferred[None]:
        if self.gone:
            return succeed(None)
        d: Deferred = Deferred()
        self._ended.append(d)
        return d


# -- server ---------------------------------------------------------------


def _when(d: Deferred) -> Deferred:
    """A Deferred that fires with ``d``'s result once ``d`` has, leaving ``d``'s own chain as it is."""
    waiter: Deferred = Deferred()

    def pass_on(result: Any) -> Any:
        waiter.callback(result)
        return result
    d.addCallback(pass_on)
    return waiter


def _same(result: Any) -> Any:
    return result


def _answer(collect: Optional[Callable[[str], Any]], what: str) -> Any:
    """A process's answer to a gather's ``what`` (None without one, or when it fails: logged)."""
    if collect is None:
        return None
    try:
        return collect(what)
    except Exception:
        log.failure("answering a gather of {what}", what=what)
        return None


def _range_out(result: RangeResult) -> tuple:
    return [_kv_out(kv) for kv in result.kvs], result.revision, result.more, result.count


def _deleted_out(result: tuple[int, KeyValue]) -> tuple:
    return result[0], _kv_out(result[1])


# op -> how its result crosses
_REPLIES: dict[str, Callable[[Any], Any]] = {
    "get": _kv_out, "range": _range_out, "create": _same, "update": _same, "delete": _deleted_out,
    "compact": _same, "check_health": _same,
}


class _ServerConnection(_Framed):
    """One client: its calls go to the storage, its watches' sinks write frames here."""

    def __init__(self, server: "StorageServer"):
        super().__init__(server._reactor)
        self._server = server
        self._storage = server.storage
        self._watches: dict[int, Any] = {}
        # Whether the client reads the published revision (it asked where), and whether it moved this turn.
        self.reads_published = False
        self._published_moved = False

    def connectionMade(self) -> None:
        self._server._connections.add(self)

    def frameReceived(self, frame: tuple) -> None:
        request_id, op = frame[0], frame[1]
        if not request_id:
            if op == "watch":
                self._watch(*frame[2:])
            elif op == "cancel":
                handle = self._watches.pop(frame[2], None)
                if handle is not None:
                    handle.cancel()
            elif op == "collected":
                self._server._collected(self, frame[2], frame[3])
            return
        encode = _REPLIES.get(op)
        if op == "revision_file":
            self.reads_published = True
            d = self._server.revision_file()
        elif op == "gather":
            d = self._server.gather(self, frame[2])
        elif op == "until_started":
            d = _when(self._server._started)
        elif encode is None:
            d = fail(Unavailable(f"no storage operation {op!r}"))
        else:
            d = maybeDeferred(getattr(self._storage, op), *frame[2:])
            d.addCallback(encode)
        d.addCallbacks(self._reply, self._reply_error, (request_id,), errbackArgs=(request_id,))

    def _reply(self, result: Any, request_id: int) -> None:
        try:
            self.send((request_id, True, result))
        except Unavailable as e:
            self.send((request_id, False, _error_out(e)))

    def _reply_error(self, failure: Failure, request_id: int) -> None:
        self.send((request_id, False, _error_out(failure.value)))

    def _emit(self, frame: tuple) -> None:
        """Send a watch's frame; one too big to send ends the connection (a watch cannot skip an event)."""
        try:
            self.send(frame)
        except Unavailable:
            log.failure("watch frame too big: dropping the connection")
            self.transport.abortConnection()

    def _watch(self, watch_id: int, prefix: bytes, after_revision: int) -> None:
        send = self._emit

        def sink(item: Any) -> None:
            if type(item) is Event:
                send((0, "event", watch_id, item.type, _kv_out(item.kv), _kv_out(item.prev_kv)))
            else:
                self._watches.pop(watch_id, None)
                send((0, "compacted", watch_id, item.compact_revision))

        def on_progress(revision: int) -> None:
            send((0, "progress", watch_id, revision))

        try:
            self._watches[watch_id] = self._storage.watch(prefix, after_revision, sink, on_progress)
        except Exception:
            # The contract has no error event for a watch: its sink hears nothing.
            log.failure("watch of {prefix!r} failed", prefix=prefix)

    def published_moved(self) -> None:
        """The published revision moved (a write handed to the store's watchers, this connection's among
        them): the client hears of it behind this turn's events."""
        self._published_moved = True
        self.flush_later()

    def last_frames(self) -> None:
        if self._published_moved:
            self._published_moved = False
            self.send((0, "revision", self._server.published))

    def ended(self, reason: Failure) -> None:
        self._server._connections.discard(self)
        self._server._left(self)
        self.drop_watches()

    def drop_watches(self) -> None:
        watches, self._watches = self._watches, {}
        for handle in watches.values():
            handle.cancel()


class StorageServer:
    """Serves ``storage`` (a Storage that delivers_before_ack) to RemoteStorage clients on a Unix socket, its
    revision published in ``<socket>.revision`` (see the module docstring); it does not close the storage, its
    owner does."""

    def __init__(self, storage: Any, reactor: Any, collect: Optional[Callable[[str], Any]] = None):
        if not storage.delivers_before_ack:
            raise ValueError("a StorageServer serves a store that delivers a write's events before its ack")
        self.storage = storage
        self._reactor = reactor
        self._port: Any = None
        self._connections: set[_ServerConnection] = set()
        # This process's answer to a gather's ``what`` (module docstring), and the gathers under way.
        self.collect = collect
        self._tokens = itertools.count(1)
        self._gathers: dict[int, tuple[dict, Deferred]] = {}
        self._revision_path: Optional[str] = None
        self._mapped: Optional[mmap.mmap] = None
        self._published: Optional[memoryview] = None
        self._publisher: Any = None                     # the watch of the whole store
        self._publishing: Deferred = Deferred()          # fires once the published revision is kept
        self._started: Deferred = Deferred()            # fires once the serving process has started

    def listen(self, path: str) -> Any:
        """Listen on a new Unix socket at ``path`` (mode 0600); the listening port."""
        factory = Factory.forProtocol(lambda: _ServerConnection(self))
        self._port = self._reactor.listenUNIX(path, factory, mode=0o600)
        self._publish(path + ".revision")
        return self._port

    # -- the published revision -------------------------------------------

    @property
    def published(self) -> int:
        return self._published[0] if self._published is not None else 0

    def _publish(self, path: str) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.ftruncate(fd, 8)
            self._mapped = mmap.mmap(fd, 8)
        finally:
            os.close(fd)
        self._revision_path = path
        # One aligned 8-byte word: a single load or store on the machines Python runs on.
        self._published = memoryview(self._mapped).cast("q")
        self._watch_store()

    def _watch_store(self) -> None:
        def watch(revision: int) -> None:
            if self._published is None:
                return
            self._advance(revision)
            self._publisher = self.storage.watch(b"", revision, self._published_event, self._caught_up)

        self.storage.current_revision().addCallbacks(
            watch, lambda f: log.failure("cannot read the store's revision to publish it", f))

    def _caught_up(self, revision: int) -> None:
        self._advance(revision)
        if not self._publishing.called:
            self._publishing.callback(self._revision_path)

    def _published_event(self, item: Any) -> None:
        if type(item) is Event:
            self._advance(item.revision)
        else:   # compacted while replaying: watch again from the store's revision now
            self._watch_store()

    def _advance(self, revision: int) -> None:
        published = self._published
        if published is not None and revision > published[0]:
            published[0] = revision
            for connection in self._connections:
                if connection.reads_published:
                    connection.published_moved()

    def revision_file(self) -> Deferred[tuple[str, int]]:
        """The published revision's file and value, once the value is kept.  Asked as a client connects: it
        has no watch yet, so the value already holds for it."""
        return _when(self._publishing).addCallback(lambda path: (path, self.published))

    def started(self) -> None:
        """The process serving the store has started: the clients waiting in until_started go on."""
        if not self._started.called:
            self._started.callback(None)

    # -- gathering --------------------------------------------------------

    def gather(self, asking: _ServerConnection, what: str) -> Deferred[list]:
        """The answers to ``what`` of this process and of every client but ``asking`` (None for one that
        did not answer in time)."""
        own = _answer(self.collect, what)
        others = [connection for connection in self._connections if connection is not asking]
        if not others:
            return succeed([own])
        token = next(self._tokens)
        answers: dict = {connection: None for connection in others}
        d: Deferred = Deferred()
        self._gathers[token] = (answers, d)
        timer = self._reactor.callLater(GATHER_TIMEOUT, self._gathered, token)

        def answered(result: Any) -> Any:
            if timer.active():
                timer.cancel()
            return result
        d.addBoth(answered)
        for connection in others:
            connection.send((0, "collect", token, what))
        return d.addCallback(lambda answered: [own, *answered])

    def _collected(self, connection: _ServerConnection, token: int, answer: Any) -> None:
        gather = self._gathers.get(token)
        if gather is None or connection not in gather[0]:
            return      # too late
        answers, _ = gather
        answers[connection] = (answer,)
        if all(answered is not None for answered in answers.values()):
            self._gathered(token)

    def _left(self, connection: _ServerConnection) -> None:
        for token, (answers, _) in list(self._gathers.items()):
            if connection in answers and answers[connection] is None:
                self._collected(connection, token, None)

    def _gathered(self, token: int) -> None:
        answers, d = self._gathers.pop(token)
        d.callback([None if answered is None else answered[0] for answered in answers.values()])

    def stop(self) -> Deferred[None]:
        """Stop listening and drop every connection (their watches cancelled); fires once all are gone."""
        waits = [maybeDeferred(self._port.stopListening)] if self._port is not None else []
        self._port = None
        for connection in list(self._connections):
            connection.drop_watches()
            waits.append(connection.when_ended())
            connection.transport.abortConnection()
        if self._publisher is not None:
            self._publisher.cancel()
            self._publisher = None
        if self._published is not None:
            self._published.release()
            self._published = None
            self._mapped.close()
            try:
                os.unlink(self._revision_path)
            except OSError:
                pass
        return gatherResults(waits, consumeErrors=True).addCallback(lambda _: None)


# -- client ---------------------------------------------------------------


class _ClientConnection(_Framed):
    def __init__(self, storage: "RemoteStorage", clock: Any):
        super().__init__(clock)
        self._storage = storage

    def frameReceived(self, frame: tuple) -> None:
        self._storage._received(frame)

    def ended(self, reason: Failure) -> None:
        self._storage._ended()


class _RemoteWatch(LocalWatcher):
    """A watch of the server's store: ``replaying`` until the server says (on_progress) that its replay has
    caught up; from then on every revision a reply on this connection carried is vouched for too (see the
    module docstring)."""

    watch_id = 0

    def _live_revision(self) -> int:
        return self._storage._revision

    def _cancelled(self) -> None:
        # What was vouched for stays vouched for.
        if not self.replaying:
            self.last = max(self.last, self._live_revision())

    def event(self, type_: str, kv: tuple, prev: Optional[tuple]) -> None:
        self.deliver(Event(type_, KeyValue(*kv), None if prev is None else KeyValue(*prev)))

    def progress(self, revision: int) -> None:
        self.last = max(self.last, revision)
        self.replayed()


class RemoteStorage:
    """The Storage contract over one connection to a StorageServer (see the module docstring).  Made
    by connect_remote."""

    delivers_before_ack = True

    def __init__(self) -> None:
        self._connection: Optional[_ClientConnection] = None
        self._request_ids = itertools.count(1)
        self._watch_ids = itertools.count(1)
        self._pending: dict[int, tuple[Deferred, Callable[[Any], Any]]] = {}
        self._watches: dict[int, _RemoteWatch] = {}
        # The newest revision a frame carried (a write's reply, a 'revision' frame).
        self._revision = 0
        # The server's published revision (module docstring), mapped as the client connects; the reads waiting
        # for a frame to carry the revision they read there, in the order they read it.
        self._published: Optional[memoryview] = None
        self._mapped: Optional[mmap.mmap] = None
        self._behind: list[tuple[int, Deferred]] = []
        # This client's answer to a gather's ``what`` (module docstring).
        self.on_collect: Optional[Callable[[str], Any]] = None
        # Why calls fail, once they do.
        self._down: Optional[str] = None
        self._closing = False
        self.lost: Deferred[None] = Deferred()

    # -- the connection ---------------------------------------------------

    def _call(self, decode: Callable[[Any], Any], op: str, *args: Any) -> Deferred:
        if self._down is not None:
            return fail(Unavailable(self._down))
        request_id = next(self._request_ids)
        try:
            self._connection.send((request_id, op, *args))
        except Unavailable as e:
            return fail(e)
        d: Deferred = Deferred()
        self._pending[request_id] = (d, decode)
        return d

    def _received(self, frame: tuple) -> None:
        request_id, kind = frame[0], frame[1]
        if request_id:
            d, decode = self._pending.pop(request_id)
            if kind:
                d.callback(decode(frame[2]))
            else:
                d.errback(_error_in(*frame[2]))
            return
        if kind == "revision":
            self._learn(frame[2])
            return
        if kind == "collect":
            self._collect(frame[2], frame[3])
            return
        w = self._watches.get(frame[2])
        if w is None:
            return  # cancelled here, the cancel not yet heard there
        if kind == "event":
            w.event(*frame[3:])
        elif kind == "progress":
            w.progress(frame[3])
        else:
            del self._watches[w.watch_id]  # the server has dropped it already
            w.compacted(Compacted(frame[3]))

    def _collect(self, token: int, what: str) -> None:
        try:
            self._connection.send((0, "collected", token, _answer(self.on_collect, what)))
        except Unavailable:
            log.failure("the answer to a gather of {what} is too big to send", what=what)

    def gather(self, what: str) -> Deferred[list]:
        """The answers to ``what`` of the server's process and of every other client (module docstring); None
        for a client that did not answer in time."""
        return self._call(_same, "gather", what)

    def until_started(self) -> Deferred[None]:
        """Fires once the server's process has started (module docstring)."""
        return self._call(_same, "until_started")

    def _ended(self) -> None:
        if self._down is None:
            self._down = "connection to the storage server lost"
        pending, self._pending = self._pending, {}
        for d, _ in pending.values():
            d.errback(Unavailable(self._down))
        behind, self._behind = self._behind, []
        for _, d in behind:
            d.errback(Unavailable(self._down))
        for w in list(self._watches.values()):
            w.cancel()
        if not self._closing:
            self.lost.callback(None)

    def _learn(self, revision: int) -> int:
        if revision > self._revision:
            self._revision = revision
            if self._behind:
                self._caught_up()
        return revision

    def _caught_up(self) -> None:
        behind = self._behind
        while behind and behind[0][0] <= self._revision:
            revision, d = behind.pop(0)
            d.callback(revision)

    def _map_published(self, published: tuple[str, int]) -> None:
        path, revision = published
        self._learn(revision)
        fd = os.open(path, os.O_RDWR)
        try:
            self._mapped = mmap.mmap(fd, 8)
        finally:
            os.close(fd)
        self._published = memoryview(self._mapped).cast("q")

    def _unmap_published(self) -> None:
        if self._published is not None:
            self._published.release()
            self._published = None
            self._mapped.close()

    def _deleted(self, result: tuple) -> tuple[int, KeyValue]:
        return self._learn(result[0]), KeyValue(*result[1])

    # -- Storage ----------------------------------------------------------

    def get(self, key: bytes) -> Deferred[Optional[KeyValue]]:
        check_bytes(key=key)
        return self._call(_kv_in, "get", key)

    def range(self, prefix: bytes, revision: Optional[int] = None, limit: int = 0,
              start_key: Optional[bytes] = None) -> Deferred[RangeResult]:
        check_bytes(prefix=prefix)
        if start_key is not None:
            check_bytes(start_key=start_key)
        return self._call(_range_in, "range", prefix, revision, limit, start_key)

    def create(self, key: bytes, value: bytes) -> Deferred[int]:
        check_bytes(key=key, value=value)
        return self._call(self._learn, "create", key, value)

    def update(self, key: bytes, value: bytes, expected_mod_revision: int) -> Deferred[int]:
        check_bytes(key=key, value=value)
        return self._call(self._learn, "update", key, value, expected_mod_revision)

    def delete(self, key: bytes, expected_mod_revision: Optional[int] = None
               ) -> Deferred[tuple[int, KeyValue]]:
        check_bytes(key=key)
        return self._call(self._deleted, "delete", key, expected_mod_revision)

    def current_revision(self) -> Deferred[int]:
        """The store's current revision: the published one (module docstring), answered once this
        connection has carried it."""
        known = self.known_revision()
        if known is not None:
            return succeed(known)
        if self._down is not None:
            return fail(Unavailable(self._down))
        d: Deferred = Deferred()
        self._behind.append((self._published[0], d))
        return d

    def known_revision(self) -> Optional[int]:
        """current_revision() where it needs no wait (the connection has carried the published revision),
        else None."""
        if self._down is not None:
            return None
        revision = self._published[0]
        return revision if revision <= self._revision else None

    def compact(self, revision: int) -> Deferred[None]:
        return self._call(_same, "compact", revision)

    def check_health(self) -> Deferred[None]:
        return self._call(_same, "check_health")

    def watch(self, prefix: bytes, after_revision: int, sink: WatchSink,
              on_progress: Optional[ProgressSink] = None) -> _RemoteWatch:
        """See Storage.watch.  The server's watch starts when it reads the frame sent here, so nothing
        is delivered before watch() returns; on_progress is called as the server's is."""
        check_bytes(prefix=prefix)
        w = _RemoteWatch(self, prefix, after_revision, sink, on_progress)
        w.watch_id = next(self._watch_ids)
        if self._down is not None:
            w.cancelled = True
            return w
        self._watches[w.watch_id] = w
        self._connection.send((0, "watch", w.watch_id, prefix, after_revision))
        return w

    def _forget(self, w: _RemoteWatch) -> None:
        if self._watches.pop(w.watch_id, None) is not None and self._down is None:
            self._connection.send((0, "cancel", w.watch_id))

    def close(self) -> Deferred[None]:
        """Cancel the watches and close the connection; fires when it is closed (``lost`` does not
        fire).  Calls pending fail, later ones too, with Unavailable.  Idempotent."""
        if not self._closing:
            self._closing = True
            if self._down is None:
                for w in list(self._watches.values()):
                    w.cancel()
                self._down = "storage closed"
                self._connection.transport.loseConnection()
        return self._connection.when_ended().addCallback(lambda _: self._unmap_published())


def _range_in(result: tuple) -> RangeResult:
    kvs, revision, more, count = result
    return RangeResult([KeyValue(*kv) for kv in kvs], revision, more, count)


async def connect_remote(path: str, reactor: Any) -> RemoteStorage:
    """A RemoteStorage connected to the StorageServer listening at ``path``; Unavailable if none is."""
    storage = RemoteStorage()
    try:
        storage._connection = await connectProtocol(
            UNIXClientEndpoint(reactor, path), _ClientConnection(storage, reactor))
    except Exception as e:
        raise Unavailable(f"cannot connect to the storage server at {path}: {e}") from e
    storage._map_published(await storage._call(_same, "revision_file"))
    return storage

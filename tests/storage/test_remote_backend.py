"""
What is particular to the remote backend (the contract suite covers the rest,
on the remote-memory and remote-sqlite backends): the connection ending, errors
crossing as their own types, cancels racing frames in flight, the
delivers_before_ack ordering across two clients of one server, big values, and
the framing of frames split across reads.
"""

from __future__ import annotations

import marshal
import os

import pytest
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from kapiserver.storage import (
    Conflict, FutureRevision, KeyExists, KeyNotFound, KeyValue, RevisionCompacted, SupportsSnapshot,
    Unavailable,
)
from kapiserver.storage.memory import MemoryStorage
from kapiserver.storage.remote import RemoteStorage, StorageServer, _Framed, connect_remote


class HeldReads(MemoryStorage):
    """A memory store whose get() answers only when the test says so."""

    def __init__(self, reactor, **kw):
        super().__init__(reactor, **kw)
        self.held: list[Deferred] = []

    def get(self, key):
        self.held.append(Deferred())
        return self.held[-1]


class Broken(MemoryStorage):
    def get(self, key):
        raise RuntimeError("disk on fire")


class NotBeforeAck(MemoryStorage):
    delivers_before_ack = False


def test_is_not_snapshot_capable():
    """RemoteStorage offers no snapshot/restore: that is the primary's business."""
    assert not issubclass(RemoteStorage, SupportsSnapshot)


def test_server_stop_fires_lost_and_fails_pending_and_later_calls(remote, run, run_until, settle):
    """When the server goes away, ``lost`` fires, a call the server was working on fails with Unavailable,
    and so does every later call; a watch hears nothing more."""
    remote.store_class = HeldReads
    client = remote.open()
    got = []
    client.watch(b"/w/", 0, got.append)
    pending = client.get(b"/k")
    run_until(lambda: remote.store.held)
    assert not client.lost.called
    run(remote.server.stop())
    assert run(client.lost) is None
    with pytest.raises(Unavailable):
        run(pending)
    for d in (client.get(b"/k"), client.create(b"/k", b"v"), client.current_revision(), client.check_health()):
        with pytest.raises(Unavailable):
            run(d)
    remote.store.held[0].callback(None)  # the answer the server would have sent goes nowhere
    run(remote.store.create(b"/w/a", b"1"))
    settle()
    assert got == []
    run(client.close())


def test_close_does_not_fire_lost(remote, run, settle):
    """close() ends the connection without ``lost``; calls after it fail with Unavailable."""
    client = remote.open()
    run(client.close())
    settle()
    assert not client.lost.called
    with pytest.raises(Unavailable, match="closed"):
        run(client.get(b"/k"))


def test_connect_to_nothing_is_unavailable(remote, run):
    """No server at the path: Unavailable."""
    with pytest.raises(Unavailable):
        run(connect_remote(remote.path, reactor))


def test_errors_cross_as_their_types_with_their_fields(remote, run):
    """KeyExists, KeyNotFound, Conflict (its current a KeyValue, or None), RevisionCompacted and FutureRevision
    arrive as themselves, their fields intact."""
    client = remote.open()
    r1 = run(client.create(b"/e/a", b"1"))
    r2 = run(client.update(b"/e/a", b"2", r1))
    cases = [
        (client.create(b"/e/a", b"x"), KeyExists, {"key": b"/e/a"}),
        (client.delete(b"/e/none"), KeyNotFound, {"key": b"/e/none"}),
        (client.update(b"/e/a", b"x", r1), Conflict, {"key": b"/e/a", "current": KeyValue(b"/e/a", b"2", r1, r2)}),
        (client.update(b"/e/none", b"x", r1), Conflict, {"key": b"/e/none", "current": None}),
        (client.range(b"/e/", revision=r2 + 5), FutureRevision, {"requested": r2 + 5, "current": r2}),
    ]
    for d, error, fields in cases:
        with pytest.raises(error) as e:
            run(d)
        assert type(e.value) is error
        assert {name: getattr(e.value, name) for name in fields} == fields
    run(client.compact(r2))
    with pytest.raises(RevisionCompacted) as e:
        run(client.range(b"/e/", revision=r1))
    assert (e.value.requested, e.value.compact_revision) == (r1, r2)
    with pytest.raises(Conflict) as e:
        run(client.delete(b"/e/a", r1))
    assert type(e.value.current) is KeyValue and e.value.current.mod_revision == r2


def test_other_server_errors_arrive_as_unavailable(remote, run):
    """An unexpected exception of the served storage is Unavailable with its text; the connection stays up."""
    remote.store_class = Broken
    client = remote.open()
    with pytest.raises(Unavailable, match="disk on fire"):
        run(client.get(b"/k"))
    assert run(client.create(b"/k", b"v")) > 0


def test_non_bytes_fail_before_sending(remote, run):
    """check_bytes raises at once, client side, and nothing reaches the store."""
    client = remote.open()
    for call in (lambda: client.create("/k", b"v"), lambda: client.update(b"/k", "v", 1),
                 lambda: client.get("/k"), lambda: client.range("/"), lambda: client.watch("/", 0, print)):
        with pytest.raises(TypeError):
            call()
    assert client._pending == {} and client._watches == {}
    assert run(client.range(b"")).count == 0


def test_a_store_that_does_not_deliver_before_its_ack_is_refused():
    """The published revision (and the clients' reads) rest on a store handing each write to its watchers
    before acknowledging it: a server of any other store is refused."""
    with pytest.raises(ValueError, match="delivers"):
        StorageServer(NotBeforeAck(reactor), reactor)


def test_cancelled_watch_hears_nothing_of_frames_in_flight(remote, run, run_until, settle):
    """Events already written to the socket when cancel() is called do not reach the sink, and the
    server drops its watch."""
    client = remote.open()
    got, progress = [], []
    handle = client.watch(b"/w/", run(client.current_revision()), got.append, on_progress=progress.append)
    run_until(lambda: progress)
    # Written on the server's side: the event frame is in the socket before the client turns again.
    run(remote.store.create(b"/w/a", b"1"))
    assert len(client_watches(remote)) == 1
    handle.cancel()
    handle.cancel()
    settle()
    assert got == []
    run_until(lambda: not client_watches(remote))


def client_watches(remote):
    """The server's store's watches that clients asked for (the server's own watch of the whole store left
    out)."""
    return [w for w in remote.store._watchers if w is not remote.server._publisher]


def test_a_write_through_one_client_reaches_the_others_watch_before_its_current_revision(remote, run, run_until):
    """Two clients of one server: once A's write is acknowledged, B's current_revision() is at least its
    revision, without asking the server (the published revision), and it fires only once B's connection has
    carried that revision: by then B's caught-up watch has the event and vouches for it.  B reads nothing
    from its socket until after the ack, so its answer must wait (and known_revision() is None meanwhile)."""
    a, b = remote.open(), remote.open()
    start = run(a.create(b"/w/first", b"1"))
    got, progress = [], []
    handle = b.watch(b"/w/", start, got.append, on_progress=progress.append)
    run_until(lambda: progress)
    b._connection.transport.stopReading()
    rev = run(a.create(b"/w/x", b"1"))
    asked = b.current_revision()
    seen = []
    asked.addCallback(lambda revision: seen.append(
        (revision, [e.revision for e in got], handle.progress_revision)))
    assert seen == [] and b._behind and b.known_revision() is None
    b._connection.transport.startReading()
    run(asked)
    assert seen == [(rev, [rev], rev)]
    # Nothing written since: answered at once.
    assert b.known_revision() == rev and run(b.current_revision()) == rev


def test_a_write_by_the_servers_own_process_is_published_before_it_is_acknowledged(remote, run):
    """A write the served store acknowledges to its own process (the primary's loopback clients) is in the
    published revision by the time its Deferred fires, so every client's next current_revision() waits for
    it."""
    client = remote.open()
    published = []
    d = remote.store.create(b"/own", b"1")
    d.addCallback(lambda rev: published.append(client._published[0]) or rev)
    rev = run(d)
    assert published == [rev]
    assert run(client.current_revision()) == rev


def test_the_revision_file_is_private_and_removed_with_the_server(remote, run):
    """The published revision lives in <socket>.revision, mode 0600, gone once the server stops."""
    client = remote.open()
    path = remote.path + ".revision"
    assert os.stat(path).st_mode & 0o777 == 0o600
    run(client.close())
    remote.stop()
    assert not os.path.exists(path)


def test_a_big_value_round_trips(remote, run, run_until):
    """Values of a few MB cross in both directions: get, range and a watch event."""
    client = remote.open()
    big = os.urandom(5 * 1024 * 1024)
    got = []
    client.watch(b"/big/", run(client.current_revision()), got.append)
    revs = [run(client.create(b"/big/%d" % i, big[i:] + big[:i])) for i in range(3)]
    assert run(client.get(b"/big/1")).value == big[1:] + big[:1]
    result = run(client.range(b"/big/"))
    assert [kv.value for kv in result.kvs] == [big[i:] + big[:i] for i in range(3)]
    run_until(lambda: len(got) == 3)
    assert [e.revision for e in got] == revs and got[2].kv.value == big[2:] + big[:2]


class Frames(_Framed):
    def __init__(self, clock=None):
        super().__init__(clock or Clock())
        self.frames = []

    def frameReceived(self, frame):
        self.frames.append(frame)


@pytest.mark.parametrize("step", [1, 3, 7, 4096, 10**9])
def test_frames_split_across_reads(step):
    """Frames reach frameReceived whole and in order whatever the reads cut them into."""
    frames = [(1, True, b"x" * 10000), (0, "event", 1, "PUT", (b"k", b"", 2, 2), None), (2, False, ("E", ()))]
    data = b"".join(len(p).to_bytes(4, "big") + p for p in map(marshal.dumps, frames))
    receiver = Frames()
    for i in range(0, len(data), step):
        receiver.dataReceived(data[i:i + step])
    assert receiver.frames == frames



class _Socket:
    """A socket taking at most ``room`` bytes a send."""

    def __init__(self, room: int):
        self.room = room
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> int:
        self.sent.append(data[:self.room])
        return min(len(data), self.room)


class _Transport:
    def __init__(self, room: int):
        self.socket = _Socket(room)
        self.dataBuffer = b""
        self._tempDataBuffer: list[bytes] = []
        self.connected, self.disconnecting = True, False
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


@pytest.mark.parametrize("room", [10**9, 5, 0])
def test_a_turns_frames_leave_together_in_order_the_rest_through_the_transport(room):
    """The frames sent in one turn reach the socket in one send once the turn ends, in order; what the socket
    does not take goes to the transport's write (which sends it when the socket can take it)."""
    clock = Clock()
    framed = Frames(clock)
    framed.transport = _Transport(room)
    frames = [(1, "create", b"k", b"v" * 100), (0, "cancel", 3), (2, "current_revision")]
    for frame in frames:
        framed.send(frame)
    assert framed.transport.socket.sent == [] and framed.transport.written == []
    clock.advance(0)
    expected = b"".join(len(p).to_bytes(4, "big") + p for p in map(marshal.dumps, frames))
    assert len(framed.transport.socket.sent) == 1
    assert b"".join(framed.transport.socket.sent + framed.transport.written) == expected
    assert framed.transport.written == ([] if room >= len(expected) else [expected[room:]])


def test_frames_wait_behind_what_the_transport_still_holds():
    """With bytes of the connection still queued in the transport, a turn's frames go behind them (the
    transport's write), never straight to the socket ahead of them."""
    clock = Clock()
    framed = Frames(clock)
    framed.transport = _Transport(10**9)
    framed.transport.dataBuffer = b"earlier"
    framed.send((1, "get", b"k"))
    clock.advance(0)
    assert framed.transport.socket.sent == [] and len(framed.transport.written) == 1


def test_a_gather_has_the_servers_answer_and_every_other_clients(remote, run):
    """A client's gather is answered with the server process's answer and each other client's (on_collect),
    not its own; a client without on_collect, or whose on_collect raises, answers None."""
    server = remote.serve()
    server.collect = lambda what: f"server {what}"
    a, b, c, d = (remote.connect() for _ in range(4))
    b.on_collect = lambda what: [f"b {what}"]
    d.on_collect = lambda what: 1 / 0
    a.on_collect = lambda what: "a must not be asked"
    answers = run(a.gather("metrics"))
    assert answers[0] == "server metrics" and sorted(map(repr, answers[1:])) == sorted(
        map(repr, [["b metrics"], None, None]))


def test_a_gather_leaves_out_a_client_that_does_not_answer(remote, run, monkeypatch):
    """A client whose connection ends during a gather is None in the answers at once; one that does not
    answer within GATHER_TIMEOUT is None once that has passed."""
    from kapiserver.storage import remote as remote_module
    monkeypatch.setattr(remote_module, "GATHER_TIMEOUT", 60.0)
    remote.serve()
    a, leaving = remote.connect(), remote.connect()
    leaving.on_collect = lambda what: "here"
    leaving._connection.transport.stopReading()
    gathered = a.gather("metrics")
    run(leaving.close())
    assert run(gathered, timeout=5.0) == [None, None]     # not the 60 s
    monkeypatch.setattr(remote_module, "GATHER_TIMEOUT", 0.3)
    silent = remote.connect()
    silent.on_collect = lambda what: "here"
    silent._connection.transport.stopReading()
    assert run(a.gather("metrics")) == [None, None]
    silent._connection.transport.startReading()
    # Its late answer is dropped, and the next gather hears it.
    assert run(a.gather("metrics")) == [None, "here"]


def test_until_started_waits_for_the_servers_process(remote, run, settle):
    """until_started() fires only once the server's process has said it started; from then on at once."""
    server = remote.serve()
    client = remote.connect()
    waiting = client.until_started()
    settle()
    assert not waiting.called
    server.started()
    server.started()    # said twice: harmless
    run(waiting)
    assert run(client.until_started()) is None and run(remote.connect().until_started()) is None

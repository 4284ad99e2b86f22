"""kapiserver.workers.WorkersService on a fake reactor: how workers are started, started again and stopped
(tests/e2e/test_workers.py runs real ones)."""

from __future__ import annotations

import types

from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure

from kapiserver import workers
from kapiserver.storage.memory import MemoryStorage


class ProcessReactor(MemoryReactorClock):
    """A MemoryReactorClock that records spawnProcess calls and signals instead of starting processes."""

    def __init__(self):
        super().__init__()
        self.spawned = []

    def spawnProcess(self, protocol, executable, args, env=None, childFDs=None, **kw):
        transport = types.SimpleNamespace(signals=[], signalProcess=lambda sig: transport.signals.append(sig))
        self.spawned.append((protocol, args, transport))
        return transport


def service(reactor, count=2):
    storage = types.SimpleNamespace(storage=types.SimpleNamespace(default=MemoryStorage(reactor)))
    return workers.WorkersService(reactor, storage, count, ["--insecure-port=8080", "--v=2"], executable="py")


def end(protocol, code=None, signal=None):
    reason = ProcessDone(0) if code == 0 else ProcessTerminated(exitCode=code, signal=signal)
    protocol.processEnded(Failure(reason))


def test_each_worker_is_started_with_the_flags_and_the_store_socket():
    """Worker N runs `python -m kapiserver` with the primary's flags and --worker-of, the store's socket."""
    reactor = ProcessReactor()
    workers_service = service(reactor)
    workers_service.startService()
    assert len(reactor.spawned) == 2
    for protocol, args, _ in reactor.spawned:
        assert args[:3] == ["py", "-m", "kapiserver"]
        assert args[3:5] == ["--insecure-port=8080", "--v=2"]
        assert args[5] == f"--worker-of={workers_service.socket_path}"
    [(path, _, _, mode, _)] = reactor.unixServers      # the store, served to the workers only
    assert (path, mode) == (workers_service.socket_path, 0o600)
    assert [protocol.index for protocol, _, _ in reactor.spawned] == [1, 2]


def test_a_worker_ending_soon_after_its_start_waits_longer_each_time_and_a_steady_one_one_second():
    """Ended within STEADY_RUN of its start: started again after 1, 2, 4 ... seconds, at most MAX_RESPAWN_DELAY;
    after a steady run, after RESPAWN_DELAY again."""
    reactor = ProcessReactor()
    workers_service = service(reactor, count=1)
    workers_service.startService()
    delays = []
    for _ in range(7):
        protocol = reactor.spawned[-1][0]
        end(protocol, code=1)
        [call] = [c for c in reactor.getDelayedCalls() if c.func == workers_service._spawn]
        delays.append(call.getTime() - reactor.seconds())
        reactor.advance(delays[-1])
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    reactor.advance(workers.STEADY_RUN + 1)
    end(reactor.spawned[-1][0], signal=9)
    [call] = [c for c in reactor.getDelayedCalls() if c.func == workers_service._spawn]
    assert call.getTime() - reactor.seconds() == workers.RESPAWN_DELAY
    assert len(reactor.spawned) == 8


def test_stopping_terminates_the_live_workers_and_starts_none_again():
    """stopService sends SIGTERM to each live worker, fires once they have all ended, and cancels a start due."""
    reactor = ProcessReactor()
    workers_service = service(reactor)
    workers_service.startService()
    first, second = reactor.spawned
    end(first[0], code=1)               # ended: its start again is due in a second
    stopped = workers_service.stopService()
    assert second[2].signals == ["TERM"] and first[2].signals == []
    assert not stopped.called
    end(second[0], signal=15)
    assert stopped.called
    reactor.advance(60)
    assert len(reactor.spawned) == 2


def test_a_worker_that_does_not_stop_is_killed():
    """A worker still running STOP_TIMEOUT after its SIGTERM gets SIGKILL."""
    reactor = ProcessReactor()
    workers_service = service(reactor, count=1)
    workers_service.startService()
    [(protocol, _, transport)] = reactor.spawned
    stopped = workers_service.stopService()
    reactor.advance(workers.STOP_TIMEOUT)
    assert transport.signals == ["TERM", "KILL"]
    end(protocol, signal=9)
    assert stopped.called


def test_a_workers_log_lines_are_relayed_without_their_timestamp():
    """Each line a worker writes is one line of this process's log (namespace kapiserver.workers, its index),
    without the worker's own timestamp; blank ones are dropped, a line cut across reads is joined."""
    from twisted.logger import globalLogPublisher
    seen = []
    globalLogPublisher.addObserver(seen.append)
    try:
        protocol = workers.WorkerProcess(3, lambda worker: None)
        protocol.errReceived(b"2026-12-06T19:24:15+0000 [kapiserver.listener#info] Serving insecurely on x\n\n  \npart")
        protocol.errReceived(b"ial line\n")
    finally:
        globalLogPublisher.removeObserver(seen.append)
    lines = [event["line"] for event in seen if event.get("log_namespace") == "kapiserver.workers"]
    assert lines == ["[kapiserver.listener#info] Serving insecurely on x", "partial line"]
    assert all(event["index"] == 3 for event in seen if event.get("log_namespace") == "kapiserver.workers")

"""The supervisor of kube-cluster's children, driven by task.Clock and fake processes."""

from __future__ import annotations

import io

from twisted.internet import error
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import Logger
from twisted.python.failure import Failure

from kapiserver.cluster.supervisor import Backoff, Command, LineBuffer, Supervisor


class FakeProcess:
    """The transport spawn hands back: records signals; the test ends it."""

    def __init__(self, protocol, argv, pid):
        self.protocol, self.argv, self.pid = protocol, argv, pid
        self.signals: list[str] = []
        self.ended = False

    def signalProcess(self, name):
        if self.ended:
            raise error.ProcessExitedAlready()
        self.signals.append(name)

    def exit(self, code=0, signal=None):
        self.ended = True
        status = (code << 8) if signal is None else signal
        self.protocol.processEnded(Failure(error.ProcessTerminated(code if signal is None else None, signal,
                                                                   status)))


class FakeSpawner:
    def __init__(self):
        self.processes: list[FakeProcess] = []

    def __call__(self, protocol, executable, argv, env):
        process = FakeProcess(protocol, argv, 100 + len(self.processes))
        self.processes.append(process)
        protocol.makeConnection(process)
        return process

    def started(self) -> list[str]:
        return [p.argv[1] for p in self.processes]

    def last(self, name) -> FakeProcess:
        return [p for p in self.processes if p.argv[1] == name][-1]


def cluster(ready=None, stop_timeout=10.0):
    """A supervisor of an apiserver (stage 0, with `ready`), a controller manager, a scheduler (stage 1, 2)
    and two nodes (stage 3) on fake processes and a Clock."""
    commands = [Command("apiserver", ["python", "apiserver"], 0, ready=ready),
                Command("controller-manager", ["python", "controller-manager"], 1),
                Command("scheduler", ["python", "scheduler"], 2),
                Command("node-1", ["python", "node-1"], 3), Command("node-2", ["python", "node-2"], 3)]
    clock, spawner, out, events = Clock(), FakeSpawner(), io.StringIO(), []
    supervisor = Supervisor(commands, spawner, clock, out, log=Logger(observer=events.append),
                            stop_timeout=stop_timeout)
    return supervisor, clock, spawner, out


def test_backoff_doubles_to_the_maximum_and_resets_after_stable_uptime():
    """Quick exits wait 1, 2, 4, ... 30 s; an exit after a stable uptime waits 1 s again."""
    backoff = Backoff()
    assert [backoff.delay(0.5) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay(10.0) == 1
    assert backoff.delay(0.1) == 2


def test_the_next_stage_waits_for_the_apiserver_to_be_ready():
    """Only the apiserver starts at first; the others start, in stage order, once its readiness check fires."""
    ready = Deferred()
    supervisor, clock, spawner, _ = cluster(ready=lambda: ready)
    supervisor.startService()
    assert spawner.started() == ["apiserver"]
    ready.callback(None)
    assert spawner.started() == ["apiserver", "controller-manager", "scheduler", "node-1", "node-2"]


def test_a_crashed_child_restarts_with_exponential_backoff():
    """A child that keeps crashing is started again after 1 s, then 2 s, then 4 s, ... at most 30 s."""
    supervisor, clock, spawner, _ = cluster()
    supervisor.startService()
    delays = []
    for _ in range(7):
        spawner.last("scheduler").exit(1)
        before = len(spawner.processes)
        waited = 0.0
        while len(spawner.processes) == before:
            clock.advance(0.5)
            waited += 0.5
        delays.append(waited)
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert supervisor.child("scheduler").starts == 8
    assert supervisor.child("apiserver").starts == 1


def test_backoff_resets_after_the_child_stayed_up():
    """After crashing quickly a few times, a child that then ran a while restarts after 1 s again."""
    supervisor, clock, spawner, _ = cluster()
    supervisor.startService()
    for delay in (1, 2, 4):
        spawner.last("node-1").exit(2)
        clock.advance(delay)
    clock.advance(60)                     # up a minute this time
    count = len(spawner.processes)
    spawner.last("node-1").exit(2)
    clock.advance(1)
    assert len(spawner.processes) == count + 1
    assert spawner.processes[-1].argv[1] == "node-1"


def test_stop_goes_in_reverse_order_each_stage_once_the_later_has_exited():
    """SIGTERM reaches the nodes first, then the scheduler, the controller manager and last the apiserver,
    each once every child of the later stages has exited."""
    supervisor, clock, spawner, _ = cluster()
    supervisor.startService()
    stopped = supervisor.stopService()

    def signalled():
        return [p.argv[1] for p in spawner.processes if p.signals]
    assert signalled() == ["node-1", "node-2"]
    spawner.last("node-1").exit(0)
    assert signalled() == ["node-1", "node-2"]
    spawner.last("node-2").exit(0)
    assert signalled() == ["scheduler", "node-1", "node-2"]
    spawner.last("scheduler").exit(0)
    assert signalled() == ["controller-manager", "scheduler", "node-1", "node-2"]
    spawner.last("controller-manager").exit(0)
    assert not stopped.called
    assert spawner.last("apiserver").signals == ["TERM"]
    spawner.last("apiserver").exit(0)
    assert stopped.called
    clock.advance(120)
    assert len(spawner.processes) == 5, "nothing restarts once stopping"


def test_a_child_that_exits_while_the_later_stages_stop_stays_down():
    """The apiserver crashing while the nodes are being stopped is not restarted; its stop is then immediate."""
    supervisor, clock, spawner, _ = cluster()
    supervisor.startService()
    stopped = supervisor.stopService()
    spawner.last("apiserver").exit(1)
    clock.advance(5)
    for name in ("node-1", "node-2", "scheduler", "controller-manager"):
        spawner.last(name).exit(0)
    assert stopped.called
    assert spawner.last("apiserver").signals == []
    assert len(spawner.processes) == 5


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout():
    """A child still there `stop_timeout` seconds after SIGTERM gets SIGKILL, and the stop goes on."""
    supervisor, clock, spawner, _ = cluster(stop_timeout=5.0)
    supervisor.startService()
    stopped = supervisor.stopService()
    for name in ("node-1", "node-2", "scheduler", "controller-manager"):
        spawner.last(name).exit(0) if name != "scheduler" else None
    assert spawner.last("scheduler").signals == ["TERM"]
    clock.advance(4.9)
    assert spawner.last("scheduler").signals == ["TERM"]
    clock.advance(0.1)
    assert spawner.last("scheduler").signals == ["TERM", "KILL"]
    spawner.last("scheduler").exit(signal=9)
    spawner.last("controller-manager").exit(0) if not spawner.last("controller-manager").ended else None
    spawner.last("apiserver").exit(0)
    assert stopped.called


def test_stopping_cancels_a_pending_restart_and_a_pending_start():
    """A child waiting out its backoff is not started again once stopping; nor are stages not yet started."""
    ready = Deferred()
    supervisor, clock, spawner, _ = cluster(ready=lambda: ready)
    supervisor.startService()
    spawner.last("apiserver").exit(1)
    stopped = supervisor.stopService()
    assert stopped.called
    clock.advance(60)
    assert spawner.started() == ["apiserver"]


def test_lines_are_tagged_and_partial_lines_wait_for_their_end():
    """Each whole line, from stdout or stderr, is written once with the child's padded tag; a partial line
    waits for its newline, or for the child's exit."""
    supervisor, clock, spawner, out = cluster()
    supervisor.startService()
    node = spawner.last("node-1").protocol
    node.childDataReceived(1, b"first line\nsecond ")
    node.childDataReceived(2, b"an error\r\n")
    assert out.getvalue() == ("node-1             | first line\n"
                              "node-1             | an error\n")
    node.childDataReceived(1, b"half\nno newline at the end")
    apiserver = spawner.last("apiserver").protocol
    apiserver.childDataReceived(1, b"caf\xc3")             # a character split between two reads
    apiserver.childDataReceived(1, b"\xa9 \xff\n")          # and a byte that is no UTF-8
    spawner.last("node-1").exit(1)
    assert out.getvalue().splitlines()[2:] == ["node-1             | second half",
                                               "apiserver          | caf\u00e9 \ufffd",
                                               "node-1             | no newline at the end"]


def test_a_very_long_line_is_written_in_pieces():
    """A line without a newline is not held past the limit: it is written in pieces of the limit's size."""
    buffer = LineBuffer(max_line=4)
    assert buffer.feed(b"abcdefghij") == ["abcd", "efgh"]
    assert buffer.feed(b"\n") == ["ij"]
    assert buffer.flush() == []


def test_a_spawn_failure_is_retried_with_backoff():
    """A child that cannot be spawned at all (no such program) is tried again after the backoff delay."""
    attempts = []

    def spawn(protocol, executable, argv, env):
        attempts.append(argv)
        raise OSError(2, "No such file or directory")
    clock = Clock()
    supervisor = Supervisor([Command("scheduler", ["missing"])], spawn, clock, io.StringIO(),
                            log=Logger(observer=lambda e: None))
    supervisor.startService()
    clock.advance(1)
    clock.advance(2)
    assert len(attempts) == 3
    assert supervisor.stopService().called

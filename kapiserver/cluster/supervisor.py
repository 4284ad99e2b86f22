"""Supervised child processes: the daemons of a cluster, started in stages and stopped in reverse.

The rules, for a caller to rely on:

- Children start stage by stage (the apiserver is stage 0); a stage's `ready` checks must all pass before
  the next stage starts, so the controller manager, the scheduler and the nodes meet a serving apiserver.
- A child that exits while the supervisor runs is started again after a delay: 1 s, doubling on each quick
  exit up to 30 s; a child that stayed up `STABLE_AFTER` seconds before it exited starts again after 1 s.
- Stopping stops the stages in reverse order (the nodes, the scheduler, the controller manager, then the
  apiserver), each child of a stage at once: SIGTERM, then SIGKILL when it is still there after the timeout.
- Every line a child writes, on stdout or stderr, is written to one output prefixed by the child's tag
  (``node-1     | ...``); a line is written whole, once its newline arrives (or the child ends).

Time comes from an injected clock and processes from an injected `spawn` (reactor.spawnProcess's shape), so
the tests drive it with task.Clock and fake processes.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Sequence

from twisted.application import service
from twisted.internet import error, protocol
from twisted.internet.defer import CancelledError, Deferred, DeferredList, succeed
from twisted.logger import Logger

BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 30.0
# A child that ran this long before it exited was working: its next start is not delayed further.
STABLE_AFTER = 10.0
STOP_TIMEOUT = 10.0
# A line longer than this is written in pieces rather than held without end.
MAX_LINE = 64 * 1024


@dataclass(frozen=True)
class Command:
    """One supervised daemon: its tag in the log, its argv (argv[0] the executable), its environment (None:
    the supervisor's own), the stage it starts in, and an optional readiness check (a callable returning a
    Deferred or coroutine that completes once the daemon serves) that the next stage waits for."""
    tag: str
    argv: Sequence[str]
    stage: int = 0
    env: Optional[Mapping[str, str]] = None
    ready: Optional[Callable] = field(default=None, compare=False)


class Backoff:
    """Restart delays: `initial` doubling up to `maximum`, back to `initial` after an uptime of `reset_after`."""

    def __init__(self, initial: float = BACKOFF_INITIAL, maximum: float = BACKOFF_MAX,
                 reset_after: float = STABLE_AFTER):
        self.initial, self.maximum, self.reset_after = initial, maximum, reset_after
        self._next = initial

    def delay(self, uptime: float) -> float:
        """The delay before restarting a child that exited after `uptime` seconds up."""
        if uptime >= self.reset_after:
            self._next = self.initial
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        return delay


class LineBuffer:
    """Bytes in, whole lines out (decoded, without their newline); `flush` hands out a last partial line."""

    def __init__(self, max_line: int = MAX_LINE):
        self._pending = b""
        self._max = max_line

    def feed(self, data: bytes) -> list[str]:
        *lines, self._pending = (self._pending + data).split(b"\n")
        while len(self._pending) > self._max:
            lines.append(self._pending[:self._max])
            self._pending = self._pending[self._max:]
        return [_decode(line) for line in lines]

    def flush(self) -> list[str]:
        rest, self._pending = self._pending, b""
        return [_decode(rest)] if rest else []


def _decode(line: bytes) -> str:
    return line.rstrip(b"\r").decode("utf-8", errors="replace")


class TaggedOutput:
    """Writes lines to one stream as ``<tag padded to the widest> | <line>``."""

    def __init__(self, out=None, width: int = 0):
        self.out = out if out is not None else sys.__stdout__
        self.width = width

    def write(self, tag: str, lines: Sequence[str]) -> None:
        if not lines:
            return
        self.out.write("".join(f"{tag.ljust(self.width)} | {line}\n" for line in lines))
        self.out.flush()


class _ChildProtocol(protocol.ProcessProtocol):
    def __init__(self, child: "Child"):
        self.child = child
        self.buffers = {1: LineBuffer(), 2: LineBuffer()}

    def childDataReceived(self, fd: int, data: bytes) -> None:
        self.child.output.write(self.child.command.tag, self.buffers.setdefault(fd, LineBuffer()).feed(data))

    def processEnded(self, reason) -> None:
        for buffer in self.buffers.values():
            self.child.output.write(self.child.command.tag, buffer.flush())
        self.child._ended(self, reason.value)


def describe_exit(value) -> str:
    """How a process ended, in words: "exited with code 1", "was killed by signal 9", "exited"."""
    if getattr(value, "signal", None) is not None:
        return f"was killed by signal {value.signal}"
    if getattr(value, "exitCode", None) is not None:
        return f"exited with code {value.exitCode}"
    return "exited"


class Child:
    """One daemon kept running: started by `start`, restarted with backoff when it exits, ended by `stop`."""

    def __init__(self, command: Command, spawn: Callable, clock, output: TaggedOutput, log: Logger,
                 backoff: Optional[Backoff] = None, stop_timeout: float = STOP_TIMEOUT):
        self.command, self._spawn, self.clock, self.output, self.log = command, spawn, clock, output, log
        self.backoff = backoff or Backoff()
        self.stop_timeout = stop_timeout
        self.transport = None          # the running process, if any
        self.pid: Optional[int] = None
        self.starts = 0
        self._protocol = None
        self._started_at = 0.0
        self._restart = None           # the pending restart's DelayedCall
        self._stopping = False
        self._stopped: list[Deferred] = []
        self._kill = None

    @property
    def running(self) -> bool:
        return self.transport is not None

    def start(self) -> None:
        """Start the process now (the supervisor calls this; a restart calls it again)."""
        self._restart = None
        self._stopping = False
        self._protocol = _ChildProtocol(self)
        self._started_at = self.clock.seconds()
        self.starts += 1
        try:
            self.transport = self._spawn(self._protocol, self.command.argv[0], list(self.command.argv),
                                         self.command.env)
        except OSError as e:   # no such executable, no processes left: treat it as a quick exit
            self.log.error("{tag} could not be started: {error}", tag=self.command.tag, error=e)
            self.transport = None
            self._schedule_restart(0.0)
            return
        self.pid = getattr(self.transport, "pid", None)
        self.log.info("{tag} started (pid {pid})", tag=self.command.tag, pid=self.pid)

    def _ended(self, protocol_: _ChildProtocol, reason) -> None:
        if protocol_ is not self._protocol:
            return
        self.transport = None
        uptime = self.clock.seconds() - self._started_at
        if self._kill is not None and self._kill.active():
            self._kill.cancel()
        self._kill = None
        if self._stopping:
            self.log.info("{tag} stopped ({how})", tag=self.command.tag, how=describe_exit(reason))
            waiting, self._stopped = self._stopped, []
            for d in waiting:
                d.callback(None)
            return
        self._schedule_restart(uptime, describe_exit(reason))

    def _schedule_restart(self, uptime: float, how: str = "") -> None:
        delay = self.backoff.delay(uptime)
        if how:
            self.log.warn("{tag} {how} after {uptime:.1f} s; restarting in {delay:g} s", tag=self.command.tag,
                          how=how, uptime=uptime, delay=delay)
        self._restart = self.clock.callLater(delay, self.start)

    def hold(self) -> None:
        """No more restarts: a pending one is cancelled, and an exit from now on is final."""
        self._stopping = True
        if self._restart is not None and self._restart.active():
            self._restart.cancel()
        self._restart = None

    def stop(self) -> Deferred:
        """SIGTERM, then SIGKILL after the timeout; fires once the process is gone (at once if none runs)."""
        self.hold()
        if self.transport is None:
            return succeed(None)
        d = Deferred()
        self._stopped.append(d)
        if self._kill is None:
            self._signal("TERM")
            self._kill = self.clock.callLater(self.stop_timeout, self._force)
        return d

    def _force(self) -> None:
        self._kill = None
        if self.transport is not None:
            self.log.warn("{tag} did not stop within {timeout:g} s; killing it", tag=self.command.tag,
                          timeout=self.stop_timeout)
            self._signal("KILL")

    def _signal(self, name: str) -> None:
        try:
            self.transport.signalProcess(name)
        except error.ProcessExitedAlready:
            pass


def default_spawn(reactor):
    """A `spawn` running real processes on `reactor`."""
    def spawn(protocol_, executable, argv, env):
        return reactor.spawnProcess(protocol_, executable, argv, env=env)
    return spawn


class Supervisor(service.Service):
    """Runs `commands` as supervised children (see the module's rules)."""

    def __init__(self, commands: Sequence[Command], spawn: Callable, clock, out=None,
                 log: Optional[Logger] = None, stop_timeout: float = STOP_TIMEOUT,
                 backoff: Callable[[], Backoff] = Backoff):
        self.log = log or Logger()
        self.output = TaggedOutput(out, max((len(c.tag) for c in commands), default=0))
        self.clock = clock
        self.children = [Child(c, spawn, clock, self.output, self.log, backoff(), stop_timeout)
                         for c in commands]
        self._starting: Optional[Deferred] = None

    def stages(self) -> list[list[Child]]:
        """The children grouped by stage, in starting order."""
        numbers = sorted({child.command.stage for child in self.children})
        return [[c for c in self.children if c.command.stage == n] for n in numbers]

    def child(self, tag: str) -> Child:
        return next(c for c in self.children if c.command.tag == tag)

    def startService(self) -> None:
        """Starts the first stage at once and the others as the stages before them become ready; the start
        of the later stages is not waited for (twistd goes on running while the apiserver comes up)."""
        super().startService()
        self._starting = Deferred.fromCoroutine(self._start_stages())
        self._starting.addErrback(self._start_failed)

    def _start_failed(self, failure) -> None:
        if not failure.check(CancelledError):
            self.log.failure("The cluster's later stages could not be started", failure)

    async def _start_stages(self) -> None:
        for stage in self.stages():
            for child in stage:
                child.start()
            for child in stage:
                if child.command.ready is not None:
                    await child.command.ready()
                    self.log.info("{tag} is ready", tag=child.command.tag)

    def stopService(self) -> Deferred:
        """Stops the children, stages in reverse; fires once every child has exited."""
        super().stopService()
        if self._starting is not None:
            self._starting.cancel()
            self._starting = None
        for child in self.children:     # a child that exits while the later stages stop stays down
            child.hold()
        return Deferred.fromCoroutine(self._stop_stages())

    async def _stop_stages(self) -> None:
        for stage in reversed(self.stages()):
            await DeferredList([child.stop() for child in stage])

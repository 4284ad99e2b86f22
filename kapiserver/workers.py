"""--workers: the API served by worker processes over one embedded store.

The process `twistd kube-apiserver --workers N` starts holds the store (SQLite or memory) and runs everything
that writes the cluster's own objects (the bootstrap, the embedded controllers, compaction), serving the API
only to its own clients (the loopback listener).  As soon as its store is open, it serves it on a Unix socket in
a private directory (kapiserver.storage.remote) and starts N workers (`python -m kapiserver` with its own flags
and --worker-of), which start while it does and listen once it has (``serving``).  The workers listen on the
API's ports with SO_REUSEPORT, so the kernel spreads the connections among them; each has its own watch caches,
fed by the store's watches as the primary's are, so a read anywhere sees every write acknowledged before it.
The workers are alike, none holding the store: the connections spread evenly are work spread evenly.

On two or more cores this is how the API goes past what one Python thread can do.  A worker that ends is
started again after RESPAWN_DELAY (doubled, up to MAX_RESPAWN_DELAY, while workers end soon after their
start: a flag they refuse, a crash at start); stopping the primary stops its workers (SIGTERM, their graceful shutdown)
before the store closes, and a worker whose store connection ends stops itself.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile

from twisted.application import service
from twisted.internet import protocol
from twisted.internet.defer import Deferred, ensureDeferred, gatherResults
from twisted.logger import Logger

log = Logger()

# How long after a worker ended it is started again, and how long a stopping worker may take before SIGKILL.
RESPAWN_DELAY = 1.0
MAX_RESPAWN_DELAY = 30.0
# A worker that ran this long is started again after RESPAWN_DELAY, one that ended sooner after twice the last.
STEADY_RUN = 10.0
STOP_TIMEOUT = 30.0
# The time a worker's log line starts with: the primary's log line has its own.
_OWN_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} ")


class WorkerProcess(protocol.ProcessProtocol):
    """One worker: its stderr (its log) relayed line by line into this process's log, its end told."""

    def __init__(self, index: int, on_end):
        self.index = index
        self.on_end = on_end
        self.ended = Deferred()
        self.started = 0.0      # when, by the reactor's clock
        self._partial = b""

    def errReceived(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            text = _OWN_TIMESTAMP.sub("", line.decode("utf-8", "replace").rstrip())
            if text.strip():
                log.info("worker {index}: {line}", index=self.index, line=text)

    outReceived = errReceived

    def processEnded(self, reason) -> None:
        if self._partial:
            self.errReceived(b"\n")
        end = reason.value
        self.ended.callback(f"signal {end.signal}" if end.signal is not None else f"exit status {end.exitCode}")
        self.on_end(self)


class WorkersService(service.Service):
    """Serves ``storage``'s store on a Unix socket and keeps ``count`` workers running with ``flags``."""

    def __init__(self, reactor, storage, count: int, flags: list[str], executable: str = sys.executable):
        self.reactor = reactor
        self.storage = storage
        # This process's answer to the workers' gathers (its /metrics: kapiserver.storage.remote), set by its owner.
        self.collect = None
        self.count = count
        self.flags = flags
        self.executable = executable
        self.server = None
        self.directory = None
        self.processes: dict[int, WorkerProcess] = {}
        self._respawns: dict[int, object] = {}
        self._delays: dict[int, float] = {}

    @property
    def socket_path(self) -> str:
        return os.path.join(self.directory, "store.sock")

    def startService(self) -> None:
        super().startService()
        from .storage.remote import StorageServer
        self.directory = tempfile.mkdtemp(prefix="kapiserver-workers-")
        self.server = StorageServer(self.storage.storage.default, self.reactor, self.collect)
        self.server.listen(self.socket_path)
        for index in range(1, self.count + 1):
            self._spawn(index)
        log.info("Started {count} worker(s) to serve the API", count=self.count)

    def serving(self, result=None):
        """This process has started every part of it: the workers, started meanwhile, may serve (each waits
        for this before it listens).  Returns ``result`` (a callback)."""
        if self.server is not None:
            self.server.started()
        return result

    def _spawn(self, index: int) -> None:
        self._respawns.pop(index, None)
        if not self.running:
            return
        argv = [self.executable, "-m", "kapiserver", *self.flags, f"--worker-of={self.socket_path}"]
        worker = WorkerProcess(index, self._ended)
        worker.started = self.reactor.seconds()
        self.processes[index] = worker
        worker.transport = self.reactor.spawnProcess(worker, self.executable, argv, env=os.environ.copy(),
                                                     childFDs={0: "w", 1: "r", 2: "r"})

    def _ended(self, worker: WorkerProcess) -> None:
        if self.processes.get(worker.index) is not worker or not self.running:
            return
        delay = RESPAWN_DELAY
        if self.reactor.seconds() - worker.started < STEADY_RUN:
            delay = min(MAX_RESPAWN_DELAY, 2 * self._delays.get(worker.index, RESPAWN_DELAY / 2))
        self._delays[worker.index] = delay
        log.error("Worker {index} ended ({status}); starting it again in {delay}s",
                  index=worker.index, status=worker.ended.result, delay=delay)
        self._respawns[worker.index] = self.reactor.callLater(delay, self._spawn, worker.index)

    def stopService(self) -> Deferred:
        super().stopService()
        return ensureDeferred(self._stop())

    async def _stop(self) -> None:
        for call in self._respawns.values():
            call.cancel()
        self._respawns.clear()
        live = [worker for worker in self.processes.values() if not worker.ended.called]
        for worker in live:
            worker.transport.signalProcess("TERM")
        if live:
            kill = self.reactor.callLater(STOP_TIMEOUT, self._kill, live)
            await gatherResults([worker.ended for worker in live])
            if kill.active():
                kill.cancel()
        if self.server is not None:
            await self.server.stop()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)

    @staticmethod
    def _kill(workers) -> None:
        for worker in workers:
            if not worker.ended.called:
                log.warn("Worker {index} did not stop in {timeout}s; killing it", index=worker.index,
                         timeout=STOP_TIMEOUT)
                worker.transport.signalProcess("KILL")

"""
The SQLite database in a process of its own: SQLiteStorage's database calls, made from the reactor, run there
one at a time in the order they were made, each answer handed back to the reactor.

A database thread in the apiserver's process would share the interpreter's lock with the reactor: the thread
takes it back after every SQLite call, and waits for it while the reactor is at work, so a write batch's
commit takes several times its own work and the reactor, its writers all waiting on that commit, idles
meanwhile.  In a process of its own the database works while the reactor does, and a batch crosses the
socket once each way.

The child is ``_sqlite_serve``: it reads calls from its end of a socket pair and answers each in turn (see
there).  This is the reactor's end.
"""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
from collections import deque
from typing import Any, Optional

from twisted.internet.defer import Deferred, fail
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from ._sqlite_serve import dumps
from .interface import Unavailable
from .remote import _Framed

log = Logger()

ENDED = "sqlite: the database process ended"
# The child imports this very kapiserver (the directory holding the package first on its path), whatever the
# parent's own path was made of.
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_CHILD = "import sys; sys.path.insert(0, sys.argv.pop(1)); from kapiserver.storage._sqlite_serve import main; main()"
# How long stop() waits for the child to end before killing it.
STOP_TIMEOUT = 10.0


class _Connection(_Framed):
    """The reactor's end of the socket: each answer, in order, to the call waiting longest."""

    codec = (dumps, pickle.loads)

    def __init__(self, clock: Any):
        super().__init__(clock)
        self.waiting: deque[Deferred] = deque()
        self.stopping = False

    def frameReceived(self, frame: tuple) -> None:
        ok, value = frame
        d = self.waiting.popleft()
        if ok:
            d.callback(value)
        else:
            d.errback(Failure(value))

    def ended(self, reason: Failure) -> None:
        if not self.stopping:
            # Every call fails from now on, the store's health check too, so /livez tells a supervisor.
            log.error("The SQLite store's database process ended: every storage call fails from now on")
        waiting, self.waiting = self.waiting, deque()
        for d in waiting:
            d.errback(Unavailable(ENDED))


class _Adopt(Factory):
    """adoptStreamConnection's factory: hands over the one protocol."""

    def __init__(self, protocol: _Connection):
        self.connection = protocol

    def buildProtocol(self, addr: Any) -> _Connection:
        return self.connection


class DatabaseProcess:
    """The child process and the reactor's end of its socket.  ``call(method, *args)`` runs that Database
    method in the child and returns a Deferred of its answer; a call the child could not answer (it ended)
    fails with Unavailable, as does every call after."""

    def __init__(self, reactor: Any, path: str, synchronous: str, lock_fd: Optional[int] = None):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        argv = [sys.executable, "-c", _CHILD, _PACKAGE_ROOT, str(theirs.fileno()), path, synchronous]
        fds = [theirs.fileno()]
        if lock_fd is not None:
            argv.append(str(lock_fd))
            fds.append(lock_fd)
        try:
            self._process = subprocess.Popen(argv, pass_fds=fds, stdin=subprocess.DEVNULL)
        except OSError as e:
            ours.close()
            raise Unavailable(f"sqlite: cannot start the database process: {e}") from e
        finally:
            theirs.close()
        self._reactor = reactor
        self._connection = _Connection(reactor)
        reactor.adoptStreamConnection(ours.fileno(), socket.AF_UNIX, _Adopt(self._connection))
        ours.close()    # the reactor's transport has its own descriptor

    def call(self, method: str, *args: Any) -> Deferred:
        connection = self._connection
        if connection.gone:
            return fail(Unavailable(ENDED))
        d: Deferred = Deferred()
        connection.waiting.append(d)
        connection.send((method, args))
        return d

    def stop(self) -> Deferred:
        """Let go of the socket, on which the child ends (at once after a "close" call); fires once it has
        ended, killed if it has not within STOP_TIMEOUT seconds."""
        connection = self._connection
        connection.stopping = True
        if connection.transport is not None and not connection.gone:
            connection.transport.loseConnection()
        ended: Deferred = Deferred()
        deadline = self._reactor.seconds() + STOP_TIMEOUT

        def check() -> None:
            if self._process.poll() is not None:
                ended.callback(self._process.returncode)
                return
            if self._reactor.seconds() >= deadline:
                self._process.kill()
            self._reactor.callLater(0.005, check)

        check()
        return ended

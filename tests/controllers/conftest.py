"""
A Registry on a real SQLite store in a temporary directory, driven by turning
the global reactor by hand (as tests/storage does), for the controllers the
apiserver runs itself.
"""

from __future__ import annotations

import inspect
import time
from typing import Any, Callable

import pytest
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from kapiserver.registry.registry import Registry
from kapiserver.storage.sqlite import open_sqlite


def run(d: Any, timeout: float = 30.0) -> Any:
    """Turn the global reactor until ``d`` fires; its result, or raise its error."""
    if inspect.iscoroutine(d):
        d = Deferred.fromCoroutine(d)
    outcome: list = []
    d.addBoth(outcome.append)
    run_until(lambda: bool(outcome), timeout)
    if isinstance(outcome[0], Failure):
        outcome[0].raiseException()
    return outcome[0]


def reactor_threads() -> None:
    """Start the global reactor's thread pool (name resolution for the clients' connections runs there), which a
    reactor turned by hand never starts; work queued before waits for it.  Stopped when the session ends
    (tests/conftest.py), never before: a stopped pool cannot start again."""
    pool = reactor.getThreadPool()
    if not pool.started:
        pool.start()


def run_until(predicate: Callable[[], bool], timeout: float = 30.0, also: Callable[[], None] = None) -> None:
    """Turn the global reactor (and ``also``, each turn) until ``predicate()`` holds."""
    reactor_threads()
    deadline = time.monotonic() + timeout
    while True:
        reactor.runUntilCurrent()
        if also is not None:
            also()
        if predicate():
            return
        now = time.monotonic()
        if now > deadline:
            raise TimeoutError(f"condition not reached within {timeout}s")
        pending = reactor.timeout()
        reactor.doIteration(min(0.02, deadline - now, 0.02 if pending is None else pending))


def settle(seconds: float = 0.1) -> None:
    """Turn the reactor for a while, to show that something does not happen."""
    reactor_threads()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reactor.iterate(0.005)


# A wall-clock time for the controllers' Clock: leases and expiries are stamped in real dates.
START = 1_800_000_000.0


@pytest.fixture
def clock():
    """A task.Clock standing at START."""
    c = Clock()
    c.advance(START)
    return c


@pytest.fixture
def registry(tmp_path):
    storage = run(open_sqlite(str(tmp_path / "data"), reactor))
    registry = Registry(storage, reactor)
    yield registry
    registry.stop_watch_caches()
    run(storage.close())

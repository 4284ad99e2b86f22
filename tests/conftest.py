"""Hooks for the whole suite."""

import sys


def pytest_sessionfinish(session):
    """The global reactor's thread pool, which the hand-turned tests start (tests/controllers/conftest.py's
    reactor_threads), stops with the session (each xdist worker's): its threads would keep the process alive."""
    reactor = sys.modules.get("twisted.internet.reactor")
    pool = getattr(reactor, "threadpool", None)
    if pool is not None and pool.started:
        pool.stop()

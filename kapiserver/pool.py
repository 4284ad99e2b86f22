"""Work that must not hold the reactor thread (a scan of /proc, a schema's judgement, a document's encoding), run
in the reactor's thread pool."""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet.defer import Deferred, maybeDeferred


def in_pool(clock: Any, fn: Callable[..., Any], *args: Any) -> Deferred:
    """``fn(*args)`` in ``clock``'s thread pool, its answer (or failure) on the reactor thread; called at once, the
    Deferred already fired, where ``clock`` has no pool (a test's task.Clock)."""
    get_pool = getattr(clock, "getThreadPool", None)
    if get_pool is None:
        return maybeDeferred(fn, *args)
    from twisted.internet.threads import deferToThreadPool
    return deferToThreadPool(clock, get_pool(), fn, *args)

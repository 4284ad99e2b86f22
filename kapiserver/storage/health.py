"""One health check over several storages (the default and each --etcd-servers-overrides one)."""

from __future__ import annotations

from typing import Iterable

from twisted.internet.defer import Deferred, FirstError, gatherResults

from .interface import Storage

__all__ = ["check_all"]


def check_all(storages: Iterable[Storage]) -> Deferred[None]:
    """Fires with None when every storage is healthy; otherwise fails as the
    first failing one's check_health did."""
    def first_failure(failure):
        failure.trap(FirstError)
        return failure.value.subFailure
    d = gatherResults([storage.check_health() for storage in storages], consumeErrors=True)
    return d.addCallbacks(lambda _: None, first_failure)

"""A Registry on a real SQLite store (no watch cache) with the default namespace, for tests of the
generic Store driven by turning the global reactor (tests.controllers.conftest.run); and a Store on a
MemoryStorage and a task.Clock, whose calls are driven with ``result``."""

from __future__ import annotations

import pytest
from twisted.internet import reactor, task
from twisted.internet.defer import Deferred

from kapiserver.registry.registry import Registry
from kapiserver.storage.memory import MemoryStorage
from kapiserver.storage.sqlite import open_sqlite

from tests.controllers.conftest import run
from tests.watch.test_cacher import result as fired


@pytest.fixture
def store_registry(tmp_path):
    storage = run(open_sqlite(str(tmp_path / "data"), reactor))
    registry = Registry(storage, reactor, watch_cache=False)
    run(registry.store("", "v1", "namespaces").create(
        None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}))
    yield registry
    run(storage.close())


def memory_store(resource: str, watch_cache: bool = False):
    """The Registry's Store of core ``resource`` on a MemoryStorage and a task.Clock; with ``watch_cache``,
    its cache started and filled."""
    clock = task.Clock()
    store = Registry(MemoryStorage(clock), clock, watch_cache=watch_cache).store("", "v1", resource)
    clock.advance(0)
    return store


def result(coro):
    """What ``coro`` returns (or the exception it raises), run with nothing it awaits pending."""
    return fired(Deferred.fromCoroutine(coro))


def defaulted_errors(kind: str, obj: dict, old=None, namespaced: bool = True) -> list:
    """core/v1 ``kind``'s validation errors (as text) of ``obj`` (an update from ``old``), both defaulted first as
    a request's body is (copies: the arguments are left as they are)."""
    import copy

    from kapiserver.registry.defaults import apply_defaults
    from kapiserver.registry.validation import validate
    obj = copy.deepcopy(obj)
    apply_defaults("", "v1", kind, obj)
    if old is not None:
        old = copy.deepcopy(old)
        apply_defaults("", "v1", kind, old)
    return [str(e) for e in validate("", "v1", kind, obj, old, namespaced)]


"""A Registry on a real SQLite store (no watch cache) with the default namespace, for tests of the
generic Store driven by turning the global reactor (tests.controllers.conftest.run)."""

from __future__ import annotations

import pytest
from twisted.internet import reactor

from kapiserver.registry.registry import Registry
from kapiserver.storage.sqlite import open_sqlite

from tests.controllers.conftest import run


@pytest.fixture
def store_registry(tmp_path):
    storage = run(open_sqlite(str(tmp_path / "data"), reactor))
    registry = Registry(storage, reactor, watch_cache=False)
    run(registry.store("", "v1", "namespaces").create(
        None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}))
    yield registry
    run(storage.close())

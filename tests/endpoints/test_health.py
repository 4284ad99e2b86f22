"""/healthz, /livez and /readyz name upstream's checks in upstream's order, the storage's among them."""

from __future__ import annotations

import pytest
from treq.testing import StubTreq
from twisted.internet import reactor
from twisted.internet.defer import fail

from kapiserver import runtime
from kapiserver.endpoints.api import APIContext
from kapiserver.endpoints.root import APIRoot
from kapiserver.registry.registry import Registry
from kapiserver.storage import Unavailable
from kapiserver.storage.memory import MemoryStorage
from tests.controllers.conftest import run_until


@pytest.fixture
def served():
    storage = MemoryStorage(reactor)
    root = APIRoot(APIContext(Registry(storage, reactor, watch_cache=False), reactor, reactor))
    return storage, StubTreq(runtime.RuntimeLimits(root, reactor, request_timeout=60, metrics=root.context.metrics))


def get(client, path):
    responses, bodies = [], []
    client.get("http://k" + path).addCallback(responses.append)
    run_until(lambda: bool(responses), also=client.flush)
    client.content(responses[0]).addCallback(bodies.append)
    run_until(lambda: bool(bodies), also=client.flush)
    return responses[0].code, bodies[0].decode()


def checks(body):
    return [line[3:].split(" ")[0] for line in body.splitlines() if line.startswith(("[+]", "[-]"))]


def test_every_endpoint_checks_the_storage_and_readyz_its_readiness_too(served):
    """The storage's check is "etcd" on /healthz, /livez and /readyz, right after ping and log; /readyz runs it
    again as "etcd-readiness" after it, as upstream's two registrations do."""
    _, client = served
    for kind in ("healthz", "livez", "readyz"):
        code, body = get(client, f"/{kind}?verbose")
        assert code == 200, body
        assert checks(body)[:3] == ["ping", "log", "etcd"], body
        assert ("etcd-readiness" in checks(body)) == (kind == "readyz"), body
        assert body.endswith(f"{kind} check passed\n")
    assert checks(get(client, "/readyz?verbose")[1])[3] == "etcd-readiness"
    assert get(client, "/livez/etcd") == (200, "ok")
    assert get(client, "/readyz/etcd-readiness") == (200, "ok")
    assert get(client, "/livez/etcd-readiness")[0] == 404


def test_a_storage_that_fails_its_check_fails_every_endpoint(served, monkeypatch):
    """Storage unreachable (etcd down, the SQLite store's database process gone): /livez fails as /healthz and
    /readyz do, naming the check and withholding the reason; one look at the storage per request answers both
    of /readyz's storage checks."""
    storage, client = served
    asked = []
    monkeypatch.setattr(storage, "check_health", lambda: asked.append(1) or fail(Unavailable("gone")))
    for kind in ("healthz", "livez", "readyz"):
        asked.clear()
        code, body = get(client, f"/{kind}")
        assert code == 500, body
        assert "[-]etcd failed: reason withheld" in body and body.endswith(f"{kind} check failed\n")
        assert ("[-]etcd-readiness failed: reason withheld" in body) == (kind == "readyz")
        assert len(asked) == 1

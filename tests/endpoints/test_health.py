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


def get_with_headers(client, path):
    responses, bodies = [], []
    client.get("http://k" + path).addCallback(responses.append)
    run_until(lambda: bool(responses), also=client.flush)
    client.content(responses[0]).addCallback(bodies.append)
    run_until(lambda: bool(bodies), also=client.flush)
    return responses[0].code, responses[0].headers, bodies[0].decode()


def get(client, path):
    code, _, body = get_with_headers(client, path)
    return code, body


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


def test_exclude_skips_a_check_and_names_those_that_match_none(served, monkeypatch):
    """?exclude=<name> (repeatable) as upstream's handleRootHealth: an excluded check is not run, its line says
    "excluded: ok", so a failing storage excluded leaves the endpoint healthy; names matching no check are
    warned of, sorted and quoted."""
    storage, client = served
    asked = []
    monkeypatch.setattr(storage, "check_health", lambda: asked.append(1) or fail(Unavailable("gone")))
    code, body = get(client, "/livez?exclude=etcd&exclude=nope&exclude=alsonope")
    assert code == 200, body
    assert body == "ok"
    assert asked == []
    code, body = get(client, "/readyz?verbose&exclude=etcd&exclude=etcd-readiness&exclude=zz&exclude=aa")
    assert code == 200, body
    lines = body.splitlines()
    assert lines[:4] == ["[+]ping ok", "[+]log ok", "[+]etcd excluded: ok", "[+]etcd-readiness excluded: ok"]
    assert lines[-2:] == ['warn: some health checks cannot be excluded: no matches for "aa","zz"',
                          "readyz check passed"]
    code, body = get(client, "/healthz?exclude=ping")
    assert code == 500 and "[+]ping excluded: ok\n" in body and "[-]etcd failed: reason withheld" in body


def test_a_checks_own_path_answers_ok_or_its_reason(served, monkeypatch):
    """/<endpoint>/<check> is upstream's adaptCheckToHandler: "ok", or a 500 "internal server error: <reason>"
    (the reason given, unlike the root path); the root answer is plain text with nosniff."""
    storage, client = served
    code, headers, body = get_with_headers(client, "/healthz")
    assert (code, body) == (200, "ok")
    assert headers.getRawHeaders(b"X-Content-Type-Options") == [b"nosniff"]
    assert headers.getRawHeaders(b"Content-Type") == [b"text/plain; charset=utf-8"]
    monkeypatch.setattr(storage, "check_health", lambda: fail(Unavailable("the store is gone")))
    code, headers, body = get_with_headers(client, "/healthz/etcd")
    assert code == 500
    assert body == "internal server error: the store is gone\n"
    assert headers.getRawHeaders(b"X-Content-Type-Options") == [b"nosniff"]
    assert get(client, "/healthz/etcd?verbose")[1] == "internal server error: the store is gone\n"
    assert get(client, "/healthz/ping?verbose") == (200, "ok")


def test_unmatched_exclusions_are_quoted_as_go_quotes_them(served):
    """The warning quotes each name as Go's %q: non-ASCII kept, a control character as \\x01."""
    _, client = served
    code, body = get(client, "/livez?verbose&exclude=%C3%A9&exclude=%01")
    assert code == 200
    assert 'warn: some health checks cannot be excluded: no matches for "\\x01","é"\n' in body

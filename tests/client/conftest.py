"""A real kube-apiserver process (tests/e2e's fixture) and the client in this process, driven by turning the
global reactor by hand (tests/controllers/conftest.py's run and run_until)."""

import pytest

from kapiserver.client.rest import loopback_client
from tests.controllers.conftest import run, run_until  # noqa: F401
from tests.e2e.conftest import apiserver  # noqa: F401


@pytest.fixture(scope="session", autouse=True)
def resolver_threads():
    """Name resolution runs in the reactor's thread pool, which a reactor turned by hand never starts.  Stopped
    only when the session ends: a stopped pool cannot start again, and under pytest-xdist any test module may come
    after any other in a worker (a module-scoped copy of this stopped it for every module after its own)."""
    from twisted.internet import reactor
    pool = reactor.getThreadPool()
    if not pool.started:
        pool.start()
    yield
    if not pool.joined:
        pool.stop()


@pytest.fixture
def client(apiserver):  # noqa: F811
    client = loopback_client(apiserver.url, user_agent="kapiserver-tests")
    yield client
    run(client.close())

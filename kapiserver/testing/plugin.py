"""
The pytest plugin (entry point ``pytest11``: ``kapiserver = kapiserver.testing.plugin``).

Fixtures:

- ``kapiserver``: the session's server (kapiserver.testing.KapiServer: ``.url``, ``.kubeconfig``, ``.api``,
  ``.admin``, ``.inject(...)``, ``.reset()``), started on first use, once per session — once per worker
  under pytest-xdist, each worker a process of its own.  After each test that used it, the store is reset
  to the state the server had when it became ready, every open watch is ended and every fault rule
  dropped.  ``@pytest.mark.kapiserver_keep_state`` on a test, or ``--kapiserver-no-reset``, skips the reset.
- ``kapiserver_session``: the same server, without the reset (for session- or module-scoped fixtures).
- ``kapiserver_control_plane``: kube-controller-manager, kube-scheduler and ``--kapiserver-nodes`` simulated
  nodes beside the server (kapiserver.testing.controlplane), for operators that create Deployments.
- ``kapiserver_client``: an official ``kubernetes`` client (ApiClient) for the server, where that package is
  installed.

Options: ``--kapiserver-arg=FLAG`` (repeatable) adds a kube-apiserver flag; ``--kapiserver-no-reset``.
The server's log is ``kapiserver.log`` in the session's temporary directory; a test that fails shows its end.
"""

from __future__ import annotations

import pytest

from . import KapiServer

KEEP_STATE = "kapiserver_keep_state"


def pytest_addoption(parser):
    group = parser.getgroup("kapiserver", "kapiserver: a real kube-apiserver for tests")
    group.addoption("--kapiserver-arg", action="append", default=[], metavar="FLAG",
                    help="an extra kube-apiserver flag for the session's server (repeatable), "
                         "e.g. --kapiserver-arg=--storage-backend=sqlite")
    group.addoption("--kapiserver-nodes", type=int, default=1, metavar="N",
                    help="how many simulated nodes kapiserver_control_plane runs (default 1)")
    group.addoption("--kapiserver-no-reset", action="store_true", default=False,
                    help="do not reset the server's store between tests")


def pytest_configure(config):
    config.addinivalue_line("markers", f"{KEEP_STATE}: do not reset the kapiserver store after this test "
                                       "(the next test sees what this one left)")


def _worker(request) -> str:
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


@pytest.fixture(scope="session")
def kapiserver_session(request, tmp_path_factory):
    """The session's kube-apiserver (one per xdist worker), without a reset after each test."""
    directory = tmp_path_factory.mktemp(f"kapiserver-{_worker(request)}")
    server = KapiServer(directory, args=request.config.getoption("kapiserver_arg"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def kapiserver(request, kapiserver_session):
    """The session's kube-apiserver; after the test its store is as it was at start, its watches ended,
    its fault rules gone (unless the test is marked kapiserver_keep_state)."""
    yield kapiserver_session
    if request.node.get_closest_marker(KEEP_STATE) or request.config.getoption("kapiserver_no_reset"):
        return
    kapiserver_session.reset()


@pytest.fixture(scope="session")
def kapiserver_control_plane(request, kapiserver_session):
    """kube-controller-manager, kube-scheduler and simulated nodes (--kapiserver-nodes, default 1) beside the
    session's server, started on first use; the server's snapshot is retaken with the nodes in it.  A test asks
    for it with ``kapiserver``: ``def test_x(kapiserver, kapiserver_control_plane)``."""
    from .controlplane import ControlPlane
    kapiserver_session.reset()      # what the test before left goes before the new snapshot is taken
    plane = ControlPlane(kapiserver_session, nodes=request.config.getoption("kapiserver_nodes")).start()
    yield plane
    plane.stop()


@pytest.fixture
def kapiserver_client(kapiserver):
    """An official kubernetes ApiClient for the server (skipped where the kubernetes package is absent)."""
    client = pytest.importorskip("kubernetes.client")
    configuration = client.Configuration()
    configuration.host = kapiserver.url
    api_client = client.ApiClient(configuration)
    yield api_client
    api_client.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that used the server shows the end of the server's log."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when == "call":
        server = getattr(item, "funcargs", {}).get("kapiserver_session")
        if isinstance(server, KapiServer):
            report.sections.append(("kapiserver log (last lines)", server.log(2000)))

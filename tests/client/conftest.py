"""A real kube-apiserver process (tests/e2e's fixture) and the client in this process, driven by turning the
global reactor by hand (tests/controllers/conftest.py's run and run_until)."""

import pytest

from kapiserver.client.rest import loopback_client
from tests.controllers.conftest import run, run_until  # noqa: F401
from tests.e2e.conftest import apiserver  # noqa: F401


@pytest.fixture
def client(apiserver):  # noqa: F811
    client = loopback_client(apiserver.url, user_agent="kapiserver-tests")
    yield client
    run(client.close())

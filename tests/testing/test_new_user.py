"""A user's test suite with nothing but the plugin: ``def test_x(kapiserver)``, run by its own pytest process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.testing import plugin_args, user_env

SUITE = textwrap.dedent('''
    import pytest

    CM = "/api/v1/namespaces/default/configmaps"

    def make(kapiserver, name):
        kapiserver.api.post(CM, {"metadata": {"name": name}})

    def test_b_creates_the_same_configmap_as_a(kapiserver):
        make(kapiserver, "same")

    def test_a_creates_the_same_configmap_as_b(kapiserver):
        make(kapiserver, "same")

    @pytest.mark.kapiserver_keep_state
    def test_kept(kapiserver):
        make(kapiserver, "kept")

    def test_sees_what_the_kept_test_left(kapiserver):
        assert kapiserver.api.request("GET", CM + "/kept")[0] == 200

    def test_after_a_reset_it_is_gone(kapiserver):
        assert kapiserver.api.request("GET", CM + "/kept")[0] == 404
''')


# The twins again, the other way round, in a second file of the same run.
REVERSED = textwrap.dedent('''
    def test_a_first(kapiserver):
        kapiserver.api.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "same"}})

    def test_b_second(kapiserver):
        kapiserver.api.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "same"}})
''')


def run_suite(tmp_path, *args) -> subprocess.CompletedProcess:
    (tmp_path / "none.ini").write_text("[pytest]\n")
    (tmp_path / "test_user_suite.py").write_text(SUITE)
    (tmp_path / "test_user_suite_reversed.py").write_text(REVERSED)
    # The kapiserver under test (this checkout), whether or not it is the one installed.
    env = user_env()
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin_args(),
                           "--rootdir", str(tmp_path),
                           "-c", str(tmp_path / "none.ini"), *args, str(tmp_path)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)


def test_a_users_suite_needs_only_the_fixture(tmp_path):
    """Two tests creating the same object pass in either order; a kapiserver_keep_state test's objects
    reach the next test only, then the reset removes them."""
    result = run_suite(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 passed" in result.stdout


def test_without_the_reset_the_twins_collide(tmp_path):
    """--kapiserver-no-reset keeps every test's objects: the second twin's create is a 409 AlreadyExists
    (which is what proves the reset is what lets the twins pass)."""
    result = run_suite(tmp_path, "--kapiserver-no-reset", "test_user_suite.py", "-k", "same_configmap")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed, 1 passed" in result.stdout
    assert "409" in result.stdout


def test_the_entry_point_names_the_plugin():
    """The installed package registers kapiserver.testing.plugin under pytest11 (pyproject.toml's entry point),
    so an install brings the fixture."""
    import importlib
    from importlib.metadata import entry_points
    target = {point.name: point.value for point in entry_points(group="pytest11")}.get("kapiserver")
    assert target == "kapiserver.testing.plugin"
    assert hasattr(importlib.import_module(target), "kapiserver")

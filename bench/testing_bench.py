"""The pytest plugin's figures: fixture start, reset time, and an example suite's duration with the plugin (one
server, reset after each test) against the same suite with a fresh server per test.

    python bench/testing_bench.py [--tests 200] [--fresh-tests 20]

The fresh-server run is measured on --fresh-tests tests and scaled to --tests (a server start per test is
what it costs; on 2 shared cores 200 of them take minutes).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kapiserver.testing import KapiServer  # noqa: E402

# What an operator's test typically does: a namespace, a few objects, an update, a list, a delete.
SUITE = textwrap.dedent('''
    import pytest

    @pytest.mark.parametrize("n", range({tests}))
    def test_example(kapiserver, n):
        api = kapiserver.api
        api.post("/api/v1/namespaces", {{"metadata": {{"name": "example"}}}})
        base = "/api/v1/namespaces/example/configmaps"
        for i in range(3):
            api.post(base, {{"metadata": {{"name": f"cm-{{i}}"}}, "data": {{"n": str(n)}}}})
        api.patch(base + "/cm-0", {{"data": {{"n": "changed"}}}})
        assert len(api.get(base)["items"]) >= 3
        api.delete(base + "/cm-1")
''')

FRESH_CONFTEST = textwrap.dedent('''
    import pytest
    from kapiserver.testing import KapiServer

    @pytest.fixture
    def kapiserver(tmp_path):
        server = KapiServer(tmp_path).start()
        yield server
        server.stop()
''')


def _plugin_installed() -> bool:
    """Whether pytest loads the plugin by itself (kapiserver installed: its pytest11 entry point); naming it with
    -p as well would register it twice, which pytest refuses."""
    from importlib.metadata import entry_points
    return any(e.value.split(":")[0] == "kapiserver.testing.plugin" for e in entry_points(group="pytest11"))


def run_suite(directory: Path, tests: int, fresh: bool) -> float:
    directory.mkdir(parents=True)
    (directory / "test_example.py").write_text(SUITE.format(tests=tests))
    (directory / "pytest.ini").write_text("[pytest]\n")
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(directory)]
    if fresh:
        (directory / "conftest.py").write_text(FRESH_CONFTEST)
    elif not _plugin_installed():
        args[4:4] = ["-p", "kapiserver.testing.plugin"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    started = time.monotonic()
    result = subprocess.run(args, cwd=directory, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if result.returncode != 0 or not re.search(rf"\b{tests} passed", result.stdout):
        raise SystemExit(f"the suite failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--fresh-tests", type=int, default=20)
    parser.add_argument("--resets", type=int, default=50)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        server = KapiServer(tmp / "server").start()
        try:
            resets_empty, resets_after_writes = [], []
            for _ in range(options.resets):
                started = time.monotonic()
                server.reset()
                resets_empty.append(time.monotonic() - started)
            for n in range(options.resets):
                server.api.post("/api/v1/namespaces", {"metadata": {"name": "bench"}})
                for i in range(5):
                    server.api.post("/api/v1/namespaces/bench/configmaps", {"metadata": {"name": f"c{i}"}})
                started = time.monotonic()
                server.reset()
                resets_after_writes.append(time.monotonic() - started)
            start_time = server.started_in
        finally:
            server.stop()
        print(f"fixture start (process to snapshot): {start_time:.2f} s")
        print(f"reset, nothing changed:  median {statistics.median(resets_empty) * 1000:.1f} ms "
              f"(max {max(resets_empty) * 1000:.1f} ms), over HTTP")
        print(f"reset after 6 creates (+ the controllers' writes): median "
              f"{statistics.median(resets_after_writes) * 1000:.1f} ms (max {max(resets_after_writes) * 1000:.1f} ms)")
        plugin = run_suite(tmp / "plugin", options.tests, fresh=False)
        print(f"{options.tests}-test suite, one server + reset per test: {plugin:.1f} s")
        fresh = run_suite(tmp / "fresh", options.fresh_tests, fresh=True)
        scaled = fresh * options.tests / options.fresh_tests
        print(f"{options.fresh_tests}-test suite, a fresh server per test: {fresh:.1f} s "
              f"(scaled to {options.tests} tests: {scaled:.0f} s, {scaled / plugin:.0f}x)")


if __name__ == "__main__":
    main()

"""Graceful termination, as upstream's: on SIGTERM /readyz fails first (for --shutdown-delay-duration), while
requests are still served.  (That every acknowledged write then reaches the watchers before their streams end
is tests/reliability/test_restarts.py's.)"""

from __future__ import annotations

import signal
import time

from .conftest import APIServerProcess


def test_readyz_fails_during_the_shutdown_delay_while_requests_are_served(tmp_path):
    """With --shutdown-delay-duration, SIGTERM makes /readyz answer 500 with "[-]shutdown failed" while other
    requests are still served; then the process exits 0."""
    server = APIServerProcess(tmp_path / "data", args=("--shutdown-delay-duration=3s",)).start()
    try:
        status, text = server.request("GET", "/readyz?verbose")
        assert status == 200 and "[+]shutdown ok" in text
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status, text = server.request("GET", "/readyz")
            if status != 200:
                break
            time.sleep(0.02)
        assert status == 500 and "[-]shutdown failed: reason withheld" in text, text
        status, _ = server.request("GET", "/api/v1/namespaces/default")
        assert status == 200
        assert server.process.wait(60) == 0, server.log()
    finally:
        server.stop()

"""A full disk: writes fail with a 503 Status (never a 500, never a lost acknowledged write), and once space is
back the server writes again without a restart; a restart then finds every acknowledged write.  Runs on a small
tmpfs, so it needs root (mount); skipped otherwise."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from e2e.conftest import APIServerProcess

PATH = "/api/v1/namespaces/default/configmaps"


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a small tmpfs")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_full_disk_is_503_then_recovers_and_keeps_every_acknowledged_write(tmp_path, small_disk):
    """Creates fail with 503 once the data dir's file system is full; after space is freed creates succeed
    again, and after a restart every create answered 201 is there."""
    (small_disk / "data").mkdir()
    (tmp_path / "data").symlink_to(small_disk / "data")     # the server's log stays off the small disk
    server = APIServerProcess(tmp_path / "data").start()
    try:
        stat = os.statvfs(small_disk)
        filler = small_disk / "filler"
        with open(filler, "wb") as f:
            f.write(b"\0" * max(stat.f_bavail * stat.f_frsize - (3 << 20), 0))
        acknowledged = []
        status, body = None, None
        for i in range(200):
            status, body = server.request("POST", PATH, {"metadata": {"name": f"big-{i}"}, "data": {"v": "x" * 100_000}})
            if status != 201:
                break
            acknowledged.append(body["metadata"]["name"])
        assert status == 503, (status, body)
        assert body["kind"] == "Status" and body["reason"] == "ServiceUnavailable"
        filler.unlink()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, body = server.request("POST", PATH, {"metadata": {"name": "after"}, "data": {"v": "y"}})
            if status == 201:
                acknowledged.append("after")
                break
            time.sleep(0.2)
        assert status == 201, (status, body)
        server.stop()
        server.start()
        status, listed = server.request("GET", PATH)
        names = {item["metadata"]["name"] for item in listed["items"]}
        assert set(acknowledged) <= names
    finally:
        server.stop()

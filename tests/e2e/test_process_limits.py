"""One process per data dir, and the process's own limits: a second server on a data dir in use stops at once
with one clear line and a non-zero exit status; the open-files soft limit is raised to the hard limit."""

from __future__ import annotations

import resource
import subprocess
import sys

from .conftest import APIServerProcess, free_port


def _low_soft_open_files_limit():
    """In the child: a soft limit of 256 open files, below a higher hard limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))


def _open_files_limits(pid: int) -> tuple[str, str]:
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return soft, hard
    raise AssertionError("no open-files line in /proc/<pid>/limits")


def test_second_server_on_a_data_dir_in_use_exits_non_zero_with_one_line(tmp_path):
    """A second kapiserver on a data dir a first one serves exits with status 1 and a single line naming the
    data dir and the first one's pid, while the first keeps serving; and the first raised its open-files
    soft limit to the hard limit at start."""
    first = APIServerProcess(tmp_path / "data", preexec_fn=_low_soft_open_files_limit).start()
    try:
        soft, hard = _open_files_limits(first.process.pid)
        assert soft == hard, (soft, hard)
        second = subprocess.run(
            [sys.executable, "-m", "kapiserver", f"--insecure-port={free_port()}", "--secure-port=0",
             f"--data-dir={tmp_path / 'data'}", "--etcd-compaction-interval=0"],
            capture_output=True, text=True, timeout=60)
        assert second.returncode == 1, second.stderr
        lines = [line for line in second.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, second.stderr
        assert f"the data dir {tmp_path / 'data'} is in use by another kapiserver (pid {first.process.pid})" \
            in lines[0], lines
        status, _ = first.request("GET", "/api/v1/namespaces/default")
        assert status == 200
    finally:
        first.stop()

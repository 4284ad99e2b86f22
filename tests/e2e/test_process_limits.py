"""One process per data dir, and the process's own limits: a second server on a data dir in use stops at once
with one clear line and a non-zero exit status; the open-files soft limit is raised to the hard limit."""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys

import pytest

from kapiserver.listener import listen_backlog

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


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    server = APIServerProcess(tmp_path_factory.mktemp("limits") / "data", preexec_fn=_low_soft_open_files_limit)
    yield server.start()
    server.stop()


def test_open_files_soft_limit_raised_to_hard_limit(first):
    """Started with a soft open-files limit of 256 under a higher hard limit, the server raises it to the hard
    limit."""
    soft, hard = _open_files_limits(first.process.pid)
    assert soft == hard, (soft, hard)


@pytest.mark.skipif(not shutil.which("ss"), reason="needs ss (iproute2) to read a listening socket's backlog")
def test_listen_backlog_is_somaxconn(first):
    """The API port listens with the system's somaxconn as its backlog (ss shows it as the Send-Q of a
    listening socket), not Twisted's 50."""
    out = subprocess.run(["ss", "-ltnH", f"sport = :{first.port}"], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out and int(out[2]) == listen_backlog() > 50, out


def test_second_server_on_a_data_dir_in_use_exits_non_zero_with_one_line(first):
    """A second kapiserver on a data dir a first one serves exits with status 1 and a single line naming the
    data dir and the first one's pid, while the first keeps serving."""
    second = subprocess.run(
        [sys.executable, "-m", "kapiserver", f"--insecure-port={free_port()}", "--secure-port=0",
         f"--data-dir={first.data_dir}", "--etcd-compaction-interval=0"],
        capture_output=True, text=True, timeout=60)
    assert second.returncode == 1, second.stderr
    lines = [line for line in second.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, second.stderr
    assert f"the data dir {first.data_dir} is in use by another kapiserver (pid {first.process.pid})" \
        in lines[0], lines
    status, _ = first.request("GET", "/api/v1/namespaces/default")
    assert status == 200


def test_second_twistd_server_on_a_data_dir_in_use_exits_non_zero_with_one_line(first):
    """`twistd kube-apiserver` (as the README starts it) on a data dir in use: it stops before its reactor runs,
    with status 1 and one line naming the data dir and the first server's pid (twistd itself would exit 0)."""
    twistd = "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"
    second = subprocess.run(
        [sys.executable, "-c", twistd, "-n", "--pidfile=", "kube-apiserver", f"--insecure-port={free_port()}",
         "--secure-port=0", f"--data-dir={first.data_dir}", "--etcd-compaction-interval=0"],
        capture_output=True, text=True, timeout=60)
    assert second.returncode == 1, (second.stdout, second.stderr)
    lines = [line for line in second.stderr.splitlines() if line.strip()]
    assert lines == [f"kube-apiserver failed to start: the data dir {first.data_dir} is in use by another "
                     f"kapiserver (pid {first.process.pid})"], second.stderr
    status, _ = first.request("GET", "/api/v1/namespaces/default")
    assert status == 200


def test_twistd_server_whose_store_cannot_open_exits_non_zero(tmp_path):
    """A start that fails once the reactor runs (the store's file cannot be opened: a directory is in its
    place) ends `twistd -n kube-apiserver` with status 1, not twistd's 0, after the failure is logged."""
    (tmp_path / "kapiserver.db").mkdir()
    twistd = "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"
    result = subprocess.run(
        [sys.executable, "-c", twistd, "-n", "--pidfile=", "kube-apiserver", "--insecure-port=0",
         "--secure-port=0", f"--data-dir={tmp_path}", "--etcd-compaction-interval=0"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, (result.stdout[-2000:], result.stderr)
    assert "kube-apiserver failed to start" in result.stdout, result.stdout[-2000:]


def test_server_whose_serving_certificate_does_not_load_exits_with_one_line(tmp_path):
    """--tls-cert-file/--tls-private-key-file that are not PEM of their kind: status 1 and one line naming the files
    and why, then nothing more (no traceback, not one from a controller cut off as the store closes)."""
    bad = tmp_path / "bad.pem"
    bad.write_text("garbage\n")
    result = subprocess.run(
        [sys.executable, "-m", "kapiserver", "--insecure-port=0", f"--secure-port={free_port()}",
         f"--data-dir={tmp_path / 'data'}", f"--tls-cert-file={bad}", f"--tls-private-key-file={bad}"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if "#warn]" not in line]
    assert len(lines) == 1, result.stderr
    # Why, in cryptography's words (which its versions may change).
    assert f"kube-apiserver failed to start: failed to load serving certificate and key ({bad}, {bad}): " \
        in lines[0] and "PEM" in lines[0], lines


@pytest.mark.parametrize("plugin", ["kube-controller-manager", "kube-scheduler", "kube-node"])
def test_twistd_component_with_an_unreadable_kubeconfig_exits_with_one_line(plugin, tmp_path):
    """A component whose --kubeconfig cannot be read ends `twistd -n` at once with status 1 and one line
    naming the file, not a traceback."""
    twistd = "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"
    missing = tmp_path / "missing.kubeconfig"
    extra = [f"--root-dir={tmp_path / 'node'}"] if plugin == "kube-node" else []
    result = subprocess.run([sys.executable, "-c", twistd, "-n", "--pidfile=", plugin, f"--kubeconfig={missing}",
                             *extra], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, (result.stdout[-2000:], result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"{plugin}: cannot load --kubeconfig {missing}: "), result.stderr

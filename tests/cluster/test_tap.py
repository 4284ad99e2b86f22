"""kube-cluster's flags, and the daemons' command lines they turn into."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage

from kapiserver.cluster import pki, tap

from .test_supervisor import FakeSpawner

ROOT = Path(__file__).resolve().parent.parent.parent


def parse(*args):
    options = tap.Options()
    options.parseOptions(list(args))
    return options


def test_defaults():
    """One node, the apiserver on 6443, kubelets from 10250, ./kube-cluster-data made absolute."""
    options = parse()
    assert (options["nodes"], options["apiserver-port"], options["kubelet-port"]) == (1, 6443, 10250)
    assert options["data-dir"] == str(Path("kube-cluster-data").absolute())
    assert options["stop-timeout"] == 10.0


@pytest.mark.parametrize("args, message", [
    (["--nodes=-1"], "--nodes must be 0 or more"),
    (["--nodes=two"], 'invalid argument "two" for "--nodes" flag'),
    (["--apiserver-port=70000"], "--apiserver-port must be a port number"),
    (["--kubelet-port=65535", "--nodes=2"], "passes the last port number"),
    (["extra"], "does not take any arguments"),
])
def test_bad_flags_are_refused(args, message):
    """Each unusable value is a usage error naming its flag."""
    with pytest.raises(usage.UsageError, match=message):
        parse(*args)


def test_help_documents_every_flag():
    """`twistd kube-cluster --help` lists each of kube-cluster's flags with its help."""
    result = subprocess.run([sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "kube-cluster",
                             "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    for name in ["data-dir", "apiserver-port", "nodes", "kubelet-port", "stop-timeout", "kube-apiserver-arg",
                 "kube-controller-manager-arg", "kube-scheduler-arg", "kubelet-arg"]:
        assert f"--{name}=" in result.stdout
    assert "A whole local Kubernetes cluster" in result.stdout


def commands_for(tmp_path, *args):
    options = parse(f"--data-dir={tmp_path}", *args)
    files = pki.ensure_cluster_pki(tmp_path, tap.apiserver_url(options), tap.node_names(options["nodes"]))
    programs = {role: [role] for role in tap.PLUGINS}
    return {c.tag: c for c in tap.cluster_commands(options, files, programs)}, files


def test_each_daemon_gets_its_identity_and_the_cluster_files(tmp_path):
    """The apiserver serves TLS only, trusts the cluster CA for clients, authorizes with Node,RBAC and verifies
    tokens signed by sa.key; the controller manager, scheduler and nodes each get their own kubeconfig."""
    commands, files = commands_for(tmp_path, "--nodes=2", "--apiserver-port=7443", "--kubelet-port=20000")
    apiserver = commands["apiserver"].argv
    for flag in ["--secure-port=7443", "--insecure-port=0", f"--client-ca-file={files.ca_cert}",
                 "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction,TaintNodesByCondition",
                 "--embedded-controllers=",
                 f"--tls-cert-file={files.serving_cert}",
                 f"--service-account-key-file={files.sa_pub}", f"--service-account-signing-key-file={files.sa_key}",
                 f"--service-account-issuer={tap.SERVICE_ACCOUNT_ISSUER}", f"--data-dir={tmp_path / 'apiserver'}"]:
        assert flag in apiserver
    manager = commands["controller-manager"].argv
    for flag in [f"--kubeconfig={tmp_path / 'controller-manager.kubeconfig'}", f"--root-ca-file={files.ca_cert}",
                 f"--service-account-private-key-file={files.sa_key}", f"--cluster-signing-cert-file={files.ca_cert}",
                 f"--cluster-signing-key-file={files.ca_key}"]:
        assert flag in manager
    assert f"--kubeconfig={tmp_path / 'scheduler.kubeconfig'}" in commands["scheduler"].argv
    for i, name in enumerate(["node-1", "node-2"]):
        node = commands[name].argv
        assert node[0] == "node"
        for flag in [f"--kubeconfig={tmp_path / (name + '.kubeconfig')}", f"--node-name={name}",
                     f"--kubelet-port={20000 + i}", f"--root-dir={tmp_path / 'nodes' / name}"]:
            assert flag in node
    assert [(tag, c.stage) for tag, c in commands.items()] == [
        ("apiserver", 0), ("controller-manager", 1), ("scheduler", 2), ("node-1", 3), ("node-2", 3)]


def test_extra_args_go_last_to_their_daemon(tmp_path):
    """--kube-apiserver-arg and friends are appended, in order, to their daemon's flags (--kubelet-arg to every
    node's)."""
    commands, _ = commands_for(tmp_path, "--nodes=2", "--kube-apiserver-arg=--v=2",
                               "--kube-apiserver-arg=--event-ttl=5m", "--kubelet-arg=--sync-frequency=1",
                               "--kube-scheduler-arg=--x", "--kube-controller-manager-arg=--controllers=*")
    assert commands["apiserver"].argv[-2:] == ["--v=2", "--event-ttl=5m"]
    assert commands["node-1"].argv[-1] == commands["node-2"].argv[-1] == "--sync-frequency=1"
    assert commands["scheduler"].argv[-1] == "--x"
    assert commands["controller-manager"].argv[-1] == "--controllers=*"


def test_children_import_this_kapiserver():
    """The children's PYTHONPATH starts with the directory this kapiserver package is in."""
    import kapiserver
    env = tap.child_environment({"PYTHONPATH": "/elsewhere"})
    assert env["PYTHONPATH"].split(":") == [str(Path(kapiserver.__file__).resolve().parent.parent), "/elsewhere"]
    assert env["PYTHONUNBUFFERED"] == "1"


def test_make_service_writes_the_pki_and_starts_the_apiserver_first(tmp_path):
    """makeService writes the data dir's files; started, it tells the user the KUBECONFIG to export and spawns
    the apiserver alone (the rest wait for its /readyz)."""
    options = parse(f"--data-dir={tmp_path}")
    spawner, out = FakeSpawner(), io.StringIO()
    cluster = tap.makeService(options, MemoryReactorClock(), {role: [sys.executable, role] for role in tap.PLUGINS},
                              spawner, out)
    assert (tmp_path / "admin.kubeconfig").exists() and (tmp_path / "node-1.kubeconfig").exists()
    cluster.startService()
    assert f"export KUBECONFIG={tmp_path / 'admin.kubeconfig'}" in out.getvalue()
    assert spawner.started() == ["apiserver"]
    stopped = cluster.stopService()
    spawner.last("apiserver").exit(0)
    assert stopped.called


def test_one_data_dir_serves_one_cluster_at_a_time(tmp_path):
    """A second kube-cluster on a data dir in use exits naming the first's pid; once the first has stopped,
    or died, the directory is free again."""
    options = parse(f"--data-dir={tmp_path}")
    programs = {role: [sys.executable, role] for role in tap.PLUGINS}
    spawner = FakeSpawner()
    first = tap.makeService(options, MemoryReactorClock(), programs, spawner, io.StringIO())
    with pytest.raises(SystemExit, match=f"in use by another kube-cluster \\(pid {os.getpid()}\\)"):
        tap.makeService(options, MemoryReactorClock(), programs, FakeSpawner(), io.StringIO())
    first.startService()
    first.stopService()
    spawner.last("apiserver").exit(0)
    tap.makeService(options, MemoryReactorClock(), programs, FakeSpawner(), io.StringIO()).lock.unlock()
    os.symlink("999999999", tmp_path / tap.LOCK)      # a kube-cluster that died holding it
    tap.makeService(options, MemoryReactorClock(), programs, FakeSpawner(), io.StringIO()).lock.unlock()

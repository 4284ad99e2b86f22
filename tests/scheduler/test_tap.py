"""`twistd kube-scheduler`: its flags, and the daemon as a process scheduling a pod with its Lease held."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from twisted.python import usage

from kapiserver.scheduler.tap import Options
from tests.conformance.support import wait_for
from tests.e2e.conftest import apiserver, stop_process  # noqa: F401
from tests.scheduler.conftest import fake_node, make_pod

ROOT = Path(__file__).resolve().parent.parent.parent


def parse(*args):
    options = Options()
    options.parseOptions(list(args))
    return options


def test_kubeconfig_is_required():
    """Without --kubeconfig the command refuses to start."""
    with pytest.raises(usage.UsageError, match="--kubeconfig is required"):
        parse()


def test_leader_election_flags():
    """Leader election is on by default with client-go's durations; the flags take Go durations and bools."""
    options = parse("--kubeconfig=k")
    assert options["leader-elect"] is True
    assert (options["leader-elect-lease-duration"], options["leader-elect-renew-deadline"],
            options["leader-elect-retry-period"]) == (15.0, 10.0, 2.0)
    assert options["leader-elect-resource-name"] == "kube-scheduler"
    options = parse("--kubeconfig=k", "--leader-elect=false", "--leader-elect-lease-duration=30s")
    assert options["leader-elect"] is False and options["leader-elect-lease-duration"] == 30.0
    with pytest.raises(usage.UsageError, match='invalid argument "maybe" for "--leader-elect" flag'):
        parse("--kubeconfig=k", "--leader-elect=maybe")


def test_config_file_profiles(tmp_path):
    """--config names the profiles' schedulerNames; its leaderElection applies unless a flag overrides it."""
    config = tmp_path / "config.yaml"
    config.write_text("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
                      "leaderElection:\n  leaderElect: false\n  leaseDuration: 20s\n"
                      "profiles:\n- schedulerName: default-scheduler\n- schedulerName: batch\n")
    options = parse("--kubeconfig=k", f"--config={config}", "--leader-elect-lease-duration=25s")
    assert [p["schedulerName"] for p in options["profiles"]] == ["default-scheduler", "batch"]
    assert options["leader-elect"] is False and options["leader-elect-lease-duration"] == 25.0
    config.write_text("apiVersion: v1\nkind: ConfigMap\n")
    with pytest.raises(usage.UsageError, match="not a KubeSchedulerConfiguration"):
        parse("--kubeconfig=k", f"--config={config}")


def _wait(check, timeout=30.0):
    return wait_for(check, timeout=timeout, interval=0.1, what="the pod bound")


def test_twistd_kube_scheduler_binds_a_pod(apiserver, tmp_path):  # noqa: F811
    """`twistd -n kube-scheduler --kubeconfig F` takes the kube-system/kube-scheduler Lease and binds a pod."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "k",
        "clusters": [{"name": "k", "cluster": {"server": apiserver.url}}],
        "contexts": [{"name": "k", "context": {"cluster": "k", "user": "u"}}],
        "users": [{"name": "u", "user": {}}]}))
    status, _ = apiserver.request("POST", "/api/v1/nodes", fake_node("tap-node"))
    assert status == 201
    log = open(tmp_path / "scheduler.log", "wb")
    twistd = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]
    process = subprocess.Popen([*twistd, "-n", "--pidfile=", "kube-scheduler",
                                f"--kubeconfig={kubeconfig}"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        status, _ = apiserver.request("POST", "/api/v1/namespaces/default/pods", make_pod("tap-pod", cpu="100m"))
        assert status == 201
        pod = _wait(lambda: (lambda p: p if p["spec"].get("nodeName") else None)(
            apiserver.request("GET", "/api/v1/namespaces/default/pods/tap-pod")[1]))
        assert pod["spec"]["nodeName"] == "tap-node"
        status, lease = apiserver.request("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"
                                                 "kube-scheduler")
        assert status == 200 and lease["spec"]["holderIdentity"]
    finally:
        stop_process(process)
        log.close()
    # twistd ends a SIGTERM'd run by re-raising the signal on itself, after a clean shutdown.
    assert process.returncode in (0, -15), (tmp_path / "scheduler.log").read_text()[-3000:]

"""kube-controller-manager's secure port (kapiserver.healthserver): upstream's defaults, /healthz over HTTPS with
its checks, and a port already in use only a warning (the process tests are tests/scheduler/test_secure_port.py's)."""

from __future__ import annotations

from kapiserver.controllermanager.tap import Options
from tests.conformance.support import unique
from tests.e2e.conftest import apiserver  # noqa: F401
from tests.scheduler.test_secure_port import serves_healthz, survives_a_taken_port


def test_secure_serving_defaults():
    """Port 10257 on 0.0.0.0, /healthz,/readyz,/livez always allowed; --secure-port=0 turns it off."""
    options = Options()
    options.parseOptions(["--kubeconfig=k"])
    assert (options["secure-port"], options["bind-address"]) == (10257, "0.0.0.0")
    assert options["authorization-always-allow-paths"] == ["/healthz", "/readyz", "/livez"]
    options = Options()
    options.parseOptions(["--kubeconfig=k", "--secure-port=0"])
    assert options["secure-port"] == 0


def test_twistd_kube_controller_manager_serves_healthz(apiserver, tmp_path):  # noqa: F811
    """/healthz alone, as upstream's: a ping check per controller started (none for the CSR signer, skipped
    without its files) and leaderElection before them; /livez and /readyz are 404s."""
    serves_healthz("kube-controller-manager", apiserver, tmp_path, {
        "/healthz": "[+]leaderElection ok\n[+]ttl-controller ok\n[+]pod-garbage-collector-controller ok\n"
                    "healthz check passed\n",
        "/livez": None, "/readyz": None, "/healthz/leaderElection": None},
        "--controllers=ttl,podgc,csrsigning", f"--leader-elect-resource-name={unique('kube-controller-manager')}",
        "--authorization-always-allow-paths=/healthz,/healthz/*,/readyz,/livez")


def test_twistd_kube_controller_manager_survives_a_taken_port(apiserver, tmp_path):  # noqa: F811
    survives_a_taken_port("kube-controller-manager", apiserver, tmp_path)

"""--enable-admission-plugins=ServiceAccount, through kubectl: a pod needs its service account to exist, and
gets the projected kube-api-access volume mounted where in-cluster clients look for the token."""

from __future__ import annotations

import json

import pytest

from .conftest import APIServerProcess, Kubectl, kubectl_binary


@pytest.fixture(scope="module")
def kc(tmp_path_factory):
    if not kubectl_binary():
        pytest.skip("kubectl is not installed on this machine")
    server = APIServerProcess(tmp_path_factory.mktemp("sa-admission") / "data",
                              args=("--enable-admission-plugins=ServiceAccount",)).start()
    try:
        yield Kubectl(kubectl_binary(), server, tmp_path_factory.mktemp("kubectl"))
    finally:
        server.stop()


# Each test has a namespace of its own (nothing here creates a namespace's default ServiceAccount), so
# either passes alone or in any order.

def test_a_pod_needs_its_service_account(kc):
    kc("create", "namespace", "sa-missing")
    refused = kc("run", "early", "-n", "sa-missing", "--image=busybox", check=False)
    assert refused.returncode != 0
    assert ('pods "early" is forbidden: error looking up service account sa-missing/default: '
            'serviceaccount "default" not found') in refused.stderr


def test_the_token_volume_is_mounted(kc):
    kc("create", "namespace", "sa-present")
    kc("create", "serviceaccount", "default", "-n", "sa-present")
    kc("run", "web", "-n", "sa-present", "--image=busybox", "--", "sleep", "3600")
    pod = json.loads(kc("get", "pod", "web", "-n", "sa-present", "-o", "json").stdout)
    volume, = [v for v in pod["spec"]["volumes"] if v["name"].startswith("kube-api-access-")]
    assert [list(source) for source in volume["projected"]["sources"]] == [
        ["serviceAccountToken"], ["configMap"], ["downwardAPI"]]
    assert pod["spec"]["containers"][0]["volumeMounts"] == [
        {"name": volume["name"], "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]
    assert pod["spec"]["serviceAccountName"] == "default"

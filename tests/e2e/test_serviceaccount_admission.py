"""ServiceAccount admission (on by default, as upstream), through kubectl: a pod needs its service account to
exist and gets the projected kube-api-access volume mounted where in-cluster clients look for the token; the
apiserver's embedded serviceaccount and root-ca-certificate-publisher controllers make each namespace's
`default` account and `kube-root-ca.crt`, so a new user never meets the refusal."""

from __future__ import annotations

import json
import time

import pytest

from .conftest import APIServerProcess, Kubectl, kubectl_binary


def _kubectl(tmp_path_factory, name, *args):
    if not kubectl_binary():
        pytest.skip("kubectl is not installed on this machine")
    server = APIServerProcess(tmp_path_factory.mktemp(name) / "data", args=args).start()
    return server, Kubectl(kubectl_binary(), server, tmp_path_factory.mktemp(f"{name}-kubectl"))


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
    """An apiserver with no embedded controllers: nothing makes the default accounts."""
    server, kc = _kubectl(tmp_path_factory, "sa-alone", "--embedded-controllers=")
    yield kc
    server.stop()


@pytest.fixture(scope="module")
def kc(tmp_path_factory):
    server, kc = _kubectl(tmp_path_factory, "sa-default")
    yield kc
    server.stop()


def test_a_pod_needs_its_service_account(alone):
    alone("create", "namespace", "sa-missing")
    refused = alone("run", "early", "-n", "sa-missing", "--image=busybox", check=False)
    assert refused.returncode != 0
    assert ('pods "early" is forbidden: error looking up service account sa-missing/default: '
            'serviceaccount "default" not found') in refused.stderr
    alone("create", "serviceaccount", "default", "-n", "sa-missing")
    alone("run", "early", "-n", "sa-missing", "--image=busybox")


def test_a_new_namespace_takes_pods_at_once_with_the_token_volume_mounted(kc):
    """A pod created right after its namespace is admitted (the plugin looks the default account up again
    while the controller makes it, as upstream's does) and mounts the token, the CA and the namespace."""
    kc("create", "namespace", "sa-present")
    kc("run", "web", "-n", "sa-present", "--image=busybox", "--", "sleep", "3600")
    pod = json.loads(kc("get", "pod", "web", "-n", "sa-present", "-o", "json").stdout)
    volume, = [v for v in pod["spec"]["volumes"] if v["name"].startswith("kube-api-access-")]
    assert [list(source) for source in volume["projected"]["sources"]] == [
        ["serviceAccountToken"], ["configMap"], ["downwardAPI"]]
    assert pod["spec"]["containers"][0]["volumeMounts"] == [
        {"name": volume["name"], "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]
    assert pod["spec"]["serviceAccountName"] == "default"
    deadline = time.monotonic() + 30
    while kc("get", "configmap", "kube-root-ca.crt", "-n", "sa-present", check=False).returncode != 0:
        assert time.monotonic() < deadline, "kube-root-ca.crt was not published"
        time.sleep(0.1)

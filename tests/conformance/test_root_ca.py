"""[sig-auth] "RootCA ConfigMap test" (test/e2e/auth/service_accounts.go): the root CA publisher, which the
apiserver here runs embedded (upstream: kube-controller-manager's root-ca-cert-publisher), keeps
kube-root-ca.crt in every namespace."""

from __future__ import annotations

import pytest

from tests.conformance.support import ok, wait_for
from tests.e2e.conftest import APIServerProcess, free_port

ROOT_CA = "kube-root-ca.crt"


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory):
    """A server with a secure port, as a cluster's is: its CA is what kube-root-ca.crt publishes (the other
    conformance modules' server serves plain HTTP only, and has no CA to publish)."""
    server = APIServerProcess(tmp_path_factory.mktemp("apiserver") / "data",
                              args=(f"--secure-port={free_port()}", "--bind-address=127.0.0.1")).start()
    yield server
    server.stop()


def test_rootca_configmap_test(apiserver, namespace):
    """RootCA ConfigMap test: kube-root-ca.crt MUST be created in a new namespace, recreated after it is
    deleted, and reconciled (ca.crt filled in again) after it is modified."""
    path = f"/api/v1/namespaces/{namespace}/configmaps/{ROOT_CA}"
    created = ok(apiserver.request("GET", path))
    assert created["data"]["ca.crt"].startswith("-----BEGIN CERTIFICATE-----")

    ok(apiserver.request("DELETE", path, {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}))
    wait_for(lambda: apiserver.request("GET", path)[0] == 200, what="the root CA configmap recreated")

    # upstream's unconditional update (no resourceVersion) emptying ca.crt
    ok(apiserver.request("PUT", path, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ROOT_CA},
                                       "data": {"ca.crt": ""}}))

    def reconciled():
        status, body = apiserver.request("GET", path)
        return status == 200 and body.get("data", {}).get("ca.crt", "") != ""
    wait_for(reconciled, what="the root CA configmap reconciled")

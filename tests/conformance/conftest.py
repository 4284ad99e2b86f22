"""Our own tests of upstream's conformance entries (test/conformance/testdata/conformance.yaml in
kubernetes/kubernetes), each named by the entry's testname, against a real server process as the e2e
test drives it: the e2e tests' fixtures (a server per module, kubectl, the official Python client)."""

import pytest

from tests.conformance.support import ok, unique, wait_for
from tests.e2e.conftest import apiserver, k8s, kubectl  # noqa: F401  (fixtures)


@pytest.fixture
def namespace(apiserver):  # noqa: F811 (the fixture imported above)
    """A namespace of its own for the test (the e2e framework gives every test one), deleted afterwards; as
    the framework does, the test starts once the namespace has its `default` ServiceAccount and its
    kube-root-ca.crt (made by the apiserver's embedded controllers)."""
    name = unique("e2e")
    ok(apiserver.request("POST", "/api/v1/namespaces",
                         {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    for path in (f"/api/v1/namespaces/{name}/serviceaccounts/default",
                 f"/api/v1/namespaces/{name}/configmaps/kube-root-ca.crt"):
        wait_for(lambda: apiserver.request("GET", path)[0] == 200, what=path)
    yield name
    apiserver.request("DELETE", f"/api/v1/namespaces/{name}")

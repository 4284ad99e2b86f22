"""Our own tests of upstream's conformance entries (test/conformance/testdata/conformance.yaml in
kubernetes/kubernetes), each named by the entry's testname, against a real server process as the e2e
test drives it: the e2e tests' fixtures (a server per module, kubectl, the official Python client)."""

from tests.e2e.conftest import apiserver, k8s, kubectl  # noqa: F401  (fixtures)

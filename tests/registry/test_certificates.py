"""The CertificateSigningRequest strategy through the generic Store: what a create, an update of the object and
its /status and /approval writes keep of the request (upstream's pkg/registry/certificates/certificates)."""

from __future__ import annotations

from tests.controllers.conftest import run
from tests.registry.test_csr_validation import csr, csrs  # noqa: F401 (csrs is a fixture)


def update(store, subresource: str, change):
    """The object as written by an update through ``subresource`` ("" for the object) after ``change(obj)``."""
    def mutate(old):
        change(old)
        return old
    return run(store.update(None, "req", mutate, subresource=subresource))[0]


def respec(obj):
    obj["spec"].update(usages=["server auth"], expirationSeconds=7200, signerName="example.com/other",
                       request=csr("other")["spec"]["request"])


def test_an_update_of_the_object_keeps_the_whole_spec(csrs):  # noqa: F811
    """A PUT or patch of the CSR changes its metadata only: usages, expirationSeconds, signerName and the request
    stay as created, as upstream's PrepareForUpdate copies the old spec over the new."""
    before = run(csrs.get(None, "req"))

    def relabel_and_respec(obj):
        respec(obj)
        obj["metadata"]["labels"] = {"changed": "yes"}
    written = update(csrs, "", relabel_and_respec)
    assert written["spec"] == before["spec"]
    assert written["metadata"]["labels"] == {"changed": "yes"}


def test_status_and_approval_writes_keep_the_spec(csrs):  # noqa: F811
    """Neither /status nor /approval changes the spec they are sent with."""
    before = run(csrs.get(None, "req"))
    for subresource in ("status", "approval"):
        assert update(csrs, subresource, respec)["spec"] == before["spec"], subresource
    assert run(csrs.get(None, "req"))["spec"]["usages"] == before["spec"]["usages"] == ["digital signature"]

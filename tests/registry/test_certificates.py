"""The CertificateSigningRequest strategy through the generic Store: what a create, an update of the object and
its /status and /approval writes keep of the request (upstream's pkg/registry/certificates/certificates)."""

from __future__ import annotations

from tests.controllers.conftest import run
from tests.registry.test_csr_validation import b64, certificate_pem, csr, csrs  # noqa: F401 (csrs is a fixture)


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


def test_spec_status_and_conditions_are_written_in_go_field_order(store_registry):
    """The JSON written back has Go's struct order whatever the request's: spec request, signerName,
    expirationSeconds, usages, then the requester; status conditions before certificate; a condition's type,
    status, reason, message, lastUpdateTime, lastTransitionTime."""
    store = store_registry.store("certificates.k8s.io", "v1", "certificatesigningrequests")
    body = csr()
    spec = body["spec"]
    body["spec"] = {"usages": spec["usages"], "expirationSeconds": 3600, "signerName": spec["signerName"],
                    "request": spec["request"]}
    created = run(store.create(None, body))
    assert list(created["spec"]) == ["request", "signerName", "expirationSeconds", "usages"]
    scrambled = {"message": "ok", "reason": "ByHand", "status": "True", "type": "Approved"}
    approved = update(store, "approval", lambda obj: obj.update(status={"conditions": [scrambled]}))
    assert list(approved["status"]["conditions"][0]) == [
        "type", "status", "reason", "message", "lastUpdateTime", "lastTransitionTime"]
    pem = b64(certificate_pem())
    issued = update(store, "status", lambda obj: obj.update(
        status={"certificate": pem, "conditions": obj["status"]["conditions"]}))
    assert list(issued["status"]) == ["conditions", "certificate"]

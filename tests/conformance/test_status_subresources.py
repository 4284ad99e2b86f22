"""Writes through /status and /approval change what upstream's status strategies let them change: the
status and the object's labels and annotations (the spec stays), while a few kinds keep some of the old
metadata as upstream's strategies do.  Parts of the conformance entries "Namespace, apply changes to a
namespace status", "Service, complete a service status lifecycle" (its annotation patch through
/status), "Ingress API", "CronJob API", "Job, apply changes to status", "CertificateSigningRequest API"
and "Pod, patch a pod status"."""

from __future__ import annotations

import pytest

from tests.conformance.support import MERGE

OBJECTS = {
    "namespaces": ("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                          "metadata": {"name": "status-ns"}}),
    "services": ("/api/v1/namespaces/default/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "status-svc"},
        "spec": {"ports": [{"port": 80}]}}),
    "pods": ("/api/v1/namespaces/default/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "status-pod"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
    "ingresses": ("/apis/networking.k8s.io/v1/namespaces/default/ingresses", {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "status-ing"},
        "spec": {"defaultBackend": {"service": {"name": "x", "port": {"number": 80}}}}}),
    "jobs": ("/apis/batch/v1/namespaces/default/jobs", {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "status-job"},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
                                       "containers": [{"name": "c", "image": "busybox"}]}}}}),
    "cronjobs": ("/apis/batch/v1/namespaces/default/cronjobs", {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "status-cj"},
        "spec": {"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}}}),
}


def csr_request(name: str) -> str:
    """A PEM certificate signing request for CN=name, base64-encoded as the API carries it."""
    import base64

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])).sign(ec.generate_private_key(ec.SECP256R1()),
                                                                          hashes.SHA256())
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


@pytest.mark.parametrize("resource", sorted(OBJECTS))
def test_status_patch_keeps_annotation_changes(apiserver, resource):
    """A merge patch of metadata.annotations through /status is kept; a spec change through it is not."""
    collection, body = OBJECTS[resource]
    status, created = apiserver.request("POST", collection, body)
    assert status == 201, created
    url = f"{collection}/{body['metadata']['name']}/status"
    status, patched = apiserver.request("PATCH", url, {"metadata": {"annotations": {"patched": "true"}},
                                                       "spec": {"bogus": "dropped"}}, headers=MERGE)
    assert status == 200, patched
    assert patched["metadata"]["annotations"] == {"patched": "true"}
    assert "bogus" not in (patched.get("spec") or {})
    status, got = apiserver.request("GET", f"{collection}/{body['metadata']['name']}")
    assert got["metadata"]["annotations"] == {"patched": "true"}


def test_deployment_status_keeps_its_labels(apiserver):
    """Upstream's deployment status strategy keeps the old labels (and takes annotations)."""
    collection = "/apis/apps/v1/namespaces/default/deployments"
    status, _ = apiserver.request("POST", collection, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "status-dep", "labels": {"a": "1"}},
        "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {
            "metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
    assert status == 201
    status, patched = apiserver.request("PATCH", collection + "/status-dep/status", {
        "metadata": {"labels": {"a": "2"}, "annotations": {"x": "y"}}}, headers=MERGE)
    assert status == 200
    assert patched["metadata"]["labels"] == {"a": "1"} and patched["metadata"]["annotations"] == {"x": "y"}


def test_certificate_signing_request_approval_keeps_annotation_changes(apiserver):
    """A patch through /approval takes the Approved condition and the metadata change."""
    collection = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
    status, created = apiserver.request("POST", collection, {
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": "status-csr"},
        "spec": {"request": csr_request("status-csr"), "signerName": "example.com/signer", "usages": ["digital signature"]}})
    assert status == 201, created
    status, patched = apiserver.request("PATCH", collection + "/status-csr/approval", {
        "metadata": {"annotations": {"approved-by": "test"}},
        "status": {"conditions": [{"type": "Approved", "status": "True", "reason": "Test", "message": "ok"}]}},
        headers=MERGE)
    assert status == 200, patched
    assert patched["metadata"]["annotations"] == {"approved-by": "test"}
    assert [c["type"] for c in patched["status"]["conditions"]] == ["Approved"]

"""CertificateSigningRequests through the generic Store, as upstream's strategies and
validateCertificateSigningRequestUpdate treat them: /status writes the certificate (PEM CERTIFICATE blocks,
once) and keeps the Approved and Denied conditions it was given as they were; /approval writes those
conditions, never both, never taking one away."""

from __future__ import annotations

import base64
import datetime

import pytest

from kapiserver.machinery.errors import StatusError
from kapiserver.registry.validation import validate

from tests.controllers.conftest import run

GROUP = "certificates.k8s.io"
APPROVED = {"type": "Approved", "status": "True", "reason": "Test"}
DENIED = {"type": "Denied", "status": "True", "reason": "Test"}


def csr_request(name: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    request = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])).sign(ec.generate_private_key(ec.SECP256R1()),
                                                                          hashes.SHA256())
    return base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode()


def certificate_pem() -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signed")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(
        key.public_key()).serial_number(1).not_valid_before(now).not_valid_after(
        now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())
    return certificate.public_bytes(serialization.Encoding.PEM)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def csr(name="req", **spec):
    return {"apiVersion": f"{GROUP}/v1", "kind": "CertificateSigningRequest", "metadata": {"name": name},
            "spec": {"request": csr_request(name), "signerName": "example.com/signer",
                     "usages": ["digital signature"], **spec}}


@pytest.fixture
def csrs(store_registry):
    store = store_registry.store(GROUP, "v1", "certificatesigningrequests")
    run(store.create(None, csr()))
    return store


def write(store, subresource, status):
    """A write of ``status`` through ``subresource`` (status or approval, or "" for the object)."""
    def update(old):
        old["status"] = status
        return old
    return run(store.update(None, "req", update, subresource=subresource))[0]


def refused(store, subresource, status) -> str:
    with pytest.raises(StatusError) as e:
        write(store, subresource, status)
    assert e.value.code == 422 and e.value.reason == "Invalid"
    return e.value.message


def test_status_may_not_add_an_approval_condition(csrs):
    """Only /approval adds Approved or Denied; /status is told so."""
    assert refused(csrs, "status", {"conditions": [APPROVED]}) == (
        f'CertificateSigningRequest.{GROUP} "req" is invalid: status.conditions: Forbidden: updates may not add a '
        'condition of type "Approved"')
    assert "Denied" in refused(csrs, "status", {"conditions": [DENIED]})
    assert [c["type"] for c in write(csrs, "approval", {"conditions": [APPROVED]})["status"]["conditions"]] == [
        "Approved"]


def test_status_keeps_the_approval_conditions_it_was_given(csrs):
    """A /status write with as many Approved conditions as before gets the old ones back (preserveConditionInstances);
    its other conditions are its own."""
    approved = write(csrs, "approval", {"conditions": [APPROVED]})["status"]["conditions"][0]
    changed = dict(APPROVED, reason="Changed", message="by /status")
    written = write(csrs, "status", {"conditions": [{"type": "Failed", "status": "True"}, changed]})
    assert written["status"]["conditions"][1] == approved
    assert written["status"]["conditions"][0]["type"] == "Failed"


def test_approval_may_not_remove_a_condition_nor_both_approve_and_deny(csrs):
    write(csrs, "approval", {"conditions": [APPROVED]})
    assert refused(csrs, "approval", {"conditions": []}).endswith(
        'status.conditions: Forbidden: updates may not remove a condition of type "Approved"')
    assert refused(csrs, "approval", {"conditions": [APPROVED, DENIED]}).endswith(
        'status.conditions[1].type: Invalid value: "Denied": Approved and Denied conditions are mutually exclusive')


def test_status_certificate_is_pem_certificates_and_set_once(csrs):
    """status.certificate holds CERTIFICATE PEM blocks, is written by /status only, and not rewritten."""
    assert refused(csrs, "status", {"certificate": "Zm9v"}).endswith(
        'status.certificate: Invalid value: "<certificate data>": must contain at least one CERTIFICATE PEM block')
    key = b64(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    assert refused(csrs, "status", {"certificate": key}).endswith(
        'only CERTIFICATE PEM blocks are allowed, found "PRIVATE KEY"')
    pem = certificate_pem()
    assert write(csrs, "status", {"certificate": b64(pem)})["status"]["certificate"] == b64(pem)
    assert refused(csrs, "status", {"certificate": b64(pem + pem)}).endswith(
        "status.certificate: Forbidden: updates may not modify existing certificate content")
    # an update of the object and /approval keep the stored status.certificate
    assert write(csrs, "approval", {"certificate": "Zm9v"})["status"]["certificate"] == b64(pem)


def test_update_rules_name_upstream_paths():
    """validateCertificateSigningRequestUpdate, driven directly: an update (not /status) may not set the
    certificate; only /approval may add the approval conditions; problems the stored CSR already had are
    tolerated."""
    old = csr()
    old["metadata"]["resourceVersion"], old["status"] = "1", {}
    new = dict(old, status={"certificate": b64(certificate_pem()), "conditions": [APPROVED]})
    messages = [str(e) for e in validate(GROUP, "v1", "CertificateSigningRequest", new, old, False)]
    assert messages == ['status.conditions: Forbidden: updates may not add a condition of type "Approved"',
                        "status.certificate: Forbidden: updates may not set certificate content"]
    both = dict(old, status={"conditions": [APPROVED, DENIED]})
    assert validate(GROUP, "v1", "CertificateSigningRequest", both, both, False) == []


def test_create_checks_usages_signer_and_expiration():
    obj = csr(usages=["digital signature", "bogus", "digital signature"], expirationSeconds=60,
              signerName="kubernetes.io/legacy-unknown")
    messages = [str(e) for e in validate(GROUP, "v1", "CertificateSigningRequest", obj, None, False)]
    assert messages[0].startswith('spec.usages[1]: Unsupported value: "bogus": supported values: "any", "cert sign"')
    assert messages[1:] == [
        'spec.usages[2]: Duplicate value: "digital signature"',
        'spec.signerName: Invalid value: "kubernetes.io/legacy-unknown": the legacy signerName is not allowed via '
        'this API version',
        "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds (10 minutes)"]


def signer_errors(signer: str) -> list:
    return [str(e) for e in validate(GROUP, "v1", "CertificateSigningRequest", csr(signerName=signer), None, False)]


def test_signer_name_is_a_domain_and_a_path_of_dns_names():
    """ValidateSignerName: one slash, a domain of two or more DNS labels before it, DNS subdomains after it, and
    571 bytes at most; each part names its first bad label."""
    assert signer_errors("example.com/my-signer.ns.name") == []
    assert signer_errors("foo/bar") == [
        'spec.signerName: Invalid value: "foo": should be a domain with at least two segments separated by dots']
    assert signer_errors("example.com/a/b") == [
        "spec.signerName: Invalid value: \"example.com/a/b\": must be a fully qualified domain and path of the form "
        "'example.com/signer-name'"]
    assert signer_errors("Example.com/x") == [
        'spec.signerName: Invalid value: "Example.com": validating label "Example": a lowercase RFC 1123 label must '
        "consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character "
        "(e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]
    assert signer_errors("example.com/") == [
        'spec.signerName: Invalid value: "": validating label "": a lowercase RFC 1123 subdomain must consist of '
        "lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]
    long_path = "example.com/" + "a" * 600
    assert signer_errors(long_path)[1:] == ["spec.signerName: Too long: may not be more than 571 bytes"]
    assert signer_errors("")[0] == "spec.signerName: Required value"


def request_errors(pem: bytes) -> list:
    obj = csr()
    obj["spec"]["request"] = b64(pem)
    return [str(e) for e in validate(GROUP, "v1", "CertificateSigningRequest", obj, None, False)]


def resigned(der: bytes) -> bytes:
    """``der`` as a PEM CERTIFICATE REQUEST block."""
    body = base64.encodebytes(der).decode()
    return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n".encode()


def test_request_must_parse_and_its_signature_verify():
    """certificates.ParseCSR and CheckSignature: the first PEM block is a CERTIFICATE REQUEST, its DER parses and
    its signature verifies with its own key; a header alone, an OpenSSL "NEW" block or a forged request is refused."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    pem = base64.b64decode(csr_request("me"))
    assert request_errors(pem) == []
    prefix = 'spec.request: Invalid value: []byte{...}: '
    der = x509.load_pem_x509_csr(pem).public_bytes(serialization.Encoding.DER)
    forged = der[:-3] + bytes([der[-3] ^ 1]) + der[-2:]
    assert request_errors(resigned(forged)) == [prefix + "x509: ECDSA verification failure"]
    rsa_csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "me")])).sign(
        rsa.generate_private_key(public_exponent=65537, key_size=2048), hashes.SHA256())
    rsa_der = rsa_csr.public_bytes(serialization.Encoding.DER)
    assert request_errors(resigned(rsa_der[:-1] + bytes([rsa_der[-1] ^ 1]))) == [
        prefix + "crypto/rsa: verification error"]
    assert request_errors(resigned(b"\x30\x03\x02\x01\x01")) == [prefix + "x509: malformed certificate request"]
    assert request_errors(pem.replace(b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST")) == [
        prefix + "PEM block type must be CERTIFICATE REQUEST"]
    key_first = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" + pem
    assert request_errors(key_first) == [prefix + "PEM block type must be CERTIFICATE REQUEST"]


def test_usages_are_required_without_a_detail():
    """No usages is a bare Required value, as 1.32's validateCertificateSigningRequest words it (the detail "usages
    must be provided" is older)."""
    assert [str(e) for e in validate(GROUP, "v1", "CertificateSigningRequest", csr(usages=[]), None, False)] == [
        "spec.usages: Required value"]


def test_a_dsa_request_is_refused_as_go_verifies_no_dsa_signature():
    """Go's CheckSignature has no DSA verifier: a DSA-signed request, however well signed, is refused."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import dsa
    from cryptography.x509.oid import NameOID
    request = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "me")])).sign(
        dsa.generate_private_key(key_size=2048), hashes.SHA256())
    assert request_errors(request.public_bytes(serialization.Encoding.PEM)) == [
        "spec.request: Invalid value: []byte{...}: x509: cannot verify signature: algorithm unimplemented"]

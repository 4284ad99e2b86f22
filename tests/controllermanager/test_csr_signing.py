"""The certificate the signing controller issues, laid out as Go's x509.CreateCertificate lays out upstream 1.32's
template (pkg/controller/certificates/authority: the request's parsed subject, the policy's key usages, no request
extensions but its names)."""

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID
from twisted.internet import task

from kapiserver.client.informer import SharedInformerFactory
from kapiserver.controllermanager.context import ControllerContext
from kapiserver.controllermanager.csr import CertificateAuthority, common_name
from kapiserver.controllermanager.csrsigning import CSRSigningController
from tests.controllermanager.conftest import run
from tests.controllermanager.test_csr import csr_object, request_pem

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def authority(curve) -> tuple:
    key = ec.generate_private_key(curve)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ca")])
    ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
          .serial_number(1).not_valid_before(NOW - datetime.timedelta(days=1))
          .not_valid_after(NOW + datetime.timedelta(days=365))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
          .sign(key, hashes.SHA384()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return ca, CertificateAuthority(ca.public_bytes(serialization.Encoding.PEM), pem)


def request(*attributes, names=()) -> x509.CertificateSigningRequest:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes]))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
    return builder.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())


def test_issued_certificate_is_laid_out_as_go_writes_it():
    """The subject is rebuilt as Go's pkix.Name writes it (organizations in one RDN before the common name, other
    attributes dropped, PrintableString where it can be); the extended key usages follow Go's order whatever the
    request's; the extensions come KeyUsage, ExtendedKeyUsage, BasicConstraints, AuthorityKeyIdentifier; the serial
    is 128 bits; a P-384 CA signs with SHA-384."""
    ca, signer = authority(ec.SECP384R1())
    csr = request((NameOID.COMMON_NAME, "jane"), (NameOID.ORGANIZATION_NAME, "devs"),
                  (NameOID.EMAIL_ADDRESS, "jane@example.com"), (NameOID.ORGANIZATION_NAME, "ops_team"))
    cert = x509.load_pem_x509_certificate(
        signer.sign(csr, ["client auth", "server auth", "digital signature"], 3600, NOW.timestamp()))
    cert.verify_directly_issued_by(ca)
    rdns = [[(a.oid, a.value, a._type) for a in rdn] for rdn in cert.subject.rdns]
    assert [sorted(rdn, key=lambda a: a[1]) for rdn in rdns] == [
        [(NameOID.ORGANIZATION_NAME, "devs", _ASN1Type.PrintableString),
         (NameOID.ORGANIZATION_NAME, "ops_team", _ASN1Type.UTF8String)],
        [(NameOID.COMMON_NAME, "jane", _ASN1Type.PrintableString)]]
    assert [e.oid for e in cert.extensions] == [ExtensionOID.KEY_USAGE, ExtensionOID.EXTENDED_KEY_USAGE,
                                                ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.AUTHORITY_KEY_IDENTIFIER]
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    assert 0 < cert.serial_number < 2 ** 128
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA384)


def test_names_are_critical_only_for_an_empty_subject_and_the_last_common_name_counts():
    """A request with names and no subject gets its SubjectAlternativeName marked critical (RFC 5280, as Go
    does); of two common names Go keeps the last, in the certificate and in the kubelet checks."""
    _, signer = authority(ec.SECP256R1())
    cert = x509.load_pem_x509_certificate(
        signer.sign(request(names=["svc.example"]), ["server auth"], 3600, NOW.timestamp()))
    assert len(cert.subject) == 0
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical
    twice = request((NameOID.COMMON_NAME, "first"), (NameOID.COMMON_NAME, "system:node:n1"))
    assert common_name(twice) == "system:node:n1"
    cert = x509.load_pem_x509_certificate(signer.sign(twice, ["client auth"], 3600, NOW.timestamp()))
    assert [a.value for a in cert.subject] == ["system:node:n1"]
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)


class InlinePool:
    """A thread pool stand-in running each job at once, recording its function."""

    def __init__(self):
        self.jobs: list = []

    def callInThreadWithCallback(self, on_result, fn, *args, **kwargs):
        self.jobs.append(fn)
        on_result(True, fn(*args, **kwargs))


class PooledClock(task.Clock):
    def __init__(self):
        super().__init__()
        self.pool = InlinePool()

    def getThreadPool(self):
        return self.pool

    def callFromThread(self, fn, *args, **kwargs):
        fn(*args, **kwargs)


class StatusWrites:
    def __init__(self):
        self.writes: list = []

    async def update(self, resource, body, namespace=None, subresource=None, **kwargs):
        self.writes.append((subresource, body))
        return body


def test_signing_is_done_in_the_thread_pool():
    """The CA's signature (CPU work, an RSA key's above all) is made in the reactor's thread pool, not on the
    reactor thread; the certificate is then written through /status."""
    clock = PooledClock()
    clock.advance(NOW.timestamp())
    _, signer = authority(ec.SECP256R1())
    client = StatusWrites()
    controller = CSRSigningController(ControllerContext(client, SharedInformerFactory(client, clock), clock, {}),
                                      {"kubernetes.io/kube-apiserver-client": signer})
    csr = csr_object("approved", "kubernetes.io/kube-apiserver-client", request_pem("jane", ["devs"]),
                     ["client auth"])
    csr["metadata"].update(uid="u", resourceVersion="1")
    csr["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "R"}]}
    controller.csrs.indexer.add(csr)
    run(controller.sync("approved"))
    assert clock.pool.jobs == [signer.sign]
    [(subresource, written)] = client.writes
    assert subresource == "status" and written["status"]["certificate"]


def test_each_signer_can_have_its_own_ca_and_a_signer_without_one_is_not_served(tmp_path):
    """upstream's per-signer files (--cluster-signing-kube-apiserver-client-cert-file...): a request is signed by
    its signer's own CA, and with per-signer files a signer given none is left alone; the shared and per-signer
    files exclude each other."""
    import pytest

    from kapiserver.controllermanager.csrsigning import BOTH_WAYS, signing_files, start_csr_signing_controller
    ca, signer = authority(ec.SECP256R1())
    (tmp_path / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ca.key").write_bytes(signer.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    options = {"cluster-signing-kube-apiserver-client-cert-file": str(tmp_path / "ca.crt"),
               "cluster-signing-kube-apiserver-client-key-file": str(tmp_path / "ca.key")}
    assert signing_files(options.get) == {"kubernetes.io/kube-apiserver-client": (str(tmp_path / "ca.crt"),
                                                                                  str(tmp_path / "ca.key"))}
    shared = {"cluster-signing-cert-file": "a", "cluster-signing-key-file": "b"}
    assert set(signing_files(shared.get)) == {"kubernetes.io/kube-apiserver-client",
                                              "kubernetes.io/kube-apiserver-client-kubelet",
                                              "kubernetes.io/kubelet-serving", "kubernetes.io/legacy-unknown"}
    with pytest.raises(ValueError, match=BOTH_WAYS):
        signing_files({**shared, **options}.get)
    with pytest.raises(ValueError, match="go together"):
        signing_files({"cluster-signing-legacy-unknown-cert-file": "c"}.get)
    assert signing_files({}.get) == {}

    clock = PooledClock()
    clock.advance(NOW.timestamp())
    client = StatusWrites()
    ctx = ControllerContext(client, SharedInformerFactory(client, clock), clock, options)
    controller = start_csr_signing_controller(ctx)
    assert list(controller.authorities) == ["kubernetes.io/kube-apiserver-client"]
    for name, signer_name, usages in (("client", "kubernetes.io/kube-apiserver-client", ["client auth"]),
                                      ("legacy", "kubernetes.io/legacy-unknown", ["client auth"])):
        csr = csr_object(name, signer_name, request_pem("jane", ["devs"]), usages)
        csr["metadata"].update(uid=name, resourceVersion="1")
        csr["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "R"}]}
        controller.csrs.indexer.add(csr)
        run(controller.sync(name))
    [(_, written)] = client.writes
    assert written["metadata"]["name"] == "client"
    import base64
    issued = x509.load_pem_x509_certificate(base64.b64decode(written["status"]["certificate"]))
    assert issued.issuer == ca.subject
    assert start_csr_signing_controller(ControllerContext(client, SharedInformerFactory(client, clock), clock,
                                                          {})).skipped

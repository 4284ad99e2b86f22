"""The certificates controllers: kubelet client requests auto-approved after a SubjectAccessReview; approved
requests to the kubernetes.io signers signed with the cluster CA (or failed with SignerValidationFailure); old
requests cleaned up."""

import base64
import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet import reactor

from kapiserver.client.resources import CERTIFICATE_SIGNING_REQUESTS as CSRS
from kapiserver.controllermanager.csr import (KUBE_APISERVER_CLIENT_KUBELET, signer_validation_error,
                                              validate_kubelet_client)
from kapiserver.controllermanager.csrapproving import recognized_permissions
from kapiserver.controllermanager.csrcleaner import expired
from kapiserver.controllermanager.manager import ControllerManager
from tests.conformance.support import unique
from tests.controllermanager.conftest import eventually, run


def request_pem(common_name, organizations=(), dns=()):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] +
                     [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations])
    builder = x509.CertificateSigningRequestBuilder().subject_name(name)
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def csr_object(name, signer, pem, usages, expiration=None):
    spec = {"request": base64.b64encode(pem).decode(), "signerName": signer, "usages": usages}
    if expiration:
        spec["expirationSeconds"] = expiration
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": name}, "spec": spec}


@pytest.fixture
def ca_files(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kapiserver-test-ca")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ca.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    return {"cluster_signing_cert_file": str(tmp_path / "ca.crt"),
            "cluster_signing_key_file": str(tmp_path / "ca.key"), "ca": cert}


def issued(client, name):
    data = run(client.get(CSRS, name)).get("status", {}).get("certificate")
    return x509.load_pem_x509_certificate(base64.b64decode(data)) if data else None


def conditions(client, name):
    return {c["type"]: c for c in run(client.get(CSRS, name)).get("status", {}).get("conditions") or []}


def test_kubelet_client_requests_are_recognized_and_validated():
    """A node client request is recognized for nodeclient (and selfnodeclient when its requester is the node);
    requests outside upstream's kubelet rules get upstream's error texts."""
    good = x509.load_pem_x509_csr(request_pem("system:node:n1", ["system:nodes"]))
    csr = {"spec": {"signerName": KUBE_APISERVER_CLIENT_KUBELET, "username": "system:node:n1",
                    "usages": ["digital signature", "client auth"]}}
    assert [p[0] for p in recognized_permissions(csr, good)] == ["selfnodeclient", "nodeclient"]
    csr["spec"]["username"] = "system:bootstrap:abcdef"
    assert [p[0] for p in recognized_permissions(csr, good)] == ["nodeclient"]
    assert validate_kubelet_client(good, ["client auth"]) == \
        "usages did not match [client auth digital signature key encipherment]"
    other = x509.load_pem_x509_csr(request_pem("system:node:n1", ["example"]))
    assert validate_kubelet_client(other, ["client auth"]) == "subject organization is not system:nodes"
    serving = x509.load_pem_x509_csr(request_pem("system:node:n1", ["system:nodes"]))
    assert signer_validation_error("kubernetes.io/kubelet-serving", serving,
                                   ["digital signature", "server auth"]) == "DNS or IP subjectAltName is required"
    assert signer_validation_error("kubernetes.io/kube-apiserver-client", serving, ["digital signature"]) == \
        "missing required usage for client certificate: client auth"


def test_cleaner_deadlines():
    """Denied after an hour, pending after a day, issued-and-approved after an hour, as upstream's cleaner."""
    created = "2024-01-01T00:00:00Z"
    base = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc).timestamp()
    pending = {"metadata": {"creationTimestamp": created}, "status": {}}
    assert expired(pending, base + 23 * 3600) is None and expired(pending, base + 25 * 3600)
    denied = {"metadata": {"creationTimestamp": created},
              "status": {"conditions": [{"type": "Denied", "status": "True", "lastUpdateTime": created}]}}
    assert expired(denied, base + 1800) is None and expired(denied, base + 3700)
    approved = {"metadata": {"creationTimestamp": created},
                "status": {"conditions": [{"type": "Approved", "status": "True", "lastUpdateTime": created}]}}
    assert expired(approved, base + 7200) is None     # approved, not issued: kept


def test_kubelet_client_request_is_approved_and_signed(controllers, client, ca_files):
    """A node's client request is AutoApproved (nodeclient) and signed: the certificate verifies against the CA,
    carries the request's CN and O, and lasts no longer than expirationSeconds."""
    controllers("certificatesigningrequest-approving-controller", "certificatesigningrequest-signing-controller",
                **{k: v for k, v in ca_files.items() if k != "ca"})
    name = unique("node-csr")
    run(client.create(CSRS, csr_object(name, KUBE_APISERVER_CLIENT_KUBELET,
                                       request_pem("system:node:worker-1", ["system:nodes"]),
                                       ["digital signature", "client auth"], expiration=600)))
    cert = eventually(lambda: issued(client, name))
    approved = conditions(client, name)["Approved"]
    assert (approved["reason"], approved["message"]) == (
        "AutoApproved", "Auto approving kubelet client certificate after SubjectAccessReview.")
    cert.verify_directly_issued_by(ca_files["ca"])
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:worker-1"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:nodes"
    lifetime = (cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert 0 < lifetime <= 600
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]


def test_kubectl_certificate_approve_then_signed_or_refused(controllers, client, kubectl, ca_files):
    """`kubectl certificate approve` on a kube-apiserver-client request gets it signed; one asking for server
    auth fails with SignerValidationFailure; other requests are not auto-approved."""
    controllers("certificatesigningrequest-approving-controller", "certificatesigningrequest-signing-controller",
                cluster_signing_duration=3600.0, **{k: v for k, v in ca_files.items() if k != "ca"})
    good, bad = unique("user-csr"), unique("bad-csr")
    run(client.create(CSRS, csr_object(good, "kubernetes.io/kube-apiserver-client",
                                       request_pem("jane", ["developers"]), ["digital signature", "client auth"])))
    run(client.create(CSRS, csr_object(bad, "kubernetes.io/kube-apiserver-client", request_pem("joe"),
                                       ["server auth"])))
    assert "Approved" not in conditions(client, good)
    kubectl("certificate", "approve", good, bad)
    cert = eventually(lambda: issued(client, good))
    cert.verify_directly_issued_by(ca_files["ca"])
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "developers"
    left = (cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert 3000 < left <= 3600     # --cluster-signing-duration, from now (NotBefore is backdated 5 minutes)
    failed = eventually(lambda: conditions(client, bad).get("Failed"))
    assert (failed["reason"], failed["message"]) == ("SignerValidationFailure",
                                                     "invalid usage for client certificate: server auth")
    assert issued(client, bad) is None
    shown = json.loads(kubectl("get", "csr", good, "-o", "json").stdout)
    assert shown["status"]["certificate"]


class ShiftedClock:
    """The reactor, with seconds() ``offset`` later: the cleaner sees the requests as old."""

    def __init__(self, offset):
        self.offset = offset

    def seconds(self):
        return reactor.seconds() + self.offset

    def __getattr__(self, name):
        return getattr(reactor, name)


def test_cleaner_deletes_old_denied_requests_and_keeps_pending_ones(client):
    """Seen two hours later, a denied request is deleted and a pending one is kept."""
    denied, pending = unique("denied-csr"), unique("pending-csr")
    for name in (denied, pending):
        run(client.create(CSRS, csr_object(name, "example.com/signer", request_pem("x"), ["client auth"])))
    csr = run(client.get(CSRS, denied))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    csr["status"] = {"conditions": [{"type": "Denied", "status": "True", "reason": "Nope", "lastUpdateTime": stamp}]}
    run(client.update(CSRS, csr, subresource="approval"))
    manager = ControllerManager(client, ShiftedClock(7200), ["certificatesigningrequest-cleaner-controller"])
    run(manager.start())
    try:
        eventually(lambda: denied not in [c["metadata"]["name"] for c in run(client.list(CSRS))["items"]])
        assert run(client.get(CSRS, pending))
    finally:
        manager.stop()


def test_signing_keeps_sans_and_sets_usages_and_validity():
    """A kubelet serving certificate keeps the request's DNS and IP names, carries server auth and the key usages
    asked for, starts 5 minutes back and lasts the duration (capped by the CA)."""
    import ipaddress

    from cryptography.hazmat.primitives.asymmetric import rsa

    from kapiserver.controllermanager.csr import CertificateAuthority
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ca")])
    now = datetime.datetime.now(datetime.timezone.utc)
    ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
          .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), True).sign(key, hashes.SHA256()))
    authority = CertificateAuthority(ca.public_bytes(serialization.Encoding.PEM),
                                     key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    node_key = ec.generate_private_key(ec.SECP256R1())
    request = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "system:node:n1"),
                                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes")]))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName("n1.example"),
                                                           x509.IPAddress(ipaddress.ip_address("10.0.0.7"))]), False)
               .sign(node_key, hashes.SHA256()))
    assert signer_validation_error("kubernetes.io/kubelet-serving", request,
                                   ["digital signature", "server auth"]) is None
    stamp = now.timestamp()
    cert = x509.load_pem_x509_certificate(authority.sign(request, ["digital signature", "server auth"], 30 * 86400,
                                                         stamp))
    cert.verify_directly_issued_by(ca)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["n1.example"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.7"]
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]
    assert abs(cert.not_valid_before_utc.timestamp() - (stamp - 300)) < 1
    assert cert.not_valid_after_utc == ca.not_valid_after_utc

"""CertificateApproval, CertificateSigning and CertificateSubjectRestriction."""

from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kapiserver.admission.certificates import CertificateApproval, CertificateSigning, CertificateSubjectRestriction
from kapiserver.auth.authz import ALLOW, NO_OPINION, Decision
from kapiserver.auth.user import UserInfo
from kapiserver.machinery.errors import StatusError

from .conftest import call, drive, store

CSRS = store("certificatesigningrequests", "CertificateSigningRequest", group="certificates.k8s.io",
             namespaced=False)
ALICE = UserInfo("alice", groups=["system:authenticated"])


class Grants:
    """An authorizer allowing exactly the (verb, signer name) pairs given, and recording what it was asked."""

    def __init__(self, *allowed):
        self.allowed = set(allowed)
        self.asked: list = []

    async def authorize(self, attributes):
        self.asked.append((attributes.verb, attributes.api_group, attributes.api_version, attributes.resource,
                           attributes.name))
        return Decision(ALLOW if (attributes.verb, attributes.name) in self.allowed else NO_OPINION)


def request(organizations=()) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.COMMON_NAME, "me")] + \
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names)).sign(key, hashes.SHA256())
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


def csr(signer="example.com/signer", status=None, organizations=()) -> dict:
    return {"metadata": {"name": "req"},
            "spec": {"signerName": signer, "request": request(organizations), "usages": ["client auth"]},
            "status": status or {}}


APPROVED = {"conditions": [{"type": "Approved", "status": "True", "reason": "R"}]}


def test_approval_needs_approve_on_the_signer():
    """Approving asks "approve" on signers/<name>, then on the domain's wildcard; without either it is a 403."""
    grants = Grants()
    with pytest.raises(StatusError) as info:
        drive(call(CertificateApproval(grants), "update", CSRS, csr(status=APPROVED), csr(), ALICE, "approval"))
    e = info.value
    assert (e.code, e.details) == (403, {"name": "req", "group": "certificates.k8s.io",
                                         "kind": "certificatesigningrequests"})
    assert e.message == 'certificatesigningrequests.certificates.k8s.io "req" is forbidden: user not permitted to ' \
                        'approve requests with signerName "example.com/signer"'
    assert grants.asked == [("approve", "certificates.k8s.io", "*", "signers", "example.com/signer"),
                            ("approve", "certificates.k8s.io", "*", "signers", "example.com/*")]
    drive(call(CertificateApproval(Grants(("approve", "example.com/*"))), "update", CSRS, csr(status=APPROVED),
               csr(), ALICE, "approval"))


def test_approval_plugin_ignores_other_writes():
    """Creates and updates not through /approval are not checked."""
    grants = Grants()
    drive(call(CertificateApproval(grants), "update", CSRS, csr(status=APPROVED), csr(), ALICE, "status"))
    drive(call(CertificateApproval(grants), "create", CSRS, csr(), None, ALICE))
    assert grants.asked == []


def test_signing_needs_sign_when_the_certificate_or_conditions_change():
    """A /status write changing the certificate needs "sign"; one changing neither passes unasked."""
    issued = {"certificate": base64.b64encode(b"pem").decode()}
    with pytest.raises(StatusError) as info:
        drive(call(CertificateSigning(Grants()), "update", CSRS, csr(status=issued), csr(), ALICE, "status"))
    assert info.value.message.endswith('user not permitted to sign requests with signerName "example.com/signer"')
    drive(call(CertificateSigning(Grants(("sign", "example.com/signer"))), "update", CSRS, csr(status=issued), csr(),
               ALICE, "status"))
    grants = Grants()
    drive(call(CertificateSigning(grants), "update", CSRS, csr(status=APPROVED), csr(status=APPROVED), ALICE,
               "status"))
    assert grants.asked == []


def test_without_an_authorizer_everything_is_allowed():
    """A server without authorization (no secure port) lets every user approve and sign."""
    drive(call(CertificateApproval(None), "update", CSRS, csr(status=APPROVED), csr(), ALICE, "approval"))


def test_system_masters_refused_for_the_apiserver_client_signer():
    """A kube-apiserver-client request for the system:masters group is a 403; other signers may ask for it."""
    plugin = CertificateSubjectRestriction()
    with pytest.raises(StatusError) as info:
        drive(call(plugin, "create", CSRS, csr("kubernetes.io/kube-apiserver-client",
                                               organizations=["devs", "system:masters"]), None, ALICE))
    assert info.value.message == 'certificatesigningrequests.certificates.k8s.io "req" is forbidden: use of ' \
                                 'kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed'
    drive(call(plugin, "create", CSRS, csr("kubernetes.io/kube-apiserver-client", organizations=["devs"]), None,
               ALICE))
    drive(call(plugin, "create", CSRS, csr(organizations=["system:masters"]), None, ALICE))

"""
The CertificateSigningRequest admission plugins, on by default as upstream's; each asks the authorizer about
the pseudo-resource ``signers`` of certificates.k8s.io, by the signerName and then by its domain wildcard
(``example.com/*``).

CertificateApproval: approving or denying (an update of /approval) needs the verb "approve" on the signer.
CertificateSigning: changing status.certificate or status.conditions (an update of /status) needs "sign".
CertificateSubjectRestriction: a request for kubernetes.io/kube-apiserver-client may not ask for the
system:masters group (an Organization of its subject).

Without an authorizer (a server with no secure port), every user may approve and sign.
"""

from __future__ import annotations

import base64
import binascii

from ..auth import authz
from ..registry.attributes import CREATE, UPDATE, Attributes
from .refusal import forbidden, is_resource

GROUP = "certificates.k8s.io"
KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
SYSTEM_MASTERS = "system:masters"


async def authorized_for_signer(authorizer, user, verb: str, signer_name: str) -> bool:
    """Whether ``user`` may ``verb`` the signer ``signer_name``, or every signer of its domain."""
    if authorizer is None:
        return True
    for name in (signer_name, signer_name.split("/")[0] + "/*"):
        try:
            decision = await authorizer.authorize(authz.Attributes(user, verb, True, "", GROUP, "*", "signers", "",
                                                                   name))
        except Exception:   # an authorizer that fails denies this attempt, as upstream logs and goes on
            continue
        if decision.allowed:
            return True
    return False


def _signer(obj) -> str:
    return str(((obj or {}).get("spec") or {}).get("signerName") or "")


class CertificateApproval:
    # The only (group, resource) pairs its admit and validate act on: the chain calls it for no other.
    admission_resources = frozenset({(GROUP, "certificatesigningrequests")})

    def __init__(self, authorizer):
        self.authorizer = authorizer

    async def validate(self, attributes: Attributes) -> None:
        if attributes.operation != UPDATE or not is_resource(attributes, GROUP, "certificatesigningrequests",
                                                             "approval"):
            return
        signer = _signer(attributes.object)
        if not await authorized_for_signer(self.authorizer, attributes.user_info, "approve", signer):
            raise forbidden(attributes, f'user not permitted to approve requests with signerName "{signer}"')


class CertificateSigning:
    # The only (group, resource) pairs its admit and validate act on: the chain calls it for no other.
    admission_resources = frozenset({(GROUP, "certificatesigningrequests")})

    def __init__(self, authorizer):
        self.authorizer = authorizer

    async def validate(self, attributes: Attributes) -> None:
        if attributes.operation != UPDATE or not is_resource(attributes, GROUP, "certificatesigningrequests",
                                                             "status"):
            return
        status = (attributes.object or {}).get("status") or {}
        old_status = (attributes.old_object or {}).get("status") or {}
        if status.get("certificate") == old_status.get("certificate") and \
                (status.get("conditions") or []) == (old_status.get("conditions") or []):
            return
        signer = _signer(attributes.old_object)
        if not await authorized_for_signer(self.authorizer, attributes.user_info, "sign", signer):
            raise forbidden(attributes, f'user not permitted to sign requests with signerName "{signer}"')


def subject_organizations(request: str) -> list[str]:
    """The Organization values of a base64 PEM CSR's subject; ValueError when it does not parse."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    try:
        pem = base64.b64decode(request or "", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("PEM block type must be CERTIFICATE REQUEST") from None
    try:
        csr = x509.load_pem_x509_csr(pem)
    except ValueError as e:
        raise ValueError(str(e)) from None
    return [str(a.value) for a in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]


class CertificateSubjectRestriction:
    # The only (group, resource) pairs its admit and validate act on: the chain calls it for no other.
    admission_resources = frozenset({(GROUP, "certificatesigningrequests")})

    async def validate(self, attributes: Attributes) -> None:
        if attributes.operation != CREATE or not is_resource(attributes, GROUP, "certificatesigningrequests"):
            return
        if _signer(attributes.object) != KUBE_APISERVER_CLIENT:
            return
        try:
            organizations = subject_organizations((attributes.object.get("spec") or {}).get("request"))
        except ValueError as e:
            raise forbidden(attributes, f"failed to parse CSR: {e}") from None
        if SYSTEM_MASTERS in organizations:
            raise forbidden(attributes, f"use of {KUBE_APISERVER_CLIENT} signer with {SYSTEM_MASTERS} group is not "
                                        f"allowed")

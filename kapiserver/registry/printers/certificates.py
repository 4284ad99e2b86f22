"""
The CertificateSigningRequest printer: NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION.
"""

from __future__ import annotations

from datetime import datetime

from . import _base as b

_SPEC = "certificates.v1.CertificateSigningRequestSpec"
_STATUS = "certificates.v1.CertificateSigningRequestStatus"


def csr_condition(csr: dict) -> str:
    """Denied, else Approved, else Pending; then ``,Failed`` and ``,Issued`` as they apply."""
    types = {c.get("type") for c in b.get(csr, "status.conditions", [])}
    status = "Denied" if "Denied" in types else "Approved" if "Approved" in types else "Pending"
    if "Failed" in types:
        status += ",Failed"
    if b.get(csr, "status.certificate"):
        status += ",Issued"
    return status


def _cells(csr: dict, now: datetime) -> list:
    spec = csr.get("spec") or {}
    expiration = spec.get("expirationSeconds")
    return [b.name(csr), b.age(csr, now), spec.get("signerName") or "<none>", spec.get("username", ""),
            "<none>" if expiration is None else b.human_duration(int(expiration)), csr_condition(csr)]


PRINTERS = {
    ("certificates.k8s.io", "certificatesigningrequests"): b.Printer(
        lambda: [b.name_column(), b.age_column(),
                 b.column("SignerName", "string", b.doc(_SPEC, "signerName")),
                 b.column("Requestor", "string", b.doc(_SPEC, "request")),
                 b.column("RequestedDuration", "string", b.doc(_SPEC, "expirationSeconds")),
                 b.column("Condition", "string", b.doc(_STATUS, "conditions"))],
        _cells),
}

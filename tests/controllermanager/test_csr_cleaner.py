"""certificatesigningrequest-cleaner-controller's rules against upstream 1.32's
pkg/controller/certificates/cleaner/cleaner.go: what makes a request old enough to delete."""

import base64
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kapiserver.controllermanager.csrcleaner import expired

CREATED = "2024-01-01T00:00:00Z"
BASE = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


def certificate_until(not_after: datetime.datetime) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "short")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(not_after - datetime.timedelta(minutes=20)).not_valid_after(not_after)
            .sign(key, hashes.SHA256()))
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()


def test_an_expired_certificate_counts_only_on_an_approved_request():
    """isIssuedExpired: an expired certificate deletes the request when it was approved; written on a request
    without an Approved condition it does not (the other rules decide)."""
    now = (BASE + datetime.timedelta(minutes=30)).timestamp()
    cert = certificate_until(BASE + datetime.timedelta(minutes=20))
    approved = {"metadata": {"creationTimestamp": CREATED}, "status": {"certificate": cert, "conditions": [
        {"type": "Approved", "status": "True", "lastUpdateTime": CREATED}]}}
    assert expired(approved, now) == "issued certificate has expired"
    unapproved = {"metadata": {"creationTimestamp": CREATED}, "status": {"certificate": cert, "conditions": [
        {"type": "Progress", "status": "True", "lastUpdateTime": CREATED}]}}
    assert expired(unapproved, now) is None


def test_a_condition_without_a_last_update_time_is_never_old():
    """isOlderThan of a zero lastUpdateTime is false: a Denied or Failed condition without one keeps its request
    however old its lastTransitionTime or the request's creation."""
    now = (BASE + datetime.timedelta(days=3)).timestamp()
    for kind in ("Denied", "Failed"):
        csr = {"metadata": {"creationTimestamp": CREATED}, "status": {"conditions": [
            {"type": kind, "status": "True", "lastTransitionTime": CREATED}]}}
        assert expired(csr, now) is None, kind
        csr["status"]["conditions"][0]["lastUpdateTime"] = CREATED
        assert expired(csr, now) == f"{kind.lower()} past deadline"

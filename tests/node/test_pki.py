"""The kubelet API's self-signed serving certificate (kapiserver/node/pki.py)."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from kapiserver.auth import certs
from kapiserver.node import pki


def test_the_serving_certificate_is_kept_and_one_without_its_authority_made_anew(tmp_path):
    """Made once and kept across restarts; it names its CA's key (X.509 strict verifiers refuse a certificate
    without that), and one written before it did is made again."""
    cert_file, key_file = pki.ensure_serving_certificate(str(tmp_path), "node-1", ["127.0.0.1"])
    leaf, ca = certs.load_certificates(cert_file)
    assert leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier == \
        ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    first = open(cert_file, "rb").read()
    assert pki.ensure_serving_certificate(str(tmp_path), "node-1", ["127.0.0.1"]) == (cert_file, key_file)
    assert open(cert_file, "rb").read() == first

    # A CA and certificate as an older start made them: no key identifiers.
    key = certs.new_key()
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "node-1")])
    old = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()) \
        .serial_number(1).not_valid_before(leaf.not_valid_before_utc).not_valid_after(leaf.not_valid_after_utc) \
        .sign(key, hashes.SHA256())
    with open(cert_file, "wb") as f:
        f.write(certs.cert_pem(old))
    pki.ensure_serving_certificate(str(tmp_path), "node-1", ["127.0.0.1"])
    assert certs.identifies_authority(certs.load_certificates(cert_file)[0])

"""A TLS certificate and its private key as Twisted's CertificateOptions takes them: cryptography's objects.

pyOpenSSL deprecates its own X509 and PKey objects in ``Context.use_certificate`` and ``use_privatekey`` (what
CertificateOptions calls with the certificate and key it is given), and Twisted's ``PrivateCertificate`` still
hands those over; loading the PEM with cryptography keeps every TLS context kapiserver makes off that path.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def certificate_options(cert_pem: bytes, key_pem: bytes) -> dict[str, Any]:
    """``certificate`` (the first certificate of ``cert_pem``), ``extraCertChain`` (the rest: intermediates,
    sent along as Go's tls.X509KeyPair sends them) and ``privateKey`` (the key of ``key_pem``, any PEM form:
    PKCS#1, SEC1, PKCS#8), as keyword arguments of CertificateOptions (or optionsForClientTLS's
    ``extraCertificateOptions``).  ValueError when either is not PEM of its kind."""
    chain = x509.load_pem_x509_certificates(cert_pem)
    return {"certificate": chain[0], "extraCertChain": chain[1:],
            "privateKey": serialization.load_pem_private_key(key_pem, password=None)}


def trust_root(ca_pem: bytes) -> Any:
    """Every certificate of a PEM bundle as one trust root for optionsForClientTLS, as client-go and etcd's
    client trust a CA file (two CAs while one is rotated out).  ValueError when it holds no certificate."""
    from twisted.internet import ssl
    return ssl.trustRootFromCertificates([ssl.Certificate.loadPEM(c.public_bytes(serialization.Encoding.PEM))
                                          for c in x509.load_pem_x509_certificates(ca_pem)])

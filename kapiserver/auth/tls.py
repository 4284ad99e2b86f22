"""
The secure listener's TLS settings: pyOpenSSL context options from
--tls-min-version and --tls-cipher-suites, asking for (not requiring) a client
certificate so x509 authentication can read it.
"""

from __future__ import annotations

import weakref

from OpenSSL import SSL
from twisted.internet import ssl

from . import certs

# Go's TLS version names (--tls-min-version) and the cipher suite names Go knows (--tls-cipher-suites),
# mapped to OpenSSL's.  TLS 1.3 suites are not configurable, in Go or here.
TLS_VERSIONS = {"VersionTLS10": ssl.TLSVersion.TLSv1_0, "VersionTLS11": ssl.TLSVersion.TLSv1_1,
                "VersionTLS12": ssl.TLSVersion.TLSv1_2, "VersionTLS13": ssl.TLSVersion.TLSv1_3}
CIPHER_SUITES = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
}


class ServingOptions(ssl.CertificateOptions):
    """CertificateOptions that request a client certificate but leave judging it to x509 authentication,
    as upstream's RequestClientCert does: a bad certificate is a 401, not a failed handshake."""

    def getContext(self):
        context = super().getContext()
        if not getattr(self, "_client_certs_requested", False):
            context.set_verify(SSL.VERIFY_PEER, lambda connection, cert, errno, depth, ok: True)
            context.set_session_id(b"kapiserver")
            self._client_certs_requested = True
        return context


def serving_options(cert_file: str, key_file: str, min_version: str = "", cipher_suites=()) -> ServingOptions:
    """TLS options for the secure port from PEM files (the certificate file may carry its chain)."""
    chain = certs.load_certificates(cert_file)     # ValueError without one
    key = certs.load_key(key_file)
    kwargs = {}
    if min_version:
        kwargs["raiseMinimumTo"] = TLS_VERSIONS[min_version]
    else:
        kwargs["raiseMinimumTo"] = ssl.TLSVersion.TLSv1_2
    if cipher_suites:
        kwargs["acceptableCiphers"] = ssl.AcceptableCiphers.fromOpenSSLCipherString(
            ":".join(CIPHER_SUITES[name] for name in cipher_suites))
    return ServingOptions(certificate=chain[0], privateKey=key, extraCertChain=chain[1:],
                          acceptableProtocols=[b"h2", b"http/1.1"], **kwargs)


def peer_certificate(request):
    """The client's certificate (cryptography x509) on a TLS connection, or None."""
    channel = getattr(request, "channel", None)
    # An HTTP/2 stream has no transport of its own: the TLS connection belongs to its H2Connection.
    connection = getattr(channel, "_conn", None)
    transport = (getattr(request, "transport", None) or getattr(channel, "transport", None)
                 or getattr(connection, "transport", None))
    get = getattr(transport, "getPeerCertificate", None)
    if get is None:
        return None
    try:
        return _peer_certificates[transport]
    except (KeyError, TypeError):
        pass
    try:
        cert = get()
    except Exception:  # not a TLS connection or the handshake state is gone
        return None
    cert = cert.to_cryptography() if cert is not None else None
    if cert is not None:
        try:
            _peer_certificates[transport] = cert     # a connection's peer never changes (no renegotiation)
        except TypeError:
            pass
    return cert


# Each TLS connection's client certificate, converted once (every request on it asks).
_peer_certificates: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def is_secure(request) -> bool:
    return bool(request.isSecure())

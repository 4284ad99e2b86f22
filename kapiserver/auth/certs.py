"""
Serving certificates: the self-signed CA and serving certificate generated into
--cert-dir when no --tls-cert-file is given, client certificates signed by that
CA (the admin kubeconfig's), and the verification of client certificates
against --client-ca-file.
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import os
from pathlib import Path
from typing import Iterable, Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT, CA_KEY = "ca.crt", "ca.key"
SERVING_CERT, SERVING_KEY = "apiserver.crt", "apiserver.key"
ADMIN_KUBECONFIG = "admin.kubeconfig"
_ONE_DAY = datetime.timedelta(days=1)


def new_key() -> ec.EllipticCurvePrivateKey:
    """ECDSA P-256: what kubeadm-style tooling also accepts, and generated in microseconds
    where an RSA-2048 key takes tens of milliseconds, which matters for the first start."""
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str, organizations: Iterable[str] = ()) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    return x509.Name([*attributes, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def new_ca(common_name: str, years: int = 10) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = new_key()
    name = _name(common_name)
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _ONE_DAY).not_valid_after(now + datetime.timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=True,
                                         content_commitment=False, data_encipherment=False, key_agreement=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def sign_certificate(ca_cert: x509.Certificate, ca_key, common_name: str, organizations: Iterable[str] = (),
                     hosts: Iterable[str] = (), client: bool = False, days: int = 365
                     ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A leaf certificate signed by the CA: a serving one for ``hosts`` (DNS names and IPs) or a client one."""
    key = new_key()
    now = _now()
    sans = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    builder = (x509.CertificateBuilder().subject_name(_name(common_name, organizations))
               .issuer_name(ca_cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - _ONE_DAY).not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=False,
                                            content_commitment=False, data_encipherment=False,
                                            key_agreement=False, crl_sign=False, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
               .add_extension(_authority_key_identifier(ca_cert), critical=False))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _authority_key_identifier(ca_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """The Authority Key Identifier of a certificate ``ca_cert`` signs: its Subject Key Identifier, or one made
    from its key where it has none. Go's x509 writes it into every certificate a CA signs, and a verifier in
    X.509 strict mode (Python 3.13's default TLS context, so the Python clients' and httpx's) refuses a
    certificate that is not self-signed without one ("Missing Authority Key Identifier")."""
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def identifies_authority(cert: x509.Certificate) -> bool:
    """Whether ``cert`` carries an Authority Key Identifier (those this server issued before it wrote one are
    reissued, so that strict verifiers accept them)."""
    try:
        cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound:
        return False
    return True


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def load_certificates(path: str) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle."""
    return x509.load_pem_x509_certificates(Path(path).read_bytes())


def load_key(path: str):
    return serialization.load_pem_private_key(Path(path).read_bytes(), password=None)


def serving_hosts(advertise_address: str, service_ip: str, extra: Iterable[str] = ()) -> list[str]:
    """The serving certificate's SANs, as upstream's self-signed certificate has them."""
    hosts = [advertise_address, service_ip, "127.0.0.1", "localhost", "kubernetes", "kubernetes.default",
             "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", *extra]
    seen, out = set(), []
    for host in hosts:
        if host and host not in seen:
            seen.add(host)
            out.append(host)
    return out


def ensure_self_signed(cert_dir: str, hosts: list[str]) -> tuple[Path, Path, Path, Path]:
    """(ca.crt, ca.key, apiserver.crt, apiserver.key) in ``cert_dir``, generated on first start.

    An existing CA is kept (clients already trust it); the serving certificate is reissued when its SANs
    no longer cover ``hosts`` (the advertise address changed) or it lacks an Authority Key Identifier.
    """
    directory = Path(cert_dir)
    ca_cert_path, ca_key_path = directory / CA_CERT, directory / CA_KEY
    cert_path, key_path = directory / SERVING_CERT, directory / SERVING_KEY
    if ca_cert_path.exists() and ca_key_path.exists():
        ca_cert, ca_key = load_certificates(str(ca_cert_path))[0], load_key(str(ca_key_path))
    else:
        ca_cert, ca_key = new_ca(f"kapiserver-ca@{int(_now().timestamp())}")
        _write(ca_key_path, key_pem(ca_key), private=True)
        _write(ca_cert_path, cert_pem(ca_cert))
    if not (cert_path.exists() and key_path.exists() and _covers(cert_path, hosts, ca_cert)):
        cert, key = sign_certificate(ca_cert, ca_key, "kube-apiserver", hosts=hosts)
        _write(key_path, key_pem(key), private=True)
        _write(cert_path, cert_pem(cert) + cert_pem(ca_cert))
    return ca_cert_path, ca_key_path, cert_path, key_path


FRONT_PROXY_CA_CERT, FRONT_PROXY_CA_KEY = "front-proxy-ca.crt", "front-proxy-ca.key"
FRONT_PROXY_CLIENT_CERT, FRONT_PROXY_CLIENT_KEY = "front-proxy-client.crt", "front-proxy-client.key"
FRONT_PROXY_CLIENT_NAME = "front-proxy-client"


def ensure_front_proxy(cert_dir: str) -> tuple[Path, Path, Path]:
    """(front-proxy-ca.crt, front-proxy-client.crt, front-proxy-client.key) in ``cert_dir``, generated on first
    start: the aggregator's client certificate for extension apiservers, from a CA of its own (as kubeadm keeps
    the front proxy's CA apart from the cluster CA).  The client certificate is reissued when it has expired or
    lacks an Authority Key Identifier."""
    directory = Path(cert_dir)
    ca_cert_path, ca_key_path = directory / FRONT_PROXY_CA_CERT, directory / FRONT_PROXY_CA_KEY
    cert_path, key_path = directory / FRONT_PROXY_CLIENT_CERT, directory / FRONT_PROXY_CLIENT_KEY
    if ca_cert_path.exists() and ca_key_path.exists():
        ca_cert, ca_key = load_certificates(str(ca_cert_path))[0], load_key(str(ca_key_path))
    else:
        ca_cert, ca_key = new_ca(f"front-proxy-ca@{int(_now().timestamp())}")
        _write(ca_key_path, key_pem(ca_key), private=True)
        _write(ca_cert_path, cert_pem(ca_cert))
    current = None
    if cert_path.exists() and key_path.exists():
        current = load_certificates(str(cert_path))[0]
    if current is None or current.issuer != ca_cert.subject or current.not_valid_after_utc <= _now() or \
            not identifies_authority(current):
        cert, key = sign_certificate(ca_cert, ca_key, FRONT_PROXY_CLIENT_NAME, client=True)
        _write(key_path, key_pem(key), private=True)
        _write(cert_path, cert_pem(cert))
    return ca_cert_path, cert_path, key_path


def _covers(cert_path: Path, hosts: list[str], ca_cert) -> bool:
    try:
        cert = load_certificates(str(cert_path))[0]
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    present = {str(n) for n in names.get_values_for_type(x509.DNSName)} | \
        {str(n) for n in names.get_values_for_type(x509.IPAddress)}
    return set(hosts) <= present and cert.issuer == ca_cert.subject and cert.not_valid_after_utc > _now() and \
        identifies_authority(cert)


def write_kubeconfig(path: str, server: str, ca_pem: bytes, cert_pem_bytes: bytes, key_pem_bytes: bytes,
                     user: str = "admin") -> None:
    """A kubeconfig with embedded CA and client credentials."""
    import base64
    import json

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "kapiserver", "preferences": {},
        "clusters": [{"name": "kapiserver", "cluster": {"server": server,
                                                         "certificate-authority-data": b64(ca_pem)}}],
        "users": [{"name": user, "user": {"client-certificate-data": b64(cert_pem_bytes),
                                          "client-key-data": b64(key_pem_bytes)}}],
        "contexts": [{"name": "kapiserver", "context": {"cluster": "kapiserver", "user": user}}],
    }
    _write(Path(path), json.dumps(config, indent=2).encode() + b"\n", private=True)


def write_admin_kubeconfig(path: str, server: str, ca_cert_path: Path, ca_key_path: Path) -> None:
    """admin.kubeconfig: a client certificate for CN=kubernetes-admin, O=system:masters."""
    ca_cert = load_certificates(str(ca_cert_path))[0]
    cert, key = sign_certificate(ca_cert, load_key(str(ca_key_path)), "kubernetes-admin",
                                 organizations=["system:masters"], client=True)
    write_kubeconfig(path, server, cert_pem(ca_cert), cert_pem(cert), key_pem(key), "kubernetes-admin")


def verify_client_certificate(cert: x509.Certificate, roots: list[x509.Certificate],
                              now: Optional[datetime.datetime] = None) -> Optional[str]:
    """None when ``cert`` was issued by one of ``roots`` and is within its validity; else why not."""
    now = now or _now()
    if cert.not_valid_before_utc > now or cert.not_valid_after_utc < now:
        return "x509: certificate has expired or is not yet valid"
    return _chain_error(cert, tuple(roots))


@functools.lru_cache(maxsize=1024)
def _chain_error(cert: x509.Certificate, roots: tuple) -> Optional[str]:
    """What of verify_client_certificate does not change with time (key usage, the issuer's signature),
    remembered: a client sends the same certificate with every request, and checking a signature costs
    more than the rest of a GET (certificates hash and compare by their DER bytes)."""
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CLIENT_AUTH not in usages and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE \
                not in usages:
            return "x509: certificate specifies an incompatible key usage"
    except x509.ExtensionNotFound:
        pass
    for root in roots:
        if root.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(root)
            return None
        except (ValueError, TypeError, Exception):  # InvalidSignature and unsupported algorithms alike
            continue
    return "x509: certificate signed by unknown authority"

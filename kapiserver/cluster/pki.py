"""The cluster's certificates and kubeconfigs in --data-dir, made on first start and kept afterwards.

    <data-dir>/pki/ca.crt, ca.key                  the cluster CA (certs.ensure_self_signed, as kube-apiserver's)
    <data-dir>/pki/apiserver.crt, apiserver.key    the apiserver's serving certificate (127.0.0.1, the
                                                   kubernetes Service's names and cluster IP)
    <data-dir>/pki/apiserver-kubelet-client.*      the apiserver's client certificate for the kubelets
    <data-dir>/pki/sa.key, sa.pub                  the service-account token signing key pair
    <data-dir>/admin.kubeconfig                    kubernetes-admin, group system:masters: the user's
    <data-dir>/controller-manager.kubeconfig       system:kube-controller-manager
    <data-dir>/scheduler.kubeconfig                system:kube-scheduler
    <data-dir>/node-<i>.kubeconfig                 system:node:node-<i>, group system:nodes

A restart keeps every key and certificate that is still good (issued by the CA, for the same identity, not
about to expire), so clients holding the admin kubeconfig, and tokens already issued, stay valid; a kubeconfig
only has its server rewritten when --apiserver-port changed.  The front-proxy CA and client certificate are
the apiserver's own (it makes them in its --cert-dir, the same pki directory).
"""

from __future__ import annotations

import base64
import datetime
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from ..auth import certs

PKI_DIR = "pki"
SA_KEY, SA_PUB = "sa.key", "sa.pub"
KUBELET_CLIENT_CERT, KUBELET_CLIENT_KEY = "apiserver-kubelet-client.crt", "apiserver-kubelet-client.key"
# The kubernetes Service's cluster IP with kube-apiserver's default --service-cluster-ip-range (10.0.0.0/24).
SERVICE_IP = "10.0.0.1"
# A client certificate this close to expiring is issued anew at start.
RENEW_BEFORE = datetime.timedelta(days=30)


@dataclass(frozen=True)
class Identity:
    """Who a client certificate says its holder is: the CommonName is the user, each Organization a group."""
    user: str
    groups: tuple[str, ...] = ()


ADMIN = Identity("kubernetes-admin", ("system:masters",))
CONTROLLER_MANAGER = Identity("system:kube-controller-manager")
SCHEDULER = Identity("system:kube-scheduler")
KUBELET_CLIENT = Identity("kube-apiserver-kubelet-client", ("system:masters",))


def node_identity(name: str) -> Identity:
    return Identity(f"system:node:{name}", ("system:nodes",))


@dataclass(frozen=True)
class ClusterFiles:
    """Where everything is (absolute paths)."""
    data_dir: Path
    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    kubelet_client_cert: Path
    kubelet_client_key: Path
    sa_key: Path
    sa_pub: Path
    admin: Path
    controller_manager: Path
    scheduler: Path
    nodes: dict


def kubeconfig_path(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / f"{name}.kubeconfig"


def ensure_cluster_pki(data_dir, server: str, node_names: Sequence[str]) -> ClusterFiles:
    """Everything above in `data_dir`, for an apiserver at `server` (https://127.0.0.1:<port>)."""
    data_dir = Path(data_dir).absolute()
    pki = data_dir / PKI_DIR
    ca_cert_path, ca_key_path, serving_cert, serving_key = certs.ensure_self_signed(
        str(pki), certs.serving_hosts("127.0.0.1", SERVICE_IP))
    ca_cert = certs.load_certificates(str(ca_cert_path))[0]
    ca_key = certs.load_key(str(ca_key_path))
    kubelet_cert, kubelet_key = ensure_client_files(pki / KUBELET_CLIENT_CERT, pki / KUBELET_CLIENT_KEY,
                                                    KUBELET_CLIENT, ca_cert, ca_key)
    sa_key, sa_pub = ensure_service_account_keys(pki)
    kubeconfigs = {}
    for name, identity in [("admin", ADMIN), ("controller-manager", CONTROLLER_MANAGER),
                           ("scheduler", SCHEDULER), *[(n, node_identity(n)) for n in node_names]]:
        kubeconfigs[name] = kubeconfig_path(data_dir, name)
        ensure_kubeconfig(kubeconfigs[name], server, identity, ca_cert, ca_key)
    return ClusterFiles(data_dir, ca_cert_path, ca_key_path, Path(serving_cert), Path(serving_key),
                        kubelet_cert, kubelet_key, sa_key, sa_pub, kubeconfigs["admin"],
                        kubeconfigs["controller-manager"], kubeconfigs["scheduler"],
                        {n: kubeconfigs[n] for n in node_names})


def identity_of(cert: x509.Certificate) -> Identity:
    subject = cert.subject
    cn = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return Identity(cn[0].value if cn else "",
                    tuple(a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)))


def _still_good(cert: x509.Certificate, identity: Identity, ca_cert: x509.Certificate) -> bool:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (identity_of(cert) == identity and certs.verify_client_certificate(cert, [ca_cert]) is None
            and cert.not_valid_after_utc - now > RENEW_BEFORE and certs.identifies_authority(cert))


def ensure_client_files(cert_path: Path, key_path: Path, identity: Identity, ca_cert, ca_key) -> tuple[Path, Path]:
    """A client certificate and key as PEM files, kept when still good."""
    if cert_path.exists() and key_path.exists():
        try:
            if _still_good(certs.load_certificates(str(cert_path))[0], identity, ca_cert):
                return cert_path, key_path
        except ValueError:
            pass
    cert, key = certs.sign_certificate(ca_cert, ca_key, identity.user, identity.groups, client=True)
    certs._write(key_path, certs.key_pem(key), private=True)
    certs._write(cert_path, certs.cert_pem(cert))
    return cert_path, key_path


def ensure_service_account_keys(pki: Path) -> tuple[Path, Path]:
    """sa.key (made once; tokens it signed stay valid across restarts) and sa.pub, its public half."""
    key_path, pub_path = pki / SA_KEY, pki / SA_PUB
    if not key_path.exists():
        certs._write(key_path, certs.key_pem(certs.new_key()), private=True)
    public = certs.load_key(str(key_path)).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    if not pub_path.exists() or pub_path.read_bytes() != public:
        certs._write(pub_path, public)
    return key_path, pub_path


def read_kubeconfig(path: Path) -> Optional[tuple[str, bytes, bytes, bytes]]:
    """(server, CA PEM, client certificate PEM, client key PEM) of a kubeconfig written here, or None."""
    try:
        config = json.loads(path.read_bytes())
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
        return (cluster["server"], base64.b64decode(cluster["certificate-authority-data"]),
                base64.b64decode(user["client-certificate-data"]), base64.b64decode(user["client-key-data"]))
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


def ensure_kubeconfig(path: Path, server: str, identity: Identity, ca_cert, ca_key) -> None:
    """A kubeconfig for `identity` at `server` with embedded credentials; its key and certificate are kept
    while still good, and the file is only rewritten when something in it changes."""
    ca_pem = certs.cert_pem(ca_cert)
    current = read_kubeconfig(path)
    if current is not None:
        old_server, old_ca, cert_pem, key_pem = current
        try:
            good = _still_good(x509.load_pem_x509_certificate(cert_pem), identity, ca_cert)
        except ValueError:
            good = False
        if good:
            if (old_server, old_ca) != (server, ca_pem):
                certs.write_kubeconfig(str(path), server, ca_pem, cert_pem, key_pem, identity.user)
            return
    cert, key = certs.sign_certificate(ca_cert, ca_key, identity.user, identity.groups, client=True)
    certs.write_kubeconfig(str(path), server, ca_pem, certs.cert_pem(cert), certs.key_pem(key), identity.user)

"""The kubelet API's serving certificate when none is given: self-signed into --cert-dir (kubelet.crt,
kubelet.key), as the kubelet generates one, and kept across restarts."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterable, Tuple

from ..auth import certs

SERVING_CERT, SERVING_KEY = "kubelet.crt", "kubelet.key"


def ensure_serving_certificate(cert_dir: str, host: str, extra_hosts: Iterable[str] = (),
                               name: str = "") -> Tuple[str, str]:
    """(certificate file, key file) in `cert_dir` (`<name>.crt` and `.key`, the kubelet's names without one),
    generated on first use: a CA named `<host>-ca@<unix time>` signing `<host>@<unix time>` for `host` and
    `extra_hosts`; the certificate file carries the CA too."""
    directory = Path(cert_dir)
    cert_path, key_path = (directory / f"{name}.crt", directory / f"{name}.key") if name else \
        (directory / SERVING_CERT, directory / SERVING_KEY)
    if cert_path.exists() and key_path.exists() and _identifies_authority(cert_path):
        return str(cert_path), str(key_path)
    stamp = int(time.time())
    ca_cert, ca_key = certs.new_ca(f"{host}-ca@{stamp}", years=1)
    hosts = []
    for address in (host, *extra_hosts):
        if address and address not in hosts and address not in ("0.0.0.0", "::"):
            hosts.append(address)
    cert, key = certs.sign_certificate(ca_cert, ca_key, f"{host}@{stamp}", hosts=hosts)
    directory.mkdir(parents=True, exist_ok=True)
    _write(key_path, certs.key_pem(key), 0o600)
    _write(cert_path, certs.cert_pem(cert) + certs.cert_pem(ca_cert), 0o644)
    return str(cert_path), str(key_path)


def _identifies_authority(cert_path: Path) -> bool:
    """Whether the certificate kept there names its CA's key (one made before this server wrote that is made
    again: strict TLS verifiers refuse it)."""
    try:
        return certs.identifies_authority(certs.load_certificates(str(cert_path))[0])
    except (ValueError, IndexError):
        return False


def _write(path: Path, data: bytes, mode: int) -> None:
    # Written aside and renamed, so a crash never leaves half a key for the next start to trust.
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)

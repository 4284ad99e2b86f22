"""A kubeconfig's current context: the server, the bearer token, and TLS material (CA, client certificate)."""

from __future__ import annotations

import base64
import os
from typing import Optional

import yaml
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from ..tlskeys import certificate_options, trust_root


def load_kubeconfig(path: str) -> dict:
    """The current context's server URL, headers (a bearer token), and PEM material (ca, cert, key, insecure)."""
    with open(path) as f:
        config = yaml.safe_load(f) or {}
    contexts = {c["name"]: c.get("context") or {} for c in config.get("contexts") or []}
    clusters = {c["name"]: c.get("cluster") or {} for c in config.get("clusters") or []}
    users = {u["name"]: u.get("user") or {} for u in config.get("users") or []}
    context = contexts.get(config.get("current-context")) or (next(iter(contexts.values()), {}))
    cluster = clusters.get(context.get("cluster")) or next(iter(clusters.values()), {})
    user = users.get(context.get("user")) or {}
    headers = {}
    if user.get("token"):
        headers["Authorization"] = f"Bearer {user['token']}"
    base = os.path.dirname(os.path.abspath(path))
    return {"server": cluster.get("server", "http://127.0.0.1:8080").rstrip("/"), "headers": headers,
            "ca": _pem(cluster, "certificate-authority", base),
            "cert": _pem(user, "client-certificate", base), "key": _pem(user, "client-key", base),
            "insecure": bool(cluster.get("insecure-skip-tls-verify"))}


def _pem(section: dict, name: str, base: str) -> Optional[bytes]:
    """A kubeconfig's inline `<name>-data` (base64) or `<name>` file, as PEM bytes."""
    if section.get(f"{name}-data"):
        return base64.b64decode(section[f"{name}-data"])
    if section.get(name):
        with open(os.path.join(base, section[name]), "rb") as f:
            return f.read()
    return None


@implementer(IPolicyForHTTPS)
class KubeconfigTLS:
    """TLS to the API server as the kubeconfig says: its CA, its client certificate."""

    def __init__(self, ca: Optional[bytes], cert: Optional[bytes], key: Optional[bytes], insecure: bool):
        self.trust = trust_root(ca) if ca else None
        self.client = certificate_options(cert, key) if cert and key else {}
        self.insecure = insecure

    def creatorForNetloc(self, hostname, port, protocols=None):
        """The TLS options for ``hostname``; ``protocols`` (e.g. [b"h2", b"http/1.1"]) are offered by ALPN."""
        from twisted.internet import ssl
        if self.insecure:
            return ssl.CertificateOptions(verify=False, acceptableProtocols=protocols, **self.client)
        if isinstance(hostname, bytes):
            hostname = hostname.decode("ascii")
        return ssl.optionsForClientTLS(hostname, trustRoot=self.trust, acceptableProtocols=protocols,
                                       extraCertificateOptions=self.client)

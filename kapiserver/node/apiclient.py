"""The node agent's client of the API server: JSON over HTTP(S) with treq, configured from a kubeconfig."""

from __future__ import annotations

import base64
import json
import os
from typing import Optional
from urllib.parse import quote, urlencode

import treq
import yaml
from treq.client import HTTPClient
from twisted.web.client import Agent
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer


class APIError(Exception):
    def __init__(self, code: int, status: dict):
        super().__init__(f"{code}: {status.get('message', status)}")
        self.code = code
        self.status = status


def load_kubeconfig(path: str) -> dict:
    """(server URL, headers) of the kubeconfig's current context."""
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
class _KubeconfigTLS:
    """TLS to the API server as the kubeconfig says: its CA, its client certificate."""

    def __init__(self, ca: Optional[bytes], cert: Optional[bytes], key: Optional[bytes], insecure: bool):
        from twisted.internet import ssl
        self.trust = ssl.Certificate.loadPEM(ca) if ca else None
        self.client = ssl.PrivateCertificate.loadPEM(cert + b"\n" + key) if cert and key else None
        self.insecure = insecure

    def creatorForNetloc(self, hostname, port):
        from twisted.internet import ssl
        if self.insecure:
            return ssl.CertificateOptions(verify=False, privateKey=self.client and self.client.privateKey.original,
                                          certificate=self.client and self.client.original)
        return ssl.optionsForClientTLS(hostname.decode("ascii"), trustRoot=self.trust,
                                       clientCertificate=self.client)


def client_from_kubeconfig(path: str, reactor=None) -> "APIClient":
    config = load_kubeconfig(path)
    http = treq
    if config["server"].startswith("https://"):
        if reactor is None:
            from twisted.internet import reactor
        agent = Agent(reactor, contextFactory=_KubeconfigTLS(config["ca"], config["cert"], config["key"],
                                                              config["insecure"]))
        http = HTTPClient(agent)
    return APIClient(config["server"], config["headers"], http=http)


class APIClient:
    def __init__(self, server: str, headers: Optional[dict] = None, http=treq):
        self.server = server.rstrip("/")
        self.headers = {"User-Agent": "kube-node/v1.32.0", "Accept": "application/json", **(headers or {})}
        self.http = http

    @staticmethod
    def path(group: str, version: str, resource: str, namespace: Optional[str] = None,
             name: Optional[str] = None, subresource: Optional[str] = None) -> str:
        base = f"/api/{version}" if not group else f"/apis/{group}/{version}"
        if namespace:
            base += f"/namespaces/{quote(namespace)}"
        base += f"/{resource}"
        if name:
            base += f"/{quote(name)}"
        if subresource:
            base += f"/{subresource}"
        return base

    async def request(self, method: str, path: str, body=None, query=None, content_type="application/json"):
        url = self.server + path
        if query:
            url += "?" + urlencode(query)
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        response = await self.http.request(method, url, data=data, headers=headers)
        raw = await response.content()
        try:
            decoded = json.loads(raw) if raw else {}
        except ValueError:
            decoded = {"message": raw.decode("utf-8", "replace")}
        if response.code >= 400:
            raise APIError(response.code, decoded)
        return decoded

    async def get(self, path, query=None):
        return await self.request("GET", path, query=query)

    async def create(self, path, body):
        return await self.request("POST", path, body)

    async def replace(self, path, body):
        return await self.request("PUT", path, body)

    async def merge_patch(self, path, body):
        return await self.request("PATCH", path, body, content_type="application/merge-patch+json")

    async def delete(self, path, body=None):
        return await self.request("DELETE", path, body)

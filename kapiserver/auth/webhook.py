"""
Calling webhooks over HTTPS: a client built from a kubeconfig (authorization
and token-review webhooks) or from a clientConfig (admission webhooks), and
the authorization and token-review webhooks themselves.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Optional

import yaml
from twisted.internet import ssl
from twisted.web.client import Agent, HTTPConnectionPool, _HTTP11ClientFactory
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from ..tlskeys import certificate_options, trust_root
from .authz import ALLOW, DENY, NO_OPINION, Attributes, Decision
from .user import UserInfo


class _QuietFactory(_HTTP11ClientFactory):
    noisy = False      # no "Starting factory" line per connection


@implementer(IPolicyForHTTPS)
class _Policy:
    def __init__(self, ca_pem: Optional[bytes], client_cert: Optional[bytes], client_key: Optional[bytes],
                 insecure: bool = False):
        self.trust = trust_root(ca_pem) if ca_pem else None
        self.client = certificate_options(client_cert, client_key) if client_cert and client_key else {}
        self.insecure = insecure

    def creatorForNetloc(self, hostname, port):
        return self.for_server(hostname.decode())

    def for_server(self, server_name: str):
        """The TLS client options for a server that must prove it is ``server_name`` (unless insecure)."""
        if self.insecure:
            return ssl.CertificateOptions(verify=False, **self.client)
        return ssl.optionsForClientTLS(server_name, trustRoot=self.trust, extraCertificateOptions=self.client)


def client_tls_options(server_name: str, ca_pem: Optional[bytes], client_cert: Optional[bytes] = None,
                       client_key: Optional[bytes] = None, insecure: bool = False):
    """TLS client options as webhooks are called with: ``server_name`` verified against ``ca_pem`` (the system's
    roots without one), or nothing verified when ``insecure``; the client certificate presented if given."""
    return _Policy(ca_pem, client_cert, client_key, insecure).for_server(server_name)


class WebhookClient:
    """POSTs JSON to one HTTPS URL and returns the decoded JSON answer."""

    def __init__(self, url: str, ca_pem: Optional[bytes] = None, client_cert: Optional[bytes] = None,
                 client_key: Optional[bytes] = None, token: str = "", insecure: bool = False, reactor=None,
                 basic_auth: Optional[tuple[str, str]] = None):
        if reactor is None:
            from twisted.internet import reactor
        self.url = url
        self.token = token
        self.basic_auth = basic_auth
        self.reactor = reactor
        self.pool = HTTPConnectionPool(reactor, persistent=False)
        self.pool._factory = _QuietFactory     # no "Starting factory" line per webhook call
        self.agent = Agent(reactor, contextFactory=_Policy(ca_pem, client_cert, client_key, insecure),
                           pool=self.pool)

    async def exchange(self, body: dict, timeout: float = 30.0, url: str = "") -> tuple[int, str, bytes]:
        """POST ``body`` as JSON with this client's credentials: (status code, Content-Type, body).  Transport
        failures raise."""
        import treq
        headers = {b"Content-Type": [b"application/json"], b"Accept": [b"application/json"]}
        if self.token:
            headers[b"Authorization"] = [f"Bearer {self.token}".encode()]
        elif self.basic_auth:
            credentials = base64.b64encode(":".join(self.basic_auth).encode()).decode()
            headers[b"Authorization"] = [f"Basic {credentials}".encode()]
        response = await treq.post(url or self.url, data=json.dumps(body).encode(), headers=headers,
                                   agent=self.agent, timeout=timeout)
        content = await treq.content(response)
        content_type = (response.headers.getRawHeaders(b"content-type") or [b""])[0].decode("latin-1")
        return response.code, content_type, content

    async def post(self, body: dict, timeout: float = 30.0, url: str = "") -> dict:
        code, _, content = await self.exchange(body, timeout, url)
        if code >= 300:
            raise RuntimeError(f"the server responded with the status code {code}")
        return json.loads(content)


    async def get(self, url: str, timeout: float = 30.0) -> dict:
        import treq
        response = await treq.get(url, headers={b"Accept": [b"application/json"]}, agent=self.agent,
                                  timeout=timeout)
        content = await treq.content(response)
        if response.code >= 300:
            raise RuntimeError(f"the server responded with the status code {response.code}")
        return json.loads(content)


def kubeconfig_data(entry: dict, key: str) -> Optional[bytes]:
    """A kubeconfig entry's ``key``: inline (``key-data``, base64) or read from the file it names."""
    if entry.get(f"{key}-data"):
        return base64.b64decode(entry[f"{key}-data"])
    if entry.get(key):
        with open(entry[key], "rb") as f:
            return f.read()
    return None


def client_from_kubeconfig(path: str, reactor=None) -> WebhookClient:
    with open(path) as f:
        config = yaml.safe_load(f)
    context_name = config.get("current-context")
    contexts = {c["name"]: c.get("context") or {} for c in config.get("contexts") or []}
    context = contexts.get(context_name) or {}
    clusters = {c["name"]: c.get("cluster") or {} for c in config.get("clusters") or []}
    users = {u["name"]: u.get("user") or {} for u in config.get("users") or []}
    cluster = clusters.get(context.get("cluster")) or next(iter(clusters.values()), {})
    user = users.get(context.get("user")) or next(iter(users.values()), {})
    return WebhookClient(cluster.get("server", ""), kubeconfig_data(cluster, "certificate-authority"),
                         kubeconfig_data(user, "client-certificate"), kubeconfig_data(user, "client-key"),
                         user.get("token", ""),
                         bool(cluster.get("insecure-skip-tls-verify")), reactor)


def sar_spec(a: Attributes) -> dict:
    """The SubjectAccessReview spec for request attributes, as upstream's webhook authorizer sends it."""
    spec: dict = {}
    if a.is_resource_request:
        attributes = {"namespace": a.namespace, "verb": a.verb, "group": a.api_group, "version": a.api_version,
                      "resource": a.resource, "subresource": a.subresource, "name": a.name}
        spec["resourceAttributes"] = {k: v for k, v in attributes.items() if v}
    else:
        spec["nonResourceAttributes"] = {"path": a.path, "verb": a.verb}
    spec["user"] = a.user.name
    if a.user.groups:
        spec["groups"] = list(a.user.groups)
    if a.user.uid:
        spec["uid"] = a.user.uid
    if a.user.extra:
        spec["extra"] = a.user.extra
    return spec


class AuthorizationWebhook:
    """--authorization-webhook-config-file: the remote service decides (allowed answers cached 5m, denied 30s)."""

    def __init__(self, kubeconfig: str, client: Optional[WebhookClient] = None,
                 authorized_ttl: float = 300.0, unauthorized_ttl: float = 30.0):
        self.client = client or client_from_kubeconfig(kubeconfig)
        self.ttls = (authorized_ttl, unauthorized_ttl)
        self.cache: dict[str, tuple[float, Decision]] = {}

    async def authorize(self, attributes: Attributes) -> Decision:
        spec = sar_spec(attributes)
        key = json.dumps(spec, sort_keys=True)
        cached = self.cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
        try:
            answer = await self.client.post(review)
        except Exception as e:  # an unreachable webhook has no opinion, as upstream (and is not cached)
            return Decision(NO_OPINION, "", str(e))
        status = answer.get("status") or {}
        if status.get("allowed"):
            decision = Decision(ALLOW, status.get("reason", ""))
        elif status.get("denied"):
            decision = Decision(DENY, status.get("reason", ""))
        else:
            decision = Decision(NO_OPINION, status.get("reason", ""))
        self.cache[key] = (time.monotonic() + self.ttls[0 if decision.allowed else 1], decision)
        return decision


class TokenWebhook:
    """--authentication-token-webhook-config-file: tokens sent as TokenReviews; answers cached for the TTL."""

    def __init__(self, kubeconfig: str, ttl: float = 120.0, client: Optional[WebhookClient] = None):
        self.client = client or client_from_kubeconfig(kubeconfig)
        self.ttl = ttl
        self.cache: dict[str, tuple[float, Optional[UserInfo]]] = {}

    async def authenticate(self, token: str) -> Optional[UserInfo]:
        cached = self.cache.get(token)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
        try:
            answer = await self.client.post(review)
        except Exception:  # noqa: BLE001 - an unreachable webhook authenticates nobody
            return None
        status = answer.get("status") or {}
        user = UserInfo.from_api(status.get("user") or {}) if status.get("authenticated") else None
        self.cache[token] = (time.monotonic() + self.ttl, user)
        return user

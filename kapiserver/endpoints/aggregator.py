"""
The aggregation layer's proxy: a request for a group-version whose APIService names a service (an extension
apiserver) is sent on to that service once this apiserver has authenticated and authorized it, as
kube-aggregator's proxy handler does.  The user travels in the front-proxy headers (X-Remote-User,
X-Remote-Group, X-Remote-Extra-<key>), and the connection presents the front-proxy client certificate that
extension apiservers trust through the ``extension-apiserver-authentication`` ConfigMap.

The service is reached at one of its Endpoints' addresses (upstream's ``--enable-aggregator-routing``): pods
are host processes here, so a cluster IP leads nowhere while an endpoint address does.  The server certificate
is verified for ``<service>.<namespace>.svc`` against the APIService's caBundle, unless it says
insecureSkipTLSVerify.
"""

from __future__ import annotations

import base64
import random
from typing import Optional
from urllib.parse import parse_qsl, urlencode

from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint, connectProtocol, wrapClientTLS
from twisted.web.http_headers import Headers

from ..auth.webhook import client_tls_options
from ..machinery.errors import StatusError
from ..registry.crd import version_priority
from ..registry.options import ListOptions
from . import forward
from .upgrade import is_upgrade_request

GROUP, VERSION, RESOURCE = "apiregistration.k8s.io", "v1", "apiservices"
# How long dialing an extension apiserver may take.
DIAL_TIMEOUT = 30
# The request headers a proxied request leaves behind: front-proxy headers the client sent itself (they are set
# anew from the authenticated user).  Its credentials are gone already (auth/filters.py takes them off).
_DROPPED = (b"x-remote-user", b"x-remote-group", b"x-remote-uid")
_DROPPED_PREFIXES = (b"x-remote-extra-",)
# The characters a header name may hold unescaped (RFC 7230 tchar, less the escape character itself).
_TOKEN = frozenset(b"!#$&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class ResolveError(Exception):
    """The service cannot be reached: (reason, message) as the availability check reports them."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def remote_service(apiservice: Optional[dict]) -> Optional[dict]:
    """The APIService's spec.service, None for a local APIService."""
    return ((apiservice or {}).get("spec") or {}).get("service")


def is_available(apiservice: dict) -> bool:
    return any(c.get("type") == "Available" and c.get("status") == "True"
               for c in (apiservice.get("status") or {}).get("conditions") or [])


def escape_extra_key(key: str) -> str:
    """An extra's key as a header name part: bytes outside the header token set percent-encoded."""
    return "".join(chr(b) if b in _TOKEN else f"%{b:02X}" for b in key.encode("utf-8"))


def front_proxy_headers(user) -> list[tuple[bytes, list[bytes]]]:
    """The X-Remote-* headers that carry ``user`` to an extension apiserver."""
    out = [(b"X-Remote-User", [user.name.encode("utf-8")])]
    if user.groups:
        out.append((b"X-Remote-Group", [g.encode("utf-8") for g in user.groups]))
    for key, values in sorted((user.extra or {}).items()):
        if values:
            out.append((b"X-Remote-Extra-" + escape_extra_key(key).encode("ascii"),
                        [v.encode("utf-8") for v in values]))
    return out


def proxied_headers(request, user) -> Headers:
    """The client's headers less hop-by-hop ones and consumed credentials, plus the user's front-proxy ones."""
    headers = Headers()
    for name, values in request.requestHeaders.getAllRawHeaders():
        lower = name.lower()
        if lower in forward.HOP_BY_HOP or lower in (b"host", b"content-length") or lower in _DROPPED or \
                lower.startswith(_DROPPED_PREFIXES):
            continue
        headers.setRawHeaders(name, values)
    for name, values in front_proxy_headers(user):
        headers.setRawHeaders(name, values)
    return headers


async def resolve(registry, service: dict) -> tuple[str, int]:
    """(address, port) of one ready endpoint of the APIService's service, chosen at random; ResolveError
    when the service, its port or its endpoints are missing."""
    namespace, name = service.get("namespace", ""), service.get("name", "")
    port = int(service.get("port") or 443)
    services = registry.lookup("", "v1", "services")
    try:
        svc = await services.get(namespace, name)
    except StatusError as e:
        if e.code == 404:
            raise ResolveError("ServiceNotFound", f'service/{name} in "{namespace}" is not present') from None
        raise ResolveError("ServiceAccessError",
                           f'service/{name} in "{namespace}" cannot be checked due to: {e.message}') from None
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return spec.get("externalName", ""), port
    port_name = None
    for candidate in spec.get("ports") or []:
        if int(candidate.get("port") or 0) == port:
            port_name = candidate.get("name") or ""
            break
    if port_name is None:
        raise ResolveError("ServicePortError", f'service/{name} in "{namespace}" is not listening on port {port}')
    endpoints_store = registry.lookup("", "v1", "endpoints")
    try:
        endpoints = await endpoints_store.get(namespace, name)
    except StatusError as e:
        if e.code == 404:
            raise ResolveError("EndpointsNotFound",
                               f'cannot find endpoints for service/{name} in "{namespace}"') from None
        raise ResolveError("EndpointsAccessError",
                           f'service/{name} in "{namespace}" cannot be checked due to: {e.message}') from None
    choices = []
    for subset in endpoints.get("subsets") or []:
        for endpoint_port in subset.get("ports") or []:
            if (endpoint_port.get("name") or "") == port_name:
                choices.extend((address.get("ip", ""), int(endpoint_port.get("port") or 0))
                               for address in subset.get("addresses") or [])
    if not choices:
        raise ResolveError("MissingEndpoints", f'endpoints for service/{name} in "{namespace}" have no addresses '
                                               f'with port name "{port_name}"')
    return random.choice(choices)


class RemoteAPIServices:
    """Proxies requests to extension apiservers, and dials them for the availability check."""

    def __init__(self, registry, reactor, client_cert: Optional[bytes] = None,
                 client_key: Optional[bytes] = None):
        self.registry = registry
        self.reactor = reactor
        self.client_cert = client_cert
        self.client_key = client_key
        # (group, version) -> the APIResourceList the extension apiserver last answered its discovery check with,
        # its /openapi/v2 document, and its /openapi/v3/apis/<group>/<version> document (as it sent it).
        self.discovered: dict[tuple[str, str], dict] = {}
        self.openapi_v2: dict[tuple[str, str], dict] = {}
        self.openapi_v3: dict[tuple[str, str], bytes] = {}

    def forget(self, group: str, version: str) -> None:
        """What was fetched from an APIService's server, dropped (it went, or cannot be reached)."""
        for fetched in (self.discovered, self.openapi_v2, self.openapi_v3):
            fetched.pop((group, version), None)

    async def groups(self) -> list[tuple[str, int, list[tuple[str, Optional[dict]]]]]:
        """The remote APIServices' groups as discovery lists them: (group, groupPriorityMinimum, [(version,
        APIResourceList or None)]), groups by falling priority then name, versions by falling versionPriority
        then Kubernetes version order."""
        store = self.registry.lookup(GROUP, VERSION, RESOURCE)
        if store is None:
            return []
        items, _ = await store.list(None, ListOptions())
        by_group: dict[str, list[dict]] = {}
        for apiservice in items:
            spec = apiservice.get("spec") or {}
            if remote_service(apiservice) is not None and spec.get("group"):
                by_group.setdefault(spec["group"], []).append(spec)
        out = []
        for group, specs in by_group.items():
            specs.sort(key=lambda spec: (-int(spec.get("versionPriority") or 0), version_priority(spec["version"])))
            out.append((group, max(int(spec.get("groupPriorityMinimum") or 0) for spec in specs),
                        [(spec["version"], self.discovered.get((group, spec["version"]))) for spec in specs]))
        out.sort(key=lambda entry: (-entry[1], entry[0]))
        return out

    async def lookup(self, group: str, version: str) -> Optional[dict]:
        """The APIService of a group-version when it names a service, else None."""
        store = self.registry.lookup(GROUP, VERSION, RESOURCE)
        if store is None or not group or not version:
            return None
        try:
            apiservice = await store.get(None, f"{version}.{group}")
        except StatusError:
            return None
        return apiservice if remote_service(apiservice) is not None else None

    def dialer(self, apiservice: dict):
        """A dial(host, port, protocol) that connects over TLS as the APIService asks."""
        spec = apiservice.get("spec") or {}
        service = remote_service(apiservice) or {}
        ca = spec.get("caBundle")
        options = client_tls_options(f"{service.get('name', '')}.{service.get('namespace', '')}.svc",
                                     base64.b64decode(ca) if ca else None, self.client_cert, self.client_key,
                                     insecure=bool(spec.get("insecureSkipTLSVerify")))

        async def dial(host: str, port: int, protocol):
            endpoint_type = TCP6ClientEndpoint if ":" in host else TCP4ClientEndpoint
            endpoint = wrapClientTLS(options, endpoint_type(self.reactor, host, port, timeout=DIAL_TIMEOUT))
            return await connectProtocol(endpoint, protocol)
        return dial

    async def proxy(self, request, apiservice: dict, user) -> None:
        """Send the request on to the APIService's service and relay the answer; an unavailable service is
        answered 503 in plain text, as upstream's proxy answers."""
        if not is_available(apiservice):
            unavailable(request, "service unavailable")
            return
        try:
            host, port = await resolve(self.registry, remote_service(apiservice))
        except ResolveError:
            unavailable(request, "service unavailable")
            return
        path = request.path
        query = request.uri.partition(b"?")[2]
        if query:
            # Re-encoded with its keys sorted (a key's values keeping their order), as Go's url.Values encodes.
            path += b"?" + urlencode(sorted(parse_qsl(query.decode("utf-8", "replace"), keep_blank_values=True),
                                            key=lambda pair: pair[0])).encode()
        try:
            if is_upgrade_request(request) and request.clientproto == b"HTTP/1.1":
                await self._upgrade(request, apiservice, host, port, path, user)
                return
            await forward.forward(request, self.reactor, self.dialer(apiservice), host, port, path,
                                  headers=proxied_headers(request, user))
        except StatusError as e:
            unavailable(request, e.message.removeprefix("error trying to reach service: "))

    async def _upgrade(self, request, apiservice: dict, host: str, port: int, path: bytes, user) -> None:
        """An upgrade (exec-style streams) relayed byte for byte once the extension apiserver has it, the user's
        headers set and the client's credentials left out, as for any proxied request."""
        from .streams import relay_upgrade
        drop = {name.lower() for name, _ in request.requestHeaders.getAllRawHeaders()
                if name.lower() in _DROPPED or name.lower().startswith(_DROPPED_PREFIXES)}
        extra = [(name, value) for name, values in front_proxy_headers(user) for value in values]
        try:
            await relay_upgrade(request, self.dialer(apiservice), host, port, path, extra_headers=extra,
                                drop=tuple(drop))
        except Exception as e:
            unavailable(request, forward._reason(e))


def unavailable(request, message: str) -> None:
    """A 503 with a plain-text body, as Go's http.Error writes it."""
    body = message.encode("utf-8") + b"\n"
    request.setResponseCode(503)
    request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
    request.setHeader(b"X-Content-Type-Options", b"nosniff")
    request.setHeader(b"Content-Length", str(len(body)).encode())
    request.write(body)
    request.finish()

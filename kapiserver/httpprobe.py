"""
An HTTP GET probe as upstream's pkg/probe/http runs one: the kubelet's httpGet probes and hooks, and the
apiserver's componentstatuses, which probe kube-scheduler's and kube-controller-manager's healthz with it.
``http_get`` fires with ``(ok, output)``: a 200-399 answer's first 10 KiB, else Go's words for what went wrong
("HTTP probe failed with statuscode: 500", 'Get "URL": dial tcp HOST:PORT: connect: connection refused').
HTTPS is not verified, as upstream's prober transport does not verify.
"""

from __future__ import annotations

from twisted.internet import protocol
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from zope.interface import implementer

OUTPUT_LIMIT = 10 * 1024          # upstream reads at most 10 KiB of a probe's output or body
USER_AGENT = "kube-probe/1.32"


def _insecure_tls_policy():
    """Probes do not verify the serving certificate (as upstream's prober's transport does not)."""
    from OpenSSL import SSL
    from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
    from twisted.internet.ssl import CertificateOptions
    from twisted.web.iweb import IPolicyForHTTPS

    @implementer(IOpenSSLClientConnectionCreator)
    class Creator:
        def __init__(self):
            self.context = CertificateOptions(verify=False).getContext()

        def clientConnectionForTLS(self, tls_protocol):
            connection = SSL.Connection(self.context, None)
            connection.set_app_data(tls_protocol)
            return connection

    @implementer(IPolicyForHTTPS)
    class Policy:
        def creatorForNetloc(self, hostname, port):
            return Creator()
    return Policy()


def _agent(reactor, timeout: float):
    """An HTTP client agent: IP literals connect directly (no resolver), names through the resolver; https
    without verification."""
    from twisted.internet.abstract import isIPAddress, isIPv6Address
    from twisted.internet.endpoints import HostnameEndpoint, TCP6ClientEndpoint, wrapClientTLS
    from twisted.web.client import Agent
    from twisted.web.iweb import IAgentEndpointFactory

    @implementer(IAgentEndpointFactory)
    class Endpoints:
        def endpointForURI(self, uri):
            host = uri.host.decode()
            if isIPAddress(host):
                endpoint = TCP4ClientEndpoint(reactor, host, uri.port, timeout=timeout)
            elif isIPv6Address(host):
                endpoint = TCP6ClientEndpoint(reactor, host, uri.port, timeout=timeout)
            else:
                endpoint = HostnameEndpoint(reactor, uri.host, uri.port, timeout=timeout)
            if uri.scheme == b"https":
                endpoint = wrapClientTLS(_insecure_tls_policy().creatorForNetloc(uri.host, uri.port), endpoint)
            return endpoint
    return Agent.usingEndpointFactory(reactor, Endpoints())


class _Body(protocol.Protocol):
    """A response body, its first OUTPUT_LIMIT bytes kept (however it ends)."""

    def __init__(self, done: Deferred):
        self.done = done
        self.data = b""

    def dataReceived(self, data):
        if len(self.data) < OUTPUT_LIMIT:
            self.data += data[:OUTPUT_LIMIT - len(self.data)]

    def connectionLost(self, reason):
        self.done.callback(self.data)


def dial_error(host: str, port: int, failure) -> str:
    from twisted.internet import error
    if failure.check(error.ConnectionRefusedError):
        return f"dial tcp {host}:{port}: connect: connection refused"
    if failure.check(error.TimeoutError, error.TCPTimedOutError):
        return f"dial tcp {host}:{port}: i/o timeout"
    return f"dial tcp {host}:{port}: {failure.getErrorMessage()}"


def http_get(reactor, action: dict, host: str, port: int, timeout: float, any_status: bool = False) -> Deferred:
    """GET the action's scheme://host:port/path with its httpHeaders; 200-399 is success (any answer with
    ``any_status``, as for a lifecycle hook)."""
    from twisted.web.client import ResponseFailed
    from twisted.web.http_headers import Headers
    scheme = (action.get("scheme") or "HTTP").lower()
    host = action.get("host") or host
    path = action.get("path") or "/"
    if not path.startswith("/"):
        path = "/" + path
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    url = f"{scheme}://{netloc}{path}"
    headers = Headers({"User-Agent": [USER_AGENT], "Accept": ["*/*"]})
    for header in action.get("httpHeaders") or []:
        if header.get("name"):
            headers.setRawHeaders(header["name"], [header.get("value") or ""])
    d = _agent(reactor, timeout).request(b"GET", url.encode(), headers)

    def answered(response):
        body: Deferred = Deferred()
        response.deliverBody(_Body(body))
        if any_status or 200 <= response.code < 400:
            return body.addCallback(lambda data: (True, data[:OUTPUT_LIMIT].decode("utf-8", "replace")))
        return body.addCallback(lambda _: (False, f"HTTP probe failed with statuscode: {response.code}"))

    def failed(failure):
        from twisted.internet import defer, error
        if failure.check(defer.CancelledError):
            return False, (f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting '
                           f'headers)')
        if failure.check(ResponseFailed):
            return False, f'Get "{url}": {failure.value.reasons[0].getErrorMessage()}'
        if failure.check(error.ConnectError, error.TimeoutError):
            return False, f'Get "{url}": {dial_error(host, port, failure)}'
        return False, f'Get "{url}": {failure.getErrorMessage()}'
    d.addCallback(answered)
    d.addTimeout(timeout, reactor)
    return d.addErrback(failed)

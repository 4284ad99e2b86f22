"""Serving HTTP: the listener service every daemon uses, and the Site its API is served by.

A listen that fails (the port is taken) is retried every LISTEN_RETRY seconds instead of ending the process.
A leaf: it imports nothing from kapiserver.
"""

from __future__ import annotations

from twisted.application import service
from twisted.internet import endpoints
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web.server import Request, Site

log = Logger()
LISTEN_RETRY = 15.0


def tcp_endpoint(port: int, interface: str) -> str:
    """The endpoint string (serverFromString) of a plain TCP listener on ``interface``."""
    escaped = interface.replace(":", "\\:")   # an IPv6 address's colons, escaped for the endpoint parser
    return f"tcp:{port}:interface={escaped}"


class RawBodyRequest(Request):
    """A request whose body is left alone: bodies are API objects, so a form Content-Type must neither add
    query parameters nor (malformed multipart) make twisted.web answer a bare 400 before the API can answer
    with a Status."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._parsePOSTFormSubmission = False


class QuietSite(Site):
    """A Site without twisted.web's access log (the daemons log requests themselves) and without Twisted's
    "Starting factory" lines: the Listener says what it serves."""

    requestFactory = RawBodyRequest
    noisy = False

    def log(self, request):
        pass


class Listener(service.Service):
    """Listen on an endpoint; on failure, log and try again every LISTEN_RETRY seconds.

    ``listening`` fires with the port once the first listen succeeds.
    """

    def __init__(self, reactor, endpoint, factory, name: str, how: str = "insecurely"):
        """``endpoint`` is an endpoint string (serverFromString), an IStreamServerEndpoint, or a callable
        returning one when the service starts (for TLS options that exist only by then)."""
        self.reactor = reactor
        self.how = how
        self.endpoint = endpoint
        self.factory = factory
        self.setName(name)
        self.port = None
        self._retry = None
        self._resolved = None
        self.listening = Deferred()

    def startService(self):
        super().startService()
        endpoint = self.endpoint() if callable(self.endpoint) else self.endpoint
        if isinstance(endpoint, str):
            endpoint = endpoints.serverFromString(self.reactor, endpoint)
        self._resolved = endpoint
        self._listen()

    def _listen(self):
        self._retry = None
        d = self._resolved.listen(self.factory)

        def listening(port):
            self.port = port
            log.info("Serving {how} on {address}", how=self.how, address=_address(port))
            if not self.listening.called:
                self.listening.callback(port)

        def failed(failure):
            log.error("Unable to listen on {endpoint}: {error}; retrying in {retry}s",
                      endpoint=self.endpoint, error=failure.getErrorMessage(), retry=LISTEN_RETRY)
            if self.running:
                self._retry = self.reactor.callLater(LISTEN_RETRY, self._listen)
        d.addCallbacks(listening, failed)

    def stopService(self):
        super().stopService()
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        if self.port is not None:
            port, self.port = self.port, None
            return port.stopListening()


def _address(port) -> str:
    host = port.getHost()
    return f"{host.host}:{host.port}"

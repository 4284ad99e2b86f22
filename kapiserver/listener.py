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
SOMAXCONN_PATH = "/proc/sys/net/core/somaxconn"
# Where the system does not say: Linux's SOMAXCONN since 5.4, what Go falls back to.
DEFAULT_BACKLOG = 4096


def listen_backlog(path: str = SOMAXCONN_PATH) -> int:
    """The listen backlog: the system's somaxconn, as Go's net package reads it (a burst of connects then
    waits in the kernel's queue instead of being dropped at Twisted's default of 50)."""
    try:
        with open(path) as f:
            value = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return DEFAULT_BACKLOG
    return value if value > 0 else DEFAULT_BACKLOG


def raise_open_files_limit() -> int:
    """Raise this process's soft limit of open files to its hard limit (each connection costs one); the soft
    limit it now has."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == resource.RLIM_INFINITY or soft >= hard:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as e:
        log.warn("Could not raise the open-files limit from {soft} to {hard}: {error}", soft=soft, hard=hard,
                 error=e)
        return soft
    return hard


def tcp_endpoint(port: int, interface: str, backlog: int | None = None) -> str:
    """The endpoint string (serverFromString) of a plain TCP listener on ``interface``, with the system's
    listen backlog (``listen_backlog()``) unless ``backlog`` is given."""
    escaped = interface.replace(":", "\\:")   # an IPv6 address's colons, escaped for the endpoint parser
    return f"tcp:{port}:interface={escaped}:backlog={backlog or listen_backlog()}"


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
    # Where set (kapiserver.runtime.Connections): tracks (and caps) this site's open connections.
    connections = None

    def buildProtocol(self, addr):
        if self.connections is None:
            return super().buildProtocol(addr)
        return self.connections.build(super().buildProtocol, addr)

    def log(self, request):
        pass

    # What Twisted names this site in its own lines ("<prefix> starting on <port>", and each connection's log
    # system): the Listener's name, not a class name.
    listener_name = "http"

    def logPrefix(self) -> str:
        return f"{self.listener_name} listener"


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
        if isinstance(factory, QuietSite):
            factory.listener_name = name
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

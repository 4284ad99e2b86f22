"""Serving HTTP: the listener service every daemon uses, and the Site its API is served by.

A listen that fails (the port is taken) is retried every LISTEN_RETRY seconds instead of ending the process.
A leaf: it imports nothing from kapiserver.
"""

from __future__ import annotations

import functools
import time
from typing import Optional
from urllib.parse import unquote_to_bytes as unquote

from twisted.application import service
from twisted.internet import endpoints, interfaces, tcp
from twisted.internet.defer import Deferred, execute
from twisted.logger import Logger
from twisted.python import failure
from twisted.web.http import RESPONSES, datetimeToString
from twisted.web.http_headers import Headers
from twisted.web.resource import _IEncodingResource
from twisted.web.server import Request, Site
from zope.interface import implementer

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


def tcp_endpoint(reactor, port: int, interface: str, backlog: int | None = None,
                 tls_options=None, reuse_port: bool = False) -> "ServerEndpoint":
    """A TCP listener on ``interface`` (TLS with ``tls_options``: an OpenSSL context factory), with the
    system's listen backlog (``listen_backlog()``) unless ``backlog`` is given; ``reuse_port``: shared with the
    other processes that listen on it so (SO_REUSEPORT: the kernel spreads the connections among them)."""
    return ServerEndpoint(reactor, port, interface, backlog or listen_backlog(), tls_options, reuse_port)


# The most a turn's writes to one connection may add up to and still be sent by the port's flush (Twisted's
# own send size); more waits for the reactor, as usual.
FLUSH_LIMIT = 128 * 1024


class FlushingConnection(tcp.Server):
    """A server connection whose writes are sent together once the reactor's current turn has done its work,
    without first asking the reactor whether the socket can take them.

    Twisted queues every write and registers the socket with epoll to learn when it is writable: two
    epoll_ctl calls and an epoll event per response, a tenth of a small GET's time. Here a connection with
    nothing queued keeps its writes and joins its port's list; the port sends every listed connection's bytes
    in one call scheduled for the end of the turn (so a response's headers and body still leave in one
    segment). A socket with an empty queue nearly always takes them whole; what it does not take, a socket
    error, or a connection closing goes Twisted's usual way (an aborted one sends nothing more). The flush
    calls no protocol back but a producer's pauseProducing, as a write past the buffer's size does."""

    _flush_listed = False

    def write(self, data: bytes) -> None:
        if data.__class__ is bytes and self._keeps_writes(len(data)):
            if data:
                self._tempDataBuffer.append(data)
                self._tempDataLen += len(data)
                self._list_for_flush()
            return
        super().write(data)

    def write_parts(self, head: bytes, body: bytes) -> None:
        """``write(head + body)`` for a big body (a LIST's): sent at once from the two buffers as they are (one
        sendmsg, where nothing of this connection waits to be sent), not first copied into a new one; what the
        socket does not take goes to the reactor as the rest of ``body``. Otherwise joined and written."""
        sendmsg = getattr(self.socket, "sendmsg", None)
        if (sendmsg is None or self._tempDataBuffer or self.dataBuffer or self.TLS or not self.connected
                or self.disconnecting or self._aborting or self._writeDisconnecting or self._writeDisconnected
                or head.__class__ is not bytes or body.__class__ is not bytes):
            self.write(b"".join((head, body)))
            return
        try:
            sent = sendmsg([head, body])
        except OSError:
            sent = 0        # full, interrupted or broken: the reactor's write finds out which
        if sent >= len(head) + len(body):
            return
        if sent < len(head):
            self.dataBuffer, self.offset = b"".join((head[sent:], body)), 0
        else:
            self.dataBuffer, self.offset = body, sent - len(head)
        self._hand_to_reactor()

    def writeSequence(self, iovec) -> None:
        if self.TLS:
            super().writeSequence(iovec)
            return
        self.write(b"".join(iovec))     # joined as the reactor's write would; a str among them is a TypeError

    def _keeps_writes(self, size: int) -> bool:
        # Nothing handed to the reactor yet, the connection open both ways, and the turn's bytes within bounds.
        return (not self.dataBuffer and not self.TLS and self.connected and not self.disconnecting
                and not self._aborting and not self._writeDisconnecting and not self._writeDisconnected
                and self._tempDataLen + size <= FLUSH_LIMIT and (self._flush_listed or not self._tempDataBuffer))

    def _list_for_flush(self) -> None:
        if not self._flush_listed:
            self._flush_listed = True
            self.server.flush_later(self)

    def flush(self) -> None:
        """Send what this turn's writes queued; anything the socket did not take goes to the reactor."""
        self._flush_listed = False
        if not self._tempDataBuffer or self.dataBuffer:
            return      # sent already, or the reactor is writing (a loseConnection, or an earlier rest)
        if not self.connected or self._aborting:
            self._tempDataBuffer, self._tempDataLen = [], 0
            return
        if self.disconnecting or self._writeDisconnecting or self._tempDataLen > FLUSH_LIMIT:
            self._hand_to_reactor()
            return
        data = self._tempDataBuffer[0] if len(self._tempDataBuffer) == 1 else b"".join(self._tempDataBuffer)
        try:
            sent = self.socket.send(data)
        except OSError:
            sent = 0        # full, interrupted or broken: the reactor's write finds out which
        self._tempDataBuffer, self._tempDataLen = [], 0
        if sent < len(data):
            self.dataBuffer, self.offset = data, sent
            self._hand_to_reactor()

    def _hand_to_reactor(self) -> None:
        self._maybePauseProducer()
        self.startWriting()


class _FlushingPort(tcp.Port):
    transport = FlushingConnection
    _flush_due = None
    reuse_port = False

    def createInternetSocket(self):
        s = super().createInternetSocket()
        if self.reuse_port:
            import socket
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        return s

    def flush_later(self, connection: FlushingConnection) -> None:
        if self._flush_due is None:
            self._flush_due = []
            self.reactor.callLater(0, self._flush)
        self._flush_due.append(connection)

    def _flush(self) -> None:
        due, self._flush_due = self._flush_due, None
        for connection in due:
            connection.flush()


@implementer(interfaces.IStreamServerEndpoint)
class ServerEndpoint:
    """Where a daemon listens: a TCP port whose connections are FlushingConnections, TLS on top when
    ``tls_options`` is given (as Twisted's own TLS listener: TLSMemoryBIOFactory over TCP). A reactor that
    is not a POSIX one (a test's fake) is asked to listen as usual."""

    def __init__(self, reactor, port: int, interface: str = "", backlog: int = DEFAULT_BACKLOG,
                 tls_options=None, reuse_port: bool = False):
        self.reactor = reactor
        self.port = port
        self.interface = interface
        self.backlog = backlog
        self.tls_options = tls_options
        self.reuse_port = reuse_port

    def __str__(self) -> str:
        escaped = self.interface.replace(":", "\\:")
        return f"{'ssl' if self.tls_options is not None else 'tcp'}:{self.port}:interface={escaped}"

    def listen(self, factory):
        return execute(self._listen, factory)

    def _listen(self, factory):
        from twisted.internet.posixbase import PosixReactorBase
        if not isinstance(self.reactor, PosixReactorBase):
            if self.tls_options is not None:
                return self.reactor.listenSSL(self.port, factory, self.tls_options, self.backlog, self.interface)
            return self.reactor.listenTCP(self.port, factory, self.backlog, self.interface)
        if self.tls_options is not None:
            from twisted.protocols.tls import TLSMemoryBIOFactory
            factory = TLSMemoryBIOFactory(self.tls_options, False, factory)
        port = _FlushingPort(self.port, factory, self.backlog, self.interface, self.reactor)
        port.reuse_port = self.reuse_port
        if self.tls_options is not None:
            port._type = "TLS"      # as Twisted's listenSSL names its port in the log
        port.startListening()
        return port


_DATE = [-1, b""]    # [the second, its HTTP date]


def http_date(now: float) -> bytes:
    """The Date header for the time ``now``, formatted once a second."""
    second = int(now)
    if second != _DATE[0]:
        _DATE[:] = [second, datetimeToString(second)]
    return _DATE[1]


@functools.lru_cache(maxsize=1024)
def header_name(name: bytes) -> bytes:
    """A header name as twisted.web's Headers keeps it (its canonical capitalization, Go's too), for
    ``set_header`` and the request headers' fast paths: asked of a Headers through its public methods (once for
    each name; an invalid one raises InvalidHeaderName, as there)."""
    headers = Headers()
    headers.setRawHeaders(name, [b""])
    return next(iter(headers.getAllRawHeaders()))[0]


def set_header(request, name: bytes, value: bytes) -> None:
    """``request.setHeader(name, value)`` for a name given as ``header_name`` made it and a value of the server's
    own making, or one read from a request header (neither holds a line break, which setHeader would make a space):
    put where twisted.web's Headers keeps it without its encoding and checking on every call (a quarter of a
    microsecond each, four headers on every answer). A request whose headers are not twisted.web's Headers is asked
    as usual."""
    raw = getattr(request.responseHeaders, "_rawHeaders", None)
    if type(raw) is dict:
        raw[name] = [value]
    else:
        request.setHeader(name, value)


def add_request_headers(request, pairs) -> None:
    """``request.requestHeaders.addRawHeader(name, value)`` for each (name, value) of ``pairs``, read from a
    request's head (token names, values without line breaks, which addRawHeader would make spaces), put where
    twisted.web's Headers keeps them without its encoding and checking each; other Headers are asked as usual."""
    raw = getattr(request.requestHeaders, "_rawHeaders", None)
    if type(raw) is not dict:
        add = request.requestHeaders.addRawHeader
        for name, value in pairs:
            add(name, value)
        return
    for name, value in pairs:
        name = header_name(name)
        values = raw.get(name)
        if values is None:
            raw[name] = [value]
        else:
            values.append(value)


DATE_HEADER = header_name(b"Date")


def call_each(callbacks, result) -> None:
    """Call each of a request's finish callbacks with ``result`` (None, or the Failure of a lost connection), in
    order; one that raises is logged and does not stop the others."""
    for callback in callbacks:
        try:
            callback(result)
        except Exception:
            log.failure("a request's finish callback failed")


# Go's reason phrases where twisted.web's differ or are missing (those the API answers with).
GO_STATUS_TEXT = {408: b"Request Timeout", 414: b"Request URI Too Long", 422: b"Unprocessable Entity",
                  429: b"Too Many Requests", 504: b"Gateway Timeout"}


class RawBodyRequest(Request):
    """A request whose body is left alone: bodies are API objects, so a form Content-Type must neither add
    query parameters nor (malformed multipart) make twisted.web answer a bare 400 before the API can answer
    with a Status. Its response has the headers Go's server gives (kube-apiserver's): a Date, and no Server
    header (twisted.web adds one naming itself)."""

    _postpath = None
    _finish_callbacks = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._parsePOSTFormSubmission = False

    def on_finish(self, callback) -> None:
        """Call ``callback(None)`` once the response is finished, or ``callback(failure)`` if the connection is
        lost before: notifyFinish's two outcomes (and as with it, never for a request already ended), without a
        Deferred. In the order given; one that raises is logged and does not stop the others."""
        if self._finish_callbacks is None:
            self._finish_callbacks = []
        self._finish_callbacks.append(callback)

    def setResponseCode(self, code: int, message: Optional[bytes] = None) -> None:
        """The status line's reason phrase as Go's server writes it (its http.StatusText): twisted.web has none for
        422 and 429 ("Unknown Status") and words a few others differently."""
        self.code = code
        self.code_message = message if message is not None else GO_STATUS_TEXT.get(code) or \
            RESPONSES.get(code, b"Unknown Status")

    def getHeader(self, key):
        """twisted.web's ``getHeader`` (the last value of the header, or None), read where its Headers keeps them
        for a name given as bytes (most of a request's handling asks for several)."""
        raw = getattr(self.requestHeaders, "_rawHeaders", None)
        if type(raw) is dict and type(key) is bytes:
            values = raw.get(header_name(key))
            return values[-1] if values else None
        return super().getHeader(key)

    def _cleanup(self):
        super()._cleanup()      # twisted.web's end of a finished request: its notifyFinish Deferreds fire
        self._ended(None)

    def connectionLost(self, reason):
        super().connectionLost(reason)
        self._ended(reason)

    def _ended(self, result) -> None:
        callbacks, self._finish_callbacks = self._finish_callbacks, None
        call_each(callbacks or (), result)

    @property
    def postpath(self):
        """The path's segments not yet traversed, unquoted (twisted.web's attribute), made when first asked:
        a traversal below a root that is not a leaf asks; under a leaf root (the API's) no one does."""
        if self._postpath is None:
            self._postpath = list(map(unquote, self.path[1:].split(b"/")))
        return self._postpath

    @postpath.setter
    def postpath(self, value):
        self._postpath = value

    def process(self):
        # twisted.web's Request.process, less the Server header, with the Date formatted once a second.
        self.site = self.channel.site
        set_header(self, DATE_HEADER, http_date(time.time()))
        self.prepath = []
        self._postpath = None
        if self.path == b"*":
            self._handleStar()      # OPTIONS *: twisted.web's own answer
            return
        try:
            site = self.site
            root = site.resource
            if root.isLeaf and type(site).getResourceFor is Site.getResourceFor:
                # What Site.getResourceFor does for a leaf, without splitting the path for a traversal.
                self.sitepath = []
                found = root
            else:
                found = site.getResourceFor(self)
            if _IEncodingResource.providedBy(found):
                self._encoder = found.getEncoder(self)     # twisted.web's response encoders (gzip)
            self.render(found)
        except BaseException:
            self.processingFailed(failure.Failure())


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

"""The server runtime around the API: a timeout for every request that is not long-running
(--request-timeout, 504), --max-requests-inflight / --max-mutating-requests-inflight (429 with
Retry-After; only with --enable-priority-and-fairness=false, else API Priority and Fairness limits),
panic recovery (an exception is a 500 Status and the server keeps serving), and upstream's 1 MiB limit
on request headers (431)."""

from __future__ import annotations

from twisted.logger import Logger
from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from .endpoints.http import write_status
from .http2 import channel_factory
from .endpoints.requestinfo import request_info_of
from .machinery import errors

log = Logger()
MAX_HEADER_BYTES = 1 << 20
_LONG_RUNNING_SUBRESOURCES = frozenset(("attach", "exec", "proxy", "log", "portforward"))
_MUTATING = frozenset((b"POST", b"PUT", b"PATCH", b"DELETE"))


def is_long_running(request) -> bool:
    """watch, proxy and the node streams run as long as they need (upstream's long-running check)."""
    # Kept on the request, so the API root does not parse it again.
    info = request_info_of(request)
    if info.verb in ("watch", "proxy") or info.subresource in _LONG_RUNNING_SUBRESOURCES:
        return True
    return request.requestHeaders.hasHeader(b"upgrade")


class RuntimeLimits(Resource):
    """Wraps the API root: limits, timeouts and panic recovery, none of them in the handlers."""
    isLeaf = True

    def __init__(self, inner, reactor, request_timeout: float = 60.0, max_inflight: int = 400,
                 max_mutating_inflight: int = 200, metrics=None):
        super().__init__()
        self.inner = inner
        # The request metrics (kapiserver.endpoints.metrics): requests in flight, and those refused here.
        self.metrics = metrics
        if metrics is not None:
            metrics.add_inflight_source(lambda: self.inflight, lambda: self.mutating_inflight)
        self.reactor = reactor
        self.request_timeout = request_timeout
        self.max_inflight = max_inflight
        self.max_mutating_inflight = max_mutating_inflight
        self.inflight = 0
        self.mutating_inflight = 0
        # Requests not yet answered, in the order they came (so of their deadlines): id -> (deadline,
        # request); the one timer is due at the first one's deadline.
        self._pending: dict = {}
        self._timer = None

    def render(self, request):
        long_running = is_long_running(request)
        mutating = request.method in _MUTATING
        if not long_running:
            limit, current = ((self.max_mutating_inflight, self.mutating_inflight) if mutating
                              else (self.max_inflight, self.inflight))
            if limit and current >= limit:
                request.setHeader(b"Retry-After", b"1")
                write_status(request, errors.too_many_requests("Too many requests, please try again later.", 1))
                if self.metrics is not None:
                    self.metrics.count_rejected(request, request_info_of(request))
                return NOT_DONE_YET
            self._count(mutating, +1)
            if self.request_timeout > 0:
                self._pending[id(request)] = (self.reactor.seconds() + self.request_timeout, request)
                if self._timer is None:
                    self._timer = self.reactor.callLater(self.request_timeout, self._expire)
            request.notifyFinish().addBoth(self._finished, id(request), mutating)
        try:
            return self.inner.render(request)
        except Exception as e:
            log.failure("handler failed for {path}", path=request.path)
            write_status(request, errors.internal_error(f"{type(e).__name__}: {e}"))
            return NOT_DONE_YET

    def _finished(self, _, key: int, mutating: bool) -> None:
        self._count(mutating, -1)
        self._pending.pop(key, None)

    def _expire(self) -> None:
        """Every request past its deadline is answered 504; the timer is set again for the next deadline.
        One timer for all requests rather than one each: every request has the same timeout, so the
        pending ones are in deadline order."""
        self._timer = None
        now = self.reactor.seconds()
        pending = self._pending
        while pending:
            key, (deadline, request) = next(iter(pending.items()))
            if deadline > now:
                self._timer = self.reactor.callLater(deadline - now, self._expire)
                return
            del pending[key]
            self._timed_out(request)

    def _count(self, mutating: bool, delta: int):
        if mutating:
            self.mutating_inflight += delta
        else:
            self.inflight += delta

    def _timed_out(self, request):
        write_status(request, errors.StatusError(
            504, "Timeout", "Timeout: request did not complete within the allotted timeout", {}))


class LimitedHeadersChannel(http.HTTPChannel):
    """An HTTP channel that answers 431 when a request's headers pass MAX_HEADER_BYTES, as Go's server does."""
    totalHeadersSize = MAX_HEADER_BYTES * 2
    MAX_LENGTH = MAX_HEADER_BYTES * 2

    def lineReceived(self, line):
        self._kap_header_bytes = getattr(self, "_kap_header_bytes", 0) + len(line) + 2
        if self._kap_header_bytes > MAX_HEADER_BYTES:
            self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; "
                                 b"charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large")
            self.transport.loseConnection()
            self._kap_header_bytes = 0
            return
        if line == b"":
            self._kap_header_bytes = 0
        return super().lineReceived(line)


def wrap_site(site, root, reactor, config):
    """Install the runtime on a Site: the limits around `root`, and channels that limit headers and speak
    HTTP/2 where TLS negotiated it."""
    access = getattr(config, "node_access", None)
    # With API Priority and Fairness the two flags are its total concurrency, not limits of their own.
    apf = getattr(getattr(root, "context", None), "flow_control", None) is not None
    site.resource = RuntimeLimits(root, reactor, getattr(config, "request_timeout", 60.0),
                                  0 if apf else getattr(access, "max_requests_inflight", 400),
                                  0 if apf else getattr(access, "max_mutating_requests_inflight", 200),
                                  getattr(getattr(root, "context", None), "metrics", None))
    security = getattr(config, "security", None)
    site.protocol = channel_factory(LimitedHeadersChannel, getattr(security, "http2_max_streams_per_connection", 0))
    return site

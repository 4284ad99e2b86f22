"""REST calls to the API server over HTTP(S) with JSON, and watches read as a stream of events.

Over TLS, a Client offers h2 by ALPN and, when the server takes it, sends every request and watch as a stream
of one HTTP/2 connection (kapiserver.client.http2), as client-go does; otherwise, or with ``http2=False`` (or
the environment variable DISABLE_HTTP2 set, client-go's switch), it uses a pool of HTTP/1.1 connections."""

from __future__ import annotations

import os
from typing import Callable, Optional
from urllib.parse import urlencode, urlsplit

import orjson
from treq.client import HTTPClient
from twisted.internet import protocol
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web.client import Agent, HTTPConnectionPool, ResponseDone, _HTTP11ClientFactory
from twisted.web.http_headers import Headers

from ..machinery.errors import StatusError
from ..version import KUBERNETES_GIT_VERSION
from .http2 import H2Pool
from .kubeconfig import KubeconfigTLS, load_kubeconfig
from .resources import Resource

log = Logger()

PATCH_TYPES = {"merge": "application/merge-patch+json", "strategic": "application/strategic-merge-patch+json",
               "json": "application/json-patch+json", "apply": "application/apply-patch+yaml"}


class _QuietFactory(_HTTP11ClientFactory):
    noisy = False      # no "Starting factory" line per connection


NAMESPACE_TERMINATING_CAUSE = "NamespaceTerminating"


def namespace_terminating(error) -> bool:
    """The API refused a write because the namespace is being deleted."""
    return isinstance(error, APIError) and error.has_cause(NAMESPACE_TERMINATING_CAUSE)


class APIError(StatusError):
    """A response of 400 or more, or a Status other than Success in any response, with the Status the server
    sent."""

    def __init__(self, code: int, status: dict):
        super().__init__(code, status.get("reason", ""), status.get("message", ""), status.get("details"))
        self.status = status

    def has_cause(self, cause_type: str) -> bool:
        """Whether the Status's details name a cause of this type (upstream's HasStatusCause; a StatusCause's
        type is its "reason" on the wire)."""
        causes = (self.status.get("details") or {}).get("causes") or []
        return any(c.get("reason") == cause_type for c in causes)


async def get_or_none(client, resource: Resource, name: str, namespace: Optional[str] = None, **options):
    """``client.get`` of one object, None when the server answers 404 (the object is gone or never was)."""
    try:
        return await client.get(resource, name, namespace, **options)
    except APIError as e:
        if e.code == 404:
            return None
        raise


def _decode(raw: bytes):
    if not raw:
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


class Client:
    """The API at ``server``: ``get``/``list``/``create``/``update``/``patch``/``delete`` of a Resource, and
    ``watch``.  Every call is a coroutine on the reactor."""

    def __init__(self, server: str, headers: Optional[dict] = None, reactor=None, tls=None,
                 user_agent: Optional[str] = None, max_connections: int = 16, http2: Optional[bool] = None):
        if reactor is None:
            from twisted.internet import reactor
        self.reactor = reactor
        self.server = server.rstrip("/")
        self.user_agent = user_agent or f"kapiserver/{KUBERNETES_GIT_VERSION}"
        self.headers = {"Accept": "application/json", "User-Agent": self.user_agent, **(headers or {})}
        self.pool = HTTPConnectionPool(reactor, persistent=True)
        self.pool.maxPersistentPerHost = max_connections
        self.pool.retryAutomatically = False
        self.pool._factory = _QuietFactory
        agent = Agent(reactor, contextFactory=tls, pool=self.pool) if tls is not None else \
            Agent(reactor, pool=self.pool)
        self.agent = agent
        self.http = HTTPClient(agent)
        if http2 is None:
            http2 = not os.environ.get("DISABLE_HTTP2")
        self.h2: Optional[H2Pool] = None
        if http2 and self.server.startswith("https://"):
            self.h2 = _h2_pool(reactor, self.server, tls)

    @property
    def protocol(self) -> str:
        """"h2" while requests go over HTTP/2 (or may, before the first handshake), else "http/1.1"."""
        return "h2" if self.h2 is not None and self.h2.supported is not False else "http/1.1"

    def close(self) -> Deferred:
        """Close the idle connections and the HTTP/2 one (a watch in progress is cancelled by its owner)."""
        from twisted.internet.defer import gatherResults
        closing = [self.pool.closeCachedConnections()]
        if self.h2 is not None:
            closing.append(self.h2.close())
        return gatherResults(closing)

    async def _send(self, method: str, path: str, headers: dict, data: Optional[bytes]):
        """The response to ``method path`` (path with its query): an H2Response, or an IResponse of HTTP/1.1
        when the server does not speak h2 (and from then on)."""
        if self.h2 is not None:
            h2_headers = [(k.lower(), v) for k, v in headers.items()]
            response = await self.h2.request(method, path, h2_headers, data or b"")
            if response is not None:
                return response
            log.info("{server} does not offer HTTP/2; using HTTP/1.1", server=self.server)
            self.h2 = None
        return await self.agent.request(method.encode(), (self.server + path).encode(),
                                        Headers({k: [v] for k, v in headers.items()}),
                                        _body(data))

    # -- plain requests ------------------------------------------------------------------------------
    async def request(self, method: str, path: str, body=None, query=None, content_type="application/json"):
        given = {k: v for k, v in query.items() if v is not None} if query else None
        if given:
            path += "?" + urlencode(given, doseq=True)
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else orjson.dumps(body)
            headers["Content-Type"] = content_type
        response = await self._send(method, path, headers, data)
        decoded = _decode(await _content(response))
        if response.code >= 400:
            if not isinstance(decoded, dict):
                decoded = {"message": decoded, "code": response.code}
            raise APIError(response.code, decoded)
        if isinstance(decoded, dict) and decoded.get("kind") == "Status" and decoded.get("status") != "Success":
            # A Status other than Success is an error whatever the HTTP code (client-go's Result.Into): an
            # eviction the server refused without an error code, say.
            raise APIError(decoded.get("code") or response.code, decoded)
        return decoded

    async def get(self, resource: Resource, name: str, namespace: Optional[str] = None,
                  resource_version: Optional[str] = None) -> dict:
        """One object: a consistent read, or with ``resource_version`` "0" whatever the server's cache holds
        (client-go's FromApiserverCache), N a state not older than N."""
        return await self.request("GET", resource.path(namespace, name), query={"resourceVersion": resource_version})

    async def list(self, resource: Resource, namespace: Optional[str] = None, label_selector=None,
                   field_selector=None, **params) -> dict:
        query = {"labelSelector": label_selector, "fieldSelector": field_selector, **params}
        return await self.request("GET", resource.path(namespace), query=query)

    async def create(self, resource: Resource, obj: dict, namespace: Optional[str] = None,
                     subresource: Optional[str] = None, name: Optional[str] = None) -> dict:
        if namespace is None:
            namespace = (obj.get("metadata") or {}).get("namespace")
        return await self.request("POST", resource.path(namespace, name if subresource else None, subresource),
                                  obj)

    async def update(self, resource: Resource, obj: dict, subresource: Optional[str] = None) -> dict:
        meta = obj.get("metadata") or {}
        return await self.request("PUT", resource.path(meta.get("namespace"), meta["name"], subresource), obj)

    async def patch(self, resource: Resource, name: str, patch, namespace: Optional[str] = None,
                    patch_type: str = "merge", subresource: Optional[str] = None,
                    field_manager: Optional[str] = None, force: Optional[bool] = None) -> dict:
        query = {"fieldManager": field_manager, "force": None if force is None else str(force).lower()}
        body = patch if isinstance(patch, bytes) else orjson.dumps(patch)
        return await self.request("PATCH", resource.path(namespace, name, subresource), body, query=query,
                                  content_type=PATCH_TYPES[patch_type])

    async def delete(self, resource: Resource, name: str, namespace: Optional[str] = None,
                     propagation_policy: Optional[str] = None, preconditions: Optional[dict] = None,
                     grace_period_seconds: Optional[int] = None) -> dict:
        options = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if preconditions:
            options["preconditions"] = preconditions
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        return await self.request("DELETE", resource.path(namespace, name), options)

    # -- watch ---------------------------------------------------------------------------------------
    def watch(self, resource: Resource, on_event: Callable[[str, dict], None], namespace: Optional[str] = None,
              resource_version: Optional[str] = None, label_selector=None, field_selector=None,
              allow_bookmarks: bool = True, timeout_seconds: Optional[int] = None,
              send_initial_events: bool = False) -> "Watch":
        """A watch; ``send_initial_events`` asks for a watch-list (resourceVersionMatch=NotOlderThan)."""
        query = {"watch": "true", "resourceVersion": resource_version or None, "labelSelector": label_selector,
                 "fieldSelector": field_selector, "allowWatchBookmarks": "true" if allow_bookmarks else None,
                 "timeoutSeconds": timeout_seconds}
        if send_initial_events:
            query.update(sendInitialEvents="true", resourceVersionMatch="NotOlderThan")
        path = resource.path(namespace) + "?" + urlencode({k: v for k, v in query.items() if v is not None})
        return Watch(self, path, on_event)


class Watch:
    """One watch request: ``on_event(type, object)`` per event; ``done`` fires when the stream ends (errbacks
    with APIError when the server refused the watch, or a 410 ERROR event ended it); ``cancel()`` ends it."""

    def __init__(self, client: Client, path: str, on_event):
        self.on_event = on_event
        self.done: Deferred = Deferred()
        self._stream: Optional[_EventStream] = None
        self._cancelled = False
        self._request = Deferred.fromCoroutine(client._send("GET", path, dict(client.headers), None))
        self._request.addCallbacks(self._response, self._failed)

    def cancel(self) -> None:
        if self._cancelled:
            return
        self._cancelled = True
        if self._stream is not None:
            self._stream.abort()
        else:
            self._request.cancel()

    def _failed(self, failure) -> None:
        if not self.done.called:
            if self._cancelled:
                self.done.callback(None)
            else:
                self.done.errback(failure)

    def _response(self, response) -> None:
        if response.code >= 400:
            body: list = []
            finished = Deferred()
            response.deliverBody(_Collect(body, finished))

            def refused(_):
                status = _decode(b"".join(body))
                if not isinstance(status, dict):
                    status = {"message": status, "code": response.code}
                self._failed_with(APIError(response.code, status))
            finished.addBoth(refused)
            return
        self._stream = _EventStream(self)
        response.deliverBody(self._stream)

    def _failed_with(self, error: Exception) -> None:
        if not self.done.called:
            self.done.errback(error)

    def _ended(self, error: Optional[Exception]) -> None:
        if self.done.called:
            return
        if error is not None and not self._cancelled:
            self.done.errback(error)
        else:
            self.done.callback(None)


class _Collect(protocol.Protocol):
    def __init__(self, into: list, finished: Deferred):
        self.into = into
        self.finished = finished

    def dataReceived(self, data):
        self.into.append(data)

    def connectionLost(self, reason=None):
        self.finished.callback(None)


class _EventStream(protocol.Protocol):
    """A watch body: one JSON event per line (kube-apiserver's framing of application/json watches)."""

    def __init__(self, watch: Watch):
        self.watch = watch
        self.buffer = b""
        self.error: Optional[Exception] = None

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.stopProducing()

    def dataReceived(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        if b"\n" not in buffer:
            self.buffer = buffer
            return
        # A chunk often holds several events (a batch of writes): split once, not line by line.
        *lines, self.buffer = buffer.split(b"\n")
        for line in lines:
            if self.error is not None:
                return
            if line.strip():
                self._event(line)

    def _event(self, line: bytes) -> None:
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            self.error = ValueError(f"watch: undecodable event {line[:200]!r}")
            self.abort()
            return
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            # A Status ends the watch: 410 Expired/Gone means relist.
            self.error = APIError(obj.get("code") or 500, obj)
            self.abort()
            return
        try:
            self.watch.on_event(kind, obj)
        except Exception:
            log.failure("watch event handler failed")

    def connectionLost(self, reason=None):
        error = self.error
        if error is None and reason is not None and not reason.check(ResponseDone) and \
                not self.watch._cancelled:
            from twisted.web._newclient import PotentialDataLoss
            if not reason.check(PotentialDataLoss):
                error = reason.value
        self.watch._ended(error)


def _body(data: Optional[bytes]):
    if data is None:
        return None
    from twisted.web.client import FileBodyProducer
    from io import BytesIO
    return FileBodyProducer(BytesIO(data))


def _content(response) -> Deferred:
    """The whole body of an H2Response or of a twisted.web IResponse."""
    if hasattr(response, "content"):
        return response.content()
    import treq
    return treq.content(response)


def _h2_pool(reactor, server: str, tls) -> Optional[H2Pool]:
    """The HTTP/2 connection of a Client of ``server`` (https), offering h2 and http/1.1 by ALPN."""
    parts = urlsplit(server)
    host, port = parts.hostname, parts.port or 443
    protocols = [b"h2", b"http/1.1"]
    if tls is None:
        from twisted.internet import ssl
        creator = ssl.optionsForClientTLS(host, acceptableProtocols=protocols)
    elif isinstance(tls, KubeconfigTLS):
        creator = tls.creatorForNetloc(host, port, protocols)
    else:
        return None  # another TLS policy: no way to ask it for ALPN
    return H2Pool(reactor, host, port, creator)


def client_from_kubeconfig(path: str, reactor=None, user_agent: Optional[str] = None,
                           http2: Optional[bool] = None) -> Client:
    config = load_kubeconfig(path)
    tls = None
    if config["server"].startswith("https://"):
        tls = KubeconfigTLS(config["ca"], config["cert"], config["key"], config["insecure"])
    return Client(config["server"], config["headers"], reactor=reactor, tls=tls, user_agent=user_agent,
                  http2=http2)


def loopback_client(url: str, reactor=None, user_agent: Optional[str] = None, token: Optional[str] = None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client(url, headers, reactor=reactor, user_agent=user_agent)


__all__ = ["APIError", "Client", "Watch", "client_from_kubeconfig", "loopback_client"]

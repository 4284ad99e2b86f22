"""REST calls to the API server over HTTP(S) with JSON, and watches read as a stream of events."""

from __future__ import annotations

from typing import Callable, Optional
from urllib.parse import urlencode

import orjson
from treq.client import HTTPClient
from twisted.internet import protocol
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web.client import Agent, HTTPConnectionPool, ResponseDone, _HTTP11ClientFactory
from twisted.web.http_headers import Headers

from ..machinery.errors import StatusError
from ..version import KUBERNETES_GIT_VERSION
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
    """A response of 400 or more, with the Status the server sent."""

    def __init__(self, code: int, status: dict):
        super().__init__(code, status.get("reason", ""), status.get("message", ""), status.get("details"))
        self.status = status

    def has_cause(self, cause_type: str) -> bool:
        """Whether the Status's details name a cause of this type (upstream's HasStatusCause)."""
        causes = (self.status.get("details") or {}).get("causes") or []
        return any(c.get("type") == cause_type for c in causes)


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
                 user_agent: Optional[str] = None, max_connections: int = 16):
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

    def close(self) -> Deferred:
        """Close the idle connections (a watch in progress is cancelled by its owner)."""
        return self.pool.closeCachedConnections()

    # -- plain requests ------------------------------------------------------------------------------
    async def request(self, method: str, path: str, body=None, query=None, content_type="application/json"):
        url = self.server + path
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None}, doseq=True)
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else orjson.dumps(body)
            headers["Content-Type"] = content_type
        response = await self.http.request(method, url, data=data, headers=headers)
        decoded = _decode(await response.content())
        if response.code >= 400:
            if not isinstance(decoded, dict):
                decoded = {"message": decoded, "code": response.code}
            raise APIError(response.code, decoded)
        return decoded

    async def get(self, resource: Resource, name: str, namespace: Optional[str] = None) -> dict:
        return await self.request("GET", resource.path(namespace, name))

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
              allow_bookmarks: bool = True, timeout_seconds: Optional[int] = None) -> "Watch":
        query = {"watch": "true", "resourceVersion": resource_version, "labelSelector": label_selector,
                 "fieldSelector": field_selector, "allowWatchBookmarks": "true" if allow_bookmarks else None,
                 "timeoutSeconds": timeout_seconds}
        url = self.server + resource.path(namespace) + "?" + urlencode(
            {k: v for k, v in query.items() if v is not None})
        return Watch(self, url, on_event)


class Watch:
    """One watch request: ``on_event(type, object)`` per event; ``done`` fires when the stream ends (errbacks
    with APIError when the server refused the watch, or a 410 ERROR event ended it); ``cancel()`` ends it."""

    def __init__(self, client: Client, url: str, on_event):
        self.on_event = on_event
        self.done: Deferred = Deferred()
        self._stream: Optional[_EventStream] = None
        self._cancelled = False
        headers = Headers({k: [v] for k, v in client.headers.items()})
        self._request = client.agent.request(b"GET", url.encode(), headers)
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
        self.buffer += data
        while True:
            end = self.buffer.find(b"\n")
            if end < 0:
                return
            line, self.buffer = self.buffer[:end], self.buffer[end + 1:]
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


def client_from_kubeconfig(path: str, reactor=None, user_agent: Optional[str] = None) -> Client:
    config = load_kubeconfig(path)
    tls = None
    if config["server"].startswith("https://"):
        tls = KubeconfigTLS(config["ca"], config["cert"], config["key"], config["insecure"])
    return Client(config["server"], config["headers"], reactor=reactor, tls=tls, user_agent=user_agent)


def loopback_client(url: str, reactor=None, user_agent: Optional[str] = None, token: Optional[str] = None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client(url, headers, reactor=reactor, user_agent=user_agent)


__all__ = ["APIError", "Client", "Watch", "client_from_kubeconfig", "loopback_client"]

"""
The Available condition of remote APIServices (those naming a service), as kube-aggregator's availability
controller keeps it: the service must exist and listen on the APIService's port, its Endpoints must have an
address for that port, and the extension apiserver must answer ``GET /apis/<group>/<version>`` with a 2xx
(asked as system:kube-aggregator in system:masters).  Checked when an APIService, Service or Endpoints
changes, and every ``interval`` seconds on the injected clock.
"""

from __future__ import annotations

import copy
import json

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web.client import Agent, readBody
from twisted.web.http_headers import Headers

from ..auth.user import UserInfo
from ..endpoints import aggregator, forward
from ..machinery import meta
from ..machinery.errors import StatusError
from ..registry.options import ListOptions

log = Logger()

CHECKER = UserInfo(name="system:kube-aggregator", groups=["system:masters"])
# How long one discovery check may take, as upstream's check allows.
CHECK_TIMEOUT = 6.0


class APIServiceAvailability:
    def __init__(self, registry, clock, remote, interval: float = 30.0, writes_status: bool = True):
        # remote: () -> endpoints.aggregator.RemoteAPIServices, built once the handlers are.  writes_status:
        # False in a --workers worker, which fetches each remote server's discovery and OpenAPI for its own
        # aggregator and leaves the Available condition to the primary.
        self.writes_status = writes_status
        self.registry = registry
        self.clock = clock
        self.remote = remote
        self.interval = interval
        self._call = None
        self._watches: list = []
        self._stopped = False
        self._running = False
        self._again = False

    async def start(self) -> None:
        store = self.registry.lookup(aggregator.GROUP, aggregator.VERSION, aggregator.RESOURCE)
        if store is None:
            return
        for group, resource in (("apiregistration.k8s.io", "apiservices"), ("", "services"), ("", "endpoints")):
            watched = self.registry.lookup(group, "v1", resource)
            if watched is not None:
                self._watches.append(await watched.watch_events(None, ListOptions(), self._event))
        self._tick()

    def stop(self) -> None:
        self._stopped = True
        if self._call is not None and self._call.active():
            self._call.cancel()
        for watch in self._watches:
            watch.cancel()
        self._watches = []

    def _event(self, event_type: str, obj: dict) -> None:
        if event_type == "DELETED" and self.remote() is not None:
            spec = obj.get("spec") or {}
            self.remote().forget(spec.get("group", ""), spec.get("version", ""))
        if event_type in ("ADDED", "MODIFIED", "DELETED"):
            self._kick()

    def _tick(self) -> None:
        self._kick()
        if not self._stopped:
            self._call = self.clock.callLater(self.interval, self._tick)

    def _kick(self) -> None:
        """Check every remote APIService, once more after the running pass when asked during it."""
        if self._stopped:
            return
        if self._running:
            self._again = True
            return
        self._running = True
        d = Deferred.fromCoroutine(self.sync())
        d.addErrback(lambda f: log.failure("checking the remote APIServices failed", f))

        def done(_):
            self._running = False
            if self._again:
                self._again = False
                self._kick()
        d.addBoth(done)

    async def sync(self) -> None:
        store = self.registry.lookup(aggregator.GROUP, aggregator.VERSION, aggregator.RESOURCE)
        items, _ = await store.list(None, ListOptions())
        for apiservice in items:
            if aggregator.remote_service(apiservice) is None:
                continue
            status, reason, message = await self.check(apiservice)
            if self.writes_status:
                await self._set(store, apiservice, status, reason, message)

    async def check(self, apiservice: dict) -> tuple[str, str, str]:
        """(status, reason, message) of the APIService's Available condition."""
        service = aggregator.remote_service(apiservice)
        try:
            host, port = await aggregator.resolve(self.registry, service)
        except aggregator.ResolveError as e:
            self._forget(apiservice)
            return "False", e.reason, e.message
        spec = apiservice.get("spec") or {}
        remote = self.remote()
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        url = f"https://{netloc}/apis/{spec.get('group', '')}/{spec.get('version', '')}"
        if remote is None:
            return "False", "FailedDiscoveryCheck", f"failing or missing response from {url}: not serving yet"
        try:
            code = await self._get(remote, apiservice, host, port, url)
        except Exception as e:
            self._forget(apiservice)
            return "False", "FailedDiscoveryCheck", f"failing or missing response from {url}: {forward._reason(e)}"
        if not 200 <= code < 300:
            return "False", "FailedDiscoveryCheck", \
                f"failing or missing response from {url}: bad status from {url}: {code}"
        return "True", "Passed", "all checks passed"

    def _forget(self, apiservice: dict) -> None:
        """Drop what was fetched from an APIService that cannot be reached."""
        remote, spec = self.remote(), apiservice.get("spec") or {}
        if remote is not None:
            remote.forget(spec.get("group", ""), spec.get("version", ""))

    async def _fetch(self, remote, apiservice: dict, host: str, port: int, url: str) -> tuple[int, bytes]:
        agent = Agent.usingEndpointFactory(self.clock, forward._Backend(remote.dialer(apiservice), host, port))
        headers = Headers({b"Accept": [b"application/json"]})
        for name, values in aggregator.front_proxy_headers(CHECKER):
            headers.setRawHeaders(name, values)
        d = agent.request(b"GET", url.replace("https://", "http://", 1).encode(), headers)
        timeout = self.clock.callLater(CHECK_TIMEOUT, d.cancel)
        try:
            response = await d
            body = await readBody(response)
        finally:
            if timeout.active():
                timeout.cancel()
        return response.code, body

    async def _get(self, remote, apiservice: dict, host: str, port: int, url: str) -> int:
        code, body = await self._fetch(remote, apiservice, host, port, url)
        spec = apiservice.get("spec") or {}
        key = (spec.get("group", ""), spec.get("version", ""))
        try:
            document = json.loads(body) if 200 <= code < 300 else None
        except ValueError:
            document = None
        if isinstance(document, dict) and document.get("kind") == "APIResourceList":
            remote.discovered[key] = document
            await self._fetch_openapi(remote, apiservice, host, port, url.split("/apis/", 1)[0], key)
        else:
            remote.forget(*key)
        return code

    async def _fetch_openapi(self, remote, apiservice: dict, host: str, port: int, base: str, key) -> None:
        """The server's /openapi/v2 and /openapi/v3/apis/<group>/<version>, kept for /openapi on this
        server (a server without them, or answering badly, is left out of it; its availability is not
        affected, as upstream's aggregator does)."""
        try:
            code, body = await self._fetch(remote, apiservice, host, port, f"{base}/openapi/v2")
            document = json.loads(body) if code == 200 else None
            if isinstance(document, dict) and isinstance(document.get("paths"), dict):
                remote.openapi_v2[key] = document
            else:
                remote.openapi_v2.pop(key, None)
            code, body = await self._fetch(remote, apiservice, host, port,
                                           f"{base}/openapi/v3/apis/{key[0]}/{key[1]}")
            if code == 200 and isinstance(json.loads(body), dict):
                remote.openapi_v3[key] = body
            else:
                remote.openapi_v3.pop(key, None)
        except Exception as e:
            log.info("OpenAPI of {group}/{version} not fetched: {error}", group=key[0], version=key[1],
                     error=forward._reason(e))

    async def _set(self, store, apiservice: dict, status: str, reason: str, message: str) -> None:
        conditions = (apiservice.get("status") or {}).get("conditions") or []
        current = next((c for c in conditions if c.get("type") == "Available"), None)
        if current is not None and (current.get("status"), current.get("reason"), current.get("message")) == \
                (status, reason, message):
            return
        now = meta.rfc3339(self.clock.seconds())

        def update(old: dict) -> dict:
            new = copy.deepcopy(old)
            kept = [c for c in (new.get("status") or {}).get("conditions") or [] if c.get("type") != "Available"]
            previous = next((c for c in (new.get("status") or {}).get("conditions") or []
                             if c.get("type") == "Available"), None)
            moved = previous is None or previous.get("status") != status
            condition = {"type": "Available", "status": status,
                         "lastTransitionTime": now if moved else previous.get("lastTransitionTime", now),
                         "reason": reason, "message": message}
            new["status"] = dict(new.get("status") or {}, conditions=kept + [condition])
            return new
        try:
            await store.update(None, apiservice["metadata"]["name"], update, subresource="status")
        except StatusError as e:
            if e.code not in (404, 409):
                raise

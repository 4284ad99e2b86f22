"""
The HTTP root: routes every request by its RequestInfo.  Resource requests go
to the resource handlers; the rest are discovery, OpenAPI, version and health.
"""

from __future__ import annotations

import contextvars
import time
from typing import Optional

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from ..auth.context import current_user
from ..auth.filters import insecure
from ..logs import log_request
from ..machinery import errors
from ..machinery.errors import StatusError
from . import nonresource, reviews
from .api import APIContext, ResourceHandler
from .apf import Rejected
from .http import when_finished, write_failure
from .requestinfo import request_info_of

log = Logger()
# How long a --workers process waits for the CRDs' cache before it calls a resource unknown.
CRD_CATCH_UP_TIMEOUT = 5.0


def _write_error(request, exc: BaseException) -> None:
    """A handler's error as its Status; one that asks the client to wait says so in Retry-After
    too, as upstream writes every such error."""
    if isinstance(exc, Rejected):
        return      # flow control has answered already
    if isinstance(exc, StatusError) and isinstance(exc.details, dict):
        retry_after = exc.details.get("retryAfterSeconds") or 0
        if retry_after > 0:
            request.setHeader(b"Retry-After", str(retry_after).encode())
    write_failure(request, exc)


def _step(coroutine, context, result) -> tuple[bool, object]:
    """Run ``coroutine`` in ``context`` up to its next wait, as Twisted's coroutine runner does: ``result`` is
    sent in, or thrown in where it is a Failure.  (False, what it now awaits) while it runs; (True, what it
    returned, or the Failure of what it raised) once it has ended."""
    try:
        if isinstance(result, Failure):
            return False, context.run(result.throwExceptionIntoGenerator, coroutine)
        return False, context.run(coroutine.send, result)
    except StopIteration as stop:
        return True, stop.value
    except BaseException:
        return True, Failure()


def _resume_when(waiting, coroutine, context, done: Deferred) -> None:
    """Resume ``coroutine`` in ``context`` once ``waiting`` (the Deferred it awaits) has fired, and so on until
    it ends: ``done`` fires with what it returns, or fails with what it raises.  The coroutine is resumed from
    the Deferred's own callback, so its await reads the result there."""
    if not isinstance(waiting, Deferred):
        done.errback(TypeError(f"a request's handler awaited {waiting!r}, not a Deferred"))
        return

    def resume(result):
        ended, value = _step(coroutine, context, result)
        if ended:
            done.callback(value)    # a Failure fails it
        else:
            _resume_when(value, coroutine, context, done)
    waiting.addBoth(resume)


class APIRoot(Resource):
    isLeaf = True

    def __init__(self, context: APIContext, health=None, security=None, audit=None):
        super().__init__()
        self.context = context
        # security: kapiserver.auth.filters.Security on the secure port; None serves as the insecure port.
        self.security = security
        self.audit = audit
        self.handler = ResourceHandler(context)
        self.nonresource = nonresource.NonResourceHandler(context, health)

    def render(self, request):
        started = time.monotonic()
        received = time.time()
        when_finished(request, lambda result: setattr(request, "_disconnected", True)
                      if isinstance(result, Failure) else None)
        # The handler's coroutine, run as Deferred.fromCoroutine would run it, each step in one context of its
        # own (the user, response record and quota marks it sets stay the request's), but without a Deferred
        # for a request answered without waiting (a read the watch cache serves).
        serve = self._serve(request)
        context = contextvars.copy_context()
        ended, value = _step(serve, context, None)
        if not ended:
            done = Deferred()
            done.addBoth(self._served, request, started, received)
            _resume_when(value, serve, context, done)
            return NOT_DONE_YET
        try:
            self._served(value, request, started, received)
        except Exception:
            # As the Deferred above would keep it: logged, the request left to twisted.web (an HTTP/2 stream the
            # client reset before the answer refuses it).
            log.failure("answering {method} {path} failed", method=request.method, path=request.path)
        return NOT_DONE_YET

    def _served(self, result, request, started: float, received: float) -> None:
        """The request's handler is done: its error answered, the request counted and logged, and audited."""
        try:
            if isinstance(result, Failure):
                _write_error(request, result.value)
        finally:
            self._log(request, started)
            if self.audit is not None:
                self.audit.log(request, getattr(request, "kapi_info", None), received, time.time())

    def _log(self, request, started: float) -> None:
        elapsed = time.monotonic() - started
        self.context.metrics.request_done(request, elapsed)
        log_request(request.method, request.uri, request.code, elapsed)

    def _elsewhere(self, request) -> Optional[tuple[str, str]]:
        """The (group, version) of a request under /apis/ for a group-version not served here (an extension
        apiserver's, if an APIService names one), else None."""
        if getattr(self.context, "aggregator", None) is None:
            return None
        parts = request.path.split(b"/")
        if len(parts) < 4 or parts[1] != b"apis" or not parts[2] or not parts[3]:
            return None
        group, version = parts[2].decode("utf-8", "replace"), parts[3].decode("utf-8", "replace")
        if version in self.context.registry.catalog.versions(group):
            return None     # served here: its APIService is a local one
        return group, version

    async def _proxied(self, request, group: str, version: str) -> bool:
        """Whether the request has been proxied to the extension apiserver of its group-version."""
        aggregator = self.context.aggregator
        apiservice = await aggregator.lookup(group, version)
        if apiservice is None:
            return False
        await aggregator.proxy(request, apiservice, current_user())
        return True

    async def _inject(self, request, info) -> bool:
        """Apply the fault rule that fires for this request, if any (--enable-fault-injection); whether the
        request has been answered (dropped) by it.  A Status it asks for is raised; a watch's 410 and 504,
        and its event budget, are for serve_watch (kapiserver.endpoints.watch)."""
        rule = self.context.faults.match(info, current_user().name)
        if rule is None:
            return False
        if rule.latency:
            from twisted.internet.task import deferLater
            await deferLater(self.context.reactor, rule.latency, lambda: None)
        if rule.drop:
            transport = getattr(request, "transport", None) or getattr(request.channel, "transport", None)
            if transport is not None:
                abort = getattr(transport, "abortConnection", None) or transport.loseConnection
                abort()
            request._disconnected = True
            return True
        error = rule.error(info)
        if error is not None and not (info.verb == "watch" and error.code in (410, 504)):
            raise error
        request.kapi_fault = rule
        return False

    async def _defined_meanwhile(self, info):
        """With --workers, a CRD another process has just written reaches this one through its watch: before a
        resource is called unknown, the CRDs' cache catches up with the store and hands the CRDs' controller
        what it has (the next turn), so a client that saw its CRD created finds its resource on any process.
        The resource's ResourceInfo, or None still."""
        from twisted.internet.task import deferLater
        registry = self.context.registry
        crds = registry.lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        if crds is None:
            return None
        await crds.reads.caught_up(CRD_CATCH_UP_TIMEOUT)
        await deferLater(self.context.reactor, 0, lambda: None)
        return registry.catalog.lookup(info.api_group, info.api_version, info.resource)

    async def _serve(self, request) -> None:
        # Parsed once per request: the runtime's long-running check may have done it already.
        info = request_info_of(request)
        request.kapi_info = info
        # Authentication, impersonation and authorization before anything is dispatched.
        flow_control = getattr(self.context, "flow_control", None)
        gate = flow_control.admit if flow_control is not None else None
        try:
            if self.security is not None:
                await self.security.filter(request, info, gate)
            else:
                user = insecure(request)
                if gate is not None:
                    waiting = gate(request, info, user)
                    if waiting is not None:
                        await waiting
        except Rejected:
            if info.is_resource_request:
                self.context.metrics.route(request, info)     # counted as a 429, as upstream counts it
            raise
        if self.context.faults is not None and info.is_resource_request:
            if await self._inject(request, info):
                return
        elsewhere = self._elsewhere(request)
        if elsewhere is not None and await self._proxied(request, *elsewhere):
            return
        if not info.is_resource_request:
            await self.nonresource.handle(request, info)
            return
        catalog = self.context.registry.catalog
        resource_info = catalog.lookup(info.api_group, info.api_version, info.resource)
        if resource_info is None and getattr(self.context.config, "worker_of", None):
            resource_info = await self._defined_meanwhile(info)
        if resource_info is None:
            raise errors.path_not_found()
        # Routed: from here the request counts in the request metrics, as upstream's instrumented routes.
        self.context.metrics.route(request, info, resource_info)
        if reviews.is_virtual(resource_info):
            await reviews.handle(self.handler, request, info, resource_info)
            return
        store = self.context.registry.lookup(info.api_group, info.api_version, info.resource)
        if store is None:
            raise errors.path_not_found()
        await self.handler.handle(request, info, store)

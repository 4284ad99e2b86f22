"""kube-controller-manager's controllers run inside kube-apiserver (its --embedded-controllers, for users who
run the apiserver alone): the same controller code, a client of the apiserver through a loopback listener
like any other client (DESIGN.md rule 8).

The loopback listener (127.0.0.1, a port of the system's choosing) answers only requests carrying a bearer
token made at start and known to this process alone, as upstream's loopback client token; what it serves is
the apiserver's privileged (system:masters) handler."""

from __future__ import annotations

import hmac
import secrets
from typing import List, Optional

import orjson
from twisted.application import service
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web.resource import Resource

from ..client.rest import Client, loopback_client
from ..listener import QuietSite
from ..version import KUBERNETES_GIT_VERSION
from .manager import ControllerManager

log = Logger()


class _Unauthorized(Resource):
    isLeaf = True

    def render(self, request):
        request.setResponseCode(401)
        request.setHeader(b"content-type", b"application/json")
        return orjson.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                             "message": "Unauthorized", "reason": "Unauthorized", "code": 401})


class LoopbackSite(QuietSite):
    """Serves ``privileged`` (a Site, built later) to requests with this site's bearer ``token``."""

    def __init__(self, privileged: QuietSite, token: Optional[str] = None):
        super().__init__(Resource())
        self.privileged = privileged
        self.token = token or secrets.token_urlsafe(32)
        self._expected = f"Bearer {self.token}".encode()

    def buildProtocol(self, addr):
        # The privileged site's channel (header limits, HTTP/2) exists only once its handlers are built.
        self.protocol = self.privileged.protocol
        return super().buildProtocol(addr)

    def getResourceFor(self, request):
        given = request.getHeader(b"authorization") or ""
        if not hmac.compare_digest(given.encode() if isinstance(given, str) else given, self._expected):
            return _Unauthorized()
        return self.privileged.getResourceFor(request)


class EmbeddedControllers(service.Service):
    """Runs the named controllers through a loopback client to ``listener`` (serving a LoopbackSite) once it
    listens; they start in the background, holding up no later service."""

    def __init__(self, reactor, listener, names: List[str], options: dict):
        self.reactor = reactor
        self.listener = listener
        self.names = names
        self.options = options
        self.client: Optional[Client] = None
        self.manager: Optional[ControllerManager] = None

    def startService(self):
        super().startService()
        self.listener.listening.addCallback(lambda port: (self._start(port), port)[1])

    def _start(self, port) -> None:
        if not self.running or self.manager is not None:
            return
        address = port.getHost()
        self.client = loopback_client(f"http://127.0.0.1:{address.port}", self.reactor,
                                      user_agent=f"kube-apiserver/{KUBERNETES_GIT_VERSION} (loopback)",
                                      token=self.listener.factory.token)
        self.manager = ControllerManager(self.client, self.reactor, self.names, self.options)
        d = Deferred.fromCoroutine(self.manager.start())
        d.addErrback(lambda f: log.failure("the apiserver's controllers failed to start", f))
        log.info("Running {names} through the loopback client", names=", ".join(self.names))

    def stopService(self):
        super().stopService()
        manager, self.manager = self.manager, None
        if manager is not None:
            manager.stop()
        client, self.client = self.client, None
        if client is not None:
            return client.close()
        return None

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

from ..client.informer import SharedInformerFactory
from ..client.resources import LEASES
from ..client.rest import Client, loopback_client
from ..machinery import meta
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

    # The apiserver's own clients: a store reset leaves their watches open (kapiserver.endpoints.storereset).
    loopback = True

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
    listens; they start in the background, holding up no later service.  While a kube-controller-manager
    leads (holds a live kube-system/kube-controller-manager Lease) they step aside, so that the two copies
    never contend (over kube-root-ca.crt's CA, say); they run again once its Lease lapses."""

    CHECK_INTERVAL = 2.0

    def __init__(self, reactor, listener, names: List[str], options: dict):
        self.reactor = reactor
        self.listener = listener
        self.names = names
        self.options = options
        self.client: Optional[Client] = None
        self.manager: Optional[ControllerManager] = None
        self._leases = None
        self._check = None

    def startService(self):
        super().startService()
        self.listener.listening.addCallback(lambda port: (self._start(port), port)[1])

    def _start(self, port) -> None:
        if not self.running or self.client is not None:
            return
        address = port.getHost()
        self.client = loopback_client(f"http://127.0.0.1:{address.port}", self.reactor,
                                      user_agent=f"kube-apiserver/{KUBERNETES_GIT_VERSION} (loopback)",
                                      token=self.listener.factory.token)
        self._leases = SharedInformerFactory(self.client, self.reactor)
        self._lease = self._leases.informer(LEASES, namespace=LEASE_NAMESPACE,
                                            field_selector=f"metadata.name={LEASE_NAME}")
        self._leases.start()
        d = Deferred.fromCoroutine(self._leases.wait_for_cache_sync())
        d.addCallback(lambda _: self._reconcile())
        d.addErrback(self._start_failed)

    def _start_failed(self, failure) -> None:
        # Stopped while starting (the apiserver shutting down): its requests were cut short, nothing failed.
        if self.running:
            log.failure("the apiserver's controllers failed to start", failure)

    def _reconcile(self) -> None:
        """Run the controllers unless a kube-controller-manager leads; look again in a while."""
        self._check = None
        if not self.running:
            return
        lease = self._lease.indexer.get_by_key(LEASE_NAMESPACE, LEASE_NAME)
        if controller_manager_leads(lease, self.reactor.seconds()):
            if self.manager is not None:
                log.info("kube-controller-manager leads: the apiserver's own controllers step aside")
                self.manager.stop()
                self.manager = None
        elif self.manager is None:
            self.manager = ControllerManager(self.client, self.reactor, self.names, self.options)
            d = Deferred.fromCoroutine(self.manager.start())
            d.addErrback(self._start_failed)
            log.info("Running {names} through the loopback client", names=", ".join(self.names))
        self._check = self.reactor.callLater(self.CHECK_INTERVAL, self._reconcile)

    def stopService(self):
        super().stopService()
        if self._check is not None and self._check.active():
            self._check.cancel()
        self._check = None
        manager, self.manager = self.manager, None
        if manager is not None:
            manager.stop()
        if self._leases is not None:
            self._leases.stop()
        client, self.client = self.client, None
        if client is not None:
            return client.close()
        return None


LEASE_NAMESPACE, LEASE_NAME = "kube-system", "kube-controller-manager"


def controller_manager_leads(lease: Optional[dict], now: float) -> bool:
    """A kube-controller-manager holds its Lease and renewed it within the lease's duration."""
    spec = (lease or {}).get("spec") or {}
    if not spec.get("holderIdentity") or not spec.get("renewTime"):
        return False
    try:
        renewed = meta.parse_time(spec["renewTime"])
    except ValueError:
        return False
    return renewed + float(spec.get("leaseDurationSeconds") or 0) > now

"""The controller manager: one client, one set of shared informers, the selected controllers; with leader
election they run only while this process holds the kube-system/kube-controller-manager Lease."""

from __future__ import annotations

import socket
import uuid
from typing import List, Optional

from twisted.application import service
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ..client.informer import SharedInformerFactory
from ..client.leaderelection import LeaderElector, LeaseClient
from ..client.rest import Client
from . import registry
from .context import ControllerContext

log = Logger()


class ControllerManager:
    """Starts the named controllers on one ControllerContext; ``stop`` ends them and the informers."""

    def __init__(self, client: Client, clock, names: List[str], options: Optional[dict] = None,
                 host: Optional[str] = None):
        self.client = client
        self.clock = clock
        self.names = list(names)
        self.informers = SharedInformerFactory(client, clock)
        self.context = ControllerContext(client, self.informers, clock, options, host)
        self.controllers: dict = {}

    async def start(self) -> None:
        for name in self.names:
            self.controllers[name] = registry.starter(name)(self.context)
            log.info("Started controller {name}", name=name)
        self.informers.start()
        for name, controller in self.controllers.items():
            await controller.run()

    def stop(self) -> None:
        for controller in self.controllers.values():
            controller.stop()
        self.controllers.clear()
        self.informers.stop()


class ControllerManagerService(service.Service):
    """kube-controller-manager's service: campaign for the lease (or not), run the controllers while leading."""

    def __init__(self, reactor, client: Client, names: List[str], options: dict):
        self.reactor = reactor
        self.client = client
        self.names = names
        self.options = options
        self.manager: Optional[ControllerManager] = None
        self.elector: Optional[LeaderElector] = None
        self.identity = f"{socket.gethostname()}_{uuid.uuid4()}"

    def startService(self):
        super().startService()
        if self.options.get("leader-elect", True):
            self.elector = LeaderElector(
                LeaseClient(self.client), self.reactor, self.identity,
                self.options.get("leader-elect-resource-name") or "kube-controller-manager",
                namespace=self.options.get("leader-elect-resource-namespace") or "kube-system",
                lease_duration=self.options.get("leader-elect-lease-duration", 15.0),
                renew_deadline=self.options.get("leader-elect-renew-deadline", 10.0),
                retry_period=self.options.get("leader-elect-retry-period", 2.0),
                on_started_leading=self._lead, on_stopped_leading=self._follow)
            d = Deferred.fromCoroutine(self.elector.start())
        else:
            d = Deferred.fromCoroutine(self._lead())
        d.addErrback(lambda f: log.failure("kube-controller-manager failed to start", f))

    async def _lead(self) -> None:
        log.info("{identity} became leader", identity=self.identity)
        self.manager = ControllerManager(self.client, self.reactor, self.names, self.options,
                                         host=socket.gethostname())
        await self.manager.start()

    def _follow(self) -> None:
        # Upstream exits when it loses the lease ("leaderelection lost"); stopping the controllers and
        # campaigning again is the same for everyone else.
        log.warn("leader election lost: stopping the controllers")
        if self.manager is not None:
            self.manager.stop()
            self.manager = None

    def stopService(self):
        super().stopService()
        if self.manager is not None:
            self.manager.stop()
            self.manager = None
        d = self.elector.stop() if self.elector is not None else None
        self.reactor.callLater(0, self.client.close)
        return d

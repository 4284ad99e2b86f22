"""The controller manager: one client, one set of shared informers, the selected controllers; with leader
election they run only while this process holds the kube-system/kube-controller-manager Lease."""

from __future__ import annotations

import socket
from typing import List, Optional

from twisted.application import service
from twisted.logger import Logger

from ..client.informer import SharedInformerFactory, drop_managed_fields
from ..client.leaderelection import LeaderElectedDaemon
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
        # As upstream's: the informers drop managedFields, which no controller reads.
        self.informers = SharedInformerFactory(client, clock, transform=drop_managed_fields)
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


class ControllerManagerService(LeaderElectedDaemon, service.Service):
    """kube-controller-manager's service: campaign for the lease (or not), run the controllers while leading."""

    lease_name = "kube-controller-manager"
    component = "kube-controller-manager"

    def __init__(self, reactor, client: Client, names: List[str], options: dict):
        super().__init__(reactor, client, options)
        self.names = names
        self.manager: Optional[ControllerManager] = None

    async def lead(self) -> None:
        self.manager = ControllerManager(self.client, self.reactor, self.names, self.options,
                                         host=socket.gethostname())
        await self.manager.start()

    def follow(self) -> None:
        if self.manager is not None:
            self.manager.stop()
            self.manager = None

"""The controller manager: one client, one set of shared informers, the selected controllers; with leader
election they run only while this process holds the kube-system/kube-controller-manager Lease.  Its /healthz,
as upstream's cmd/kube-controller-manager/app/controllermanager.go registers it (kapiserver.healthserver):
leaderElection, then a ping check named after each controller once the controllers are started."""

from __future__ import annotations

import socket
from typing import List, Optional

from twisted.application import service
from twisted.logger import Logger

from .. import healthserver
from ..client.informer import SharedInformerFactory, drop_managed_fields
from ..client.leaderelection import LeaderElectedDaemon
from ..client.rest import Client
from . import registry
from .context import ControllerContext

log = Logger()


class ControllerManager:
    """Starts the named controllers on one ControllerContext; ``stop`` ends them and the informers."""

    def __init__(self, client: Client, clock, names: List[str], options: Optional[dict] = None,
                 host: Optional[str] = None, healthz: Optional[healthserver.HealthEndpoint] = None):
        self.client = client
        self.healthz = healthz
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
        if self.healthz is not None:
            # As upstream's StartControllers: one check per controller started (not one skipped for want of
            # its configuration), added together once all are.
            self.healthz.add(*(healthserver.named_ping(name) for name, controller in self.controllers.items()
                               if not getattr(controller, "skipped", False)))
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
        if options.get("leader-elect", True):
            self.watchdog = healthserver.LeaderElectionCheck()
        self.healthz = healthserver.HealthEndpoint("/healthz", [self.watchdog] if self.watchdog else [],
                                                   check_paths=False)

    def health_endpoints(self, shutdown) -> list:
        """/healthz alone, without per-check paths (upstream's NewBaseHandler mounts the mutable healthz handler
        on /healthz only); no shutdown check, as upstream registers none."""
        return [self.healthz]

    async def lead(self) -> None:
        self.manager = ControllerManager(self.client, self.reactor, self.names, self.options,
                                         host=socket.gethostname(), healthz=self.healthz)
        await self.manager.start()

    def follow(self) -> None:
        if self.manager is not None:
            self.manager.stop()
            self.manager = None

"""kube-scheduler's service: campaign for the kube-system/kube-scheduler Lease (or not, with
--leader-elect=false) and run a Scheduler while leading."""

from __future__ import annotations

import socket
import uuid
from typing import Optional

from twisted.application import service
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ..client.leaderelection import LeaderElector, LeaseClient
from ..client.rest import Client
from .scheduler import Scheduler

log = Logger()


class SchedulerService(service.Service):
    def __init__(self, reactor, client: Client, options: dict):
        self.reactor = reactor
        self.client = client
        self.options = options
        self.scheduler: Optional[Scheduler] = None
        self.elector: Optional[LeaderElector] = None
        self.identity = f"{socket.gethostname()}_{uuid.uuid4()}"

    def startService(self):
        super().startService()
        if self.options.get("leader-elect", True):
            self.elector = LeaderElector(
                LeaseClient(self.client), self.reactor, self.identity,
                self.options.get("leader-elect-resource-name") or "kube-scheduler",
                namespace=self.options.get("leader-elect-resource-namespace") or "kube-system",
                lease_duration=self.options.get("leader-elect-lease-duration", 15.0),
                renew_deadline=self.options.get("leader-elect-renew-deadline", 10.0),
                retry_period=self.options.get("leader-elect-retry-period", 2.0),
                on_started_leading=self._lead, on_stopped_leading=self._follow)
            d = Deferred.fromCoroutine(self.elector.start())
        else:
            d = Deferred.fromCoroutine(self._lead())
        d.addErrback(lambda f: log.failure("kube-scheduler failed to start", f))

    async def _lead(self) -> None:
        log.info("{identity} became leader", identity=self.identity)
        self.scheduler = Scheduler(self.client, self.reactor, profiles=self.options.get("profiles"),
                                   percentage_of_nodes_to_score=self.options.get("percentage-of-nodes-to-score", 0))
        await self.scheduler.run()

    def _follow(self) -> None:
        # Upstream exits when it loses the lease; stopping and campaigning again is the same to everyone else.
        if self.running:
            log.warn("leader election lost: stopping the scheduler")
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None

    def stopService(self):
        super().stopService()    # running is False from here: the elector's stop is no lost election
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        d = self.elector.stop() if self.elector is not None else None
        self.reactor.callLater(0, self.client.close)
        return d

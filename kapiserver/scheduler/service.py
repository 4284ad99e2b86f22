"""kube-scheduler's service: campaign for the kube-system/kube-scheduler Lease (or not, with
--leader-elect=false) and run a Scheduler while leading."""

from __future__ import annotations

from typing import Optional

from twisted.application import service

from ..client.leaderelection import LeaderElectedDaemon
from .scheduler import Scheduler


class SchedulerService(LeaderElectedDaemon, service.Service):
    lease_name = "kube-scheduler"
    component = "kube-scheduler"

    def __init__(self, reactor, client, options: dict):
        super().__init__(reactor, client, options)
        self.scheduler: Optional[Scheduler] = None

    async def lead(self) -> None:
        self.scheduler = Scheduler(self.client, self.reactor, profiles=self.options.get("profiles"),
                                   percentage_of_nodes_to_score=self.options.get("percentage-of-nodes-to-score", 0))
        await self.scheduler.run()

    def follow(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None

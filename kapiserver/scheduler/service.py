"""kube-scheduler's service: campaign for the kube-system/kube-scheduler Lease (or not, with
--leader-elect=false) and run a Scheduler while leading; and its health checks, as upstream's
cmd/kube-scheduler/app/server.go registers them (kapiserver.healthserver)."""

from __future__ import annotations

from typing import Optional

from twisted.application import service

from .. import healthserver
from ..client.leaderelection import LeaderElectedDaemon
from .scheduler import Scheduler


class SchedulerService(LeaderElectedDaemon, service.Service):
    lease_name = "kube-scheduler"
    component = "kube-scheduler"

    def __init__(self, reactor, client, options: dict):
        super().__init__(reactor, client, options)
        self.scheduler: Optional[Scheduler] = None
        if options.get("leader-elect", True):
            self.watchdog = healthserver.LeaderElectionCheck()
        # Set once a scheduler's informers have synced (upstream's handlerSyncReadyCh, closed once).
        self.handlers_synced = False

    def health_endpoints(self, shutdown) -> list:
        """/healthz: leaderElection (ping without leader election); /livez: ping; /readyz: leaderElection,
        shutdown, sched-handler-sync."""
        election = [self.watchdog] if self.watchdog is not None else []
        return [healthserver.HealthEndpoint("/healthz", election),
                healthserver.HealthEndpoint("/livez"),
                healthserver.HealthEndpoint("/readyz", [*election, shutdown, healthserver.HealthCheck(
                    "sched-handler-sync", self._check_handlers_synced)])]

    def _check_handlers_synced(self) -> None:
        if not self.handlers_synced:
            # 1.32's words; 1.33 says "handlers are not fully synchronized".
            raise RuntimeError("waiting for handlers to sync")

    async def lead(self) -> None:
        scheduler = self.scheduler = Scheduler(
            self.client, self.reactor, profiles=self.options.get("profiles"),
            percentage_of_nodes_to_score=self.options.get("percentage-of-nodes-to-score", 0))
        await scheduler.run()
        if scheduler.running:       # synced, not stopped while waiting
            self.handlers_synced = True

    def follow(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None

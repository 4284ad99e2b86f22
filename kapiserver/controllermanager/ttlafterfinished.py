"""ttl-after-finished-controller: deletes a finished Job ``spec.ttlSecondsAfterFinished`` after it finished
(pkg/controller/ttlafterfinished): the finish time is the Complete/Failed condition's lastTransitionTime; before
that the Job is requeued for its expiry by the injected clock; when due, the Job is read again from the API
and deleted in the foreground with its uid as precondition."""

from __future__ import annotations

from typing import Optional

from ..client.cache import split_key
from ..client.resources import JOBS
from ..client.rest import APIError, get_or_none
from ..machinery import meta
from .context import ControllerContext, QueueController
from .jobutil import finished_condition


def needs_cleanup(job: dict) -> bool:
    return (job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None and finished_condition(job) is not None


def time_left(job: dict, now: float) -> Optional[float]:
    """Seconds until the job expires (<= 0: expired), or None if it is not to be cleaned up."""
    if not needs_cleanup(job):
        return None
    condition = finished_condition(job)
    finished_at = meta.parse_time(condition["lastTransitionTime"]) if condition.get("lastTransitionTime") else now
    return finished_at + job["spec"]["ttlSecondsAfterFinished"] - now


class TTLAfterFinishedController(QueueController):
    name = "ttl-after-finished-controller"
    workers_option = "concurrent-ttl-after-finished-syncs"
    default_workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.jobs = self.informer(JOBS)
        self.jobs.add_event_handler(on_add=self._changed, on_update=lambda old, new: self._changed(new))

    def _changed(self, job: dict) -> None:
        if job["metadata"].get("deletionTimestamp") is None and needs_cleanup(job):
            self.enqueue(job)

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        job = self.jobs.indexer.get_by_key(namespace, name)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return
        left = time_left(job, self.clock.seconds())
        if left is None:
            return
        if left > 0:
            self.queue.add_after(key, left)
            return
        # The cache may be stale (the TTL changed, the job restarted): decide again on a fresh read.
        fresh = await get_or_none(self.client, JOBS, name, namespace)
        if fresh is None:
            return
        left = time_left(fresh, self.clock.seconds())
        if left is None or fresh["metadata"].get("deletionTimestamp"):
            return
        if left > 0:
            self.queue.add_after(key, left)
            return
        try:
            await self.client.delete(JOBS, name, namespace, propagation_policy="Foreground",
                                     preconditions={"uid": fresh["metadata"]["uid"]})
        except APIError as e:
            if e.code not in (404, 409):
                raise


def start_ttl_after_finished_controller(ctx: ControllerContext) -> TTLAfterFinishedController:
    return TTLAfterFinishedController(ctx)

"""cronjob-controller: creates a CronJob's Jobs at its scheduled times (pkg/controller/cronjob, v2).

A Job is named ``<cronjob>-<scheduled time in minutes since the epoch>``, so the same time never makes two;
missed times are caught up within startingDeadlineSeconds (the most recent only); concurrencyPolicy
Allow/Forbid/Replace; finished Jobs beyond the history limits are deleted; the next sync is queued for the
next scheduled time by the injected clock."""

from __future__ import annotations

import copy
import datetime as dt
from typing import List, Optional, Tuple

from ..client.cache import meta_namespace_key, split_key
from ..client.resources import CRON_JOBS, JOBS
from ..client.rest import APIError, get_or_none, namespace_terminating
from ..machinery import meta
from ..machinery import cron
from .context import ControllerContext, QueueController
from .job import controller_ref
from .jobutil import finished_condition


SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_SCHEDULE_DELTA = 0.1          # requeue a little after the scheduled time
TOO_MANY_MISSED = 100
UNSUPPORTED_TZ = ("CRON_TZ or TZ used in schedule %q is not officially supported, see "
                  "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details")


def job_name(cronjob: dict, scheduled: float) -> str:
    return f"{cronjob['metadata']['name']}-{int(scheduled) // 60}"


def go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rfc1123z(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")


def rfc3339_in(t: float, zone: dt.tzinfo) -> str:
    text = dt.datetime.fromtimestamp(int(t), dt.timezone.utc).astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class CronJobController(QueueController):
    name = "cronjob-controller"
    workers_option = "concurrent-cron-job-syncs"
    default_workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.recorder = ctx.recorder("cronjob-controller")
        self.cronjobs = self.informer(CRON_JOBS)
        self.jobs = self.informer(JOBS)
        self.cronjobs.add_event_handler(on_add=self.enqueue, on_update=self._cronjob_updated)
        self.jobs.add_event_handler(on_add=self._job_changed, on_update=lambda old, new: self._job_changed(new),
                                    on_delete=self._job_changed)

    def _cronjob_updated(self, old: dict, new: dict) -> None:
        """A new schedule or time zone waits for its next time (a time missed under it is not caught up); any
        other change is synced now (updateCronJob)."""
        before, after = old.get("spec") or {}, new.get("spec") or {}
        if before.get("schedule") == after.get("schedule") and before.get("timeZone") == after.get("timeZone"):
            self.enqueue(new)
            return
        try:
            schedule = cron.parse(self._format_schedule(new, warn=False))
        except cron.ScheduleError:
            self.recorder.eventf(new, "Warning", "UnParseableCronJobSchedule", "unparseable schedule for cronjob: %s",
                                 after.get("schedule", ""))
            return
        delay = self._requeue_after(self.clock.seconds(), schedule)
        if delay is not None:
            self.queue.add_after(meta_namespace_key(new), delay)

    def _job_changed(self, job: dict) -> None:
        ref = controller_ref(job)
        if ref is not None and ref.get("kind") == "CronJob":
            cronjob = self.cronjobs.indexer.get_by_key(job["metadata"]["namespace"], ref.get("name", ""))
            if cronjob is not None and cronjob["metadata"]["uid"] == ref.get("uid"):
                self.enqueue(cronjob)

    def _jobs_of(self, cronjob: dict) -> List[dict]:
        uid = cronjob["metadata"]["uid"]
        return [j for j in self.jobs.indexer.by_index("namespace", cronjob["metadata"]["namespace"])
                if (controller_ref(j) or {}).get("uid") == uid]

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        shared = self.cronjobs.indexer.get_by_key(namespace, name)
        if shared is None:
            return
        cronjob = copy.deepcopy(shared)
        cronjob.setdefault("status", {})
        jobs = self._jobs_of(cronjob)
        # History limits first: a finished Job deleted here leaves the active list before it is reconciled, so
        # it is not also reported as seen completed.
        cleaned = await self._cleanup_finished(cronjob, jobs)
        requeue, update = await self.sync_cronjob(cronjob, jobs)
        update = update or cleaned
        if update:
            await self.client.update(CRON_JOBS, cronjob, subresource="status")
        if requeue is not None:
            self.queue.add_after(key, requeue)

    # -- syncCronJob -------------------------------------------------------------------------------------------
    async def sync_cronjob(self, cronjob: dict, jobs: List[dict]) -> Tuple[Optional[float], bool]:
        """Reconcile the active list, then start the Job due now, if any; (requeue delay, status changed)."""
        status = cronjob["status"]
        update = await self._reconcile_active(cronjob, jobs)
        children = {j["metadata"]["uid"] for j in jobs}
        for ref in list(status.get("active") or []):
            if ref.get("uid") in children:
                continue
            namespace = ref.get("namespace") or cronjob["metadata"]["namespace"]
            if await get_or_none(self.client, JOBS, ref["name"], namespace) is None:
                self.recorder.eventf(cronjob, "Normal", "MissingJob", "Active job went missing: %s", ref["name"])
                self._remove_active(cronjob, ref.get("uid"))
                update = True
        if cronjob["metadata"].get("deletionTimestamp"):
            return None, update
        spec = cronjob["spec"]
        zone = cron.UTC
        if spec.get("timeZone"):
            try:
                zone = cron.zone(spec["timeZone"])
            except cron.ScheduleError as e:
                self.recorder.eventf(cronjob, "Warning", "UnknownTimeZone", "invalid timeZone: %s: %s",
                                     go_quote(spec["timeZone"]), str(e))
                return None, update
        if spec.get("suspend"):
            return None, update
        try:
            schedule = cron.parse(self._format_schedule(cronjob))
        except cron.ScheduleError as e:
            self.recorder.eventf(cronjob, "Warning", "UnparseableSchedule", "unparseable schedule: %s : %s",
                                 go_quote(spec.get("schedule", "")), str(e))
            return None, update
        now = self.clock.seconds()
        scheduled = self._next_schedule_time(cronjob, now, schedule)
        requeue = self._requeue_after(now, schedule)
        if scheduled is None:
            return requeue, update
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled + deadline < now:
            self.recorder.eventf(cronjob, "Warning", "MissSchedule", "Missed scheduled time to start a job: %s",
                                 rfc1123z(scheduled))
            return requeue, update
        name = job_name(cronjob, scheduled)
        last = status.get("lastScheduleTime")
        if any(a.get("name") == name for a in status.get("active") or []) or \
                (last and meta.parse_time(last) == scheduled):
            return requeue, update
        if spec.get("concurrencyPolicy") == "Forbid" and status.get("active"):
            self.recorder.event(cronjob, "Normal", "JobAlreadyActive",
                                "Not starting job because prior execution is running and concurrency policy is "
                                "Forbid")
            return requeue, update
        if spec.get("concurrencyPolicy") == "Replace":
            for ref in list(status.get("active") or []):
                job = self.jobs.indexer.get_by_key(ref.get("namespace") or cronjob["metadata"]["namespace"],
                                                   ref["name"])
                if job is None:
                    continue
                if await self._delete_job(cronjob, job):
                    update = True
        try:
            created = await self.client.create(JOBS, self._job_from_template(cronjob, scheduled, zone))
        except APIError as e:
            if e.code == 403 and namespace_terminating(e):
                return None, update
            if e.code != 409:
                self.recorder.eventf(cronjob, "Warning", "FailedCreate", "Error creating job: %s", e.message)
                raise
            # The Job exists: made by another actor (which keeps the status), or by us before a status update
            # that did not happen, in which case it is put in the active list now.
            created = await self.client.get(JOBS, name, cronjob["metadata"]["namespace"])
            if (controller_ref(created) or {}).get("uid") != cronjob["metadata"]["uid"] or \
                    any(a.get("uid") == created["metadata"]["uid"] for a in status.get("active") or []):
                return requeue, update      # (upstream requeues nothing here; without resyncs we would stall)
        else:
            self.recorder.eventf(cronjob, "Normal", "SuccessfulCreate", "Created job %s",
                                 created["metadata"]["name"])
        status.setdefault("active", []).append(
            {"kind": "Job", "namespace": created["metadata"]["namespace"], "name": created["metadata"]["name"],
             "uid": created["metadata"]["uid"], "apiVersion": "batch/v1",
             "resourceVersion": created["metadata"].get("resourceVersion", "")})
        status["lastScheduleTime"] = meta.rfc3339(scheduled)
        return requeue, True

    async def _reconcile_active(self, cronjob: dict, jobs: List[dict]) -> bool:
        update = False
        for job in jobs:
            status = cronjob["status"]
            uid = job["metadata"]["uid"]
            found = any(a.get("uid") == uid for a in status.get("active") or [])
            condition = finished_condition(job)
            if not found and condition is None:
                # The cache may not have our own status update yet: ask the API before complaining.
                fresh = await self.client.get(CRON_JOBS, cronjob["metadata"]["name"], cronjob["metadata"]["namespace"])
                if any(a.get("uid") == uid for a in (fresh.get("status") or {}).get("active") or []):
                    cronjob.clear()
                    cronjob.update(fresh)
                    cronjob.setdefault("status", {})
                    continue
                self.recorder.eventf(cronjob, "Warning", "UnexpectedJob",
                                     "Saw a job that the controller did not create or forgot: %s",
                                     job["metadata"]["name"])
            elif found and condition is not None:
                self._remove_active(cronjob, uid)
                self.recorder.eventf(cronjob, "Normal", "SawCompletedJob", "Saw completed job: %s, condition: %s",
                                     job["metadata"]["name"], condition["type"])
                update = True
            status = cronjob["status"]
            if condition is not None and condition["type"] == "Complete":
                done = (job.get("status") or {}).get("completionTime")
                last = status.get("lastSuccessfulTime")
                if done and (last is None or meta.parse_time(done) > meta.parse_time(last)):
                    status["lastSuccessfulTime"] = done
                    update = True
        return update

    @staticmethod
    def _remove_active(cronjob: dict, uid: Optional[str]) -> None:
        cronjob["status"]["active"] = [a for a in cronjob["status"].get("active") or [] if a.get("uid") != uid]

    def _format_schedule(self, cronjob: dict, warn: bool = True) -> str:
        schedule = cronjob["spec"].get("schedule", "")
        if "TZ" in schedule:
            if warn:
                self.recorder.eventf(cronjob, "Warning", "UnsupportedSchedule", UNSUPPORTED_TZ.replace("%q", "%s"),
                                     go_quote(schedule))
            return schedule
        if cronjob["spec"].get("timeZone"):
            try:
                cron.zone(cronjob["spec"]["timeZone"])
            except cron.ScheduleError:
                return schedule
            return f"TZ={cronjob['spec']['timeZone']} {schedule}"
        return schedule

    def _next_schedule_time(self, cronjob: dict, now: float, schedule: cron.Schedule) -> Optional[float]:
        """The most recent unmet scheduled time, if any (nextScheduleTime); warns of too many missed."""
        last = cronjob["status"].get("lastScheduleTime")
        earliest = meta.parse_time(last or cronjob["metadata"]["creationTimestamp"])
        deadline = cronjob["spec"].get("startingDeadlineSeconds")
        if deadline is not None:
            earliest = max(earliest, now - deadline)
        if earliest > now:
            return None
        scheduled, missed = cron.most_recent_schedule_time(earliest, now, schedule)
        if missed > TOO_MANY_MISSED:
            # Since 1.29 the warning carries no count: the estimate is rough for irregular schedules.
            self.recorder.event(cronjob, "Warning", "TooManyMissedTimes",
                                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or "
                                "check clock skew")
        return scheduled

    @staticmethod
    def _requeue_after(now: float, schedule: cron.Schedule) -> Optional[float]:
        following = schedule.next(now)
        return None if following is None else following - now + NEXT_SCHEDULE_DELTA

    def _job_from_template(self, cronjob: dict, scheduled: float, zone) -> dict:
        template = cronjob["spec"].get("jobTemplate") or {}
        tmeta = template.get("metadata") or {}
        annotations = dict(tmeta.get("annotations") or {})
        annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = rfc3339_in(scheduled, zone)
        return {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": job_name(cronjob, scheduled), "namespace": cronjob["metadata"]["namespace"],
                             "labels": dict(tmeta.get("labels") or {}), "annotations": annotations,
                             "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob",
                                                  "name": cronjob["metadata"]["name"],
                                                  "uid": cronjob["metadata"]["uid"], "controller": True,
                                                  "blockOwnerDeletion": True}]},
                "spec": copy.deepcopy(template.get("spec") or {})}

    async def _delete_job(self, cronjob: dict, job: dict) -> bool:
        name = job["metadata"]["name"]
        try:
            await self.client.delete(JOBS, name, job["metadata"]["namespace"], propagation_policy="Background")
        except APIError as e:
            if e.code != 404:
                self.recorder.eventf(cronjob, "Warning", "FailedDelete", "Deleted job: %s", e.message)
                return False
        self._remove_active(cronjob, job["metadata"]["uid"])
        self.recorder.eventf(cronjob, "Normal", "SuccessfulDelete", "Deleted job %s", name)
        return True

    # -- history limits ------------------------------------------------------------------------------------------
    async def _cleanup_finished(self, cronjob: dict, jobs: List[dict]) -> bool:
        spec = cronjob["spec"]
        if spec.get("successfulJobsHistoryLimit") is None and spec.get("failedJobsHistoryLimit") is None:
            return False
        succeeded, failed = [], []
        for job in jobs:
            condition = finished_condition(job)
            if condition is not None:
                (succeeded if condition["type"] == "Complete" else failed).append(job)
        update = False
        for kept, limit in ((succeeded, spec.get("successfulJobsHistoryLimit")),
                            (failed, spec.get("failedJobsHistoryLimit"))):
            if limit is None or len(kept) <= limit:
                continue
            kept.sort(key=lambda j: ((j.get("status") or {}).get("startTime") is None,
                                     (j.get("status") or {}).get("startTime") or "", j["metadata"]["name"]))
            for job in kept[:len(kept) - limit]:
                update = await self._delete_job(cronjob, job) or update
        return update


def start_cronjob_controller(ctx: ControllerContext) -> CronJobController:
    return CronJobController(ctx)

"""cronjob-controller: the schedule parser and next-time arithmetic (pure), and CronJobs firing against a real
apiserver with the controller's clock injected (a task.Clock moved across minute boundaries by the test), their
Jobs run to completion by job-controller on simulated nodes."""

import datetime as dt
import time

import pytest
from twisted.internet import reactor, task

from kapiserver.client.informer import SharedInformerFactory
from kapiserver.client.resources import CRON_JOBS, EVENTS, JOBS
from kapiserver.client.rest import APIError
from kapiserver.machinery import cron as cronschedule
from kapiserver.machinery import meta
from kapiserver.controllermanager.context import ControllerContext
from kapiserver.controllermanager.cronjob import SCHEDULED_TIMESTAMP_ANNOTATION, CronJobController
from kapiserver.node.simulated import RUN_SECONDS_ANNOTATION
from tests.controllermanager.conftest import eventually, run


def at(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc).timestamp()


def iso(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%d %H:%M")


# -- the schedule ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec,after,expected", [
    ("* * * * *", "2026-01-01 10:00:30", "2026-01-01 10:01"),
    ("* * * * *", "2026-01-01 10:00:00", "2026-01-01 10:01"),
    ("*/15 * * * *", "2026-01-01 10:16:00", "2026-01-01 10:30"),
    ("5-10/2 3 * * *", "2026-01-01 03:06:00", "2026-01-01 03:07"),
    ("0 9 * * mon-fri", "2026-01-03 12:00:00", "2026-01-05 09:00"),     # Saturday -> Monday
    ("0 0 1 jan,jul *", "2026-02-01 00:00:00", "2026-07-01 00:00"),
    ("0 0 13 * 5", "2026-01-01 00:00:00", "2026-01-02 00:00"),          # day-of-month OR day-of-week
    ("0 0 */2 * *", "2026-01-01 00:00:00", "2026-01-03 00:00"),        # a step: only day-of-month counts
    ("@hourly", "2026-01-01 10:59:59", "2026-01-01 11:00"),
    ("@weekly", "2026-01-01 00:00:00", "2026-01-04 00:00"),
    ("@yearly", "2026-03-01 00:00:00", "2027-01-01 00:00"),
    ("0 0 29 2 *", "2026-03-01 00:00:00", "2028-02-29 00:00"),
])
def test_next_activation(spec, after, expected):
    """Schedule.next is the first activation strictly after the time, as robfig/cron's standard parser."""
    assert iso(cronschedule.parse(spec).next(at(after))) == expected


def test_time_zones_and_every():
    """TZ= and the controller's timeZone prefix shift the wall clock; @every is a constant delay."""
    berlin = cronschedule.parse("TZ=Europe/Berlin 0 9 * * *")
    assert iso(berlin.next(at("2026-01-01 00:00:00"))) == "2026-01-01 08:00"      # 09:00 CET
    assert iso(berlin.next(at("2026-07-01 00:00:00"))) == "2026-07-01 07:00"      # 09:00 CEST
    assert cronschedule.parse("@every 1h30m").next(1000.0) == 1000.0 + 5400


@pytest.mark.parametrize("spec,message", [
    ("", "empty spec string"),
    ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("* * * * 7", "end of range (7) above maximum (6): 7"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("TZ=Mars/Olympus * * * * *", "unknown time zone Mars/Olympus"),
])
def test_unparseable_schedules(spec, message):
    """Malformed schedules are refused with robfig's reasons."""
    with pytest.raises(cronschedule.ScheduleError) as e:
        cronschedule.parse(spec)
    assert str(e.value) == message


def test_most_recent_schedule_time_counts_missed_times():
    """The latest missed time and how many were missed (more than 100 makes the controller warn)."""
    every_minute = cronschedule.parse("* * * * *")
    start = at("2026-01-01 00:00:00")
    assert cronschedule.most_recent_schedule_time(start, start + 30, every_minute) == (None, 0)
    assert cronschedule.most_recent_schedule_time(start, start + 90, every_minute) == (start + 60, 1)
    assert cronschedule.most_recent_schedule_time(start, start + 200 * 60 + 5, every_minute) == (start + 12000, 200)
    weekdays = cronschedule.parse("0 9 * * mon-fri")
    latest, _ = cronschedule.most_recent_schedule_time(at("2026-01-01 00:00:00"), at("2026-01-20 00:00:00"), weekdays)
    assert iso(latest) == "2026-01-19 09:00"


# -- the controller ----------------------------------------------------------------------------------------
def cronjob_object(name, namespace, schedule="* * * * *", run_seconds=0.2, **spec):
    body = {"schedule": schedule, "jobTemplate": {"spec": {"template": {
        "metadata": {"annotations": {RUN_SECONDS_ANNOTATION: str(run_seconds)}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}}
    body.update(spec)
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": namespace},
            "spec": body}


class CronJobs:
    """A cronjob-controller on a task.Clock the test moves; everything else on the reactor."""

    def __init__(self, client):
        self.clock = task.Clock()
        self.clock.advance(reactor.seconds())
        self.informers = SharedInformerFactory(client, reactor)
        self.controller = CronJobController(ControllerContext(client, self.informers, self.clock))
        self.informers.start()
        run(self.controller.run())

    def to_next_minute(self, seconds_after=1.0):
        """Move the controller's clock just past the next minute boundary; the minute reached.  The boundary
        is after the real time too: a CronJob's creationTimestamp is the apiserver's (real) time, and a
        boundary before it would start nothing (a real minute can turn between this clock's start and a
        create)."""
        now = max(self.clock.seconds(), reactor.seconds())
        target = (int(now) // 60 + 1) * 60 + seconds_after
        now = self.clock.seconds()
        self.clock.advance(target - now)
        return int(target) // 60

    def stop(self):
        self.controller.stop()
        self.informers.stop()


@pytest.fixture
def cronjobs(client, controllers, simulated_nodes):
    simulated_nodes("cron-node", schedule=True)
    controllers("job-controller")
    made = CronJobs(client)
    yield made
    made.stop()


def events(client, namespace, name):
    return [(e["reason"], e["message"]) for e in run(client.list(EVENTS, namespace))["items"]
            if e["involvedObject"]["name"] == name]


def jobs_of(client, namespace):
    return sorted(j["metadata"]["name"] for j in run(client.list(JOBS, namespace))["items"])


def status(client, namespace, name):
    return run(client.get(CRON_JOBS, name, namespace)).get("status") or {}


def test_cronjob_creates_a_job_each_minute_and_sees_it_complete(cronjobs, client, namespace):
    """At the minute a Job <cronjob>-<minutes> is created with the scheduled-timestamp annotation and listed as
    active; once it completes the CronJob records lastSuccessfulTime and the SawCompletedJob event."""
    run(client.create(CRON_JOBS, cronjob_object("tick", namespace)))
    minute = cronjobs.to_next_minute()
    name = f"tick-{minute}"
    eventually(lambda: jobs_of(client, namespace) == [name])
    job = run(client.get(JOBS, name, namespace))
    assert job["metadata"]["annotations"][SCHEDULED_TIMESTAMP_ANNOTATION] == \
        dt.datetime.fromtimestamp(minute * 60, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    st = eventually(lambda: (s := status(client, namespace, "tick")).get("lastSuccessfulTime") and s)
    assert st["lastScheduleTime"] == job["metadata"]["annotations"][SCHEDULED_TIMESTAMP_ANNOTATION]
    assert not st.get("active")
    seen = eventually(lambda: (e := events(client, namespace, "tick")) and
                      ("SawCompletedJob", f"Saw completed job: {name}, condition: Complete") in e and e)
    assert ("SuccessfulCreate", f"Created job {name}") in seen


def test_forbid_skips_while_a_job_runs(cronjobs, client, namespace):
    """concurrencyPolicy Forbid: while the first Job runs, the next minute starts none (JobAlreadyActive)."""
    run(client.create(CRON_JOBS, cronjob_object("forbid", namespace, run_seconds=600, concurrencyPolicy="Forbid")))
    cronjobs.to_next_minute()
    eventually(lambda: len(status(client, namespace, "forbid").get("active") or []) == 1)
    cronjobs.to_next_minute()
    eventually(lambda: ("JobAlreadyActive", "Not starting job because prior execution is running and concurrency "
                        "policy is Forbid") in events(client, namespace, "forbid"))
    assert len(jobs_of(client, namespace)) == 1


def test_replace_deletes_the_running_job(cronjobs, client, namespace):
    """concurrencyPolicy Replace: the next minute deletes the running Job and starts a new one."""
    run(client.create(CRON_JOBS, cronjob_object("replace", namespace, run_seconds=600,
                                                concurrencyPolicy="Replace")))
    first = f"replace-{cronjobs.to_next_minute()}"
    eventually(lambda: [a["name"] for a in status(client, namespace, "replace").get("active") or []] == [first])
    second = f"replace-{cronjobs.to_next_minute()}"
    eventually(lambda: [a["name"] for a in status(client, namespace, "replace").get("active") or []] == [second])
    eventually(lambda: ("SuccessfulDelete", f"Deleted job {first}") in events(client, namespace, "replace"))


def test_allow_runs_jobs_side_by_side(cronjobs, client, namespace):
    """concurrencyPolicy Allow: a second Job starts while the first still runs."""
    run(client.create(CRON_JOBS, cronjob_object("allow", namespace, run_seconds=600)))
    cronjobs.to_next_minute()
    eventually(lambda: len(status(client, namespace, "allow").get("active") or []) == 1)
    cronjobs.to_next_minute()
    eventually(lambda: len(status(client, namespace, "allow").get("active") or []) == 2)


def test_suspended_cronjob_starts_nothing(cronjobs, client, namespace):
    """A suspended CronJob creates no Job across a minute boundary."""
    run(client.create(CRON_JOBS, cronjob_object("sleepy", namespace, suspend=True)))
    cronjobs.to_next_minute()
    cronjobs.controller.queue.add(f"{namespace}/sleepy")
    until = time.monotonic() + 0.5
    eventually(lambda: time.monotonic() > until)
    assert jobs_of(client, namespace) == []


def test_history_limit_deletes_the_oldest_finished_jobs(cronjobs, client, namespace):
    """successfulJobsHistoryLimit 1: after the second Job completes, the first is deleted."""
    run(client.create(CRON_JOBS, cronjob_object("hist", namespace, successfulJobsHistoryLimit=1)))
    first = f"hist-{cronjobs.to_next_minute()}"
    eventually(lambda: status(client, namespace, "hist").get("lastSuccessfulTime"))
    second = f"hist-{cronjobs.to_next_minute()}"
    eventually(lambda: jobs_of(client, namespace) == [second], timeout=20)
    eventually(lambda: ("SuccessfulDelete", f"Deleted job {first}") in events(client, namespace, "hist"))


def test_history_limit_zero_deletes_the_job_without_seeing_it_completed(cronjobs, client, namespace):
    """successfulJobsHistoryLimit 0: the completed Job is deleted by the history cleanup, which runs before the
    active list is reconciled, so there is a SuccessfulDelete but no SawCompletedJob; lastSuccessfulTime is
    still recorded."""
    run(client.create(CRON_JOBS, cronjob_object("nohist", namespace, successfulJobsHistoryLimit=0)))
    name = f"nohist-{cronjobs.to_next_minute()}"
    eventually(lambda: ("SuccessfulDelete", f"Deleted job {name}") in events(client, namespace, "nohist"), timeout=20)
    st = eventually(lambda: (s := status(client, namespace, "nohist")).get("lastSuccessfulTime") and s)
    assert not st.get("active")
    assert not [m for r, m in events(client, namespace, "nohist") if r == "SawCompletedJob"]


def test_a_job_left_by_an_earlier_create_is_put_in_the_active_list(cronjobs, client, namespace):
    """The Job of the scheduled time already exists, controlled by this CronJob (created before a status update
    that was lost): the create's AlreadyExists makes the controller list that Job as active and record the
    schedule time, without a SuccessfulCreate event."""
    cj = run(client.create(CRON_JOBS, cronjob_object("redo", namespace, run_seconds=600)))
    minute = (int(max(cronjobs.clock.seconds(), reactor.seconds())) // 60) + 1
    name = f"redo-{minute}"
    owner = {"apiVersion": "batch/v1", "kind": "CronJob", "name": "redo", "uid": cj["metadata"]["uid"],
             "controller": True, "blockOwnerDeletion": True}
    job = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": name, "namespace": namespace, "ownerReferences": [owner]},
           "spec": {"suspend": True, **cj["spec"]["jobTemplate"]["spec"]}}
    made = run(client.create(JOBS, job))
    assert cronjobs.to_next_minute() == minute
    st = eventually(lambda: (s := status(client, namespace, "redo")).get("active") and s)
    assert [(a["name"], a["uid"]) for a in st["active"]] == [(name, made["metadata"]["uid"])]
    assert meta.parse_time(st["lastScheduleTime"]) == minute * 60
    assert not [m for r, m in events(client, namespace, "redo") if r == "SuccessfulCreate"]


def test_a_new_schedule_waits_for_its_next_time(cronjobs, client, namespace):
    """Changing spec.schedule requeues the CronJob for the new schedule's next time instead of syncing it now, so
    a time the new schedule would have had since the last one is not started late (updateCronJob)."""
    run(client.create(CRON_JOBS, cronjob_object("moved", namespace, schedule="0 0 1 1 *")))
    # The create's own sync done before the schedule changes (a sync reading the changed CronJob from the cache
    # would find a minute missed since its creation).
    controller = cronjobs.controller
    eventually(lambda: controller.cronjobs.indexer.get_by_key(namespace, "moved") is not None
               and not len(controller.queue) and not controller.queue._processing)
    cronjobs.to_next_minute()
    cj = run(client.get(CRON_JOBS, "moved", namespace))
    cj["spec"]["schedule"] = "* * * * *"
    run(client.update(CRON_JOBS, cj))
    until = time.monotonic() + 1.0
    eventually(lambda: time.monotonic() > until)
    assert jobs_of(client, namespace) == []
    minute = cronjobs.to_next_minute()
    eventually(lambda: jobs_of(client, namespace) == [f"moved-{minute}"])


def test_too_many_missed_times_warns_and_starts_the_latest(cronjobs, client, namespace):
    """Over 100 missed minutes: the TooManyMissedTimes warning, and only the most recent time is started."""
    created = run(client.create(CRON_JOBS, cronjob_object("late", namespace, run_seconds=600)))
    cronjobs.clock.advance(150 * 60)
    minute = int(cronjobs.clock.seconds()) // 60
    eventually(lambda: jobs_of(client, namespace) == [f"late-{minute}"])
    warned = eventually(lambda: [m for r, m in events(client, namespace, "late") if r == "TooManyMissedTimes"])
    # The minutes after the creation (its timestamp in whole seconds) up to now: 150, or 149 when the test's
    # clock started in the second before a minute the creation was stamped at.
    missed = minute - int(meta.parse_time(created["metadata"]["creationTimestamp"])) // 60
    assert missed in (149, 150)
    # No count in the message since 1.29 (pkg/controller/cronjob/utils.go nextScheduleTime).
    assert warned[0] == "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"


def test_time_zone_in_schedule_is_refused_by_the_api(client, namespace):
    """TZ= in spec.schedule is refused at create (use spec.timeZone), as upstream's validation does."""
    with pytest.raises(APIError) as e:
        run(client.create(CRON_JOBS, cronjob_object("tz", namespace, schedule="TZ=UTC * * * * *")))
    assert e.value.code == 422 and "cannot use TZ or CRON_TZ in schedule" in e.value.message


def test_time_zone_field_sets_the_annotation_offset(cronjobs, client, namespace):
    """spec.timeZone: the scheduled-timestamp annotation is written in that zone's offset."""
    run(client.create(CRON_JOBS, cronjob_object("tokyo", namespace, timeZone="Asia/Tokyo")))
    minute = cronjobs.to_next_minute()
    eventually(lambda: jobs_of(client, namespace) == [f"tokyo-{minute}"])
    job = run(client.get(JOBS, f"tokyo-{minute}", namespace))
    assert job["metadata"]["annotations"][SCHEDULED_TIMESTAMP_ANNOTATION].endswith("+09:00")

"""
Printers for batch/v1: jobs (NAME STATUS COMPLETIONS DURATION AGE) and cronjobs.
"""

from __future__ import annotations

from datetime import datetime

from ...machinery.selectors import format_label_selector
from . import _base as b


def _job_columns() -> list[dict]:
    return [
        b.name_column(),
        b.column("Status", "string", "Status of the job."),
        b.column("Completions", "string", b.doc("batch.v1.JobStatus", "succeeded")),
        b.column("Duration", "string", "Time required to complete the job."),
        b.age_column(),
        *b.container_columns(),
        b.column("Selector", "string", b.doc("batch.v1.JobSpec", "selector"), 1),
    ]


def _condition(job: dict, type_: str) -> bool:
    for condition in b.get(job, "status.conditions", []):
        if condition.get("type") == type_:
            return condition.get("status") == "True"  # the first of a type decides
    return False


def job_status(job: dict) -> str:
    if _condition(job, "Complete"):
        return "Complete"
    if _condition(job, "Failed"):
        return "Failed"
    if b.deleting(job):
        return "Terminating"
    if _condition(job, "Suspended"):
        return "Suspended"
    if _condition(job, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _job_cells(job: dict, now: datetime) -> list:
    spec = job.get("spec") or {}
    succeeded = b.int_cell(b.get(job, "status.succeeded"))
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    else:
        parallelism = int(spec.get("parallelism") or 0)
        completions = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    start = b.parse_time(b.get(job, "status.startTime"))
    end = b.parse_time(b.get(job, "status.completionTime"))
    if start is None:
        duration = ""
    elif end is None:
        duration = b.since(start, now)
    else:
        duration = b.duration_between(start, end)
    names, images = b.layout_containers(b.get(spec, "template.spec.containers"))
    return [b.name(job), job_status(job), completions, duration, b.age(job, now), names, images,
            format_label_selector(spec.get("selector"))]


def _cron_job_columns() -> list[dict]:
    spec, status = "batch.v1.CronJobSpec", "batch.v1.CronJobStatus"
    return [
        b.name_column(),
        b.column("Schedule", "string", b.doc(spec, "schedule")),
        b.column("Timezone", "string", b.doc(spec, "timeZone")),
        b.column("Suspend", "boolean", b.doc(spec, "suspend")),
        b.column("Active", "integer", b.doc(status, "active")),
        b.column("Last Schedule", "string", b.doc(status, "lastScheduleTime")),
        b.age_column(),
        *b.container_columns(),
        b.column("Selector", "string", b.doc("batch.v1.JobSpec", "selector"), 1),
    ]


def _cron_job_cells(cj: dict, now: datetime) -> list:
    spec = cj.get("spec") or {}
    last = b.get(cj, "status.lastScheduleTime")
    job_spec = b.get(spec, "jobTemplate.spec", {})
    names, images = b.layout_containers(b.get(job_spec, "template.spec.containers"))
    return [b.name(cj), spec.get("schedule", ""), b.ptr(spec.get("timeZone"), "<none>"),
            b.bool_ptr(spec.get("suspend")), len(b.get(cj, "status.active", [])),
            b.translate_timestamp_since(last, now) if last else "<none>", b.age(cj, now), names, images,
            format_label_selector(job_spec.get("selector"))]


PRINTERS = {
    ("batch", "jobs"): b.Printer(_job_columns, _job_cells),
    ("batch", "cronjobs"): b.Printer(_cron_job_columns, _cron_job_cells),
}

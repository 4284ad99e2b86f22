"""Defaults of the batch/v1 kinds (pkg/apis/batch/v1/defaults.go).

The job's selector and its controller-uid labels are not defaults: the job strategy
generates them on create unless spec.manualSelector (defaulted to false) is true.
"""

from __future__ import annotations

from . import pod as _pod
from ._util import child, go_order, items, set_if_empty, set_if_nil, sub, template_metadata

MAX_INT32 = 2 ** 31 - 1
# The Go structs' field order (encoding/json writes a struct's fields in it, whatever order the client sent).
JOB_SPEC = ("parallelism", "completions", "activeDeadlineSeconds", "podFailurePolicy", "successPolicy",
            "backoffLimit", "backoffLimitPerIndex", "maxFailedIndexes", "selector", "manualSelector", "template",
            "ttlSecondsAfterFinished", "completionMode", "suspend", "podReplacementPolicy", "managedBy")
CRON_JOB_SPEC = ("schedule", "timeZone", "startingDeadlineSeconds", "concurrencyPolicy", "suspend", "jobTemplate",
                 "successfulJobsHistoryLimit", "failedJobsHistoryLimit")
TEMPLATE = ("metadata", "spec")


def job(obj: dict) -> None:
    spec = sub(obj, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    set_if_nil(spec, "parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    meta = sub(obj, "metadata")
    if isinstance(template_labels, dict) and not meta.get("labels"):
        # The very map, as Go assigns it: the labels the job strategy then adds to the template show here too.
        meta["labels"] = template_labels
    set_if_nil(spec, "completionMode", "NonIndexed")
    set_if_nil(spec, "suspend", False)
    failure_policy = child(spec, "podFailurePolicy")
    if failure_policy is not None:
        for rule in items(failure_policy, "rules"):
            for pattern in items(rule, "onPodConditions"):
                set_if_empty(pattern, "status", "True")
    # JobPodReplacementPolicy is on by default in 1.32.
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if failure_policy is not None else "TerminatingOrFailed"
    set_if_nil(spec, "manualSelector", False)
    _pod.pod_template(sub(spec, "template"))
    go_order(spec["template"], TEMPLATE)
    go_order(spec, JOB_SPEC)


def cron_job(obj: dict) -> None:
    spec = sub(obj, "spec")
    set_if_empty(spec, "concurrencyPolicy", "Allow")
    set_if_nil(spec, "suspend", False)
    set_if_nil(spec, "successfulJobsHistoryLimit", 3)
    set_if_nil(spec, "failedJobsHistoryLimit", 1)
    # The job template gets only the pod-template defaults, not SetDefaults_Job.
    job_template = sub(spec, "jobTemplate")
    template_metadata(job_template)
    job_spec = sub(job_template, "spec")
    _pod.pod_template(sub(job_spec, "template"))
    go_order(job_spec["template"], TEMPLATE)
    go_order(job_spec, JOB_SPEC)
    go_order(job_template, TEMPLATE)
    go_order(spec, CRON_JOB_SPEC)


DEFAULTERS = {
    "Job": job,
    "CronJob": cron_job,
}

"""Validation of the batch/v1 kinds (pkg/apis/batch/validation)."""

from __future__ import annotations

from typing import Any

from ...machinery import cron
from . import meta as _meta
from ...machinery import names
from . import pod
from ._util import (Errors, go_label_selector, go_string_map, immutable, invalid, invalid_go, label_selector,
                    nonnegative, not_supported, one_of, required, selector_matches, text)

CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
COMPLETION_MODES = ("NonIndexed", "Indexed")
CRONJOB_NAME_MAX = 52  # 63 minus the 11-character suffix the controller appends


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _job_spec(spec: dict, path: str) -> Errors:
    """validateJobSpec: the parts shared by Jobs and CronJob job templates."""
    errs: Errors = []
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit",
                "ttlSecondsAfterFinished"):
        errs += nonnegative(spec.get(key), f"{path}.{key}")
    mode = spec.get("completionMode")
    if mode is not None and mode not in COMPLETION_MODES:
        errs.append(not_supported(f"{path}.completionMode", mode, COMPLETION_MODES))
    if mode == "Indexed" and spec.get("completions") is None:
        errs.append(required(f"{path}.completions", "when completion mode is Indexed"))
    policy = spec.get("podReplacementPolicy")
    if policy is not None and policy not in ("TerminatingOrFailed", "Failed"):
        errs.append(not_supported(f"{path}.podReplacementPolicy", policy, ["Failed", "TerminatingOrFailed"]))
    template = spec.get("template")
    errs += pod.pod_template_spec(template, f"{path}.template")
    restart = _dict(_dict(template).get("spec")).get("restartPolicy")
    if restart not in ("OnFailure", "Never"):
        errs.append(not_supported(f"{path}.template.spec.restartPolicy", restart, ["OnFailure", "Never"]))
    return errs


def _selector_and_labels(spec: dict) -> Errors:
    errs: Errors = []
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        # The job strategy generates the selector unless manualSelector is set; only a
        # manual job can reach validation without one.
        if spec.get("manualSelector") is True:
            errs.append(required("spec.selector", ""))
        return errs
    errs += label_selector(selector, "spec.selector")
    template_labels = _dict(_dict(spec.get("template")).get("metadata")).get("labels")
    if not selector_matches(selector, template_labels):
        errs.append(invalid_go("spec.template.metadata.labels", go_string_map(template_labels),
                               "`selector` does not match template `labels`"))
    return errs


def validate_job(obj: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns_subdomain)
    spec = _dict(obj.get("spec"))
    errs += _selector_and_labels(spec)
    return errs + _job_spec(spec, "spec")


def validate_job_update(new: dict, old: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    spec, old_spec = _dict(new.get("spec")), _dict(old.get("spec"))
    errs += _selector_and_labels(spec)
    errs += _job_spec(spec, "spec")
    if not (spec.get("completionMode") == "Indexed" and spec.get("completions") == spec.get("parallelism")):
        errs += immutable(spec.get("completions"), old_spec.get("completions"), "spec.completions")
    errs += immutable(spec.get("selector"), old_spec.get("selector"), "spec.selector", go_label_selector)
    # A suspended job that never started may change its template's scheduling directives; the
    # rest of the template is frozen.
    if spec.get("template") != old_spec.get("template") and not (spec.get("suspend") and old_spec.get("suspend")):
        errs.append(invalid_go("spec.template", "core.PodTemplateSpec{...}", "field is immutable"))
    errs += immutable(spec.get("completionMode"), old_spec.get("completionMode"), "spec.completionMode")
    return errs


def _cron_job_spec(spec: dict, old_spec: dict | None) -> Errors:
    errs: Errors = []
    schedule = text(spec.get("schedule"))
    if not schedule:
        errs.append(required("spec.schedule", ""))
    else:
        problem = cron.parse_error(schedule)
        if problem:
            errs.append(invalid("spec.schedule", schedule, problem))
        allow_tz = old_spec is not None and "TZ" in text(old_spec.get("schedule"))
        if allow_tz and "TZ" in schedule and spec.get("timeZone") is not None:
            errs.append(invalid("spec.schedule", schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
        elif not allow_tz and "TZ" in schedule:
            errs.append(invalid("spec.schedule", schedule,
                                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    errs += nonnegative(spec.get("startingDeadlineSeconds"), "spec.startingDeadlineSeconds")
    zone = spec.get("timeZone")
    if zone is not None and (old_spec is None or old_spec.get("timeZone") != zone):
        errs += _time_zone(zone)
    errs += one_of(spec.get("concurrencyPolicy"), "spec.concurrencyPolicy", CONCURRENCY_POLICIES)
    job_spec = _dict(_dict(spec.get("jobTemplate")).get("spec"))
    errs += _job_spec(job_spec, "spec.jobTemplate.spec")
    if job_spec.get("selector") is not None:
        errs.append(invalid_go("spec.jobTemplate.spec.selector", go_label_selector(job_spec["selector"]),
                               "`selector` will be auto-generated"))
    if job_spec.get("manualSelector") is True:
        errs.append(not_supported("spec.jobTemplate.spec.manualSelector", True, ["nil", "false"]))
    errs += nonnegative(spec.get("successfulJobsHistoryLimit"), "spec.successfulJobsHistoryLimit")
    errs += nonnegative(spec.get("failedJobsHistoryLimit"), "spec.failedJobsHistoryLimit")
    return errs


def _time_zone(zone: Any) -> Errors:
    import re
    import zoneinfo
    if not isinstance(zone, str) or not zone:
        return [invalid("spec.timeZone", zone, "timeZone must be nil or non-empty string")]
    for part in zone.split("/"):
        if part in (".", "..") or part.startswith("-") or not re.fullmatch(r"[A-Za-z\.\-_0-9+]{1,14}", part):
            return [invalid("spec.timeZone", zone, f"unknown time zone {zone}")]
    if zone.lower() == "local":
        return [invalid("spec.timeZone", zone,
                        "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")]
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return [invalid("spec.timeZone", zone, f"unknown time zone {zone}")]
    return []


def validate_cron_job(obj: dict, namespaced: bool) -> Errors:
    meta = _dict(obj.get("metadata"))
    errs = _meta.object_meta(meta, namespaced, names.name_is_dns_subdomain)
    errs += _cron_job_spec(_dict(obj.get("spec")), None)
    if len(text(meta.get("name"))) > CRONJOB_NAME_MAX:
        errs.append(invalid("metadata.name", meta.get("name"), "must be no more than 52 characters"))
    return errs


def validate_cron_job_update(new: dict, old: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    return errs + _cron_job_spec(_dict(new.get("spec")), _dict(old.get("spec")))


CREATE = {"Job": validate_job, "CronJob": validate_cron_job}
UPDATE = {"Job": validate_job_update, "CronJob": validate_cron_job_update}

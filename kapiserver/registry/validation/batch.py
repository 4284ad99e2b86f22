"""Validation of the batch/v1 kinds (pkg/apis/batch/validation), with the 1.32 feature gates the job strategy
consults all on (JobBackoffLimitPerIndex, JobPodReplacementPolicy, JobSuccessPolicy, JobManagedBy,
ElasticIndexedJob)."""

from __future__ import annotations

import re
from typing import Any

from ...machinery import cron
from ...machinery.errors import FieldError
from . import meta as _meta
from ...machinery import names
from . import pod
from ._util import (Errors, FIELD_IMMUTABLE, as_dict, duplicate, go_label_selector, go_quote, go_string_map, immutable,
                    invalid, invalid_go, is_int, label_selector, nonnegative, not_supported, one_of, required,
                    selector_matches, seq, text, too_long)
from .networking import _domain_prefixed_path

CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
COMPLETION_MODES = ("NonIndexed", "Indexed")
CRONJOB_NAME_MAX = 52  # 63 minus the 11-character suffix the controller appends

# The job's generated labels: the legacy names, and the batch.kubernetes.io ones.
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"

MAX_INDEXED_PARALLELISM = 100_000
MAX_FAILED_INDEXES = 100_000
COMPLETIONS_SOFT_LIMIT = 100_000
HIGH_COMPLETIONS_LIMIT = 10_000   # parallelism and maxFailedIndexes above the soft limit, per index
MAX_FAILURE_POLICY_RULES = 20
MAX_EXIT_CODE_VALUES = 255
MAX_CONDITION_PATTERNS = 20
MAX_MANAGED_BY = 63
MAX_SUCCEEDED_INDEXES = 64 * 1024
MAX_SUCCESS_POLICY_RULES = 20
FAILURE_ACTIONS = ("Count", "FailIndex", "FailJob", "Ignore")
EXIT_CODE_OPERATORS = ("In", "NotIn")
CONDITION_STATUSES = ("False", "True", "Unknown")
REPLACEMENT_POLICIES = ("Failed", "TerminatingOrFailed")


def _too_many(field: str, count: int, limit: int) -> FieldError:
    return FieldError("FieldValueTooMany", field, f"Too many: {count}: must have at most {limit} items")


def _go_ints(values: Any) -> str:
    """%#v of a []int32."""
    if values is None:
        return "[]int32(nil)"
    return "[]int32{" + ", ".join(str(v) for v in seq(values)) + "}"


def _valid_values(values) -> str:
    """fmt's %q of a []string: the values quoted, space-separated, in brackets."""
    return "valid values: [" + " ".join(f'"{v}"' for v in values) + "]"


def _int(value: Any) -> int | None:
    return value if is_int(value) else None


def _exit_codes(requirement: dict, path: str, containers: set) -> Errors:
    errs: Errors = []
    operator = requirement.get("operator")
    if not operator:
        errs.append(required(f"{path}.operator", _valid_values(EXIT_CODE_OPERATORS)))
    elif operator not in EXIT_CODE_OPERATORS:
        errs.append(not_supported(f"{path}.operator", operator, EXIT_CODE_OPERATORS))
    container = requirement.get("containerName")
    if container is not None and container not in containers:
        errs.append(invalid(f"{path}.containerName", container,
                            "must be one of the container or initContainer names in the pod template"))
    values = requirement.get("values")
    if not seq(values):
        errs.append(invalid_go(f"{path}.values", _go_ints(values), "at least one value is required"))
    elif len(values) > MAX_EXIT_CODE_VALUES:
        errs.append(_too_many(f"{path}.values", len(values), MAX_EXIT_CODE_VALUES))
    seen: set = set()
    ordered = True
    for j, value in enumerate(seq(values)):
        if operator == "In" and value == 0:
            errs.append(invalid(f"{path}.values[{j}]", value, "must not be 0 for the In operator"))
        if value in seen:
            errs.append(duplicate(f"{path}.values[{j}]", value))
        seen.add(value)
        if j > 0 and is_int(value) and is_int(values[j - 1]) and values[j - 1] > value:
            ordered = False
    if not ordered:
        errs.append(invalid_go(f"{path}.values", _go_ints(values), "must be ordered"))
    return errs


def _condition_patterns(patterns: list, path: str) -> Errors:
    errs: Errors = []
    if len(patterns) > MAX_CONDITION_PATTERNS:
        errs.append(_too_many(path, len(patterns), MAX_CONDITION_PATTERNS))
    for j, pattern in enumerate(patterns):
        pattern = as_dict(pattern)
        errs += [invalid(f"{path}[{j}].type", text(pattern.get("type")), msg)
                 for msg in names.is_qualified_name(text(pattern.get("type")))]
        status = pattern.get("status")
        if not status:
            errs.append(required(f"{path}[{j}].status", _valid_values(CONDITION_STATUSES)))
        elif status not in CONDITION_STATUSES:
            errs.append(not_supported(f"{path}[{j}].status", status, CONDITION_STATUSES))
    return errs


def _pod_failure_policy(spec: dict, path: str) -> Errors:
    """validatePodFailurePolicy: at most 20 rules, each with a known action and one of its two requirements."""
    errs: Errors = []
    rules = seq(as_dict(spec.get("podFailurePolicy")).get("rules"))
    if len(rules) > MAX_FAILURE_POLICY_RULES:
        errs.append(_too_many(f"{path}.rules", len(rules), MAX_FAILURE_POLICY_RULES))
    template_spec = as_dict(as_dict(spec.get("template")).get("spec"))
    containers = {as_dict(c).get("name") for key in ("containers", "initContainers")
                  for c in seq(template_spec.get(key))}
    for i, rule in enumerate(rules):
        rule, rule_path = as_dict(rule), f"{path}.rules[{i}]"
        action = rule.get("action")
        if not action:
            errs.append(required(f"{rule_path}.action", _valid_values(FAILURE_ACTIONS)))
        elif action == "FailIndex":
            if spec.get("backoffLimitPerIndex") is None:
                errs.append(invalid(f"{rule_path}.action", action, "requires the backoffLimitPerIndex to be set"))
        elif action not in FAILURE_ACTIONS:
            errs.append(not_supported(f"{rule_path}.action", action, FAILURE_ACTIONS))
        exit_codes = rule.get("onExitCodes")
        patterns = seq(rule.get("onPodConditions"))
        if exit_codes is not None:
            errs += _exit_codes(as_dict(exit_codes), f"{rule_path}.onExitCodes", containers)
        if patterns:
            errs += _condition_patterns(patterns, f"{rule_path}.onPodConditions")
        if exit_codes is not None and patterns:
            errs.append(FieldError("FieldValueInvalid", rule_path,
                                   "Invalid value: specifying both OnExitCodes and OnPodConditions is not supported"))
        if exit_codes is None and not patterns:
            errs.append(FieldError("FieldValueInvalid", rule_path,
                                   "Invalid value: specifying one of OnExitCodes and OnPodConditions is required"))
    return errs


_INDEX = re.compile(r"[+-]?[0-9]+")


def _index_interval(interval: str, completions: int) -> tuple[int, int]:
    limits = interval.split("-")
    if len(limits) > 2:
        raise ValueError(f"the fragment {go_quote(interval)} violates the requirement that an index interval "
                         "can have at most two parts separated by '-'")
    bounds = []
    for limit in limits:
        if not _INDEX.fullmatch(limit):
            raise ValueError(f"cannot convert string to integer for index: {go_quote(limit)}")
        if int(limit) >= completions:
            raise ValueError(f"too large index: {go_quote(limit)}")
        bounds.append(int(limit))
    if len(bounds) == 2 and bounds[0] >= bounds[1]:
        raise ValueError(f"non-increasing order, previous: {bounds[0]}, current: {bounds[1]}")
    return bounds[0], bounds[-1]


def indexes_total(indexes: str, completions: int) -> int:
    """validateIndexesFormat: how many indexes an interval list such as "1,3-5" names, or ValueError."""
    if not indexes:
        return 0
    total, last = 0, None
    for interval in indexes.split(","):
        low, high = _index_interval(interval, completions)
        if last is not None and last >= low:
            raise ValueError(f"non-increasing order, previous: {last}, current: {low}")
        total += high - low + 1
        last = high
    return total


def _success_policy(spec: dict, path: str) -> Errors:
    errs: Errors = []
    rules = seq(as_dict(spec.get("successPolicy")).get("rules"))
    if not rules:
        errs.append(required(f"{path}.rules",
                             "at least one rules must be specified when the successPolicy is specified"))
    if len(rules) > MAX_SUCCESS_POLICY_RULES:
        errs.append(_too_many(f"{path}.rules", len(rules), MAX_SUCCESS_POLICY_RULES))
    completions = _int(spec.get("completions")) or 0
    for i, rule in enumerate(rules):
        rule, rule_path = as_dict(rule), f"{path}.rules[{i}]"
        indexes, count = rule.get("succeededIndexes"), rule.get("succeededCount")
        if indexes is None and count is None:
            errs.append(required(rule_path, "at least one of succeededCount or succeededIndexes must be specified"))
        total = 0
        if indexes is not None:
            indexes = text(indexes)
            if len(indexes) > MAX_SUCCEEDED_INDEXES:
                errs.append(too_long(f"{rule_path}.succeededIndexes", indexes, MAX_SUCCEEDED_INDEXES))
            try:
                total = indexes_total(indexes, completions)
            except ValueError as problem:
                errs.append(invalid(f"{rule_path}.succeededIndexes", indexes,
                                    f"error parsing succeededIndexes: {problem}"))
        if is_int(count):
            errs += nonnegative(count, f"{rule_path}.succeededCount")
            if count > completions:
                errs.append(invalid(f"{rule_path}.succeededCount", count, f"must be less than or equal to "
                                    f"{completions} (the number of specified completions)"))
            if indexes is not None and count > total:
                errs.append(invalid(f"{rule_path}.succeededCount", count, f"must be less than or equal to {total} "
                                    "(the number of indexes in the specified succeededIndexes field)"))
    return errs


def _go_success_policy(policy: Any) -> str:
    """%#v of a batch.SuccessPolicy, its pointers shown as Go shows them (an address, here only their type)."""
    rules = ", ".join(
        "batch.SuccessPolicyRule{SucceededIndexes:(*string)(" + ("nil" if as_dict(r).get("succeededIndexes") is None
                                                              else "0xc000000000") + "), "
        "SucceededCount:(*int32)(" + ("nil" if as_dict(r).get("succeededCount") is None else "0xc000000000") + ")}"
        for r in seq(as_dict(policy).get("rules")))
    return "batch.SuccessPolicy{Rules:[]batch.SuccessPolicyRule{" + rules + "}}"


def _indexed_rules(spec: dict, path: str) -> Errors:
    errs: Errors = []
    completions, parallelism = _int(spec.get("completions")), _int(spec.get("parallelism"))
    max_failed, per_index = _int(spec.get("maxFailedIndexes")), spec.get("backoffLimitPerIndex")
    if spec.get("completions") is None:
        errs.append(required(f"{path}.completions", "when completion mode is Indexed"))
    if parallelism is not None and parallelism > MAX_INDEXED_PARALLELISM:
        errs.append(invalid(f"{path}.parallelism", parallelism,
                            f"must be less than or equal to {MAX_INDEXED_PARALLELISM} when completion mode is Indexed"))
    if completions is not None and max_failed is not None and max_failed > completions:
        errs.append(invalid(f"{path}.maxFailedIndexes", max_failed, "must be less than or equal to completions"))
    if max_failed is not None and max_failed > MAX_FAILED_INDEXES:
        errs.append(invalid(f"{path}.maxFailedIndexes", max_failed,
                            f"must be less than or equal to {MAX_FAILED_INDEXES}"))
    if completions is not None and completions > COMPLETIONS_SOFT_LIMIT and per_index is not None:
        high = f"when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"
        if spec.get("maxFailedIndexes") is None:
            errs.append(required(f"{path}.maxFailedIndexes",
                                 f"must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}"))
        if parallelism is not None and parallelism > HIGH_COMPLETIONS_LIMIT:
            errs.append(invalid(f"{path}.parallelism", parallelism,
                                f"must be less than or equal to {HIGH_COMPLETIONS_LIMIT} {high}"))
        if max_failed is not None and max_failed > HIGH_COMPLETIONS_LIMIT:
            errs.append(invalid(f"{path}.maxFailedIndexes", max_failed,
                                f"must be less than or equal to {HIGH_COMPLETIONS_LIMIT} {high}"))
    return errs


def _job_spec(spec: dict, path: str) -> Errors:
    """validateJobSpec: the parts shared by Jobs and CronJob job templates."""
    errs: Errors = []
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished",
                "backoffLimitPerIndex"):
        errs += nonnegative(spec.get(key), f"{path}.{key}")
    if spec.get("maxFailedIndexes") is not None:
        errs += nonnegative(spec.get("maxFailedIndexes"), f"{path}.maxFailedIndexes")
        if spec.get("backoffLimitPerIndex") is None:
            errs.append(required(f"{path}.backoffLimitPerIndex", "when maxFailedIndexes is specified"))
    managed_by = spec.get("managedBy")
    if managed_by is not None:
        errs += _domain_prefixed_path(text(managed_by), f"{path}.managedBy")
        if len(text(managed_by)) > MAX_MANAGED_BY:
            errs.append(too_long(f"{path}.managedBy", managed_by, MAX_MANAGED_BY))
    mode = spec.get("completionMode")
    if mode is not None:
        if mode not in COMPLETION_MODES:
            errs.append(not_supported(f"{path}.completionMode", mode, COMPLETION_MODES))
        if mode == "Indexed":
            errs += _indexed_rules(spec, path)
    if mode in (None, "NonIndexed"):
        for key in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if spec.get(key) is not None:
                errs.append(invalid(f"{path}.{key}", spec[key], "requires indexed completion mode"))
    failure_policy = spec.get("podFailurePolicy")
    if failure_policy is not None:
        errs += _pod_failure_policy(spec, f"{path}.podFailurePolicy")
    if spec.get("successPolicy") is not None:
        if mode != "Indexed":
            errs.append(invalid_go(f"{path}.successPolicy", _go_success_policy(spec["successPolicy"]),
                                   "requires indexed completion mode"))
        else:
            errs += _success_policy(spec, f"{path}.successPolicy")
    replacement = spec.get("podReplacementPolicy")
    if replacement is not None:
        if failure_policy is not None:
            if replacement != "Failed":
                errs.append(not_supported(f"{path}.podReplacementPolicy", replacement, ["Failed"]))
        elif replacement not in REPLACEMENT_POLICIES:
            errs.append(not_supported(f"{path}.podReplacementPolicy", replacement, REPLACEMENT_POLICIES))
    template = spec.get("template")
    errs += pod.pod_template_spec(template, f"{path}.template")
    # An unset restartPolicy was defaulted to Always, so both get the same answer.
    restart = as_dict(as_dict(template).get("spec")).get("restartPolicy")
    restart_path = f"{path}.template.spec.restartPolicy"
    if restart in ("Always", "", None):
        errs.append(required(restart_path, 'valid values: "OnFailure", "Never"'))
    elif restart not in ("OnFailure", "Never"):
        errs.append(not_supported(restart_path, restart, ["OnFailure", "Never"]))
    elif failure_policy is not None and restart != "Never":
        errs.append(invalid(restart_path, restart, 'only "Never" is supported when podFailurePolicy is specified'))
    return errs


def _has_label(template_labels: dict, key: str, expected: str) -> Errors:
    """ValidateHasLabel on the pod template's metadata."""
    path = f"spec.template.metadata.labels[{key}]"
    if key not in template_labels:
        return [required(path, f"must be '{expected}'")]
    if template_labels[key] != expected:
        return [invalid_go(path, go_string_map(template_labels), f"must be '{expected}'")]
    return []


def _generated_selector(obj: dict, prefixed_labels: bool) -> Errors:
    """validateGeneratedSelector: unless the selector is manual, the template carries the labels the strategy
    generated and the selector selects them."""
    meta, spec = as_dict(obj.get("metadata")), as_dict(obj.get("spec"))
    if spec.get("manualSelector") is True or spec.get("selector") is None:
        return []
    errs: Errors = []
    uid, name = text(meta.get("uid")), text(meta.get("name"))
    if not uid:
        errs.append(required("metadata.uid", ""))
    template_labels = as_dict(as_dict(as_dict(spec.get("template")).get("metadata")).get("labels"))
    expected = {LEGACY_CONTROLLER_UID: uid, LEGACY_JOB_NAME: name}
    errs += _has_label(template_labels, LEGACY_CONTROLLER_UID, uid)
    errs += _has_label(template_labels, LEGACY_JOB_NAME, name)
    if prefixed_labels:
        errs += _has_label(template_labels, CONTROLLER_UID, uid)
        errs += _has_label(template_labels, JOB_NAME, name)
        expected.update({CONTROLLER_UID: uid, JOB_NAME: name})
    if label_selector(spec["selector"], "spec.selector") == [] and not selector_matches(spec["selector"], expected):
        errs.append(invalid_go("spec.selector", go_label_selector(spec["selector"]), "`selector` not auto-generated"))
    return errs


def _selector_and_labels(spec: dict) -> Errors:
    """ValidateJobSpec's own part: a selector, valid, that selects the template's labels."""
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        return [required("spec.selector", "")]
    errs = label_selector(selector, "spec.selector")
    template_labels = as_dict(as_dict(spec.get("template")).get("metadata")).get("labels")
    if not selector_matches(selector, template_labels):
        errs.append(invalid_go("spec.template.metadata.labels", go_string_map(template_labels),
                               "`selector` does not match template `labels`"))
    return errs


def _validate_job(obj: dict, namespaced: bool, prefixed_labels: bool, object_meta: bool = True) -> Errors:
    """ValidateJob: run on create, and on update (less the object metadata rules, which the update's own
    replace) before the update rules."""
    meta = as_dict(obj.get("metadata"))
    errs = _meta.object_meta(meta, namespaced, names.name_is_dns_subdomain) if object_meta else []
    spec = as_dict(obj.get("spec"))
    errs += _generated_selector(obj, prefixed_labels)
    errs += _job_spec(spec, "spec")
    errs += _selector_and_labels(spec)
    completions = _int(spec.get("completions"))
    if spec.get("completionMode") == "Indexed" and completions is not None and completions > 0:
        # The last index's pod gets this hostname.
        hostname = f"{text(meta.get('name'))}-{completions - 1}"
        if names.is_dns1123_label(hostname):
            errs.append(invalid("metadata.name", meta.get("name"),
                                f"will not able to create pod with invalid DNS label: {hostname}"))
    return errs


def validate_job(obj: dict, namespaced: bool) -> Errors:
    return _validate_job(obj, namespaced, True)


_SCHEDULING_DIRECTIVES = ("nodeSelector", "tolerations", "schedulingGates")


def _template_with_new_scheduling(template: dict, old_template: dict) -> dict:
    """The old template with the new one's scheduling directives, labels and annotations (a suspended job that
    never started may change those; node affinity too, but no other affinity)."""
    old = {**old_template, "metadata": dict(as_dict(old_template.get("metadata"))),
           "spec": dict(as_dict(old_template.get("spec")))}
    new_meta, new_spec = as_dict(template.get("metadata")), as_dict(template.get("spec"))
    for key in ("labels", "annotations"):
        _copy_key(new_meta, old["metadata"], key)
    for key in _SCHEDULING_DIRECTIVES:
        _copy_key(new_spec, old["spec"], key)
    affinity, old_affinity = new_spec.get("affinity"), old["spec"].get("affinity")
    if affinity is None and old_affinity is not None:
        rest = {k: v for k, v in as_dict(old_affinity).items() if k != "nodeAffinity"}
        old["spec"]["affinity"] = rest if any(v is not None for v in rest.values()) else None
        if old["spec"]["affinity"] is None:
            del old["spec"]["affinity"]
    elif affinity is not None:
        merged = {k: v for k, v in as_dict(old_affinity).items() if k != "nodeAffinity"}
        if as_dict(affinity).get("nodeAffinity") is not None:
            merged["nodeAffinity"] = affinity["nodeAffinity"]
        old["spec"]["affinity"] = merged
    return old


def _copy_key(source: dict, target: dict, key: str) -> None:
    if key in source:
        target[key] = source[key]
    else:
        target.pop(key, None)


def validate_job_update(new: dict, old: dict, namespaced: bool) -> Errors:
    spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    old_labels = as_dict(as_dict(as_dict(old_spec.get("template")).get("metadata")).get("labels"))
    # Jobs made before the batch.kubernetes.io labels existed are not held to them.
    prefixed = JOB_NAME in old_labels and CONTROLLER_UID in old_labels
    errs = _validate_job(new, namespaced, prefixed, object_meta=False)
    errs += _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    errs += _completions_update(spec, old_spec)
    errs += immutable(spec.get("selector"), old_spec.get("selector"), "spec.selector", go_label_selector)
    template, old_template = as_dict(spec.get("template")), as_dict(old_spec.get("template"))
    suspended_unstarted = old_spec.get("suspend") is True and not as_dict(old.get("status")).get("startTime")
    if suspended_unstarted:
        old_template = _template_with_new_scheduling(template, old_template)
    if template != old_template:
        errs.append(invalid_go("spec.template", "core.PodTemplateSpec{...}", FIELD_IMMUTABLE))
    errs += immutable(spec.get("completionMode"), old_spec.get("completionMode"), "spec.completionMode")
    for key in ("podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"):
        if spec.get(key) != old_spec.get(key):
            errs.append(_immutable_pointer(f"spec.{key}", spec.get(key)))
    return errs


def validate_job_status_update(new: dict, old: dict, namespaced: bool) -> Errors:
    """ValidateJobUpdateStatus: the metadata update and the status's counts not negative; the spec is not judged
    again (a job stored before a spec rule came in still has its status written)."""
    status = as_dict(new.get("status"))
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    for key in ("active", "succeeded", "failed", "ready", "terminating"):
        if status.get(key) is not None:
            errs += nonnegative(status[key], f"status.{key}")
    return errs


def _immutable_pointer(field: str, value: Any) -> FieldError:
    """ValidateImmutableField of a pointer field: null when unset, a scalar plainly, a struct as Go's %#v
    (whose inner pointers print as addresses: elided here)."""
    if isinstance(value, dict):
        name = field.rsplit(".", 1)[-1]
        return invalid_go(field, f"batch.{name[:1].upper()}{name[1:]}{{...}}", FIELD_IMMUTABLE)
    return invalid(field, value, FIELD_IMMUTABLE)


def _completions_update(spec: dict, old_spec: dict) -> Errors:
    """validateCompletions with ElasticIndexedJob (GA): an Indexed job may change completions together with
    parallelism; any other job may not change them."""
    completions, old = spec.get("completions"), old_spec.get("completions")
    if spec.get("completionMode") != "Indexed":
        return immutable(completions, old, "spec.completions")
    if completions == old or completions is None:
        return []
    if completions != spec.get("parallelism"):
        return [invalid("spec.completions", completions, "can only be modified in tandem with spec.parallelism")]
    return []


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
            errs.append(invalid("spec.schedule", schedule,
                                "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
        elif not allow_tz and "TZ" in schedule:
            errs.append(invalid("spec.schedule", schedule,
                                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    errs += nonnegative(spec.get("startingDeadlineSeconds"), "spec.startingDeadlineSeconds")
    zone = spec.get("timeZone")
    if zone is not None and (old_spec is None or old_spec.get("timeZone") != zone):
        errs += _time_zone(zone)
    errs += one_of(spec.get("concurrencyPolicy"), "spec.concurrencyPolicy", CONCURRENCY_POLICIES)
    job_spec = as_dict(as_dict(spec.get("jobTemplate")).get("spec"))
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
    meta = as_dict(obj.get("metadata"))
    errs = _meta.object_meta(meta, namespaced, names.name_is_dns_subdomain)
    errs += _cron_job_spec(as_dict(obj.get("spec")), None)
    if len(text(meta.get("name"))) > CRONJOB_NAME_MAX:
        errs.append(invalid("metadata.name", meta.get("name"), "must be no more than 52 characters"))
    return errs


def validate_cron_job_update(new: dict, old: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    return errs + _cron_job_spec(as_dict(new.get("spec")), as_dict(old.get("spec")))


CREATE = {"Job": validate_job, "CronJob": validate_cron_job}
UPDATE = {"Job": validate_job_update, "CronJob": validate_cron_job_update}

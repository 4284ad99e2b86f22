"""Validation of the apps/v1 kinds (pkg/apis/apps/validation)."""

from __future__ import annotations

from typing import Any

from . import meta as _meta
from ...machinery import names
from . import pod
from ._util import (Errors, as_dict, forbidden, go_int_or_string, go_label_selector, go_string_map, immutable,
                    int_or_percent, int_or_percent_value, invalid, invalid_go, label_selector, labels, nonnegative,
                    not_more_than_100_percent, not_supported, required, selector_empty, selector_matches)

SELECTOR_MISMATCH = "`selector` does not match template `labels`"


def _template_labels(spec: dict) -> Any:
    return as_dict(as_dict(spec.get("template")).get("metadata")).get("labels")


def _selector(spec: dict, what: str, require: bool = True) -> Errors:
    """The selector is required (for most kinds), valid and not empty."""
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        return [required("spec.selector", "")] if require else []
    errs = label_selector(selector, "spec.selector")
    if selector_empty(selector):
        errs.append(invalid_go("spec.selector", go_label_selector(selector), f"empty selector is invalid for {what}"))
    return errs


def _template_for_replicas(spec: dict, kind: str) -> Errors:
    """ValidatePodTemplateSpecForReplicaSet: selector/labels match, template valid, restartPolicy Always."""
    template = spec.get("template")
    if not isinstance(template, dict):
        return [required("spec.template", "")]
    errs: Errors = []
    selector = spec.get("selector")
    # A missing selector selects nothing, so it never matches; an empty one is reported elsewhere.
    if not (isinstance(selector, dict) and selector_empty(selector)):
        if not selector_matches(selector, _template_labels(spec)):
            errs.append(invalid_go("spec.template.metadata.labels", go_string_map(_template_labels(spec)),
                                   SELECTOR_MISMATCH))
    errs += pod.pod_template_spec(template, "spec.template")
    template_spec = as_dict(template.get("spec"))
    restart = template_spec.get("restartPolicy")
    if restart != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", restart, ["Always"]))
    if template_spec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden("spec.template.spec.activeDeadlineSeconds",
                              f"activeDeadlineSeconds in {kind} is not Supported"))
    return errs


def _rolling_update(rolling: dict, path: str) -> Errors:
    errs = int_or_percent(rolling.get("maxUnavailable"), f"{path}.maxUnavailable")
    errs += int_or_percent(rolling.get("maxSurge"), f"{path}.maxSurge")
    if int_or_percent_value(rolling.get("maxUnavailable")) == 0 and int_or_percent_value(rolling.get("maxSurge")) == 0:
        errs.append(invalid_go(f"{path}.maxUnavailable", go_int_or_string(rolling.get("maxUnavailable")),
                               "may not be 0 when `maxSurge` is 0"))
    errs += not_more_than_100_percent(rolling.get("maxUnavailable"), f"{path}.maxUnavailable")
    return errs


def _deployment_strategy(strategy: dict) -> Errors:
    kind = strategy.get("type")
    if kind == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            return [forbidden("spec.strategy.rollingUpdate",
                              "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if kind == "RollingUpdate":
        if not isinstance(strategy.get("rollingUpdate"), dict):
            return [required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil")]
        return _rolling_update(strategy["rollingUpdate"], "spec.strategy.rollingUpdate")
    return [not_supported("spec.strategy", strategy, ["Recreate", "RollingUpdate"])]


def validate_deployment(obj: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    errs += nonnegative(spec.get("replicas"), "spec.replicas")
    errs += _selector(spec, "deployment")
    errs += _template_for_replicas(spec, "ReplicaSet")
    errs += _deployment_strategy(as_dict(spec.get("strategy")))
    errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    errs += nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    deadline = spec.get("progressDeadlineSeconds")
    if deadline is not None:
        errs += nonnegative(deadline, "spec.progressDeadlineSeconds")
        if isinstance(deadline, int) and deadline <= (spec.get("minReadySeconds") or 0):
            errs.append(invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"))
    return errs


def validate_replica_set(obj: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    errs += nonnegative(spec.get("replicas"), "spec.replicas")
    errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    # Upstream reuses the deployment wording for replica sets.
    errs += _selector(spec, "deployment")
    errs += _template_for_replicas(spec, "ReplicaSet")
    return errs


def validate_daemon_set(obj: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    selector = spec.get("selector")
    errs += label_selector(selector, "spec.selector")
    if not selector_matches(selector, _template_labels(spec)):
        errs.append(invalid_go("spec.template.metadata.labels", go_string_map(_template_labels(spec)),
                               SELECTOR_MISMATCH))
    if isinstance(selector, dict) and selector_empty(selector):
        errs.append(invalid_go("spec.selector", go_label_selector(selector), "empty selector is invalid for daemonset"))
    errs += pod.pod_template_spec(spec.get("template"), "spec.template")
    template_spec = as_dict(as_dict(spec.get("template")).get("spec"))
    if template_spec.get("restartPolicy") != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", template_spec.get("restartPolicy"), ["Always"]))
    if template_spec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden("spec.template.spec.activeDeadlineSeconds",
                              "activeDeadlineSeconds in DaemonSet is not Supported"))
    errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    strategy = as_dict(spec.get("updateStrategy"))
    if strategy.get("type") == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if not isinstance(rolling, dict):
            errs.append(required("spec.updateStrategy.rollingUpdate", ""))
        else:
            path = "spec.updateStrategy.rollingUpdate"
            errs += int_or_percent(rolling.get("maxUnavailable"), f"{path}.maxUnavailable")
            errs += int_or_percent(rolling.get("maxSurge"), f"{path}.maxSurge")
            errs += not_more_than_100_percent(rolling.get("maxUnavailable"), f"{path}.maxUnavailable")
            errs += not_more_than_100_percent(rolling.get("maxSurge"), f"{path}.maxSurge")
            # Exactly one of the two may be non-zero.
            has_unavailable = int_or_percent_value(rolling.get("maxUnavailable")) != 0
            has_surge = int_or_percent_value(rolling.get("maxSurge")) != 0
            if has_unavailable and has_surge:
                errs.append(invalid_go(f"{path}.maxSurge", go_int_or_string(rolling.get("maxSurge")),
                                       "may not be set when maxUnavailable is non-zero"))
            elif not has_unavailable and not has_surge:
                errs.append(required(f"{path}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
    elif strategy.get("type") != "OnDelete":
        errs.append(not_supported("spec.updateStrategy", strategy, ["RollingUpdate", "OnDelete"]))
    errs += nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    return errs


def _stateful_set_spec(spec: dict) -> Errors:
    errs: Errors = []
    policy = spec.get("podManagementPolicy")
    if not policy:
        errs.append(required("spec.podManagementPolicy", ""))
    elif policy not in ("OrderedReady", "Parallel"):
        errs.append(invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"))
    strategy = as_dict(spec.get("updateStrategy"))
    kind = strategy.get("type")
    if not kind:
        errs.append(required("spec.updateStrategy", ""))
    elif kind == "OnDelete":
        if strategy.get("rollingUpdate") is not None:
            errs.append(invalid("spec.updateStrategy.rollingUpdate", strategy["rollingUpdate"],
                                "only allowed for updateStrategy 'RollingUpdate'"))
    elif kind == "RollingUpdate":
        rolling = as_dict(strategy.get("rollingUpdate"))
        errs += nonnegative(rolling.get("partition"), "spec.updateStrategy.rollingUpdate.partition")
    else:
        errs.append(invalid("spec.updateStrategy", strategy, "must be 'RollingUpdate' or 'OnDelete'"))
    retention = as_dict(spec.get("persistentVolumeClaimRetentionPolicy"))
    for key in ("whenDeleted", "whenScaled"):
        value = retention.get(key)
        if value not in ("Retain", "Delete"):
            errs.append(not_supported(f"spec.persistentVolumeClaimRetentionPolicy.{key}", value, ["Retain", "Delete"]))
    errs += nonnegative(spec.get("replicas"), "spec.replicas")
    errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    if isinstance(spec.get("ordinals"), dict):
        errs += nonnegative(spec["ordinals"].get("start"), "spec.ordinals.start")
    errs += _selector(spec, "statefulset")
    template = spec.get("template")
    selector = spec.get("selector")
    if not (isinstance(selector, dict) and selector_empty(selector)):
        if not selector_matches(selector, _template_labels(spec)):
            errs.append(invalid_go("spec.template.metadata.labels", go_string_map(_template_labels(spec)),
                                   SELECTOR_MISMATCH))
    # Upstream (through 1.32) checks only the template's labels and annotations here, not its pod spec.
    template_meta = as_dict(as_dict(template).get("metadata"))
    errs += labels(template_meta.get("labels"), "spec.template.labels")
    errs += _meta.annotations(template_meta.get("annotations"), "spec.template.annotations")
    template_spec = as_dict(as_dict(template).get("spec"))
    if template_spec.get("restartPolicy") != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", template_spec.get("restartPolicy"), ["Always"]))
    if template_spec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden("spec.template.spec.activeDeadlineSeconds",
                              "activeDeadlineSeconds in StatefulSet is not Supported"))
    if spec.get("serviceName"):
        errs += [invalid("spec.serviceName", spec["serviceName"], msg)
                 for msg in names.is_dns1123_label(str(spec["serviceName"]))]
    return errs


def validate_stateful_set(obj: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns_label)
    return errs + _stateful_set_spec(as_dict(obj.get("spec")))


_STS_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
                "minReadySeconds")


def validate_stateful_set_update(new: dict, old: dict, namespaced: bool) -> Errors:
    # The name is not re-validated on update (older objects may have subdomain names).
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    errs += _stateful_set_spec(spec)
    frozen = {k: v for k, v in spec.items() if k not in _STS_MUTABLE}
    old_frozen = {k: v for k, v in old_spec.items() if k not in _STS_MUTABLE}
    if frozen != old_frozen:
        errs.append(forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                                      "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                                      "'minReadySeconds' are forbidden"))
    return errs


def _with_immutable_selector(create):
    """apps/v1 updates: the create rules, the metadata update rules, and an immutable selector."""
    def update(new: dict, old: dict, namespaced: bool) -> Errors:
        errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
        errs += [e for e in create(new, namespaced) if not e.field.startswith("metadata.")]
        errs += immutable(as_dict(new.get("spec")).get("selector"), as_dict(old.get("spec")).get("selector"),
                          "spec.selector", go_label_selector)
        return errs
    return update


def validate_controller_revision(obj: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns_subdomain)
    if obj.get("data") is None:
        errs.append(required("data", "data is mandatory"))
    errs += nonnegative(obj.get("revision"), "revision")
    return errs


def validate_controller_revision_update(new: dict, old: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    errs += validate_controller_revision(new, namespaced)
    if new.get("data") != old.get("data"):
        errs.append(invalid("data", "", "field is immutable"))
    return errs


CREATE = {
    "Deployment": validate_deployment,
    "ReplicaSet": validate_replica_set,
    "DaemonSet": validate_daemon_set,
    "StatefulSet": validate_stateful_set,
    "ControllerRevision": validate_controller_revision,
}

UPDATE = {
    "Deployment": _with_immutable_selector(validate_deployment),
    "ReplicaSet": _with_immutable_selector(validate_replica_set),
    "DaemonSet": _with_immutable_selector(validate_daemon_set),
    "StatefulSet": validate_stateful_set_update,
    "ControllerRevision": validate_controller_revision_update,
}

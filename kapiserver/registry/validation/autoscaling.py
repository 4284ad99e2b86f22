"""Validation of autoscaling's HorizontalPodAutoscaler, as upstream 1.32's pkg/apis/autoscaling/validation.

Upstream validates the internal (v2-shaped) object, so an autoscaling/v1 object is checked as the v2 object it
converts to: its ``targetCPUUtilizationPercentage`` is ``spec.metrics[0].resource.target.averageUtilization``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Optional

from ...machinery import names
from ...machinery.quantity import go_quantity, parse_quantity
from . import meta as _meta
from .resources import container_resource_name
from ._util import (Errors, as_dict, as_dicts, dns1123_label, forbidden, invalid, invalid_go, is_int, nonnegative,
                    not_supported, required)

MAX_PERIOD_SECONDS = 1800
MAX_STABILIZATION_WINDOW_SECONDS = 3600
METRIC_SOURCE_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")   # sorted, as upstream lists
SELECT_POLICIES = ("Disabled", "Max", "Min")
POLICY_TYPES = ("Percent", "Pods")
# The member of a MetricSpec each type populates, in the order upstream looks at them.
_SOURCES = (("object", "Object"), ("external", "External"), ("pods", "Pods"), ("resource", "Resource"),
            ("containerResource", "ContainerResource"))


def _as_v2(obj: dict) -> dict:
    if obj.get("apiVersion") == "autoscaling/v1":
        from ..conversion import hpa_v1_to_v2
        return hpa_v1_to_v2(obj)
    return obj


def _positive(value: Any) -> bool:
    amount = parse_quantity(value)
    return amount is not None and amount > Fraction(0)


# -- the spec ---------------------------------------------------------------------------------------

def cross_version_object_reference(ref: Any, path: str) -> Errors:
    ref = as_dict(ref)
    errs: Errors = []
    for key in ("kind", "name"):
        value = ref.get(key)
        if not value:
            errs.append(required(f"{path}.{key}", ""))
        else:
            errs += [invalid(f"{path}.{key}", value, msg) for msg in names.is_valid_path_segment_name(str(value))]
    return errs


def _metric_target(target: dict, path: str) -> Errors:
    errs: Errors = []
    kind = target.get("type")
    if not kind:
        errs.append(required(f"{path}.type", "must specify a metric target type"))
    if kind not in ("Utilization", "Value", "AverageValue"):
        errs.append(invalid(f"{path}.type", kind or "", "must be either Utilization, Value, or AverageValue"))
    for key in ("value", "averageValue"):
        if target.get(key) is not None and not _positive(target[key]):
            errs.append(invalid_go(f"{path}.{key}", go_quantity(target[key]), "must be positive"))
    utilization = target.get("averageUtilization")
    if is_int(utilization) and utilization < 1:
        errs.append(invalid(f"{path}.averageUtilization", utilization, "must be greater than 0"))
    return errs


def _metric_identifier(metric: dict, path: str) -> Errors:
    name = metric.get("name")
    if not name:
        return [required(f"{path}.name", "must specify a metric name")]
    return [invalid(f"{path}.name", name, msg) for msg in names.is_valid_path_segment_name(str(name))]


def _object_source(src: dict, path: str) -> Errors:
    target = as_dict(src.get("target"))
    errs = cross_version_object_reference(src.get("describedObject"), f"{path}.describedObject")
    errs += _metric_identifier(as_dict(src.get("metric")), f"{path}.metric")
    errs += _metric_target(target, f"{path}.target")
    if target.get("value") is None and target.get("averageValue") is None:
        errs.append(required(f"{path}.target.averageValue", "must set either a target value or averageValue"))
    return errs


def _external_source(src: dict, path: str) -> Errors:
    target = as_dict(src.get("target"))
    errs = _metric_identifier(as_dict(src.get("metric")), f"{path}.metric")
    errs += _metric_target(target, f"{path}.target")
    if target.get("value") is None and target.get("averageValue") is None:
        errs.append(required(f"{path}.target.averageValue",
                             "must set either a target value for metric or a per-pod target"))
    if target.get("value") is not None and target.get("averageValue") is not None:
        errs.append(forbidden(f"{path}.target.value",
                              "may not set both a target value for metric and a per-pod target"))
    return errs


def _pods_source(src: dict, path: str) -> Errors:
    target = as_dict(src.get("target"))
    errs = _metric_identifier(as_dict(src.get("metric")), f"{path}.metric")
    errs += _metric_target(target, f"{path}.target")
    if target.get("averageValue") is None:
        errs.append(required(f"{path}.target.averageValue", "must specify a positive target averageValue"))
    return errs


def _resource_target(target: dict, path: str) -> Errors:
    errs = _metric_target(target, path)
    if target.get("averageUtilization") is None and target.get("averageValue") is None:
        errs.append(required(f"{path}.averageUtilization",
                             "must set either a target raw value or a target utilization"))
    if target.get("averageUtilization") is not None and target.get("averageValue") is not None:
        errs.append(forbidden(f"{path}.averageValue",
                              "may not set both a target raw value and a target utilization"))
    return errs


def _resource_source(src: dict, path: str) -> Errors:
    errs: Errors = []
    if not src.get("name"):
        errs.append(required(f"{path}.name", "must specify a resource name"))
    return errs + _resource_target(as_dict(src.get("target")), f"{path}.target")


def _container_resource_source(src: dict, path: str) -> Errors:
    errs: Errors = []
    name, container = src.get("name"), src.get("container")
    if not name:
        errs.append(required(f"{path}.name", "must specify a resource name"))
    else:
        errs += container_resource_name(str(name), f"{path}.name")
    if not container:
        errs.append(required(f"{path}.container", "must specify a container"))
    else:
        errs += dns1123_label(str(container), f"{path}.container")
    return errs + _resource_target(as_dict(src.get("target")), f"{path}.target")


_SOURCE_CHECKS = {"object": _object_source, "external": _external_source, "pods": _pods_source,
                  "resource": _resource_source, "containerResource": _container_resource_source}


def _metric_spec(metric: dict, path: str) -> Errors:
    errs: Errors = []
    kind = metric.get("type") or ""
    if not kind:
        errs.append(required(f"{path}.type", "must specify a metric source type"))
    if kind not in METRIC_SOURCE_TYPES:
        errs.append(not_supported(f"{path}.type", kind, METRIC_SOURCE_TYPES))
    present = [key for key, _ in _SOURCES if metric.get(key) is not None]
    if present:   # only the first source present is looked into
        errs += _SOURCE_CHECKS[present[0]](as_dict(metric.get(present[0])), f"{path}.{present[0]}")
    expected = next((key for key, name in _SOURCES if name == kind), None)
    if expected is None:
        errs.append(not_supported(f"{path}.type", kind, METRIC_SOURCE_TYPES))
    elif expected not in present:
        errs.append(required(f"{path}.{expected}", "must populate information for the given metric source"))
    if len(present) != 1:
        errs += [forbidden(f"{path}.{key}", "must populate the given metric source only")
                 for key in sorted(present) if key != expected]
    return errs


def _metrics(metrics: Any, path: str, min_replicas: Any) -> Errors:
    errs: Errors = []
    items = as_dicts(metrics)
    for i, metric in enumerate(items):
        errs += _metric_spec(metric, f"{path}[{i}]")
    if min_replicas == 0 and not any(m.get("type") in ("Object", "External") for m in items):
        errs.append(forbidden(path, "must specify at least one Object or External metric to support scaling to "
                                    "zero replicas"))
    return errs


def _scaling_rules(rules: Any, path: str) -> Errors:
    if not isinstance(rules, dict):
        return []
    errs: Errors = []
    window = rules.get("stabilizationWindowSeconds")
    if is_int(window) and window < 0:
        errs.append(invalid(f"{path}.stabilizationWindowSeconds", window, "must be greater than or equal to zero"))
    if is_int(window) and window > MAX_STABILIZATION_WINDOW_SECONDS:
        errs.append(invalid(f"{path}.stabilizationWindowSeconds", window,
                            f"must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}"))
    select = rules.get("selectPolicy")
    if select is not None and select not in SELECT_POLICIES:
        errs.append(not_supported(f"{path}.selectPolicy", select, SELECT_POLICIES))
    policies = as_dicts(rules.get("policies"))
    if not policies:
        errs.append(required(f"{path}.policies", "must specify at least one Policy"))
    for i, policy in enumerate(policies):
        ppath = f"{path}.policies[{i}]"
        if policy.get("type") not in POLICY_TYPES:
            errs.append(not_supported(f"{ppath}.type", policy.get("type") or "", POLICY_TYPES))
        value, period = policy.get("value"), policy.get("periodSeconds")
        value = value if is_int(value) else 0
        period = period if is_int(period) else 0
        if value <= 0:
            errs.append(invalid(f"{ppath}.value", value, "must be greater than zero"))
        if period <= 0:
            errs.append(invalid(f"{ppath}.periodSeconds", period, "must be greater than zero"))
        if period > MAX_PERIOD_SECONDS:
            errs.append(invalid(f"{ppath}.periodSeconds", period,
                                f"must be less than or equal to {MAX_PERIOD_SECONDS}"))
    return errs


def _spec(spec: dict, min_replicas_lower_bound: int) -> Errors:
    errs: Errors = []
    min_replicas = spec.get("minReplicas")
    max_replicas = spec.get("maxReplicas")
    max_replicas = max_replicas if is_int(max_replicas) else 0
    if is_int(min_replicas) and min_replicas < min_replicas_lower_bound:
        errs.append(invalid("spec.minReplicas", min_replicas,
                            f"must be greater than or equal to {min_replicas_lower_bound}"))
    if max_replicas < 1:
        errs.append(invalid("spec.maxReplicas", max_replicas, "must be greater than 0"))
    if is_int(min_replicas) and max_replicas < min_replicas:
        errs.append(invalid("spec.maxReplicas", max_replicas, "must be greater than or equal to `minReplicas`"))
    errs += cross_version_object_reference(spec.get("scaleTargetRef"), "spec.scaleTargetRef")
    errs += _metrics(spec.get("metrics"), "spec.metrics", min_replicas)
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        errs += _scaling_rules(behavior.get("scaleUp"), "spec.behavior.scaleUp")
        errs += _scaling_rules(behavior.get("scaleDown"), "spec.behavior.scaleDown")
    return errs


def validate_hpa(obj: dict, namespaced: bool) -> Errors:
    """ValidateHorizontalPodAutoscaler (HPAScaleToZero off: minReplicas at least 1)."""
    errs = _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns_subdomain)
    return errs + _spec(as_dict(_as_v2(obj).get("spec")), 1)


def validate_hpa_update(new: dict, old: dict, namespaced: bool) -> Errors:
    """ValidateHorizontalPodAutoscalerUpdate: an autoscaler that already scales to zero may keep doing so."""
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    bound = 0 if as_dict(_as_v2(old).get("spec")).get("minReplicas") == 0 else 1
    return errs + _spec(as_dict(_as_v2(new).get("spec")), bound)


def validate_hpa_status_update(new: dict, old: dict, namespaced: bool) -> Errors:
    """ValidateHorizontalPodAutoscalerStatusUpdate: metadata, and the replica counts not negative."""
    status: Optional[dict] = as_dict(new.get("status"))
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    errs += nonnegative(status.get("currentReplicas"), "status.currentReplicas")
    errs += nonnegative(status.get("desiredReplicas"), "status.desiredReplicas")
    return errs


CREATE = {"HorizontalPodAutoscaler": validate_hpa}
UPDATE = {"HorizontalPodAutoscaler": validate_hpa_update}

"""
HorizontalPodAutoscalers between autoscaling/v1 and the stored autoscaling/v2, as upstream's
pkg/apis/autoscaling/v1/conversion.go does it.

autoscaling/v1 carries one CPU utilization target.  Everything else travels in annotations, written the way
upstream writes them so that clients reading them (and upstream servers sharing the objects) agree:

- ``autoscaling.alpha.kubernetes.io/metrics``: the other metrics, as autoscaling/v1 MetricSpecs (the old
  ``metricName``/``targetAverageValue`` shape), the CPU target last again when read back;
- ``.../current-metrics``: every current metric, as autoscaling/v1 MetricStatuses;
- ``.../behavior``: the behavior as Go marshals its internal type, without json tags (``ScaleUp``,
  ``StabilizationWindowSeconds``...); read back ignoring case, as encoding/json does;
- ``.../conditions``: the conditions.

Annotations of those names a v1 client sends are consumed on the way in and never stored.
"""

from __future__ import annotations

from typing import Any, Optional

from ..machinery import codec, errors, gojson, schema, typed

METRICS = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"
ROUND_TRIP = (METRICS, BEHAVIOR, CURRENT_METRICS, CONDITIONS)
DEFAULT_CPU_UTILIZATION = 80


def _d(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _set(out: dict, key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


def _ref(ref: Any) -> dict:
    ref = _d(ref)
    out = {"kind": ref.get("kind", ""), "name": ref.get("name", "")}
    if ref.get("apiVersion"):
        out["apiVersion"] = ref["apiVersion"]
    return out


def _identifier(name: Any, selector: Any) -> dict:
    out = {"name": name or ""}
    _set(out, "selector", selector)
    return out


def _dumps(value: Any) -> str:
    return codec.dumps(value).decode()


def _loads(raw: Any) -> Any:
    """An annotation's JSON, None where there is none; JSON that does not parse is the 400 upstream's
    conversion gives (its json.Unmarshal error)."""
    if not isinstance(raw, str):
        return None
    try:
        return codec.loads(raw)
    except ValueError:
        raise errors.bad_request(gojson.syntax_error(raw) or "unexpected end of JSON input") from None


# -- metric specs ------------------------------------------------------------------------------------

def _spec_to_v1(metric: dict) -> dict:
    out: dict = {"type": metric.get("type", "")}
    if isinstance(metric.get("object"), dict):
        src = metric["object"]
        target, ident = _d(src.get("target")), _d(src.get("metric"))
        obj = {"target": _ref(src.get("describedObject")), "metricName": ident.get("name", ""),
               "targetValue": target.get("value") or "0"}
        _set(obj, "selector", ident.get("selector"))
        _set(obj, "averageValue", target.get("averageValue"))
        out["object"] = obj
    if isinstance(metric.get("pods"), dict):
        src = metric["pods"]
        target, ident = _d(src.get("target")), _d(src.get("metric"))
        pods = {"metricName": ident.get("name", ""), "targetAverageValue": target.get("averageValue") or "0"}
        _set(pods, "selector", ident.get("selector"))
        out["pods"] = pods
    for key in ("resource", "containerResource"):
        if isinstance(metric.get(key), dict):
            src = metric[key]
            target = _d(src.get("target"))
            res = {"name": src.get("name", "")}
            _set(res, "targetAverageUtilization", target.get("averageUtilization"))
            _set(res, "targetAverageValue", target.get("averageValue"))
            if key == "containerResource":
                res["container"] = src.get("container", "")
            out[key] = res
    if isinstance(metric.get("external"), dict):
        src = metric["external"]
        target, ident = _d(src.get("target")), _d(src.get("metric"))
        ext = {"metricName": ident.get("name", "")}
        _set(ext, "metricSelector", ident.get("selector"))
        _set(ext, "targetValue", target.get("value"))
        _set(ext, "targetAverageValue", target.get("averageValue"))
        out["external"] = ext
    return out


def _spec_to_v2(metric: dict) -> dict:
    out: dict = {"type": metric.get("type", "")}
    if isinstance(metric.get("object"), dict):
        src = metric["object"]
        target = {"type": "AverageValue" if src.get("averageValue") is not None else "Value",
                  "value": src.get("targetValue") or "0"}
        _set(target, "averageValue", src.get("averageValue"))
        out["object"] = {"describedObject": _ref(src.get("target")), "target": target,
                         "metric": _identifier(src.get("metricName"), src.get("selector"))}
    if isinstance(metric.get("pods"), dict):
        src = metric["pods"]
        out["pods"] = {"metric": _identifier(src.get("metricName"), src.get("selector")),
                       "target": {"type": "AverageValue", "averageValue": src.get("targetAverageValue") or "0"}}
    for key in ("resource", "containerResource"):
        if isinstance(metric.get(key), dict):
            src = metric[key]
            utilization = src.get("targetAverageUtilization")
            target = {"type": "AverageValue" if utilization is None else "Utilization"}
            _set(target, "averageValue", src.get("targetAverageValue"))
            _set(target, "averageUtilization", utilization)
            res = {"name": src.get("name", ""), "target": target}
            if key == "containerResource":
                res["container"] = src.get("container", "")
            out[key] = res
    if isinstance(metric.get("external"), dict):
        src = metric["external"]
        target = {"type": "AverageValue" if src.get("targetValue") is None else "Value"}
        _set(target, "value", src.get("targetValue"))
        _set(target, "averageValue", src.get("targetAverageValue"))
        out["external"] = {"metric": _identifier(src.get("metricName"), src.get("metricSelector")),
                           "target": target}
    return out


# -- metric statuses ---------------------------------------------------------------------------------

def _status_to_v1(metric: dict) -> dict:
    out: dict = {"type": metric.get("type", "")}
    if isinstance(metric.get("object"), dict):
        src = metric["object"]
        current, ident = _d(src.get("current")), _d(src.get("metric"))
        obj = {"target": _ref(src.get("describedObject")), "metricName": ident.get("name", ""),
               "currentValue": current.get("value") or "0"}
        _set(obj, "selector", ident.get("selector"))
        _set(obj, "averageValue", current.get("averageValue"))
        out["object"] = obj
    if isinstance(metric.get("pods"), dict):
        src = metric["pods"]
        current, ident = _d(src.get("current")), _d(src.get("metric"))
        pods = {"metricName": ident.get("name", ""), "currentAverageValue": current.get("averageValue") or "0"}
        _set(pods, "selector", ident.get("selector"))
        out["pods"] = pods
    for key in ("resource", "containerResource"):
        if isinstance(metric.get(key), dict):
            src = metric[key]
            current = _d(src.get("current"))
            res = {"name": src.get("name", "")}
            _set(res, "currentAverageUtilization", current.get("averageUtilization"))
            res["currentAverageValue"] = current.get("averageValue") or "0"
            if key == "containerResource":
                res["container"] = src.get("container", "")
            out[key] = res
    if isinstance(metric.get("external"), dict):
        src = metric["external"]
        current, ident = _d(src.get("current")), _d(src.get("metric"))
        ext = {"metricName": ident.get("name", "")}
        _set(ext, "metricSelector", ident.get("selector"))
        ext["currentValue"] = current.get("value") or "0"
        _set(ext, "currentAverageValue", current.get("averageValue"))
        out["external"] = ext
    return out


def _status_to_v2(metric: dict) -> dict:
    out: dict = {"type": metric.get("type", "")}
    if isinstance(metric.get("object"), dict):
        src = metric["object"]
        current = {"value": src.get("currentValue") or "0"}
        _set(current, "averageValue", src.get("averageValue"))
        out["object"] = {"metric": _identifier(src.get("metricName"), src.get("selector")), "current": current,
                         "describedObject": _ref(src.get("target"))}
    if isinstance(metric.get("pods"), dict):
        src = metric["pods"]
        out["pods"] = {"metric": _identifier(src.get("metricName"), src.get("selector")),
                       "current": {"averageValue": src.get("currentAverageValue") or "0"}}
    for key in ("resource", "containerResource"):
        if isinstance(metric.get(key), dict):
            src = metric[key]
            current = {"averageValue": src.get("currentAverageValue") or "0"}
            _set(current, "averageUtilization", src.get("currentAverageUtilization"))
            res = {"name": src.get("name", ""), "current": current}
            if key == "containerResource":
                res["container"] = src.get("container", "")
            out[key] = res
    if isinstance(metric.get("external"), dict):
        src = metric["external"]
        current = {"value": src.get("currentValue") or "0"}
        _set(current, "averageValue", src.get("currentAverageValue"))
        out["external"] = {"metric": _identifier(src.get("metricName"), src.get("metricSelector")),
                           "current": current}
    return out


# -- behavior: Go's field names ----------------------------------------------------------------------

_RULE_FIELDS = (("StabilizationWindowSeconds", "stabilizationWindowSeconds"), ("SelectPolicy", "selectPolicy"),
                ("Policies", "policies"))
_POLICY_FIELDS = (("Type", "type", ""), ("Value", "value", 0), ("PeriodSeconds", "periodSeconds", 0))


def _behavior_to_go(behavior: dict) -> dict:
    def rules(value: Any) -> Optional[dict]:
        if not isinstance(value, dict):
            return None
        out = {go: value.get(name) for go, name in _RULE_FIELDS}
        if isinstance(out["Policies"], list):
            out["Policies"] = [{go: _d(p).get(name, zero) for go, name, zero in _POLICY_FIELDS}
                               for p in out["Policies"]]
        return out
    return {"ScaleUp": rules(behavior.get("scaleUp")), "ScaleDown": rules(behavior.get("scaleDown"))}


def _field(obj: dict, name: str) -> Any:
    """encoding/json's match of a key: exact, else ignoring case."""
    if name in obj:
        return obj[name]
    return next((v for k, v in obj.items() if k.lower() == name.lower()), None)


def _behavior_from_go(raw: Any) -> Optional[dict]:
    value = _loads(raw)
    if not isinstance(value, dict):
        return None

    def rules(value: Any) -> Optional[dict]:
        if not isinstance(value, dict):
            return None
        out: dict = {}
        for go, name in _RULE_FIELDS:
            _set(out, name, _field(value, go))
        if isinstance(out.get("policies"), list):
            out["policies"] = [{name: _field(_d(p), go) if _field(_d(p), go) is not None else zero
                                for go, name, zero in _POLICY_FIELDS} for p in out["policies"]]
        return out
    out: dict = {}
    _set(out, "scaleUp", rules(_field(value, "ScaleUp")))
    _set(out, "scaleDown", rules(_field(value, "ScaleDown")))
    return out or None


# -- the objects -------------------------------------------------------------------------------------

def _is_cpu(metric: dict) -> bool:
    return metric.get("type") == "Resource" and _d(metric.get("resource")).get("name") == "cpu"


def _head(obj: dict) -> tuple[dict, dict, dict]:
    out = {k: obj[k] for k in ("kind", "apiVersion", "metadata") if k in obj}
    meta = dict(_d(out.get("metadata")))
    annotations = {k: v for k, v in _d(meta.get("annotations")).items() if k not in ROUND_TRIP}
    return out, meta, annotations


def _finish(out: dict, meta: dict, annotations: dict) -> dict:
    if annotations:
        meta["annotations"] = dict(sorted(annotations.items()))   # Go writes a map's keys sorted
    else:
        meta.pop("annotations", None)
    if meta or "metadata" in out:
        out["metadata"] = meta
    return out


def hpa_v2_to_v1(obj: dict) -> dict:
    out, meta, annotations = _head(obj)
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))
    metrics = _l(spec.get("metrics"))
    v1_spec: dict = {k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec}
    cpu = next((m for m in metrics if _is_cpu(m)), None)   # the first CPU metric decides, utilization or not
    if cpu is not None:
        _set(v1_spec, "targetCPUUtilizationPercentage", _d(_d(cpu["resource"]).get("target")).get("averageUtilization"))
    others = [_spec_to_v1(m) for m in metrics
              if not (_is_cpu(m) and _d(_d(m["resource"]).get("target")).get("averageUtilization") is not None)]
    if others:
        annotations[METRICS] = _dumps(others)
    current = _l(status.get("currentMetrics"))
    if current:
        annotations[CURRENT_METRICS] = _dumps([_status_to_v1(m) for m in current])
    if isinstance(spec.get("behavior"), dict):
        annotations[BEHAVIOR] = _dumps(_behavior_to_go(spec["behavior"]))
    if _l(status.get("conditions")):
        annotations[CONDITIONS] = _dumps(status["conditions"])
    out["spec"] = v1_spec
    if "status" in obj:
        v1_status = {k: status[k] for k in ("observedGeneration", "lastScaleTime", "currentReplicas",
                                             "desiredReplicas") if k in status}
        v1_status.setdefault("desiredReplicas", 0)
        for metric in current:   # no break upstream: the last CPU utilization is the one shown
            utilization = _d(_d(metric.get("resource")).get("current")).get("averageUtilization")
            if _is_cpu(metric) and utilization is not None:
                v1_status["currentCPUUtilizationPercentage"] = utilization
        out["status"] = v1_status
    return _finish(out, meta, annotations)


def hpa_v1_to_v2(obj: dict) -> dict:
    out, meta, annotations = _head(obj)
    sent = _d(_d(obj.get("metadata")).get("annotations"))
    spec = _d(obj.get("spec"))
    v2_spec = {k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec}
    metrics = []
    if spec.get("targetCPUUtilizationPercentage") is not None:
        metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": spec["targetCPUUtilizationPercentage"]}}})
    others = _loads(sent.get(METRICS))
    if isinstance(others, list):   # the other metrics first, the CPU target after them
        metrics = [_spec_to_v2(m) for m in _l(others)] + metrics
    # autoscaling/v1's implicit target (once the controller's) made explicit: without any metric, 80% of cpu.
    v2_spec["metrics"] = metrics or [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}]
    behavior = _behavior_from_go(sent.get(BEHAVIOR))
    if behavior:
        v2_spec["behavior"] = behavior
    out["spec"] = v2_spec
    if "status" in obj:
        status = _d(obj.get("status"))
        v2_status = {k: status[k] for k in ("observedGeneration", "lastScaleTime", "currentReplicas",
                                             "desiredReplicas") if k in status}
        current = []
        if status.get("currentCPUUtilizationPercentage") is not None:
            current = [{"type": "Resource", "resource": {"name": "cpu", "current": {
                "averageUtilization": status["currentCPUUtilizationPercentage"]}}}]
        raw_current = _loads(sent.get(CURRENT_METRICS))
        if isinstance(raw_current, list):   # they say more than the CPU percentage does
            current = [_status_to_v2(m) for m in _l(raw_current)]
        if current:
            v2_status["currentMetrics"] = current
        conditions = _loads(sent.get(CONDITIONS))
        if isinstance(conditions, list) and conditions:
            v2_status["conditions"] = conditions
        out["status"] = v2_status
    if any(key in sent for key in ROUND_TRIP):
        # What the annotations held must have the types of the fields it becomes (upstream unmarshals it into
        # them): a 400 here, not a stored object clients cannot decode.
        typed.decode(out, schema.node_for("autoscaling", "v2", "HorizontalPodAutoscaler"),
                     "HorizontalPodAutoscaler", "v2")
    return _finish(out, meta, annotations)

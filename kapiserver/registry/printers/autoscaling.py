"""
The HorizontalPodAutoscaler printer: NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE.

One printer serves autoscaling/v1 and v2; a v1 object's CPU target is read as the
v2 Resource metric it stands for.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from ..hpaconversion import hpa_v1_to_v2
from . import _base as b

_SPEC, _STATUS = "autoscaling.v2.HorizontalPodAutoscalerSpec", "autoscaling.v2.HorizontalPodAutoscalerStatus"


def _columns() -> list[dict]:
    return [
        b.name_column(),
        b.column("Reference", "string", b.doc(_SPEC, "scaleTargetRef")),
        b.column("Targets", "string", b.doc("autoscaling.v2beta1.HorizontalPodAutoscalerSpec", "metrics")),
        b.column("MinPods", "string", b.doc(_SPEC, "minReplicas")),
        b.column("MaxPods", "string", b.doc(_SPEC, "maxReplicas")),
        b.column("Replicas", "string", b.doc(_STATUS, "currentReplicas")),
        b.age_column(),
    ]


def _v2_metrics(hpa: dict) -> tuple[list, list]:
    """The metrics and their statuses as upstream's printer sees them, on the internal (v2) object: an
    autoscaling/v1 object's other metrics and statuses come back from its annotations."""
    if hpa.get("apiVersion") == "autoscaling/v1":
        hpa = hpa_v1_to_v2(hpa)
    spec = hpa.get("spec") or {}
    status = hpa.get("status") or {}
    return spec.get("metrics") or [], status.get("currentMetrics") or []


def _current(statuses: list, i: int, source: str) -> Optional[dict]:
    if i < len(statuses) and statuses[i].get(source) is not None:
        return statuses[i][source].get("current") or {}
    return None


def _pointer_quantity(value) -> str:
    """A *resource.Quantity as upstream prints it: its String() says <nil> for an unset one."""
    return "<nil>" if value is None else b.quantity(value)


def format_metrics(specs: list, statuses: list) -> str:
    if not specs:
        return "<none>"
    shown = []
    for i, spec in enumerate(specs):
        kind = spec.get("type")
        if kind in ("External", "Object"):
            source = "external" if kind == "External" else "object"
            target = b.get(spec, f"{source}.target", {})
            current = _current(statuses, i, source)
            if target.get("averageValue") is not None:
                now_ = b.quantity(current.get("averageValue")) if current and current.get("averageValue") \
                    is not None else "<unknown>"
                shown.append(f"{now_}/{b.quantity(target['averageValue'])} (avg)")
            else:
                now_ = _pointer_quantity(current.get("value")) if current is not None else "<unknown>"
                shown.append(f"{now_}/{_pointer_quantity(target.get('value'))}")
        elif kind == "Pods":
            current = _current(statuses, i, "pods")
            now_ = _pointer_quantity(current.get("averageValue")) if current is not None else "<unknown>"
            shown.append(f"{now_}/{_pointer_quantity(b.get(spec, 'pods.target.averageValue'))}")
        elif kind in ("Resource", "ContainerResource"):
            source = "resource" if kind == "Resource" else "containerResource"
            resource = spec.get(source) or {}
            target = resource.get("target") or {}
            current = _current(statuses, i, source)
            if target.get("averageValue") is not None:
                now_ = _pointer_quantity(current.get("averageValue")) if current is not None else "<unknown>"
                shown.append(f"{resource.get('name', '')}: {now_}/{b.quantity(target['averageValue'])}")
            else:
                now_ = "<unknown>"
                if current is not None and current.get("averageUtilization") is not None:
                    now_ = f"{current['averageUtilization']}%"
                want = "<auto>"
                if target.get("averageUtilization") is not None:
                    want = f"{target['averageUtilization']}%"
                shown.append(f"{resource.get('name', '')}: {now_}/{want}")
        else:
            shown.append("<unknown type>")
    limit = 2
    if len(shown) > limit:
        return ", ".join(shown[:limit]) + f" + {len(shown) - limit} more..."
    return ", ".join(shown)


def _cells(hpa: dict, now: datetime) -> list:
    spec = hpa.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    min_replicas = spec.get("minReplicas")
    return [b.name(hpa), f"{ref.get('kind', '')}/{ref.get('name', '')}", format_metrics(*_v2_metrics(hpa)),
            "<unset>" if min_replicas is None else str(min_replicas), b.int_cell(spec.get("maxReplicas")),
            b.int_cell(b.get(hpa, "status.currentReplicas")), b.age(hpa, now)]


PRINTERS = {("autoscaling", "horizontalpodautoscalers"): b.Printer(_columns, _cells)}

# The scale subresource (autoscaling/v1 Scale) of deployments, replicasets, statefulsets, RCs.
# Upstream's Name column here carries no "name" format.
SCALE = b.Printer(
    lambda: [b.name_column(format_=""),
             b.column("Desired", "integer", b.doc("autoscaling.v1.ScaleSpec", "replicas")),
             b.column("Available", "integer", b.doc("autoscaling.v1.ScaleStatus", "replicas")),
             b.age_column()],
    lambda scale, now: [b.name(scale), b.int_cell(b.get(scale, "spec.replicas")),
                        b.int_cell(b.get(scale, "status.replicas")), b.age(scale, now)])

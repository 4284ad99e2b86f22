"""kubectl get hpa's TARGETS column as upstream's formatHPAMetrics writes it, for v1 objects too."""

from __future__ import annotations

import json

from kapiserver.registry.catalog import Catalog
from kapiserver.registry.conversion import from_storage
from kapiserver.registry.printers.autoscaling import _v2_metrics, format_metrics

HPA_V1 = Catalog().lookup("autoscaling", "v1", "horizontalpodautoscalers")


def test_a_v1_object_shows_every_metric_of_the_autoscaler():
    """Upstream prints the internal object: a v1 read shows the metrics v1 keeps in annotations, not just CPU."""
    stored = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
              "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "minReplicas": 1, "maxReplicas": 3,
                       "metrics": [
                           {"type": "Pods", "pods": {"metric": {"name": "qps"},
                                                     "target": {"type": "AverageValue", "averageValue": "10"}}},
                           {"type": "Resource", "resource": {"name": "cpu", "target": {
                               "type": "Utilization", "averageUtilization": 50}}}]},
              "status": {"currentReplicas": 1, "desiredReplicas": 1, "currentMetrics": [
                  {"type": "Pods", "pods": {"metric": {"name": "qps"}, "current": {"averageValue": "7"}}},
                  {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 20,
                                                                               "averageValue": "100m"}}}]}}
    v1 = from_storage(json.loads(json.dumps(stored)), HPA_V1)
    assert format_metrics(*_v2_metrics(v1)) == "7/10, cpu: 20%/50%"
    assert format_metrics(*_v2_metrics(stored)) == "7/10, cpu: 20%/50%"


def test_a_status_without_the_targets_quantity_prints_nil():
    """A current metric that lacks the quantity its target's type reads (the status of a target type since
    changed) prints <nil>, as the unset *resource.Quantity's String() upstream; no status at all is <unknown>."""
    specs = [{"type": "Object", "object": {"describedObject": {"kind": "Service", "name": "s"},
                                           "metric": {"name": "rps"}, "target": {"type": "Value", "value": "5"}}},
             {"type": "Pods", "pods": {"metric": {"name": "qps"},
                                       "target": {"type": "AverageValue", "averageValue": "10"}}},
             {"type": "Resource", "resource": {"name": "memory",
                                               "target": {"type": "AverageValue", "averageValue": "1Gi"}}}]
    statuses = [{"type": "Object", "object": {"metric": {"name": "rps"}, "current": {"averageValue": "3"}}},
                {"type": "Pods", "pods": {"metric": {"name": "qps"}, "current": {}}},
                {"type": "Resource", "resource": {"name": "memory", "current": {"averageUtilization": 40}}}]
    assert format_metrics(specs[:2], statuses) == "<nil>/5, <nil>/10"
    assert format_metrics(specs[2:], statuses[2:]) == "memory: <nil>/1Gi"
    assert format_metrics(specs[:2], []) == "<unknown>/5, <unknown>/10"

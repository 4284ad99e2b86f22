"""autoscaling/v1 <-> v2 as upstream's pkg/apis/autoscaling/v1/conversion.go: v2-only fields travel in
annotations in the shapes upstream writes (v1 MetricSpecs and MetricStatuses, the behavior with Go's field names),
and come back whole."""

from __future__ import annotations

import json

from kapiserver.registry.catalog import Catalog
from kapiserver.registry.conversion import from_storage, to_storage

HPA_V1 = Catalog().lookup("autoscaling", "v1", "horizontalpodautoscalers")
ANN = "autoscaling.alpha.kubernetes.io/"

V2 = {
    "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
    "spec": {
        "scaleTargetRef": {"kind": "Deployment", "name": "d", "apiVersion": "apps/v1"},
        "minReplicas": 1, "maxReplicas": 4,
        "metrics": [
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                        "averageUtilization": 60}}},
            {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue",
                                                                            "averageValue": "10"}}},
            {"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "Value",
                                                                                      "value": "30"}}},
        ],
        "behavior": {"scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                                 "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}]},
                     "scaleDown": {"selectPolicy": "Min",
                                   "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}},
    },
    "status": {"currentReplicas": 2, "desiredReplicas": 2, "currentMetrics": [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageValue": "250m",
                                                                     "averageUtilization": 25}}}],
               "conditions": [{"type": "AbleToScale", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z",
                               "reason": "SucceededRescale", "message": "m"}]},
}


def test_v2_only_fields_are_written_as_upstream_writes_them():
    """The other metrics as v1 MetricSpecs, current metrics as v1 MetricStatuses, the behavior in Go's names."""
    v1 = from_storage(json.loads(json.dumps(V2)), HPA_V1)
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 60
    assert v1["status"]["currentCPUUtilizationPercentage"] == 25
    annotations = v1["metadata"]["annotations"]
    assert list(annotations) == sorted(annotations)
    assert json.loads(annotations[ANN + "metrics"]) == [
        {"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "10"}},
        {"type": "External", "external": {"metricName": "queue", "targetValue": "30"}}]
    assert json.loads(annotations[ANN + "current-metrics"]) == [
        {"type": "Resource", "resource": {"name": "cpu", "currentAverageUtilization": 25,
                                          "currentAverageValue": "250m"}}]
    assert json.loads(annotations[ANN + "behavior"]) == {
        "ScaleUp": {"StabilizationWindowSeconds": 0, "SelectPolicy": "Max",
                    "Policies": [{"Type": "Pods", "Value": 4, "PeriodSeconds": 15}]},
        "ScaleDown": {"StabilizationWindowSeconds": None, "SelectPolicy": "Min",
                      "Policies": [{"Type": "Percent", "Value": 100, "PeriodSeconds": 15}]}}
    assert json.loads(annotations[ANN + "conditions"]) == V2["status"]["conditions"]


def test_a_v1_round_trip_keeps_everything_and_puts_the_cpu_target_last():
    """Read back, the annotations are consumed; the CPU metric follows the others, as upstream orders them."""
    v1 = from_storage(json.loads(json.dumps(V2)), HPA_V1)
    back = to_storage(v1, HPA_V1)
    assert "annotations" not in back["metadata"]
    metrics = V2["spec"]["metrics"]
    assert back["spec"]["metrics"] == metrics[1:] + metrics[:1]
    assert back["spec"]["behavior"] == V2["spec"]["behavior"]
    assert back["status"]["currentMetrics"] == V2["status"]["currentMetrics"]
    assert back["status"]["conditions"] == V2["status"]["conditions"]


def test_stale_round_trip_annotations_on_the_stored_object_are_not_shown():
    """DropRoundTripHorizontalPodAutoscalerAnnotations: only annotations the conversion made are shown."""
    stored = json.loads(json.dumps(V2))
    stored["metadata"]["annotations"] = {ANN + "metrics": "[]", "keep": "me"}
    stored["spec"]["metrics"] = stored["spec"]["metrics"][:1]
    del stored["spec"]["behavior"]
    stored["status"] = {"currentReplicas": 1, "desiredReplicas": 1}
    assert from_storage(stored, HPA_V1)["metadata"]["annotations"] == {"keep": "me"}


def test_behavior_annotation_is_read_ignoring_case():
    """encoding/json matches keys case-insensitively, so camelCase (as older servers wrote it) reads too."""
    v1 = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h", "annotations": {
        ANN + "behavior": '{"scaleDown":{"stabilizationWindowSeconds":60,"policies":[{"type":"Pods","value":1,'
                          '"periodSeconds":30}]}}'}},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "maxReplicas": 3}}
    back = to_storage(v1, HPA_V1)
    assert back["spec"]["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 60, "policies": [
        {"type": "Pods", "value": 1, "periodSeconds": 30}]}}

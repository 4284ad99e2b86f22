"""HorizontalPodAutoscaler defaults as upstream's pkg/apis/autoscaling/v2/defaults.go sets them."""

from __future__ import annotations

from kapiserver.registry.defaults import apply_defaults

from tests.registry.test_defaults import defaulted


def test_scale_down_window_is_left_to_the_controller():
    """GenerateHPAScaleDownRules leaves stabilizationWindowSeconds unset; scaleUp's is 0; Go's field order."""
    out = defaulted("autoscaling", "v2", "HorizontalPodAutoscaler", {"spec": {"maxReplicas": 3, "behavior": {
        "scaleDown": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}, "scaleUp": {}}}})
    behavior = out["spec"]["behavior"]
    assert list(behavior) == ["scaleUp", "scaleDown"]
    assert behavior["scaleDown"] == {"selectPolicy": "Max", "policies": [{"type": "Pods", "value": 1,
                                                                         "periodSeconds": 60}]}
    assert list(behavior["scaleUp"]) == ["stabilizationWindowSeconds", "selectPolicy", "policies"]
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 0


def test_an_explicit_empty_policy_list_is_kept():
    """copyHPAScalingRules copies a non-nil (even empty) policy list, so validation can refuse it."""
    out = defaulted("autoscaling", "v2", "HorizontalPodAutoscaler", {"spec": {"maxReplicas": 3, "behavior": {
        "scaleUp": {"policies": []}}}})
    assert out["spec"]["behavior"]["scaleUp"]["policies"] == []


def test_v1_defaults_only_min_replicas():
    """autoscaling/v1 defaults minReplicas to 1 and nothing else (its CPU target comes from conversion)."""
    obj = {"spec": {"maxReplicas": 2}}
    apply_defaults("autoscaling", "v1", "HorizontalPodAutoscaler", obj)
    assert obj["spec"] == {"maxReplicas": 2, "minReplicas": 1}


def test_defaulted_spec_fields_are_written_in_go_order():
    """minReplicas and metrics added by defaulting take their struct places, not the end of the spec."""
    out = defaulted("autoscaling", "v2", "HorizontalPodAutoscaler", {"spec": {
        "scaleTargetRef": {"kind": "Deployment", "name": "d"}, "maxReplicas": 3, "behavior": {}}})
    assert list(out["spec"]) == ["scaleTargetRef", "minReplicas", "maxReplicas", "metrics", "behavior"]

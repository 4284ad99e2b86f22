"""The HPA controller's behavior rules where the API leaves scaleDown's stabilization window unset."""

from __future__ import annotations

from kapiserver.controllermanager.horizontaldecision import DecisionCore

NOW = 1_000_000.0


def test_an_unset_scale_down_window_is_the_flags():
    """maybeInitScaleDownStabilizationWindow: the behavior's missing scaleDown window is
    --horizontal-pod-autoscaler-downscale-stabilization (here 60 s), not a fixed 300 s."""
    behavior = {"scaleDown": {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100,
                                                                  "periodSeconds": 15}]}}
    core = DecisionCore(60.0)
    status: dict = {}
    core.record_initial("k", 6, NOW)
    assert core.normalize_with_behavior("k", status, behavior, 6, 3, 1, 10, NOW + 30) == 6
    assert core.normalize_with_behavior("k", status, behavior, 6, 3, 1, 10, NOW + 90) == 3

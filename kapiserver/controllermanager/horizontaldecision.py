"""The horizontal-pod-autoscaler-controller's step 3 (pkg/controller/podautoscaler/horizontal.go's normalization):
the replica count a metric proposes made the one to scale to, from the HPA's recommendations and the scale events
this controller made, driven by ``now`` only (no reactor, no API): without ``behavior``, the highest recommendation
of the last --horizontal-pod-autoscaler-downscale-stabilization and a scale-up limit of max(2x, 4); with it, the
stabilization windows and rate policies of scaleUp/scaleDown; then min/max, with the conditions that say why."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ..machinery import meta

DOWNSCALE_STABILIZATION = 300.0
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0


def set_condition(status: dict, type_: str, value: str, reason: str, message: str, now: float) -> None:
    """Set one condition; lastTransitionTime changes only when the status does (upstream's setConditionInList)."""
    conditions = status.setdefault("conditions", [])
    for condition in conditions:
        if condition.get("type") == type_:
            if condition.get("status") != value:
                condition["lastTransitionTime"] = meta.rfc3339(now)
            condition.update(status=value, reason=reason, message=message)
            return
    conditions.append({"type": type_, "status": value, "lastTransitionTime": meta.rfc3339(now), "reason": reason,
                       "message": message})


def _default_rules(rules: Optional[dict], up: bool, down_window: float = DOWNSCALE_STABILIZATION) -> dict:
    """The rules as the controller reads them; scaleDown's window, which the API leaves unset, is the
    --horizontal-pod-autoscaler-downscale-stabilization flag's (maybeInitScaleDownStabilizationWindow)."""
    rules = dict(rules or {})
    if not rules.get("policies"):
        rules["policies"] = [{"type": "Pods", "value": 4, "periodSeconds": 15},
                             {"type": "Percent", "value": 100, "periodSeconds": 15}] if up else \
            [{"type": "Percent", "value": 100, "periodSeconds": 15}]
    rules.setdefault("selectPolicy", "Max")
    if rules.get("stabilizationWindowSeconds") is None:
        rules["stabilizationWindowSeconds"] = 0 if up else int(down_window)
    return rules


@dataclass
class _ScaleEvent:
    change: int
    timestamp: float
    outdated: bool = False


@dataclass
class DecisionCore:
    """Recommendations and scale events per HPA key, and upstream's normalization rules."""
    downscale_stabilization: float = DOWNSCALE_STABILIZATION
    recommendations: Dict[str, List[Tuple[int, float]]] = field(default_factory=dict)
    scale_up_events: Dict[str, List[_ScaleEvent]] = field(default_factory=dict)
    scale_down_events: Dict[str, List[_ScaleEvent]] = field(default_factory=dict)

    def forget(self, key: str) -> None:
        for table in (self.recommendations, self.scale_up_events, self.scale_down_events):
            table.pop(key, None)

    def record_initial(self, key: str, current: int, now: float) -> None:
        self.recommendations.setdefault(key, [(current, now)])

    # -- without behavior --------------------------------------------------------------------------
    def normalize(self, key: str, status: dict, current: int, desired: int, min_replicas: int,
                  max_replicas: int, now: float) -> int:
        stabilized = self._stabilize(key, desired, now)
        if stabilized != desired:
            set_condition(status, "AbleToScale", "True", "ScaleDownStabilized",
                          "recent recommendations were higher than current one, applying the highest recent "
                          "recommendation", now)
        else:
            set_condition(status, "AbleToScale", "True", "ReadyForNewScale",
                          "recommended size matches current size", now)
        scale_up_limit = int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))
        if max_replicas > scale_up_limit:
            maximum, reason, message = scale_up_limit, "ScaleUpLimit", \
                "the desired replica count is increasing faster than the maximum scale rate"
        else:
            maximum, reason, message = max_replicas, "TooManyReplicas", \
                "the desired replica count is more than the maximum replica count"
        if stabilized < min_replicas:
            result, reason, message = min_replicas, "TooFewReplicas", \
                "the desired replica count is less than the minimum replica count"
        elif stabilized > maximum:
            result = maximum
        else:
            result, reason, message = stabilized, "DesiredWithinRange", \
                "the desired count is within the acceptable range"
        set_condition(status, "ScalingLimited", "False" if result == stabilized else "True", reason, message, now)
        return result

    def _stabilize(self, key: str, desired: int, now: float) -> int:
        cutoff = now - self.downscale_stabilization
        highest, old = desired, None
        recs = self.recommendations.setdefault(key, [])
        for i, (replicas, stamp) in enumerate(recs):
            if stamp < cutoff:
                old = i
            elif replicas > highest:
                highest = replicas
        if old is not None:
            recs[old] = (desired, now)
        else:
            recs.append((desired, now))
        return highest

    # -- with behavior -----------------------------------------------------------------------------
    def normalize_with_behavior(self, key: str, status: dict, behavior: dict, current: int, desired: int,
                                min_replicas: int, max_replicas: int, now: float) -> int:
        up = _default_rules(behavior.get("scaleUp"), True)
        down = _default_rules(behavior.get("scaleDown"), False, self.downscale_stabilization)
        stabilized, reason, message = self._stabilize_with_behavior(key, up, down, current, desired, now)
        if stabilized != desired:
            set_condition(status, "AbleToScale", "True", reason, message, now)
        else:
            set_condition(status, "AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size",
                          now)
        result, reason, message = self._rate_limited(key, up, down, current, stabilized, min_replicas,
                                                     max_replicas, now)
        set_condition(status, "ScalingLimited", "False" if result == stabilized else "True", reason, message, now)
        return result

    def _stabilize_with_behavior(self, key, up, down, current, desired, now):
        up_cutoff = now - up["stabilizationWindowSeconds"]
        down_cutoff = now - down["stabilizationWindowSeconds"]
        up_rec = down_rec = desired
        old = None
        recs = self.recommendations.setdefault(key, [])
        for i, (replicas, stamp) in enumerate(recs):
            if stamp > up_cutoff:
                up_rec = min(replicas, up_rec)
            if stamp > down_cutoff:
                down_rec = max(replicas, down_rec)
            if stamp < up_cutoff and stamp < down_cutoff:
                old = i
        recommendation = max(current, up_rec)
        recommendation = min(recommendation, down_rec)
        if old is not None:
            recs[old] = (desired, now)
        else:
            recs.append((desired, now))
        if desired >= current:
            return recommendation, "ScaleUpStabilized", \
                "recent recommendations were lower than current one, applying the lowest recent recommendation"
        return recommendation, "ScaleDownStabilized", \
            "recent recommendations were higher than current one, applying the highest recent recommendation"

    def _changes(self, events: List[_ScaleEvent], period: float, now: float) -> int:
        cutoff = now - period
        return sum(e.change for e in events if e.timestamp > cutoff)

    def _rate_limited(self, key, up, down, current, desired, min_replicas, max_replicas, now):
        ups, downs = self.scale_up_events.get(key, []), self.scale_down_events.get(key, [])
        if desired > current:
            limit = self._limit(up, current, ups, downs, now, scale_up=True)
            limit = max(limit, current)
            if max_replicas > limit:
                maximum, reason, message = limit, "ScaleUpLimit", \
                    "the desired replica count is increasing faster than the maximum scale rate"
            else:
                maximum, reason, message = max_replicas, "TooManyReplicas", \
                    "the desired replica count is more than the maximum replica count"
            if desired > maximum:
                return maximum, reason, message
        elif desired < current:
            limit = self._limit(down, current, ups, downs, now, scale_up=False)
            limit = min(limit, current)
            if min_replicas < limit:
                minimum, reason, message = limit, "ScaleDownLimit", \
                    "the desired replica count is decreasing faster than the maximum scale rate"
            else:
                minimum, reason, message = min_replicas, "TooFewReplicas", \
                    "the desired replica count is less than the minimum replica count"
            if desired < minimum:
                return minimum, reason, message
        return desired, "DesiredWithinRange", "the desired count is within the acceptable range"

    def _limit(self, rules, current, ups, downs, now, scale_up: bool) -> int:
        select = rules.get("selectPolicy") or "Max"
        if select == "Disabled":
            return current
        # Scaling up, Max picks the largest proposal; scaling down, Max (the most change) the smallest.
        pick_largest = (select != "Min") == scale_up
        result = None
        for policy in rules.get("policies") or []:
            period = policy.get("periodSeconds") or 0
            start = current - self._changes(ups, period, now) + self._changes(downs, period, now)
            value = policy.get("value") or 0
            if policy.get("type") == "Pods":
                proposed = start + value if scale_up else start - value
            elif scale_up:
                proposed = math.ceil(start * (1 + value / 100))
            else:
                proposed = int(start * (1 - value / 100))
            if result is None:
                result = proposed
            else:
                result = max(result, proposed) if pick_largest else min(result, proposed)
        return current if result is None else result

    def store_scale_event(self, key: str, behavior: Optional[dict], previous: int, new: int, now: float) -> None:
        if behavior is None:
            return
        if new > previous:
            rules, table, change = _default_rules(behavior.get("scaleUp"), True), self.scale_up_events, new - previous
        else:
            rules = _default_rules(behavior.get("scaleDown"), False, self.downscale_stabilization)
            table, change = self.scale_down_events, previous - new
        longest = max([p.get("periodSeconds") or 0 for p in rules.get("policies") or []] or [0])
        events = table.setdefault(key, [])
        for event in events:
            if event.timestamp < now - longest:
                event.outdated = True
        for i, event in enumerate(events):
            if event.outdated:
                events[i] = _ScaleEvent(change, now)
                return
        events.append(_ScaleEvent(change, now))

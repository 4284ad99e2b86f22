"""horizontal-pod-autoscaler-controller: upstream's replica calculation and normalization without a server,
and the controller against a real apiserver, with no metrics API (FailedGetResourceMetric) and with a fake
resource metrics source (it scales the Deployment, within the scale-up limit)."""

from __future__ import annotations

import pytest

from kapiserver.client.resources import DEPLOYMENTS, EVENTS, PODS
from kapiserver.controllermanager.horizontal import HPAS
from kapiserver.controllermanager.horizontaldecision import DecisionCore
from kapiserver.controllermanager.replicacalculator import (PodMetric, ReplicaCalculationError, milli_quantity,
                                                            raw_resource_replicas, resource_replicas)
from kapiserver.machinery.meta import rfc3339
from tests.controllermanager.conftest import eventually, run

NOW = 1_800_000_000.0


def _pod(name, cpu="100m", phase="Running", ready=True, started=NOW - 3600, changed=NOW - 3500, labels=None):
    return {"metadata": {"name": name, "namespace": "ns", "labels": labels or {"app": "web"}},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}} if cpu else {}}]},
            "status": {"phase": phase, "startTime": rfc3339(started),
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastTransitionTime": rfc3339(changed)}]}}


def _metrics(**values):
    return {name: PodMetric(NOW - 10, 30, milli) for name, milli in values.items()}


# -- replica calculation ------------------------------------------------------------------------------------

def test_utilization_scales_by_the_usage_ratio_outside_the_tolerance():
    """200% of request against a 50% target on 2 pods gives 8; 105% against 100% stays within tolerance."""
    pods = [_pod("a"), _pod("b")]
    assert resource_replicas(2, 50, "cpu", pods, _metrics(a=200, b=200), NOW) == (8, 200, 200)
    assert resource_replicas(2, 100, "cpu", pods, _metrics(a=105, b=105), NOW) == (2, 105, 105)
    assert resource_replicas(4, 100, "cpu", pods, _metrics(a=20, b=30), NOW)[0] == 1


def test_missing_samples_damp_a_scale_down_and_unready_pods_damp_a_scale_up():
    """A pod without a sample counts as using its request on a scale down (the change is reversed: no
    change); an unready pod counts as 0 on a scale up."""
    pods = [_pod("a"), _pod("b"), _pod("c")]
    # a, b at 10% of a 50% target; c missing counts as 100%: (10+10+100)/300 = 40% -> ratio 0.8 -> 3*0.8 -> 3
    assert resource_replicas(3, 50, "cpu", pods, _metrics(a=10, b=10), NOW)[0] == 3
    unready = [_pod("a"), _pod("b", ready=False, started=NOW - 60, changed=NOW - 60)]
    # a at 300% of a 100% target; b unready counts as 0: 300/200 = 1.5 -> ceil(1.5*2) = 3 (not 3*1 = 3 via a)
    assert resource_replicas(2, 100, "cpu", unready, _metrics(a=300, b=300), NOW)[0] == 3
    # Pending pods are unready; deleted and Failed ones ignored.
    failed = _pod("f", phase="Failed")
    assert resource_replicas(1, 100, "cpu", [_pod("a"), failed], _metrics(a=100, f=900), NOW)[0] == 1


def test_calculation_errors_carry_upstream_messages():
    """No pods, no usable samples, and a container without a request are errors with upstream's words."""
    with pytest.raises(ReplicaCalculationError, match="no pods returned by selector while calculating replica count"):
        resource_replicas(1, 50, "cpu", [], {}, NOW)
    with pytest.raises(ReplicaCalculationError, match=r"did not receive metrics for targeted pods \(pods might be"):
        resource_replicas(1, 50, "cpu", [_pod("a", phase="Pending")], _metrics(a=10), NOW)
    with pytest.raises(ReplicaCalculationError, match="missing request for cpu in container c of Pod a"):
        resource_replicas(1, 50, "cpu", [_pod("a", cpu=None)], _metrics(a=10), NOW)


def test_average_value_targets_use_the_average_usage():
    """An AverageValue target of 100m with pods averaging 250m wants ceil(2.5 * 2) = 5 pods."""
    pods = [_pod("a"), _pod("b")]
    assert raw_resource_replicas(2, 100, "cpu", pods, _metrics(a=200, b=300), NOW) == (5, 250)
    assert raw_resource_replicas(2, 100, "cpu", pods, _metrics(a=95, b=100), NOW) == (2, 97)


def test_milli_quantities_print_as_go_does():
    """resource.NewMilliQuantity(v, DecimalSI).String(): milli-units unless whole, then the largest exact suffix."""
    assert [milli_quantity(v) for v in (250, 1000, 2000, 1500, 0, 3_000_000, 2_000_000_000)] == \
        ["250m", "1", "2", "1500m", "0", "3k", "2M"]


# -- normalization -------------------------------------------------------------------------------------------

def _reasons(status):
    return {c["type"]: c["reason"] for c in status["conditions"]}


def test_without_behavior_scale_down_waits_for_the_stabilization_window():
    """A lower recommendation applies only once the higher ones are older than 300 s."""
    core = DecisionCore()
    status: dict = {}
    core.record_initial("k", 5, NOW)
    assert core.normalize("k", status, 5, 2, 1, 10, NOW + 15) == 5
    assert _reasons(status) == {"AbleToScale": "ScaleDownStabilized", "ScalingLimited": "DesiredWithinRange"}
    assert core.normalize("k", status, 5, 2, 1, 10, NOW + 200) == 5
    assert core.normalize("k", status, 5, 2, 1, 10, NOW + 301) == 2
    assert _reasons(status)["AbleToScale"] == "ReadyForNewScale"


def test_without_behavior_scale_up_is_limited_and_bounds_apply():
    """At most max(2x, 4) at once (ScaleUpLimit), never above maxReplicas (TooManyReplicas) or below min."""
    core = DecisionCore()
    status: dict = {}
    assert core.normalize("k", status, 1, 10, 1, 20, NOW) == 4
    assert _reasons(status)["ScalingLimited"] == "ScaleUpLimit"
    assert status["conditions"][1]["status"] == "True"
    assert core.normalize("k2", status, 10, 30, 1, 12, NOW) == 12
    assert _reasons(status)["ScalingLimited"] == "TooManyReplicas"
    assert core.normalize("k3", status, 3, 1, 2, 12, NOW) == 2
    assert _reasons(status)["ScalingLimited"] == "TooFewReplicas"


def test_behavior_policies_limit_the_rate_per_period():
    """scaleUp Pods 2 per 60 s: +2, then nothing more within the minute; scaleDown Percent 50 with
    selectPolicy Min and no window: halves at most."""
    behavior = {"scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                            "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]},
                "scaleDown": {"stabilizationWindowSeconds": 0, "selectPolicy": "Min",
                              "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60},
                                           {"type": "Pods", "value": 1, "periodSeconds": 60}]}}
    core = DecisionCore()
    status: dict = {}
    assert core.normalize_with_behavior("k", status, behavior, 3, 10, 1, 20, NOW) == 5
    assert _reasons(status)["ScalingLimited"] == "ScaleUpLimit"
    core.store_scale_event("k", behavior, 3, 5, NOW)
    assert core.normalize_with_behavior("k", status, behavior, 5, 10, 1, 20, NOW + 30) == 5
    assert core.normalize_with_behavior("k", status, behavior, 5, 10, 1, 20, NOW + 61) == 7
    # Min of (50% down -> 4, 1 pod down -> 7) is the smaller change: 7.
    down = DecisionCore()
    assert down.normalize_with_behavior("d", status, behavior, 8, 1, 1, 20, NOW) == 7
    assert _reasons(status)["ScalingLimited"] == "ScaleDownLimit"


def test_behavior_stabilization_and_disabled_policy():
    """The default scale-down window keeps the highest recent recommendation; selectPolicy Disabled holds."""
    core = DecisionCore()
    status: dict = {}
    behavior = {"scaleUp": {"selectPolicy": "Disabled"}}
    core.record_initial("k", 6, NOW)
    assert core.normalize_with_behavior("k", status, behavior, 6, 3, 1, 10, NOW + 60) == 6
    assert _reasons(status)["AbleToScale"] == "ScaleDownStabilized"
    assert core.normalize_with_behavior("k", status, behavior, 6, 3, 1, 10, NOW + 400) == 3
    assert core.normalize_with_behavior("k", status, behavior, 3, 9, 1, 10, NOW + 401) == 3


# -- the controller against a real apiserver ---------------------------------------------------------------

def _ready_pods(client, namespace, count, request="100m"):
    """``count`` pods labelled app=api requesting ``request`` of cpu, Running and Ready since long ago (as the
    HPA wants them to count); their names."""
    long_ago = rfc3339(1_700_000_000)
    names = []
    for i in range(count):
        pod = run(client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                       "metadata": {"name": f"api-{i}", "namespace": namespace,
                                                    "labels": {"app": "api"}},
                                       "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {
                                           "requests": {"cpu": request}}}]}}))
        pod["status"] = {"phase": "Running", "startTime": long_ago, "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": long_ago}]}
        run(client.update(PODS, pod, subresource="status"))
        names.append(pod["metadata"]["name"])
    return names


def _deployment(name, namespace, replicas=2):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [
                         {"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "100m"}}}]}}}}


def _hpa(name, namespace, target, **spec):
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                     "minReplicas": 1, "maxReplicas": 10,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": 50}}}], **spec}}


def _condition(hpa, type_):
    return next((c for c in (hpa.get("status") or {}).get("conditions") or [] if c["type"] == type_), None)


def _events(client, namespace, name):
    listed = run(client.list(EVENTS, namespace, field_selector=f"involvedObject.name={name}"))
    return {(e["reason"], e["message"]) for e in listed["items"]}


def test_without_a_metrics_api_scaling_is_not_active(controllers, client, namespace):
    """No metrics.k8s.io: ScalingActive False with FailedGetResourceMetric and upstream's message, the two
    Warning events, and the Deployment left at its size."""
    run(client.create(DEPLOYMENTS, _deployment("web", namespace)))
    run(client.create(HPAS, _hpa("web", namespace, "web")))
    controllers("horizontal-pod-autoscaler-controller", horizontal_pod_autoscaler_sync_period=0.5)
    cause = ("failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from "
             "resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)")

    def inactive():
        condition = _condition(run(client.get(HPAS, "web", namespace)), "ScalingActive")
        return condition is not None and condition["status"] == "False"
    eventually(inactive, timeout=30)
    hpa = run(client.get(HPAS, "web", namespace))
    active = _condition(hpa, "ScalingActive")
    assert (active["reason"], active["message"]) == (
        "FailedGetResourceMetric", f"the HPA was unable to compute the replica count: {cause}")
    assert _condition(hpa, "AbleToScale")["reason"] == "SucceededGetScale"
    assert hpa["status"]["currentReplicas"] == 2
    eventually(lambda: ("FailedComputeMetricsReplicas",
                        f"invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric "
                        f"value: {cause}") in _events(client, namespace, "web"), timeout=30)
    eventually(lambda: ("FailedGetResourceMetric", cause) in _events(client, namespace, "web"), timeout=30)
    assert run(client.get(DEPLOYMENTS, "web", namespace))["spec"]["replicas"] == 2


class FakeMetrics:
    """A resource metrics source answering every pod of the namespace with one usage."""

    def __init__(self, client, milli):
        self.client = client
        self.milli = milli

    async def pod_metrics(self, resource, namespace, selector, container=None):
        pods = await self.client.list(PODS, namespace, label_selector=selector)
        return {p["metadata"]["name"]: PodMetric(0, 30, self.milli) for p in pods["items"]}


def test_with_metrics_the_target_is_scaled_within_the_scale_up_limit(controllers, client, namespace):
    """Two ready pods at 200% of their request against a 50% target want 8: the first step is 4 (max(2x, 4),
    ScaleUpLimit), the next 8; the status shows the metric and the events each rescale."""
    run(client.create(DEPLOYMENTS, _deployment("api", namespace)))
    _ready_pods(client, namespace, 2)
    manager = controllers("horizontal-pod-autoscaler-controller", horizontal_pod_autoscaler_sync_period=0.5)
    manager.controllers["horizontal-pod-autoscaler-controller"].metrics = FakeMetrics(client, 200)
    run(client.create(HPAS, _hpa("api", namespace, "api")))
    reason = "cpu resource utilization (percentage of request) above target"
    eventually(lambda: {("SuccessfulRescale", f"New size: 4; reason: {reason}"),
                        ("SuccessfulRescale", f"New size: 8; reason: {reason}")} <= _events(client, namespace, "api"),
               timeout=30)

    def settled():
        hpa = run(client.get(HPAS, "api", namespace))
        return (hpa.get("status") or {}).get("currentReplicas") == 8
    eventually(settled, timeout=30)
    assert run(client.get(DEPLOYMENTS, "api", namespace))["spec"]["replicas"] == 8
    hpa = run(client.get(HPAS, "api", namespace))
    assert (hpa["status"]["desiredReplicas"], _condition(hpa, "ScalingActive")["reason"]) == (8, "ValidMetricFound")
    assert _condition(hpa, "ScalingActive")["message"] == ("the HPA was able to successfully calculate a replica "
                                                          "count from cpu resource utilization (percentage of "
                                                          "request)")
    assert _condition(hpa, "ScalingLimited")["reason"] == "DesiredWithinRange"
    assert hpa["status"]["currentMetrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "current": {"averageValue": "200m", "averageUtilization": 200}}}]
    assert hpa["status"].get("lastScaleTime")


def test_two_hpas_selecting_the_same_pods_are_ambiguous(controllers, client, namespace):
    """Two HPAs whose targets select the same pod: ScalingActive False AmbiguousSelector naming both."""
    for name in ("one", "two"):
        deployment = _deployment(name, namespace)
        deployment["spec"]["selector"]["matchLabels"] = {"app": "shared"}
        deployment["spec"]["template"]["metadata"]["labels"] = {"app": "shared"}
        run(client.create(DEPLOYMENTS, deployment))
    run(client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                             "metadata": {"name": "shared-0", "namespace": namespace, "labels": {"app": "shared"}},
                             "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    controllers("horizontal-pod-autoscaler-controller", horizontal_pod_autoscaler_sync_period=0.5)
    run(client.create(HPAS, _hpa("one", namespace, "one")))
    run(client.create(HPAS, _hpa("two", namespace, "two")))
    message = f"pods by selector app=shared are controlled by multiple HPAs: [{namespace}/one {namespace}/two]"

    def ambiguous(name):
        condition = _condition(run(client.get(HPAS, name, namespace)), "ScalingActive")
        return condition is not None and (condition["reason"], condition["message"]) == ("AmbiguousSelector", message)
    eventually(lambda: ambiguous("one") and ambiguous("two"), timeout=30)
    eventually(lambda: ("FailedComputeMetricsReplicas", message) in _events(client, namespace, "one"), timeout=30)


def test_kubectl_autoscale_and_describe(controllers, kubectl, client, namespace):
    """kubectl autoscale makes an HPA the controller reconciles; kubectl get shows the unknown CPU and
    kubectl describe the conditions and events of a cluster without metrics API."""
    kubectl("create", "deployment", "web", "--image=busybox", "-n", namespace)
    kubectl("autoscale", "deployment", "web", "--cpu-percent=50", "--min=1", "--max=5", "-n", namespace)
    controllers("horizontal-pod-autoscaler-controller", horizontal_pod_autoscaler_sync_period=0.5)
    eventually(lambda: (_condition(run(client.get(HPAS, "web", namespace)), "ScalingActive") or {}).get("reason")
               == "FailedGetResourceMetric", timeout=30)
    eventually(lambda: "FailedComputeMetricsReplicas" in {r for r, _ in _events(client, namespace, "web")},
               timeout=30)
    listed = kubectl("get", "hpa", "web", "-n", namespace).stdout
    assert "cpu: <unknown>/50%" in listed and "Deployment/web" in listed, listed
    described = " ".join(kubectl("describe", "hpa", "web", "-n", namespace).stdout.split())
    assert "AbleToScale True SucceededGetScale the HPA controller was able to get the target's current scale" \
        in described, described
    assert "ScalingActive False FailedGetResourceMetric the HPA was unable to compute the replica count: failed " \
        "to get cpu utilization" in described, described
    assert "Warning FailedComputeMetricsReplicas" in described and "resource cpu on pods (as a percentage of " \
        "request): <unknown> / 50%" in described, described

"""horizontal-pod-autoscaler-controller in process against upstream 1.32's pkg/controller/podautoscaler/
(horizontal.go, replica_calculator.go, metrics/client.go): one reconcile at a time over a fake client that
serves the target's scale, the metrics APIs and the status write, with the events recorded."""

from __future__ import annotations

import copy

from twisted.internet import task

from kapiserver.client.informer import SharedInformerFactory
from kapiserver.client.rest import APIError
from kapiserver.controllermanager.context import ControllerContext
from kapiserver.controllermanager.horizontal import HorizontalController
from kapiserver.machinery.meta import rfc3339
from tests.controllermanager.conftest import run

NOW = 1_800_000_000.0


class FakeClient:
    """Answers GET/PUT of paths from ``routes`` (a dict or an APIError to raise); records status writes."""

    def __init__(self, routes):
        self.routes = routes
        self.requests: list = []
        self.statuses: list = []

    async def request(self, method, path, body=None, query=None, **kwargs):
        self.requests.append((method, path, query, body))
        answer = self.routes.get((method, path), self.routes.get(path))
        if answer is None:
            raise APIError(404, {"reason": "NotFound", "code": 404,
                                 "message": "the server could not find the requested resource"})
        if isinstance(answer, APIError):
            raise answer
        return copy.deepcopy(answer(body, query) if callable(answer) else answer)

    async def update(self, resource, obj, subresource=None):
        self.statuses.append(copy.deepcopy(obj))
        return obj


class Recorder:
    def __init__(self):
        self.events: list = []

    def event(self, obj, type_, reason, message):
        self.events.append((type_, reason, message))


def controller(routes, pods=(), **options):
    clock = task.Clock()
    clock.advance(NOW)
    client = FakeClient(routes)
    ctrl = HorizontalController(ControllerContext(client, SharedInformerFactory(client, clock), clock, options))
    ctrl.recorder = Recorder()
    for pod in pods:
        ctrl.pods.indexer.add(pod)
    return ctrl, client


def scale(replicas, selector="app=web"):
    return {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"replicas": replicas}, "status": {"replicas": replicas, "selector": selector}}


def hpa(metrics=None, status=None, **spec):
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "ns", "generation": 3, "resourceVersion": "7"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": 1, "maxReplicas": 10,
                     "metrics": metrics if metrics is not None else [
                         {"type": "Resource", "resource": {"name": "cpu", "target": {
                             "type": "Utilization", "averageUtilization": 50}}}], **spec},
            "status": status if status is not None else {}}


def pod(name, containers=None, init=None, labels=None):
    long_ago = rfc3339(NOW - 3600)
    spec = {"containers": containers or [{"name": "c", "resources": {"requests": {"cpu": "100m"}}}]}
    if init:
        spec["initContainers"] = init
    return {"metadata": {"name": name, "namespace": "ns", "labels": labels or {"app": "web"}}, "spec": spec,
            "status": {"phase": "Running", "startTime": long_ago,
                       "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": long_ago}]}}


def pod_metrics(usage):
    """A PodMetricsList of ``usage``: {pod: {container: cpu}}."""
    return {"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": [
        {"metadata": {"name": name, "namespace": "ns"}, "timestamp": rfc3339(NOW - 10), "window": "30s",
         "containers": [{"name": c, "usage": {"cpu": cpu, "memory": "1Mi"}} for c, cpu in containers.items()]}
        for name, containers in usage.items()]}


SCALE_PATH = "/apis/apps/v1/namespaces/ns/deployments/web/scale"
METRICS_PATH = "/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods"


def reconcile(ctrl, obj):
    try:
        run(ctrl.reconcile("ns/web", copy.deepcopy(obj)))
    except RuntimeError as e:
        return str(e)
    return None


def test_the_status_is_rebuilt_without_observed_generation():
    """setStatus rebuilds the status from currentReplicas, desiredReplicas, lastScaleTime, currentMetrics and
    conditions: the controller never writes observedGeneration, and one left in the status is dropped."""
    ctrl, client = controller({SCALE_PATH: scale(2), METRICS_PATH: pod_metrics({"a": {"c": "50m"}, "b": {"c": "50m"}})},
                              [pod("a"), pod("b")])
    assert reconcile(ctrl, hpa(status={"observedGeneration": 1, "currentReplicas": 2, "desiredReplicas": 2})) is None
    written = client.statuses[-1]["status"]
    assert "observedGeneration" not in written
    assert (written["currentReplicas"], written["desiredReplicas"]) == (2, 2)


def test_sidecar_requests_count_in_the_utilization():
    """calculatePodRequests sums the requests of the regular containers and of the restartable init containers
    (sidecars), whose usage the resource metrics include; a run-to-completion init container counts for
    nothing, even without a request."""
    init = [{"name": "setup"}, {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}}]
    pods = [pod("a", init=init), pod("b", init=init)]
    usage = {name: {"c": "50m", "proxy": "50m"} for name in ("a", "b")}
    ctrl, client = controller({SCALE_PATH: scale(2), METRICS_PATH: pod_metrics(usage)}, pods)
    assert reconcile(ctrl, hpa()) is None
    written = client.statuses[-1]["status"]
    assert written["currentMetrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "current": {"averageValue": "100m", "averageUtilization": 50}}}]
    assert written["desiredReplicas"] == 2
    # A sidecar without a request is missing one, as a regular container would be.
    bare = [{"name": "proxy", "restartPolicy": "Always"}]
    ctrl, client = controller({SCALE_PATH: scale(1), METRICS_PATH: pod_metrics({"a": {"c": "50m"}})},
                              [pod("a", init=bare)])
    reconcile(ctrl, hpa())
    assert ("Warning", "FailedGetResourceMetric", "failed to get cpu utilization: missing request for cpu in "
            "container proxy of Pod a") in ctrl.recorder.events


def test_a_container_missing_from_a_pods_metrics_fails_the_container_resource_metric():
    """metrics/client.go getContainerMetrics: a pod whose metrics lack the container fails the fetch, wrapped by
    the replica calculation; the ContainerResource error names the container (FailedGetContainerResourceMetric)."""
    metric = [{"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app", "target": {
        "type": "Utilization", "averageUtilization": 50}}}]
    pods = [pod("a", containers=[{"name": "app", "resources": {"requests": {"cpu": "100m"}}}]),
            pod("b", containers=[{"name": "app", "resources": {"requests": {"cpu": "100m"}}}])]
    usage = {"a": {"app": "50m"}, "b": {"other": "50m"}}
    ctrl, client = controller({SCALE_PATH: scale(2), METRICS_PATH: pod_metrics(usage)}, pods)
    error = reconcile(ctrl, hpa(metrics=metric))
    cause = ("failed to get cpu utilization: unable to get metrics for resource cpu: failed to get container "
             "metrics: container app not present in metrics for pod ns/b")
    assert ("Warning", "FailedGetContainerResourceMetric", cause) in ctrl.recorder.events
    assert ("Warning", "FailedComputeMetricsReplicas", "invalid metrics (1 invalid out of 1), first error is: "
            f"failed to get app container metric value: {cause}") in ctrl.recorder.events
    active = [c for c in client.statuses[-1]["status"]["conditions"] if c["type"] == "ScalingActive"][0]
    assert (active["status"], active["reason"], active["message"]) == (
        "False", "FailedGetContainerResourceMetric", f"the HPA was unable to compute the replica count: {cause}")
    assert error is not None
    # With the container in every pod's metrics, the metric is computed from that container alone.
    usage["b"] = {"app": "50m", "other": "900m"}
    ctrl, client = controller({SCALE_PATH: scale(2), METRICS_PATH: pod_metrics(usage)}, pods)
    assert reconcile(ctrl, hpa(metrics=metric)) is None
    assert client.statuses[-1]["status"]["currentMetrics"] == [{"type": "ContainerResource", "containerResource": {
        "name": "cpu", "container": "app", "current": {"averageValue": "50m", "averageUtilization": 50}}}]


# -- Pods, Object and External metrics ----------------------------------------------------------------------

GROUPS = {"kind": "APIGroupList", "groups": [{"name": "apps", "versions": [{"groupVersion": "apps/v1",
                                                                           "version": "v1"}]}]}
CUSTOM_GROUPS = {"kind": "APIGroupList", "groups": GROUPS["groups"] + [
    {"name": "custom.metrics.k8s.io", "versions": [{"groupVersion": "custom.metrics.k8s.io/v1beta1",
                                                    "version": "v1beta1"},
                                                   {"groupVersion": "custom.metrics.k8s.io/v1beta2",
                                                    "version": "v1beta2"}],
     "preferredVersion": {"groupVersion": "custom.metrics.k8s.io/v1beta2", "version": "v1beta2"}}]}
CORE = {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
    {"name": "services", "kind": "Service", "namespaced": True}, {"name": "pods", "kind": "Pod", "namespaced": True}]}


def metric_values(**values):
    return {"kind": "MetricValueList", "apiVersion": "custom.metrics.k8s.io/v1beta2", "metadata": {}, "items": [
        {"describedObject": {"kind": "Pod", "namespace": "ns", "name": name, "apiVersion": "/v1"},
         "metric": {"name": "packets"}, "timestamp": rfc3339(NOW - 5), "value": value}
        for name, value in values.items()]}


PODS_METRIC = [{"type": "Pods", "pods": {"metric": {"name": "packets"}, "target": {
    "type": "AverageValue", "averageValue": "1"}}}]


def test_without_a_custom_metrics_api_a_pods_metric_fails_to_be_fetched():
    """A Pods metric is read from custom.metrics.k8s.io (no longer an unknown metric source type): without that
    group in discovery, FailedGetPodsMetric with the custom metrics client's words."""
    ctrl, client = controller({SCALE_PATH: scale(2), "/apis": GROUPS}, [pod("a"), pod("b")])
    reconcile(ctrl, hpa(metrics=PODS_METRIC))
    cause = ("unable to get metric packets: unable to fetch metrics from custom metrics API: no custom metrics API "
             "(custom.metrics.k8s.io) registered")
    assert ("Warning", "FailedGetPodsMetric", cause) in ctrl.recorder.events
    assert ("Warning", "FailedComputeMetricsReplicas", "invalid metrics (1 invalid out of 1), first error is: "
            f"failed to get pods metric value: {cause}") in ctrl.recorder.events
    active = [c for c in client.statuses[-1]["status"]["conditions"] if c["type"] == "ScalingActive"][0]
    assert (active["reason"], active["message"]) == (
        "FailedGetPodsMetric", f"the HPA was unable to compute the replica count: {cause}")


def test_a_pods_metric_scales_on_the_average_per_pod():
    """GetMetricReplicas: the pods' average (2) over the target (1) on the 2 ready pods wants 4; the status
    carries the metric's average, the event names the metric."""
    path = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/pods/*/packets"
    ctrl, client = controller({SCALE_PATH: scale(2), "/apis": CUSTOM_GROUPS, path: metric_values(a="3", b="1"),
                               ("PUT", SCALE_PATH): lambda body, query: body}, [pod("a"), pod("b")])
    assert reconcile(ctrl, hpa(metrics=PODS_METRIC)) is None
    assert [q for m, p, q, _ in client.requests if p == path] == [{"labelSelector": "app=web",
                                                                    "metricLabelSelector": None}]
    assert ("Normal", "SuccessfulRescale", "New size: 4; reason: pods metric packets above target") in \
        ctrl.recorder.events
    written = client.statuses[-1]["status"]
    assert written["currentMetrics"] == [{"type": "Pods", "pods": {"metric": {"name": "packets"},
                                                                   "current": {"averageValue": "2"}}}]
    active = [c for c in written["conditions"] if c["type"] == "ScalingActive"][0]
    assert active["message"] == "the HPA was able to successfully calculate a replica count from pods metric packets"


def object_metric_status(value: str, target: dict) -> dict:
    """The status an HPA on 2 ready pods writes for an Object metric of Service front whose value is ``value``."""
    path = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/services/front/requests"
    listed = {"kind": "MetricValueList", "items": [{"describedObject": {"kind": "Service", "name": "front"},
                                                    "metric": {"name": "requests"}, "value": value,
                                                    "timestamp": rfc3339(NOW)}]}
    metric = [{"type": "Object", "object": {"describedObject": {"apiVersion": "v1", "kind": "Service",
                                                                "name": "front"},
                                            "metric": {"name": "requests"}, "target": target}}]
    ctrl, client = controller({SCALE_PATH: scale(2), "/apis": CUSTOM_GROUPS, "/api/v1": CORE, path: listed,
                               ("PUT", SCALE_PATH): lambda body, query: body}, [pod("a"), pod("b")])
    assert reconcile(ctrl, hpa(metrics=metric)) is None
    return client.statuses[-1]["status"], ctrl


def test_an_object_metric_value_scales_the_ready_pods():
    """GetObjectMetricReplicas: the object's value (300m) over the target (100m) applied to the 2 ready pods wants
    6, which the scale-up limit makes 4."""
    written, ctrl = object_metric_status("300m", {"type": "Value", "value": "100m"})
    assert written["desiredReplicas"] == 4
    assert [c["reason"] for c in written["conditions"] if c["type"] == "ScalingLimited"] == ["ScaleUpLimit"]
    assert written["currentMetrics"] == [{"type": "Object", "object": {
        "describedObject": {"apiVersion": "v1", "kind": "Service", "name": "front"}, "metric": {"name": "requests"},
        "current": {"value": "300m"}}}]
    assert ("Normal", "SuccessfulRescale", "New size: 4; reason: Service metric requests above target") in \
        ctrl.recorder.events


def test_external_metrics_without_and_with_the_api():
    """An External metric: without external.metrics.k8s.io the 404 in client-go's words (FailedGetExternalMetric);
    with it, an AverageValue target divides the total (40) by the target (10) -> 4, per pod 20."""
    metric = [{"type": "External", "external": {"metric": {"name": "queue", "selector": {"matchLabels": {"q": "x"}}},
                                                "target": {"type": "AverageValue", "averageValue": "10"}}}]
    ctrl, client = controller({SCALE_PATH: scale(2)}, [pod("a"), pod("b")])
    reconcile(ctrl, hpa(metrics=metric))
    cause = ("unable to get external metric ns/queue/&LabelSelector{MatchLabels:map[string]string{q: x,},"
             "MatchExpressions:[]LabelSelectorRequirement{},}: unable to fetch metrics from external metrics API: "
             "the server could not find the requested resource (get queue.external.metrics.k8s.io)")
    assert ("Warning", "FailedGetExternalMetric", cause) in ctrl.recorder.events
    assert ("Warning", "FailedComputeMetricsReplicas", "invalid metrics (1 invalid out of 1), first error is: "
            f"failed to get queue external metric value: failed to get queue external metric: {cause}") in \
        ctrl.recorder.events
    path = "/apis/external.metrics.k8s.io/v1beta1/namespaces/ns/queue"
    values = {"kind": "ExternalMetricValueList", "items": [
        {"metricName": "queue", "value": "30", "timestamp": rfc3339(NOW)},
        {"metricName": "queue", "value": "10", "timestamp": rfc3339(NOW)}]}
    ctrl, client = controller({SCALE_PATH: scale(2), path: values, ("PUT", SCALE_PATH): lambda body, query: body},
                              [pod("a"), pod("b")])
    assert reconcile(ctrl, hpa(metrics=metric)) is None
    assert [q for m, p, q, _ in client.requests if p == path] == [{"labelSelector": "q=x"}]
    written = client.statuses[-1]["status"]
    assert written["desiredReplicas"] == 4
    assert written["currentMetrics"] == [{"type": "External", "external": {
        "metric": {"name": "queue", "selector": {"matchLabels": {"q": "x"}}}, "current": {"averageValue": "20"}}}]


# -- the scale target --------------------------------------------------------------------------------------

def test_the_target_is_found_by_group_and_kind_whatever_the_version():
    """The RESTMapper maps the reference's group and kind, the scale client reads the scale at the version the
    server prefers: apps/v1beta2 finds the apps/v1 Deployment; a custom kind is discovered at its group's
    preferred version; an unparsable apiVersion fails the scale (FailedGetScale)."""
    routes = {SCALE_PATH: scale(2), METRICS_PATH: pod_metrics({"a": {"c": "50m"}, "b": {"c": "50m"}})}
    ctrl, client = controller(routes, [pod("a"), pod("b")])
    ref = {"apiVersion": "apps/v1beta2", "kind": "Deployment", "name": "web"}
    assert reconcile(ctrl, hpa(scaleTargetRef=ref)) is None
    assert [c["reason"] for c in client.statuses[-1]["status"]["conditions"] if c["type"] == "AbleToScale"] == [
        "ReadyForNewScale"]

    crd_scale = "/apis/example.com/v2/namespaces/ns/widgets/web/scale"
    routes = {**routes, "/apis/example.com": {"kind": "APIGroup", "name": "example.com", "versions": [
        {"groupVersion": "example.com/v1", "version": "v1"}, {"groupVersion": "example.com/v2", "version": "v2"}],
        "preferredVersion": {"groupVersion": "example.com/v2", "version": "v2"}},
        "/apis/example.com/v2": {"kind": "APIResourceList", "resources": [
            {"name": "widgets", "kind": "Widget", "namespaced": True},
            {"name": "widgets/scale", "kind": "Scale", "namespaced": True}]},
        crd_scale: scale(2)}
    ctrl, client = controller(routes, [pod("a"), pod("b")])
    assert reconcile(ctrl, hpa(scaleTargetRef={"apiVersion": "example.com/v1", "kind": "Widget",
                                               "name": "web"})) is None
    assert ("GET", crd_scale, None, None) in client.requests

    ctrl, client = controller(routes)
    error = reconcile(ctrl, hpa(scaleTargetRef={"apiVersion": "apps/v1/x", "kind": "Deployment", "name": "web"}))
    assert error is not None
    assert ctrl.recorder.events == [("Warning", "FailedGetScale", "unexpected GroupVersion string: apps/v1/x")]
    able = [c for c in client.statuses[-1]["status"]["conditions"] if c["type"] == "AbleToScale"][0]
    assert (able["status"], able["reason"], able["message"]) == (
        "False", "FailedGetScale", "the HPA controller was unable to get the target's current scale: unexpected "
        "GroupVersion string: apps/v1/x")


def test_a_refused_status_write_is_a_failed_update_status_event():
    """updateStatus: any refused status write (a conflict too) records Warning FailedUpdateStatus with the
    error, and the sync fails "failed to update status for NAME"."""
    ctrl, client = controller({SCALE_PATH: scale(2), METRICS_PATH: pod_metrics({"a": {"c": "50m"}, "b": {"c": "50m"}})},
                              [pod("a"), pod("b")])
    message = ('Operation cannot be fulfilled on horizontalpodautoscalers.autoscaling "web": the object has been '
               'modified; please apply your changes to the latest version and try again')

    async def refuse(resource, obj, subresource=None):
        raise APIError(409, {"reason": "Conflict", "code": 409, "message": message})
    client.update = refuse
    assert reconcile(ctrl, hpa()) == f"failed to update status for web: {message}"
    assert ctrl.recorder.events == [("Warning", "FailedUpdateStatus", message)]


def test_the_custom_metrics_version_is_looked_up_once_and_again_after_a_failure():
    """The custom metrics API's version is discovered once (upstream caches the available APIs), not before every
    fetch; a failed fetch forgets it, so the next one looks again."""
    import pytest

    from kapiserver.client.rest import APIError
    from kapiserver.controllermanager.replicacalculator import CustomMetricsClient, MetricsFetchError
    from tests.controllermanager.conftest import run

    class Client:
        def __init__(self):
            self.paths, self.fail = [], False

        async def request(self, method, path, query=None):
            self.paths.append(path)
            if path == "/apis":
                return {"groups": [{"name": "custom.metrics.k8s.io",
                                    "preferredVersion": {"version": "v1beta2"}, "versions": []}]}
            if self.fail:
                raise APIError(404, {"message": "not found"})
            return {"items": [{"describedObject": {"name": "p"}, "value": "1", "timestamp": None}]}
    client = Client()
    metrics = CustomMetricsClient(client, None)
    for _ in range(3):
        run(metrics.pods_metric("qps", "ns", "app=web", ""))
    assert client.paths.count("/apis") == 1
    client.fail = True
    with pytest.raises(MetricsFetchError):
        run(metrics.pods_metric("qps", "ns", "app=web", ""))
    client.fail = False
    run(metrics.pods_metric("qps", "ns", "app=web", ""))
    assert client.paths.count("/apis") == 2


def test_an_object_metric_average_value_divides_by_the_status_replicas():
    """GetObjectPerPodMetricReplicas: the object's value (1200m) over the per-pod target (200m) wants 6 of the 2
    status replicas, which the scale-up limit makes 4; the status has no describedObject and the metric is named
    an external one with its selector printed as Go prints a nil one, both as upstream's do."""
    written, _ = object_metric_status("1200m", {"type": "AverageValue", "averageValue": "200m"})
    assert written["desiredReplicas"] == 4
    assert written["currentMetrics"] == [{"type": "Object", "object": {
        "metric": {"name": "requests"}, "current": {"averageValue": "600m"}}}]
    active = [c for c in written["conditions"] if c["type"] == "ScalingActive"][0]
    assert active["message"] == ("the HPA was able to successfully calculate a replica count from external metric "
                                 "requests(nil)")

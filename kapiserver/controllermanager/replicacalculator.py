"""The horizontal-pod-autoscaler's replica calculation for resource metrics (pkg/controller/podautoscaler's
replica_calculator.go and metrics client), sans-IO apart from the metrics fetch:

- ``ResourceMetricsClient.pod_metrics`` reads ``metrics.k8s.io/v1beta1`` PodMetrics of the pods a selector
  picks: per pod the sum of its containers' usage (or one container's), in milli-units, with the sample's
  timestamp and window; a pod with a container lacking the resource is left out (as upstream).
- ``resource_replicas`` (a Utilization target, percentage of request) and ``raw_resource_replicas`` (an
  AverageValue target) turn those into a replica count with upstream's rules: pods being deleted or Failed are
  ignored, Pending ones are unready, CPU samples of pods still starting (5 minutes, or readiness changed
  after the sample) are unready; within the tolerance (0.1) nothing changes; pods missing a sample count as
  using their request (at least the target) on a scale down and 0 on a scale up, unready pods as 0 on a scale
  up; a change that the assumptions reverse does not happen.

Errors carry upstream's messages (``ReplicaCalculationError``), which the controller wraps as upstream does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from ..client.rest import APIError
from ..machinery import meta
from ..flags import parse_duration
from ..machinery.quantity import parse_quantity
from .controllerutils import _condition

TOLERANCE = 0.1                          # --horizontal-pod-autoscaler-tolerance
CPU_INITIALIZATION_PERIOD = 300.0        # --horizontal-pod-autoscaler-cpu-initialization-period
INITIAL_READINESS_DELAY = 30.0           # --horizontal-pod-autoscaler-initial-readiness-delay
METRICS_API = "/apis/metrics.k8s.io/v1beta1"


class ReplicaCalculationError(Exception):
    """A replica count could not be computed; the message is upstream's."""


class MetricsFetchError(ReplicaCalculationError):
    """The metrics client's error, which the replica calculation wraps ("unable to get metrics for ...")."""


@dataclass
class PodMetric:
    timestamp: float
    window: float
    value: int          # milli-units


def milli_value(quantity) -> int:
    """resource.Quantity's MilliValue: the value in thousandths, rounded up."""
    value = parse_quantity(quantity)
    if value is None:
        return 0
    return math.ceil(value * 1000)


def milli_quantity(milli: int) -> str:
    """How Go prints resource.NewMilliQuantity(milli, DecimalSI)."""
    if milli % 1000:
        return f"{milli}m"
    value, suffix = milli // 1000, ""
    for name in ("k", "M", "G", "T", "P", "E"):
        if value == 0 or value % 1000:
            break
        value //= 1000
        suffix = name
    return f"{value}{suffix}"


class ResourceMetricsClient:
    """The resource metrics API (metrics.k8s.io/v1beta1, served by an aggregated APIService such as
    metrics-server), read through the Client."""

    def __init__(self, client):
        self.client = client

    async def pod_metrics(self, resource: str, namespace: str, selector: str,
                          container: Optional[str] = None) -> Dict[str, PodMetric]:
        try:
            listed = await self.client.request("GET", f"{METRICS_API}/namespaces/{namespace}/pods",
                                               query={"labelSelector": selector or None})
        except APIError as e:
            message = e.message
            if e.code == 404:
                # What client-go says when the group is not served at all (no APIService).
                message = "the server could not find the requested resource (get pods.metrics.k8s.io)"
            raise MetricsFetchError(f"unable to fetch metrics from resource metrics API: {message}") from None
        except Exception as e:  # the connection failed
            raise MetricsFetchError(f"unable to fetch metrics from resource metrics API: {e}") from None
        items = (listed or {}).get("items") or [] if isinstance(listed, dict) else []
        if not items:
            raise MetricsFetchError("no metrics returned from resource metrics API")
        out: Dict[str, PodMetric] = {}
        for item in items:
            total, complete = 0, True
            containers = [c for c in item.get("containers") or [] if container is None or c.get("name") == container]
            if container is not None:
                # One container's metrics: a pod whose metrics lack that container fails the whole fetch.
                if not containers:
                    item_meta = item.get("metadata") or {}
                    raise MetricsFetchError(
                        f"failed to get container metrics: container {container} not present in metrics for pod "
                        f"{item_meta.get('namespace', '')}/{item_meta.get('name', '')}")
                containers = containers[:1]
            elif not containers:
                continue
            for c in containers:
                usage = (c.get("usage") or {}).get(resource)
                if usage is None:
                    complete = False
                    break
                total += milli_value(usage)
            if not complete:
                continue
            try:
                window = parse_duration(item.get("window") or "0s")
            except ValueError:
                window = 0.0
            stamp = meta.parse_time(item["timestamp"]) if item.get("timestamp") else 0.0
            out[(item.get("metadata") or {}).get("name", "")] = PodMetric(stamp, window, total)
        return out


def _group_pods(pods, metrics: Dict[str, PodMetric], resource: str, now: float,
                cpu_initialization_period: float = CPU_INITIALIZATION_PERIOD,
                initial_readiness_delay: float = INITIAL_READINESS_DELAY):
    """(ready count, unready names, missing names, ignored names), as upstream's groupPods."""
    ready, unready, missing, ignored = 0, set(), set(), set()
    for pod in pods:
        name = pod["metadata"]["name"]
        status = pod.get("status") or {}
        if pod["metadata"].get("deletionTimestamp") or status.get("phase") == "Failed":
            ignored.add(name)
            continue
        if status.get("phase") == "Pending":
            unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            missing.add(name)
            continue
        if resource == "cpu":
            condition = _condition(pod, "Ready")
            start = status.get("startTime")
            if condition is None or not start:
                is_unready = True
            else:
                started = meta.parse_time(start)
                changed = meta.parse_time(condition["lastTransitionTime"]) \
                    if condition.get("lastTransitionTime") else 0.0
                if started + cpu_initialization_period > now:
                    # Still starting: a sample taken before it became ready (or while unready) is not trusted.
                    is_unready = condition.get("status") == "False" or metric.timestamp < changed + metric.window
                else:
                    # Never ready after its first readiness delay: unready.
                    is_unready = condition.get("status") == "False" and started + initial_readiness_delay > changed
            if is_unready:
                unready.add(name)
                continue
        ready += 1
    return ready, unready, missing, ignored


def _pod_requests(pods, resource: str, container: Optional[str]) -> Dict[str, int]:
    requests: Dict[str, int] = {}
    for pod in pods:
        total = 0
        spec = pod.get("spec") or {}
        # The regular containers and the sidecars (init containers that restart Always), which run alongside.
        sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
        for c in (spec.get("containers") or []) + sidecars:
            if container is not None and c.get("name") != container:
                continue
            request = ((c.get("resources") or {}).get("requests") or {}).get(resource)
            if request is None:
                raise ReplicaCalculationError(
                    f"missing request for {resource} in container {c.get('name')} of Pod {pod['metadata']['name']}")
            total += milli_value(request)
        requests[pod["metadata"]["name"]] = total
    return requests


def utilization_ratio(metrics: Dict[str, PodMetric], requests: Dict[str, int],
                      target: int) -> Tuple[float, int, int]:
    """(usage ratio, utilization %, raw average in milli) over the pods with both a sample and a request."""
    used = requested = entries = 0
    for name, metric in metrics.items():
        if name in requests:
            used += metric.value
            requested += requests[name]
            entries += 1
    if requested == 0:
        raise ReplicaCalculationError("no metrics returned matched known pods")
    utilization = int(used * 100 / requested)
    return utilization / target, utilization, used // entries


def resource_replicas(current: int, target_utilization: int, resource: str, pods, metrics: Dict[str, PodMetric],
                      now: float, container: Optional[str] = None, tolerance: float = TOLERANCE,
                      **timing: float) -> Tuple[int, int, int]:
    """(replicas, utilization %, raw average milli) for a Utilization target, as GetResourceReplicas."""
    if not pods:
        raise ReplicaCalculationError("no pods returned by selector while calculating replica count")
    metrics = dict(metrics)
    ready, unready, missing, ignored = _group_pods(pods, metrics, resource, now, **timing)
    for name in ignored | unready:
        metrics.pop(name, None)
    if not metrics:
        raise ReplicaCalculationError("did not receive metrics for targeted pods (pods might be unready)")
    requests = _pod_requests(pods, resource, container)
    ratio, utilization, raw = utilization_ratio(metrics, requests, target_utilization)
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if abs(1.0 - ratio) <= tolerance:
            return current, utilization, raw
        return math.ceil(ratio * ready), utilization, raw
    if missing:
        if ratio < 1.0:
            fallback = max(100, target_utilization)
            for name in missing:
                metrics[name] = PodMetric(0, 0, requests[name] * fallback // 100)
        elif ratio > 1.0:
            for name in missing:
                metrics[name] = PodMetric(0, 0, 0)
    if scale_up_with_unready:
        for name in unready:
            metrics[name] = PodMetric(0, 0, 0)
    new_ratio, _, _ = utilization_ratio(metrics, requests, target_utilization)
    if abs(1.0 - new_ratio) <= tolerance or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current, utilization, raw
    replicas = math.ceil(new_ratio * len(metrics))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current, utilization, raw
    return replicas, utilization, raw


def usage_ratio(metrics: Dict[str, PodMetric], target_milli: int) -> Tuple[float, int]:
    """(usage ratio, average usage milli) over the samples, as GetMetricUsageRatio."""
    average = sum(m.value for m in metrics.values()) // len(metrics)
    return average / target_milli, average


def raw_resource_replicas(current: int, target_milli: int, resource: str, pods, metrics: Dict[str, PodMetric],
                          now: float, tolerance: float = TOLERANCE, **timing: float) -> Tuple[int, int]:
    """(replicas, average usage milli) for an AverageValue target, as GetRawResourceReplicas (upstream's
    plain-metric rules on the average usage instead of utilization)."""
    if not pods:
        raise ReplicaCalculationError("no pods returned by selector while calculating replica count")
    metrics = dict(metrics)
    ready, unready, missing, ignored = _group_pods(pods, metrics, resource, now, **timing)
    for name in ignored | unready:
        metrics.pop(name, None)
    if not metrics:
        raise ReplicaCalculationError("did not receive metrics for targeted pods (pods might be unready)")
    ratio, average = usage_ratio(metrics, target_milli)
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if abs(1.0 - ratio) <= tolerance:
            return current, average
        return math.ceil(ratio * ready), average
    if missing and ratio != 1.0:
        for name in missing:
            metrics[name] = PodMetric(0, 0, target_milli if ratio < 1.0 else 0)
    if scale_up_with_unready:
        for name in unready:
            metrics[name] = PodMetric(0, 0, 0)
    new_ratio, _ = usage_ratio(metrics, target_milli)
    if abs(1.0 - new_ratio) <= tolerance or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current, average
    replicas = math.ceil(new_ratio * len(metrics))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current, average
    return replicas, average


# -- custom and external metrics (Pods, Object and External metric sources) ------------------------------

CUSTOM_METRICS_GROUP = "custom.metrics.k8s.io"
CUSTOM_METRICS_VERSIONS = ("v1beta2", "v1beta1")     # the versions the client speaks, preferred first
EXTERNAL_METRICS_API = "/apis/external.metrics.k8s.io/v1beta1"
DEFAULT_METRIC_WINDOW = 60.0                         # a custom metric sample without windowSeconds


def _not_found(e: APIError, qualified: str, name: str = "") -> str:
    """The message client-go gives an error answer: a 404 as the generic server response naming the request."""
    if e.code == 404:
        return f"the server could not find the requested resource (get {qualified}{' ' + name if name else ''})"
    return e.message


class CustomMetricsClient:
    """The custom metrics API (custom.metrics.k8s.io, v1beta2 or v1beta1, whichever the server prefers) and
    the external metrics API (external.metrics.k8s.io/v1beta1), as the HPA's metrics client reads them. Each
    error is a MetricsFetchError with upstream's words."""

    def __init__(self, client, resource_for_kind):
        self.client = client
        self.resource_for_kind = resource_for_kind   # async (group, kind) -> plural, LookupError if none
        # The custom metrics API's version, looked up once (as upstream's available-APIs getter caches it) and
        # forgotten when a fetch fails, so an API that moved is found again.
        self._known_version: Optional[str] = None

    async def _version(self) -> str:
        if self._known_version is None:
            self._known_version = await self._discover_version()
        return self._known_version

    async def _discover_version(self) -> str:
        listed = await self.client.request("GET", "/apis")
        group = next((g for g in (listed or {}).get("groups") or [] if g.get("name") == CUSTOM_METRICS_GROUP), None)
        if group is None:
            raise ReplicaCalculationError(f"no custom metrics API ({CUSTOM_METRICS_GROUP}) registered")
        preferred = ((group.get("preferredVersion") or {}).get("version")) or ""
        if preferred in CUSTOM_METRICS_VERSIONS:
            return preferred
        for version in group.get("versions") or []:
            if version.get("version") in CUSTOM_METRICS_VERSIONS:
                return version["version"]
        raise ReplicaCalculationError("no known available metric versions found")

    async def _qualified(self, api_version: str, kind: str) -> str:
        group = (api_version or "").rpartition("/")[0]
        try:
            plural = await self.resource_for_kind(group, kind)
        except LookupError as e:
            raise ReplicaCalculationError(f"unable to map kind {kind + '.' + group if group else kind} to "
                                          f"resource: {e}") from None
        return f"{plural}.{group}" if group else plural

    async def _get(self, path_of, qualified: str, name: str, query: dict) -> dict:
        try:
            version = await self._version()
            return await self.client.request("GET", path_of(version), query=query) or {}
        except ReplicaCalculationError as e:
            raise MetricsFetchError(f"unable to fetch metrics from custom metrics API: {e}") from None
        except APIError as e:
            self._known_version = None
            message = _not_found(e, f"{qualified}.{CUSTOM_METRICS_GROUP}", name)
            raise MetricsFetchError(f"unable to fetch metrics from custom metrics API: {message}") from None

    async def pods_metric(self, metric: str, namespace: str, selector: str, metric_selector: str
                          ) -> Dict[str, PodMetric]:
        """GetRawMetric: the metric of every pod the selector picks."""
        listed = await self._get(lambda v: f"/apis/{CUSTOM_METRICS_GROUP}/{v}/namespaces/{namespace}/pods/*/{metric}",
                                 "pods", "*", {"labelSelector": selector or None,
                                               "metricLabelSelector": metric_selector or None})
        items = listed.get("items") or []
        if not items:
            raise MetricsFetchError("no metrics returned from custom metrics API")
        out: Dict[str, PodMetric] = {}
        for item in items:
            window = item.get("windowSeconds")
            stamp = meta.parse_time(item["timestamp"]) if item.get("timestamp") else 0.0
            out[(item.get("describedObject") or {}).get("name", "")] = PodMetric(
                stamp, DEFAULT_METRIC_WINDOW if window is None else float(window), milli_value(item.get("value")))
        return out

    async def object_metric(self, metric: str, namespace: str, described: dict, metric_selector: str) -> int:
        """GetObjectMetric: the metric of one object (a Namespace's own, whatever name it is given)."""
        api_version, kind = described.get("apiVersion") or "", described.get("kind") or ""
        query = {"metricLabelSelector": metric_selector or None}
        if kind == "Namespace" and "/" not in api_version:
            listed = await self._get(lambda v: f"/apis/{CUSTOM_METRICS_GROUP}/{v}/namespaces/{namespace}/metrics/"
                                               f"{metric}", "metrics", metric, query)
        else:
            try:
                qualified = await self._qualified(api_version, kind)
            except ReplicaCalculationError as e:
                raise MetricsFetchError(f"unable to fetch metrics from custom metrics API: {e}") from None
            name = described.get("name", "")
            listed = await self._get(lambda v: f"/apis/{CUSTOM_METRICS_GROUP}/{v}/namespaces/{namespace}/"
                                               f"{qualified}/{name}/{metric}", qualified, name, query)
        items = listed.get("items") or []
        if len(items) != 1:
            raise MetricsFetchError(f"unable to fetch metrics from custom metrics API: the custom metrics API server "
                                    f"returned {len(items)} results when we asked for exactly one")
        return milli_value(items[0].get("value"))

    async def external_metric(self, metric: str, namespace: str, metric_selector: str) -> list:
        """GetExternalMetric: the values of every series of the metric the selector picks."""
        try:
            listed = await self.client.request("GET", f"{EXTERNAL_METRICS_API}/namespaces/{namespace}/{metric}",
                                               query={"labelSelector": metric_selector or None}) or {}
        except APIError as e:
            raise MetricsFetchError(f"unable to fetch metrics from external metrics API: "
                                    f"{_not_found(e, metric + '.external.metrics.k8s.io')}") from None
        items = listed.get("items") or []
        if not items:
            raise MetricsFetchError("no metrics returned from external metrics API")
        return [milli_value(item.get("value")) for item in items]


def ready_pod_count(pods) -> int:
    """getReadyPodsCount: the Running pods with Ready True; an error without any pod."""
    if not pods:
        raise ReplicaCalculationError("no pods returned by selector while calculating replica count")
    return sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Running"
               and (_condition(p, "Ready") or {}).get("status") == "True")


def usage_ratio_replicas(current: int, ratio: float, pods, tolerance: float = TOLERANCE) -> int:
    """getUsageRatioReplicaCount: the ratio applied to the ready pods, or, from zero replicas, to one."""
    if current == 0:
        return math.ceil(ratio)
    if abs(1.0 - ratio) <= tolerance:
        return current
    try:
        ready = ready_pod_count(pods)
    except ReplicaCalculationError as e:
        raise ReplicaCalculationError(f"unable to calculate ready pods: {e}") from None
    return math.ceil(ratio * ready)


_MIN_INT64 = -(1 << 63)


def _go_int64(value: float) -> int:
    """int64(f) as Go does it on amd64: out of range (an infinity, NaN) is the smallest int64."""
    if math.isnan(value) or math.isinf(value):
        return _MIN_INT64
    return int(value)


def per_pod_replicas(status_replicas: int, usage: int, target_average: int,
                     tolerance: float = TOLERANCE) -> Tuple[int, int]:
    """(replicas, usage per pod) for an AverageValue target of an Object or External metric
    (GetObjectPerPodMetricReplicas, GetExternalPerPodMetricReplicas): the total over the target, unless
    within the tolerance of the target times the scale's status replicas."""
    def divide(a: float, b: float) -> float:
        if b:
            return a / b
        return math.nan if a == 0 else math.copysign(math.inf, a)
    replicas = status_replicas
    ratio = divide(usage, target_average * status_replicas)
    if abs(1.0 - ratio) > tolerance:
        replicas = int(math.ceil(usage / target_average))
    per_pod = divide(usage, status_replicas)
    return replicas, _go_int64(math.ceil(per_pod) if math.isfinite(per_pod) else per_pod)

"""horizontal-pod-autoscaler-controller (pkg/controller/podautoscaler/horizontal.go): every HPA (autoscaling/v2)
is reconciled when it changes and every --horizontal-pod-autoscaler-sync-period (15 s) after:

1. the target's ``scale`` subresource is read (AbleToScale False/FailedGetScale when it cannot be);
2. the replica count is computed from the metrics: Resource and ContainerResource metrics through the
   resource metrics API (metrics.k8s.io, replicacalculator.py), Pods and Object metrics through the custom
   metrics API (custom.metrics.k8s.io, the version discovery prefers), External ones through
   external.metrics.k8s.io, the largest proposal winning. With no metrics API, ScalingActive is False with
   FailedGetResourceMetric and upstream's message, and the Warning events FailedGetResourceMetric and
   FailedComputeMetricsReplicas;
3. the count is normalized: without ``behavior``, the highest recommendation of the last 5 minutes
   (--horizontal-pod-autoscaler-downscale-stabilization) and a scale-up limit of max(2x, 4); with
   ``behavior``, the stabilization windows of scaleUp/scaleDown and their rate policies (Pods/Percent per
   period, selectPolicy Max/Min/Disabled) over the scale events this controller made; then min/max;
   conditions AbleToScale and ScalingLimited say why (ScaleDownStabilized, TooManyReplicas, ScaleUpLimit...);
4. a changed count is written to ``scale`` (SuccessfulRescale / FailedRescale events), and the status
   (currentReplicas, desiredReplicas, currentMetrics, lastScaleTime, conditions) is written when it changed.

Step 3 is ``horizontaldecision.DecisionCore``, with the recommendations and scale events, driven by ``now`` only,
so it is tested without a reactor.
"""

from __future__ import annotations

import copy
from typing import Dict, List, Optional, Tuple

from ..client.cache import meta_namespace_key, split_key
from ..client.resources import PODS, Resource
from ..client.rest import APIError
from ..machinery import meta
from ..machinery.errors import StatusError
from ..machinery.selectors import label_selector_from_dict, label_selector_string, parse_label_selector
from .context import ControllerContext, QueueController
from .controllerutils import same_status
from .horizontaldecision import DOWNSCALE_STABILIZATION, DecisionCore, set_condition
from .replicacalculator import (CustomMetricsClient, MetricsFetchError, ReplicaCalculationError, ResourceMetricsClient,
                                milli_quantity, milli_value, per_pod_replicas,
                                raw_resource_replicas, resource_replicas, usage_ratio_replicas)

HPAS = Resource("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler")
SYNC_PERIOD = 15.0

# Targets whose plural we know without discovery.
_KNOWN_TARGETS = {("apps", "Deployment"): ("v1", "deployments"), ("apps", "ReplicaSet"): ("v1", "replicasets"),
                  ("apps", "StatefulSet"): ("v1", "statefulsets"),
                  ("", "ReplicationController"): ("v1", "replicationcontrollers")}


class FixedIntervalRateLimiter:
    """Every rate-limited add waits the sync period (upstream's NewDefaultHPARateLimiter): an HPA is
    reconciled at most once a period, whatever changes."""

    def __init__(self, interval: float):
        self.interval = interval

    def when(self, item) -> float:
        return self.interval

    def num_requeues(self, item) -> int:
        return 0

    def forget(self, item) -> None:
        pass


class HorizontalController(QueueController):
    name = "horizontal-pod-autoscaler-controller"
    workers_option = "concurrent-horizontal-pod-autoscaler-syncs"
    default_workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.core = DecisionCore(float(ctx.option("horizontal-pod-autoscaler-downscale-stabilization",
                                                  DOWNSCALE_STABILIZATION)))
        self.tolerance = float(ctx.option("horizontal-pod-autoscaler-tolerance", 0.1))
        self.timing = {"cpu_initialization_period": float(ctx.option(
                           "horizontal-pod-autoscaler-cpu-initialization-period", 300.0)),
                       "initial_readiness_delay": float(ctx.option(
                           "horizontal-pod-autoscaler-initial-readiness-delay", 30.0))}
        self.metrics = ResourceMetricsClient(self.client)
        self.custom_metrics = CustomMetricsClient(self.client, self._resource_for_kind)
        self.recorder = ctx.recorder("horizontal-pod-autoscaler")
        self.hpas = self.informer(HPAS)
        self.pods = self.informer(PODS)
        self.hpas.add_event_handler(on_add=self.enqueue, on_update=self._updated, on_delete=self._deleted)
        self._plurals: Dict[Tuple[str, str], Tuple[str, str]] = dict(_KNOWN_TARGETS)
        # The selector of each HPA's target, for upstream's AmbiguousSelector check.
        self._selectors: Dict[str, Optional[object]] = {}

    def rate_limiter(self, clock):
        return FixedIntervalRateLimiter(float(self.ctx.option("horizontal-pod-autoscaler-sync-period", SYNC_PERIOD)))

    def enqueue(self, obj: dict) -> None:
        key = meta_namespace_key(obj)
        self._selectors.setdefault(key, None)   # selects nothing until its target's scale is read
        self.queue.add_rate_limited(key)

    def _updated(self, old: dict, new: dict) -> None:
        self.enqueue(new)

    def _deleted(self, hpa: dict) -> None:
        key = meta_namespace_key(hpa)
        self.core.forget(key)
        self._selectors.pop(key, None)

    def _hpas_selecting(self, namespace: str, pods: list) -> List[str]:
        """The keys of the HPAs of ``namespace`` whose last seen selector picks any of ``pods``, sorted."""
        found = set()
        for key, selector in self._selectors.items():
            if selector is None or split_key(key)[0] != namespace:
                continue
            if any(selector.matches((p.get("metadata") or {}).get("labels") or {}) for p in pods):
                found.add(key)
        return sorted(found)

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        hpa = self.hpas.indexer.get_by_key(namespace, name)
        if hpa is None or hpa["metadata"].get("deletionTimestamp"):
            self.core.forget(key)
            return
        try:
            await self.reconcile(key, copy.deepcopy(hpa))
        finally:
            # The periodic resync: upstream re-adds every key it reconciled, a sync period later.
            self.queue.add_rate_limited(key)

    # -- one HPA -----------------------------------------------------------------------------------
    async def _target(self, ref: dict) -> Resource:
        """The scale target's resource, as upstream's RESTMapper finds it: by group and kind, at the version the
        server prefers, whatever version the reference gives (an unparsable one fails)."""
        api_version, kind = ref.get("apiVersion") or "", ref.get("kind") or ""
        if api_version.count("/") > 1:
            raise LookupError(f"unexpected GroupVersion string: {api_version}")
        group = api_version.rpartition("/")[0]
        version, plural = await self._mapping(group, kind)
        return Resource(group, version, plural, kind)

    async def _resource_for_kind(self, group: str, kind: str) -> str:
        """The plural of a group's kind (a reference's version does not matter: the mapping is by group and
        kind)."""
        return (await self._mapping(group, kind))[1]

    async def _mapping(self, group: str, kind: str) -> Tuple[str, str]:
        """(version, plural) of a group's kind, from discovery (cached once found)."""
        found = self._plurals.get((group, kind))
        if found is None:
            found = self._plurals[(group, kind)] = await self._discover(group, kind)
        return found

    async def _discover(self, group: str, kind: str) -> Tuple[str, str]:
        versions = ["v1"]
        if group:
            try:
                served = await self.client.request("GET", f"/apis/{group}") or {}
            except APIError:
                served = {}
            preferred = (served.get("preferredVersion") or {}).get("version")
            versions = ([preferred] if preferred else []) + [
                v.get("version") for v in served.get("versions") or [] if v.get("version") != preferred]
        for version in versions:
            try:
                listing = await self.client.request("GET", f"/apis/{group}/{version}" if group else f"/api/{version}")
            except APIError:
                continue
            for resource in (listing or {}).get("resources") or []:
                if resource.get("kind") == kind and "/" not in resource.get("name", ""):
                    return version, resource["name"]
        raise LookupError(f'no matches for kind "{kind}" in group "{group}"')

    async def reconcile(self, key: str, hpa: dict) -> None:
        now = self.clock.seconds()
        spec, status = hpa.get("spec") or {}, hpa.setdefault("status", {})
        old_status = copy.deepcopy(status)
        ref = spec.get("scaleTargetRef") or {}
        reference = f"{ref.get('kind')}/{ref.get('name')}"
        try:
            target = await self._target(ref)
            scale = await self.client.request("GET", target.path(hpa["metadata"]["namespace"], ref.get("name", ""),
                                                                 "scale"))
        except (APIError, LookupError) as e:
            message = e.message if isinstance(e, APIError) else str(e)
            self.recorder.event(hpa, "Warning", "FailedGetScale", message)
            set_condition(status, "AbleToScale", "False", "FailedGetScale",
                          f"the HPA controller was unable to get the target's current scale: {message}", now)
            await self._write_status(hpa, old_status)
            raise RuntimeError(f"failed to query scale subresource for {reference}: {message}") from None
        set_condition(status, "AbleToScale", "True", "SucceededGetScale",
                      "the HPA controller was able to get the target's current scale", now)
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        self.core.record_initial(key, current, now)
        min_replicas = spec.get("minReplicas", 1)
        if min_replicas is None:
            min_replicas = 1
        max_replicas = spec.get("maxReplicas") or 0
        metric_statuses: list = []
        rescale_reason = ""
        if current == 0 and min_replicas != 0:
            desired = 0
            set_condition(status, "ScalingActive", "False", "ScalingDisabled",
                          "scaling is disabled since the replica count of the target is zero", now)
        elif current > max_replicas:
            rescale_reason, desired = "Current number of replicas above Spec.MaxReplicas", max_replicas
        elif current < min_replicas:
            rescale_reason, desired = "Current number of replicas below Spec.MinReplicas", min_replicas
        else:
            proposal, metric_name, metric_statuses, error = await self._replicas_for_metrics(
                hpa, scale, current, now)
            if error is not None:
                self._set_status(hpa, current, status.get("desiredReplicas", 0), metric_statuses, False,
                                 now)
                await self._write_status(hpa, old_status)
                self.recorder.event(hpa, "Warning", "FailedComputeMetricsReplicas", error)
                raise RuntimeError(f"failed to compute desired number of replicas based on listed metrics for "
                                   f"{reference}: {error}")
            desired = proposal
            if desired > current:
                rescale_reason = f"{metric_name} above target"
            elif desired < current:
                rescale_reason = "All metrics below target"
            behavior = spec.get("behavior")
            if behavior is None:
                desired = self.core.normalize(key, status, current, desired, min_replicas, max_replicas, now)
            else:
                desired = self.core.normalize_with_behavior(key, status, behavior, current, desired,
                                                            min_replicas, max_replicas, now)
        rescale = desired != current
        if rescale:
            try:
                await self.client.request(
                    "PUT", target.path(hpa["metadata"]["namespace"], ref.get("name", ""), "scale"),
                    {**scale, "spec": {**(scale.get("spec") or {}), "replicas": desired}})
            except APIError as e:
                self.recorder.event(hpa, "Warning", "FailedRescale",
                                    f"New size: {desired}; reason: {rescale_reason}; error: {e.message}")
                set_condition(status, "AbleToScale", "False", "FailedUpdateScale",
                              f"the HPA controller was unable to update the target scale: {e.message}", now)
                self._set_status(hpa, current, status.get("desiredReplicas", 0), metric_statuses, False, now)
                await self._write_status(hpa, old_status)
                raise RuntimeError(f"failed to rescale {reference}: {e.message}") from None
            set_condition(status, "AbleToScale", "True", "SucceededRescale",
                          f"the HPA controller was able to update the target scale to {desired}", now)
            self.recorder.event(hpa, "Normal", "SuccessfulRescale", f"New size: {desired}; reason: {rescale_reason}")
            self.core.store_scale_event(key, spec.get("behavior"), current, desired, now)
        self._set_status(hpa, current, desired, metric_statuses, rescale, now)
        error = await self._write_status(hpa, old_status)
        if error is not None:
            raise RuntimeError(error)

    def _set_status(self, hpa: dict, current: int, desired: int, metric_statuses: list, rescale: bool,
                    now: float) -> None:
        """The status rebuilt from these five fields, as upstream's setStatus: anything else the stored status
        held (observedGeneration, which the controller never sets) is dropped."""
        old = hpa["status"]
        status = {"currentReplicas": current, "desiredReplicas": desired}
        if rescale:
            status["lastScaleTime"] = meta.rfc3339(now)
        elif old.get("lastScaleTime"):
            status["lastScaleTime"] = old["lastScaleTime"]
        if metric_statuses:
            status["currentMetrics"] = metric_statuses
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        hpa["status"] = status

    async def _write_status(self, hpa: dict, old_status: dict) -> Optional[str]:
        """Write a changed status; a refused write is a Warning FailedUpdateStatus event and the error returned
        (upstream's updateStatus), which the sync fails with unless it fails for another reason already."""
        if same_status(old_status, hpa["status"]):
            return None
        try:
            await self.client.update(HPAS, hpa, subresource="status")
        except APIError as e:
            self.recorder.event(hpa, "Warning", "FailedUpdateStatus", e.message)
            return f"failed to update status for {hpa['metadata']['name']}: {e.message}"
        return None

    # -- metrics -------------------------------------------------------------------------------------
    async def _replicas_for_metrics(self, hpa: dict, scale: dict, current: int, now: float):
        """(replicas, metric name, statuses, error message or None), as computeReplicasForMetrics."""
        status = hpa["status"]
        specs = (hpa.get("spec") or {}).get("metrics") or []
        selector_text = (scale.get("status") or {}).get("selector") or ""
        if not selector_text:
            self.recorder.event(hpa, "Warning", "SelectorRequired", "selector is required")
            set_condition(status, "ScalingActive", "False", "InvalidSelector",
                          "the HPA target's scale is missing a selector", now)
            return 0, "", [], "selector is required"
        try:
            selector = parse_label_selector(selector_text)
        except Exception as e:
            message = f"couldn't convert selector into a corresponding internal selector object: {e}"
            self.recorder.event(hpa, "Warning", "InvalidSelector", message)
            set_condition(status, "ScalingActive", "False", "InvalidSelector", message, now)
            return 0, "", [], message
        namespace = hpa["metadata"]["namespace"]
        key = meta_namespace_key(hpa)
        if key in self._selectors:  # registered when the informer delivered it; gone once deleted
            self._selectors[key] = selector
        pods = [p for p in self.pods.indexer.by_index("namespace", namespace)
                if selector.matches((p.get("metadata") or {}).get("labels") or {})]
        controlling = self._hpas_selecting(namespace, pods)
        if len(controlling) > 1:
            message = f"pods by selector {selector_text} are controlled by multiple HPAs: [{' '.join(controlling)}]"
            self.recorder.event(hpa, "Warning", "AmbiguousSelector", message)
            set_condition(status, "ScalingActive", "False", "AmbiguousSelector", message, now)
            return 0, "", [], message
        replicas, metric_name, statuses = 0, "", []
        invalid, first_error, invalid_condition = 0, "", None
        for spec in specs:
            try:
                proposal, name, metric_status = await self._replicas_for_metric(
                    spec, namespace, selector_text, pods, current, now,
                    int((scale.get("status") or {}).get("replicas") or 0))
            except ReplicaCalculationError as e:
                event = getattr(e, "event", None)
                if event is not None:
                    self.recorder.event(hpa, "Warning", event[0], event[1])
                invalid += 1
                if invalid == 1:
                    first_error = str(e)
                    invalid_condition = getattr(e, "condition", None)
                statuses.append({"type": ""})
                continue
            statuses.append(metric_status)
            if not replicas or proposal > replicas:
                replicas, metric_name = proposal, name
        if invalid >= len(specs) or (invalid and replicas < current):
            if invalid_condition is not None:
                set_condition(status, "ScalingActive", "False", invalid_condition[0], invalid_condition[1], now)
            return -1, "", statuses, f"invalid metrics ({invalid} invalid out of {len(specs)}), first error is: " \
                                     f"{first_error}"
        set_condition(status, "ScalingActive", "True", "ValidMetricFound",
                      f"the HPA was able to successfully calculate a replica count from {metric_name}", now)
        return replicas, metric_name, statuses, None

    async def _replicas_for_metric(self, spec: dict, namespace: str, selector: str, pods: list, current: int,
                                   now: float, status_replicas: int = 0):
        kind = spec.get("type")
        if kind in ("Pods", "Object", "External"):
            return await self._replicas_for_custom_metric(kind, spec, namespace, selector, pods, current,
                                                          status_replicas)
        if kind not in ("Resource", "ContainerResource"):
            error = ReplicaCalculationError(f"unknown metric source type \"{kind}\"")
            error.condition = ("InvalidMetricSourceType", f"the HPA was unable to compute the replica count: {error}")
            error.event = ("InvalidMetricSourceType", str(error))
            raise error
        source = spec.get("resource" if kind == "Resource" else "containerResource") or {}
        resource, target = source.get("name", ""), source.get("target") or {}
        container = source.get("container") if kind == "ContainerResource" else None
        reason = "FailedGetResourceMetric" if kind == "Resource" else "FailedGetContainerResourceMetric"
        try:
            if target.get("averageValue") is not None:
                try:
                    metrics = await self.metrics.pod_metrics(resource, namespace, selector, container)
                    replicas, average = raw_resource_replicas(current, milli_value(target["averageValue"]),
                                                              resource, pods, metrics, now, self.tolerance,
                                                              **self.timing)
                except ReplicaCalculationError as e:
                    raise ReplicaCalculationError(f"failed to get {resource} usage: {self._wrapped(e, resource)}") \
                        from None
                current_status = {"averageValue": milli_quantity(average)}
                name = f"{resource} resource" if container is None else f"{resource} container resource"
            elif target.get("averageUtilization") is not None:
                try:
                    metrics = await self.metrics.pod_metrics(resource, namespace, selector, container)
                    replicas, utilization, raw = resource_replicas(current, target["averageUtilization"], resource,
                                                                   pods, metrics, now, container, self.tolerance,
                                                                   **self.timing)
                except ReplicaCalculationError as e:
                    raise ReplicaCalculationError(
                        f"failed to get {resource} utilization: {self._wrapped(e, resource)}") from None
                current_status = {"averageValue": milli_quantity(raw), "averageUtilization": utilization}
                name = f"{resource} resource utilization (percentage of request)" if container is None else \
                    f"{resource} container resource utilization (percentage of request)"
            else:
                raise ReplicaCalculationError("invalid resource metric source: neither an average utilization "
                                              "target nor an average value (usage) target was set")
        except ReplicaCalculationError as e:
            what = f"{resource} resource" if kind == "Resource" else f"{container} container"
            error = ReplicaCalculationError(f"failed to get {what} metric value: {e}")
            error.condition = (reason, f"the HPA was unable to compute the replica count: {e}")
            error.event = (reason, str(e))
            raise error from None
        body = {"name": resource, "current": current_status}
        if container is not None:
            body["container"] = container
        status = {"type": kind, ("resource" if kind == "Resource" else "containerResource"): body}
        return replicas, name, status

    async def _replicas_for_custom_metric(self, kind: str, spec: dict, namespace: str, selector: str, pods: list,
                                          current: int, status_replicas: int):
        """A Pods, Object or External metric through the custom and external metrics APIs, as upstream's
        computeStatusFor{Pods,Object,External}Metric: (replicas, metric name, metric status)."""
        source = spec.get(kind.lower()) or {}
        metric = source.get("metric") or {}
        name, metric_selector = metric.get("name", ""), metric.get("selector")
        identifier = {"name": name, **({"selector": metric_selector} if metric_selector is not None else {})}
        try:
            metric_labels, selector_error = str(label_selector_from_dict(metric_selector)), None
        except StatusError as e:
            metric_labels, selector_error = "", e.message
        if selector_error is not None and kind != "External":
            raise _failed(kind, selector_error, f"failed to get {kind.lower()} metric value: {selector_error}")
        if kind == "Pods":
            return await self._pods_metric(source, name, identifier, namespace, selector, metric_labels, pods,
                                           current)
        if kind == "Object":
            return await self._object_metric(source, name, identifier, namespace, metric_labels, pods, current,
                                             status_replicas)
        return await self._external_metric(source, name, identifier, namespace, metric_labels, selector_error,
                                           pods, current, status_replicas)

    async def _pods_metric(self, source, name, identifier, namespace, selector, metric_labels, pods, current):
        target = source.get("target") or {}
        try:
            try:
                metrics = await self.custom_metrics.pods_metric(name, namespace, selector, metric_labels)
            except ReplicaCalculationError as e:
                raise ReplicaCalculationError(f"unable to get metric {name}: {e}") from None
            replicas, usage = raw_resource_replicas(current, milli_value(target.get("averageValue")), "", pods,
                                                    metrics, self.clock.seconds(), self.tolerance, **self.timing)
        except ReplicaCalculationError as e:
            raise _failed("Pods", e, f"failed to get pods metric value: {e}") from None
        return replicas, f"pods metric {name}", {"type": "Pods", "pods": {
            "metric": identifier, "current": {"averageValue": milli_quantity(usage)}}}

    async def _object_metric(self, source, name, identifier, namespace, metric_labels, pods, current,
                             status_replicas):
        target = source.get("target") or {}
        described = source.get("describedObject") or {}
        where = f"{described.get('kind')} on {namespace} {described.get('name')}"
        if target.get("type") == "Value" and target.get("value") is not None:
            try:
                try:
                    usage = await self.custom_metrics.object_metric(name, namespace, described, metric_labels)
                except ReplicaCalculationError as e:
                    raise ReplicaCalculationError(f"unable to get metric {name}: {where}/{e}") from None
                replicas = usage_ratio_replicas(current, usage / milli_value(target["value"]), pods, self.tolerance)
            except ReplicaCalculationError as e:
                raise _failed("Object", e, f"failed to get object metric value: {e}") from None
            return replicas, f"{described.get('kind')} metric {name}", {"type": "Object", "object": {
                "describedObject": described, "metric": identifier, "current": {"value": milli_quantity(usage)}}}
        if target.get("type") == "AverageValue" and target.get("averageValue") is not None:
            try:
                usage = await self.custom_metrics.object_metric(name, namespace, described, metric_labels)
            except ReplicaCalculationError as e:
                inner = f"unable to get metric {name}: {where}/{e}"
                raise _failed("Object", inner, f"failed to get object metric value: failed to get {name} object "
                                               f"metric: {inner}") from None
            replicas, per_pod = per_pod_replicas(status_replicas, usage, milli_value(target["averageValue"]),
                                                 self.tolerance)
            # Upstream names this one an external metric and leaves describedObject out of its status.
            selector = (source.get("metric") or {}).get("selector")
            return replicas, f"external metric {name}({label_selector_string(selector)})", {
                "type": "Object", "object": {"metric": identifier,
                                             "current": {"averageValue": milli_quantity(per_pod)}}}
        message = "invalid object metric source: neither a value target nor an average value target was set"
        raise _failed("Object", message, f"failed to get object metric value: {message}")

    async def _external_metric(self, source, name, identifier, namespace, metric_labels, selector_error, pods,
                               current, status_replicas):
        target = source.get("target") or {}
        metric_selector = (source.get("metric") or {}).get("selector")
        described_name = f"external metric {name}({label_selector_string(metric_selector)})"
        # The replica calculation converts the metric's selector itself: its error comes as it is.
        values, fetch_error = None, selector_error
        if selector_error is None:
            try:
                values = await self.custom_metrics.external_metric(name, namespace, metric_labels)
            except ReplicaCalculationError as e:
                fetch_error = (f"unable to get external metric {namespace}/{name}/"
                               f"{label_selector_string(metric_selector)}: {e}")
        if target.get("averageValue") is not None:
            if values is None:
                raise _failed("External", fetch_error, f"failed to get {name} external metric value: failed to "
                                                       f"get {name} external metric: {fetch_error}")
            replicas, per_pod = per_pod_replicas(status_replicas, sum(values), milli_value(target["averageValue"]),
                                                 self.tolerance)
            return replicas, described_name, {"type": "External", "external": {
                "metric": identifier, "current": {"averageValue": milli_quantity(per_pod)}}}
        if target.get("value") is not None:
            try:
                if values is None:
                    raise ReplicaCalculationError(fetch_error)
                usage = sum(values)
                replicas = usage_ratio_replicas(current, usage / milli_value(target["value"]), pods, self.tolerance)
            except ReplicaCalculationError as e:
                raise _failed("External", e, f"failed to get {name} external metric value: failed to get "
                                             f"external metric {name}: {e}") from None
            return replicas, described_name, {"type": "External", "external": {
                "metric": identifier, "current": {"value": milli_quantity(usage)}}}
        message = "invalid external metric source: neither a value target nor an average value target was set"
        raise _failed("External", message, f"failed to get {name} external metric value: {message}")

    @staticmethod
    def _wrapped(error: ReplicaCalculationError, resource: str) -> str:
        """The replica calculation's words: the metrics client's errors wrapped, its own as they are."""
        if isinstance(error, MetricsFetchError):
            return f"unable to get metrics for resource {resource}: {error}"
        return str(error)


def _failed(kind: str, inner, outer=None) -> ReplicaCalculationError:
    """A custom metric's failure: ``outer`` (``inner`` when None) the sync's error, ``inner`` what the
    FailedGet<kind>Metric condition and event say."""
    reason = f"FailedGet{kind}Metric"
    error = ReplicaCalculationError(outer if outer is not None else str(inner))
    error.condition = (reason, f"the HPA was unable to compute the replica count: {inner}")
    error.event = (reason, str(inner))
    return error


def start_horizontal_pod_autoscaler_controller(ctx: ControllerContext) -> HorizontalController:
    return HorizontalController(ctx)

"""HorizontalPodAutoscaler validation as upstream 1.32's pkg/apis/autoscaling/validation reports it: paths of the
internal (v2) object for both versions, upstream's messages, the status subresource's own rules."""

from __future__ import annotations

import pytest

from kapiserver.machinery.errors import StatusError
from kapiserver.machinery.quantity import go_quantity

from tests.controllers.conftest import run


def hpa(version="v2", **spec):
    body = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 5}
    body.update(spec)
    return {"apiVersion": f"autoscaling/{version}", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h", "namespace": "default"}, "spec": body}


def refused(registry, obj) -> StatusError:
    version = obj["apiVersion"].split("/")[1]
    with pytest.raises(StatusError) as error:
        run(registry.store("autoscaling", version, "horizontalpodautoscalers").create("default", obj))
    assert error.value.code == 422
    return error.value


def causes(error: StatusError) -> list[tuple[str, str]]:
    return [(c["field"], c["message"]) for c in error.details["causes"]]


def test_replica_bounds(store_registry):
    """minReplicas below 1, maxReplicas 0 and below minReplicas, each in upstream's words."""
    error = refused(store_registry, hpa(minReplicas=0, maxReplicas=0))
    assert causes(error) == [
        ("spec.minReplicas", "Invalid value: 0: must be greater than or equal to 1"),
        ("spec.maxReplicas", "Invalid value: 0: must be greater than 0"),
        ("spec.metrics", "Forbidden: must specify at least one Object or External metric to support scaling to "
                         "zero replicas"),
    ]
    error = refused(store_registry, hpa(minReplicas=3, maxReplicas=2))
    assert causes(error) == [("spec.maxReplicas", "Invalid value: 2: must be greater than or equal to `minReplicas`")]


def test_resource_metric_targets(store_registry):
    """A Resource metric: its name required, its target typed, positive, one of utilization or value."""
    error = refused(store_registry, hpa(metrics=[{"type": "Resource", "resource": {"target": {
        "type": "Bogus", "averageUtilization": 0, "averageValue": "-1"}}}]))
    assert causes(error) == [
        ("spec.metrics[0].resource.name", "Required value: must specify a resource name"),
        ("spec.metrics[0].resource.target.type",
         'Invalid value: "Bogus": must be either Utilization, Value, or AverageValue'),
        ("spec.metrics[0].resource.target.averageValue", "Invalid value: " + go_quantity("-1") + ": must be positive"),
        ("spec.metrics[0].resource.target.averageUtilization", "Invalid value: 0: must be greater than 0"),
        ("spec.metrics[0].resource.target.averageValue",
         "Forbidden: may not set both a target raw value and a target utilization"),
    ]


def test_metric_source_must_match_its_type(store_registry):
    """The type's own member is required, and any other member is forbidden; an unknown type is refused twice
    (upstream's validateMetricSpec checks the set of types, then its switch's default), so it is two causes but
    listed once in the message (ErrorList.ToAggregate)."""
    error = refused(store_registry, hpa(metrics=[
        {"type": "Pods", "external": {"metric": {"name": "q"}, "target": {"type": "Value", "value": "1"}},
         "resource": {"name": "cpu"}},
        {"type": "Nope"}]))
    unsupported = ('Unsupported value: "Nope": supported values: "ContainerResource", "External", "Object", "Pods", '
                   '"Resource"')
    assert causes(error) == [
        ("spec.metrics[0].pods", "Required value: must populate information for the given metric source"),
        ("spec.metrics[0].external", "Forbidden: must populate the given metric source only"),
        ("spec.metrics[0].resource", "Forbidden: must populate the given metric source only"),
        ("spec.metrics[1].type", unsupported),
        ("spec.metrics[1].type", unsupported),
    ]
    assert error.message.count(unsupported) == 1
    assert error.message.endswith(f"spec.metrics[1].type: {unsupported}]")


def test_pods_object_external_and_container_sources(store_registry):
    """Each source's own rules: metric names, described objects, targets, container names."""
    error = refused(store_registry, hpa(metrics=[
        {"type": "Pods", "pods": {"metric": {}, "target": {"type": "AverageValue"}}},
        {"type": "Object", "object": {"describedObject": {"kind": "Service"}, "metric": {"name": "a/b"},
                                      "target": {"type": "Value"}}},
        {"type": "External", "external": {"metric": {"name": "q"},
                                          "target": {"type": "Value", "value": "1", "averageValue": "2"}}},
        {"type": "ContainerResource", "containerResource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": 50}}},
    ]))
    assert causes(error) == [
        ("spec.metrics[0].pods.metric.name", "Required value: must specify a metric name"),
        ("spec.metrics[0].pods.target.averageValue", "Required value: must specify a positive target averageValue"),
        ("spec.metrics[1].object.describedObject.name", "Required value"),
        ("spec.metrics[1].object.metric.name", "Invalid value: \"a/b\": may not contain '/'"),
        ("spec.metrics[1].object.target.averageValue",
         "Required value: must set either a target value or averageValue"),
        ("spec.metrics[2].external.target.value",
         "Forbidden: may not set both a target value for metric and a per-pod target"),
        ("spec.metrics[3].containerResource.container", "Required value: must specify a container"),
    ]


def test_behavior_rules_and_policies(store_registry):
    """Stabilization windows, select policies and each scaling policy are checked within upstream's limits."""
    error = refused(store_registry, hpa(behavior={
        "scaleUp": {"stabilizationWindowSeconds": 3601, "selectPolicy": "Most", "policies": []},
        "scaleDown": {"policies": [{"type": "Jobs", "value": 0, "periodSeconds": 1801}]}}))
    assert causes(error) == [
        ("spec.behavior.scaleUp.stabilizationWindowSeconds", "Invalid value: 3601: must be less than or equal to 3600"),
        ("spec.behavior.scaleUp.selectPolicy",
         'Unsupported value: "Most": supported values: "Disabled", "Max", "Min"'),
        ("spec.behavior.scaleUp.policies", "Required value: must specify at least one Policy"),
        ("spec.behavior.scaleDown.policies[0].type",
         'Unsupported value: "Jobs": supported values: "Percent", "Pods"'),
        ("spec.behavior.scaleDown.policies[0].value", "Invalid value: 0: must be greater than zero"),
        ("spec.behavior.scaleDown.policies[0].periodSeconds",
         "Invalid value: 1801: must be less than or equal to 1800"),
    ]


def test_a_v1_object_is_checked_as_the_v2_object_it_stands_for(store_registry):
    """autoscaling/v1's CPU target is reported at its internal path, as upstream validates the internal type."""
    error = refused(store_registry, hpa("v1", targetCPUUtilizationPercentage=0, scaleTargetRef={"kind": "Deployment"}))
    assert causes(error) == [
        ("spec.scaleTargetRef.name", "Required value"),
        ("spec.metrics[0].resource.target.averageUtilization", "Invalid value: 0: must be greater than 0"),
    ]


def test_quantities_print_as_go_prints_a_dereferenced_quantity():
    """field.ErrorBody falls back to %#v for a resource.Quantity; canonical text is cached in s."""
    assert go_quantity("-1") == ('resource.Quantity{i:resource.int64Amount{value:-1, scale:0}, '
                                 'd:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"-1", Format:"DecimalSI"}')
    assert go_quantity("0") == ('resource.Quantity{i:resource.int64Amount{value:0, scale:0}, '
                                'd:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"", Format:"DecimalSI"}')
    assert go_quantity("-500m").endswith('value:-500, scale:-3}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, '
                                         's:"-500m", Format:"DecimalSI"}')

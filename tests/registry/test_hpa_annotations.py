"""An autoscaling/v1 HPA's round-trip annotations are unmarshalled into the v2 fields they stand for, as upstream's
conversion does: JSON that does not parse, or values of the wrong type, are a 400 and nothing is stored."""

from __future__ import annotations

import pytest

from tests.endpoints.inprocess import served

HPAS = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers"
METRICS = "autoscaling.alpha.kubernetes.io/metrics"


def hpa(annotations):
    return {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h", "annotations": annotations},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
                     "maxReplicas": 3}}


@pytest.mark.parametrize("annotation, message", [
    ("not json", "invalid character 'o' in literal null (expecting 'u')"),
    ('[{"type": "Resource", "resource": {"name": "memory", "targetAverageUtilization": "50"}}]',
     "json: cannot unmarshal string into Go struct field"),
])
def test_annotations_that_do_not_unmarshal_are_a_bad_request(annotation, message):
    call = served()
    answer = call("POST", HPAS, hpa({METRICS: annotation}))
    assert (answer.code, answer.body["reason"]) == (400, "BadRequest")
    assert message in answer.body["message"]
    assert call("GET", f"{HPAS}/h").code == 404


def test_annotations_that_unmarshal_become_v2_metrics():
    call = served()
    metric = '[{"type": "Resource", "resource": {"name": "memory", "targetAverageUtilization": 50}}]'
    assert call("POST", HPAS, hpa({METRICS: metric})).code == 201
    stored = call("GET", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/h").body
    assert stored["spec"]["metrics"][0] == {"type": "Resource", "resource": {
        "name": "memory", "target": {"type": "Utilization", "averageUtilization": 50}}}

"""Conversion between versions sharing one storage: events and horizontal pod autoscalers."""

from kapiserver.registry.catalog import Catalog
from kapiserver.registry.conversion import from_storage, to_storage

CATALOG = Catalog()
EVENTS_V1 = CATALOG.lookup("events.k8s.io", "v1", "events")
HPA_V1 = CATALOG.lookup("autoscaling", "v1", "horizontalpodautoscalers")
HPA_V2 = CATALOG.lookup("autoscaling", "v2", "horizontalpodautoscalers")


def test_events_k8s_io_stored_as_core_event():
    """An events.k8s.io/v1 Event is stored with core/v1 field names and read back unchanged."""
    event = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
             "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "ctl",
             "reportingInstance": "ctl-1", "action": "Sync", "reason": "Synced",
             "regarding": {"kind": "Pod", "name": "p"}, "note": "done", "type": "Normal",
             "deprecatedCount": 2}
    stored = to_storage(dict(event), EVENTS_V1)
    assert stored["apiVersion"] == "v1"
    assert stored["involvedObject"] == {"kind": "Pod", "name": "p"}
    assert stored["message"] == "done" and stored["reportingComponent"] == "ctl" and stored["count"] == 2
    back = from_storage(stored, EVENTS_V1)
    assert back == event


def test_hpa_v1_round_trip_through_v2_storage():
    """targetCPUUtilizationPercentage becomes a cpu Utilization metric and comes back."""
    hpa = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
           "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d", "apiVersion": "apps/v1"},
                    "minReplicas": 1, "maxReplicas": 4, "targetCPUUtilizationPercentage": 70},
           "status": {"currentReplicas": 1, "desiredReplicas": 2}}
    stored = to_storage(dict(hpa), HPA_V1)
    assert stored["apiVersion"] == "autoscaling/v2"
    assert stored["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]
    assert from_storage(stored, HPA_V1) == hpa


def test_an_hpa_v1_without_a_target_gets_80_percent_cpu():
    """kubectl autoscale without --cpu-percent POSTs a v1 HPA naming no target: upstream's v1 conversion makes v1's
    implicit default explicit, a cpu Utilization metric of 80%, which reads back as targetCPUUtilizationPercentage
    (kubectl get hpa: cpu: <unknown>/80%)."""
    hpa = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
           "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d", "apiVersion": "apps/v1"},
                    "maxReplicas": 5}}
    stored = to_storage(dict(hpa), HPA_V1)
    assert stored["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    assert from_storage(stored, HPA_V1)["spec"]["targetCPUUtilizationPercentage"] == 80


def test_hpa_v2_metrics_survive_a_v1_read_write_cycle():
    """Metrics v1 cannot express travel in an annotation and are restored on the way back."""
    stored = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
              "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "maxReplicas": 3,
                       "metrics": [{"type": "Pods", "pods": {"metric": {"name": "qps"},
                                                             "target": {"type": "AverageValue",
                                                                        "averageValue": "10"}}}]}}
    as_v1 = from_storage(dict(stored), HPA_V1)
    assert "targetCPUUtilizationPercentage" not in as_v1["spec"]
    assert "autoscaling.alpha.kubernetes.io/metrics" in as_v1["metadata"]["annotations"]
    again = to_storage(as_v1, HPA_V1)
    assert again["spec"]["metrics"] == stored["spec"]["metrics"]
    assert "annotations" not in again["metadata"]
    # Served in the storage version itself, the object is returned as stored.
    assert from_storage(dict(stored), HPA_V2) == stored

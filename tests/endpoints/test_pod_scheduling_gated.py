"""A pod created with scheduling gates says why it waits, as upstream's pod strategy (applySchedulingGatedCondition)
has it say: PodScheduled False, reason SchedulingGated, which kubectl prints as its STATUS."""

from __future__ import annotations

from tests.endpoints.test_subresource_eviction import PODS, api  # noqa: F401 (the fixture)


def test_a_gated_pod_starts_with_the_scheduling_gated_condition(api):  # noqa: F811
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "g1"},
           "spec": {"containers": [{"name": "c", "image": "nginx"}], "schedulingGates": [{"name": "example.com/w"}]}}
    created = api("POST", PODS, pod)
    assert created.code == 201, created.body
    assert created.body["status"] == {"phase": "Pending", "qosClass": "BestEffort", "conditions": [{
        "type": "PodScheduled", "status": "False", "lastProbeTime": None, "lastTransitionTime": "1970-01-01T00:00:00Z",
        "reason": "SchedulingGated", "message": "Scheduling is blocked due to non-empty scheduling gates"}]}
    plain = api("POST", PODS, {**pod, "metadata": {"name": "p1"}, "spec": {"containers": pod["spec"]["containers"]}})
    assert plain.body["status"] == {"phase": "Pending", "qosClass": "BestEffort"}

"""apps/v1 validation, defaulting and update rules as upstream 1.32 has them (pkg/apis/apps/validation, the
apps/v1 defaulters and strategies), through the API as a user meets them."""

from __future__ import annotations

from tests.endpoints.inprocess import served

APPS = "/apis/apps/v1/namespaces/default/"
MERGE = "application/merge-patch+json"


def workload(kind: str, name: str = "w", labels=None, **spec) -> dict:
    labels = labels or {"app": name}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": dict(labels)},
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}, **spec}}


def causes(answer) -> list[tuple[str, str]]:
    assert answer.code == 422, answer.body
    return [(c["field"], c["message"]) for c in answer.body["details"]["causes"]]


def test_a_template_active_deadline_is_forbidden_for_deployments_and_replica_sets():
    """Both name the ReplicaSet, as a Forbidden error without the value."""
    call = served()
    for kind, resource in (("Deployment", "deployments"), ("ReplicaSet", "replicasets")):
        body = workload(kind)
        body["spec"]["template"]["spec"]["activeDeadlineSeconds"] = 5
        assert causes(call("POST", APPS + resource, body)) == [
            ("spec.template.spec.activeDeadlineSeconds", "Forbidden: activeDeadlineSeconds in ReplicaSet is not "
                                                         "Supported")]


def test_a_stateful_sets_start_ordinal_may_not_be_negative():
    call = served()
    body = workload("StatefulSet", serviceName="w", ordinals={"start": -1})
    assert causes(call("POST", APPS + "statefulsets", body)) == [
        ("spec.ordinals.start", "Invalid value: -1: must be greater than or equal to 0")]
    body["spec"]["ordinals"]["start"] = 3
    assert call("POST", APPS + "statefulsets", body).code == 201


def test_a_deployments_generation_moves_with_its_annotations():
    """Annotations are copied to the replica sets, so upstream's strategy counts them as a change; labels are
    not."""
    call = served()
    assert call("POST", APPS + "deployments", workload("Deployment")).code == 201
    annotated = call("PATCH", APPS + "deployments/w", {"metadata": {"annotations": {"a": "b"}}}, MERGE)
    assert annotated.body["metadata"]["generation"] == 2
    labelled = call("PATCH", APPS + "deployments/w", {"metadata": {"labels": {"l": "v"}}}, MERGE)
    assert labelled.body["metadata"]["generation"] == 2
    both = call("PATCH", APPS + "deployments/w", {"metadata": {"annotations": {"a": "c"}}, "spec": {"replicas": 3}},
                MERGE)
    assert both.body["metadata"]["generation"] == 3


def test_a_controller_revision_reports_missing_data_before_the_revision():
    call = served()
    body = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "r"}, "revision": -1}
    assert [f for f, _ in causes(call("POST", APPS + "controllerrevisions", body))] == ["data", "revision"]


def test_workload_specs_are_written_in_go_field_order():
    """Whatever order the client sent, the defaulted spec comes back in the Go structs' order."""
    call = served()
    deployment = workload("Deployment")
    deployment["spec"] = dict(reversed(list(deployment["spec"].items())))
    deployment["spec"]["strategy"] = {"rollingUpdate": {"maxSurge": 1}, "type": "RollingUpdate"}
    created = call("POST", APPS + "deployments", deployment).body["spec"]
    assert list(created) == ["replicas", "selector", "template", "strategy", "revisionHistoryLimit",
                             "progressDeadlineSeconds"]
    assert list(created["strategy"]) == ["type", "rollingUpdate"]
    assert list(created["strategy"]["rollingUpdate"]) == ["maxUnavailable", "maxSurge"]
    assert list(created["template"]) == ["metadata", "spec"]
    stateful = workload("StatefulSet", serviceName="w")
    stateful["spec"] = dict(reversed(list(stateful["spec"].items())))
    created = call("POST", APPS + "statefulsets", stateful).body["spec"]
    assert list(created) == ["replicas", "selector", "template", "serviceName", "podManagementPolicy",
                             "updateStrategy", "revisionHistoryLimit", "persistentVolumeClaimRetentionPolicy"]
    daemon = call("POST", APPS + "daemonsets", workload("DaemonSet")).body["spec"]
    assert list(daemon) == ["selector", "template", "updateStrategy", "revisionHistoryLimit"]
    replica_set = call("POST", APPS + "replicasets", workload("ReplicaSet")).body["spec"]
    assert list(replica_set) == ["replicas", "selector", "template"]

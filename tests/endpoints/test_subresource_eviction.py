"""pods/eviction as upstream 1.32's EvictionREST answers it, through the HTTP handlers in process: the request's
dryRun merged into the eviction's delete options (propagateDryRun), the body's kind and name checked, a budget
still being processed refused with a Retry-After, and the DisruptionTarget condition's preconditions."""

from __future__ import annotations

import pytest

from tests.endpoints.inprocess import served

PODS = "/api/v1/namespaces/default/pods"
PDBS = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"


@pytest.fixture
def api():
    return served()


def running_pod(api, name, labels=None, ready=True) -> dict:
    """A Running pod (Ready unless told), as the kubelet would report it."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {"app": "e"}},
           "spec": {"containers": [{"name": "c", "image": "nginx"}], "nodeName": "n1"}}
    created = api("POST", PODS, pod)
    assert created.code == 201, created.body
    created.body["status"] = {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}
    written = api("PUT", f"{PODS}/{name}/status", created.body)
    assert written.code == 200, written.body
    return written.body


def budget(api, name, status=None, processed=True, **spec) -> dict:
    """A PodDisruptionBudget selecting app=e, its status written as the disruption controller would (its
    observedGeneration behind its generation unless ``processed``)."""
    created = api("POST", PDBS, {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                                 "metadata": {"name": name},
                                 "spec": {"selector": {"matchLabels": {"app": "e"}}, **spec}})
    assert created.code == 201, created.body
    created.body["status"] = {"observedGeneration": created.body["metadata"]["generation"] if processed else 0,
                              "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0,
                              "disruptionsAllowed": 0, **(status or {})}
    written = api("PUT", f"{PDBS}/{name}/status", created.body)
    assert written.code == 200, written.body
    return written.body


def eviction(name, **fields) -> dict:
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}, **fields}


def evict(api, name, body=None, query=""):
    return api("POST", f"{PODS}/{name}/eviction{query}", body if body is not None else eviction(name))


def test_budget_still_being_processed_asks_to_retry_after_ten_seconds(api):
    """createTooManyRequestsError: NewTooManyRequests(..., 10), so details.retryAfterSeconds 10 and a
    Retry-After: 10 header beside the DisruptionBudget cause."""
    running_pod(api, "web")
    budget(api, "fresh", processed=False, minAvailable=0)
    answer = evict(api, "web")
    assert answer.code == 429
    assert answer.body["reason"] == "TooManyRequests"
    assert answer.body["details"] == {
        "causes": [{"reason": "DisruptionBudget",
                    "message": "The disruption budget fresh is still being processed by the server."}],
        "retryAfterSeconds": 10}
    assert answer.headers.getRawHeaders("Retry-After") == ["10"]


def test_budget_without_disruptions_left_names_no_retry(api):
    """The 'needs N healthy pods' refusal is NewTooManyRequests(..., 0): no retryAfterSeconds, no header."""
    running_pod(api, "web")
    budget(api, "tight", {"desiredHealthy": 1, "currentHealthy": 1}, minAvailable=1)
    answer = evict(api, "web")
    assert answer.code == 429
    assert answer.body["details"] == {"causes": [{
        "reason": "DisruptionBudget",
        "message": "The disruption budget tight needs 1 healthy pods and has 1 currently"}]}
    assert answer.headers.getRawHeaders("Retry-After") is None


def test_two_budgets_answer_a_failure_status_in_a_201(api):
    """A pod two budgets cover: upstream's EvictionREST returns a Status of its own as the created object, so the
    HTTP code is the create's 201 and the Status says Failure, code 500, no reason (client-go reads it as an
    error); the pod stays."""
    running_pod(api, "web")
    budget(api, "one", {"disruptionsAllowed": 1}, minAvailable=0)
    budget(api, "two", {"disruptionsAllowed": 1}, minAvailable=0)
    answer = evict(api, "web")
    assert answer.code == 201
    assert answer.body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": "This pod has more than one PodDisruptionBudget, which the eviction "
                                      "subresource does not support.", "code": 500}
    assert api("GET", f"{PODS}/web").code == 200


def test_query_dry_run_evicts_nothing(api):
    """propagateDryRun: ?dryRun=All stands for the eviction's delete options; the budget is judged but not
    spent, the pod neither marked nor deleted."""
    running_pod(api, "web")
    budget(api, "loose", {"disruptionsAllowed": 1, "currentHealthy": 1, "desiredHealthy": 0}, minAvailable=0)
    answer = evict(api, "web", query="?dryRun=All")
    assert answer.code == 201 and answer.body["status"] == "Success"
    pod = api("GET", f"{PODS}/web").body
    assert not pod["metadata"].get("deletionTimestamp")
    assert [c["type"] for c in pod["status"]["conditions"]] == ["Ready"]
    assert api("GET", f"{PDBS}/loose").body["status"]["disruptionsAllowed"] == 1


def test_dry_run_in_both_places_must_match(api):
    """The body's own dryRun differing from the query's is upstream's plain error: a 500 without a reason."""
    running_pod(api, "web")
    answer = evict(api, "web", eviction("web", deleteOptions={"dryRun": ["All", "All"]}), query="?dryRun=All")
    assert answer.code == 500
    assert answer.body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": "Non-matching dry-run options in request and content: [All] and [All All]",
                           "code": 500}
    assert evict(api, "web", eviction("web", deleteOptions={"dryRun": ["All"]}), query="?dryRun=All").code == 201
    assert not api("GET", f"{PODS}/web").body["metadata"].get("deletionTimestamp")


def test_eviction_must_name_the_pod(api):
    """EvictionREST.Create compares the URL's name with the Eviction's, a missing one included."""
    running_pod(api, "web")
    for body in ({"apiVersion": "policy/v1", "kind": "Eviction"}, eviction("other")):
        answer = evict(api, "web", body)
        assert (answer.code, answer.body["reason"], answer.body["message"]) == \
            (400, "BadRequest", "name in URL does not match name in Eviction object")
    assert not api("GET", f"{PODS}/web").body["metadata"].get("deletionTimestamp")


def test_eviction_body_of_another_kind_is_not_decoded(api):
    """Only a policy/v1 or policy/v1beta1 Eviction is taken (EvictionREST.AcceptsGroupVersion); another kind
    the scheme knows fails its conversion, one it does not know is not registered."""
    running_pod(api, "web")
    cases = [({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}},
              'Pod in version "v1" cannot be handled as a Eviction: converting (v1.Pod) to (policy.Eviction): '
              'unknown conversion'),
             ({"apiVersion": "v1", "kind": "Eviction", "metadata": {"name": "web"}},
              'Eviction in version "v1" cannot be handled as a Eviction: no kind "Eviction" is registered for '
              'version "v1" in scheme "pkg/api/legacyscheme/scheme.go:30"'),
             ({"apiVersion": "policy/v1", "kind": "DeleteOptions", "metadata": {"name": "web"}},
              'DeleteOptions in version "v1" cannot be handled as a Eviction: converting (v1.DeleteOptions) to '
              '(policy.Eviction): unknown conversion')]
    for body, message in cases:
        answer = evict(api, "web", body)
        assert (answer.code, answer.body["message"]) == (400, message)
    assert not api("GET", f"{PODS}/web").body["metadata"].get("deletionTimestamp")
    assert evict(api, "web", {"apiVersion": "policy/v1beta1", "kind": "Eviction",
                              "metadata": {"name": "web"}}).code == 201
    running_pod(api, "bare")
    assert evict(api, "bare", {"metadata": {"name": "bare"}}).code == 201


def test_eviction_in_another_namespace_is_refused(api):
    """EnsureObjectNamespaceMatchesRequestNamespace, before the Eviction is looked at."""
    running_pod(api, "web")
    answer = evict(api, "web", eviction("web", metadata={"name": "web", "namespace": "elsewhere"}))
    assert (answer.code, answer.body["message"]) == \
        (400, "the namespace of the provided object does not match the namespace sent on the request")


def test_disruption_target_preconditions_name_the_kind(api):
    """addConditionAndDeletePod checks the delete's preconditions against the latest pod itself, its 409s
    naming the kind Pod (not the resource)."""
    pod = running_pod(api, "web")
    uid, version = pod["metadata"]["uid"], pod["metadata"]["resourceVersion"]
    answer = evict(api, "web", eviction("web", deleteOptions={"preconditions": {"uid": "not-it"}}))
    assert answer.code == 409
    assert answer.body["message"] == (
        f'Operation cannot be fulfilled on Pod "web": the UID in the precondition (not-it) does not match the UID '
        f'in record ({uid}). The object might have been deleted and then recreated')
    assert answer.body["details"] == {"name": "web", "kind": "Pod"}
    answer = evict(api, "web", eviction("web", deleteOptions={"preconditions": {"resourceVersion": "1"}}))
    assert answer.code == 409
    assert answer.body["message"] == (
        f'Operation cannot be fulfilled on Pod "web": the ResourceVersion in the precondition (1) does not match '
        f'the ResourceVersion in record ({version}). The object might have been modified')


def test_resource_version_precondition_survives_the_disruption_target(api):
    """A resourceVersion precondition the pod meets evicts it: the delete that follows the DisruptionTarget update
    is made at the version that update wrote."""
    pod = running_pod(api, "web")
    answer = evict(api, "web", eviction("web", deleteOptions={
        "preconditions": {"uid": pod["metadata"]["uid"], "resourceVersion": pod["metadata"]["resourceVersion"]}}))
    assert answer.code == 201, answer.body
    marked = api("GET", f"{PODS}/web").body
    assert marked["metadata"].get("deletionTimestamp")
    assert [c["type"] for c in marked["status"]["conditions"]] == ["Ready", "DisruptionTarget"]


def test_disruption_target_is_updated_in_place(api):
    """podutil.UpdatePodCondition: a DisruptionTarget the pod has already is replaced where it stands."""
    pod = running_pod(api, "web")
    pod["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True", "reason": "Old",
                                    "lastTransitionTime": "2020-01-01T00:00:00Z"},
                                   {"type": "Ready", "status": "True"}]
    assert api("PUT", f"{PODS}/web/status", pod).code == 200
    assert evict(api, "web").code == 201
    conditions = api("GET", f"{PODS}/web").body["status"]["conditions"]
    assert [c["type"] for c in conditions] == ["DisruptionTarget", "Ready"]
    assert (conditions[0]["reason"], conditions[0]["lastTransitionTime"]) == \
        ("EvictionByEvictionAPI", "2020-01-01T00:00:00Z")

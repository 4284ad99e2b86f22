"""The pytest plugin's ``kapiserver`` fixture against its real server: resets between tests, watches ended by a
reset, and faults injected through the fixture reaching the official client and raw HTTP clients."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes.client import ApiException, CoreV1Api  # noqa: E402

CM_PATH = "/api/v1/namespaces/default/configmaps"


def create_the_shared_objects(kapiserver):
    api = kapiserver.api
    api.post("/api/v1/namespaces", {"metadata": {"name": "shared"}})
    api.post(CM_PATH, {"metadata": {"name": "shared"}, "data": {"k": "v"}})
    assert api.get("/api/v1/namespaces/shared")["metadata"]["name"] == "shared"


def test_two_tests_create_the_same_objects_first(kapiserver):
    """This test and the next create the same namespace and ConfigMap; both pass, in either order."""
    create_the_shared_objects(kapiserver)


def test_two_tests_create_the_same_objects_second(kapiserver):
    """The twin of the test above: the reset between them removed what the other one created."""
    create_the_shared_objects(kapiserver)


def test_a_reset_restores_changed_and_deleted_objects(kapiserver):
    """An object a test changed or deleted is back as it was; revisions keep increasing across the reset."""
    api = kapiserver.api
    before = api.get("/api/v1/namespaces/kube-public")
    api.patch("/api/v1/namespaces/kube-public", {"metadata": {"labels": {"touched": "yes"}}})
    api.delete("/api/v1/namespaces/default/serviceaccounts/default")
    result = kapiserver.reset()
    assert result["writes"] >= 2
    after = api.get("/api/v1/namespaces/kube-public")
    assert "touched" not in after["metadata"].get("labels", {})
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert int(after["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    api.get("/api/v1/namespaces/default/serviceaccounts/default")


def open_watch(kapiserver, path):
    connection = http.client.HTTPConnection("127.0.0.1", kapiserver.port, timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    assert response.status == 200
    return connection, response


def read_events(response) -> list:
    """Every event until the server ends the stream."""
    return [json.loads(line) for line in iter(response.readline, b"")]


def test_a_watch_open_at_the_reset_is_ended(kapiserver):
    """A watch still open when the test's reset comes is ended by the server (its stream closes)."""
    rv = kapiserver.api.get(CM_PATH)["metadata"]["resourceVersion"]
    connection, response = open_watch(kapiserver, f"{CM_PATH}?watch=true&resourceVersion={rv}")
    kapiserver.api.post(CM_PATH, {"metadata": {"name": "watched"}})
    first = json.loads(response.readline())
    assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "watched")
    assert kapiserver.reset()["watchesEnded"] >= 1
    assert read_events(response) == []
    connection.close()


def test_a_reset_leaves_open_the_watches_of_the_programs_it_is_asked_to_keep(kapiserver):
    """``keepWatchesFrom`` (the control-plane fixture's daemons): a watch whose User-Agent names a kept
    program goes on through the reset and sees it as events; every other watch is ended."""
    rv = kapiserver.api.get(CM_PATH)["metadata"]["resourceVersion"]
    path = f"{CM_PATH}?watch=true&resourceVersion={rv}"
    kept = http.client.HTTPConnection("127.0.0.1", kapiserver.port, timeout=30)
    kept.request("GET", path, headers={"User-Agent": "kube-controller-manager/v1.32.0 (linux/amd64)"})
    kept_response = kept.getresponse()
    other_connection, other = open_watch(kapiserver, path)
    kapiserver.api.post(CM_PATH, {"metadata": {"name": "watched"}})
    for response in (kept_response, other):
        assert json.loads(response.readline())["type"] == "ADDED"
    result = kapiserver.api.post("/debug/kapiserver/reset", {"keepWatchesFrom": ["kube-controller-manager"]})
    assert result["watchesEnded"] >= 1
    assert read_events(other) == []
    deleted = json.loads(kept_response.readline())
    assert (deleted["type"], deleted["object"]["metadata"]["name"]) == ("DELETED", "watched")
    kept.close()
    other_connection.close()


def test_a_reset_request_that_is_not_understood_is_a_400(kapiserver):
    for body in (b"{", json.dumps({"keepWatchesFrom": "kube-scheduler"}).encode()):
        status, answer = kapiserver.api.request("POST", "/debug/kapiserver/reset", body)
        assert status == 400 and answer["reason"] == "BadRequest", answer


def core(kapiserver) -> CoreV1Api:
    configuration = kubernetes.client.Configuration()
    configuration.host = kapiserver.url
    return CoreV1Api(kubernetes.client.ApiClient(configuration))


def test_a_conflict_injected_through_the_fixture_reaches_the_official_client(kapiserver):
    """inject(verb="update", resource="configmaps", status=409, times=1): the client's first update fails
    with upstream's Conflict, its retry succeeds."""
    api = core(kapiserver)
    api.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"n": "1"}})
    kapiserver.inject(verb="update", resource="configmaps", status=409, times=1)
    current = api.read_namespaced_config_map("c", "default")
    current.data = {"n": "2"}
    with pytest.raises(ApiException) as caught:
        api.replace_namespaced_config_map("c", "default", current)
    assert caught.value.status == 409
    assert json.loads(caught.value.body)["reason"] == "Conflict"
    assert api.replace_namespaced_config_map("c", "default", current).data == {"n": "2"}


def test_a_429_says_when_to_retry(kapiserver):
    """A 429 rule answers with TooManyRequests and a Retry-After header of its retry_after."""
    kapiserver.inject(verb="list", resource="configmaps", namespace="default", status=429, retry_after=7)
    request = urllib.request.Request(kapiserver.url + CM_PATH)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 429
    assert caught.value.headers["Retry-After"] == "7"
    assert json.loads(caught.value.read())["details"] == {"retryAfterSeconds": 7}
    assert kapiserver.api.request("GET", "/api/v1/namespaces/kube-system/configmaps")[0] == 200


def injected(kapiserver, labels: str) -> float:
    """kapiserver_injected_faults_total{labels} now (counters run for the whole session)."""
    _, metrics = kapiserver.api.request("GET", "/metrics")
    prefix = "kapiserver_injected_faults_total{" + labels + "} "
    return sum(float(line[len(prefix):]) for line in metrics.splitlines() if line.startswith(prefix))


def test_the_official_client_waits_out_a_429(kapiserver):
    """One 429 with Retry-After: 1: the official client (urllib3's retries) waits and gets its list."""
    labels = 'fault="429",resource="configmaps",verb="list"'
    before = injected(kapiserver, labels)
    kapiserver.inject(verb="list", resource="configmaps", status=429, retry_after=1, times=1)
    assert core(kapiserver).list_namespaced_config_map("default").items is not None
    assert injected(kapiserver, labels) == before + 1


def test_an_injected_410_on_a_watch_is_one_error_event(kapiserver):
    """status=410 on a watch: a 200 response with one ERROR event carrying the Expired Status, as upstream
    answers a watch from a compacted resourceVersion."""
    kapiserver.inject(verb="watch", resource="configmaps", status=410, times=1)
    connection, response = open_watch(kapiserver, f"{CM_PATH}?watch=true")
    events = read_events(response)
    connection.close()
    assert [(e["type"], e["object"]["code"], e["object"]["reason"]) for e in events] == [("ERROR", 410, "Expired")]


def test_a_watch_ends_after_the_events_a_rule_allows(kapiserver):
    """watch_events=2: the watch sends two events and ends."""
    for name in ("a", "b", "c"):
        kapiserver.api.post(CM_PATH, {"metadata": {"name": name}})
    kapiserver.inject(verb="watch", resource="configmaps", watch_events=2)
    connection, response = open_watch(kapiserver, f"{CM_PATH}?watch=true")   # starts with 3 ADDED events
    events = read_events(response)
    connection.close()
    assert [e["type"] for e in events] == ["ADDED", "ADDED"]


def test_a_dropped_connection_gets_no_answer(kapiserver):
    """drop=True: the connection closes without a response; the next request is served."""
    kapiserver.inject(verb="get", resource="configmaps", name="gone", drop=True, times=1)
    connection = http.client.HTTPConnection("127.0.0.1", kapiserver.port, timeout=30)
    connection.request("GET", f"{CM_PATH}/gone")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        connection.getresponse()
    connection.close()
    assert kapiserver.api.request("GET", f"{CM_PATH}/gone")[0] == 404


def test_latency_delays_the_answer_and_faults_are_counted(kapiserver):
    """latency=0.3 holds the request at least that long; every injected fault shows in /metrics."""
    kapiserver.inject(verb="get", resource="namespaces", name="default", latency=0.3, times=1)
    started = time.monotonic()
    kapiserver.api.get("/api/v1/namespaces/default")
    assert time.monotonic() - started >= 0.3
    assert kapiserver.faults() == []    # times=1: fired, and gone
    assert injected(kapiserver, 'fault="latency",resource="namespaces",verb="get"') == 1


def test_the_rules_left_by_a_test_are_dropped_by_the_reset(kapiserver):
    """A rule that never fired does not outlive its test's reset."""
    kapiserver.inject(verb="delete", resource="secrets", status=500)
    assert len(kapiserver.faults()) == 1
    kapiserver.reset()
    assert kapiserver.faults() == []


def test_the_kubeconfig_and_admin_identity(kapiserver):
    """The kubeconfig file works for the official client's loader; the admin is in system:masters."""
    from kubernetes import config
    api_client = config.new_client_from_config(config_file=str(kapiserver.kubeconfig))
    namespaces = CoreV1Api(api_client).list_namespace().items
    assert {"default", "kube-system"} <= {n.metadata.name for n in namespaces}
    assert "system:masters" in kapiserver.admin["groups"]
    review = kapiserver.api.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert review["status"]["userInfo"]["username"] == kapiserver.admin["user"]

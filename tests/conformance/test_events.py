"""Events through both APIs as the [sig-instrumentation] entries drive them: core v1 Events (lifecycle,
deletecollection) and events.k8s.io/v1 Events (fetch, patch, update a series, delete, list, and
deletecollection)."""

from __future__ import annotations

import datetime

from tests.conformance.support import STRATEGIC, ok, unique


def now_micro():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_seconds():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def core_event(ns, name, labels):
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "labels": labels},
            "involvedObject": {"namespace": ns}, "reason": "Test", "message": "This is a test event",
            "type": "Normal", "count": 1, "source": {"component": "test"},
            "firstTimestamp": now_seconds(), "lastTimestamp": now_seconds()}


def new_event(ns, name, labels):
    return {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": name, "labels": labels},
            "regarding": {"namespace": ns}, "reason": "Test", "action": "Testing", "type": "Normal",
            "note": "This is a test event", "eventTime": now_micro(), "reportingController": "test-controller",
            "reportingInstance": "test-node"}


def test_event_manage_lifecycle_of_an_event(apiserver, namespace):
    """Event, manage lifecycle of an Event"""
    ns, name = namespace, unique("event-test")
    events = f"/api/v1/namespaces/{ns}/events"
    ok(apiserver.request("POST", events, core_event(ns, name, {"testevent-constant": "true"})))
    listed = ok(apiserver.request("GET", "/api/v1/events?labelSelector=testevent-constant%3Dtrue"))
    assert [i["metadata"]["name"] for i in listed["items"] if i["metadata"]["namespace"] == ns] == [name]

    patched = ok(apiserver.request("PATCH", f"{events}/{name}", {"message": "This is a test event - patched"},
                                   headers=STRATEGIC))
    assert patched["message"] == "This is a test event - patched"
    assert ok(apiserver.request("GET", f"{events}/{name}"))["message"] == "This is a test event - patched"

    current = ok(apiserver.request("GET", f"{events}/{name}"))
    series = {"count": 100, "lastObservedTime": now_micro()}
    current["series"] = series
    updated = ok(apiserver.request("PUT", f"{events}/{name}", current))
    assert updated["series"]["count"] == 100
    got = ok(apiserver.request("GET", f"{events}/{name}"))
    assert got["series"]["count"] == 100 and got["series"]["lastObservedTime"] == series["lastObservedTime"]

    ok(apiserver.request("DELETE", f"{events}/{name}"))
    listed = ok(apiserver.request("GET", f"{events}?labelSelector=testevent-constant%3Dtrue"))
    assert name not in [i["metadata"]["name"] for i in listed["items"]]


def test_event_delete_a_collection(apiserver, namespace):
    """Event, delete a collection"""
    ns = namespace
    events = f"/api/v1/namespaces/{ns}/events"
    selector = "labelSelector=testevent-set%3Dtrue"
    for i in (1, 2, 3):
        ok(apiserver.request("POST", events, core_event(ns, f"event-test-{i}", {"testevent-set": "true"})))
    assert len(ok(apiserver.request("GET", f"{events}?{selector}"))["items"]) == 3
    ok(apiserver.request("DELETE", f"{events}?{selector}"))
    assert ok(apiserver.request("GET", f"{events}?{selector}"))["items"] == []


def test_new_event_resource_lifecycle_testing_a_single_event(apiserver, namespace):
    """New Event resource lifecycle, testing a single event"""
    ns, name = namespace, unique("event-test")
    events = f"/apis/events.k8s.io/v1/namespaces/{ns}/events"
    created = ok(apiserver.request("POST", events, new_event(ns, name, {"testevent-constant": "true"})))
    got = ok(apiserver.request("GET", f"{events}/{name}"))
    assert got["note"] == created["note"] == "This is a test event"
    listed = ok(apiserver.request("GET", "/apis/events.k8s.io/v1/events?labelSelector=testevent-constant%3Dtrue"))
    assert name in [i["metadata"]["name"] for i in listed["items"]]

    core_listed = ok(apiserver.request("GET", f"/api/v1/namespaces/{ns}/events?fieldSelector=source%3Dtest-controller"))
    assert [i["metadata"]["name"] for i in core_listed["items"]] == [name]
    listed = ok(apiserver.request("GET", f"{events}?fieldSelector=reportingController%3Dtest-controller"))
    assert [i["metadata"]["name"] for i in listed["items"]] == [name]

    # the 1.32 test patches the series: through events.k8s.io/v1 an event's note is immutable
    series = {"count": 2, "lastObservedTime": now_micro()}
    patched = ok(apiserver.request("PATCH", f"{events}/{name}", {"series": series}, headers=STRATEGIC))
    assert patched["series"] == series
    assert ok(apiserver.request("GET", f"{events}/{name}"))["series"] == series
    refused = apiserver.request("PATCH", f"{events}/{name}", {"note": "This is a patched test event"},
                                headers=STRATEGIC)
    assert refused[0] == 422

    current = ok(apiserver.request("GET", f"{events}/{name}"))
    current["series"] = {"count": 100, "lastObservedTime": now_micro()}
    updated = ok(apiserver.request("PUT", f"{events}/{name}", current))
    assert updated["series"] == current["series"]
    assert ok(apiserver.request("GET", f"{events}/{name}"))["series"] == current["series"]

    ok(apiserver.request("DELETE", f"{events}/{name}"))
    assert apiserver.request("GET", f"{events}/{name}")[0] == 404
    listed = ok(apiserver.request("GET", "/apis/events.k8s.io/v1/events?labelSelector=testevent-constant%3Dtrue"))
    assert name not in [i["metadata"]["name"] for i in listed["items"]]


def test_new_event_resource_lifecycle_testing_a_list_of_events(apiserver, namespace):
    """New Event resource lifecycle, testing a list of events"""
    ns = namespace
    events = f"/apis/events.k8s.io/v1/namespaces/{ns}/events"
    selector = "labelSelector=testevent-set%3Dtrue"
    for i in (1, 2, 3):
        ok(apiserver.request("POST", events, new_event(ns, f"event-test-{i}", {"testevent-set": "true"})))
    listed = ok(apiserver.request("GET", f"{events}?{selector}"))
    assert sorted(i["metadata"]["name"] for i in listed["items"]) == ["event-test-1", "event-test-2", "event-test-3"]
    ok(apiserver.request("DELETE", f"{events}?{selector}"))
    assert ok(apiserver.request("GET", f"{events}?{selector}"))["items"] == []

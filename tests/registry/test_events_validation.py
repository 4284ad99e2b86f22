"""Event validation by the request's version: core/v1's legacy rules, events.k8s.io/v1's strict ones."""

import copy

from kapiserver.registry.validation import validate


def new_event(**fields):
    event = {"apiVersion": "events.k8s.io/v1", "kind": "Event",
             "metadata": {"name": "e1", "namespace": "ns1", "resourceVersion": "5"},
             "regarding": {"kind": "Pod", "namespace": "ns1", "name": "p1", "apiVersion": "v1"},
             "eventTime": "2024-01-01T00:00:00.000000Z", "reportingController": "test.io/ctl",
             "reportingInstance": "node-1", "action": "Act", "reason": "Why", "type": "Normal", "note": "hi"}
    event.update(fields)
    return event


def core_event(**fields):
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": "ns1"},
             "involvedObject": {"kind": "Pod", "namespace": "ns1", "name": "p1"}, "reason": "Why",
             "message": "hi", "type": "Normal", "count": 3, "source": {"component": "kubelet"},
             "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:00:00Z"}
    event.update(fields)
    return event


def rendered(group, obj, old=None):
    return [str(e) for e in validate(group, "v1", "Event", obj, old, True)]


def test_events_v1_create_accepts_a_complete_event():
    """A complete events.k8s.io/v1 event is valid."""
    assert rendered("events.k8s.io", new_event()) == []


def test_events_v1_create_wants_the_deprecated_fields_unset():
    """Through events.k8s.io/v1 the deprecated count, source and timestamps must be left unset on create."""
    event = new_event(deprecatedCount=3, deprecatedSource={"component": "foo"},
                      deprecatedFirstTimestamp="2024-01-01T00:00:00Z", deprecatedLastTimestamp="2024-01-01T00:00:00Z")
    assert rendered("events.k8s.io", event) == [
        'firstTimestamp: Invalid value: "": needs to be unset',
        'lastTimestamp: Invalid value: "": needs to be unset',
        'count: Invalid value: "": needs to be unset',
        'source: Invalid value: "": needs to be unset',
    ]


def test_events_v1_series_rules():
    """A series counts at least 2 and has a lastObservedTime."""
    assert rendered("events.k8s.io", new_event(series={"count": 1})) == [
        'series.count: Invalid value: "": should be at least 2',
        "series.lastObservedTime: Required value",
    ]
    assert rendered("events.k8s.io", new_event(series={"count": 2,
                                                       "lastObservedTime": "2024-01-01T00:00:01.000000Z"})) == []


def test_events_v1_length_limits():
    """reportingInstance, action and reason hold at most 128 characters, the note at most 1024."""
    event = new_event(reportingInstance="i" * 129, action="a" * 129, reason="r" * 129, note="n" * 1025)
    assert rendered("events.k8s.io", event) == [
        'reportingInstance: Invalid value: "": can have at most 128 characters',
        'action: Invalid value: "": can have at most 128 characters',
        'reason: Invalid value: "": can have at most 128 characters',
        'message: Invalid value: "": can have at most 1024 characters',
    ]


def test_events_v1_create_without_event_time_gets_legacy_namespace_rule_too():
    """With no eventTime the legacy namespace agreement applies, then eventTime is required."""
    event = new_event(regarding={"kind": "Pod", "namespace": "other", "name": "p1"})
    del event["eventTime"]
    assert rendered("events.k8s.io", event) == [
        'involvedObject.namespace: Invalid value: "other": does not match event.namespace',
        "eventTime: Required value",
    ]


def test_core_v1_names_the_reporting_component():
    """A core/v1 event with an eventTime hears of its missing reporting controller as reportingComponent."""
    event = core_event(eventTime="2024-01-01T00:00:00.000000Z", reportingInstance="x", action="a")
    errs = rendered("", event)
    assert errs[0] == "reportingComponent: Required value"
    assert all(e.startswith("reportingComponent:") for e in errs)


def test_core_v1_keeps_the_legacy_rules_only():
    """core/v1 accepts count, source and timestamps and a changed message on update."""
    event = core_event()
    assert rendered("", event) == []
    changed = core_event(message="other", count=4)
    changed["metadata"]["resourceVersion"] = "5"
    assert rendered("", changed, event) == []
    assert rendered("", core_event(involvedObject={"namespace": "other"})) == [
        'involvedObject.namespace: Invalid value: "other": does not match event.namespace']


def test_events_v1_update_allows_only_series_and_metadata():
    """Through events.k8s.io/v1 an update may change the series (validated) and metadata, nothing else."""
    old = new_event()
    new = copy.deepcopy(old)
    new["series"] = {"count": 2, "lastObservedTime": "2024-01-01T00:00:05.000000Z"}
    new["metadata"]["labels"] = {"a": "b"}
    assert rendered("events.k8s.io", new, old) == []
    new = copy.deepcopy(old)
    new.update(note="changed", action="Other", related={"kind": "Node", "name": "n1"},
               regarding={"kind": "Pod", "namespace": "ns1", "name": "p2"},
               eventTime="2024-01-01T00:00:01.5Z", series={"count": 1, "lastObservedTime": "2024-01-01T00:00:05Z"})
    assert rendered("events.k8s.io", new, old) == [
        'series.count: Invalid value: "": should be at least 2',
        'involvedObject: Invalid value: core.ObjectReference{Kind:"Pod", Namespace:"ns1", Name:"p2", UID:"", '
        'APIVersion:"", ResourceVersion:"", FieldPath:""}: field is immutable',
        'message: Invalid value: "changed": field is immutable',
        "eventTime: Invalid value: 2024-01-01 00:00:01.5 +0000 UTC: field is immutable",
        'action: Invalid value: "Other": field is immutable',
        'related: Invalid value: core.ObjectReference{Kind:"Node", Namespace:"", Name:"n1", UID:"", '
        'APIVersion:"", ResourceVersion:"", FieldPath:""}: field is immutable',
    ]


def test_events_v1_update_tolerates_sub_microsecond_event_time():
    """An eventTime that differs below a microsecond is the same eventTime."""
    old = new_event(eventTime="2024-01-01T00:00:00.123456Z")
    new = new_event(eventTime="2024-01-01T00:00:00.123456789Z")
    assert rendered("events.k8s.io", new, old) == []


def test_events_v1_length_limits_count_utf8_bytes():
    """Go's len counts bytes: 400 two-byte characters are an 800-byte note (valid), 600 are 1200 (too long)."""
    assert rendered("events.k8s.io", new_event(note="é" * 400)) == []
    assert rendered("events.k8s.io", new_event(note="é" * 600)) == [
        'message: Invalid value: "": can have at most 1024 characters']

"""EventRateLimit: token buckets per limit type, an injected clock, 429 when a bucket is empty."""

from __future__ import annotations

import pytest
from twisted.internet import task

from kapiserver.admission.config import AdmissionConfigError
from kapiserver.admission.eventratelimit import EventRateLimit, parse_configuration
from kapiserver.auth.user import UserInfo
from kapiserver.machinery.errors import StatusError

from .conftest import call, drive, store

EVENTS = store("events", "Event")


def configuration(*limits) -> dict:
    return {"apiVersion": "eventratelimit.admission.k8s.io/v1alpha1", "kind": "Configuration",
            "limits": list(limits)}


def event(namespace="default", component="kubelet", name="p") -> dict:
    return {"metadata": {"name": "e", "namespace": namespace}, "source": {"component": component},
            "involvedObject": {"kind": "Pod", "namespace": namespace, "name": name}}


def outcome(plugin, obj, operation="create", **request) -> int:
    try:
        drive(call(plugin, operation, EVENTS, obj, None, **request))
        return 201
    except StatusError as e:
        return e.code


def test_namespace_limit_refuses_past_burst_and_refills_with_time():
    """Burst events pass at once, the next is 429 with upstream's message; qps refills the bucket."""
    clock = task.Clock()
    plugin = EventRateLimit(parse_configuration(configuration({"type": "Namespace", "qps": 2, "burst": 3})),
                            clock.seconds)
    assert [outcome(plugin, event()) for _ in range(3)] == [201] * 3
    with pytest.raises(StatusError) as info:
        drive(call(plugin, "create", EVENTS, event(), None))
    assert (info.value.code, info.value.reason, info.value.message) == (
        429, "TooManyRequests", "Too many requests: limit reached on type Namespace for key default")
    assert outcome(plugin, event("other")) == 201  # another namespace has its own bucket
    clock.advance(0.5)
    assert [outcome(plugin, event()) for _ in range(2)] == [201, 429]


def test_server_limit_is_one_bucket_and_updates_count():
    """The Server limit is shared by every event; updates take tokens too, other kinds do not."""
    clock = task.Clock()
    plugin = EventRateLimit(parse_configuration(configuration({"type": "Server", "qps": 1, "burst": 2})),
                            clock.seconds)
    assert outcome(plugin, event("a")) == 201
    assert outcome(plugin, event("b"), "update") == 201
    assert outcome(plugin, event("c")) == 429
    drive(call(plugin, "create", store("configmaps", "ConfigMap"), {"metadata": {"namespace": "a"}}, None))


def test_user_and_source_and_object_keys():
    """User limits key on the requesting user; SourceAndObject on the source and the involved object."""
    clock = task.Clock()
    plugin = EventRateLimit(parse_configuration(configuration(
        {"type": "User", "qps": 1, "burst": 1}, {"type": "SourceAndObject", "qps": 1, "burst": 5})), clock.seconds)
    alice = UserInfo(name="alice")
    assert outcome(plugin, event(name="x"), user=alice) == 201
    with pytest.raises(StatusError) as info:
        drive(call(plugin, "create", EVENTS, event(name="y"), None, user=alice))
    assert info.value.message.endswith("limit reached on type User for key alice")
    plugin = EventRateLimit(parse_configuration(configuration(
        {"type": "SourceAndObject", "qps": 1, "burst": 1})), clock.seconds)
    assert outcome(plugin, event(name="x")) == 201
    assert outcome(plugin, event(name="y")) == 201
    assert outcome(plugin, event(name="x")) == 429


def test_cache_size_bounds_the_buckets():
    """Past cacheSize keys the least recently used bucket is forgotten (and starts full again)."""
    clock = task.Clock()
    plugin = EventRateLimit(parse_configuration(configuration(
        {"type": "Namespace", "qps": 1, "burst": 1, "cacheSize": 1})), clock.seconds)
    assert [outcome(plugin, event("a")), outcome(plugin, event("b")), outcome(plugin, event("a"))] == [201] * 3


@pytest.mark.parametrize("limits, message", [
    ([], "limits: Invalid value: []eventratelimit.Limit{}: must not be empty"),
    ([{"type": "Pod", "qps": 1, "burst": 1}], 'limits[0].type: Unsupported value: "Pod": supported values: '),
    ([{"type": "Server", "qps": 1, "burst": 0}], "limits[0].burst: Invalid value: 0: must be positive"),
    ([{"type": "User", "qps": 1, "burst": 1, "cacheSize": -1}],
     "limits[0].cacheSize: Invalid value: -1: must not be negative"),
])
def test_invalid_configurations(limits, message):
    """Each invalid limit is refused with upstream's field error."""
    with pytest.raises(AdmissionConfigError) as info:
        parse_configuration(configuration(*limits))
    assert str(info.value).startswith(message)

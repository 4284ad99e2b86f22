"""Fault rules (kapiserver.endpoints.faults) without a server: parsing, matching, counting, the masters check."""

import random

import pytest

from kapiserver.auth.user import INSECURE_USER, UserInfo
from kapiserver.endpoints.faults import FaultInjector, FaultRule, handle_rules, require_masters
from kapiserver.endpoints.requestinfo import RequestInfo
from kapiserver.machinery import codec
from kapiserver.machinery.errors import StatusError


def info(verb="update", resource="configmaps", group="", namespace="default", name="c", subresource=""):
    return RequestInfo(True, f"/api/v1/namespaces/{namespace}/{resource}/{name}", verb, api_prefix="api",
                       api_group=group, api_version="v1", namespace=namespace, resource=resource,
                       subresource=subresource, name=name)


@pytest.mark.parametrize("body, words", [
    ([], "JSON object"),
    ({"verb": "update"}, "at least one of"),
    ({"status": 418}, "status must be one of"),
    ({"status": 409, "probability": 0}, "probability"),
    ({"status": 409, "times": -1}, "non-negative"),
    ({"status": 409, "times": 1.5}, "whole number"),
    ({"status": 409, "verb": "frobnicate"}, "unknown verb"),
    ({"status": 409, "colour": "red"}, "unknown field(s) colour"),
    ({"drop": "yes"}, "drop must be"),
    ({"status": 409, "namespace": 3}, "namespace must be a string"),
])
def test_a_bad_rule_is_a_400_that_says_why(body, words):
    """Each malformed rule is refused with a BadRequest Status naming the problem."""
    with pytest.raises(StatusError) as caught:
        FaultRule.from_json(body)
    assert caught.value.code == 400
    assert words in caught.value.message


def test_rules_match_on_every_field_they_set():
    """A field a rule sets must equal the request's; unset fields match anything; a resource may name its group."""
    rule = FaultRule.from_json({"verb": "update", "resource": "deployments.apps", "namespace": "ns",
                                "name": "d", "user": "alice", "status": 500})
    request = info(resource="deployments", group="apps", namespace="ns", name="d")
    assert rule.matches(request, "alice")
    assert not rule.matches(request, "bob")
    assert not rule.matches(info(resource="deployments", group="apps", namespace="other", name="d"), "alice")
    assert not rule.matches(info(verb="get", resource="deployments", group="apps", namespace="ns", name="d"),
                            "alice")
    assert FaultRule.from_json({"resource": "deployments", "status": 500}).matches(request, "anyone")
    assert not FaultRule.from_json({"subresource": "status", "status": 500}).matches(request, "anyone")


def test_a_rule_fires_its_times_then_goes():
    """times=2: the first two matching requests get the fault, the third does not, and the rule is gone."""
    injector = FaultInjector()
    injector.add(FaultRule.from_json({"verb": "update", "status": 409, "times": 2}))
    assert [injector.match(info(), "u") is not None for _ in range(3)] == [True, True, False]
    assert injector.rules == []
    assert injector.counts == {("update", "configmaps", "409"): 2}


def test_probability_draws_from_the_injected_random_source():
    """With probability 0.5 the rule fires exactly when the random source draws below 0.5."""
    draws = random.Random(7)
    expected = [draws.random() < 0.5 for _ in range(20)]
    injector = FaultInjector(rng=random.Random(7))
    injector.add(FaultRule.from_json({"status": 503, "probability": 0.5}))
    assert [injector.match(info(), "u") is not None for _ in range(20)] == expected
    assert True in expected and False in expected


def test_non_resource_requests_are_never_faulted():
    """Health checks and discovery stay healthy whatever the rules say."""
    injector = FaultInjector()
    injector.add(FaultRule.from_json({"status": 500}))
    assert injector.match(RequestInfo(False, "/readyz", "get", parts=("readyz",)), "u") is None


@pytest.mark.parametrize("code, verb, reason", [
    (409, "update", "Conflict"), (410, "watch", "Expired"), (410, "list", "Expired"),
    (429, "list", "TooManyRequests"), (500, "get", "InternalError"), (503, "get", "ServiceUnavailable"),
    (504, "get", "Timeout")])
def test_each_status_is_upstreams_reason(code, verb, reason):
    """The injected error carries upstream's reason for its code; 429 says when to retry."""
    error = FaultRule.from_json({"status": code, "retryAfter": 4}).error(info(verb=verb))
    assert (error.code, error.reason) == (code, reason)
    if code == 429:
        assert error.details == {"retryAfterSeconds": 4}


def test_the_rules_endpoint_adds_lists_and_removes():
    """POST adds (201, with an id), GET lists with the fired count, DELETE <id> removes one, DELETE all."""
    injector = FaultInjector()
    code, body = handle_rules(injector, b"POST", [], codec.encode({"verb": "get", "latency": 0.5}))
    assert code == 201
    rule_id = codec.loads(body)["id"]
    handle_rules(injector, b"POST", [], codec.encode({"drop": True}))
    listed = codec.loads(handle_rules(injector, b"GET", [], b"")[1])["rules"]
    assert [(r["id"], r["fired"]) for r in listed] == [(rule_id, 0), (rule_id + 1, 0)]
    assert handle_rules(injector, b"DELETE", [str(rule_id)], b"")[0] == 200
    with pytest.raises(StatusError) as caught:
        handle_rules(injector, b"DELETE", [str(rule_id)], b"")
    assert caught.value.code == 404
    assert codec.loads(handle_rules(injector, b"DELETE", [], b"")[1]) == {"removed": 1}
    with pytest.raises(StatusError) as caught:
        handle_rules(injector, b"POST", [], b"{not json")
    assert caught.value.code == 400


def test_only_system_masters_may_use_the_controls():
    """A user outside system:masters is refused with 403; the insecure port's user is a master."""
    with pytest.raises(StatusError) as caught:
        require_masters(UserInfo("alice", groups=["system:authenticated"]))
    assert caught.value.code == 403
    require_masters(INSECURE_USER)


def test_a_rule_reads_back_as_it_was_given():
    """A rule's JSON has the fields it sets, watchEvents=0 included, and none it does not."""
    rule = FaultRule.from_json({"verb": "watch", "watchEvents": 0, "times": 1})
    assert rule.to_json() == {"id": 0, "fired": 0, "verb": "watch", "times": 1, "probability": 1.0,
                              "watchEvents": 0}

"""API Priority and Fairness's configuration maintenance: the bootstrap FlowSchemas and
PriorityLevelConfigurations created at start with the autoupdate annotation, mandatory ones restored, suggested
ones recreated and kept while their annotation says true, and the FlowSchemas' Dangling conditions (on a
task.Clock for the minute's passes)."""

from __future__ import annotations

import pytest

from kapiserver.controllers.apf import ENSURE_INTERVAL, APFConfigController
from kapiserver.machinery.errors import StatusError
from kapiserver.registry import apfbootstrap
from kapiserver.registry.options import ListOptions

from .conftest import run, run_until

GROUP, VERSION = "flowcontrol.apiserver.k8s.io", "v1"
ALL_SCHEMAS = apfbootstrap.MANDATORY_FLOW_SCHEMAS + apfbootstrap.SUGGESTED_FLOW_SCHEMAS
ALL_LEVELS = apfbootstrap.MANDATORY_PRIORITY_LEVELS + apfbootstrap.SUGGESTED_PRIORITY_LEVELS


@pytest.fixture
def stores(registry):
    return (registry.store(GROUP, VERSION, "flowschemas"),
            registry.store(GROUP, VERSION, "prioritylevelconfigurations"))


@pytest.fixture
def controller(registry, clock):
    c = APFConfigController(registry, clock)
    run(c.start())
    yield c
    c.stop()


def names(store):
    return {item["metadata"]["name"] for item in run(store.list(None, ListOptions()))[0]}


def get(store, name):
    try:
        return run(store.get(None, name))
    except StatusError as e:
        assert e.code == 404
        return None


def dangling(store, name):
    for condition in ((get(store, name) or {}).get("status") or {}).get("conditions") or []:
        if condition["type"] == "Dangling":
            return condition
    return None


def test_start_creates_the_bootstrap_configuration(stores, controller):
    schemas, levels = stores
    assert names(schemas) == set(ALL_SCHEMAS)
    assert names(levels) == set(ALL_LEVELS)
    probes = get(schemas, "probes")
    assert probes["metadata"]["annotations"] == {"apf.kubernetes.io/autoupdate-spec": "true"}
    assert probes["spec"] == apfbootstrap.flow_schema("probes")["spec"]
    assert get(levels, "exempt")["spec"] == {"type": "Exempt",
                                             "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}}
    condition = dangling(schemas, "global-default")
    assert (condition["status"], condition["reason"]) == ("False", "Found")
    assert condition["message"] == ('This FlowSchema references the PriorityLevelConfiguration object named '
                                    '"global-default" and it exists')


def test_a_second_start_writes_nothing(registry, stores, controller, clock):
    schemas, levels = stores
    before = {name: get(schemas, name)["metadata"]["resourceVersion"] for name in ALL_SCHEMAS}
    again = APFConfigController(registry, clock)
    run(again.start())
    again.stop()
    run(controller.ensure())
    assert {name: get(schemas, name)["metadata"]["resourceVersion"] for name in ALL_SCHEMAS} == before


def test_mandatory_objects_come_back(stores, controller, clock):
    schemas, levels = stores
    run(levels.delete(None, "catch-all"))
    run(schemas.delete(None, "exempt"))
    clock.advance(ENSURE_INTERVAL)
    run_until(lambda: get(levels, "catch-all") is not None and get(schemas, "exempt") is not None)
    assert get(levels, "catch-all")["spec"] == apfbootstrap.priority_level("catch-all")["spec"]


def test_the_exempt_level_keeps_its_admins_shares(stores, controller):
    schemas, levels = stores

    def shares(old):
        new = dict(old, spec={"type": "Exempt", "exempt": {"nominalConcurrencyShares": 7, "lendablePercent": 0}})
        new["metadata"] = dict(old["metadata"], annotations={"apf.kubernetes.io/autoupdate-spec": "false"})
        return new
    run(levels.update(None, "exempt", shares))
    run(controller.ensure())
    exempt = get(levels, "exempt")
    assert exempt["spec"]["exempt"]["nominalConcurrencyShares"] == 7
    assert exempt["metadata"]["annotations"] == {"apf.kubernetes.io/autoupdate-spec": "true"}


def test_suggested_objects_are_recreated_and_kept_while_the_annotation_says_so(stores, controller, clock):
    schemas, levels = stores
    run(schemas.delete(None, "service-accounts"))

    def change(annotation):
        def update(old):
            new = dict(old, spec=dict(old["spec"], matchingPrecedence=7000))
            new["metadata"] = dict(old["metadata"], annotations={} if annotation is None else
                                   {"apf.kubernetes.io/autoupdate-spec": annotation})
            return new
        return update
    run(schemas.update(None, "kube-scheduler", change("true")))
    run(schemas.update(None, "kube-controller-manager", change("false")))
    run(schemas.update(None, "global-default", change(None)))
    clock.advance(ENSURE_INTERVAL)
    run_until(lambda: get(schemas, "service-accounts") is not None
              and get(schemas, "kube-scheduler")["spec"]["matchingPrecedence"] == 800
              and (get(schemas, "global-default")["metadata"].get("annotations") or {}))
    assert get(schemas, "kube-controller-manager")["spec"]["matchingPrecedence"] == 7000
    # Without the annotation, a changed object (generation 2) is the user's, and marked so.
    changed = get(schemas, "global-default")
    assert changed["spec"]["matchingPrecedence"] == 7000
    assert changed["metadata"]["annotations"] == {"apf.kubernetes.io/autoupdate-spec": "false"}


def test_objects_the_bootstrap_configuration_lacks_go_when_marked_autoupdate(stores, controller):
    schemas, levels = stores
    for name, annotation in (("old-suggestion", "true"), ("mine", "false")):
        run(levels.create(None, {"metadata": {"name": name, "annotations": {
            "apf.kubernetes.io/autoupdate-spec": annotation}}, "spec": {
            "type": "Limited", "limited": {"nominalConcurrencyShares": 1, "limitResponse": {"type": "Reject"}}}}))
    run(controller.ensure())
    assert get(levels, "old-suggestion") is None
    assert get(levels, "mine") is not None


def test_dangling_follows_the_priority_levels(stores, controller):
    schemas, levels = stores
    run(schemas.create(None, {"metadata": {"name": "orphan"}, "spec": {
        "priorityLevelConfiguration": {"name": "nowhere"}, "matchingPrecedence": 500,
        "rules": [{"subjects": [{"kind": "User", "user": {"name": "u"}}],
                   "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]}]},
        "status": {"conditions": [{"type": "Other", "status": "True"}]}}))
    run_until(lambda: dangling(schemas, "orphan") is not None)
    condition = dangling(schemas, "orphan")
    assert (condition["status"], condition["reason"]) == ("True", "NotFound")
    assert condition["message"] == ('This FlowSchema references the PriorityLevelConfiguration object named '
                                    '"nowhere" but there is no such object')
    run(levels.create(None, {"metadata": {"name": "nowhere"}, "spec": {
        "type": "Limited", "limited": {"nominalConcurrencyShares": 1, "limitResponse": {"type": "Reject"}}}}))
    run_until(lambda: dangling(schemas, "orphan")["status"] == "False")
    assert dangling(schemas, "orphan")["reason"] == "Found"
    run(levels.delete(None, "nowhere"))
    run_until(lambda: dangling(schemas, "orphan")["status"] == "True")
    assert [c["type"] for c in get(schemas, "orphan")["status"]["conditions"]] == ["Dangling"]

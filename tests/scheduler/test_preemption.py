"""DefaultPreemption: eligibility, the victims on a node, the choice among nodes, and the messages."""

from __future__ import annotations

import pytest

from kapiserver.scheduler.framework import FitError
from kapiserver.scheduler.preemption import pick_one_node_for_preemption, preempt, select_victims_on_node
from tests.scheduler.objects import cluster, framework, node, pod


def attempt(nodes, p, pods=()):
    fw = framework()
    snapshot = cluster(nodes, pods).snapshot()
    with pytest.raises(FitError) as raised:
        fw.schedule(p, snapshot)
    return preempt(fw, p, snapshot, raised.value.diagnosis)


def test_lowest_priority_victims_on_the_cheapest_node():
    """The node whose most important victim has the lowest priority wins; only as many victims as needed."""
    nodes = [node("a", cpu="2"), node("b", cpu="2")]
    placed = [pod("a-low", cpu="1", priority=1, node_name="a"), pod("a-mid", cpu="1", priority=5, node_name="a"),
              pod("b-mid", cpu="1", priority=5, node_name="b"), pod("b-mid2", cpu="1", priority=5, node_name="b")]
    result = attempt(nodes, pod("p", cpu="1", priority=10), placed)
    assert result.candidate.node_name == "a"
    assert [v.name for v in result.candidate.victims] == ["a-low"]


def test_fewest_victims_breaks_ties():
    """Same highest victim priority: the lower sum of priorities, then fewer victims."""
    nodes = [node("a", cpu="2"), node("b", cpu="2")]
    placed = [pod("a1", cpu="1", priority=1, node_name="a"), pod("a2", cpu="1", priority=1, node_name="a"),
              pod("b1", cpu="2", priority=1, node_name="b")]
    result = attempt(nodes, pod("p", cpu="2", priority=10), placed)
    assert result.candidate.node_name == "b"
    assert [v.name for v in result.candidate.victims] == ["b1"]


def test_no_lower_priority_pods():
    """Nodes that need preemption but hold nothing lower are reported, the rest are not helpful."""
    nodes = [node("cp", taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]),
             node("a", cpu="1"), node("b", cpu="1")]
    placed = [pod("x", cpu="1", node_name="a", priority=100), pod("y", cpu="1", node_name="b", priority=100)]
    result = attempt(nodes, pod("p", cpu="1", priority=10), placed)
    assert result.candidate is None
    assert result.message == ("0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
                              "2 No preemption victims found for incoming pod.")


def test_request_beyond_allocatable_is_not_helped():
    """Insufficient resources beyond the node's allocatable are unresolvable: no node is tried."""
    result = attempt([node("a", cpu="1")], pod("p", cpu="2", priority=10),
                     [pod("x", cpu="1", node_name="a", priority=0)])
    assert result.message == "0/1 nodes are available: 1 Preemption is not helpful for scheduling."


def test_preemption_policy_never():
    """preemptionPolicy Never: not eligible, with upstream's words."""
    result = attempt([node("a", cpu="1")], pod("p", cpu="1", priority=10, preemptionPolicy="Never"),
                     [pod("x", cpu="1", node_name="a")])
    assert result.candidate is None and result.message == "not eligible due to preemptionPolicy=Never."


def test_victims_reprieved_most_important_first():
    """After removing every lower pod, the more important ones are given back while the pod still fits."""
    nodes = [node("a", cpu="3")]
    placed = [pod("p1", cpu="1", priority=1, node_name="a"), pod("p2", cpu="1", priority=2, node_name="a"),
              pod("p3", cpu="1", priority=3, node_name="a")]
    fw = framework()
    snapshot = cluster(nodes, placed).snapshot()
    victims, status, violations = select_victims_on_node(fw, pod("p", cpu="2", priority=10), snapshot,
                                                         snapshot.get("a"))
    assert [v.name for v in victims] == ["p2", "p1"]


def test_pick_prefers_the_latest_started_victims():
    """All else equal, the node whose most important victim started latest is chosen."""
    from kapiserver.scheduler.cache import PodInfo
    from kapiserver.scheduler.preemption import Candidate
    early, late = pod("e", priority=1), pod("l", priority=1)
    early["status"]["startTime"], late["status"]["startTime"] = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"
    chosen = pick_one_node_for_preemption([Candidate("a", [PodInfo(early)]), Candidate("b", [PodInfo(late)])])
    assert chosen.node_name == "b"


def test_nomination_kept_while_victims_terminate():
    """A preemptor whose nominated node still holds a terminating lower-priority pod may not preempt again,
    and its nomination is left as it is."""
    terminating = pod("victim", cpu="1", priority=1, node_name="a")
    terminating["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    terminating["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True",
                                            "reason": "PreemptionByScheduler"}]
    preemptor = pod("p", cpu="1", priority=10)
    preemptor["status"]["nominatedNodeName"] = "a"
    result = attempt([node("a", cpu="1")], preemptor, [terminating])
    assert result.candidate is None and result.nominated_node is None
    assert result.message == "not eligible due to a terminating pod on the nominated node."


def test_pod_terminating_for_another_reason_does_not_hold_back_preemption():
    """Only a pod terminating because the scheduler preempted it (DisruptionTarget PreemptionByScheduler)
    makes the preemptor wait, as upstream's podTerminatingByPreemption; one deleted otherwise is a victim
    like any other."""
    deleted = pod("deleted", cpu="1", priority=1, node_name="a")
    deleted["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    for conditions in ([], [{"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager"}]):
        deleted["status"]["conditions"] = conditions
        preemptor = pod("p", cpu="1", priority=10)
        preemptor["status"]["nominatedNodeName"] = "a"
        result = attempt([node("a", cpu="1")], preemptor, [deleted])
        assert result.candidate is not None and result.nominated_node == "a"
        assert [v.name for v in result.candidate.victims] == ["deleted"]


def test_no_candidate_clears_the_nomination():
    """No candidate at all: the nomination is cleared."""
    result = attempt([node("a", cpu="1")], pod("p", cpu="2", priority=10))
    assert result.candidate is None and result.nominated_node == ""


def test_nominated_node_is_taken_when_it_fits():
    """A pod nominated to a node it now fits on goes there without scoring the others."""
    nominated = pod("p", cpu="1")
    nominated["status"]["nominatedNodeName"] = "b"
    for seed in range(5):
        result = framework(seed).schedule(nominated, cluster([node("a", cpu="8"), node("b", cpu="2")]).snapshot())
        assert result.suggested_host == "b"


def _pdb(labels, allowed, disrupted=None):
    return {"metadata": {"name": "budget", "namespace": "default"},
            "spec": {"selector": {"matchLabels": labels}},
            "status": {"disruptionsAllowed": allowed, "disruptedPods": disrupted or {}}}


def test_pdb_violations_counted_against_the_budget():
    """Each matching victim takes one disruption from its budget; past zero it violates; pods already
    disrupted and budgets with an empty selector do not count."""
    from kapiserver.scheduler.cache import PodInfo
    from kapiserver.scheduler.preemption import filter_pods_with_pdb_violation
    infos = [PodInfo(pod(f"w{i}", labels={"app": "web"})) for i in range(3)]
    violating, fine = filter_pods_with_pdb_violation(infos, [_pdb({"app": "web"}, 1)])
    assert [v.name for v in violating] == ["w1", "w2"] and [f.name for f in fine] == ["w0"]
    violating, fine = filter_pods_with_pdb_violation(infos, [_pdb({"app": "web"}, 0, {"w0": "2026-01-01T00:00:00Z"})])
    assert [v.name for v in violating] == ["w1", "w2"]
    assert filter_pods_with_pdb_violation(infos, [_pdb({}, 0)])[0] == []


def test_node_without_budget_violations_preferred():
    """A node whose victim a PodDisruptionBudget protects loses to one whose victim none does, even with a
    higher victim priority."""
    fw = framework()
    nodes = [node("a", cpu="1"), node("b", cpu="1")]
    placed = [pod("guarded", cpu="1", priority=1, node_name="a", labels={"app": "db"}),
              pod("free", cpu="1", priority=5, node_name="b")]
    p = pod("p", cpu="1", priority=10)
    snapshot = cluster(nodes, placed).snapshot()
    with pytest.raises(FitError) as raised:
        fw.schedule(p, snapshot)
    result = preempt(fw, p, snapshot, raised.value.diagnosis, pdbs=[_pdb({"app": "db"}, 0)])
    assert result.candidate.node_name == "b"
    assert preempt(fw, p, snapshot, raised.value.diagnosis).candidate.node_name == "a"

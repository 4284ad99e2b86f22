"""The default profile's scores: each plugin's raw score, its normalisation, the weights, and the choice
among equal totals."""

from __future__ import annotations

import random

import pytest

from kapiserver.scheduler.framework import CycleState, Framework, default_normalize_score
from kapiserver.scheduler.plugins import (DEFAULT_SCORE_WEIGHTS, InterPodAffinity, NodeAffinity,
                                          NodeResourcesBalancedAllocation, NodeResourcesFit, PodTopologySpread,
                                          TaintToleration)
from tests.scheduler.objects import cluster, framework, node, pod


def scores(plugin, p, nodes, pods=()):
    snapshot = cluster(nodes, pods).snapshot()
    state = CycleState()
    assert plugin.pre_score(state, p, snapshot, snapshot.node_infos) is None
    found = {n.name: plugin.score(state, p, n) for n in snapshot.node_infos}
    if hasattr(plugin, "normalize_score"):
        plugin.normalize_score(state, p, found)
    return found


def test_least_allocated():
    """(capacity - requested) * 100 / capacity per resource, averaged; requests missing count 100m/200Mi."""
    nodes = [node("a", cpu="4", memory="4Gi"), node("b", cpu="4", memory="4Gi")]
    placed = [pod("x", cpu="2", memory="2Gi", node_name="a")]
    found = scores(NodeResourcesFit(), pod("p", cpu="1", memory="1Gi"), nodes, placed)
    assert found == {"a": (25 + 25) // 2, "b": (75 + 75) // 2}
    empty = scores(NodeResourcesFit(), pod("q"), [node("c", cpu="1", memory="1000Mi")])
    assert empty == {"c": ((1000 - 100) * 100 // 1000 + (1000 - 200) * 100 // 1000) // 2}


def test_balanced_allocation():
    """1 - |cpu fraction - memory fraction| / 2, from actual requests."""
    nodes = [node("a", cpu="4", memory="4Gi"), node("b", cpu="4", memory="4Gi")]
    placed = [pod("x", cpu="3", node_name="a")]
    found = scores(NodeResourcesBalancedAllocation(), pod("p", cpu="1", memory="1Gi"), nodes, placed)
    assert found == {"a": int((1 - abs(1.0 - 0.25) / 2) * 100), "b": 100}


def test_taint_toleration_prefer_no_schedule():
    """Untolerated PreferNoSchedule taints count against a node, normalised in reverse."""
    prefer = [{"key": "k1", "effect": "PreferNoSchedule"}, {"key": "k2", "effect": "PreferNoSchedule"}]
    nodes = [node("a", taints=prefer), node("b", taints=prefer[:1]), node("c")]
    assert scores(TaintToleration(), pod("p"), nodes) == {"a": 0, "b": 50, "c": 100}
    tolerant = pod("q", tolerations=[{"key": "k1", "operator": "Exists"}])
    assert scores(TaintToleration(), tolerant, nodes) == {"a": 0, "b": 100, "c": 100}


def test_node_affinity_preferred():
    """The weights of matching preferred terms, scaled so the best node has 100."""
    nodes = [node("a", labels={"disk": "ssd"}), node("b", labels={"disk": "ssd", "gpu": "yes"}), node("c")]
    p = pod("p", affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 20, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}},
        {"weight": 60, "preference": {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}}]}})
    assert scores(NodeAffinity(), p, nodes) == {"a": 25, "b": 100, "c": 0}


def test_topology_spread_schedule_anyway():
    """Fewer matching pods in the node's domain scores higher; nodes without the key score 0."""
    nodes = [node("a1", labels={"zone": "a"}), node("b1", labels={"zone": "b"}), node("x")]
    placed = [pod("w1", node_name="a1", labels={"app": "web"}), pod("w2", node_name="a1", labels={"app": "web"})]
    p = pod("p", labels={"app": "web"}, topologySpreadConstraints=[
        {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": {"matchLabels": {"app": "web"}}}])
    found = scores(PodTopologySpread(), p, nodes, placed)
    assert found["x"] == 0 and found["b1"] == 100 and found["a1"] < found["b1"]


def test_inter_pod_affinity_preferred():
    """Preferred affinity draws towards the matching pods' domain, preferred anti-affinity away."""
    nodes = [node("a1", labels={"zone": "a"}), node("b1", labels={"zone": "b"})]
    placed = [pod("cache", node_name="b1", labels={"app": "cache"})]
    term = {"weight": 50, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "cache"}},
                                              "topologyKey": "zone"}}
    near = pod("p", affinity={"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [term]}})
    assert scores(InterPodAffinity(), near, nodes, placed) == {"a1": 0, "b1": 100}
    away = pod("q", affinity={"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [term]}})
    assert scores(InterPodAffinity(), away, nodes, placed) == {"a1": 100, "b1": 0}


def test_default_normalize_score():
    """helper.DefaultNormalizeScore, plain and reversed, and all-zero scores."""
    found = {"a": 3, "b": 6, "c": 0}
    default_normalize_score(found)
    assert found == {"a": 50, "b": 100, "c": 0}
    zero = {"a": 0, "b": 0}
    default_normalize_score(zero, reverse=True)
    assert zero == {"a": 100, "b": 100}


def test_weights_decide_between_plugins():
    """TaintToleration (weight 3) outweighs a small difference in LeastAllocated (weight 1)."""
    prefer = [{"key": "k", "effect": "PreferNoSchedule"}]
    nodes = [node("a", cpu="8", taints=prefer), node("b", cpu="4")]
    assert framework().schedule(pod("p", cpu="1"), cluster(nodes).snapshot()).suggested_host == "b"
    assert DEFAULT_SCORE_WEIGHTS["TaintToleration"] == 3 and DEFAULT_SCORE_WEIGHTS["NodeAffinity"] == 2


def test_ties_broken_by_the_injected_random_source():
    """Equal totals: the choice follows the random source, and every tied node can be chosen."""
    nodes = [node("a"), node("b"), node("c")]
    chosen = set()
    for seed in range(30):
        fw = framework(seed)
        chosen.add(fw.schedule(pod("p"), cluster(nodes).snapshot()).suggested_host)
    assert chosen == {"a", "b", "c"}
    again = [framework(7).schedule(pod("p"), cluster(nodes).snapshot()).suggested_host for _ in range(3)]
    assert len(set(again)) == 1


def test_select_host_reservoir():
    """selectHost keeps the highest score; ties replace the pick with chance 1/n."""
    fw = Framework([], {}, rand=random.Random(1))
    assert fw.select_host([("a", 5), ("b", 9), ("c", 1)]) == "b"


def test_system_default_spreading_of_a_replicaset():
    """A pod with no constraints of its own is spread from its ReplicaSet's other pods (maxSkew 3 per
    hostname, as upstream's system defaults); a pod owned by nothing and in no Service is not."""
    from kapiserver.scheduler.plugins import default_selector
    rs = {"metadata": {"name": "web-1", "namespace": "default"},
          "spec": {"selector": {"matchLabels": {"app": "web"}}}}
    owner = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "controller": True}]

    def replica(name, node_name=None):
        p = pod(name, labels={"app": "web"}, node_name=node_name)
        p["metadata"]["ownerReferences"] = owner
        return p
    selector = (lambda p: default_selector(p, [], lambda kind, ns, name: rs if name == "web-1" else None))
    nodes = [node("a"), node("b")]
    placed = [replica("w1", "a"), replica("w2", "a")]
    found = scores(PodTopologySpread(selector), replica("w3"), nodes, placed)
    assert found["b"] == 100 and found["a"] < found["b"]
    lone = pod("lone", labels={"app": "web"})
    snapshot = cluster(nodes, placed).snapshot()
    assert PodTopologySpread(selector).pre_score(CycleState(), lone, snapshot, snapshot.node_infos).code == "Skip"


def test_default_selector_merges_services_and_controller():
    """helper.DefaultSelector: every Service selecting the pod, plus its ReplicationController's selector."""
    from kapiserver.scheduler.plugins import default_selector
    p = pod("p", labels={"app": "web", "tier": "front"})
    p["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "ReplicationController", "name": "rc",
                                         "controller": True}]
    services = [{"spec": {"selector": {"app": "web"}}}, {"spec": {"selector": {"app": "db"}}}, {"spec": {}}]
    rc = {"spec": {"selector": {"tier": "front"}}}
    selector = default_selector(p, services, lambda kind, ns, name: rc)
    assert str(selector) == "app=web,tier=front"


def test_most_allocated_profile_packs_pods():
    """A profile with NodeResourcesFit's MostAllocated strategy sends the pod to the fuller node."""
    from kapiserver.scheduler.plugins import profile_plugins
    profile = {"schedulerName": "packer", "pluginConfig": [{"name": "NodeResourcesFit", "args": {
        "scoringStrategy": {"type": "MostAllocated", "resources": [{"name": "cpu", "weight": 1},
                                                                    {"name": "memory", "weight": 1}]}}}],
               "plugins": {"score": {"disabled": [{"name": "NodeResourcesBalancedAllocation"}],
                                     "enabled": [{"name": "NodeResourcesFit", "weight": 5}]}}}
    plugins, weights = profile_plugins(profile)
    assert weights["NodeResourcesFit"] == 5 and weights["NodeResourcesBalancedAllocation"] == 0
    nodes = [node("a"), node("b")]
    placed = [pod("x", cpu="2", memory="2Gi", node_name="a")]
    fw = Framework(plugins, weights, rand=random.Random(0))
    assert fw.schedule(pod("p", cpu="1", memory="1Gi"), cluster(nodes, placed).snapshot()).suggested_host == "a"
    least = framework()
    assert least.schedule(pod("p", cpu="1", memory="1Gi"), cluster(nodes, placed).snapshot()).suggested_host == "b"


def test_profile_disables_a_filter():
    """A filter disabled in a profile no longer rejects nodes; an unknown plugin name is refused."""
    import pytest

    from kapiserver.scheduler.plugins import profile_plugins
    plugins, weights = profile_plugins({"plugins": {"filter": {"disabled": [{"name": "TaintToleration"}]}}})
    tainted = [node("a", taints=[{"key": "k", "effect": "NoSchedule"}])]
    fw = Framework(plugins, weights, rand=random.Random(0))
    assert fw.schedule(pod("p"), cluster(tainted).snapshot()).suggested_host == "a"
    with pytest.raises(ValueError, match="NoSuchPlugin"):
        profile_plugins({"plugins": {"score": {"enabled": [{"name": "NoSuchPlugin", "weight": 1}]}}})


def _with_images(n, *images):
    n["status"]["images"] = [{"names": list(names), "sizeBytes": size} for names, size in images]
    return n


def test_image_locality():
    """ImageLocality: the size of the pod's images a node holds, scaled by the share of nodes holding
    them, between 23 MiB (0) and 1000 MiB per container (100); an untagged image is looked up as :latest."""
    from kapiserver.scheduler.plugins import ImageLocality
    mib = 1024 * 1024
    nodes = [_with_images(node("a"), (("busybox:latest", "docker.io/library/busybox:latest"), 500 * mib)),
             _with_images(node("b"), (("busybox:latest",), 500 * mib), (("big:1",), 900 * mib)),
             node("c"), node("d")]
    p = pod("p")    # its container's image is "busybox"
    found = scores(ImageLocality(), p, nodes)
    # busybox:latest is on 2 of 4 nodes: 250 MiB counts.
    assert found == {"a": 100 * (250 - 23) // (1000 - 23), "b": 100 * (250 - 23) // (1000 - 23), "c": 0, "d": 0}
    p["spec"]["initContainers"] = [{"name": "i", "image": "big:1"}]
    found = scores(ImageLocality(), p, nodes)
    # Two containers: the ceiling is 2000 MiB; on b, 250 + 225 MiB.
    assert found["b"] == 100 * ((250 + 225) * mib - 23 * mib) // (2000 * mib - 23 * mib)
    assert found["a"] == 100 * (250 * mib - 23 * mib) // (2000 * mib - 23 * mib)


def test_image_locality_is_in_the_default_profile():
    """The default profile scores ImageLocality at weight 1: of two equal nodes, the one holding the
    pod's image wins."""
    nodes = [node("a"), _with_images(node("b"), (("busybox:latest",), 800 * 1024 * 1024))]
    assert DEFAULT_SCORE_WEIGHTS["ImageLocality"] == 1
    for seed in range(5):
        assert framework(seed).schedule(pod("p"), cluster(nodes).snapshot()).suggested_host == "b"


def test_inter_pod_affinity_normalises_as_upstream_floats():
    """NormalizeScore scales (score - min) / (max - min) by 100 in that order, truncated: a raw 29 of 100
    becomes 28 (100 * 0.29 is 28.999...), as upstream's float64 arithmetic gives."""
    nodes = [node("a1", labels={"zone": "a"}), node("b1", labels={"zone": "b"}), node("c1", labels={"zone": "c"})]
    placed = [pod("x", node_name="a1", labels={"app": "x"}), pod("y", node_name="b1", labels={"app": "y"})]

    def term(weight, app):
        return {"weight": weight, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": app}},
                                                      "topologyKey": "zone"}}
    p = pod("p", affinity={"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        term(29, "x"), term(100, "y")]}})
    assert scores(InterPodAffinity(), p, nodes, placed) == {"a1": 28, "b1": 100, "c1": 0}


def test_topology_spread_list_defaults_from_the_profile():
    """pluginConfig PodTopologySpread defaultingType List: its defaultConstraints spread a pod without
    constraints of its own over its ReplicaSet's pods (a DoNotSchedule one filters), none at all turns default
    spreading off, and System with constraints is refused, as upstream's PodTopologySpreadArgs."""
    import pytest

    from kapiserver.scheduler.framework import FitError
    from kapiserver.scheduler.plugins import default_selector, profile_plugins
    rs = {"metadata": {"name": "web-1", "namespace": "default"},
          "spec": {"selector": {"matchLabels": {"app": "web"}}}}
    owner = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "controller": True}]

    def replica(name, node_name=None):
        p = pod(name, labels={"app": "web"}, node_name=node_name)
        p["metadata"]["ownerReferences"] = owner
        return p

    def selector(p):
        return default_selector(p, [], lambda kind, ns, name: rs)

    def profile(args):
        plugins, weights = profile_plugins({"pluginConfig": [{"name": "PodTopologySpread", "args": args}]},
                                           default_spread_selector=selector)
        return Framework(plugins, weights, rand=random.Random(0))
    hard = profile({"defaultingType": "List", "defaultConstraints": [
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule"}]})
    placed = [replica("w1", "a"), replica("w2", "a"), replica("w3", "b")]
    assert hard.schedule(replica("w4"), cluster([node("a"), node("b")], placed).snapshot()).suggested_host == "b"
    with pytest.raises(FitError, match="didn't match pod topology spread constraints"):
        hard.schedule(replica("w4"), cluster([node("a"), node("b", unschedulable=True)], placed).snapshot())
    off = [p for p in profile({"defaultingType": "List"}).plugins if p.name == "PodTopologySpread"][0]
    snapshot = cluster([node("a"), node("b")], placed).snapshot()
    assert off.pre_score(CycleState(), replica("w4"), snapshot, snapshot.node_infos).code == "Skip"
    with pytest.raises(ValueError, match="defaultingType"):
        profile({"defaultConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}]})


def test_requested_to_capacity_ratio():
    """scoringStrategy RequestedToCapacityRatio (the bin-packing documentation's example): the utilization
    after placing the pod read off the shape's broken line (scores 0..10 scaled to 0..100), averaged over the
    resources scoring above 0 by weight and rounded; a shape out of order is refused."""
    import pytest

    from kapiserver.scheduler.plugins import profile_plugins
    from kapiserver.scheduler.plugins.noderesources import broken_linear
    strategy = {"type": "RequestedToCapacityRatio", "resources": [{"name": "cpu", "weight": 1}],
                "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 0},
                                                       {"utilization": 100, "score": 10}]}}
    plugins, weights = profile_plugins({"pluginConfig": [{"name": "NodeResourcesFit",
                                                          "args": {"scoringStrategy": strategy}}]})
    fit = next(p for p in plugins if p.name == "NodeResourcesFit")
    nodes = [node("a", cpu="4"), node("b", cpu="4")]
    placed = [pod("x", cpu="2", node_name="a")]
    # a: (2 + 1) of 4 cpus is 75% -> 75; b: 25% -> 25
    assert scores(fit, pod("p", cpu="1"), nodes, placed) == {"a": 75, "b": 25}
    fw = Framework(plugins, weights, rand=random.Random(0))
    assert fw.schedule(pod("p", cpu="1"), cluster(nodes, placed).snapshot()).suggested_host == "a"
    falling = [(0, 100), (50, 0)]
    assert [broken_linear(falling, u) for u in (0, 1, 25, 60)] == [100, 98, 50, 0]
    strategy["requestedToCapacityRatio"]["shape"] = [{"utilization": 50, "score": 1}, {"utilization": 10, "score": 2}]
    with pytest.raises(ValueError, match="sorted in increasing order"):
        profile_plugins({"pluginConfig": [{"name": "NodeResourcesFit", "args": {"scoringStrategy": strategy}}]})


def test_inter_pod_affinity_args_from_the_profile():
    """InterPodAffinity args: hardPodAffinityWeight weighs placed pods' required affinity to the incoming pod
    (0 turns it off), ignorePreferredTermsOfExistingPods skips scoring a pod with no preferred terms, and a
    weight past 100 is refused."""
    import pytest

    from kapiserver.scheduler.plugins import profile_plugins

    def plugin(args):
        plugins, _ = profile_plugins({"pluginConfig": [{"name": "InterPodAffinity", "args": args}]})
        return next(p for p in plugins if p.name == "InterPodAffinity")
    nodes = [node("a1", labels={"zone": "a"}), node("b1", labels={"zone": "b"})]
    clingy = pod("clingy", node_name="b1", affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "zone"}]}})
    web = pod("web", labels={"app": "web"})
    snapshot = cluster(nodes, [clingy]).snapshot()
    state = CycleState()
    assert plugin({"hardPodAffinityWeight": 5}).pre_score(state, web, snapshot, snapshot.node_infos) is None
    assert state["InterPodAffinity/score"] == {("zone", "b"): 5}
    state = CycleState()
    plugin({"hardPodAffinityWeight": 0}).pre_score(state, web, snapshot, snapshot.node_infos)
    assert state["InterPodAffinity/score"] == {}
    skipped = plugin({"ignorePreferredTermsOfExistingPods": True}).pre_score(
        CycleState(), web, snapshot, snapshot.node_infos)
    assert skipped.code == "Skip"
    with pytest.raises(ValueError, match="hardPodAffinityWeight"):
        plugin({"hardPodAffinityWeight": 101})


def test_balanced_allocation_resources_from_the_profile():
    """NodeResourcesBalancedAllocation args resources: the listed resources' shares are compared (an
    extended one only when the pod asks for it)."""
    from kapiserver.scheduler.plugins import profile_plugins
    plugins, _ = profile_plugins({"pluginConfig": [{"name": "NodeResourcesBalancedAllocation", "args": {
        "resources": [{"name": "cpu", "weight": 1}, {"name": "example.com/gpu", "weight": 1}]}}]})
    balanced = next(p for p in plugins if p.name == "NodeResourcesBalancedAllocation")
    nodes = [node("a", cpu="4", **{"example.com/gpu": "4"})]
    gpu_pod = pod("g", cpu="1", **{"containers": [{"name": "c", "image": "x", "resources": {"requests": {
        "cpu": "1", "example.com/gpu": "3"}}}]})
    # cpu 1/4, gpu 3/4: 1 - |0.25 - 0.75| / 2
    assert scores(balanced, gpu_pod, nodes) == {"a": 75}
    # no gpu asked: cpu alone, nothing to compare
    assert scores(balanced, pod("p", cpu="1", memory="7Gi"), nodes) == {"a": 100}


def test_resource_specs_without_a_name_are_config_errors():
    """A ResourceSpec with no name (or not an object) in NodeResourcesFit's scoringStrategy or
    NodeResourcesBalancedAllocation's resources is a ValueError naming the field, as upstream's field errors."""
    import pytest

    from kapiserver.scheduler.plugins import profile_plugins

    def configure(name, args):
        return profile_plugins({"pluginConfig": [{"name": name, "args": args}]})
    with pytest.raises(ValueError) as refused:
        configure("NodeResourcesFit", {"scoringStrategy": {"resources": [{"name": "cpu"}, {"weight": 2}]}})
    assert str(refused.value) == "scoringStrategy.resources[1].name: Required value"
    with pytest.raises(ValueError) as refused:
        configure("NodeResourcesBalancedAllocation", {"resources": [{"weight": 1}]})
    assert str(refused.value) == "resources[0].name: Required value"
    with pytest.raises(ValueError) as refused:
        configure("NodeResourcesBalancedAllocation", {"resources": ["cpu"]})
    assert str(refused.value) == "resources[0]: Invalid value: 'cpu': must be an object with a name and a weight"


@pytest.mark.parametrize("plugins", [{"score": {"enabled": ["ImageLocality"]}}, {"score": ["ImageLocality"]},
                                     {"multiPoint": {"disabled": "ImageLocality"}}])
def test_plugin_lists_of_the_wrong_shape_are_config_errors(plugins):
    """A plugin set whose enabled or disabled list holds names rather than objects, or a point that is no object,
    is a ValueError (the scheduler's config error), not an AttributeError."""
    from kapiserver.scheduler.plugins import profile_plugins
    with pytest.raises(ValueError, match="plugins"):
        profile_plugins({"plugins": plugins})

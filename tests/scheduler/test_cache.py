"""The cache: node sums, assumed pods confirmed or forgotten, and nodes that go away under their pods."""

from __future__ import annotations

from kapiserver.scheduler.cache import Cache
from tests.scheduler.objects import node, pod


def test_assume_confirm_and_forget():
    """An assumed pod counts at once; the informer's ADD replaces it; a forgotten one stops counting."""
    cache = Cache()
    cache.add_node(node("a"))
    p = pod("p", cpu="1")
    cache.assume_pod(p, "a")
    assert cache.nodes["a"].requested["cpu"] == 1000 and cache.is_assumed(p)
    bound = {**p, "spec": {**p["spec"], "nodeName": "a"}}
    cache.add_pod(bound)
    assert not cache.is_assumed(p) and cache.nodes["a"].requested["cpu"] == 1000
    q = pod("q", cpu="500m")
    cache.assume_pod(q, "a")
    cache.forget_pod(q)
    assert cache.nodes["a"].requested["cpu"] == 1000 and len(cache.nodes["a"].pods) == 1


def test_node_removed_before_its_pods():
    """A node deleted while pods remain leaves the snapshot; its pods' deletions clear it."""
    cache = Cache()
    cache.add_node(node("a"))
    p = pod("p", node_name="a", host_port=80)
    cache.add_pod(p)
    assert cache.nodes["a"].used_ports == [("0.0.0.0", "TCP", 80)]
    cache.remove_node(node("a"))
    assert len(cache.snapshot()) == 0 and "a" in cache.nodes
    cache.remove_pod(p)
    assert "a" not in cache.nodes


def test_non_zero_requests():
    """Containers without requests count 100m and 200Mi towards the scoring sums only."""
    cache = Cache()
    cache.add_node(node("a"))
    cache.add_pod(pod("p", node_name="a"))
    info = cache.nodes["a"]
    assert info.requested == {} and info.non_zero_requested == {"cpu": 100, "memory": 200 * 1024 * 1024}


def test_count_matching_follows_the_nodes_pods():
    """A node's count of the pods a selector matches in a namespace (PodTopologySpread's, kept between cycles)
    follows every change to its pods: added, assumed, updated to deleting, removed; and a clone's changes
    (preemption's what-if) leave the node's own count alone."""
    from kapiserver.machinery.selectors import label_selector_from_dict
    web = label_selector_from_dict({"matchLabels": {"app": "web"}})
    everything = label_selector_from_dict({})
    nothing = label_selector_from_dict(None)
    cache = Cache()
    cache.add_node(node("a"))
    info = cache.nodes["a"]
    assert info.count_matching("ns", web) == 0
    p = pod("p", namespace="ns", node_name="a", labels={"app": "web"})
    cache.add_pod(p)
    cache.add_pod(pod("other-ns", namespace="elsewhere", node_name="a", labels={"app": "web"}))
    cache.add_pod(pod("db", namespace="ns", node_name="a", labels={"app": "db"}))
    assert info.count_matching("ns", web) == 1
    assert info.count_matching("ns", everything) == 2 and info.count_matching("ns", nothing) == 0
    assumed = cache.assume_pod(pod("q", namespace="ns", labels={"app": "web"}), "a")
    assert info.count_matching("ns", web) == 2
    twin = info.clone()
    twin.remove_pod(assumed["metadata"]["uid"])
    assert twin.count_matching("ns", web) == 1 and info.count_matching("ns", web) == 2
    cache.forget_pod(assumed)
    assert info.count_matching("ns", web) == 1
    deleting = {**p, "metadata": {**p["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    cache.update_pod(deleting)
    assert info.count_matching("ns", web) == 0
    cache.remove_pod(deleting)
    assert info.count_matching("ns", web) == 0 and info.count_matching("ns", everything) == 1

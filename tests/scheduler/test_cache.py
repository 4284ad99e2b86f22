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

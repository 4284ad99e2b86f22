"""ttl-controller: node.alpha.kubernetes.io/ttl on every node, by cluster size in upstream's steps."""

from __future__ import annotations

from kapiserver.client.resources import NODES
from kapiserver.controllermanager.ttl import TTL_ANNOTATION, ClusterSize
from tests.controllermanager.conftest import eventually, run


def test_cluster_size_steps_up_past_a_maximum_and_down_below_a_minimum():
    """0 s up to 100 nodes; 15 s from 101; back to 0 only below 90; 30 s past 500, 60 s past 1000, 300 s past
    2000."""
    size = ClusterSize()
    seen = {}
    for n in range(1, 2002):
        size.added()
        seen[n] = size.ttl_seconds
    assert (seen[100], seen[101], seen[500], seen[501], seen[1000], seen[1001], seen[2000], seen[2001]) == \
        (0, 15, 15, 30, 30, 60, 60, 300)
    down = ClusterSize()
    for _ in range(101):
        down.added()
    for _ in range(11):
        down.deleted()
    assert (down.nodes, down.ttl_seconds) == (90, 15)
    down.deleted()
    assert (down.nodes, down.ttl_seconds) == (89, 0)


def test_every_node_is_annotated_and_put_right(client, controllers, simulated_nodes):
    """A small cluster's nodes get ttl 0; a changed annotation is put back."""
    simulated_nodes("ttl-a", "ttl-b")
    controllers("ttl-controller")
    for name in ("ttl-a", "ttl-b"):
        eventually(lambda: run(client.get(NODES, name))["metadata"]["annotations"].get(TTL_ANNOTATION) == "0")
    run(client.patch(NODES, "ttl-a", {"metadata": {"annotations": {TTL_ANNOTATION: "99"}}}))
    eventually(lambda: run(client.get(NODES, "ttl-a"))["metadata"]["annotations"].get(TTL_ANNOTATION) == "0")

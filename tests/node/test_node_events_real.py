"""The kubelet's Node events end to end: a kapiserver process and a kube-node process; what `kubectl describe
node` lists (events in default about the Node) after the agent starts, and after a cordon and an uncordon."""

from __future__ import annotations

import time

import pytest

from tests.e2e.test_streams import apiserver_and_node

PRESSURES = ["NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    yield from apiserver_and_node(tmp_path_factory, "nodeevents", name="events-node")


def _kubelet_events(server, node, want, timeout=30.0):
    """The kubelet's events about the Node, in the order written, once `want` is among their reasons."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = server.request("GET", "/api/v1/namespaces/default/events?fieldSelector="
                                             f"involvedObject.kind=Node,involvedObject.name={node.name}")
        assert status == 200, body
        events = sorted((e for e in body["items"] if e["source"].get("component") == "kubelet"),
                        key=lambda e: e["metadata"]["name"])
        if want in [e["reason"] for e in events] or time.monotonic() > deadline:
            return events
        time.sleep(0.2)


def test_start_cordon_and_uncordon_are_recorded_on_the_node(cluster):
    server, node = cluster
    events = _kubelet_events(server, node, "NodeReady")
    assert [e["reason"] for e in events] == ["Starting"] + PRESSURES + ["NodeReady"]
    assert events[0]["message"] == "Starting kubelet."
    for event in events:
        assert event["type"] == "Normal" and event["source"] == {"component": "kubelet", "host": node.name}
        assert event["involvedObject"] == {"kind": "Node", "name": node.name, "uid": node.name}
        if event["reason"] != "Starting":
            assert event["message"] == f"Node {node.name} status is now: {event['reason']}"

    def cordon(value):
        status, body = server.request("PATCH", f"/api/v1/nodes/{node.name}", {"spec": {"unschedulable": value}},
                                      headers={"Content-Type": "application/merge-patch+json"})
        assert status == 200, body
    cordon(True)        # seen at the agent's next status pass (every 10 s, as upstream's)
    assert [e["reason"] for e in _kubelet_events(server, node, "NodeNotSchedulable")][5:] == ["NodeNotSchedulable"]
    cordon(None)
    assert [e["reason"] for e in _kubelet_events(server, node, "NodeSchedulable")][5:] == \
        ["NodeNotSchedulable", "NodeSchedulable"]

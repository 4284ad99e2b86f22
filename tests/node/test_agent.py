"""The node agent's Node object and the pod status it reports."""

from kapiserver.node.agent import node_object
from kapiserver.node.runner import expand


def test_node_object_is_complete():
    """Every field the Python client requires of NodeStatus is present and Ready is True."""
    node = node_object("n1", "127.0.0.1", 10250, 1_700_000_000)
    status = node["status"]
    for key in ("machineID", "systemUUID", "bootID", "kernelVersion", "osImage", "containerRuntimeVersion",
                "kubeletVersion", "kubeProxyVersion", "operatingSystem", "architecture"):
        assert isinstance(status["nodeInfo"][key], str)
    assert status["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10250
    assert {"cpu", "memory", "pods"} <= set(status["allocatable"])
    for condition in status["conditions"]:
        assert condition["lastHeartbeatTime"] and condition["lastTransitionTime"] and condition["reason"]
    assert [c["status"] for c in status["conditions"] if c["type"] == "Ready"] == ["True"]


def test_variable_references_expand_as_the_kubelet_does():
    """$(VAR) expands from the container's env, $$ escapes, unknown references stay as written."""
    assert expand("$(A)-$(B)-$$(A)", {"A": "x"}) == "x-$(B)-$(A)"

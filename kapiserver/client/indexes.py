"""Index functions more than one controller asks of the same shared informer.  A shared informer takes each
index name once, with one function: controllers that want these use these, so that they share them."""

from __future__ import annotations

from typing import List

POD_NODE_NAME = "spec.nodeName"


def pod_node_name(pod: dict) -> List[str]:
    """A pod's node, for the pods of one node."""
    name = (pod.get("spec") or {}).get("nodeName")
    return [name] if name else []

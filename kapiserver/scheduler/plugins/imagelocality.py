"""ImageLocality: a node that already holds the pod's images (status.images) scores higher, in proportion to
their size and to how many nodes hold them (an image on one node of many counts for little, so that the pods
of one image do not all crowd the node that pulled it first)."""

from __future__ import annotations

from typing import Mapping

from ..framework import MAX_NODE_SCORE

_MB = 1024 * 1024
# Below this sum a node scores 0; at this much per container (init containers included) it scores 100.
MIN_THRESHOLD = 23 * _MB
MAX_CONTAINER_THRESHOLD = 1000 * _MB


def normalized_image_name(name: str) -> str:
    """The name as a node reports it when the pod names no tag: ":latest" added (nothing else, so
    "nginx" does not match a node's "docker.io/library/nginx:latest", as upstream)."""
    if name.rfind(":") <= name.rfind("/"):
        return name + ":latest"
    return name


def image_states(node_infos) -> dict[str, tuple[int, int]]:
    """Each image name any node reports: (its size, as the first node listing it says, and how many nodes
    list it)."""
    states: dict[str, tuple[int, int]] = {}
    for node_info in node_infos:
        seen = set()
        for image in ((node_info.node or {}).get("status") or {}).get("images") or []:
            for name in image.get("names") or []:
                if name in seen:
                    continue
                seen.add(name)
                size, count = states.get(name, (image.get("sizeBytes") or 0, 0))
                states[name] = (size, count + 1)
    return states


class ImageLocality:
    name = "ImageLocality"
    events: frozenset = frozenset()    # it only scores: no pod waits on it

    def __init__(self):
        # The image states of the last cycle's nodes, kept while the same Node objects are there (a node's
        # update brings a new object): every cycle would otherwise read every node's image list.
        self._nodes: list = []
        self._states: dict[str, tuple[int, int]] = {}

    def pre_score(self, state, pod: Mapping, snapshot, nodes):
        current = [n.node for n in snapshot.node_infos]
        if len(current) != len(self._nodes) or any(a is not b for a, b in zip(current, self._nodes)):
            self._nodes, self._states = current, image_states(snapshot.node_infos)
        state[self.name] = (self._states, len(snapshot))
        return None

    def score(self, state, pod: Mapping, node_info) -> int:
        states, total_nodes = state[self.name]
        spec = pod.get("spec") or {}
        containers = list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
        here = {name for image in ((node_info.node or {}).get("status") or {}).get("images") or []
                for name in image.get("names") or []}
        total = 0
        for container in containers:
            name = normalized_image_name(container.get("image") or "")
            if name in here and name in states:
                size, count = states[name]
                total += int(size * (count / total_nodes))
        high = MAX_CONTAINER_THRESHOLD * len(containers)
        total = min(max(total, MIN_THRESHOLD), high)
        if high <= MIN_THRESHOLD:
            return 0
        return MAX_NODE_SCORE * (total - MIN_THRESHOLD) // (high - MIN_THRESHOLD)

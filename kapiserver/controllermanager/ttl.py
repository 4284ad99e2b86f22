"""ttl-controller: every Node carries the annotation node.alpha.kubernetes.io/ttl, the seconds a kubelet may
cache the objects it reads (Secrets, ConfigMaps), by the size of the cluster in upstream's steps with their
overlapping edges (so a cluster at the edge does not flap)."""

from __future__ import annotations

from dataclasses import dataclass

from ..client.cache import split_key
from ..client.resources import NODES
from ..client.rest import APIError
from .context import ControllerContext, QueueController

TTL_ANNOTATION = "node.alpha.kubernetes.io/ttl"


@dataclass(frozen=True)
class Boundary:
    size_min: int
    size_max: int
    ttl_seconds: int


BOUNDARIES = (Boundary(0, 100, 0), Boundary(90, 500, 15), Boundary(450, 1000, 30), Boundary(900, 2000, 60),
              Boundary(1800, 2 ** 31 - 1, 300))


class ClusterSize:
    """The node count and the step of BOUNDARIES it stands at: up a step past its size_max, down one below its
    size_min (upstream's hysteresis)."""

    def __init__(self):
        self.nodes = 0
        self.step = 0

    @property
    def ttl_seconds(self) -> int:
        return BOUNDARIES[self.step].ttl_seconds

    def added(self) -> None:
        self.nodes += 1
        if self.nodes > BOUNDARIES[self.step].size_max and self.step < len(BOUNDARIES) - 1:
            self.step += 1

    def deleted(self) -> None:
        self.nodes -= 1
        if self.nodes < BOUNDARIES[self.step].size_min and self.step > 0:
            self.step -= 1


class TTLController(QueueController):
    name = "ttl-controller"
    default_workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.size = ClusterSize()
        self.nodes = self.informer(NODES)
        self.nodes.add_event_handler(on_add=self._added, on_update=lambda old, new: self.enqueue(new),
                                     on_delete=self._deleted)

    def _added(self, node: dict) -> None:
        self._resized(self.size.added)
        self.enqueue(node)

    def _deleted(self, _node: dict) -> None:
        self._resized(self.size.deleted)

    def _resized(self, change) -> None:
        step = self.size.step
        change()
        if self.size.step != step:
            # The cluster crossed a boundary: every node's annotation changes.
            for node in self.nodes.indexer.list():
                self.enqueue(node)

    async def sync(self, key: str) -> None:
        _, name = split_key(key)
        node = self.nodes.indexer.get(name)
        if node is None:
            return
        desired = str(self.size.ttl_seconds)
        if (node["metadata"].get("annotations") or {}).get(TTL_ANNOTATION) == desired:
            return
        try:
            await self.client.patch(NODES, name, {"metadata": {"annotations": {TTL_ANNOTATION: desired}}},
                                    patch_type="strategic")
        except APIError as e:
            if e.code != 404:
                raise


def start_ttl_controller(ctx: ControllerContext) -> TTLController:
    return TTLController(ctx)

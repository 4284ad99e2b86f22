"""replicationcontroller-controller: ReplicationControllers run by replicaset-controller's engine, as upstream
converts them to ReplicaSets on the way in and out: an RC's map selector reads as a LabelSelector's
matchLabels; everything else (claiming, slow-start creation, deletion order, expectations, status and the
ReplicaFailure condition) is the same code. Its events come from ``replication-controller``."""

from __future__ import annotations

from typing import Optional

from ..client.resources import REPLICATION_CONTROLLERS
from .context import ControllerContext
from .replicaset import ReplicaSetController, WorkloadKind


def rc_selector(rc: dict) -> Optional[dict]:
    """The RC's ``spec.selector`` (a map) as a metav1.LabelSelector (Convert_v1_ReplicationControllerSpec)."""
    selector = (rc.get("spec") or {}).get("selector")
    return None if selector is None else {"matchLabels": dict(selector)}


REPLICATION_CONTROLLER_KIND = WorkloadKind(REPLICATION_CONTROLLERS, "replication-controller", rc_selector)


class ReplicationManager(ReplicaSetController):
    name = "replicationcontroller-controller"
    workers_option = "concurrent-rc-syncs"
    workload = REPLICATION_CONTROLLER_KIND


def start_replication_controller(ctx: ControllerContext) -> ReplicationManager:
    return ReplicationManager(ctx)

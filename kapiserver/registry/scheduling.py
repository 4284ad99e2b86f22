"""Strategies of scheduling.k8s.io resources."""

from __future__ import annotations

from typing import Optional

from .strategy import Strategy
from .validation.groups import SYSTEM_PRIORITY_CLASSES


class PriorityClassStrategy(Strategy):
    """A PriorityClass starts at generation 1 and keeps it through updates, as upstream's; the system
    priority classes cannot be deleted one by one (a deletecollection goes through, as upstream's does)."""

    def prepare_for_create(self, obj: dict) -> None:
        super().prepare_for_create(obj)
        obj["metadata"]["generation"] = 1

    def refuse_delete(self, name: str) -> Optional[str]:
        if any(name == known for known, _, _ in SYSTEM_PRIORITY_CLASSES):
            return "this is a system priority class and cannot be deleted"
        return None

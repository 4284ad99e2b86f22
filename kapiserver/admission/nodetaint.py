"""
TaintNodesByCondition admission (on by default, as upstream): a new Node starts tainted
node.kubernetes.io/not-ready:NoSchedule, so nothing is scheduled onto it before it reports Ready (upstream's
node lifecycle controller removes the taint then; kapiserver has no controller manager yet, so the taint
stays until a client removes it).
"""

from __future__ import annotations

from ..registry.attributes import CREATE, Attributes
from .refusal import is_resource

NOT_READY = "node.kubernetes.io/not-ready"
NO_SCHEDULE = "NoSchedule"


class TaintNodesByCondition:
    async def admit(self, attributes: Attributes) -> None:
        if attributes.operation != CREATE or not is_resource(attributes, "", "nodes"):
            return
        spec = attributes.object.setdefault("spec", {})
        taints = spec.get("taints") or []
        # A taint matches another by key and effect (Taint.MatchTaint), whatever its value.
        if any(t.get("key") == NOT_READY and t.get("effect") == NO_SCHEDULE for t in taints if isinstance(t, dict)):
            return
        spec["taints"] = list(taints) + [{"key": NOT_READY, "effect": NO_SCHEDULE}]

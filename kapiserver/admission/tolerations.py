"""
DefaultTolerationSeconds admission (on by default, as upstream): a new pod that does not tolerate the
not-ready and unreachable NoExecute taints tolerates each for --default-not-ready-toleration-seconds and
--default-unreachable-toleration-seconds (300 s).  Also upstream's merge of toleration lists, which
RuntimeClass uses.
"""

from __future__ import annotations

from ..registry.attributes import CREATE, Attributes
from .refusal import is_resource

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
NO_EXECUTE = "NoExecute"
DEFAULT_SECONDS = 300


def _tolerates(tolerations: list, key: str) -> bool:
    """Whether some toleration covers ``key``'s NoExecute taint (an empty key or effect covers all)."""
    return any(isinstance(t, dict) and t.get("key", "") in (key, "") and t.get("effect", "") in (NO_EXECUTE, "")
               for t in tolerations)


class DefaultTolerationSeconds:
    # The only (group, resource) pairs its admit and validate act on: the chain calls it for no other.
    admission_resources = frozenset({("", "pods")})

    def __init__(self, not_ready_seconds: int = DEFAULT_SECONDS, unreachable_seconds: int = DEFAULT_SECONDS):
        self.seconds = {NOT_READY: not_ready_seconds, UNREACHABLE: unreachable_seconds}

    async def admit(self, attributes: Attributes) -> None:
        if attributes.operation != CREATE or not is_resource(attributes, "", "pods"):
            return
        spec = attributes.object.setdefault("spec", {})
        tolerations = list(spec.get("tolerations") or [])
        added = [{"key": key, "operator": "Exists", "effect": NO_EXECUTE, "tolerationSeconds": seconds}
                 for key, seconds in self.seconds.items() if not _tolerates(tolerations, key)]
        if added:
            spec["tolerations"] = tolerations + added


def _superset(wide: dict, narrow: dict) -> bool:
    """Whether toleration ``wide`` tolerates everything ``narrow`` does."""
    if wide == narrow:
        return True
    if narrow.get("key", "") != wide.get("key", "") and \
            (wide.get("key", "") != "" or wide.get("operator", "") != "Exists"):
        return False
    if narrow.get("effect", "") != wide.get("effect", "") and wide.get("effect", ""):
        return False
    if wide.get("effect") == NO_EXECUTE and wide.get("tolerationSeconds") is not None:
        if narrow.get("tolerationSeconds") is None or narrow["tolerationSeconds"] > wide["tolerationSeconds"]:
            return False
    operator = wide.get("operator", "")
    if operator in ("Equal", ""):
        return narrow.get("operator", "") == "Equal" and narrow.get("value", "") == wide.get("value", "")
    return operator == "Exists"


def merge_tolerations(first: list, second: list) -> list:
    """Both lists in one, leaving out each toleration another one (kept) already covers; of equal ones the
    first stays."""
    every = [t for t in list(first or []) + list(second or []) if isinstance(t, dict)]
    merged: list = []
    for index, toleration in enumerate(every):
        if any(_superset(kept, toleration) for kept in merged):
            continue
        if any(other != toleration and _superset(other, toleration) for other in every[index + 1:]):
            continue
        merged.append(toleration)
    return merged

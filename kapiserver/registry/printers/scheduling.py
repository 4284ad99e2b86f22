"""
The PriorityClass printer: NAME VALUE GLOBAL-DEFAULT AGE PREEMPTIONPOLICY.
"""

from __future__ import annotations

from datetime import datetime

from . import _base as b


def _cells(pc: dict, now: datetime) -> list:
    value = pc.get("value")
    return [b.name(pc), value if isinstance(value, int) else 0, bool(pc.get("globalDefault") or False),
            b.age(pc, now), pc.get("preemptionPolicy") or ""]


_PC = "scheduling.v1.PriorityClass"
PRINTERS = {
    ("scheduling.k8s.io", "priorityclasses"): b.Printer(
        lambda: [
            b.name_column(),
            b.column("Value", "integer", b.doc(_PC, "value")),
            b.column("Global-Default", "boolean", b.doc(_PC, "globalDefault")),
            b.age_column(),
            b.column("PreemptionPolicy", "string", b.doc(_PC, "preemptionPolicy")),
        ],
        _cells),
}

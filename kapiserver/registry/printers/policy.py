"""
The PodDisruptionBudget printer: NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE.
"""

from __future__ import annotations

from datetime import datetime

from . import _base as b


def _cells(pdb: dict, now: datetime) -> list:
    spec = pdb.get("spec") or {}
    min_available = spec.get("minAvailable")
    max_unavailable = spec.get("maxUnavailable")
    return [b.name(pdb), "N/A" if min_available is None else str(min_available),
            "N/A" if max_unavailable is None else str(max_unavailable),
            b.int_cell(b.get(pdb, "status.disruptionsAllowed")), b.age(pdb, now)]


PRINTERS = {
    ("policy", "poddisruptionbudgets"): b.Printer(
        lambda: [
            b.name_column(),
            b.column("Min Available", "string", "The minimum number of pods that must be available."),
            b.column("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
            b.column("Allowed Disruptions", "integer",
                     "Calculated number of pods that may be disrupted at this time."),
            b.age_column(),
        ],
        _cells),
}

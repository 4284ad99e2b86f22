"""
The Lease printer: NAME HOLDER AGE.
"""

from __future__ import annotations

from . import _base as b

PRINTERS = {
    ("coordination.k8s.io", "leases"): b.Printer(
        lambda: [b.name_column(),
                 b.column("Holder", "string", b.doc("coordination.v1.LeaseSpec", "holderIdentity")),
                 b.age_column()],
        lambda lease, now: [b.name(lease), b.get(lease, "spec.holderIdentity", ""), b.age(lease, now)]),
}

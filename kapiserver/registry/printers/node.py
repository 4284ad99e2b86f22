"""
The RuntimeClass printer: NAME HANDLER AGE.
"""

from __future__ import annotations

from . import _base as b

_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

PRINTERS = {
    ("node.k8s.io", "runtimeclasses"): b.Printer(
        lambda: [
            b.name_column(),
            # upstream looks the description up in ObjectMeta's docs, which have no "handler": empty
            b.column("Handler", "string", b.doc(_META, "handler")),
            b.age_column(),
        ],
        lambda rc, now: [b.name(rc), rc.get("handler") or "", b.age(rc, now)]),
}

"""The default StorageClass, as upstream's GetDefaultClass picks it (the DefaultStorageClass admission plugin and
the persistent volume binder both ask)."""

from __future__ import annotations

from typing import Iterable, Optional

DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_CLASS = "storageclass.beta.kubernetes.io/is-default-class"


def default_class(classes: Iterable[dict]) -> Optional[dict]:
    """Of the classes annotated default (GA or beta annotation), the newest; of those created together, the first
    by name; None without one."""
    defaults = [c for c in classes if (c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true" or
                (c["metadata"].get("annotations") or {}).get(BETA_DEFAULT_CLASS) == "true"]
    if not defaults:
        return None
    newest = max(c["metadata"].get("creationTimestamp") or "" for c in defaults)
    return min((c for c in defaults if (c["metadata"].get("creationTimestamp") or "") == newest),
               key=lambda c: c["metadata"]["name"])

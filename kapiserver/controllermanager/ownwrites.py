"""Reading through a controller's own writes: an informer's copy may be older than what the controller has just
written, and acting on it would repeat or undo the write (upstream's controllers update their caches with what
they wrote, as the persistentvolume controller's storeVolumeUpdate does)."""

from __future__ import annotations

from typing import Optional


def newest(cached: Optional[dict], written: Optional[dict]) -> Optional[dict]:
    """The later of an informer's copy and the copy this controller last wrote (by resourceVersion); None once the
    informer has seen the object go."""
    if cached is None or written is None:
        return cached
    if int(written["metadata"]["resourceVersion"]) > int(cached["metadata"]["resourceVersion"]):
        return written
    return cached

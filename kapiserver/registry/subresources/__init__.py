"""
The subresources' REST objects, as upstream keeps them in pkg/registry (StatusREST,
ScaleREST, BindingREST, EvictionREST, the approval and finalize REST, the connect
options): each takes what the endpoints decoded from the request, works through the
resource's Store, and returns the object to answer with.  The endpoints decode,
dispatch and write; the rules live here.
"""

from __future__ import annotations

from typing import Optional

from .scale import ScaleREST
from .status import EphemeralContainersREST, StatusREST

def rest_for(store, subresource: str) -> Optional[object]:
    """The REST object serving ``subresource`` of ``store``'s resource with get/update (and patch),
    or None for those that are created (binding, eviction, token) or connected to (the streams)."""
    if subresource in ("status", "approval"):
        # What a write may change is the strategy's rule (prepare_for_status_update, prepare_for_approval).
        return StatusREST(store, subresource)
    if subresource == "ephemeralcontainers":
        return EphemeralContainersREST(store, subresource)
    if subresource == "scale":
        return ScaleREST(store)
    return None

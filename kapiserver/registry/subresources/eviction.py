"""pods/eviction (upstream's EvictionREST): an Eviction deletes its pod, with the grace period it names."""

from __future__ import annotations

from ...machinery import errors
from ..options import DeleteOptions


async def evict(pods, namespace: str, name: str, eviction) -> None:
    """Delete pod ``name`` as ``eviction`` (the request's Eviction) asks."""
    if not isinstance(eviction, dict):
        raise errors.bad_request("the body of the request was not an Eviction")
    if (eviction.get("metadata") or {}).get("name", name) != name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    options = DeleteOptions()
    delete_options = eviction.get("deleteOptions") or {}
    if delete_options.get("gracePeriodSeconds") is not None:
        options.grace_period_seconds = int(delete_options["gracePeriodSeconds"])
    await pods.delete(namespace, name, options)

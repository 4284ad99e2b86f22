"""
Subresources that carry the whole object in and out but write one part of it:
status (upstream's StatusREST), approval (CertificateSigningRequests),
ephemeralcontainers (pods), and finalize (namespaces).  What each part may change
is the strategy's rule, applied by the Store's update for the subresource.
"""

from __future__ import annotations

from typing import Callable

from ...machinery import errors
from ...machinery.jsoncopy import json_copy

Change = Callable[[dict], dict]


class StatusREST:
    """get and update of ``<resource>/status`` (or CertificateSigningRequests' ``approval``): the object
    whole, what the strategy lets that subresource change written."""

    # Answered as the resource itself (the same kind, rendered as the Store renders it).
    info = None

    def __init__(self, store, subresource: str = "status"):
        self.store = store
        self.subresource = subresource

    async def get(self, namespace, name: str, resource_version: str = "") -> dict:
        return await self.store.get(namespace, name, resource_version)

    async def update(self, namespace, name: str, change: Change, options) -> dict:
        """Apply ``change`` (the stored object -> the new one) to the object's status."""
        store = self.store

        def update(old):
            if old is None:
                raise errors.not_found(store.qualified, name)
            return change(old)
        result, _ = await store.update(namespace, name, update, options, subresource=self.subresource,
                                       allow_create=False)
        return result


class EphemeralContainersREST(StatusREST):
    """ephemeralcontainers: of the changed pod only its ephemeral containers are taken over, the rest
    of the old pod (its metadata too) kept, as upstream's ephemeral containers strategy does."""

    def __init__(self, store, subresource: str = "ephemeralcontainers"):
        super().__init__(store, subresource)

    async def update(self, namespace, name: str, change: Change, options) -> dict:
        def only(old):
            new = change(old)
            if hasattr(new, "__await__"):
                raise TypeError("update functions are synchronous here")
            merged = json_copy(old)
            merged.setdefault("spec", {})["ephemeralContainers"] = (new.get("spec") or {}).get("ephemeralContainers")
            merged["metadata"]["resourceVersion"] = new.get("metadata", {}).get("resourceVersion",
                                                                                old["metadata"]["resourceVersion"])
            return merged
        return await super().update(namespace, name, only, options)


async def finalize(store, namespace, name: str, body: dict, options) -> dict:
    """namespaces/finalize: the namespace's spec.finalizers from ``body`` (upstream's FinalizeREST)."""

    def update(old):
        if old is None:
            raise errors.not_found(store.qualified, name)
        new = json_copy(body)
        new.setdefault("metadata", {}).setdefault("resourceVersion", old["metadata"]["resourceVersion"])
        return new
    result, _ = await store.update(namespace, name, update, options, subresource="finalize", allow_create=False)
    return result

"""
NamespaceLifecycle admission: nothing is created in a namespace that does not
exist or is being terminated, and the immortal namespaces cannot be deleted.
"""

from __future__ import annotations

from ..machinery import errors
from ..machinery.errors import GroupResource, StatusError
from ..registry.attributes import CREATE, DELETE, Attributes

IMMORTAL_NAMESPACES = frozenset(("default", "kube-system", "kube-public"))
_NAMESPACES = GroupResource("", "namespaces")
# Review-like resources never persist anything, so the namespace check does not apply.
_EXEMPT = frozenset((("authorization.k8s.io", "localsubjectaccessreviews"),))


# How long after a namespace's DELETE was admitted here a create in it reads the namespace live when the
# cache still has it Active, and how many such namespaces are remembered (upstream's forceLiveLookupTTL and
# forceLiveLookupCache).
FORCE_LIVE_LOOKUP_TTL = 30.0
FORCE_LIVE_LOOKUP_SIZE = 100


class NamespaceLifecycle:
    def __init__(self, get_namespace, cached_namespace=None, clock=None):
        """``get_namespace(name)`` -> Deferred/awaitable of the Namespace dict (a consistent read); raises 404.
        ``cached_namespace(name)``, if given: the namespace as the watch cache holds it now (upstream's
        informer lister), None when it holds none, anything else when it cannot tell; ``clock()`` -> seconds.
        As upstream, a create reads the cached namespace and reads it live only when the cache has none, or
        has it Active within FORCE_LIVE_LOOKUP_TTL of its DELETE being admitted here."""
        self.get_namespace = get_namespace
        self.cached_namespace = cached_namespace
        self.clock = clock
        # name -> when its forced live lookups end, oldest first.
        self._force_live: dict[str, float] = {}

    def _deleting(self, name: str) -> None:
        if self.clock is None:
            return
        self._force_live.pop(name, None)
        self._force_live[name] = self.clock() + FORCE_LIVE_LOOKUP_TTL
        while len(self._force_live) > FORCE_LIVE_LOOKUP_SIZE:
            del self._force_live[next(iter(self._force_live))]

    def _live_lookup_forced(self, name: str, namespace: dict) -> bool:
        until = self._force_live.get(name)
        if until is None:
            return False
        if self.clock() >= until:
            del self._force_live[name]
            return False
        return (namespace.get("status") or {}).get("phase") == "Active"

    async def _namespace(self, name: str) -> dict:
        namespace = self.cached_namespace(name) if self.cached_namespace is not None else None
        if isinstance(namespace, dict) and not self._live_lookup_forced(name, namespace):
            return namespace
        return await self.get_namespace(name)

    async def admit(self, attributes: Attributes) -> None:
        resource = attributes.resource
        if (resource.group, resource.resource) == ("", "namespaces") and attributes.operation == DELETE:
            name = attributes.name
            if name in IMMORTAL_NAMESPACES:
                raise errors.forbidden_request(_NAMESPACES, name,
                                               f'namespaces "{name}" is forbidden: this namespace may not be deleted')
            self._deleting(name)
            return
        if attributes.operation != CREATE or not attributes.namespace or \
                (resource.group, resource.resource) in _EXEMPT:
            return
        namespace_name = attributes.namespace
        obj = attributes.object
        try:
            namespace = await self._namespace(namespace_name)
        except StatusError as e:
            if e.code == 404:
                raise errors.not_found(_NAMESPACES, namespace_name) from None
            raise
        if (namespace.get("status") or {}).get("phase") == "Terminating" or \
                namespace["metadata"].get("deletionTimestamp"):
            message = (f"unable to create new content in namespace {namespace_name} because it is being "
                       f"terminated")
            qualified = attributes.group_resource
            raise StatusError(403, "Forbidden",
                              f'{qualified} "{obj["metadata"].get("name", "")}" is forbidden: {message}',
                              {"name": obj["metadata"].get("name", ""),
                               **({"group": qualified.group} if qualified.group else {}),
                               "kind": qualified.resource,
                               "causes": [{"reason": "NamespaceTerminating",
                                           "message": f"namespace {namespace_name} is being terminated",
                                           "field": "metadata.namespace"}]})

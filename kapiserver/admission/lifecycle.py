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


class NamespaceLifecycle:
    def __init__(self, get_namespace):
        """``get_namespace(name)`` -> Deferred/awaitable of the Namespace dict; raises 404."""
        self.get_namespace = get_namespace

    async def admit(self, attributes: Attributes) -> None:
        resource = attributes.resource
        if (resource.group, resource.resource) == ("", "namespaces") and attributes.operation == DELETE:
            name = attributes.name
            if name in IMMORTAL_NAMESPACES:
                raise errors.forbidden_request(_NAMESPACES, name,
                                               f'namespaces "{name}" is forbidden: this namespace may not be deleted')
            return
        if attributes.operation != CREATE or not attributes.namespace or \
                (resource.group, resource.resource) in _EXEMPT:
            return
        namespace_name = attributes.namespace
        obj = attributes.object
        try:
            namespace = await self.get_namespace(namespace_name)
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
                               "causes": [{"reason": "NamespaceTerminating", "message": message,
                                           "field": "metadata.namespace"}]})

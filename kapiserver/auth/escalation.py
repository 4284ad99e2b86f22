"""
RBAC escalation prevention: a Role or ClusterRole may only be written by a
user who holds every permission in it (or may "escalate"), and a binding only
by one who holds the bound role's permissions (or may "bind" it).
"""

from __future__ import annotations

from ..machinery.errors import StatusError
from ..registry import attributes as admission
from .authz import Attributes
from .rbac import GROUP, format_rule, missing_rules
from .user import SYSTEM_MASTERS

_ROLES = {"roles": "Role", "clusterroles": "ClusterRole"}
_BINDINGS = {"rolebindings": "Role", "clusterrolebindings": "ClusterRole"}


class EscalationCheck:
    def __init__(self, authorizer, rbac):
        self.authorizer = authorizer
        self.rbac = rbac

    async def validate(self, attributes: admission.Attributes) -> None:
        """Run where admission does, on the writes of roles and bindings."""
        info = attributes.resource
        if info.group != GROUP or attributes.operation not in (admission.CREATE, admission.UPDATE):
            return
        if info.resource not in _ROLES and info.resource not in _BINDINGS:
            return
        user = attributes.user_info
        if SYSTEM_MASTERS in user.groups:
            return
        obj = attributes.object
        namespace, name = attributes.namespace, attributes.name
        snapshot = await self.rbac.snapshot()
        if info.resource in _ROLES:
            if await self._allowed(user, "escalate", namespace, info.resource, name):
                return
            requested = list(obj.get("rules") or [])
            if obj.get("aggregationRule"):
                return  # the aggregated rules are checked where each source role is written
        else:
            ref = obj.get("roleRef") or {}
            role_resource = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
            if await self._allowed(user, "bind", namespace, role_resource, ref.get("name", "")):
                return
            requested = snapshot.role_ref_rules(ref, namespace)
        missing = missing_rules(snapshot.rules_for(user, namespace), requested)
        if not missing:
            return
        # Go's %q of a []string: quoted items separated by spaces.
        groups = " ".join(f'"{g}"' for g in user.groups)
        lines = "\n".join(format_rule(rule) for rule in missing)
        qualified = f"{info.resource}.{GROUP}"
        raise StatusError(403, "Forbidden",
                          f'{qualified} "{name}" is forbidden: user "{user.name}" (groups=[{groups}]) is '
                          f"attempting to grant RBAC permissions not currently held:\n{lines}",
                          {"name": name, "group": GROUP, "kind": info.resource})

    async def _allowed(self, user, verb, namespace, resource, name) -> bool:
        decision = await self.authorizer.authorize(Attributes(user, verb, True, namespace, GROUP, "v1", resource,
                                                              "", name))
        return decision.allowed

"""
RBAC escalation prevention, as upstream's policybased storages: a Role or ClusterRole may only be written by
a user who holds every permission in it (or may "escalate"), a ClusterRole with an aggregationRule only by one
who holds everything; a binding only by one who may "bind" its role or holds the role's permissions.
"""

from __future__ import annotations

from ..machinery import gojson
from ..machinery.errors import GroupResource, StatusError, not_found
from ..registry import attributes as admission
from .authz import Attributes, aggregate
from .rbac import GROUP, describe_missing, missing_rules
from .user import SYSTEM_MASTERS

_ROLES = {"roles": "Role", "clusterroles": "ClusterRole"}
_BINDINGS = {"rolebindings": "Role", "clusterrolebindings": "ClusterRole"}
# What setting or changing an aggregationRule needs: everything (upstream's fullAuthority).
FULL_AUTHORITY = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                  {"verbs": ["*"], "nonResourceURLs": ["*"]}]


def _has_aggregation(role) -> bool:
    return bool(((role or {}).get("aggregationRule") or {}).get("clusterRoleSelectors"))


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
            # The request's name, as upstream's RoleEscalationAuthorized: none on a create (a POST), so a
            # grant of escalate limited by resourceNames never covers one.
            request_name = "" if attributes.operation == admission.CREATE else name
            if await self._allowed(user, "escalate", namespace, info.resource, request_name):
                return
            self._confirm(snapshot, user, namespace, info.resource, name, list(obj.get("rules") or []))
            if info.resource == "clusterroles" and (_has_aggregation(obj) or _has_aggregation(attributes.old_object)):
                # An aggregationRule can gather anything: it needs full authority.
                if missing_rules(snapshot.rules_for(user, namespace), FULL_AUTHORITY):
                    raise self._forbidden(info.resource, name, "must have cluster-admin privileges to use the "
                                                               "aggregationRule")
            return
        ref = obj.get("roleRef") or {}
        role_resource = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
        if await self._allowed(user, "bind", namespace, role_resource, ref.get("name", "")):
            return
        requested, error = snapshot.role_ref(ref, namespace, plural=True)
        if error:
            if ref.get("kind") in _ROLES.values():
                # The registry's NotFound for the role is the answer, as upstream's GetRoleReferenceRules.
                raise not_found(GroupResource(GROUP, role_resource), ref.get("name", ""))
            raise StatusError(500, "InternalError", f"Internal error occurred: {error}")
        self._confirm(snapshot, user, namespace, info.resource, name, requested)

    def _confirm(self, snapshot, user, namespace, resource, name, requested) -> None:
        """Upstream's ConfirmNoEscalation: 403 naming what ``requested`` grants that the user lacks."""
        owned, errors = snapshot.rules_and_errors(user, namespace, plural=True)
        missing = missing_rules(owned, requested)
        if not missing:
            return
        # Go's %q of a []string: quoted items separated by spaces.
        groups = " ".join(gojson.go_quote(g) for g in user.groups)
        message = (f"user {gojson.go_quote(user.name)} (groups=[{groups}]) is attempting to grant RBAC "
                   f"permissions not currently held:\n{describe_missing(missing)}")
        if errors:
            message += f"; resolution errors: [{aggregate(errors)}]"
        raise self._forbidden(resource, name, message)

    @staticmethod
    def _forbidden(resource: str, name: str, message: str) -> StatusError:
        return StatusError(403, "Forbidden", f'{resource}.{GROUP} "{name}" is forbidden: {message}',
                           {"name": name, "group": GROUP, "kind": resource})

    async def _allowed(self, user, verb, namespace, resource, name) -> bool:
        decision = await self.authorizer.authorize(Attributes(user, verb, True, namespace, GROUP, "*", resource,
                                                              "", name))
        return decision.allowed

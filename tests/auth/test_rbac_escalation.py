"""RBAC escalation prevention against upstream's policybased storages (pkg/registry/rbac/*/policybased)."""

import asyncio

import pytest

from kapiserver.auth import rbac
from kapiserver.auth.authz import PrivilegedGroups, Union
from kapiserver.auth.escalation import EscalationCheck
from kapiserver.auth.user import UserInfo
from kapiserver.machinery.errors import StatusError
from kapiserver.registry import attributes as admission

GROUP = "rbac.authorization.k8s.io"
BOB = UserInfo("bob", groups=["devs", "system:authenticated"])
KINDS = {"roles": "Role", "clusterroles": "ClusterRole", "rolebindings": "RoleBinding",
         "clusterrolebindings": "ClusterRoleBinding"}


class _RBAC(rbac.RBACAuthorizer):
    def __init__(self, snapshot):
        super().__init__(None)
        self._fixed = snapshot

    async def snapshot(self):
        return self._fixed


def _check(cluster_roles=(), cluster_bindings=(), roles=(), bindings=()):
    authorizer = _RBAC(rbac._Snapshot(1, list(cluster_roles), list(cluster_bindings), list(roles), list(bindings)))
    return EscalationCheck(Union([PrivilegedGroups(), authorizer]), authorizer)


def _grant(name, rules, user="bob"):
    """A ClusterRole of ``rules`` and a ClusterRoleBinding of it to ``user``."""
    return ({"metadata": {"name": name}, "rules": rules},
            {"metadata": {"name": name}, "roleRef": {"kind": "ClusterRole", "name": name, "apiGroup": GROUP},
             "subjects": [{"kind": "User", "name": user}]})


def _write(check, resource, obj, operation=admission.CREATE, old=None, namespace=""):
    attributes = admission.Attributes(
        operation, admission.GroupVersionKind(GROUP, "v1", KINDS[resource]),
        admission.GroupVersionResource(GROUP, "v1", resource), name=obj["metadata"]["name"], namespace=namespace,
        object=obj, old_object=old, user_info=BOB)
    asyncio.run(check.validate(attributes))


def _refused(check, resource, obj, **kw) -> StatusError:
    with pytest.raises(StatusError) as e:
        _write(check, resource, obj, **kw)
    return e.value


WRITE_ROLES = {"verbs": ["create", "update"], "apiGroups": [GROUP], "resources": ["clusterroles"]}
PODS = {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}
AGGREGATED = {"metadata": {"name": "agg"}, "rules": [PODS],
              "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]}}


def test_aggregated_cluster_role_needs_full_authority():
    """An aggregationRule is refused to a user who holds its rules but not everything (create and update)."""
    role, binding = _grant("writer", [WRITE_ROLES, PODS])
    check = _check([role], [binding])
    error = _refused(check, "clusterroles", AGGREGATED)
    assert (error.code, error.reason) == (403, "Forbidden")
    assert error.message == ('clusterroles.rbac.authorization.k8s.io "agg" is forbidden: must have cluster-admin '
                             'privileges to use the aggregationRule')
    assert error.details == {"name": "agg", "group": GROUP, "kind": "clusterroles"}
    # Dropping the rule from a role that had one is as much a change of it.
    plain = {"metadata": {"name": "agg"}, "rules": [PODS]}
    assert "cluster-admin" in _refused(check, "clusterroles", plain, operation=admission.UPDATE,
                                       old=AGGREGATED).message
    _write(check, "clusterroles", plain, operation=admission.UPDATE, old=plain)


def test_aggregated_cluster_role_rules_checked_first():
    """Rules the user lacks are reported before the aggregationRule is looked at."""
    role, binding = _grant("writer", [WRITE_ROLES])
    error = _refused(_check([role], [binding]), "clusterroles", AGGREGATED)
    assert "is attempting to grant RBAC permissions not currently held" in error.message


def test_aggregated_cluster_role_allowed_with_full_authority():
    """Everything (which includes escalate) is enough; every verb but escalate on every resource is not."""
    everything = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, {"verbs": ["*"], "nonResourceURLs": ["*"]}]
    role, binding = _grant("all", everything)
    _write(_check([role], [binding]), "clusterroles", AGGREGATED)
    role, binding = _grant("all", [{"verbs": ["get", "create", "update"], "apiGroups": ["*"], "resources": ["*"]},
                                   everything[1]])
    assert "cluster-admin" in _refused(_check([role], [binding]), "clusterroles", AGGREGATED).message


BIND_RULES = {"verbs": ["create"], "apiGroups": [GROUP], "resources": ["rolebindings"]}
TO_MISSING = {"metadata": {"name": "b", "namespace": "team"}, "roleRef": {"kind": "Role", "name": "x",
                                                                          "apiGroup": GROUP},
              "subjects": [{"kind": "User", "name": "alice"}]}


def test_binding_to_missing_role_is_not_found():
    """Without bind, the referenced role's lookup answers: a 404 from the registry."""
    role, binding = _grant("writer", [BIND_RULES])
    error = _refused(_check([role], [binding]), "rolebindings", TO_MISSING, namespace="team")
    assert (error.code, error.reason) == (404, "NotFound")
    assert error.message == 'roles.rbac.authorization.k8s.io "x" not found'
    assert error.details == {"name": "x", "group": GROUP, "kind": "roles"}
    to_cluster_role = {**TO_MISSING, "roleRef": {"kind": "ClusterRole", "name": "nope", "apiGroup": GROUP}}
    error = _refused(_check([role], [binding]), "rolebindings", to_cluster_role, namespace="team")
    assert error.message == 'clusterroles.rbac.authorization.k8s.io "nope" not found'


def test_binding_to_missing_role_with_bind_is_allowed():
    """bind on the role skips the lookup altogether, as upstream."""
    role, binding = _grant("writer", [BIND_RULES, {"verbs": ["bind"], "apiGroups": [GROUP], "resources": ["roles"],
                                                   "resourceNames": ["x"]}])
    _write(_check([role], [binding]), "rolebindings", TO_MISSING, namespace="team")


def test_named_escalate_does_not_cover_a_create():
    """escalate limited to a name is checked with the request's name: none on a create, the name on an update."""
    rules = [WRITE_ROLES, {"verbs": ["escalate"], "apiGroups": [GROUP], "resources": ["clusterroles"],
                           "resourceNames": ["big"]}]
    role, binding = _grant("writer", rules)
    check = _check([role], [binding])
    big = {"metadata": {"name": "big"}, "rules": [{"verbs": ["delete"], "apiGroups": [""], "resources": ["nodes"]}]}
    assert "not currently held" in _refused(check, "clusterroles", big).message
    _write(check, "clusterroles", big, operation=admission.UPDATE, old=big)
    # Unnamed escalate covers a create too.
    role, binding = _grant("writer", [WRITE_ROLES, {"verbs": ["escalate"], "apiGroups": [GROUP],
                                                    "resources": ["clusterroles"]}])
    _write(_check([role], [binding]), "clusterroles", big)


def test_named_bind_covers_a_binding_of_that_role():
    """bind is checked against the role's name (roleRef), so a named grant does cover a create."""
    target, _ = _grant("target", [{"verbs": ["delete"], "apiGroups": [""], "resources": ["nodes"]}], user="nobody")
    role, binding = _grant("writer", [{"verbs": ["create"], "apiGroups": [GROUP], "resources": ["clusterrolebindings"]},
                                      {"verbs": ["bind"], "apiGroups": [GROUP], "resources": ["clusterroles"],
                                       "resourceNames": ["target"]}])
    new = {"metadata": {"name": "nb"}, "roleRef": {"kind": "ClusterRole", "name": "target", "apiGroup": GROUP},
           "subjects": [{"kind": "User", "name": "alice"}]}
    _write(_check([role, target], [binding]), "clusterrolebindings", new)


def test_missing_permissions_compacted_and_sorted():
    """The missing rules are merged per group/resource/name, written once each and sorted, URLs among them."""
    role, binding = _grant("writer", [WRITE_ROLES])
    wanted = {"metadata": {"name": "big"}, "rules": [
        {"verbs": ["watch", "get", "list"], "apiGroups": [""], "resources": ["secrets", "configmaps"]},
        {"verbs": ["get"], "apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["b", "a"]},
        {"verbs": ["get", "post"], "nonResourceURLs": ["/metrics", "/healthz"]}]}
    error = _refused(_check([role], [binding]), "clusterroles", wanted)
    assert error.message == (
        'clusterroles.rbac.authorization.k8s.io "big" is forbidden: user "bob" (groups=["devs" '
        '"system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'
        '{APIGroups:[""], Resources:["configmaps"], Verbs:["watch" "get" "list"]}\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["watch" "get" "list"]}\n'
        '{APIGroups:["apps"], Resources:["deployments"], ResourceNames:["a"], Verbs:["get"]}\n'
        '{APIGroups:["apps"], Resources:["deployments"], ResourceNames:["b"], Verbs:["get"]}\n'
        '{NonResourceURLs:["/healthz"], Verbs:["get"]}\n'
        '{NonResourceURLs:["/healthz"], Verbs:["post"]}\n'
        '{NonResourceURLs:["/metrics"], Verbs:["get"]}\n'
        '{NonResourceURLs:["/metrics"], Verbs:["post"]}')


def test_resolution_errors_follow_the_missing_permissions():
    """Roles the user is bound to but that do not exist are named after the list, as upstream."""
    role, binding = _grant("writer", [WRITE_ROLES])
    dangling = {"metadata": {"name": "d"}, "roleRef": {"kind": "ClusterRole", "name": "gone", "apiGroup": GROUP},
                "subjects": [{"kind": "User", "name": "bob"}]}
    big = {"metadata": {"name": "big"}, "rules": [PODS]}
    error = _refused(_check([role], [binding, dangling]), "clusterroles", big)
    assert error.message.endswith('Verbs:["get"]}; resolution errors: '
                                  '[clusterroles.rbac.authorization.k8s.io "gone" not found]')

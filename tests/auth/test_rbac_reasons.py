"""RBAC's reasons and rule resolution as upstream's authorizer (plugin/pkg/auth/authorizer/rbac) and the unions
of authorizers and rule resolvers (k8s.io/apiserver pkg/authorization/union)."""

import asyncio

from kapiserver.auth import authz, rbac, reviews
from kapiserver.auth.authz import NO_OPINION, Attributes, Decision, Union
from kapiserver.auth.node import NodeAuthorizer
from kapiserver.auth.user import UserInfo

GROUP = "rbac.authorization.k8s.io"
BOB = UserInfo("bob", groups=["devs", "system:authenticated"])
PODREADER = {"metadata": {"name": "podreader", "namespace": "y"},
             "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]}


def run(coroutine):
    return asyncio.run(coroutine)


class _RBAC(rbac.RBACAuthorizer):
    def __init__(self, cluster_roles=(), cluster_bindings=(), roles=(), bindings=()):
        super().__init__(None)
        self._fixed = rbac._Snapshot(1, list(cluster_roles), list(cluster_bindings), list(roles), list(bindings))

    async def snapshot(self):
        return self._fixed


class _Security:
    def __init__(self, authorizer):
        self.authorizer = authorizer


def _binding(name, kind, role, subjects, namespace=""):
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"metadata": meta, "roleRef": {"kind": kind, "name": role, "apiGroup": GROUP}, "subjects": subjects}


def test_allowed_by_role_binding_names_it():
    binding = _binding("bob-podreader", "Role", "podreader", [{"kind": "User", "name": "bob"}], "y")
    decision = run(_RBAC(roles=[PODREADER], bindings=[binding]).authorize(
        Attributes(BOB, "get", True, "y", "", "v1", "pods", "", "p")))
    assert decision.allowed
    assert decision.reason == 'RBAC: allowed by RoleBinding "bob-podreader/y" of Role "podreader" to User "bob"'


def test_allowed_by_cluster_role_binding_names_first_matching_subject():
    role = {"metadata": {"name": "reader"}, "rules": PODREADER["rules"]}
    binding = _binding("readers", "ClusterRole", "reader", [{"kind": "User", "name": "alice"},
                                                            {"kind": "Group", "name": "devs"},
                                                            {"kind": "User", "name": "bob"}])
    decision = run(_RBAC([role], [binding]).authorize(Attributes(BOB, "get", True, "y", "", "v1", "pods")))
    assert decision.reason == 'RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "reader" to Group "devs"'
    robot = UserInfo("system:serviceaccount:y:robot")
    sa = _binding("sa", "ClusterRole", "reader", [{"kind": "ServiceAccount", "name": "robot"}], "y")
    decision = run(_RBAC([role], [], [], [sa]).authorize(Attributes(robot, "get", True, "y", "", "v1", "pods")))
    assert decision.reason == 'RBAC: allowed by RoleBinding "sa/y" of ClusterRole "reader" to ServiceAccount "robot/y"'


DANGLING = [_binding("b1", "ClusterRole", "nope", [{"kind": "User", "name": "bob"}])]
DANGLING_NS = [_binding("b2", "Role", "doesnotexist", [{"kind": "User", "name": "bob"}], "y")]


def test_missing_roles_are_the_reason():
    """Roles bound to the user that do not exist: NoOpinion with them as the reason; the 403 ends with it."""
    union = authz.build(["Node", "RBAC"], rbac=_RBAC([], DANGLING, [], DANGLING_NS), node=NodeAuthorizer(None))
    attributes = Attributes(BOB, "list", True, "y", "", "v1", "pods")
    decision = run(union.authorize(attributes))
    assert decision.decision == NO_OPINION
    assert decision.reason == ('RBAC: [clusterrole.rbac.authorization.k8s.io "nope" not found, '
                               'role.rbac.authorization.k8s.io "doesnotexist" not found]')
    error = authz.forbidden(attributes, decision.reason)
    assert error.message == ('pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the '
                             'namespace "y": RBAC: [clusterrole.rbac.authorization.k8s.io "nope" not found, '
                             'role.rbac.authorization.k8s.io "doesnotexist" not found]')
    # One missing role is named alone, without brackets.
    decision = run(_RBAC([], DANGLING).authorize(attributes))
    assert decision.reason == 'RBAC: clusterrole.rbac.authorization.k8s.io "nope" not found'


def test_subject_access_review_carries_missing_roles():
    security = _Security(authz.build(["RBAC"], rbac=_RBAC([], DANGLING)))
    status = run(reviews.access_review(security, BOB, {"resourceAttributes": {"verb": "get", "resource": "pods"}}))
    assert status == {"allowed": False, "reason": 'RBAC: clusterrole.rbac.authorization.k8s.io "nope" not found'}


def test_rules_review_evaluation_error_for_missing_roles():
    security = _Security(authz.build(["Node", "RBAC"], rbac=_RBAC([], DANGLING, [], DANGLING_NS),
                                     node=NodeAuthorizer(None)))
    status = run(reviews.rules_review(security, BOB, "y"))
    assert status == {"resourceRules": [], "nonResourceRules": [], "incomplete": False,
                      "evaluationError": '[clusterrole.rbac.authorization.k8s.io "nope" not found, '
                                         'role.rbac.authorization.k8s.io "doesnotexist" not found]'}
    status = run(reviews.rules_review(_Security(authz.build(["RBAC"], rbac=_RBAC())), BOB, "y"))
    assert "evaluationError" not in status


def test_node_rules_review_enumerates_nothing():
    """A node: no rules from the node authorizer, incomplete, and its error joined with RBAC's."""
    node = UserInfo("system:node:n1", groups=["system:nodes", "system:authenticated"])
    security = _Security(authz.build(["Node", "RBAC"], rbac=_RBAC(), node=NodeAuthorizer(None)))
    status = run(reviews.rules_review(security, node, "default"))
    assert status == {"resourceRules": [], "nonResourceRules": [], "incomplete": True,
                      "evaluationError": "node authorizer does not support user rule resolution"}
    dangling = [_binding("b1", "ClusterRole", "nope", [{"kind": "Group", "name": "system:nodes"}])]
    security = _Security(authz.build(["Node", "RBAC"], rbac=_RBAC([], dangling), node=NodeAuthorizer(None)))
    status = run(reviews.rules_review(security, node, "default"))
    assert status["evaluationError"] == ('[node authorizer does not support user rule resolution, '
                                         'clusterrole.rbac.authorization.k8s.io "nope" not found]')


def test_system_masters_rules_come_from_rbac_only():
    """The superuser authorizer resolves no rules: system:masters sees cluster-admin's rules once."""
    admin = {"metadata": {"name": "cluster-admin"},
             "rules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                       {"verbs": ["*"], "nonResourceURLs": ["*"]}]}
    binding = _binding("cluster-admin", "ClusterRole", "cluster-admin", [{"kind": "Group", "name": "system:masters"}])
    master = UserInfo("root", groups=["system:masters", "system:authenticated"])
    status = run(reviews.rules_review(_Security(authz.build(["RBAC"], rbac=_RBAC([admin], [binding]))), master, ""))
    assert status == {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                      "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}], "incomplete": False}


class _Says:
    def __init__(self, reason):
        self.reason = reason

    async def authorize(self, attributes):
        return Decision(NO_OPINION, self.reason)


def test_union_joins_no_opinion_reasons_with_newlines():
    decision = run(Union([_Says("one"), _Says(""), _Says("two")]).authorize(Attributes(BOB, "get")))
    assert decision.reason == "one\ntwo"


class _Webhook:
    async def authorize(self, attributes):
        return Decision(NO_OPINION)


def test_union_of_rule_resolvers_webhook_is_incomplete():
    status = run(reviews.rules_review(_Security(Union([_Webhook(), _RBAC()])), BOB, ""))
    assert status == {"resourceRules": [], "nonResourceRules": [], "incomplete": True,
                      "evaluationError": "webhook authorizer does not support user rule resolution"}


def test_aggregate_message():
    assert authz.aggregate(["a"]) == "a"
    assert authz.aggregate([["a", "b"]]) == "[a, b]"
    assert authz.aggregate(["x", ["a", "x"]]) == "[x, a]"
    assert authz.aggregate(["a", ["a"]]) == "a"

"""Authorization: forbidden messages, the union of modes, ABAC and the mode list."""

import asyncio
import json

import pytest

from kapiserver.auth import authz
from kapiserver.auth.authz import ABAC, ALLOW, DENY, NO_OPINION, Attributes, Decision, Union
from kapiserver.auth.user import UserInfo

BOB = UserInfo("bob", groups=["devs", "system:authenticated"])


def run(coroutine):
    return asyncio.run(coroutine)


def test_forbidden_message_namespaced_list():
    """A namespaced list is refused in upstream's exact words, details naming the resource."""
    error = authz.forbidden(Attributes(BOB, "list", True, "default", "", "v1", "pods"))
    assert error.code == 403 and error.reason == "Forbidden"
    assert error.message == ('pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the '
                             'namespace "default"')
    assert error.details == {"kind": "pods"}


def test_forbidden_message_named_cluster_scoped_subresource_and_group():
    """A named object carries its name; cluster scope and subresources are spelled as upstream."""
    error = authz.forbidden(Attributes(BOB, "update", True, "", "apps", "v1", "deployments", "scale", "web"))
    assert error.message == ('deployments.apps "web" is forbidden: User "bob" cannot update resource '
                             '"deployments/scale" in API group "apps" at the cluster scope')
    assert error.details == {"name": "web", "group": "apps", "kind": "deployments"}


def test_forbidden_message_non_resource_and_reason():
    """Paths read "cannot get path"; a reason from the authorizer follows a colon."""
    error = authz.forbidden(Attributes(BOB, "get", False, path="/metrics"), "no way")
    assert error.message == 'forbidden: User "bob" cannot get path "/metrics": no way'
    assert error.details == {}


class _Fixed:
    def __init__(self, decision):
        self.decision = decision
        self.calls = 0

    async def authorize(self, attributes):
        self.calls += 1
        return Decision(self.decision)


def test_union_first_decision_wins():
    """Modes are asked in order; the first Allow or Deny decides and later ones are not asked."""
    later = _Fixed(ALLOW)
    union = Union([_Fixed(NO_OPINION), _Fixed(DENY), later])
    assert run(union.authorize(Attributes(BOB, "get"))).decision == DENY
    assert later.calls == 0
    assert run(Union([_Fixed(NO_OPINION)]).authorize(Attributes(BOB, "get"))).decision == NO_OPINION


def test_system_masters_allowed_even_with_always_deny():
    """system:masters and the RBAC super-user are allowed whatever the modes; others are denied."""
    union = authz.build(["AlwaysDeny"], super_user="root")
    master = UserInfo("x", groups=["system:masters"])
    assert run(union.authorize(Attributes(master, "delete", True, "", "", "v1", "nodes"))).allowed
    assert run(union.authorize(Attributes(UserInfo("root"), "get"))).allowed
    decision = run(union.authorize(Attributes(BOB, "get")))
    assert decision.decision == DENY and decision.reason == "Everything is forbidden."


def test_abac_policy_lines(tmp_path):
    """ABAC: user/group matching, readonly, namespace and resource wildcards, non-resource paths."""
    lines = [{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy",
              "spec": {"user": "bob", "namespace": "team", "resource": "*", "apiGroup": "*", "readonly": True}},
             {"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy",
              "spec": {"group": "system:authenticated", "nonResourcePath": "/version*", "readonly": True}}]
    path = tmp_path / "policy.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    abac = ABAC(str(path))
    assert run(abac.authorize(Attributes(BOB, "list", True, "team", "apps", "v1", "deployments"))).allowed
    assert not run(abac.authorize(Attributes(BOB, "create", True, "team", "", "v1", "pods"))).allowed
    assert not run(abac.authorize(Attributes(BOB, "list", True, "other", "", "v1", "pods"))).allowed
    assert run(abac.authorize(Attributes(BOB, "get", False, path="/version/x"))).allowed
    assert not run(abac.authorize(Attributes(UserInfo("eve"), "get", False, path="/version"))).allowed


@pytest.mark.parametrize("modes, problem", [
    (["RBAC", "Foo"], "authorization-mode 'Foo' is not a valid mode"),
    (["RBAC", "RBAC"], "authorization-mode 'RBAC' has mode specified more than once"),
    (["Node", "RBAC", "Webhook"], None),
])
def test_mode_list_checked(modes, problem):
    """Unknown and repeated modes are refused."""
    assert authz.check_modes(modes) == problem

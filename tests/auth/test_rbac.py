"""RBAC: rule matching, subjects, aggregation, the bootstrap policy and escalation coverage."""

from kapiserver.auth import policy, rbac
from kapiserver.auth.authz import Attributes
from kapiserver.auth.user import UserInfo

BOB = UserInfo("bob", groups=["devs", "system:authenticated"])


def attrs(verb, resource, group="", namespace="ns", name="", subresource=""):
    return Attributes(BOB, verb, True, namespace, group, "v1", resource, subresource, name)


def test_rule_verbs_groups_resources_and_names():
    """A rule allows its verbs on its groups' resources, limited to resourceNames when given."""
    rule = {"verbs": ["get", "list"], "apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["web"]}
    assert rbac.rule_allows(rule, attrs("get", "deployments", "apps", name="web"))
    assert not rbac.rule_allows(rule, attrs("get", "deployments", "apps", name="db"))
    assert not rbac.rule_allows(rule, attrs("delete", "deployments", "apps", name="web"))
    assert not rbac.rule_allows(rule, attrs("get", "deployments", "", name="web"))


def test_rule_subresources_and_wildcards():
    """"pods" does not grant "pods/log"; "*/scale" and "*" do."""
    assert not rbac.rule_allows({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
                                attrs("get", "pods", subresource="log"))
    assert rbac.rule_allows({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]},
                            attrs("get", "pods", subresource="log"))
    assert rbac.rule_allows({"verbs": ["update"], "apiGroups": ["*"], "resources": ["*/scale"]},
                            attrs("update", "deployments", "apps", subresource="scale"))
    assert rbac.rule_allows({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                            attrs("delete", "pods", subresource="status"))


def test_non_resource_urls():
    """Non-resource rules match exact paths and trailing-* prefixes, never resource requests."""
    rule = {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/apis/*"]}
    assert rbac.rule_allows(rule, Attributes(BOB, "get", False, path="/healthz"))
    assert rbac.rule_allows(rule, Attributes(BOB, "get", False, path="/apis/apps/v1"))
    assert not rbac.rule_allows(rule, Attributes(BOB, "get", False, path="/metrics"))
    assert not rbac.rule_allows(rule, attrs("get", "pods"))


def test_subjects():
    """Users by name, groups by membership, service accounts by their full user name."""
    sa = UserInfo("system:serviceaccount:team:robot")
    assert rbac.subject_matches({"kind": "User", "name": "bob"}, BOB, "")
    assert rbac.subject_matches({"kind": "Group", "name": "devs"}, BOB, "")
    assert rbac.subject_matches({"kind": "ServiceAccount", "name": "robot"}, sa, "team")
    assert not rbac.subject_matches({"kind": "ServiceAccount", "name": "robot", "namespace": "x"}, sa, "team")


def test_bootstrap_view_edit_admin_aggregate():
    """view excludes secrets; edit adds them; admin adds roles; cluster-admin is bound to system:masters."""
    roles = policy.cluster_roles()
    snapshot = rbac._Snapshot(1, roles, policy.cluster_role_bindings(), [], [])

    def can(role, verb, resource, group=""):
        return any(rbac.rule_allows(r, attrs(verb, resource, group)) for r in snapshot.cluster_role_rules(role))
    assert can("view", "list", "pods") and not can("view", "get", "secrets")
    assert can("edit", "get", "secrets") and can("edit", "create", "deployments", "apps")
    assert not can("edit", "create", "roles", "rbac.authorization.k8s.io")
    assert can("admin", "create", "roles", "rbac.authorization.k8s.io") and can("admin", "list", "pods")
    master = UserInfo("m", groups=["system:masters"])
    assert any(rbac.rule_allows(r, attrs("delete", "nodes", namespace=""))
               for r in snapshot.rules_for(master, ""))
    anonymous = UserInfo("system:anonymous", groups=["system:unauthenticated"])
    rules = snapshot.rules_for(anonymous, "")
    assert any(rbac.rule_allows(r, Attributes(anonymous, "get", False, path="/version")) for r in rules)
    assert not any(rbac.rule_allows(r, Attributes(anonymous, "get", False, path="/api")) for r in rules)


def test_role_bindings_in_their_namespace_only():
    """A RoleBinding grants its Role's rules in its own namespace and nowhere else."""
    role = {"metadata": {"name": "reader", "namespace": "team"},
            "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]}
    binding = {"metadata": {"name": "b", "namespace": "team"}, "roleRef": {"kind": "Role", "name": "reader"},
               "subjects": [{"kind": "User", "name": "bob"}]}
    snapshot = rbac._Snapshot(1, [], [], [role], [binding])
    assert snapshot.rules_for(BOB, "team") == role["rules"]
    assert snapshot.rules_for(BOB, "other") == []


def test_missing_rules_for_escalation():
    """Only the parts of a requested rule the owner lacks are reported, in upstream's rule format."""
    owner = [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]
    requested = [{"verbs": ["get", "delete"], "apiGroups": [""], "resources": ["pods"]}]
    missing = rbac.missing_rules(owner, requested)
    assert missing == [{"verbs": ["delete"], "apiGroups": [""], "resources": ["pods"]}]
    assert rbac.format_rule(missing[0]) == '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}'
    assert rbac.missing_rules([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}], requested) == []

"""clusterrole-aggregation-controller against a real apiserver with RBAC on: admin, edit and view hold the rules of
the roles labelled aggregate-to-*, kept as those come and go; a user bound to edit may do what upstream's edit
allows (kubectl auth can-i --as)."""

from __future__ import annotations

import pytest

from kapiserver.client.resources import CLUSTER_ROLES
from kapiserver.client.rest import APIError
from kapiserver.controllermanager.clusterroleaggregation import ClusterRoleAggregationController, aggregated_rules
from tests.controllermanager.conftest import eventually, run
from tests.e2e.conftest import APIServerProcess, Kubectl, free_port, kubectl_binary

AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory):
    base = tmp_path_factory.mktemp("rbac")
    server = APIServerProcess(base / "data", args=(f"--secure-port={free_port()}", "--bind-address=127.0.0.1",
                                                   "--authorization-mode=RBAC"))
    server.start()
    yield server
    server.stop()


def role(name, rules=(), labels=None, selectors=None):
    obj = {"metadata": {"name": name, "labels": dict(labels or {})}, "rules": list(rules)}
    if selectors is not None:
        obj["aggregationRule"] = {"clusterRoleSelectors": selectors}
    return obj


def rule(verb, resource):
    return {"verbs": [verb], "apiGroups": [""], "resources": [resource]}


def test_rules_are_the_union_of_the_selected_roles_by_name_each_once():
    """Each selector's roles in name order, a role selected twice counted once, the role itself never, each rule
    once."""
    target = role("target", [rule("get", "stale")],
                  selectors=[{"matchLabels": {"x": "1"}}, {"matchLabels": {"y": "1"}}])
    roles = [target, role("b", [rule("get", "pods"), rule("list", "pods")], {"x": "1"}),
             role("a", [rule("get", "pods")], {"x": "1", "y": "1"}), role("c", [rule("get", "secrets")], {"y": "1"}),
             role("target", labels={"x": "1"}), role("d", [rule("delete", "pods")])]
    assert aggregated_rules(target, roles) == [rule("get", "pods"), rule("list", "pods"), rule("get", "secrets")]


def has_rule(client, name, verb, group, resource):
    rules = run(client.get(CLUSTER_ROLES, name)).get("rules") or []
    return any(verb in r.get("verbs", []) and group in r.get("apiGroups", []) and resource in r.get("resources", [])
               for r in rules)


def test_bootstrap_aggregated_roles_are_filled_and_follow_new_roles(client, controllers):
    """view, edit and admin get the system:aggregate-to-* rules; a new aggregate-to-view role reaches view, edit and
    admin (through edit's and view's own labels), and leaves them when deleted."""
    controllers("clusterrole-aggregation-controller")
    eventually(lambda: has_rule(client, "view", "list", "", "pods"))
    eventually(lambda: has_rule(client, "edit", "create", "apps", "deployments") and
               has_rule(client, "edit", "list", "", "pods"))
    eventually(lambda: has_rule(client, "admin", "create", "rbac.authorization.k8s.io", "roles"))
    run(client.create(CLUSTER_ROLES, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                                      "metadata": {"name": "widgets-view", "labels": {AGGREGATE + "view": "true"}},
                                      "rules": [{"verbs": ["get"], "apiGroups": ["example.com"],
                                                 "resources": ["widgets"]}]}))
    for name in ("view", "edit", "admin"):
        eventually(lambda: has_rule(client, name, "get", "example.com", "widgets"))
    managers = {m["manager"] for m in run(client.get(CLUSTER_ROLES, "view"))["metadata"].get("managedFields") or []}
    assert "clusterrole-aggregation-controller" in managers
    run(client.delete(CLUSTER_ROLES, "widgets-view"))
    for name in ("view", "edit", "admin"):
        eventually(lambda: not has_rule(client, name, "get", "example.com", "widgets"))


def test_kubectl_auth_can_i_for_a_user_bound_to_edit(apiserver, client, controllers, tmp_path):
    """alice bound to edit in one namespace may create deployments, read secrets and delete pods there; she may
    not write roles or rolebindings (admin's), nor do anything in another namespace."""
    if not kubectl_binary():
        pytest.skip("kubectl is not installed on this machine")
    controllers("clusterrole-aggregation-controller")
    eventually(lambda: has_rule(client, "edit", "create", "apps", "deployments"))
    admin = Kubectl(kubectl_binary(), apiserver, tmp_path)
    admin.kubeconfig.write_text((apiserver.data_dir / "admin.kubeconfig").read_text())
    admin("create", "namespace", "alice-team")
    admin("create", "rolebinding", "alice-edits", "-n", "alice-team", "--clusterrole=edit", "--user=alice")

    def can(*args):
        result = admin("auth", "can-i", *args, "--as=alice", check=False)
        return result.stdout.strip()
    assert can("create", "deployments.apps", "-n", "alice-team") == "yes"
    assert can("get", "secrets", "-n", "alice-team") == "yes"
    assert can("delete", "pods", "-n", "alice-team") == "yes"
    assert can("create", "pods/exec", "-n", "alice-team") == "yes"
    assert can("create", "roles.rbac.authorization.k8s.io", "-n", "alice-team") == "no"
    assert can("create", "rolebindings.rbac.authorization.k8s.io", "-n", "alice-team") == "no"
    assert can("list", "pods", "-n", "default") == "no"
    assert can("list", "namespaces") == "no"


class FakeRoles:
    def __init__(self, roles):
        self.roles = {r["metadata"]["name"]: r for r in roles}

    def get(self, name):
        return self.roles.get(name)

    def list(self):
        return list(self.roles.values())


class FakeClient:
    def __init__(self, apply_code):
        self.apply_code, self.updated = apply_code, []

    async def patch(self, *args, **kwargs):
        raise APIError(self.apply_code, {"reason": "Refused", "message": "refused"})

    async def update(self, resource, obj):
        self.updated.append(obj)


@pytest.mark.parametrize("code,falls_back", [(415, True), (422, False), (400, False)])
def test_only_an_apply_not_served_falls_back_to_an_update(code, falls_back):
    """Upstream's syncClusterRole: an update stands in for apply only when apply is UnsupportedMediaType; any other
    refusal is the sync's error (retried rate-limited), nothing written."""
    from types import SimpleNamespace
    controller = object.__new__(ClusterRoleAggregationController)
    controller.cluster_roles = SimpleNamespace(indexer=FakeRoles([
        role("target", selectors=[{"matchLabels": {"x": "1"}}]), role("a", [rule("get", "pods")], {"x": "1"})]))
    controller.client = FakeClient(code)
    if falls_back:
        run(controller.sync("target"))
        assert [u["rules"] for u in controller.client.updated] == [[rule("get", "pods")]]
    else:
        with pytest.raises(APIError):
            run(controller.sync("target"))
        assert controller.client.updated == []

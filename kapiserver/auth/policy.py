"""
The bootstrap RBAC policy: the default cluster roles and bindings upstream
creates on start (cluster-admin, admin, edit, view and the system: roles), so
a fresh cluster can be used with RBAC at once.
"""

from __future__ import annotations

from ..machinery.errors import StatusError
from ..registry.options import WriteOptions

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"
DISCOVERY_URLS = ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*",
                  "/readyz", "/version", "/version/"]
PUBLIC_INFO_URLS = ["/healthz", "/livez", "/readyz", "/version", "/version/"]


def _rule(verbs, groups, resources, names=None) -> dict:
    rule = {"verbs": list(verbs), "apiGroups": list(groups), "resources": list(resources)}
    if names:
        rule["resourceNames"] = list(names)
    return rule


def _urls(verbs, urls) -> dict:
    return {"verbs": list(verbs), "nonResourceURLs": list(urls)}


_VIEW = [
    _rule(READ, [""], ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods",
                       "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                       "services/status"]),
    _rule(READ, [""], ["bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
                       "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"]),
    _rule(READ, [""], ["namespaces"]),
    _rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
    _rule(READ, ["apps"], ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments",
                           "deployments/scale", "deployments/status", "replicasets", "replicasets/scale",
                           "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"]),
    _rule(READ, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
    _rule(READ, ["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
    _rule(READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
    _rule(READ, ["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"]),
]
_EDIT = [
    _rule(READ, [""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"]),
    _rule(["impersonate"], [""], ["serviceaccounts"]),
    _rule(WRITE, [""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"]),
    _rule(["create"], [""], ["pods/eviction"]),
    _rule(WRITE, [""], ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                        "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"]),
    _rule(["create"], [""], ["serviceaccounts/token"]),
    _rule(WRITE, ["apps"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale",
                            "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"]),
    _rule(WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
    _rule(WRITE, ["batch"], ["cronjobs", "jobs"]),
    _rule(WRITE, ["networking.k8s.io"], ["ingresses", "networkpolicies"]),
    _rule(WRITE, ["policy"], ["poddisruptionbudgets"]),
    _rule(WRITE, ["discovery.k8s.io"], ["endpointslices"]),
]
_ADMIN = [
    _rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
    _rule(WRITE + READ, ["rbac.authorization.k8s.io"], ["rolebindings", "roles"]),
]


def _role(name: str, rules=None, aggregate_to=None, aggregated_from=None) -> dict:
    labels = {"kubernetes.io/bootstrapping": "rbac-defaults"}
    if aggregate_to:
        labels[AGGREGATE + aggregate_to] = "true"
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name, "labels": labels,
                         "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
            "rules": list(rules or [])}
    if aggregated_from:
        role["aggregationRule"] = {"clusterRoleSelectors": [
            {"matchLabels": {AGGREGATE + source: "true"}} for source in aggregated_from]}
    return role


def _binding(name: str, role: str, subjects: list[tuple[str, str]]) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                         "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": subject}
                         for kind, subject in subjects]}


def cluster_roles() -> list[dict]:
    return [
        _role("cluster-admin", [_rule(["*"], ["*"], ["*"]), _urls(["*"], ["*"])]),
        _role("admin", aggregated_from=["admin"]),
        _role("edit", aggregated_from=["edit"], aggregate_to="admin"),
        _role("view", aggregated_from=["view"], aggregate_to="edit"),
        _role("system:aggregate-to-admin", _ADMIN, aggregate_to="admin"),
        _role("system:aggregate-to-edit", _EDIT, aggregate_to="edit"),
        _role("system:aggregate-to-view", _VIEW, aggregate_to="view"),
        _role("system:discovery", [_urls(["get"], DISCOVERY_URLS)]),
        _role("system:public-info-viewer", [_urls(["get"], PUBLIC_INFO_URLS)]),
        _role("system:basic-user", [_rule(["create"], ["authorization.k8s.io"],
                                          ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
                                    _rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"])]),
        _role("system:monitoring", [_urls(["get"], ["/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics",
                                                    "/metrics/slis", "/readyz", "/readyz/*"])]),
        _role("system:auth-delegator", [_rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
                                        _rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"])]),
        _role("system:service-account-issuer-discovery",
              [_urls(["get"], ["/.well-known/openid-configuration", "/.well-known/openid-configuration/",
                               "/openid/v1/jwks", "/openid/v1/jwks/"])]),
        _role("system:node", [_rule(READ, [""], ["pods", "services", "endpoints", "nodes", "configmaps",
                                                  "secrets", "persistentvolumeclaims", "persistentvolumes"]),
                              _rule(["create", "delete"], [""], ["pods"]),
                              _rule(["create", "get", "list", "watch"], ["certificates.k8s.io"],
                                    ["certificatesigningrequests"]),
                              _rule(["create", "update", "patch", "delete"], [""], ["nodes", "nodes/status",
                                                                                   "pods/status", "events"]),
                              _rule(["get", "create", "update", "patch", "delete"], ["coordination.k8s.io"],
                                    ["leases"])]),
        _role("system:kube-scheduler", [_rule(READ, ["", "apps", "policy", "storage.k8s.io"], ["*"]),
                                        _rule(["create"], [""], ["pods/binding", "bindings"]),
                                        _rule(["delete"], [""], ["pods"]),
                                        _rule(["patch", "update"], [""], ["pods/status"]),
                                        _rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
                                        _rule(["create", "get", "update"], ["coordination.k8s.io"], ["leases"])]),
        _role("system:kube-controller-manager", [_rule(["*"], ["*"], ["*"])]),
        _role("system:certificates.k8s.io:certificatesigningrequests:nodeclient",
              [_rule(["create"], ["certificates.k8s.io"], ["certificatesigningrequests/nodeclient"])]),
        _role("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
              [_rule(["create"], ["certificates.k8s.io"], ["certificatesigningrequests/selfnodeclient"])]),
        _role("system:certificates.k8s.io:kube-apiserver-client-approver",
              [_rule(["approve"], ["certificates.k8s.io"], ["signers"], ["kubernetes.io/kube-apiserver-client"])]),
        _role("system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
              [_rule(["approve"], ["certificates.k8s.io"], ["signers"],
                     ["kubernetes.io/kube-apiserver-client-kubelet"])]),
        _role("system:certificates.k8s.io:kubelet-serving-approver",
              [_rule(["approve"], ["certificates.k8s.io"], ["signers"], ["kubernetes.io/kubelet-serving"])]),
        _role("system:certificates.k8s.io:legacy-unknown-approver",
              [_rule(["approve"], ["certificates.k8s.io"], ["signers"], ["kubernetes.io/legacy-unknown"])]),
    ]


def cluster_role_bindings() -> list[dict]:
    return [
        _binding("cluster-admin", "cluster-admin", [("Group", "system:masters")]),
        _binding("system:discovery", "system:discovery", [("Group", "system:authenticated")]),
        _binding("system:basic-user", "system:basic-user", [("Group", "system:authenticated")]),
        _binding("system:public-info-viewer", "system:public-info-viewer",
                 [("Group", "system:authenticated"), ("Group", "system:unauthenticated")]),
        _binding("system:monitoring", "system:monitoring", [("Group", "system:monitoring")]),
        _binding("system:service-account-issuer-discovery", "system:service-account-issuer-discovery",
                 [("Group", "system:serviceaccounts")]),
        _binding("system:kube-scheduler", "system:kube-scheduler", [("User", "system:kube-scheduler")]),
        _binding("system:kube-controller-manager", "system:kube-controller-manager",
                 [("User", "system:kube-controller-manager")]),
        # As upstream, system:node is bound to no one: kubelets are authorized by the Node mode.
        _binding("system:node", "system:node", []),
    ]


async def ensure_bootstrap_policy(registry) -> None:
    """Create the default roles and bindings that are missing (existing ones are left as they are)."""
    for resource, objects in (("clusterroles", cluster_roles()), ("clusterrolebindings", cluster_role_bindings())):
        store = registry.lookup("rbac.authorization.k8s.io", "v1", resource)
        if store is None:
            continue
        for obj in objects:
            try:
                await store.get(None, obj["metadata"]["name"])
                continue
            except StatusError as e:
                if e.code != 404:
                    raise
            try:
                await store.create(None, obj, WriteOptions())
            except StatusError as e:
                if e.code != 409:
                    raise
